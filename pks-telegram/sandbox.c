/*
 * sandbox.c: pks-telegram's seccomp allow-list.
 *
 * Built by running the real workload (getMe, deleteWebhook,
 * setMyCommands, long polls, sends, 429/5xx/409/timeouts, the monitor's
 * messages) under strace -f after proc_confine(), both in the foreground
 * and with logs relayed to the monitor.  libcurl runs single-threaded
 * here: its resolver is never used (tg_resolve() fills CURLOPT_RESOLVE
 * before chroot), so no clone/thread calls are needed.  Everything else
 * kills the process (see common/sandbox.c).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <unistd.h>

#include "proc.h"
#include "sandbox.h"
#include "telegram.h"

const struct sandbox_rule tg_sandbox_rules[] = {
	/* Memory */
	SB_ALLOW(brk),
	/* malloc of large blocks (replies): never executable (M3) */
	SB_ARG(mmap, 2, PROT_READ | PROT_WRITE),
	SB_ALLOW(munmap),
	SB_ALLOW(mremap),		/* realloc of large blocks */

	/* The monitor's socket, logs */
	SB_ALLOW(read),
	SB_ARG(write, 0, STDERR_FILENO),	/* stderr in the foreground */
	SB_ARG(write, 0, PROC_LOG_FD),	/* else its own /dev/log socket */
	SB_ARG(recvmsg, 0, PROC_FD),	/* imsg, with SCM_RIGHTS */
	SB_ARG(sendmsg, 0, PROC_FD),	/* imsg, IMSG_LOG lines; HTTPS goes
					 * out with sendto() */
	SB_ALLOW(close),
	SB_ALLOW(poll),			/* curl_multi_wait, imsg flush */

	/* HTTPS to the Bot API, IPv4 or IPv6 */
	SB_ARG(socket, 0, AF_INET),
	SB_ARG(socket, 0, AF_INET6),
	SB_ALLOW(connect),
	SB_ALLOW(getsockopt),		/* SO_ERROR after a connect */
	/* the options libcurl sets, no other (SO_LINGER made the monitor's
	 * close() of a passed socket block: issue 13, M1) */
	SB_ARG2(setsockopt, 1, IPPROTO_TCP, 2, TCP_NODELAY),
	SB_ARG2(setsockopt, 1, SOL_SOCKET, 2, SO_KEEPALIVE),
	SB_ARG2(setsockopt, 1, IPPROTO_TCP, 2, TCP_KEEPIDLE),
	SB_ARG2(setsockopt, 1, IPPROTO_TCP, 2, TCP_KEEPINTVL),
	SB_ARG2(setsockopt, 1, IPPROTO_TCP, 2, TCP_KEEPCNT),
	SB_ALLOW(getsockname),		/* curl records both addresses */
	SB_ALLOW(getpeername),
	SB_ALLOW(sendto),		/* send() with MSG_NOSIGNAL */
	SB_ALLOW(recvfrom),		/* recv(), MSG_PEEK for a dead link */
	SB_ALLOW(fcntl),		/* O_NONBLOCK on new sockets */

	/* Signals: curl ignores SIGPIPE around each transfer */
	SB_ALLOW(rt_sigaction),

	/* Process */
	SB_ALLOW(getpid),		/* OpenSSL notices forks */
	SB_ALLOW(getppid),		/* privsep_drop() checks the parent */
	SB_ALLOW(futex),		/* OpenSSL's run-once locks */

	/* Time, randomness */
	SB_ALLOW(clock_gettime),	/* when the vDSO falls back */
	SB_ALLOW(getrandom),		/* OpenSSL's DRBG */

	/* Files: the chroot is empty; a look (/etc/localtime) may fail */
	SB_ERRNO(openat, ENOENT),
};

const size_t tg_sandbox_nrules =
    sizeof(tg_sandbox_rules) / sizeof(tg_sandbox_rules[0]);

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
#include <sys/socket.h>

#include <errno.h>

#include "sandbox.h"
#include "telegram.h"

const struct sandbox_rule tg_sandbox_rules[] = {
	/* Memory */
	SB_ALLOW(brk),
	SB_ALLOW(mmap),			/* malloc of large blocks (replies) */
	SB_ALLOW(munmap),
	SB_ALLOW(mremap),		/* realloc of large blocks */

	/* The monitor's socket, logs */
	SB_ALLOW(read),
	SB_ALLOW(write),		/* stderr in the foreground */
	SB_ALLOW(recvmsg),		/* imsg, with SCM_RIGHTS */
	SB_ALLOW(sendmsg),		/* imsg, IMSG_LOG lines */
	SB_ALLOW(close),
	SB_ALLOW(poll),			/* curl_multi_wait, imsg flush */

	/* HTTPS to the Bot API, IPv4 or IPv6 */
	SB_ARG(socket, 0, AF_INET),
	SB_ARG(socket, 0, AF_INET6),
	SB_ALLOW(connect),
	SB_ALLOW(getsockopt),		/* SO_ERROR after a connect */
	SB_ALLOW(setsockopt),		/* TCP_NODELAY, SO_KEEPALIVE */
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

/*
 * sandbox.c: pks-fw's seccomp allow-list.
 *
 * Built from what the process really does after proc_confine(), seen
 * with strace -f under tests/e2e/t_fw_traffic.py (PKS_FW_WRAP="strace
 * -f -o FILE"): windows opened and closed through libiptc with 3000
 * foreign rules in INPUT and 300 windows, the xtables lock held by
 * someone else, malformed requests, logging, SIGTERM and exit.  One line
 * per syscall, grouped by purpose; exit, exit_group, rt_sigreturn come
 * from common/sandbox.c.  Anything else kills the process.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <fcntl.h>

#include "iptc.h"

const struct sandbox_rule sandbox_fw[] = {
	/* Monitor socket (imsg) */
	SB_ALLOW(poll),			/* main loop; imsgbuf_flush() */
	SB_ALLOW(recvmsg),		/* imsgbuf_read() */
	SB_ALLOW(sendmsg),		/* imsgbuf_write(); daemon-mode logs */

	/* Logging in foreground mode (-d): unbuffered stderr */
	SB_ALLOW(write),

	/* Memory: libiptc copies whole tables; big ones are mmap()ed */
	SB_ALLOW(brk),
	SB_ALLOW(mmap),
	SB_ALLOW(munmap),
	/* libiptc: a raw socket per snapshot, the tables over sockopts */
	SB_ARG(socket, 0, AF_INET),	/* iptc_init(): SOCK_RAW, IPPROTO_RAW */
	SB_ARG(socket, 0, AF_INET6),	/* ip6tc_init() */
	SB_ARG(fcntl, 1, F_SETFD),	/* FD_CLOEXEC on that socket */
	SB_ARG(getsockopt, 1, IPPROTO_IP),	/* IPT_SO_GET_INFO, _ENTRIES */
	SB_ARG(getsockopt, 1, IPPROTO_IPV6),	/* IP6T_SO_GET_INFO, _ENTRIES */
	SB_ARG(setsockopt, 1, IPPROTO_IP),	/* IPT_SO_SET_REPLACE,
						   _ADD_COUNTERS */
	SB_ARG(setsockopt, 1, IPPROTO_IPV6),	/* IP6T_SO_SET_... */
	SB_ALLOW(close),		/* iptc_free() */

	/* xtables lock (the file was opened before chroot) */
	SB_ALLOW(flock),
	SB_ALLOW(clock_nanosleep),	/* nanosleep() while it is held */
};

const size_t sandbox_fw_len = sizeof(sandbox_fw) / sizeof(sandbox_fw[0]);

/*
 * sandbox.c: what pks-sniffer may ask of the kernel once confined.
 *
 * Built from strace(1) of the real workload, on "lo" (DLT_EN10MB) and
 * "any" (DLT_LINUX_SLL): TCP and UDP knocks over IPv4 and IPv6, 5000
 * sequences added, committed, deleted and committed again, the 1 s
 * expiry, the monitor going away.  The few entries that run only on an
 * error path say so.  Anything else kills the process with SIGSYS.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_packet.h>

#include <sys/mman.h>

#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "proc.h"
#include "sandbox.h"
#include "sniffer.h"

const struct sandbox_rule sniffer_rules[] = {
	/* Main loop */
	SB_ALLOW(poll),			/* ours, and libpcap's on its ring */
	SB_ALLOW(clock_gettime),	/* when the vDSO falls back (VMs) */

	/* Monitor socket (common/imsg.c), and nothing else to talk on: the
	 * capture sockets could send forged frames (issue 13, M3) */
	SB_ARG(recvmsg, 0, PROC_FD),	/* imsgbuf_read() */
	SB_ARG(sendmsg, 0, PROC_FD),	/* imsgbuf_write(): KNOCK_DONE, LOG,
					   SNIFF_STATS, SEQ_ARMED */

	/* Capture: the kernel filter follows the live set */
	SB_ARG(setsockopt, 2, SO_ATTACH_FILTER),
	/* libpcap drains what the old filter let in, non-blocking */
	SB_ARG(fcntl, 1, F_GETFL),
	SB_ARG(fcntl, 1, F_SETFL),
	SB_ARG(recvfrom, 3, MSG_TRUNC),
	/* ring overflows, counted once a second (tpacket_stats) */
	SB_ARG(getsockopt, 2, PACKET_STATISTICS),
	/* error path: the interface went down (libpcap asks the socket
	 * which interface, and the interface whether it is up), then
	 * pcap_close(); t_iface_down */
	SB_ARG(getsockopt, 2, SO_ERROR),
	SB_ALLOW(getsockname),
	SB_ARG(ioctl, 1, SIOCGIFFLAGS),
	SB_ARG(setsockopt, 2, PACKET_RX_RING),	/* the ring torn down */
	SB_ALLOW(close),

	/* Memory: the filters, the sequence table; large blocks mmap()ed
	 * readable and writable, never executable */
	SB_ALLOW(brk),
	SB_ARG(mmap, 2, PROT_READ | PROT_WRITE),
	SB_ALLOW(munmap),
	SB_ALLOW(mremap),		/* realloc() of large blocks */

	/* Logging: stderr in the foreground (-d), only; else its own
	 * /dev/log socket (connected before chroot), or IMSG_LOG */
	SB_ARG(write, 0, STDERR_FILENO),
	SB_ARG(write, 0, PROC_LOG_FD),
};

const size_t sniffer_nrules = sizeof(sniffer_rules) / sizeof(sniffer_rules[0]);

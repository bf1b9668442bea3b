/*
 * sandbox.c: pks-fw's seccomp allow-list, the part every backend needs;
 * each backend adds its own rules (struct fw_backend) and pks-fw.c
 * applies both.
 *
 * Built from what the process really does after proc_confine(), seen
 * with strace -f under tests/e2e/t_fw_traffic.py (PKS_FW_WRAP="strace
 * -f -o FILE"): windows opened and closed, malformed requests, logging,
 * SIGTERM and exit.  One line per syscall, grouped by purpose; exit,
 * exit_group, rt_sigreturn come from common/sandbox.c.  Anything else
 * kills the process.
 */
#include <sys/mman.h>

#include <unistd.h>

#include "proc.h"
#include "fw.h"

const struct sandbox_rule sandbox_fw[] = {
	/* Monitor socket (imsg), and nothing else to talk on */
	SB_ALLOW(poll),			/* main loop; imsgbuf_flush() */
	SB_ALLOW(clock_gettime),	/* when the vDSO falls back (VMs) */
	SB_ARG(recvmsg, 0, PROC_FD),	/* imsgbuf_read() */
	SB_ARG(sendmsg, 0, PROC_FD),	/* imsgbuf_write(); daemon-mode logs */

	/* Logging in foreground mode (-d): unbuffered stderr, only */
	SB_ARG(write, 0, STDERR_FILENO),
	/* Daemon mode: its own /dev/log socket, connected before chroot */
	SB_ARG(write, 0, PROC_LOG_FD),

	/* Memory: malloc(); large blocks (libiptc's tables) are mmap()ed,
	 * readable and writable, never executable */
	SB_ALLOW(brk),
	SB_ARG(mmap, 2, PROT_READ | PROT_WRITE),
	SB_ALLOW(munmap),
};

const size_t sandbox_fw_len = sizeof(sandbox_fw) / sizeof(sandbox_fw[0]);

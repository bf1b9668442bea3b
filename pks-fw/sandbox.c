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
#include "fw.h"

const struct sandbox_rule sandbox_fw[] = {
	/* Monitor socket (imsg) */
	SB_ALLOW(poll),			/* main loop; imsgbuf_flush() */
	SB_ALLOW(recvmsg),		/* imsgbuf_read() */
	SB_ALLOW(sendmsg),		/* imsgbuf_write(); daemon-mode logs */

	/* Logging in foreground mode (-d): unbuffered stderr */
	SB_ALLOW(write),

	/* Memory */
	SB_ALLOW(brk),
};

const size_t sandbox_fw_len = sizeof(sandbox_fw) / sizeof(sandbox_fw[0]);

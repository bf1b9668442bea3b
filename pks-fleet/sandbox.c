/*
 * sandbox.c: pks-fleet's seccomp allow-list.
 *
 * Built by running the real workload (connect, TLS handshake, subscribe,
 * publish, requests and answers, malformed messages, the broker killed
 * and restarted, the monitor's messages: tests/e2e/t_fleet.py) under
 * strace -f -c after proc_confine(): poll, read, write, sendmsg,
 * recvmsg, socket, fcntl, connect, close, getpid.  The rest is what
 * libc, OpenSSL and privsep_drop() need at times (memory, time,
 * randomness, locks).  libmosquitto
 * runs in this process's poll() loop: no thread, no resolver (the
 * broker's address is looked up before the chroot).  Everything else
 * kills the process (see common/sandbox.c).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include "fleet.h"
#include "proc.h"
#include "sandbox.h"

const struct sandbox_rule fleet_sandbox_rules[] = {
	/* Memory */
	SB_ALLOW(brk),
	SB_ARG(mmap, 2, PROT_READ | PROT_WRITE),	/* never executable */
	SB_ALLOW(munmap),
	SB_ALLOW(mremap),

	/* The monitor's socket, logs, the broker's socket */
	SB_ALLOW(read),			/* OpenSSL reads the broker's socket
					 * with read(2) */
	SB_ALLOW(write),		/* and writes it with write(2); its
					 * number changes with reconnects */
	SB_ARG(recvmsg, 0, PROC_FD),
	SB_ARG(sendmsg, 0, PROC_FD),
	SB_ALLOW(close),
	SB_ALLOW(poll),

	/* MQTT over TLS, IPv4 or IPv6 */
	SB_ARG(socket, 0, AF_INET),
	SB_ARG(socket, 0, AF_INET6),
	SB_ALLOW(connect),		/* non-blocking: the result comes
					 * as the TLS handshake's read */
	SB_ALLOW(fcntl),		/* O_NONBLOCK on the new socket */

	/* Process */
	SB_ALLOW(getpid),		/* OpenSSL notices forks */
	SB_ALLOW(getppid),		/* privsep_drop() checks the parent */
	SB_ALLOW(futex),		/* OpenSSL's run-once locks */

	/* Time, randomness */
	SB_ALLOW(clock_gettime),
	SB_ALLOW(getrandom),		/* OpenSSL's DRBG, MQTT ids */

	/* Files: the chroot is empty; a look (/etc/localtime) may fail */
	SB_ERRNO(openat, ENOENT),
};

const size_t fleet_sandbox_nrules =
    sizeof(fleet_sandbox_rules) / sizeof(fleet_sandbox_rules[0]);

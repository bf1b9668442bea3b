/*
 * sandbox.c: what pks-monitor may ask of the kernel once it has started
 * (configuration read, control socket bound, pid file written): its own
 * seccomp allow-list, loaded before the first child is forked.
 *
 * A filter is inherited across fork() and execve() and cannot be lifted:
 * every child runs under this list from its fork on, and under its own,
 * narrower one on top once confined (the kernel takes the stricter
 * answer).  So this list is also the outer bound of every child: what a
 * child does between exec and its own filter (the dynamic loader, the
 * privilege drop, opening its capture, netfilter or TLS), and what its
 * own list allows, must pass here too.  A new child, or a new syscall in
 * a child's list, needs its line here as well; a learning build
 * (PKS_SANDBOX_LEARN, common/sandbox.c) lists what is missing.
 *
 * Built from the real workload under a learning build: the e2e suite
 * (knocks, reloads good and refused, every child killed and restarted,
 * sandbox violations, pksctl clients, admin commands and the state file,
 * 10,000 live sequences, SIGTERM), in the foreground and as a daemon,
 * both firewall backends, and the sanitizer build (common/sandbox.c adds
 * what ASan needs).  The arguments seccomp can see are narrowed: socket
 * families, prctl options, no executable anonymous memory.  What it
 * cannot see (paths) the unit bounds (ProtectSystem=strict).
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdlib.h>

#include "log.h"
#include "monitor.h"
#include "sandbox.h"

const struct sandbox_rule monitor_rules[] = {
	/* Main loop: poll, the signalfd, timers on CLOCK_MONOTONIC */
	SB_ALLOW(poll),
	SB_ALLOW(read),			/* signalfd, control clients, files */
	SB_ALLOW(clock_gettime),	/* when the vDSO falls back */
	SB_ALLOW(clock_nanosleep),	/* pks-fw waits for the xtables lock */
	SB_ALLOW(rt_sigaction),
	SB_ALLOW(rt_sigprocmask),
	SB_ALLOW(signalfd4),
	SB_ALLOW(getpid),
	SB_ALLOW(getppid),		/* children check their parent */

	/* Children's socketpairs (imsg, SCM_RIGHTS) and pksctl clients */
	SB_ARG(socketpair, 0, AF_UNIX),
	SB_ALLOW(recvmsg),
	SB_ALLOW(sendmsg),
	SB_ALLOW(write),
	SB_ALLOW(close),
	SB_ALLOW(accept4),		/* pksctl connects */
	SB_ALLOW(getsockopt),		/* SO_PEERCRED of a client; SO_ERROR */
	SB_ALLOW(setsockopt),		/* SO_PASSRIGHTS, SO_LINGER; children:
					   capture ring and filters, TCP
					   options, netfilter replace */
	SB_ALLOW(fcntl),		/* O_NONBLOCK, FD_CLOEXEC */
	SB_ALLOW(dup2),			/* a child's socket onto fd 3 */

	/* Sockets: the families PKS uses, no other.  AF_UNIX: syslog,
	 * NOTIFY_SOCKET, user lookups (nscd, userdb), the children's
	 * /dev/log; AF_INET(6): pks-telegram's HTTPS, libiptc's raw socket,
	 * interface ioctls; AF_NETLINK: nftables (libmnl); AF_PACKET:
	 * pks-sniffer's capture */
	SB_ARG(socket, 0, AF_UNIX),
	SB_ARG(socket, 0, AF_INET),
	SB_ARG(socket, 0, AF_INET6),
	SB_ARG(socket, 0, AF_NETLINK),
	SB_ARG(socket, 0, AF_PACKET),
	SB_ALLOW(connect),
	SB_ALLOW(bind),
	SB_ALLOW(sendto),
	SB_ALLOW(recvfrom),
	SB_ALLOW(getsockname),
	SB_ALLOW(getpeername),
	SB_ALLOW(ioctl),		/* interface lookups (SIOCGIF*), the
					   capture's set-up, terminals */
	SB_ALLOW(eventfd2),		/* libpcap's wake-up of its loop */

	/* Files: the state file (written to PATH.tmp, synced, renamed),
	 * the configuration and token read again at reload, the pid file
	 * and control socket removed at exit, /proc/self/net for the draw,
	 * timezone and user databases */
	SB_ALLOW(openat),
	SB_ALLOW(newfstatat),
	SB_ALLOW(fstat),
	SB_ALLOW(lseek),
	SB_ALLOW(pread64),		/* the dynamic loader */
	SB_ALLOW(fchmod),		/* the state file, 0600 */
	SB_ALLOW(mkdir),		/* the state file's directory, if gone */
	SB_ALLOW(fsync),
	SB_ALLOW(rename),
	SB_ALLOW(unlink),
	SB_ALLOW(access),		/* a child binary is executable */
	SB_ALLOW(flock),		/* pks-fw: the xtables lock */

	/* Memory: malloc, large blocks mmap()ed and mremap()ed; never
	 * executable anonymous memory (libraries are mapped executable
	 * from their files by a child's loader) */
	SB_ALLOW(brk),
	SB_MASK(mmap, 2, PROT_EXEC, 0),
	SB_MASK(mmap, 3, MAP_ANONYMOUS, 0),
	SB_MASK(mprotect, 2, PROT_EXEC, 0),
	SB_ALLOW(munmap),
	SB_ALLOW(mremap),
	SB_ALLOW(madvise),		/* free() returning memory */
	SB_ALLOW(sysinfo),		/* qsort() of a large array */

	/* Time and randomness: draws, dates in messages */
	SB_ALLOW(getrandom),
	SB_ALLOW(uname),		/* libpcap, libcurl: the kernel's name */

	/* Children: start, supervise, stop.  fork() is clone(); the
	 * supervision is waitpid() and kill() */
	SB_ALLOW(clone),
	SB_ALLOW(execve),
	SB_ALLOW(wait4),
	SB_ALLOW(kill),
	SB_ALLOW(futex),		/* libc locks (OpenSSL's run-once) */
	SB_ALLOW(set_robust_list),	/* a new process (fork, exec) */

	/* A child, from exec to its own filter: the dynamic loader and
	 * libc's start */
	SB_ALLOW(arch_prctl),
	SB_ALLOW(set_tid_address),
	SB_ALLOW(rseq),
	SB_ALLOW(prlimit64),
	SB_ALLOW(getuid),		/* privsep_drop() checks the drop */
	SB_ALLOW(geteuid),
	/* ... the privilege drop (common/privsep.c) */
	SB_ALLOW(setgroups),
	SB_ALLOW(setresgid),
	SB_ALLOW(setresuid),		/* and the monitor's seteuid() to
					   signal a child without CAP_KILL */
	SB_ALLOW(capget),
	SB_ALLOW(capset),
	SB_ALLOW(chroot),
	SB_ALLOW(chdir),
	SB_ARG(prctl, 0, PR_SET_NO_NEW_PRIVS),
	SB_ARG(prctl, 0, PR_SET_PDEATHSIG),
	SB_ARG(prctl, 0, PR_SET_KEEPCAPS),
	SB_ARG(prctl, 0, PR_CAPBSET_DROP),
	SB_ARG(prctl, 0, PR_CAPBSET_READ),	/* libcap: the last capability */
	SB_ARG(prctl, 0, PR_CAP_AMBIENT),
	SB_ALLOW(seccomp),		/* its own allow-list */
#ifdef PKS_SANITIZE
	/* sanitizer builds: ASan's start in each child (its own
	 * calls, not libc's): /proc/self/maps, /proc/self/exe */
	SB_ALLOW(open),
	SB_ALLOW(readlink),
#endif
};

const size_t monitor_nrules = sizeof(monitor_rules) / sizeof(monitor_rules[0]);

void
monitor_sandbox(void)
{
#ifdef PKS_TESTHOOKS
	/* test builds: valgrind cannot run a filtered process (t_valgrind
	 * leaves the filter out; every other test runs under it) */
	if (getenv("PKS_TEST_NO_MONITOR_SANDBOX") != NULL) {
		log_warnx("test hook: no seccomp filter for the monitor");
		return;
	}
#endif
	sandbox_apply(monitor_rules, monitor_nrules);
}

/*
 * sandbox.c: load a process's seccomp allow-list.
 *
 * The default action kills the whole process, so the monitor sees it
 * die of SIGSYS and logs a sandbox violation.  A debug build
 * (PKS_SANDBOX_DEBUG) traps instead, logs the syscall number and then
 * dies of SIGSYS all the same: a missing entry is a one-line fix.
 * A learning build (PKS_SANDBOX_LEARN) kills nothing: what a list lacks
 * is written to the kernel's audit log ("type=1326 ... syscall=N" in
 * dmesg), so one run of the workload shows every missing entry.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "sandbox.h"

#ifdef PKS_SANDBOX_DEBUG
static void
sandbox_trap(int sig, siginfo_t *si, void *ctx)
{
	char	buf[64];
	int	nr = si->si_syscall, i = sizeof(buf);

	(void)sig;
	(void)ctx;
	buf[--i] = '\n';
	do {
		buf[--i] = '0' + nr % 10;
		nr /= 10;
	} while (nr > 0 && i > 32);
	memcpy(buf + i - 27, "sandbox violation: syscall ", 27);
	i -= 27;
	(void)!write(STDERR_FILENO, buf + i, sizeof(buf) - i);
	signal(SIGSYS, SIG_DFL);
	kill(getpid(), SIGSYS);		/* delivered when the handler returns */
}
#endif

/* the syscalls every process needs to run at all */
static const struct sandbox_rule base_rules[] = {
	SB_ALLOW(exit),
	SB_ALLOW(exit_group),
	SB_ALLOW(rt_sigreturn),		/* return from a signal handler */
	SB_ALLOW(rt_sigprocmask),
	SB_ALLOW(restart_syscall),
#ifdef PKS_SANDBOX_DEBUG
	SB_ALLOW(kill),			/* sandbox_trap() re-raises SIGSYS */
	SB_ALLOW(getpid),
#endif
#ifdef PKS_SANITIZE
	/* sanitizer builds only: ASan's allocator and its exit path */
	SB_ALLOW(madvise),
	SB_ALLOW(mmap),			/* its own mappings, any protection */
	SB_ALLOW(mprotect),
	SB_ALLOW(sigaltstack),
#endif
};

#ifdef PKS_SANITIZE
/*
 * Sanitizer builds only: what an ASan or UBSan report needs on its way
 * to stderr, for a process whose own list lacks it.  Without these a
 * finding in a sandboxed process died of SIGSYS before its first line
 * (readlink of /proc/self/exe comes first), and the monitor logged a
 * mere sandbox violation.  Files and the symbolizer are refused, as a
 * chroot would refuse them, by either call that names a file: the
 * runtime's own calls are open and readlink here (x86-64) but openat
 * and readlinkat where the kernel has only those (arm64), and a stack
 * whose modules it cannot list from /proc/self/maps is symbolized from
 * the modules' files, opened by libc (openat).  The ids and SIGABRT to
 * itself let abort_on_error end it by SIGABRT, as it means to.
 */
static const struct sandbox_rule sanitizer_rules[] = {
	SB_ERRNO(readlink, ENOENT),	/* /proc/self/exe */
	SB_ERRNO(readlinkat, ENOENT),
	SB_ERRNO(open, ENOENT),		/* /proc/self/{cmdline,environ,maps} */
	SB_ERRNO(openat, ENOENT),	/* the same; a module's file */
	SB_ERRNO(ioctl, ENOTTY),	/* isatty(2), for colours */
	SB_ERRNO(pipe2, EMFILE),	/* UBSan: is this memory readable? */
	SB_ALLOW(futex),		/* the unwinder's run-once */
	SB_ALLOW(getpid),		/* "==pid==" and abort() */
	SB_ALLOW(gettid),
	SB_ARG(tgkill, 2, SIGABRT),	/* abort() */
};

/*
 * LeakSanitizer's check at exit stops the world (gettid, clone,
 * ptrace), which no allow-list has: every sandboxed process of a
 * sanitizer build run without ASAN_OPTIONS=detect_leaks=0 died of
 * SIGSYS at exit.  Off by default (ASAN_OPTIONS still wins); and no
 * symbolizer (it needs files and a process; frames come as module and
 * offset, for addr2line).
 */
const char	*__asan_default_options(void);
const char	*__ubsan_default_options(void);

const char *
__asan_default_options(void)
{
	return "detect_leaks=0:symbolize=0";
}

const char *
__ubsan_default_options(void)
{
	return "symbolize=0";
}

static int
sandbox_listed(int nr, const struct sandbox_rule *r, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (r[i].nr == nr)
			return 1;
	return 0;
}
#endif

static void
add_rules(scmp_filter_ctx ctx, const struct sandbox_rule *r, size_t n)
{
	size_t		i;
	uint32_t	act;
	int		rc;

	for (i = 0; i < n; i++) {
		act = r[i].err ? SCMP_ACT_ERRNO(r[i].err) : SCMP_ACT_ALLOW;
		if (r[i].argc == 2)
			rc = seccomp_rule_add(ctx, act, r[i].nr, 2,
			    SCMP_CMP(r[i].argi, SCMP_CMP_EQ, r[i].val, 0),
			    SCMP_CMP(r[i].argj, SCMP_CMP_EQ, r[i].val2, 0));
		else if (r[i].argc == 1 && r[i].mask != 0)
			rc = seccomp_rule_add(ctx, act, r[i].nr, 1,
			    SCMP_CMP(r[i].argi, SCMP_CMP_MASKED_EQ, r[i].mask,
			    r[i].val));
		else if (r[i].argc == 1)
			rc = seccomp_rule_add(ctx, act, r[i].nr, 1,
			    SCMP_CMP(r[i].argi, SCMP_CMP_EQ, r[i].val, 0));
		else
			rc = seccomp_rule_add(ctx, act, r[i].nr, 0);
		if (rc < 0)
			fatalx("seccomp rule %s: %s", r[i].name,
			    strerror(-rc));
	}
}

void
sandbox_apply(const struct sandbox_rule *rules, size_t n)
{
	scmp_filter_ctx	ctx;
	uint32_t	def = SCMP_ACT_KILL_PROCESS;
	int		rc;

#ifdef PKS_SANDBOX_DEBUG
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trap;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
	def = SCMP_ACT_TRAP;
#endif
#ifdef PKS_SANDBOX_LEARN
	def = SCMP_ACT_LOG;
#endif
	if ((ctx = seccomp_init(def)) == NULL)
		fatalx("seccomp_init failed");
	add_rules(ctx, base_rules, sizeof(base_rules) / sizeof(base_rules[0]));
	add_rules(ctx, rules, n);
#ifdef PKS_SANITIZE
	{
		size_t	i, nb = sizeof(base_rules) / sizeof(base_rules[0]);

		/* a process's own rule for the call stays the only one */
		for (i = 0; i < sizeof(sanitizer_rules) /
		    sizeof(sanitizer_rules[0]); i++)
			if (!sandbox_listed(sanitizer_rules[i].nr, rules, n) &&
			    !sandbox_listed(sanitizer_rules[i].nr, base_rules,
			    nb))
				add_rules(ctx, &sanitizer_rules[i], 1);
	}
#endif
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
}

/*
 * Test builds only: make a call the allow-list must refuse (SB_TRY_*),
 * to prove that the filter is in force (the kernel must kill us with
 * SIGSYS).  Descriptor 5 is never stderr nor the socketpair (PROC_FD,
 * 3): the kernel checks the filter before the descriptor.
 */
void
sandbox_test_violation(int what)
{
	static char	 page[8192] __attribute__((aligned(4096)));
	struct msghdr	 mh;

	switch (what) {
	case SB_TRY_WRITE:
		(void)!write(5, "x", 1);
		break;
	case SB_TRY_SENDMSG:
		memset(&mh, 0, sizeof(mh));
		(void)sendmsg(5, &mh, 0);
		break;
	case SB_TRY_MMAP_X:
		(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case SB_TRY_MPROT_X:
		(void)mprotect(page, 4096, PROT_READ | PROT_EXEC);
		break;
	case SB_TRY_LINGER: {
		struct linger	 l = { 1, 5 };

		(void)setsockopt(5, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		break;
	}
	default:
		syscall(SYS_ptrace, 0, 0, 0, 0);
		break;
	}
	/* not reached under the filter */
	_exit(99);
}

static void
sandbox_violate(int sig)
{
	sandbox_test_violation(sig == SIGUSR2 ? SB_TRY_PTRACE :
	    sig - SIGRTMIN);
}

/*
 * Test builds: SIGUSR2 makes the process try a call no allow-list has,
 * SIGRTMIN + n the call SB_TRY_n names (t_confinement,
 * t_monitor_sandbox).
 */
void
sandbox_test_signals(void)
{
	int	k;

	signal(SIGUSR2, sandbox_violate);
	for (k = 1; k <= SB_TRY_MAX; k++)
		signal(SIGRTMIN + k, sandbox_violate);
}

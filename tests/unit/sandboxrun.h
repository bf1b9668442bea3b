/*
 * sandboxrun.h: run a workload in a child under a process's own seccomp
 * allow-list, so a unit test sees what the kernel would kill.  A libc
 * path that changes with data size (qsort(3) calling sysinfo(2) for a
 * large array, malloc(3) moving to mmap(2), realloc(3) to mremap(2))
 * shows up here as SIGSYS instead of in production.
 *
 * The child must not use cmocka (its asserts jump back into the
 * parent's frames): it checks with SBR_CHECK, which exits with the line
 * number, and ends with _exit(0).
 */
#ifndef PKS_SANDBOXRUN_H
#define PKS_SANDBOXRUN_H

#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

#define SBR_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "sandboxed check failed, line %d: %s\n",\
		    __LINE__, #c);					\
		_exit(100);						\
	}								\
} while (0)

/* a workload that makes the call SB_TRY_* sbr_try names */
static int	 sbr_try;

static inline void
sbr_forbidden(void)
{
	sandbox_test_violation(sbr_try);
}

/*
 * Whether the filter must refuse the call SB_TRY_* names in this build:
 * sanitizer builds allow executable mappings (ASan's own, see
 * common/sandbox.c), so those checks hold in the other builds only.
 */
static inline int
sbr_try_holds(int try)
{
#ifdef PKS_SANITIZE
	return try != SB_TRY_MMAP_X && try != SB_TRY_MPROT_X;
#else
	(void)try;
	return 1;
#endif
}

/* 0 if work() ran to its end under the rules; else says why, and 1 if
 * the kernel killed it for a forbidden call (SIGSYS), -1 otherwise */
static int
sandbox_run(const struct sandbox_rule *rules, size_t n, void (*before)(void),
    void (*work)(void))
{
	pid_t	 pid;
	int	 st;

	fflush(NULL);
	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0) {
		if (before != NULL)
			before();
		sandbox_apply(rules, n);
		work();
		_exit(0);
	}
	if (waitpid(pid, &st, 0) == -1)
		return (-1);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return (0);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		return (1);
	if (WIFSIGNALED(st))
		fprintf(stderr, "# sandboxed workload killed by signal %d "
		    "(%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		fprintf(stderr, "# sandboxed workload exited %d\n",
		    WEXITSTATUS(st));
	return (-1);
}

/* each SB_TRY_* call this build forbids, under the rules: how many of
 * them were not killed by SIGSYS (0: every one was) */
static inline int
sandbox_run_tries(const struct sandbox_rule *rules, size_t n)
{
	int	 missed = 0;

	for (sbr_try = 0; sbr_try <= SB_TRY_MAX; sbr_try++)
		if (sbr_try_holds(sbr_try) &&
		    sandbox_run(rules, n, NULL, sbr_forbidden) != 1) {
			fprintf(stderr, "# SB_TRY %d was not killed\n",
			    sbr_try);
			missed++;
		}
	return (missed);
}

#endif /* PKS_SANDBOXRUN_H */

/*
 * sandbox.h: a seccomp allow-list is a table of struct sandbox_rule, one
 * line per syscall, in the process's own folder.  Anything not listed
 * kills the process (SIGSYS).
 */
#ifndef PKS_SANDBOX_H
#define PKS_SANDBOX_H

#include <stddef.h>
#include <seccomp.h>

struct sandbox_rule {
	int		 nr;		/* SCMP_SYS(name) */
	const char	*name;
	int		 err;		/* 0: allow; else fail with this errno */
	int		 argc;		/* 0, 1: allow only if arg[argi] == val,
					 * 2: and arg[argj] == val2 */
	unsigned int	 argi;
	unsigned long	 val;
	unsigned int	 argj;
	unsigned long	 val2;
	unsigned long	 mask;		/* argc 1, not 0: allow only if
					 * (arg[argi] & mask) == val */
};

#define SB_ALLOW(s)		{ SCMP_SYS(s), #s, 0, 0, 0, 0, 0, 0, 0 }
#define SB_ERRNO(s, e)		{ SCMP_SYS(s), #s, (e), 0, 0, 0, 0, 0, 0 }
#define SB_ARG(s, i, v)		{ SCMP_SYS(s), #s, 0, 1, (i), (v), 0, 0, 0 }
#define SB_ARG2(s, i, v, j, w)	{ SCMP_SYS(s), #s, 0, 2, (i), (v), (j), (w), 0 }
#define SB_MASK(s, i, m, v)	{ SCMP_SYS(s), #s, 0, 1, (i), (v), 0, 0, (m) }

/* sandbox.c */
void	sandbox_apply(const struct sandbox_rule *, size_t);
/* what sandbox_test_violation() tries (test builds: a signal asks) */
#define SB_TRY_PTRACE	0	/* a call no allow-list has */
#define SB_TRY_WRITE	1	/* write() to a descriptor past stderr */
#define SB_TRY_SENDMSG	2	/* sendmsg() on one not the socketpair */
#define SB_TRY_MMAP_X	3	/* mmap() of executable memory */
#define SB_TRY_MPROT_X	4	/* mprotect() to executable */
#define SB_TRY_LINGER	5	/* setsockopt(SO_LINGER) (issue 13, M1) */
#define SB_TRY_MAX	5
void	sandbox_test_violation(int);
void	sandbox_test_signals(void);

#endif /* PKS_SANDBOX_H */

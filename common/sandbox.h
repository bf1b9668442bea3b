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
	int		 argc;		/* 0, or 1: allow only if arg[argi] == val */
	unsigned int	 argi;
	unsigned long	 val;
};

#define SB_ALLOW(s)		{ SCMP_SYS(s), #s, 0, 0, 0, 0 }
#define SB_ERRNO(s, e)		{ SCMP_SYS(s), #s, (e), 0, 0, 0 }
#define SB_ARG(s, i, v)		{ SCMP_SYS(s), #s, 0, 1, (i), (v) }

/* sandbox.c */
void	sandbox_apply(const struct sandbox_rule *, size_t);
void	sandbox_test_violation(void);

#endif /* PKS_SANDBOX_H */

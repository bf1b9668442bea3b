/*
 * run.c: run the command given after "--" once the knocks are sent.
 * POSIX replaces pks-knock with it; Windows has no exec that keeps the
 * console and the exit status, so it spawns, waits, and returns the
 * command's status for pks-knock to exit with.
 */
#ifdef _WIN32
#include <process.h>
#include <stdlib.h>
#else
#include <unistd.h>
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "knock.h"

#ifdef _WIN32
/*
 * _spawnvp() joins its arguments with spaces and no quoting, so an
 * argument with a space or a quote would be split or mangled.  Quote
 * each one the way the C runtime splits a command line back: backslashes
 * are literal unless they precede a quote, where they are doubled.
 */
static char *
quote(const char *a)
{
	const char	*p;
	char		*q, *r;
	size_t		 bs;

	if (*a != '\0' && strpbrk(a, " \t\"") == NULL)
		return (_strdup(a));
	if ((q = r = malloc(strlen(a) * 2 + 3)) == NULL)
		return (NULL);
	*r++ = '"';
	for (p = a; ; p++) {
		for (bs = 0; *p == '\\'; p++)
			bs++;
		if (*p == '\0' || *p == '"') {
			bs *= 2;	/* before a quote, or our closing one */
			if (*p == '"')
				bs++;
		}
		while (bs-- > 0)
			*r++ = '\\';
		if (*p == '\0')
			break;
		*r++ = *p;
	}
	*r++ = '"';
	*r = '\0';
	return (q);
}
#endif

/*
 * Returns only on Windows, or when the command could not be started:
 * 127 if it was not found, 71 for any other failure.
 */
int
run_command(char **argv)
{
#ifdef _WIN32
	char		**qv;
	intptr_t	  st;
	int		  e, i, n;

	for (n = 0; argv[n] != NULL; n++)
		;
	if ((qv = calloc(n + 1, sizeof(*qv))) == NULL) {
		fprintf(stderr, "pks-knock: out of memory\n");
		return (KX_OSERR);
	}
	for (i = 0; i < n; i++)
		if ((qv[i] = quote(argv[i])) == NULL) {
			fprintf(stderr, "pks-knock: out of memory\n");
			return (KX_OSERR);
		}
	fflush(NULL);
	st = _spawnvp(_P_WAIT, argv[0], (const char *const *)qv);
	if (st != -1)
		return ((int)st);
#else
	int	e;

	execvp(argv[0], argv);
#endif
	e = errno;
	fprintf(stderr, "pks-knock: %s: %s\n", argv[0], strerror(e));
	return (e == ENOENT ? KX_NOTFOUND : KX_OSERR);
}

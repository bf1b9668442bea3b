/*
 * ports.h: the knock sequence and its parser.  Pure code, no I/O, so the
 * unit tests and the fuzzer link it alone.
 */
#ifndef PKS_KNOCK_PORTS_H
#define PKS_KNOCK_PORTS_H

#include <stddef.h>

#define KNOCK_MAX	16		/* ports in one sequence */
#define KNOCK_ERRLEN	128		/* room for an error message */

enum knock_proto {
	KNOCK_TCP,
	KNOCK_UDP
};

struct knock {
	unsigned short	port;		/* 1..65535 */
	int		proto;		/* enum knock_proto */
};

struct knockseq {
	struct knock	k[KNOCK_MAX];
	size_t		n;
};

/* ports.c */
int	ports_scan(struct knockseq *, const char *, int, char *, size_t);
int	ports_arg(struct knockseq *, const char *, int, char *, size_t);
int	ports_line(struct knockseq *, const char *, int, char *, size_t,
	    char *, size_t);
const char *ports_protoname(int);

#endif /* PKS_KNOCK_PORTS_H */

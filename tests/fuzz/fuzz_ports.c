/*
 * fuzz_ports: libFuzzer target on the client's port parser.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iclient \
 *	    tests/fuzz/fuzz_ports.c client/ports.c -o fuzz_ports
 *	./fuzz_ports tests/fuzz/corpus/ports
 *
 * The input is one pasted line.  Whatever it holds, the parser must not
 * read out of bounds, must keep the sequence within KNOCK_MAX valid
 * knocks, never change the knocks it already held, and must leave its
 * length as it was when it reports an error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ports.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct knockseq *seq, const struct knockseq *before, int r,
    const char *err)
{
	size_t	i;

	if (seq->n > KNOCK_MAX || seq->n < before->n)
		abort();
	if (r == -1 && (seq->n != before->n ||
	    memchr(err, '\0', KNOCK_ERRLEN) == NULL || err[0] == '\0'))
		abort();
	for (i = 0; i < seq->n; i++) {
		if (seq->k[i].port == 0 || (seq->k[i].proto != KNOCK_TCP &&
		    seq->k[i].proto != KNOCK_UDP))
			abort();
		if (i < before->n && (seq->k[i].port != before->k[i].port ||
		    seq->k[i].proto != before->k[i].proto))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct knockseq	 seq, before;
	char		 err[KNOCK_ERRLEN], host[16], *line;
	int		 r;

	if ((line = malloc(len + 1)) == NULL)
		return (0);
	memcpy(line, data, len);
	line[len] = '\0';		/* the client reads C strings */

	/* a few ports already there, so the limit and rollback are hit */
	memset(&seq, 0, sizeof(seq));
	seq.n = len % 4;
	for (r = 0; r < (int)seq.n; r++) {
		seq.k[r].port = 1000 + r;
		seq.k[r].proto = KNOCK_TCP;
	}
	before = seq;
	r = ports_line(&seq, line, len & 1 ? KNOCK_UDP : KNOCK_TCP, host,
	    sizeof(host), err, sizeof(err));
	check(&seq, &before, r, err);
	if (memchr(host, '\0', sizeof(host)) == NULL)
		abort();

	before = seq;
	r = ports_arg(&seq, line, KNOCK_TCP, err, sizeof(err));
	check(&seq, &before, r, err);
	free(line);
	return (0);
}

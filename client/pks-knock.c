/*
 * pks-knock: knock a PKS sequence, then maybe run a command.
 *
 *	pks-knock [-46uv] [-d delay_ms] host port... [-- command args...]
 *
 * Standalone on purpose: it links nothing of common/ and builds for
 * Windows with MinGW-w64 as well.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "knock.h"

#define DELAY_MS	1	/* default pause between knocks: a spoofer
				 * must hit the gaps (pks-sniffer(8)) */
#define DELAY_MAX	60000
#define LINE_LEN	1024	/* longest pasted line */

static void
usage(void)
{
	fprintf(stderr, "usage: pks-knock [-46uv] [-d delay_ms] host port... "
	    "[-- command args...]\n");
	exit(KX_USAGE);
}

static int
delayarg(const char *s, unsigned int *ms)
{
	unsigned long	v = 0;
	const char	*p;

	for (p = s; *p >= '0' && *p <= '9' && v <= DELAY_MAX; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (p == s || *p != '\0' || v > DELAY_MAX) {
		fprintf(stderr, "pks-knock: -d %.40s: delay must be 0..%d ms\n",
		    s, DELAY_MAX);
		return (-1);
	}
	*ms = (unsigned int)v;
	return (0);
}

/*
 * One line from standard input, read a byte at a time: a command run
 * after the knocks inherits stdin and must find the rest of it unread.
 */
static int
readline(char *buf, size_t len)
{
	size_t	n = 0;
	long	r;
	char	c;

	while ((r = net_read(0, &c, 1)) == 1 && c != '\n') {
		if (c == '\0') {
			fprintf(stderr, "pks-knock: NUL byte in the input\n");
			return (-1);
		}
		if (n + 1 == len) {
			fprintf(stderr, "pks-knock: input line longer than "
			    "%u bytes\n", (unsigned int)len - 1);
			return (-1);
		}
		buf[n++] = c;
	}
	if (r < 0) {
		fprintf(stderr, "pks-knock: reading the ports: %s\n",
		    strerror(errno));
		return (-1);
	}
	buf[n] = '\0';
	return (0);
}

/* No port on the command line: ask for them, and take a pasted line. */
static int
prompt(struct knockseq *seq, const char *host, int proto)
{
	char	line[LINE_LEN], phost[256], err[KNOCK_ERRLEN];

	if (net_isatty(0))
		fprintf(stderr, "Ports to knock on %s: ", host);
	if (readline(line, sizeof(line)) == -1)
		return (-1);
	if (ports_line(seq, line, proto, phost, sizeof(phost), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "pks-knock: %s\n", err);
		return (-1);
	}
	if (phost[0] != '\0' && strcmp(phost, host) != 0)
		fprintf(stderr, "pks-knock: warning: the pasted command names "
		    "%s, knocking %s\n", phost, host);
	return (0);
}

int
main(int argc, char *argv[])
{
	struct knockseq	  seq;
	struct target	  t;
	char		  err[KNOCK_ERRLEN], **cmd = NULL;
	const char	 *host;
	unsigned int	  delay = DELAY_MS, i;
	int		  ch, a, family = AF_UNSPEC, proto = KNOCK_TCP;
	int		  verbose = 0;

	/* "+": stop at the host, so the ports and command stay as given */
	while ((ch = getopt(argc, argv, "+46d:uv")) != -1) {
		switch (ch) {
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'd':
			if (delayarg(optarg, &delay) == -1)
				return (KX_USAGE);
			break;
		case 'u':
			proto = KNOCK_UDP;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argv[0][0] == '\0' || strcmp(argv[0], "--") == 0)
		usage();
	host = argv[0];

	seq.n = 0;
	for (a = 1; a < argc && strcmp(argv[a], "--") != 0; a++) {
		if (ports_arg(&seq, argv[a], proto, err, sizeof(err)) == -1) {
			fprintf(stderr, "pks-knock: %s\n", err);
			return (KX_USAGE);
		}
	}
	if (a < argc) {
		cmd = argv + a + 1;
		if (cmd[0] == NULL)
			usage();
	}
	if (seq.n == 0 && prompt(&seq, host, proto) == -1)
		return (KX_USAGE);
	if (seq.n == 0) {
		fprintf(stderr, "pks-knock: no ports given\n");
		return (KX_USAGE);
	}

	if (net_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "pks-knock: %s\n", err);
		return (KX_UNAVAILABLE);
	}
	if (net_resolve(host, family, &t, err, sizeof(err)) == -1) {
		fprintf(stderr, "pks-knock: %s\n", err);
		return (KX_NOHOST);
	}
	for (i = 0; i < seq.n; i++) {
		if (i > 0)
			net_sleep(delay);
		if (verbose)
			fprintf(stderr, "pks-knock: knock %u/%u: %s %s/%u\n",
			    i + 1, (unsigned int)seq.n, t.addr,
			    ports_protoname(seq.k[i].proto), seq.k[i].port);
		if (net_knock(&t, &seq.k[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "pks-knock: %s\n", err);
			return (KX_UNAVAILABLE);
		}
	}
	if (cmd == NULL)
		return (KX_OK);
	net_sleep(delay);	/* give the server time to open the port */
	fflush(NULL);
	return (run_command(cmd));
}

/*
 * ports.c: knock ports as a person gives them.  On the command line, one
 * or more per argument; or one pasted line, as the Telegram bot shows a
 * sequence: "41233 9120 60111", "41233, 9120, 60111", or the whole
 * command it suggests, "pks-knock host 41233 9120 60111 -- ssh host".
 *
 * A port is a word of digits with an optional ":tcp" or ":udp".  Words
 * are runs of letters, digits, ':' and '.'; anything else separates them.
 * A word that is not a port is an error, never skipped: a stray "5" from
 * prose could otherwise end up knocked.  On any error the sequence is
 * left as it was.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ports.h"

#define SHOW		40	/* longest piece of input an error quotes */
#define QUOTES		"`'\""	/* Telegram code spans, shell quotes */

static int
isword(int c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == ':' || c == '.');
}

static int
isspc(int c)
{
	return (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f');
}

static int
show(size_t len)
{
	return (len > SHOW ? SHOW : (int)len);
}

const char *
ports_protoname(int proto)
{
	return (proto == KNOCK_UDP ? "udp" : "tcp");
}

/* One word: digits, then maybe ":tcp" or ":udp". */
static int
port_word(const char *w, size_t len, int proto, struct knock *k, char *err,
    size_t errlen)
{
	const char	*colon, *sfx;
	unsigned long	 v = 0;
	size_t		 i, nlen, slen;

	colon = memchr(w, ':', len);
	nlen = colon != NULL ? (size_t)(colon - w) : len;
	for (i = 0; i < nlen; i++) {
		if (w[i] < '0' || w[i] > '9')
			break;
		if (v <= 65535)		/* stop growing: no overflow */
			v = v * 10 + (unsigned long)(w[i] - '0');
	}
	if (nlen == 0 || i < nlen) {
		snprintf(err, errlen, "%.*s: not a port", show(len), w);
		return (-1);
	}
	if (v < 1 || v > 65535) {
		snprintf(err, errlen, "%.*s: port out of range", show(nlen), w);
		return (-1);
	}
	if (colon != NULL) {
		sfx = colon + 1;
		slen = len - nlen - 1;
		if (slen == 3 && strncasecmp(sfx, "tcp", 3) == 0)
			proto = KNOCK_TCP;
		else if (slen == 3 && strncasecmp(sfx, "udp", 3) == 0)
			proto = KNOCK_UDP;
		else {
			snprintf(err, errlen,
			    "%.*s: unknown protocol (tcp or udp)", show(len), w);
			return (-1);
		}
	}
	k->port = (unsigned short)v;
	k->proto = proto;
	return (0);
}

static int
scan(struct knockseq *seq, const char *p, size_t len, int proto, char *err,
    size_t errlen)
{
	const char	*end = p + len;
	size_t		 n0 = seq->n, w;
	struct knock	 k;

	for (;;) {
		while (p < end && !isword((unsigned char)*p))
			p++;
		if (p == end)
			return (0);
		for (w = 0; p + w < end && isword((unsigned char)p[w]); w++)
			;
		if (port_word(p, w, proto, &k, err, errlen) == -1)
			break;
		if (seq->n == KNOCK_MAX) {
			snprintf(err, errlen, "too many ports (at most %d)",
			    KNOCK_MAX);
			break;
		}
		seq->k[seq->n++] = k;
		p += w;
	}
	seq->n = n0;
	return (-1);
}

/* Append the ports found in text; proto is the default protocol. */
int
ports_scan(struct knockseq *seq, const char *text, int proto, char *err,
    size_t errlen)
{
	return (scan(seq, text, strlen(text), proto, err, errlen));
}

/*
 * One command line argument.  It must hold a port: "-5" or "," alone is
 * a mistake, not an empty list.
 */
int
ports_arg(struct knockseq *seq, const char *arg, int proto, char *err,
    size_t errlen)
{
	size_t	n0 = seq->n;

	if (arg[0] != '-') {
		if (ports_scan(seq, arg, proto, err, errlen) == -1)
			return (-1);
		if (seq->n > n0)
			return (0);
	}
	snprintf(err, errlen, "%.*s: not a port", show(strlen(arg)), arg);
	return (-1);
}

/* The next whitespace-separated token, without quotes around it. */
static const char *
token(const char **pp, size_t *lenp)
{
	const char	*p = *pp, *t;
	size_t		 len;

	while (isspc((unsigned char)*p))
		p++;
	if (*p == '\0')
		return (NULL);
	for (t = p; *p != '\0' && !isspc((unsigned char)*p); p++)
		;
	*pp = p;
	len = p - t;
	while (len > 0 && strchr(QUOTES, *t) != NULL)
		t++, len--;
	while (len > 0 && strchr(QUOTES, t[len - 1]) != NULL)
		len--;
	*lenp = len;
	return (t);
}

static int
iscmd(const char *t, size_t len)
{
	size_t	i;

	for (i = len; i > 0; i--)	/* basename, '/' or '\' */
		if (t[i - 1] == '/' || t[i - 1] == '\\')
			break;
	t += i;
	len -= i;
	return ((len == 9 && strncmp(t, "pks-knock", 9) == 0) ||
	    (len == 13 && strncasecmp(t, "pks-knock.exe", 13) == 0));
}

static int
isdashdash(const char *t, size_t len)
{
	return (len == 2 && t[0] == '-' && t[1] == '-');
}

/*
 * A pasted line.  If it holds the command itself, the ports are the words
 * after its options and host, up to a "--" and the command that follows;
 * a -u among the options makes them UDP.  The host it names is copied to
 * host (empty if none) so the caller can warn when it is not the one it
 * knocks.
 */
int
ports_line(struct knockseq *seq, const char *line, int proto, char *host,
    size_t hostlen, char *err, size_t errlen)
{
	const char	*p = line, *t, *start;
	size_t		 len, i;

	if (hostlen > 0)
		host[0] = '\0';
	while ((t = token(&p, &len)) != NULL && !iscmd(t, len))
		;
	if (t == NULL)
		return (ports_scan(seq, line, proto, err, errlen));

	/* options of the pasted command */
	while ((t = token(&p, &len)) != NULL) {
		if (isdashdash(t, len)) {
			t = token(&p, &len);
			break;
		}
		if (len < 2 || t[0] != '-')
			break;
		for (i = 1; i < len; i++) {
			if (t[i] == 'u')
				proto = KNOCK_UDP;
			if (t[i] == 'd') {	/* -d takes the rest or next */
				if (i == len - 1)
					(void)token(&p, &len);
				break;
			}
		}
	}
	if (t == NULL)
		return (0);
	if (hostlen > 0)
		snprintf(host, hostlen, "%.*s", (int)len, t);

	start = p;
	while ((t = token(&p, &len)) != NULL && !isdashdash(t, len))
		;
	len = (t != NULL ? t : p) - start;
	return (scan(seq, start, len, proto, err, errlen));
}

/*
 * state.c: the monitor's state file: grants made from Telegram, the
 * lockdown flag and the recovery sequences.
 *
 * Pure functions and plain file I/O only (no reference to the running
 * monitor), so the unit tests drive them directly.  The format is small
 * and line-based, readable by an admin:
 *
 *	pks-state 1
 *	lockdown 1 BY SINCE		(or "lockdown 0")
 *	grant USER SERVICE UNTIL BY SINCE [NAME]
 *	recovery ID USER SERVICE UNTIL BY SINCE tcp|udp PORT PORT PORT ...
 *	observed SINCE ADDRESS|- tcp|udp PORT COUNT
 *	end NGRANTS [NRECOVERY]
 *
 * Times are seconds since the epoch, UNTIL 0 meaning "until ungranted"
 * (a recovery sequence always ends; BY 0: issued with pksctl, or the
 * lockdown set with it).  The
 * "end" line, with the number of grants and of recovery sequences (left
 * out when there is none, so a file without any reads as before), must
 * be the last line: a file cut anywhere is refused.  The file holds the
 * ports of the recovery sequences: it is the monitor's, mode 0600.  A
 * file is written whole to a temporary file in the same directory,
 * synced, renamed over the old one, and the directory synced: a crash
 * leaves the old or the new file, never part of one.
 *
 * An "observed" line is a count of mode observe (pks-fw/observe.c: new
 * connections enforcing mode would have dropped, per source and service,
 * "-" for the "(other sources)" count), SINCE the date counting began.
 * A malformed one is skipped (st->nobs_bad, st->obs_err say so): a count
 * is no right, it never costs the file's grants or lockdown.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

#ifdef PKS_TESTHOOKS
int	state_test_delay_ms;	/* PKS_TEST_STATE_DELAY_MS; 0: none */
#endif

#define STATE_VERSION	1
#define TIME_LIMIT	(INT64_C(1) << 40)	/* beyond any real date */

static int
err(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
err(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;

	if (buf != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void
state_clear(struct pks_state *st)
{
	free(st->grants);
	free(st->recov);
	free(st->obs);
	memset(st, 0, sizeof(*st));
}

/*
 * A duration: a positive number and a unit, s m h d or w ("30m", "2h",
 * "7d"), at most STATE_DURATION_MAX seconds.
 */
int
state_duration(const char *s, uint32_t *secs)
{
	char		 buf[16];
	size_t		 len = strlen(s);
	int64_t		 n, mul;

	if (len < 2 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len - 1);
	buf[len - 1] = '\0';
	switch (s[len - 1]) {
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	case 'w':
		mul = 7 * 86400;
		break;
	default:
		return -1;
	}
	if (num_parse(buf, 1, STATE_DURATION_MAX, &n) == -1 ||
	    n * mul > STATE_DURATION_MAX)
		return -1;
	*secs = (uint32_t)(n * mul);
	return 0;
}

struct grant *
state_find(struct pks_state *st, int64_t user, const char *svc)
{
	size_t	i;

	for (i = 0; i < st->ngrants; i++)
		if (st->grants[i].user == user &&
		    strcmp(st->grants[i].service, svc) == 0)
			return &st->grants[i];
	return NULL;
}

/* display names: one printable line, cut on a character boundary */
static void
clean_name(char *dst, size_t dstsz, const char *src)
{
	size_t	n;

	snprintf(dst, dstsz, "%s", src);
	for (n = 0; dst[n] != '\0'; n++)
		if ((unsigned char)dst[n] < 0x20 || dst[n] == 0x7f)
			dst[n] = '?';
	/* a cut multi-byte character at the end */
	if (strlen(src) >= dstsz) {
		while (n > 0 && ((unsigned char)dst[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && ((unsigned char)dst[n - 1] & 0xc0) == 0xc0)
			n--;
		else
			n = strlen(dst);
		dst[n] = '\0';
	}
}

/*
 * Add a grant, or replace the one for the same user and service.
 * -1 if the state is full or the grant is not well-formed.
 */
int
state_grant(struct pks_state *st, const struct grant *g)
{
	struct grant	*o, *ng;

	if (g->user <= 0 || g->user >= PKS_ID_LIMIT ||
	    !conf_valid_name(g->service) || g->until < 0 ||
	    g->until >= TIME_LIMIT || g->since < 0 || g->since >= TIME_LIMIT ||
	    g->by <= 0 || g->by >= PKS_ID_LIMIT)
		return -1;
	if ((o = state_find(st, g->user, g->service)) == NULL) {
		if (st->ngrants >= STATE_GRANTS_MAX)
			return -1;
		if ((ng = reallocarray(st->grants, st->ngrants + 1,
		    sizeof(*ng))) == NULL)
			return -1;
		st->grants = ng;
		o = &st->grants[st->ngrants++];
	}
	*o = *g;
	clean_name(o->name, sizeof(o->name), g->name);
	return 0;
}

/* remove the grant of user for svc; -1 if there is none */
int
state_ungrant(struct pks_state *st, int64_t user, const char *svc)
{
	struct grant	*g;
	size_t		 i;

	if ((g = state_find(st, user, svc)) == NULL)
		return -1;
	i = g - st->grants;
	memmove(g, g + 1, (st->ngrants - i - 1) * sizeof(*g));
	st->ngrants--;
	return 0;
}

/*
 * Add a recovery sequence; -1 if the state is full, if it is not
 * well-formed, or if its id is taken.  Its ports obey the sniffer's rules
 * (pks-sniffer/match.c), and it is never bound to an address.
 */
int
state_recov_add(struct pks_state *st, const struct recov *rv)
{
	const struct pks_seq	*q = &rv->seq;
	struct recov		*n;
	size_t			 i;
	int			 j;

	if (q->id == 0 || q->len < PKS_SEQ_MIN || q->len > PKS_SEQ_MAX ||
	    (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP) ||
	    q->bound_af != 0 || rv->user <= 0 || rv->user >= PKS_ID_LIMIT ||
	    !conf_valid_name(rv->service) || rv->until <= 0 ||
	    rv->until >= TIME_LIMIT || rv->since < 0 ||
	    rv->since >= TIME_LIMIT || rv->by < 0 || rv->by >= PKS_ID_LIMIT)
		return -1;
	for (i = 0; i < q->len; i++) {
		if (q->ports[i] == 0)
			return -1;
		for (j = 0; j < (int)i; j++)
			if (abs(q->ports[i] - q->ports[j]) <= 2 * PKS_GUARD + 1)
				return -1;
	}
	for (i = 0; i < st->nrecov; i++)
		if (st->recov[i].seq.id == q->id)
			return -1;
	if (st->nrecov >= STATE_RECOV_MAX || (n = reallocarray(st->recov,
	    st->nrecov + 1, sizeof(*n))) == NULL)
		return -1;
	st->recov = n;
	n[st->nrecov++] = *rv;
	return 0;
}

/*
 * Remove the grants whose time is up; each is copied to out (up to
 * max) first, for the caller to log.  Returns how many were removed.
 */
size_t
state_expire(struct pks_state *st, time_t now, struct grant *out, size_t max)
{
	size_t	i, j, n = 0;

	for (i = j = 0; i < st->ngrants; i++) {
		if (st->grants[i].until != 0 && st->grants[i].until <= now) {
			if (n < max)
				out[n] = st->grants[i];
			n++;
			continue;
		}
		st->grants[j++] = st->grants[i];
	}
	st->ngrants = j;
	return n;
}

/* does a grant in force let user open svc at now? */
int
state_allows(const struct pks_state *st, int64_t user, const char *svc,
    time_t now)
{
	size_t	i;

	for (i = 0; i < st->ngrants; i++) {
		const struct grant	*g = &st->grants[i];

		if (g->user == user && strcmp(g->service, svc) == 0 &&
		    (g->until == 0 || g->until > now))
			return 1;
	}
	return 0;
}

/* the earliest end of a grant, 0 if none ends */
time_t
state_next_expiry(const struct pks_state *st)
{
	time_t	t = 0;
	size_t	i;

	for (i = 0; i < st->ngrants; i++)
		if (st->grants[i].until != 0 &&
		    (t == 0 || st->grants[i].until < t))
			t = st->grants[i].until;
	return t;
}

/* split line into at most max space-separated words; the rest in *rest */
static int
words(char *line, char **w, int max, char **rest)
{
	int	n = 0;
	char	*p = line;

	*rest = NULL;
	while (*p != '\0' && n < max) {
		w[n++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			return n;
		*p++ = '\0';
	}
	if (*p != '\0')
		*rest = p;
	return n;
}

/* "recovery ID USER SERVICE UNTIL BY SINCE tcp|udp PORT..." */
static int
parse_recov(struct pks_state *st, char *line, char *ebuf, size_t elen)
{
	char		*w[8 + PKS_SEQ_MAX], *rest;
	struct recov	 rv;
	int64_t		 v;
	int		 n, i;

	if (line[strlen(line) - 1] == ' ')
		return err(ebuf, elen, "empty field");
	n = words(line, w, 8 + PKS_SEQ_MAX, &rest);
	for (i = 0; i < n; i++)
		if (w[i][0] == '\0')
			return err(ebuf, elen, "empty field");
	if (rest != NULL || n < 8 + PKS_SEQ_MIN)
		return err(ebuf, elen, "a recovery line needs ID USER SERVICE "
		    "UNTIL BY SINCE PROTOCOL and %d to %d ports", PKS_SEQ_MIN,
		    PKS_SEQ_MAX);
	memset(&rv, 0, sizeof(rv));
	if (num_parse(w[1], 1, UINT32_MAX, &v) == -1)
		return err(ebuf, elen, "bad recovery id");
	rv.seq.id = (uint32_t)v;
	if (num_parse(w[2], 1, PKS_ID_LIMIT - 1, &rv.user) == -1)
		return err(ebuf, elen, "bad user id");
	if (!conf_valid_name(w[3]))
		return err(ebuf, elen, "bad service name");
	snprintf(rv.service, sizeof(rv.service), "%s", w[3]);
	if (num_parse(w[4], 1, TIME_LIMIT - 1, &v) == -1)
		return err(ebuf, elen, "bad end time");
	rv.until = v;
	if (num_parse(w[5], 0, PKS_ID_LIMIT - 1, &rv.by) == -1)
		return err(ebuf, elen, "bad issuing admin id");
	if (num_parse(w[6], 0, TIME_LIMIT - 1, &v) == -1)
		return err(ebuf, elen, "bad start time");
	rv.since = v;
	if (strcmp(w[7], "tcp") == 0)
		rv.seq.proto = IPPROTO_TCP;
	else if (strcmp(w[7], "udp") == 0)
		rv.seq.proto = IPPROTO_UDP;
	else
		return err(ebuf, elen, "protocol neither tcp nor udp");
	rv.seq.len = n - 8;
	for (i = 8; i < n; i++) {
		if (num_parse(w[i], 1, 65535, &v) == -1)
			return err(ebuf, elen, "bad port");
		rv.seq.ports[i - 8] = (uint16_t)v;
	}
	if (st->nrecov >= STATE_RECOV_MAX)
		return err(ebuf, elen, "more than %d recovery sequences",
		    STATE_RECOV_MAX);
	if (state_recov_add(st, &rv) == -1)
		return err(ebuf, elen, "recovery sequence %u: ports within "
		    "each other's guards, or its id given twice", rv.seq.id);
	return 0;
}

/* "observed SINCE ADDRESS|- tcp|udp PORT COUNT" */
static int
parse_obs(struct pks_state *st, char *line, char *ebuf, size_t elen)
{
	struct pks_fw_observed	 o, *no;
	char			*w[6], *rest;
	int64_t			 since, v;
	size_t			 i, pairs = 0, others = 0;
	int			 n;

	n = words(line, w, 6, &rest);
	for (i = 0; i < (size_t)n; i++)
		if (w[i][0] == '\0')
			return err(ebuf, elen, "empty field");
	if (n != 6 || rest != NULL)
		return err(ebuf, elen, "an observed line needs SINCE ADDRESS|- "
		    "PROTOCOL PORT COUNT");
	memset(&o, 0, sizeof(o));
	if (num_parse(w[1], 0, TIME_LIMIT - 1, &since) == -1)
		return err(ebuf, elen, "bad start time");
	if (strcmp(w[2], "-") == 0)
		o.af = 0;
	else if (inet_pton(AF_INET, w[2], o.addr) == 1)
		o.af = AF_INET;
	else if (inet_pton(AF_INET6, w[2], o.addr) == 1)
		o.af = AF_INET6;
	else
		return err(ebuf, elen, "bad address \"%.46s\"", w[2]);
	if (strcmp(w[3], "tcp") == 0)
		o.proto = IPPROTO_TCP;
	else if (strcmp(w[3], "udp") == 0)
		o.proto = IPPROTO_UDP;
	else
		return err(ebuf, elen, "protocol neither tcp nor udp");
	if (num_parse(w[4], 1, 65535, &v) == -1)
		return err(ebuf, elen, "bad port");
	o.port = (uint16_t)v;
	if (num_parse(w[5], 1, INT64_MAX, &v) == -1)
		return err(ebuf, elen, "bad count");
	o.count = (uint64_t)v;
	if (!pks_fw_observed_ok(&o))
		return err(ebuf, elen, "bad count fields");
	for (i = 0; i < st->nobs; i++) {
		const struct pks_fw_observed	*t = &st->obs[i];

		if (t->af == o.af && t->proto == o.proto &&
		    t->port == o.port && memcmp(t->addr, o.addr, 16) == 0)
			return err(ebuf, elen, "a second count of %s %s %u",
			    w[2], w[3], o.port);
		if (t->af != 0)
			pairs++;
		else
			others++;
	}
	if ((o.af != 0 && pairs >= PKS_OBSERVED_MAX) ||
	    (o.af == 0 && others >= PKS_SERVICES_MAX))
		return err(ebuf, elen, "more counts than pks-fw keeps");
	if ((no = reallocarray(st->obs, st->nobs + 1, sizeof(*no))) == NULL)
		return err(ebuf, elen, "out of memory");
	st->obs = no;
	no[st->nobs++] = o;
	if (st->obs_since == 0 || since < st->obs_since)
		st->obs_since = since;
	return 0;
}

static int
parse_line(struct pks_state *st, char *line, int *seen_lock, char *ebuf,
    size_t elen)
{
	char		*w[6], *rest;
	struct grant	 g;
	int64_t		 v;
	int		 n, i;

	if (strncmp(line, "recovery ", 9) == 0)
		return parse_recov(st, line, ebuf, elen);
	n = words(line, w, 6, &rest);
	for (i = 0; i < n; i++)
		if (w[i][0] == '\0')
			return err(ebuf, elen, "empty field");
	if (strcmp(w[0], "lockdown") == 0) {
		if ((*seen_lock)++)
			return err(ebuf, elen, "a second lockdown line");
		if (n == 2 && rest == NULL && strcmp(w[1], "0") == 0)
			return 0;
		if (n != 4 || rest != NULL || strcmp(w[1], "1") != 0)
			return err(ebuf, elen, "expected \"lockdown 0\" or "
			    "\"lockdown 1 BY SINCE\"");
		if (num_parse(w[2], 0, PKS_ID_LIMIT - 1, &st->lock_by) == -1 ||
		    num_parse(w[3], 0, TIME_LIMIT - 1, &v) == -1)
			return err(ebuf, elen, "bad lockdown fields");
		st->lockdown = 1;
		st->lock_since = v;
		return 0;
	}
	if (strcmp(w[0], "grant") != 0)
		return err(ebuf, elen, "unknown line \"%.20s\"", w[0]);
	if (n < 6)
		return err(ebuf, elen, "a grant needs USER SERVICE UNTIL BY "
		    "SINCE");
	memset(&g, 0, sizeof(g));
	if (num_parse(w[1], 1, PKS_ID_LIMIT - 1, &g.user) == -1)
		return err(ebuf, elen, "bad user id");
	if (!conf_valid_name(w[2]))
		return err(ebuf, elen, "bad service name");
	snprintf(g.service, sizeof(g.service), "%s", w[2]);
	if (num_parse(w[3], 0, TIME_LIMIT - 1, &v) == -1)
		return err(ebuf, elen, "bad end time");
	g.until = v;
	if (num_parse(w[4], 1, PKS_ID_LIMIT - 1, &g.by) == -1)
		return err(ebuf, elen, "bad granting admin id");
	if (num_parse(w[5], 0, TIME_LIMIT - 1, &v) == -1)
		return err(ebuf, elen, "bad start time");
	g.since = v;
	if (rest != NULL) {
		if (strlen(rest) >= sizeof(g.name))
			return err(ebuf, elen, "name too long");
		for (i = 0; rest[i] != '\0'; i++)
			if ((unsigned char)rest[i] < 0x20 || rest[i] == 0x7f)
				return err(ebuf, elen, "control character in "
				    "name");
		memcpy(g.name, rest, strlen(rest) + 1);
	}
	if (state_find(st, g.user, g.service) != NULL)
		return err(ebuf, elen, "a second grant of %s to %lld",
		    g.service, (long long)g.user);
	if (st->ngrants >= STATE_GRANTS_MAX)
		return err(ebuf, elen, "more than %d grants",
		    STATE_GRANTS_MAX);
	if (state_grant(st, &g) == -1)
		return err(ebuf, elen, "out of memory");
	return 0;
}

/* " NGRANTS [NRECOVERY]": the second only when there are some */
static int
end_line(const struct pks_state *st, char *rest)
{
	char	*w[2], *more;
	int64_t	 g, r = 0;
	int	 n;

	if (*rest++ != ' ')
		return -1;
	n = words(rest, w, 2, &more);
	if (more != NULL || n < 1 ||
	    num_parse(w[0], 0, STATE_GRANTS_MAX, &g) == -1 ||
	    (n == 2 && num_parse(w[1], 1, STATE_RECOV_MAX, &r) == -1))
		return -1;
	return (size_t)g == st->ngrants && (size_t)r == st->nrecov ? 0 : -1;
}

/*
 * Parse a whole state file into st (cleared first).  On error st is
 * left empty and ebuf says what and where.
 */
int
state_parse(struct pks_state *st, const char *buf, size_t len, char *ebuf,
    size_t elen)
{
	char		 line[256], msg[128], *w[2], *rest;
	const char	*p = buf, *end = buf + len, *nl;
	int		 lineno = 0, version = 0, seen_lock = 0, done = 0;
	int64_t		 v;
	size_t		 ll;

	memset(st, 0, sizeof(*st));
	if (memchr(buf, '\0', len) != NULL)
		return err(ebuf, elen, "a NUL byte in the file");
	if (len == 0)
		return err(ebuf, elen, "empty file (truncated?)");
	while (p < end) {
		lineno++;
		if (done) {
			err(ebuf, elen, "line %d: text after the end line",
			    lineno);
			goto fail;
		}
		if ((nl = memchr(p, '\n', end - p)) == NULL) {
			err(ebuf, elen, "line %d: not terminated (truncated?)",
			    lineno);
			goto fail;
		}
		ll = nl - p;
		if (ll >= sizeof(line)) {
			err(ebuf, elen, "line %d: too long", lineno);
			goto fail;
		}
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = nl + 1;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (version == 0) {
			if (words(line, w, 2, &rest) != 2 || rest != NULL ||
			    strcmp(w[0], "pks-state") != 0 ||
			    num_parse(w[1], 0, INT32_MAX, &v) == -1) {
				err(ebuf, elen, "line %d: not a PKS state file "
				    "(no \"pks-state %d\" line)", lineno,
				    STATE_VERSION);
				goto fail;
			}
			if (v != STATE_VERSION) {
				err(ebuf, elen, "line %d: version %lld is not "
				    "understood (%d is)", lineno, (long long)v,
				    STATE_VERSION);
				goto fail;
			}
			version = (int)v;
			continue;
		}
		if (strncmp(line, "end", 3) == 0 && (line[3] == ' ' ||
		    line[3] == '\0')) {
			if (end_line(st, line + 3) == -1) {
				err(ebuf, elen, "line %d: the end line does "
				    "not match the %zu grants and %zu recovery "
				    "sequences read", lineno, st->ngrants,
				    st->nrecov);
				goto fail;
			}
			done = 1;
			continue;
		}
		if (strncmp(line, "observed ", 9) == 0) {
			if (parse_obs(st, line, msg, sizeof(msg)) == -1 &&
			    st->nobs_bad++ == 0)
				snprintf(st->obs_err, sizeof(st->obs_err),
				    "line %d: %s", lineno, msg);
			continue;
		}
		if (parse_line(st, line, &seen_lock, msg, sizeof(msg)) == -1) {
			err(ebuf, elen, "line %d: %s", lineno, msg);
			goto fail;
		}
	}
	if (!done) {
		err(ebuf, elen, "no end line (truncated?)");
		goto fail;
	}
	return 0;
 fail:
	state_clear(st);
	return -1;
}

/* The file's text, malloc'ed; NULL if out of memory. */
char *
state_format(const struct pks_state *st, size_t *lenp)
{
	char	*buf;
	size_t	 cap, len = 0, i;
	int	 n;

	cap = 256 + st->ngrants * 160 + st->nrecov * 256 + st->nobs * 96;
	if ((buf = malloc(cap)) == NULL)
		return NULL;
	n = snprintf(buf, cap, "# PKS state, written by pks-monitor: grants, "
	    "lockdown, recovery sequences; see pks-monitor(8)\npks-state %d\n",
	    STATE_VERSION);
	len += n;
	if (st->lockdown)
		n = snprintf(buf + len, cap - len, "lockdown 1 %lld %lld\n",
		    (long long)st->lock_by, (long long)st->lock_since);
	else
		n = snprintf(buf + len, cap - len, "lockdown 0\n");
	len += n;
	for (i = 0; i < st->ngrants; i++) {
		const struct grant	*g = &st->grants[i];

		n = snprintf(buf + len, cap - len, "grant %lld %s %lld %lld "
		    "%lld%s%s\n", (long long)g->user, g->service,
		    (long long)g->until, (long long)g->by,
		    (long long)g->since, g->name[0] ? " " : "", g->name);
		if (n < 0 || (size_t)n >= cap - len) {
			free(buf);
			return NULL;
		}
		len += n;
	}
	for (i = 0; i < st->nrecov; i++) {
		const struct recov	*rv = &st->recov[i];
		int			 k;

		n = snprintf(buf + len, cap - len, "recovery %u %lld %s %lld "
		    "%lld %lld %s", rv->seq.id, (long long)rv->user,
		    rv->service, (long long)rv->until, (long long)rv->by,
		    (long long)rv->since, rv->seq.proto == IPPROTO_UDP ?
		    "udp" : "tcp");
		len += n;
		for (k = 0; k < rv->seq.len; k++)
			len += snprintf(buf + len, cap - len, " %u",
			    rv->seq.ports[k]);
		buf[len++] = '\n';
	}
	for (i = 0; i < st->nobs; i++) {
		const struct pks_fw_observed	*o = &st->obs[i];
		char				 a[INET6_ADDRSTRLEN] = "-";

		if (o->af != 0 && inet_ntop(o->af, o->addr, a,
		    sizeof(a)) == NULL)
			continue;
		len += snprintf(buf + len, cap - len, "observed %lld %s %s "
		    "%u %llu\n", (long long)st->obs_since, a,
		    o->proto == IPPROTO_UDP ? "udp" : "tcp", o->port,
		    (unsigned long long)o->count);
	}
	if (st->nrecov > 0)
		n = snprintf(buf + len, cap - len, "end %zu %zu\n", st->ngrants,
		    st->nrecov);
	else
		n = snprintf(buf + len, cap - len, "end %zu\n", st->ngrants);
	if (n < 0 || (size_t)n >= cap - len) {
		free(buf);
		return NULL;
	}
	len += n;
	*lenp = len;
	return buf;
}

/*
 * Read the state file.  0: read; 1: there is none (an empty state);
 * -1: refused, st empty, ebuf says why.  A file that others could have
 * written is refused like a corrupt one: it could widen rights.  One
 * that others could read is read (refusing it would drop a lockdown),
 * made 0600 at once, and ebuf says so with 0: its recovery sequences'
 * ports may have been read.
 */
int
state_load(const char *path, struct pks_state *st, char *ebuf, size_t elen)
{
	struct stat	 sb;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, rc;

	memset(st, 0, sizeof(*st));
	if (elen > 0)
		ebuf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		return err(ebuf, elen, "%s", strerror(errno));
	}
	if (fstat(fd, &sb) == -1) {
		close(fd);
		return err(ebuf, elen, "%s", strerror(errno));
	}
	if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return err(ebuf, elen, "not a regular file owned by uid %ld "
		    "and writable by it only", (long)geteuid());
	}
	if ((sb.st_mode & (S_IRGRP | S_IROTH)) && fchmod(fd, 0600) == -1) {
		rc = err(ebuf, elen, "readable by group or others (mode "
		    "%04o), and not made 0600: %s", (unsigned int)(sb.st_mode &
		    07777), strerror(errno));
		close(fd);
		return rc;
	}
	if (sb.st_size > STATE_FILE_MAX) {
		close(fd);
		return err(ebuf, elen, "larger than %d bytes", STATE_FILE_MAX);
	}
	if ((buf = malloc(STATE_FILE_MAX + 1)) == NULL) {
		close(fd);
		return err(ebuf, elen, "out of memory");
	}
	while ((n = read(fd, buf + len, STATE_FILE_MAX + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = err(ebuf, elen, "%s", strerror(errno));
			goto out;
		}
		len += n;
		if (len > STATE_FILE_MAX) {
			rc = err(ebuf, elen, "larger than %d bytes",
			    STATE_FILE_MAX);
			goto out;
		}
	}
	rc = state_parse(st, buf, len, ebuf, elen);
	if (rc == 0 && (sb.st_mode & (S_IRGRP | S_IROTH)))
		snprintf(ebuf, elen, "was readable by group or others (mode "
		    "%04o), now 0600: the ports of its %zu recovery "
		    "sequence(s) may have been read", (unsigned int)(sb.st_mode &
		    07777), st->nrecov);
 out:
	free(buf);
	close(fd);
	return rc;
}

/* the directory of path, created 0700 if it is missing */
static int
state_dir(const char *path, char *dir, size_t dlen, char *ebuf, size_t elen)
{
	char		tmp[PATH_MAX];
	struct stat	sb;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return err(ebuf, elen, "path too long");
	snprintf(dir, dlen, "%s", dirname(tmp));
	if (stat(dir, &sb) == -1) {
		if (errno != ENOENT || mkdir(dir, 0700) == -1)
			return err(ebuf, elen, "directory %s: %s", dir,
			    strerror(errno));
		return 0;
	}
	if (!S_ISDIR(sb.st_mode))
		return err(ebuf, elen, "%s is not a directory", dir);
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Write st to path atomically: PATH.tmp (mode 0600), fsync, rename,
 * fsync of the directory.  0: done; -1 (ebuf set) if a step before the
 * rename failed: the old file is then untouched; 1 (ebuf set): the new
 * file is in place but the directory could not be synced.
 */
int
state_save(const char *path, const struct pks_state *st, char *ebuf,
    size_t elen)
{
	char	 dir[PATH_MAX], tmp[PATH_MAX], *buf;
	size_t	 len, half;
	int	 fd, dfd, rc = -1;

	if (state_dir(path, dir, sizeof(dir), ebuf, elen) == -1)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return err(ebuf, elen, "path too long");
	if ((buf = state_format(st, &len)) == NULL)
		return err(ebuf, elen, "out of memory");
	/* a leftover of a crash is ours to replace, never to follow */
	if (unlink(tmp) == -1 && errno != ENOENT) {
		err(ebuf, elen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		err(ebuf, elen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	half = len / 2;
	if (fchmod(fd, 0600) == -1 || write_all(fd, buf, half) == -1)
		goto fail;
#ifdef PKS_TESTHOOKS
	/* lets a test kill the monitor in the middle of a write */
	if (state_test_delay_ms > 0)
		usleep(state_test_delay_ms * 1000);
#endif
	if (write_all(fd, buf + half, len - half) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	/* the rename itself must reach the disk */
	rc = 0;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		/* the new file is in place: only its durability is unsure */
		err(ebuf, elen, "directory %s: fsync: %s", dir,
		    strerror(errno));
		rc = 1;
	}
	if (dfd != -1)
		close(dfd);
	goto out;
 fail:
	err(ebuf, elen, "%s: %s", tmp, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
 out:
	free(buf);
	return rc;
}

/* Move a refused file aside (PATH.corrupt), so a write cannot lose it. */
int
state_keep_aside(const char *path, char *aside, size_t alen, char *ebuf,
    size_t elen)
{
	if (snprintf(aside, alen, "%s.corrupt", path) >= (int)alen)
		return err(ebuf, elen, "path too long");
	if (rename(path, aside) == -1 && errno != ENOENT)
		return err(ebuf, elen, "%s: %s", aside, strerror(errno));
	return 0;
}

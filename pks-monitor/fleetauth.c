/*
 * fleetauth.c: the fleet's end-to-end authentication (issue 17).
 *
 * Each host shares a key with the front (pks.conf: a host's secret-file,
 * the front's "host NAME secret-file PATH").  The monitor that sends a
 * fleet message computes an HMAC-SHA256 over what it says, the monitor
 * that receives it checks it: pks-fleet and the broker only carry it.
 * So whoever can write a host's topics (the broker, an ACL mistake, a
 * compromised pks-fleet) cannot make up a request or an answer.  The
 * MAC covers every field the message carries, in a fixed encoding
 * (big-endian numbers, strings and texts after their 32-bit length),
 * after a label naming its type: one type cannot pass for another.
 * doc/fleet.md gives the encoding; t_fleet.py computes it on its own.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hmac.h"
#include "log.h"
#include "monitor.h"

/* messages from the broker refused: whoever can publish there can send
 * many (log.h) */
static struct log_flood	refused_log = { .what = "fleet messages" };

void
fleet_refused_held(time_t now)
{
	log_flood_tick(&refused_log, now);
}

/* "fleet: refused ...", said or counted */
void
fleet_refused(const char *fmt, ...)
{
	char	buf[200];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_flood_warnx(&refused_log, mono_now(), "fleet: refused %s", buf);
}

/* the key shared with host (a front), or this host's own; NULL: none */
static const uint8_t *
key_of(const char *host, size_t *len)
{
	const struct pks_conf	*c = env->conf;
	size_t			 i;

	if (c->fleet_role == PKS_FLEET_FRONT) {
		for (i = 0; i < c->nfleet_hosts; i++)
			if (strcmp(c->fleet_hosts[i].name, host) == 0) {
				*len = c->fleet_hosts[i].keylen;
				return c->fleet_hosts[i].key;
			}
		return NULL;
	}
	if (strcmp(host, c->fleet_name) != 0 || c->fleet_mac_keylen == 0)
		return NULL;
	*len = c->fleet_mac_keylen;
	return c->fleet_mac_key;
}

/* 1 if this monitor shares a key with host */
int
fleet_auth_known(const char *host)
{
	size_t	len;

	return key_of(host, &len) != NULL;
}

static void
put64(struct hmac *m, uint64_t v)
{
	uint8_t	b[8];
	int	i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	hmac_update(m, b, sizeof(b));
}

static void
put32(struct hmac *m, uint32_t v)
{
	uint8_t	b[4];

	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	hmac_update(m, b, sizeof(b));
}

static void
putn(struct hmac *m, const void *p, size_t len)
{
	put32(m, (uint32_t)len);
	hmac_update(m, p, len);
}

/* a NUL-terminated field of size bytes */
static void
putstr(struct hmac *m, const char *s, size_t size)
{
	putn(m, s, strnlen(s, size));
}

/* the HMAC's start: host's key and the label; -1: no key */
static int
begin(struct hmac *m, const char *host, const char *label)
{
	const uint8_t	*key;
	size_t		 len;

	if ((key = key_of(host, &len)) == NULL)
		return -1;
	hmac_init(m, key, len);
	putn(m, label, strlen(label));
	return 0;
}

static int
mac_req(const struct pks_fleet_req *r, uint8_t *out)
{
	struct hmac	m;
	uint32_t	i;

	if (begin(&m, r->host, "pks-fleet req") == -1)
		return -1;
	put64(&m, r->id);
	put64(&m, (uint64_t)r->issued);
	put64(&m, (uint64_t)r->expires);
	putstr(&m, r->host, sizeof(r->host));
	put32(&m, r->cmd);
	put32(&m, r->private);
	put32(&m, r->age);
	put64(&m, (uint64_t)r->user);
	put64(&m, (uint64_t)r->chat);
	putstr(&m, r->user_name, sizeof(r->user_name));
	put32(&m, r->nargs);
	for (i = 0; i < r->nargs && i < PKS_ARGS_MAX; i++)
		putstr(&m, r->argv[i], sizeof(r->argv[i]));
	hmac_final(&m, out);
	return 0;
}

static int
mac_sent(const struct pks_fleet_sent *s, uint8_t *out)
{
	struct hmac	m;

	if (begin(&m, s->host, "pks-fleet sent") == -1)
		return -1;
	put64(&m, s->id);
	putstr(&m, s->host, sizeof(s->host));
	put32(&m, (uint32_t)s->ok);
	put32(&m, (uint32_t)s->status);
	put64(&m, (uint64_t)s->where);
	put64(&m, (uint64_t)s->msg_id);
	hmac_final(&m, out);
	return 0;
}

/*
 * IMSG_FLEET_REPLY (the request answered: its id, the person and chat
 * it was for, its MAC; then where the words go) or IMSG_FLEET_NOTICE
 * (chat, message).  The label of an answer names its version: the
 * first one bound an answer to nothing but the request's id.
 */
static int
mac_words(uint32_t type, const struct pks_fleet_reply *r, const char *text,
    const char *alt, uint8_t *out)
{
	struct hmac	m;
	uint32_t	i;

	if (begin(&m, r->host, type == IMSG_FLEET_REPLY ?
	    "pks-fleet reply 2" : "pks-fleet notice") == -1)
		return -1;
	putstr(&m, r->host, sizeof(r->host));
	if (type == IMSG_FLEET_REPLY) {
		put64(&m, r->id);
		put64(&m, (uint64_t)r->user);
		put64(&m, (uint64_t)r->chat);
		putn(&m, r->req, sizeof(r->req));
		put32(&m, r->to);
	} else {
		put64(&m, (uint64_t)r->chat);
		put64(&m, (uint64_t)r->msg_id);
		put64(&m, (uint64_t)r->at);
	}
	putn(&m, text, r->textlen);
	putn(&m, alt, r->altlen);
	put32(&m, r->nmark);
	for (i = 0; i < r->nmark && i < PKS_FLEET_MARKS; i++) {
		put32(&m, r->mark[i].off);
		put32(&m, r->mark[i].style);
	}
	hmac_final(&m, out);
	return 0;
}

/* 0 if mac is what we compute (want, -1 if we have no key); else log */
static int
check(int have, const uint8_t *want, const uint8_t *mac, const char *what,
    const char *host, uint64_t id)
{
	if (have == 0 && hmac_equal(want, mac, PKS_FLEET_MAC_LEN))
		return 0;
	fleet_refused("%s %llu %s %s: %s", what, (unsigned long long)id,
	    env->conf->fleet_role == PKS_FLEET_FRONT ?
	    "from" : "for", host, have == -1 ? "no secret-file is shared "
	    "with that host" : "bad MAC (not made with the shared "
	    "secret-file: forged, or the keys differ)");
	return -1;
}

/* the front: before a request leaves; -1: no key for its host */
int
fleet_auth_sign_req(struct pks_fleet_req *r)
{
	return mac_req(r, r->mac);
}

/* a host: 0 if the front made this request; -1 logged */
int
fleet_auth_req(const struct pks_fleet_req *r)
{
	uint8_t	want[PKS_FLEET_MAC_LEN];

	return check(mac_req(r, want), want, r->mac, "request", r->host,
	    r->id);
}

int
fleet_auth_sign_sent(struct pks_fleet_sent *s)
{
	return mac_sent(s, s->mac);
}

int
fleet_auth_sent(const struct pks_fleet_sent *s)
{
	uint8_t	want[PKS_FLEET_MAC_LEN];

	return check(mac_sent(s, want), want, s->mac, "delivery outcome of "
	    "request", s->host, s->id);
}

/* a host: before an answer or a notice leaves; a notice gets its date,
 * always later than the last one's */
int
fleet_auth_sign_words(uint32_t type, struct pks_fleet_reply *r,
    const char *text, const char *alt)
{
	static int64_t	last;

	if (type == IMSG_FLEET_NOTICE) {
		r->at = wall_ms();
		if (r->at <= last)
			r->at = last + 1;
		last = r->at;
	}
	return mac_words(type, r, text, alt, r->mac);
}

/*
 * The front: a notice carries no request id, so a broker could send an
 * old one again.  Taken only if later than the last one taken from its
 * host, not older than PKS_FLEET_TTL_MAX, and not made before this
 * monitor started: after a restart, when no last one is known, a recent
 * notice would be taken once more.  None is lost so: pks-fleet's
 * session starts clean, so the broker keeps nothing for a front that
 * is away.  The start is on today's wall clock, as a host reckons it
 * for requests (fleet.c seen_check).
 */
static int
notice_fresh(const struct pks_fleet_reply *r)
{
	static struct {
		char	 host[PKS_NAME_MAX];
		int64_t	 at;
	}		 last[PKS_FLEET_HOSTS_MAX];
	static size_t	 nlast;
	int64_t		 now = wall_ms(), start;
	size_t		 i;

	for (i = 0; i < nlast; i++)
		if (strcmp(last[i].host, r->host) == 0)
			break;
	if (r->at < now - PKS_FLEET_TTL_MAX * 1000) {
		fleet_refused("notice from %s: sent %lld s ago (stale or "
		    "replayed)", r->host, (long long)(now - r->at) / 1000);
		return -1;
	}
	start = mono_ms_to_wall(env->started_ms);
	if (r->at < start) {
		fleet_refused("notice from %s: made %lld ms before this "
		    "monitor started (replayed, or the clocks disagree)",
		    r->host,
		    (long long)(start - r->at));
		return -1;
	}
	if (i < nlast && r->at <= last[i].at) {
		fleet_refused("notice from %s: not later than the last one "
		    "(replayed)", r->host);
		return -1;
	}
	if (i == nlast && nlast < PKS_FLEET_HOSTS_MAX) {
		memcpy(last[i].host, r->host, sizeof(last[i].host));
		nlast++;
	}
	if (i < nlast)
		last[i].at = r->at;
	return 0;
}

/* the front: 0 if host made this answer or notice (and the notice is
 * not one seen before); -1 logged */
int
fleet_auth_words(uint32_t type, const struct pks_fleet_reply *r,
    const char *text, const char *alt)
{
	uint8_t	want[PKS_FLEET_MAC_LEN];

	if (check(mac_words(type, r, text, alt, want), want, r->mac,
	    type == IMSG_FLEET_REPLY ? "answer to request" : "notice",
	    r->host, type == IMSG_FLEET_REPLY ? r->id : 0) == -1)
		return -1;
	return type == IMSG_FLEET_NOTICE ? notice_fresh(r) : 0;
}

/*
 * The front: an answer host made (its MAC checked) is for the request
 * the front asked: of that host (asked_of), for that person in that
 * chat, and that very request (its MAC).  A host's key signs whatever
 * its monitor is told to: a compromised host could otherwise answer
 * another host's request, or name someone else.  0, or -1 logged.
 */
int
fleet_auth_bound(const struct pks_fleet_reply *r, const char *asked_of,
    int64_t user, int64_t chat, const uint8_t *reqmac)
{
	if (strcmp(r->host, asked_of) != 0) {
		fleet_refused("answer to request %llu from %s: that request "
		    "was asked of %s, not of %s", (unsigned long long)r->id,
		    r->host, asked_of, r->host);
		return -1;
	}
	if (r->user != user || r->chat != chat) {
		fleet_refused("answer to request %llu from %s: it names user "
		    "%lld in chat %lld, the request was for user %lld in chat "
		    "%lld", (unsigned long long)r->id, r->host,
		    (long long)r->user, (long long)r->chat, (long long)user,
		    (long long)chat);
		return -1;
	}
	if (!hmac_equal(r->req, reqmac, PKS_FLEET_MAC_LEN)) {
		fleet_refused("answer to request %llu from %s: it answers "
		    "another request of that id (not the one asked: its MAC "
		    "differs)", (unsigned long long)r->id, r->host);
		return -1;
	}
	return 0;
}

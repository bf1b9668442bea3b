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
 *
 * While a key is changed, each side may also hold the one it replaces
 * (previous-secret-file): a MAC made with either is taken, and what a
 * host sends is made with the key the front uses (doc/fleet.md,
 * "Changing a host's key"; t_fleet_keys.py).
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

/*
 * A host: the key the front's last request (or delivery outcome) was
 * made with, since the start or the last reload; -1: none yet.  What a
 * host sends is made with it: during a rotation the host has the new
 * key before the front, which checks with the old one until its own
 * reload.
 */
static int	front_key = -1;

/* the keys shared with host (a front), or this host's own; NULL: none */
static const struct conf_key *
keys_of(const char *host)
{
	const struct pks_conf	*c = env->conf;
	size_t			 i;

	if (c->fleet_role == PKS_FLEET_FRONT) {
		for (i = 0; i < c->nfleet_hosts; i++)
			if (strcmp(c->fleet_hosts[i].name, host) == 0)
				return c->fleet_hosts[i].key;
		return NULL;
	}
	if (strcmp(host, c->fleet_name) != 0 ||
	    c->fleet_secret[CONF_KEY_NOW].len == 0)
		return NULL;
	return c->fleet_secret;
}

/* 1 if this monitor shares a key with host */
int
fleet_auth_known(const char *host)
{
	return keys_of(host) != NULL;
}

/* a new configuration: its keys, none seen used by the front yet */
void
fleet_auth_reconf(void)
{
	front_key = -1;
}

/* the key what we send to host is made with; NULL: none.  A front's is
 * its secret-file; a host's, the one the front uses, as far as it has
 * seen, else its previous-secret-file (the front may not have the new
 * one yet), else its secret-file. */
static const struct conf_key *
sign_key(const char *host)
{
	const struct conf_key	*k;

	if ((k = keys_of(host)) == NULL)
		return NULL;
	if (env->conf->fleet_role == PKS_FLEET_FRONT)
		return &k[CONF_KEY_NOW];
	if (front_key != -1 && k[front_key].len > 0)
		return &k[front_key];
	if (k[CONF_KEY_PREVIOUS].len > 0)
		return &k[CONF_KEY_PREVIOUS];
	return &k[CONF_KEY_NOW];
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

/* a message to MAC: its type says which member it is */
struct msg {
	uint32_t			 type;	/* IMSG_FLEET_* */
	const char			*host;
	const struct pks_fleet_req	*req;
	const struct pks_fleet_sent	*sent;
	const struct pks_fleet_reply	*words;	/* REPLY, NOTICE */
	const char			*text;
	const char			*alt;
};

static void
mac_req(struct hmac *m, const struct pks_fleet_req *r)
{
	uint32_t	i;

	putn(m, "pks-fleet req", strlen("pks-fleet req"));
	put64(m, r->id);
	put64(m, (uint64_t)r->issued);
	put64(m, (uint64_t)r->expires);
	putstr(m, r->host, sizeof(r->host));
	put32(m, r->cmd);
	put32(m, r->private);
	put32(m, r->age);
	put64(m, (uint64_t)r->user);
	put64(m, (uint64_t)r->chat);
	putstr(m, r->user_name, sizeof(r->user_name));
	put32(m, r->nargs);
	for (i = 0; i < r->nargs && i < PKS_ARGS_MAX; i++)
		putstr(m, r->argv[i], sizeof(r->argv[i]));
}

static void
mac_sent(struct hmac *m, const struct pks_fleet_sent *s)
{
	putn(m, "pks-fleet sent", strlen("pks-fleet sent"));
	put64(m, s->id);
	putstr(m, s->host, sizeof(s->host));
	put32(m, (uint32_t)s->ok);
	put32(m, (uint32_t)s->status);
	put64(m, (uint64_t)s->where);
	put64(m, (uint64_t)s->msg_id);
}

/*
 * IMSG_FLEET_REPLY (the request answered: its id, the person and chat
 * it was for, its MAC; then where the words go) or IMSG_FLEET_NOTICE
 * (chat, message).  The label of an answer names its version: the
 * first one bound an answer to nothing but the request's id.
 */
static void
mac_words(struct hmac *m, const struct msg *w)
{
	const struct pks_fleet_reply	*r = w->words;
	const char			*label;
	uint32_t			 i;

	label = w->type == IMSG_FLEET_REPLY ? "pks-fleet reply 2" :
	    "pks-fleet notice";
	putn(m, label, strlen(label));
	putstr(m, r->host, sizeof(r->host));
	if (w->type == IMSG_FLEET_REPLY) {
		put64(m, r->id);
		put64(m, (uint64_t)r->user);
		put64(m, (uint64_t)r->chat);
		putn(m, r->req, sizeof(r->req));
		put32(m, r->to);
	} else {
		put64(m, (uint64_t)r->chat);
		put64(m, (uint64_t)r->msg_id);
		put64(m, (uint64_t)r->at);
	}
	putn(m, w->text, r->textlen);
	putn(m, w->alt, r->altlen);
	put32(m, r->nmark);
	for (i = 0; i < r->nmark && i < PKS_FLEET_MARKS; i++) {
		put32(m, r->mark[i].off);
		put32(m, r->mark[i].style);
	}
}

/* w's MAC with key k */
static void
mac(const struct msg *w, const struct conf_key *k, uint8_t *out)
{
	struct hmac	m;

	hmac_init(&m, k->key, k->len);
	if (w->type == IMSG_FLEET_REQ)
		mac_req(&m, w->req);
	else if (w->type == IMSG_FLEET_SENT)
		mac_sent(&m, w->sent);
	else
		mac_words(&m, w);
	hmac_final(&m, out);
}

/* out: w's MAC, made with the key we sign with; -1: no key */
static int
sign(const struct msg *w, uint8_t *out)
{
	const struct conf_key	*k;

	if ((k = sign_key(w->host)) == NULL)
		return -1;
	mac(w, k, out);
	return 0;
}

/*
 * The key of ours (CONF_KEY_NOW, CONF_KEY_PREVIOUS) that made w's MAC
 * macv, each compared in constant time; -1 logged: what ID from/for host.
 */
static int
check(const struct msg *w, const uint8_t *macv, const char *what,
    uint64_t id)
{
	const struct conf_key	*k = keys_of(w->host);
	uint8_t			 want[PKS_FLEET_MAC_LEN];
	int			 i;

	for (i = 0; k != NULL && i < CONF_KEYS; i++) {
		if (k[i].len == 0)
			continue;
		mac(w, &k[i], want);
		if (hmac_equal(want, macv, PKS_FLEET_MAC_LEN))
			return i;
	}
	fleet_refused("%s %llu %s %s: %s", what, (unsigned long long)id,
	    env->conf->fleet_role == PKS_FLEET_FRONT ?
	    "from" : "for", w->host, k == NULL ? "no secret-file is shared "
	    "with that host" : "bad MAC (not made with the shared "
	    "secret-file: forged, or the keys differ)");
	return -1;
}

/*
 * A host: the front made a request or an outcome with our key i (as
 * fleet_auth_req() and fleet_auth_sent() said), and it is fresh: not
 * stale, not replayed, and awaited.  From now on what we send is made
 * with that key too.  Only then: an old message of the front, made
 * with the previous key and replayed by whoever can write our topic,
 * would otherwise choose the key we sign with.
 */
void
fleet_auth_front_used(int i)
{
	const struct conf_key	*k = env->conf->fleet_secret;

	if (i < 0 || i >= CONF_KEYS || k[i].len == 0)
		return;
	if (i != front_key && k[CONF_KEY_PREVIOUS].len > 0)
		log_info("fleet: the front signs with %s %s: so do we",
		    i == CONF_KEY_NOW ? "secret-file" : "previous-secret-file",
		    k[i].path);
	front_key = i;
}

/* the front: before a request leaves; -1: no key for its host */
int
fleet_auth_sign_req(struct pks_fleet_req *r)
{
	struct msg	w = { .type = IMSG_FLEET_REQ, .host = r->host, .req = r };

	return sign(&w, r->mac);
}

/* a host: the key of ours the front made this request with (for
 * fleet_auth_front_used(), once it is found fresh); -1 logged */
int
fleet_auth_req(const struct pks_fleet_req *r)
{
	struct msg	w = { .type = IMSG_FLEET_REQ, .host = r->host, .req = r };

	return check(&w, r->mac, "request", r->id);
}

int
fleet_auth_sign_sent(struct pks_fleet_sent *s)
{
	struct msg	w = { .type = IMSG_FLEET_SENT, .host = s->host,
			    .sent = s };

	return sign(&w, s->mac);
}

int
fleet_auth_sent(const struct pks_fleet_sent *s)
{
	struct msg	w = { .type = IMSG_FLEET_SENT, .host = s->host,
			    .sent = s };

	return check(&w, s->mac, "delivery outcome of request", s->id);
}

/* a host: before an answer or a notice leaves; a notice gets its date,
 * always later than the last one's */
int
fleet_auth_sign_words(uint32_t type, struct pks_fleet_reply *r,
    const char *text, const char *alt)
{
	static int64_t	last;
	struct msg	w = { .type = type, .host = r->host, .words = r,
			    .text = text, .alt = alt };

	if (type == IMSG_FLEET_NOTICE) {
		r->at = wall_ms();
		if (r->at <= last)
			r->at = last + 1;
		last = r->at;
	}
	return sign(&w, r->mac);
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
	struct msg	w = { .type = type, .host = r->host, .words = r,
			    .text = text, .alt = alt };

	if (check(&w, r->mac, type == IMSG_FLEET_REPLY ? "answer to request" :
	    "notice", type == IMSG_FLEET_REPLY ? r->id : 0) == -1)
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

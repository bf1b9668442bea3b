/*
 * seq.c: one-time sequences (the windows they open are in window.c).
 *
 * A sequence is drawn with getrandom(2): distinct ports from the
 * configured range, far enough apart that their guard ranges do not
 * touch (so a sweep always trips a guard), and never on or near a
 * protected port, a knock-exclude port or a port root listens on.  It
 * is consumed by its first completion.  The monitor checks a completion
 * again before it asks pks-fw to open: still live, not expired, bound
 * address.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"


static uint32_t
rnd_uniform(uint32_t n)
{
	uint32_t	v, lim;

	/* rejection sampling: no modulo bias */
	lim = UINT32_MAX - (UINT32_MAX % n);
	do {
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			fatal("getrandom");
	} while (v >= lim);
	return v % n;
}

/*
 * What a draw avoids, with PKS_GUARD ports either side: the protected
 * ports, the knock-exclude ranges, and the ports root's TCP listeners
 * and UDP sockets hold.  Only root's: a local user who binds sockets
 * must not steer the draw (issue 13, H2).  Sockets of the monitor's
 * network namespace, read from /proc/net.
 */
static void
exclude(uint8_t *map, unsigned int lo, unsigned int hi)
{
	unsigned int	p;

	lo = lo > PKS_GUARD ? lo - PKS_GUARD : 0;
	hi = hi + PKS_GUARD < 65536 ? hi + PKS_GUARD : 65535;
	for (p = lo; p <= hi; p++)
		map[p / 8] |= 1 << (p % 8);
}

static int
excluded(const uint8_t *map, unsigned int p)
{
	return (map[p / 8] >> (p % 8)) & 1;
}

static void
exclude_root_sockets(uint8_t *map)
{
	static const char *const files[] = {
		"/proc/net/tcp", "/proc/net/tcp6",
		"/proc/net/udp", "/proc/net/udp6"
	};
	char		 line[512];
	size_t		 i;
	FILE		*f;

	for (i = 0; i < 4; i++) {
		if ((f = fopen(files[i], "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned int	port, st, uid;
			char		local[64];

			/* sl local rem st tx:rx tr:when retrnsmt uid ... */
			if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %*s %x %*s "
			    "%*s %*s %u", local, &port, &st, &uid) != 4)
				continue;
			/* tcp: LISTEN (0x0A) only; udp: every bound port */
			if ((i < 2 && st != 0x0A) || uid != 0)
				continue;
			exclude(map, port, port);
		}
		fclose(f);
	}
}

#define EXCLUDED_SHARE	4	/* refuse to draw when more than 1/4 of
				   the range is excluded */

static int
too_close(uint16_t p, const uint16_t *set, size_t n, int dist)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (abs((int)p - (int)set[i]) <= dist)
			return 1;
	return 0;
}

/*
 * Draw a sequence for service svc, uniformly among the ports no
 * exclusion covers.  -1 (logged) if the range cannot hold one, or if
 * the exclusions cover so much of it that a draw would be predictable.
 */
static int
seq_draw(struct pks_seq *s, int svc)
{
	struct pks_conf	*conf = env->conf;
	static uint8_t	 map[65536 / 8];
	static uint32_t	 nex;
	static time_t	 map_at;	/* when map was made, and for */
	static const struct pks_conf *map_conf;	/* which configuration */
	uint32_t	 span = conf->knock_hi - conf->knock_lo + 1;
	unsigned int	 p;
	size_t		 i;
	int		 tries;

	/* /proc/net/tcp walks the whole connection hash (~10 ms on a
	 * large host): once a second is enough for a burst of draws */
	if (map_at != mono_now() || map_conf != conf) {
		map_at = mono_now();
		map_conf = conf;
		memset(map, 0, sizeof(map));
		for (i = 0; i < (size_t)conf->nservices; i++)
			exclude(map, conf->services[i].port,
			    conf->services[i].port);
		for (i = 0; i < (size_t)conf->nexclude; i++)
			exclude(map, conf->exclude[i][0],
			    conf->exclude[i][1]);
		exclude_root_sockets(map);
		for (nex = 0, p = conf->knock_lo; p <= conf->knock_hi; p++)
			nex += excluded(map, p);
	}
	if (nex * EXCLUDED_SHARE > span) {
		log_warnx("knock-ports %u-%u: %u of its %u ports are excluded "
		    "(protected ports, knock-exclude, root's listening "
		    "sockets, each with %d guard ports either side): more "
		    "than 1/%d, no sequence is drawn", conf->knock_lo,
		    conf->knock_hi, nex, span, PKS_GUARD, EXCLUDED_SHARE);
		return -1;
	}
	s->len = conf->seq_len;
	s->proto = conf->services[svc].knock_proto;
	for (i = 0; i < s->len; i++) {
		for (tries = 0; tries < 10000; tries++) {
			p = conf->knock_lo + rnd_uniform(span);
			if (excluded(map, p) ||
			    too_close(p, s->ports, i, 2 * PKS_GUARD + 1))
				continue;
			s->ports[i] = p;
			break;
		}
		if (tries == 10000)
			return -1;
	}
	return 0;
}

struct sequence *
seq_find(uint32_t id)
{
	struct sequence	*q;

	for (q = env->seqs; q != NULL; q = q->next)
		if (q->seq.id == id)
			return q;
	return NULL;
}

static void
seq_send_del(uint32_t id)
{
	child_send(PROC_SNIFFER, IMSG_SEQ_DEL, -1, &id, sizeof(id));
	child_send(PROC_SNIFFER, IMSG_SEQ_COMMIT, -1, NULL, 0);
}

void
seq_remove(struct sequence *s)
{
	struct sequence	**pp;

	for (pp = &env->seqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			seq_send_del(s->seq.id);
			if (s->msg_id != 0 && s->origin != NULL &&
			    s->origin->seq_gone != NULL)
				s->origin->seq_gone(s);
			explicit_bzero(s, sizeof(*s));
			free(s);
			return;
		}
}

/* the whole live set, pushed to a new sniffer, fits its queue */
_Static_assert((size_t)PKS_SEQUENCES_MAX * (sizeof(struct pks_seq) +
    IMSG_HEADER_SIZE) + 65536 <= IMSG_MAX_QUEUED,
    "PKS_SEQUENCES_MAX live sequences overflow IMSG_MAX_QUEUED");

/*
 * The caps: max-sequences in all, max-sequences-per-chat asked in one
 * group (a person holds at most one per service: a new one replaces
 * it).  A refusal is logged, at most once every LOG_EVERY seconds with
 * the count since, so a flood of requests cannot flood the log.
 */
#define LOG_EVERY	10

static int
seq_capped(int64_t user, int64_t chat)
{
	static time_t		 last[2];	/* per cap */
	static unsigned int	 refused[2];
	const struct sequence	*q;
	size_t			 n = 0, nchat = 0;
	time_t			 now = mono_now();
	int			 c;

	for (q = env->seqs; q != NULL; q = q->next) {
		n++;
		if (chat != user && q->chat_id == chat)
			nchat++;
	}
	if (n >= env->conf->max_sequences)
		c = 0;
	else if (chat != user && nchat >= env->conf->max_seq_chat)
		c = 1;
	else
		return SEQ_OK;
	refused[c]++;
	if (last[c] != 0 && now - last[c] < LOG_EVERY)
		return c == 0 ? SEQ_FULL : SEQ_CHAT_FULL;
	if (c == 0)
		log_warnx("sequence refused to %lld: %zu live, the "
		    "max-sequences cap (%u refused since the last such line)",
		    (long long)user, n, refused[c]);
	else
		log_warnx("sequence refused to %lld: %zu live asked in chat "
		    "%lld, the max-sequences-per-chat cap (%u refused since "
		    "the last such line)", (long long)user, nchat,
		    (long long)chat, refused[c]);
	last[c] = now;
	refused[c] = 0;
	return c == 0 ? SEQ_FULL : SEQ_CHAT_FULL;
}

/*
 * A new sequence for user on service svc, optionally bound to an
 * address.  It replaces the user's previous one for that service.
 * NULL, and *why, if it cannot be had.
 */
struct sequence *
seq_generate(const struct origin *origin, int svc, int64_t user, int64_t chat,
    const char *name, int af, const uint8_t *addr, int *why)
{
	struct sequence	*s, *q, *nq;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if (q->user_id == user && q->service == svc)
			seq_remove(q);
	}
	if ((*why = seq_capped(user, chat)) != SEQ_OK)
		return NULL;
	*why = SEQ_FAILED;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("sequence");
		return NULL;
	}
	if (seq_draw(&s->seq, svc) == -1) {
		log_warnx("knock-ports %u-%u cannot hold another sequence",
		    env->conf->knock_lo, env->conf->knock_hi);
		free(s);
		return NULL;
	}
	*why = SEQ_OK;
	do {
		s->seq.id = ++env->next_seq_id;
	} while (s->seq.id == 0 || seq_find(s->seq.id) != NULL);
	if (af != 0) {
		s->seq.bound_af = af;
		memcpy(s->seq.bound_addr, addr, af == AF_INET ? 4 : 16);
	}
	s->origin = origin;
	s->service = svc;
	snprintf(s->svcname, sizeof(s->svcname), "%s",
	    env->conf->services[svc].name);
	s->user_id = user;
	s->chat_id = chat;
	snprintf(s->user_name, sizeof(s->user_name), "%s", name);
	s->expires = mono_now() + env->conf->seq_lifetime;
	s->next = env->seqs;
	env->seqs = s;
	child_send(PROC_SNIFFER, IMSG_SEQ_ADD, -1, &s->seq, sizeof(s->seq));
	child_send(PROC_SNIFFER, IMSG_SEQ_COMMIT, -1, NULL, 0);
	log_info("sequence %u issued to %s (%lld) for %s", s->seq.id,
	    s->user_name, (long long)user, env->conf->services[svc].name);
	log_debug("sequence %u: %u ports from %u", s->seq.id, s->seq.len,
	    s->seq.ports[0]);
	return s;
}

/* Revoke a user's sequences (all users if all); returns how many. */
int
seq_revoke_user(int64_t user, int all)
{
	struct sequence	*q, *nq;
	int		 n = 0;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if (all || q->user_id == user) {
			seq_remove(q);
			n++;
		}
	}
	return n;
}

/* a restarted sniffer gets the whole live set */
void
seq_push_all(void)
{
	struct sequence	*q;

	for (q = env->seqs; q != NULL; q = q->next)
		child_send(PROC_SNIFFER, IMSG_SEQ_ADD, -1, &q->seq,
		    sizeof(q->seq));
	child_send(PROC_SNIFFER, IMSG_SEQ_COMMIT, -1, NULL, 0);
}

void
seq_expire(time_t now)
{
	struct sequence	*q, *nq;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if (q->expires <= now) {
			log_info("sequence %u of %s expired", q->seq.id,
			    q->user_name);
			seq_remove(q);
		}
	}
}

/* the earliest expiry of a sequence, 0 if there is none */
time_t
seq_next_deadline(void)
{
	struct sequence	*q;
	time_t		 t = 0;

	for (q = env->seqs; q != NULL; q = q->next)
		if (t == 0 || q->expires < t)
			t = q->expires;
	return t;
}

/*
 * After a reload: a sequence whose service is gone, or whose owner lost
 * the right to it, dies.
 */
void
seq_reconf(void)
{
	struct sequence	*q, *nq;
	int		 i;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		i = conf_service_index(env->conf, q->svcname);
		if (i == -1 || !policy_allowed(q->user_id, q->chat_id, i)) {
			log_info("sequence %u of %s revoked by the new "
			    "configuration", q->seq.id, q->user_name);
			seq_remove(q);
		} else
			q->service = i;
	}
}

/* sequences whose owner lost the right to their service die */
int
seq_revoke_unallowed(int64_t user)
{
	struct sequence	*q, *nq;
	int		 n = 0;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if ((user == 0 || q->user_id == user) &&
		    !policy_allowed(q->user_id, q->chat_id, q->service)) {
			log_info("sequence %u of %s revoked: no longer "
			    "allowed %s", q->seq.id, q->user_name, q->svcname);
			seq_remove(q);
			n++;
		}
	}
	return n;
}

/* The sequences one lister shows: after prev, those of user (0: all). */
const struct sequence *
seq_each(const struct sequence *prev, int64_t user)
{
	const struct sequence	*q;

	for (q = prev ? prev->next : env->seqs; q != NULL; q = q->next)
		if (user == 0 || q->user_id == user)
			return q;
	return NULL;
}

/*
 * The sniffer says a sequence was knocked; dispatch.c checked the
 * message.  Check it again here: the sniffer parses hostile packets and
 * is trusted with nothing.
 */
void
seq_knock_done(const struct pks_knock *k)
{
	struct sequence		*s;
	char			 a[INET6_ADDRSTRLEN];
	size_t			 alen = k->af == AF_INET ? 4 : 16;

	addr_str(k->af, k->addr, a, sizeof(a));
	if ((s = seq_find(k->seq_id)) == NULL) {
		log_info("knock from %s for a sequence that is not live", a);
		return;
	}
	if (s->expires <= mono_now()) {
		log_info("knock from %s for expired sequence %u", a,
		    s->seq.id);
		seq_remove(s);
		return;
	}
	if (s->seq.bound_af != 0 && (s->seq.bound_af != k->af ||
	    memcmp(s->seq.bound_addr, k->addr, alen) != 0)) {
		log_warnx("knock for sequence %u from %s, which is not the "
		    "address it is bound to: refused", s->seq.id, a);
		return;
	}
	if (policy_locked()) {
		log_warnx("knock from %s for sequence %u refused: locked "
		    "down", a, s->seq.id);
		seq_remove(s);
		return;
	}
	log_info("knock completed from %s: sequence %u of %s for %s", a,
	    s->seq.id, s->user_name, env->conf->services[s->service].name);
	win_open(s, k->af, k->addr);
	s->used_at = mono_to_wall(mono_now());
	snprintf(s->used_from, sizeof(s->used_from), "%s", a);
	seq_remove(s);		/* one-time */
}

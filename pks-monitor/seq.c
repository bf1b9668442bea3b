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
#include <unistd.h>

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
 * network namespace, read from /proc/self/net: under the unit's
 * ProcSubset=pid, /proc/net (a link to it) does not exist.
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
		"/proc/self/net/tcp", "/proc/self/net/tcp6",
		"/proc/self/net/udp", "/proc/self/net/udp6"
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
seq_draw(struct pks_seq *s, int svc, unsigned int len)
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

	/* /proc/self/net/tcp walks the whole connection hash (~10 ms on a
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
	s->len = len;
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

/*
 * The live set sent so far is complete: pks-sniffer refilters and says
 * so (IMSG_SEQ_ARMED, with how many commits it applied).  Counted even
 * when no sniffer runs: a sequence stamped with it is armed only by the
 * next sniffer's full push (seq_push_all()).  Returns its number.
 */
static uint32_t
seq_commit(void)
{
	env->sniff_commits++;
	child_send(PROC_SNIFFER, IMSG_SEQ_COMMIT, -1, NULL, 0);
	return env->sniff_commits;
}

/* s goes to the sniffer; armed once it confirms the commit */
static void
seq_send_add(struct sequence *s)
{
	child_send(PROC_SNIFFER, IMSG_SEQ_ADD, -1, &s->seq, sizeof(s->seq));
	s->gen = env->sniff_gen;
	s->commit = seq_commit();
}

/*
 * Whether the running pks-sniffer confirmed it holds q in its matcher
 * and its kernel filters: only then can q be knocked, and handed out.
 */
int
seq_armed(const struct sequence *q)
{
	return q->gen == env->sniff_gen && q->commit <= env->sniff_armed;
}

static void
seq_send_del(uint32_t id)
{
	child_send(PROC_SNIFFER, IMSG_SEQ_DEL, -1, &id, sizeof(id));
	(void)seq_commit();
}

void
seq_remove(struct sequence *s)
{
	struct sequence	**pp;

	for (pp = &env->seqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			seq_send_del(s->seq.id);
			if (s->recovery)
				env->state_dirty = 1;
			if (s->msg_id != 0 && s->origin != NULL &&
			    s->origin->seq_gone != NULL)
				s->origin->seq_gone(s);
			explicit_bzero(s, sizeof(*s));
			free(s);
			return;
		}
}

/* the whole live set, pushed to a new sniffer, fits its queue */
_Static_assert((size_t)(PKS_SEQUENCES_MAX + PKS_RECOVERY_MAX) *
    (sizeof(struct pks_seq) + IMSG_HEADER_SIZE) + 65536 <= IMSG_MAX_QUEUED,
    "PKS_SEQUENCES_MAX live sequences overflow IMSG_MAX_QUEUED");

static void
seq_new_id(struct sequence *s)
{
	do {
		s->seq.id = ++env->next_seq_id;
	} while (s->seq.id == 0 || seq_find(s->seq.id) != NULL);
}

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
		if (q->recovery)
			continue;	/* capped on their own (recovery.c) */
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
		if (q->user_id == user && q->service == svc && !q->recovery)
			seq_remove(q);
	}
	if ((*why = seq_capped(user, chat)) != SEQ_OK)
		return NULL;
	*why = SEQ_FAILED;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("sequence");
		return NULL;
	}
	if (seq_draw(&s->seq, svc, env->conf->seq_len) == -1) {
		log_warnx("knock-ports %u-%u cannot hold another sequence",
		    env->conf->knock_lo, env->conf->knock_hi);
		free(s);
		return NULL;
	}
	*why = SEQ_OK;
	seq_new_id(s);
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
	seq_send_add(s);
	log_info("sequence %u issued to %s (%lld) for %s", s->seq.id,
	    s->user_name, (long long)user, env->conf->services[svc].name);
	log_debug("sequence %u: %u ports from %u", s->seq.id, s->seq.len,
	    s->seq.ports[0]);
	return s;
}

/* the host pks-knock lines name: knock-host, or this host's name */
static const char *
knock_host(void)
{
	static char	host[256];

	if (env->conf->knock_host[0] != '\0')
		return env->conf->knock_host;
	if (gethostname(host, sizeof(host) - 1) == -1)
		return "HOST";
	return host;
}

/* the line that knocks q, "pks-knock HOST PORT ...", as code */
void
seq_reply_knock(struct reply *rp, const struct pks_seq *q)
{
	int	i;

	reply_style(rp, STYLE_CODE);
	reply_add(rp, "pks-knock %s", knock_host());
	for (i = 0; i < q->len; i++)
		reply_add(rp, " %u%s", q->ports[i],
		    q->proto == IPPROTO_UDP ? ":udp" : "");
	reply_style(rp, STYLE_PLAIN);
}

/*
 * The length of a recovery sequence.  It lives recovery-valid, not
 * sequence-lifetime: a blind guesser has that many times longer, so it
 * is longer by the fewest ports k with R^k >= recovery-valid /
 * sequence-lifetime (R: the ports of knock-ports), which makes guessing
 * it within its life no likelier than guessing a normal one within
 * its own.  May exceed PKS_SEQ_MAX: the caller refuses then.
 */
int
seq_recovery_len(const struct pks_conf *conf)
{
	uint64_t	span = conf->knock_hi - conf->knock_lo + 1, r = 1;
	uint64_t	ratio;
	int		k = 0;

	ratio = (conf->recovery_valid + conf->seq_lifetime - 1) /
	    conf->seq_lifetime;
	while (r < ratio && k <= PKS_SEQ_MAX) {
		r *= span;
		k++;
	}
	return conf->seq_len + k;
}

/* why conf lets no recovery sequence be drawn, or NULL */
const char *
seq_recovery_refused(const struct pks_conf *conf)
{
	unsigned int	len = seq_recovery_len(conf);

	if (len > PKS_SEQ_MAX)
		return "recovery sequences would need more than 16 ports: "
		    "widen knock-ports or shorten recovery-valid";
	if (len * (2 * PKS_GUARD + 1) > (unsigned int)(conf->knock_hi -
	    conf->knock_lo) + 1)
		return "knock-ports is too narrow for recovery sequences of "
		    "their length: widen it or shorten recovery-valid";
	return NULL;
}

/*
 * May a recovery sequence kept from before (the state file, a reload)
 * stay live for service svc: its ports inside knock-ports, the service's
 * knock protocol, and never shorter than a normal sequence.
 */
static int
recovery_fits(const struct pks_seq *q, int svc)
{
	const struct pks_conf	*conf = env->conf;
	int			 i;

	if (q->len < conf->seq_len ||
	    q->proto != conf->services[svc].knock_proto)
		return 0;
	for (i = 0; i < q->len; i++)
		if (q->ports[i] < conf->knock_lo ||
		    q->ports[i] > conf->knock_hi)
			return 0;
	return 1;
}

/*
 * A recovery sequence of user for service svc, ending at until
 * (monotonic), issued by by (0: pksctl) at since (a date): drawn anew,
 * or, with given, one the state file kept (its id and ports).  NULL and
 * *why if it cannot be had.  Its owner must be allowed svc by user id
 * (a configuration line or a grant): a chat's membership cannot be
 * checked while Telegram is away.
 */
struct sequence *
seq_recovery_add(int svc, int64_t user, time_t until, int64_t by,
    time_t since, const struct pks_seq *given, const char **why)
{
	const struct sequence	*q;
	struct sequence		*s;
	int			 n = 0, len = seq_recovery_len(env->conf);

	for (q = NULL; (q = seq_each_recovery(q)) != NULL;)
		n++;
	*why = NULL;
	if (!policy_allowed(user, user, svc))
		*why = "the user may not open that service (by an allow user "
		    "line or a grant)";
	else if (n >= PKS_RECOVERY_MAX)
		*why = "too many recovery sequences live";
	else if (given != NULL && (!recovery_fits(given, svc) ||
	    seq_find(given->id) != NULL))
		*why = "it no longer fits the configuration (knock-ports, "
		    "sequence-length, knock protocol)";
	else if (given == NULL)
		*why = seq_recovery_refused(env->conf);
	if (*why != NULL)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if (given != NULL)
		s->seq = *given;
	else if (seq_draw(&s->seq, svc, len) == -1) {
		*why = "knock-ports cannot hold one (see the log)";
		free(s);
		return NULL;
	} else
		seq_new_id(s);
	s->recovery = 1;
	s->service = svc;
	snprintf(s->svcname, sizeof(s->svcname), "%s",
	    env->conf->services[svc].name);
	s->user_id = user;
	s->chat_id = user;
	s->expires = until;
	s->by = by;
	s->since = since;
	s->next = env->seqs;
	env->seqs = s;
	seq_send_add(s);
	return s;
}

/*
 * Revoke a user's sequences (all users if all); returns how many.
 * Recovery sequences stay: only recovery.c revokes them.
 */
int
seq_revoke_user(int64_t user, int all)
{
	struct sequence	*q, *nq;
	int		 n = 0;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if (!q->recovery && (all || q->user_id == user)) {
			seq_remove(q);
			n++;
		}
	}
	return n;
}

/*
 * A restarted sniffer gets the whole live set, in one commit: its first,
 * which arms every sequence, those whose answer still waits too.
 */
void
seq_push_all(void)
{
	struct sequence	*q;
	uint32_t	 c = env->sniff_commits + 1;	/* seq_commit() below */

	for (q = env->seqs; q != NULL; q = q->next) {
		child_send(PROC_SNIFFER, IMSG_SEQ_ADD, -1, &q->seq,
		    sizeof(q->seq));
		q->gen = env->sniff_gen;
		q->commit = c;
	}
	(void)seq_commit();
}

void
seq_expire(time_t now)
{
	struct sequence	*q, *nq;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if (q->expires > now)
			continue;
		if (q->recovery)
			log_info("recovery sequence %u of %lld for %s expired",
			    q->seq.id, (long long)q->user_id, q->svcname);
		else
			log_info("sequence %u of %s expired", q->seq.id,
			    q->user_name);
		seq_remove(q);
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
		if (q->recovery && (i == -1 || !recovery_fits(&q->seq, i) ||
		    !policy_allowed(q->user_id, q->chat_id, i))) {
			log_warnx("recovery sequence %u of %lld for %s revoked "
			    "by the new configuration (service, right, "
			    "knock-ports, sequence-length or knock protocol)",
			    q->seq.id, (long long)q->user_id, q->svcname);
			seq_remove(q);
		} else if (i == -1 || !policy_allowed(q->user_id, q->chat_id,
		    i)) {
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
			if (q->recovery)
				log_info("recovery sequence %u of %lld "
				    "revoked: no longer allowed %s", q->seq.id,
				    (long long)q->user_id, q->svcname);
			else
				log_info("sequence %u of %s revoked: no longer "
				    "allowed %s", q->seq.id, q->user_name,
				    q->svcname);
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
		if (!q->recovery && (user == 0 || q->user_id == user))
			return q;
	return NULL;
}

/* The recovery sequences, after prev: never shown with their ports. */
const struct sequence *
seq_each_recovery(const struct sequence *prev)
{
	const struct sequence	*q;

	for (q = prev ? prev->next : env->seqs; q != NULL; q = q->next)
		if (q->recovery)
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

/*
 * seq.c: one-time sequences and the windows they open.
 *
 * A sequence is drawn with getrandom(2): distinct ports from the
 * configured range, far enough apart that their guard ranges do not
 * touch (so a sweep always trips a guard), and never on or near a
 * protected port or a port something listens on.  It is consumed by its
 * first completion.  The monitor checks a completion again before it
 * asks pks-fw to open: still live, not expired, bound address.
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

#define LISTEN_MAX	4096
#define CLOSE_RETRY	2	/* seconds before a refused close is retried */

static void	win_close(struct window *);
static void	win_send_open(struct window *);

const char *
addr_str(int af, const uint8_t *addr, char *buf, size_t len)
{
	if (inet_ntop(af, addr, buf, len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

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

/* ports in use on the host: TCP listeners and bound UDP sockets */
static size_t
listening_ports(uint16_t *out, size_t max)
{
	static const char *const files[] = {
		"/proc/net/tcp", "/proc/net/tcp6",
		"/proc/net/udp", "/proc/net/udp6"
	};
	char		 line[512];
	size_t		 i, n = 0;
	FILE		*f;

	for (i = 0; i < 4; i++) {
		if ((f = fopen(files[i], "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL && n < max) {
			unsigned int	port, st;
			char		local[64];

			if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %*s %x",
			    local, &port, &st) != 3)
				continue;
			/* tcp: LISTEN (0x0A) only; udp: every bound port */
			if (i < 2 && st != 0x0A)
				continue;
			out[n++] = port;
		}
		fclose(f);
	}
	return n;
}

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
 * Draw a sequence for service svc.  Returns NULL (logged) if the range
 * cannot hold one.
 */
static int
seq_draw(struct pks_seq *s, int svc)
{
	struct pks_conf	*conf = env->conf;
	static uint16_t	 busy[LISTEN_MAX + PKS_SERVICES_MAX];
	static size_t	 nlisten;
	static time_t	 listen_at;	/* when busy[] was read */
	size_t		 nbusy, i;
	uint32_t	 span = conf->knock_hi - conf->knock_lo + 1;
	int		 tries;

	/* /proc/net/tcp walks the whole connection hash (~10 ms on a
	 * large host): once a second is enough for a burst of draws */
	if (listen_at != time(NULL)) {
		nlisten = listening_ports(busy, LISTEN_MAX);
		listen_at = time(NULL);
	}
	nbusy = nlisten;
	for (i = 0; i < (size_t)conf->nservices; i++)
		busy[nbusy++] = conf->services[i].port;

	s->len = conf->seq_len;
	s->proto = conf->services[svc].knock_proto;
	for (i = 0; i < s->len; i++) {
		for (tries = 0; tries < 10000; tries++) {
			uint16_t p = conf->knock_lo + rnd_uniform(span);

			if (too_close(p, busy, nbusy, PKS_GUARD) ||
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
			explicit_bzero(s, sizeof(*s));
			free(s);
			return;
		}
}

/*
 * A new sequence for user on service svc, optionally bound to an
 * address.  It replaces the user's previous one for that service.
 */
struct sequence *
seq_generate(int svc, int64_t user, int64_t chat, const char *name, int af,
    const uint8_t *addr)
{
	struct sequence	*s, *q, *nq;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if (q->user_id == user && q->service == svc)
			seq_remove(q);
	}
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
	do {
		s->seq.id = ++env->next_seq_id;
	} while (s->seq.id == 0 || seq_find(s->seq.id) != NULL);
	if (af != 0) {
		s->seq.bound_af = af;
		memcpy(s->seq.bound_addr, addr, af == AF_INET ? 4 : 16);
	}
	s->service = svc;
	snprintf(s->svcname, sizeof(s->svcname), "%s",
	    env->conf->services[svc].name);
	s->user_id = user;
	s->chat_id = chat;
	snprintf(s->user_name, sizeof(s->user_name), "%s", name);
	s->expires = time(NULL) + env->conf->seq_lifetime;
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

/* the earliest time something must happen, 0 if nothing waits */
time_t
seq_next_expiry(void)
{
	struct sequence	*q;
	struct window	*w;
	time_t		 t = 0, g;

	for (q = env->seqs; q != NULL; q = q->next)
		if (t == 0 || q->expires < t)
			t = q->expires;
	for (w = env->windows; w != NULL; w = w->next) {
		if (w->open && (t == 0 || w->expires < t))
			t = w->expires;
		if (w->retry_at != 0 && (t == 0 || w->retry_at < t))
			t = w->retry_at;
	}
	if ((g = admin_next_expiry()) != 0 && (t == 0 || g < t))
		t = g;		/* a grant that ends */
	return t;
}

/*
 * After a reload: a sequence whose service is gone, or whose owner lost
 * the right to it, dies; a window whose service is gone closes.
 */
void
seq_reconf(void)
{
	struct sequence	*q, *nq;
	struct window	*w;
	int		 i;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		i = conf_service_index(env->conf, q->svcname);
		if (i == -1 || !bot_allowed(q->user_id, q->chat_id, i)) {
			log_info("sequence %u of %s revoked by the new "
			    "configuration", q->seq.id, q->user_name);
			seq_remove(q);
		} else
			q->service = i;
	}
	for (w = env->windows; w != NULL; w = w->next) {
		i = conf_service_index(env->conf, w->svcname);
		if (i == -1 || env->conf->services[i].port != w->w.port ||
		    env->conf->services[i].proto != w->w.proto)
			win_close(w);
		else
			w->service = i;
	}
}

static struct window *
win_find(int af, const uint8_t *addr, int proto, uint16_t port)
{
	struct window	*w;
	size_t		 alen = af == AF_INET ? 4 : 16;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->w.af == af && w->w.proto == proto &&
		    w->w.port == port && memcmp(w->w.addr, addr, alen) == 0)
			return w;
	return NULL;
}

/*
 * The sniffer says a sequence was knocked.  Check it again: the
 * sniffer parses hostile packets and is trusted with nothing.
 */
void
seq_knock_done(const struct pks_knock *k)
{
	struct sequence		*s;
	struct window		*w;
	struct conf_service	*svc;
	char			 a[INET6_ADDRSTRLEN];
	size_t			 alen;

	if (k->af != AF_INET && k->af != AF_INET6) {
		child_kill(PROC_SNIFFER, "knock with a bad address family");
		return;
	}
	alen = k->af == AF_INET ? 4 : 16;
	addr_str(k->af, k->addr, a, sizeof(a));
	if ((s = seq_find(k->seq_id)) == NULL) {
		log_info("knock from %s for a sequence that is not live", a);
		return;
	}
	if (s->expires <= time(NULL)) {
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
	if (admin_locked()) {
		log_warnx("knock from %s for sequence %u refused: locked "
		    "down", a, s->seq.id);
		seq_remove(s);
		return;
	}
	svc = &env->conf->services[s->service];
	log_info("knock completed from %s: sequence %u of %s for %s", a,
	    s->seq.id, s->user_name, svc->name);

	if ((w = win_find(k->af, k->addr, svc->proto, svc->port)) == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			log_warn("window");
			seq_remove(s);
			return;
		}
		do {
			w->w.id = ++env->next_win_id;
		} while (w->w.id == 0);
		w->w.af = k->af;
		w->w.proto = svc->proto;
		w->w.port = svc->port;
		memcpy(w->w.addr, k->addr, alen);
		w->next = env->windows;
		env->windows = w;
	}
	/* the same address knocking again extends its window */
	w->service = s->service;
	memcpy(w->svcname, s->svcname, sizeof(w->svcname));
	w->user_id = s->user_id;
	memcpy(w->user_name, s->user_name, sizeof(w->user_name));
	w->expires = time(NULL) + svc->open_for;
	win_send_open(w);
	if (w->open)
		log_info("window for %s on %s extended", a, svc->name);
	seq_remove(s);		/* one-time */
}

/* open w in pks-fw, or tell it the window's new end */
static void
win_send_open(struct window *w)
{
	time_t	now = time(NULL);

	w->w.timeout = w->expires > now ? w->expires - now : 1;
	child_send(PROC_FW, IMSG_FW_OPEN, -1, &w->w, sizeof(w->w));
}

static void
win_free(struct window *w)
{
	struct window	**pp;

	for (pp = &env->windows; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			free(w);
			return;
		}
}

static struct window *
win_by_id(uint32_t id)
{
	struct window	*w;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->w.id == id)
			return w;
	return NULL;
}

static void
win_notify(struct window *w, const char *what)
{
	char		 a[INET6_ADDRSTRLEN], t[16];
	struct tm	 tm;
	const char	*svc = w->svcname;

	addr_str(w->w.af, w->w.addr, a, sizeof(a));
	if (strcmp(what, "open") == 0) {
		gmtime_r(&w->expires, &tm);
		strftime(t, sizeof(t), "%H:%M:%S UTC", &tm);
		log_info("window opened: %s for %s (%s) until %s", svc, a,
		    w->user_name, t);
		bot_notify(w->user_id, "%s open for %s until %s", svc, a, t);
		admin_window_opened(w);
	} else {
		log_info("window closed: %s for %s (%s)", svc, a,
		    w->user_name);
		bot_notify(w->user_id, "%s closed for %s", svc, a);
	}
}

void
win_fw_result(const struct pks_fw_result *r)
{
	struct window	*w;

	if (r->type == IMSG_FW_CLOSE_ALL) {
		if (r->error)
			log_warnx("pks-fw could not close all windows: %s",
			    strerror(r->error));
		else {
			while (env->windows != NULL)
				win_free(env->windows);
		}
		return;
	}
	if ((w = win_by_id(r->id)) == NULL)
		return;		/* closed meanwhile */
	if (r->type == IMSG_FW_OPEN) {
		if (r->error) {
			log_warnx("pks-fw could not open window %u: %s",
			    r->id, strerror(r->error));
			if (w->open)	/* an extension: fail closed */
				win_close(w);
			else
				win_free(w);
			return;
		}
		w->open = 1;
		if (!w->notified) {
			w->notified = 1;
			win_notify(w, "open");
		}
	} else if (r->type == IMSG_FW_CLOSE) {
		if (r->error && r->error != ENOENT) {
			/* pks-fw kept the rule: the window stays "closing"
			 * and the close is asked again shortly */
			log_warnx("pks-fw could not close window %u: %s; "
			    "retrying", r->id, strerror(r->error));
			w->retry_at = time(NULL) + CLOSE_RETRY;
			return;
		}
		win_notify(w, "close");
		win_free(w);
	}
}

static void
win_close(struct window *w)
{
	if (w->expires == 0)
		return;		/* close already asked */
	w->expires = 0;
	w->open = 0;
	child_send(PROC_FW, IMSG_FW_CLOSE, -1, &w->w, sizeof(w->w));
}

void
win_expire(time_t now)
{
	struct window	*w;

	for (w = env->windows; w != NULL; w = w->next) {
		if (w->expires != 0 && w->expires <= now)
			win_close(w);
		else if (w->expires == 0 && w->retry_at != 0 &&
		    w->retry_at <= now) {
			w->retry_at = 0;
			child_send(PROC_FW, IMSG_FW_CLOSE, -1, &w->w,
			    sizeof(w->w));
		}
	}
}

/*
 * A restarted pks-fw starts from an empty chain and rebuilds it from
 * this: windows still in force are opened again, those whose close was
 * pending are gone with the old chain.
 */
void
win_push_all(void)
{
	struct window	*w, *nw;

	for (w = env->windows; w != NULL; w = nw) {
		nw = w->next;
		if (w->expires != 0) {
			w->open = 0;
			win_send_open(w);
		} else {
			win_notify(w, "close");
			win_free(w);
		}
	}
}

void
win_close_all(void)
{
	if (env->windows != NULL)
		child_send(PROC_FW, IMSG_FW_CLOSE_ALL, -1, NULL, 0);
}

int
win_close_addr(int af, const uint8_t *addr)
{
	struct window	*w;
	size_t		 alen = af == AF_INET ? 4 : 16;
	int		 n = 0;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->w.af == af && memcmp(w->w.addr, addr, alen) == 0 &&
		    w->expires != 0) {
			win_close(w);
			n++;
		}
	return n;
}

/*
 * fleet.c: the fleet origin (issue 17).  pks-fleet relays; this decides.
 *
 * On the front, a Telegram /generate HOST [SERVICE] that names another
 * host of the fleet is not handled here: it is forwarded, with an id and
 * an expiry, and the host's answer (words and styles, never markup) is
 * rendered by the Telegram origin like a local one, under the host's
 * name.  A host that has not answered when the fleet timeout ends gets
 * "HOST did not answer", and a late answer is dropped: nothing is
 * answered twice.  The outcome of a private delivery goes back to the
 * host, which keeps or revokes its sequence as it would locally.
 *
 * On a host, a request from the front is one more origin next to
 * Telegram: the same rules, the same replies.  A request seen before or
 * past its expiry (a replay from the broker) is refused with a log line
 * and changes nothing.  Answers, window notices and rewritten sequence
 * messages go back through the broker for the front to deliver.
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

#define HOSTS_MAX	1024	/* hosts a front remembers */
#define SEEN_MAX	4096	/* request ids a host remembers */
#define SENT_WAIT	60	/* seconds a front waits for a delivery */
#define OWNED_MAX	4096	/* messages sent for hosts, that they may
				   rewrite (the oldest forgotten first) */
#define HOST_GRACE	60	/* seconds past a request's expiry a host
				   waits for the front's delivery outcome */

/* a front: a request forwarded to a host */
enum fwd_state {
	FWD_ASKED,		/* waiting for the host's answer */
	FWD_SENDING,		/* answered in private: waiting for the
				   delivery outcome (TG_SENT) */
	FWD_AFTER		/* done: one more answer may follow (a
				   group hears "Sent you ... in private") */
};

struct gather;

struct forward {
	struct forward	*next;
	struct gather	*gather;	/* a /status over every host, or NULL */
	uint64_t	 id;
	char		 host[PKS_NAME_MAX];
	struct request	 req;		/* the Telegram request */
	uint8_t		 mac[PKS_FLEET_MAC_LEN];	/* the request's, as
					   sent: the answer names it */
	enum fwd_state	 state;
	time_t		 deadline;	/* monotonic */
	int		 orphan;	/* pks-telegram restarted since: the
					   update comes again, this answer
					   is not delivered */
};

/* a front: a /status asked of every host, answered as one message */
struct gather {
	struct request	 req;		/* the Telegram request */
	uint32_t	 cmd;		/* enum pks_fleet_cmd */
	struct reply	 out;
	int		 waiting;	/* hosts still to answer */
	int		 asked;		/* hosts asked */
	int		 parts;		/* hosts with something to say */
	int		 silent;	/* hosts that did not answer */
	char		(*offered)[PKS_NAME_MAX];	/* a picker's: the
					   hosts that named a service, one
					   room per host asked */
	size_t		 noffered;
	int		 orphan;	/* pks-telegram restarted since: as
					   struct forward's */
};

/* a front: a host that said hello */
struct fhost {
	char		 name[PKS_NAME_MAX];
	int64_t		 said;		/* wall date in its hello */
	time_t		 seen;		/* monotonic, last message */
};

/* a host: a request of the front being handled */
struct local {
	struct local	*next;
	uint32_t	 lid;		/* struct request's id */
	uint64_t	 id;		/* the front's */
	int64_t		 user;		/* for whom, where: the answers name */
	int64_t		 chat;		/* them, and the request's MAC */
	uint8_t		 mac[PKS_FLEET_MAC_LEN];
	time_t		 deadline;	/* monotonic: revoked if undelivered */
};

/* a host: an id seen, until its expiry */
struct seen {
	uint64_t	 id;
	int64_t		 expires;	/* wall */
};

static struct pks_fleet_state	 link_state;
static int			 link_known;
static struct forward		*forwards;
static uint64_t			 next_id;
static struct fhost		 hosts[HOSTS_MAX];
static size_t			 nhosts;
static struct local		*locals;
static uint32_t			 next_lid;
static struct seen		 seen[SEEN_MAX];
static size_t			 nseen;

/* a front: a host's answer delivered in private, its to rewrite */
static struct owned {
	char		host[PKS_NAME_MAX];
	int64_t		chat;
	int64_t		msg;
}				 owned[OWNED_MAX];
static size_t			 nowned;	/* all time: next slot */

static const struct origin	 fleet_origin;

/* what a front forwards, and what a host makes of it */
static const struct {
	uint32_t	 tg;		/* enum pks_tg_cmd */
	uint32_t	 fleet;		/* enum pks_fleet_cmd */
	enum req_cmd	 req;
} fcmds[] = {
	{ TG_CMD_GENERATE,	FLEET_CMD_GENERATE,	REQ_GENERATE },
	{ TG_CMD_STATUS,	FLEET_CMD_STATUS,	REQ_STATUS },
	{ TG_CMD_WINDOWS,	FLEET_CMD_WINDOWS,	REQ_WINDOWS },
	{ TG_CMD_USERS,		FLEET_CMD_USERS,	REQ_USERS },
	{ TG_CMD_LOCKDOWN,	FLEET_CMD_LOCKDOWN,	REQ_LOCKDOWN },
	{ TG_CMD_UNLOCK,	FLEET_CMD_UNLOCK,	REQ_UNLOCK },
	{ TG_CMD_CLOSE,		FLEET_CMD_CLOSE,	REQ_CLOSE },
	{ TG_CMD_GRANT,		FLEET_CMD_GRANT,	REQ_GRANT },
	{ TG_CMD_UNGRANT,	FLEET_CMD_UNGRANT,	REQ_UNGRANT },
	{ TG_CMD_REVOKE_USER,	FLEET_CMD_REVOKE_USER,	REQ_REVOKE_USER },
	{ TG_CMD_REVOKE,	FLEET_CMD_REVOKE,	REQ_REVOKE },
	{ TG_CMD_RECOVERY,	FLEET_CMD_RECOVERY,	REQ_RECOVERY },
};
#define NFCMDS	(sizeof(fcmds) / sizeof(fcmds[0]))

static void	words_add(struct reply *, const char *, const struct reply *);
static void	gather_add(struct gather *, const char *,
		    const struct reply *);
static void	gather_line(struct gather *, const char *);
static void	gather_end(struct gather *);
static int	fwd_sendv(const struct request *, const char *, uint32_t,
		    struct gather *);
static int	send_words(uint32_t, const struct local *, int64_t, int64_t,
		    const struct reply *);
static void	fwd_undelivered(struct forward *);
static void	fwd_outcome(struct forward *, const struct pks_tg_sent *);

static int
is_front(void)
{
	return env->conf->has_fleet &&
	    env->conf->fleet_role == PKS_FLEET_FRONT;
}

/* ------------------------------------------------------------- front */

static struct fhost *
host_find(const char *name)
{
	size_t	i;

	for (i = 0; i < nhosts; i++)
		if (strcmp(hosts[i].name, name) == 0)
			return &hosts[i];
	return NULL;
}

#ifdef PKS_TESTHOOKS
int	fleet_test_hello_s;	/* PKS_TEST_HELLO_S; 0: none */
#define HELLO_EVERY	(fleet_test_hello_s > 0 ? fleet_test_hello_s : \
			    PKS_FLEET_HELLO_EVERY)
#else
#define HELLO_EVERY	PKS_FLEET_HELLO_EVERY
#endif

/* seconds without a word from a host after which it is silent: it
 * missed PKS_FLEET_SILENT hellos */
static time_t
silent_after(void)
{
	return PKS_FLEET_SILENT * HELLO_EVERY;
}

static int
host_silent(const struct fhost *h)
{
	return mono_now() - h->seen > silent_after();
}

/*
 * A word from a host: now, or (said) a hello it dated then, which may be
 * one the broker kept (retained) from a host gone since: it is reckoned
 * from that date, so that a host long gone is not heard "0 s ago" by a
 * front that just started.
 */
static void
host_seen(const char *name, int64_t said)
{
	struct fhost	*h;
	size_t		 i;
	time_t		 at = mono_now();
	int		 fresh = 0;

	if ((h = host_find(name)) == NULL) {
		if (nhosts == HOSTS_MAX) {
			log_warnx("fleet: over %d hosts, %s is not "
			    "remembered", HOSTS_MAX, name);
			return;
		}
		/* kept in name order: /hosts and the picker list them so */
		for (i = 0; i < nhosts && strcmp(hosts[i].name, name) < 0; i++)
			;
		memmove(&hosts[i + 1], &hosts[i], (nhosts - i) *
		    sizeof(hosts[0]));
		nhosts++;
		h = &hosts[i];
		memset(h, 0, sizeof(*h));
		memcpy(h->name, name, sizeof(h->name));
		log_info("fleet: host %s is there", name);
		fresh = 1;
	}
	if (said != 0) {
		h->said = said;
		if (said < time(NULL))
			at -= time(NULL) - said;
	}
	if (fresh || at > h->seen)
		h->seen = at;
}

static uint64_t
fwd_id(void)
{
	if (next_id == 0 || next_id >= PKS_FLEET_ID_MAX - 1) {
		if (getrandom(&next_id, sizeof(next_id), 0) !=
		    sizeof(next_id))
			fatal("getrandom");
		/* room for 2^32 requests after the start */
		next_id = next_id % (PKS_FLEET_ID_MAX / 2) + 1;
	}
	return next_id++;
}

static void
fwd_free(struct forward *f)
{
	struct forward	**pp;

	for (pp = &forwards; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	free(f);
}

static void
front_say(const struct request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* a one-line answer of the front itself; the request is done */
static void
front_say(const struct request *r, const char *fmt, ...)
{
	struct reply	rp;
	va_list		ap;

	reply_init(&rp);
	va_start(ap, fmt);
	text_vadd(&rp.t, fmt, ap);
	va_end(ap);
	telegram_origin.reply(r, &rp);
	telegram_origin.done(r);
}

/* r asked of host (cmd, service arg); -1: no memory */
static int
fwd_send(const struct request *r, const char *host, uint32_t cmd,
    const char *arg, struct gather *g)
{
	struct request	rr = *r;

	memset(rr.argv, 0, sizeof(rr.argv));
	snprintf(rr.argv[0], sizeof(rr.argv[0]), "%s", arg);
	rr.nargs = 1;
	return fwd_sendv(&rr, host, cmd, g);
}

/* r (its argv, nargs words) asked of host as cmd; -1: no memory */
static int
fwd_sendv(const struct request *r, const char *host, uint32_t cmd,
    struct gather *g)
{
	uint32_t	i;
	struct pks_fleet_req	 fr;
	struct forward		*f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		log_warn("fleet");
		return -1;
	}
	f->id = fwd_id();
	f->gather = g;
	memcpy(f->host, host, sizeof(f->host));
	f->req = *r;
	f->state = FWD_ASKED;
	/* past the expiry by a whole second of the wall clock, whatever
	 * the fractions: a host refuses it by the time we say it did not
	 * answer */
	f->deadline = mono_now() + env->conf->fleet_timeout + 2;
	f->next = forwards;
	forwards = f;

	memset(&fr, 0, sizeof(fr));
	fr.id = f->id;
	fr.issued = wall_ms();
	fr.expires = time(NULL) + env->conf->fleet_timeout;
	memcpy(fr.host, host, sizeof(fr.host));
	fr.cmd = cmd;
	fr.private = r->private;
	fr.age = r->age;
	fr.user = r->user;
	fr.chat = r->chat;
	memcpy(fr.user_name, r->user_name, sizeof(fr.user_name));
	for (i = 0; i < PKS_ARGS_MAX; i++)
		memcpy(fr.argv[i], r->argv[i], sizeof(fr.argv[i]));
	fr.nargs = r->nargs > PKS_ARGS_MAX ? PKS_ARGS_MAX : r->nargs;
	if (fleet_auth_sign_req(&fr) == -1)
		log_warnx("fleet: no secret-file shared with %s: request %llu "
		    "will be refused", host, (unsigned long long)f->id);
	memcpy(f->mac, fr.mac, sizeof(f->mac));
	log_info("fleet: command %u%s%s from user %lld sent to %s as request "
	    "%llu", cmd, r->argv[0][0] != '\0' ? " " : "", r->argv[0],
	    (long long)r->user, host,
	    (unsigned long long)f->id);
	child_send(PROC_FLEET, IMSG_FLEET_REQ, -1, &fr, sizeof(fr));
	return 0;
}

/* the gathering /status: this host's answer goes into it */
static struct gather	*gathering;

static int
ga_reply(const struct request *r, const struct reply *rp)
{
	(void)r;
	if (gathering != NULL)
		gather_add(gathering, env->conf->fleet_name, rp);
	return 0;
}

static void
ga_none(const struct request *r)
{
	(void)r;
}

/* an admin action on the front (/lockdown all): its notify users hear
 * of it as of a local one */
static void
ga_notify(int64_t except, const struct reply *rp)
{
	telegram_origin.notify(except, rp);
}

/* a status or an admin command makes no window or sequence */

static void
ga_window(const struct window *w, enum win_event ev)
{
	(void)w;
	(void)ev;
}

static void
ga_seq_gone(const struct sequence *q)
{
	(void)q;
}

static const struct origin gather_origin = {
	.name = "fleet-status",
	.reply = ga_reply,
	.done = ga_none,
	.notify = ga_notify,
	.window = ga_window,
	.seq_gone = ga_seq_gone
};

/*
 * /status (or an admin command for all) on the front: this host's
 * answer, and every host's heard from, in one message once all answered
 * or the time is up.
 */
static void
fleet_gather(const struct request *tr, uint32_t cmd)
{
	struct gather	*g;
	struct request	 r = *tr, ask = *tr;
	size_t		 i;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		log_warn("fleet");
		request_handle(tr);
		return;
	}
	g->req = *tr;
	g->cmd = cmd;
	reply_init(&g->out);
	r.origin = &gather_origin;
	/* asked in a group, a status is gathered as in private, and the
	 * whole of it goes to the person in private (gather_end) */
	if (cmd == FLEET_CMD_STATUS) {
		r.private = ask.private = 1;
		r.chat = ask.chat = r.user;
	}
	gathering = g;
	request_handle(&r);
	gathering = NULL;
	if (!link_state.connected && nhosts > 0)
		gather_line(g, "\nThe fleet's message broker cannot be "
		    "reached right now: no other host was asked.");
	g->waiting = 1;		/* until every host is asked */
	for (i = 0; link_state.connected && i < nhosts; i++)
		if (fwd_sendv(&ask, hosts[i].name, cmd, g) == 0)
			g->waiting++;
	g->asked = g->waiting - 1;
	if (--g->waiting == 0)
		gather_end(g);
}

/* an admin command whose first word names a host or "all": its fleet
 * command, else 0 */
static uint32_t
admin_cmd(const struct pks_tg_req *tr)
{
	size_t	i;

	/* /revoke all and /revoke USER_ID stay here: a host is named
	 * before the target, /revoke web2 all */
	if (tr->nargs == 0 || tr->nargs > PKS_ARGS_MAX ||
	    (tr->cmd == TG_CMD_REVOKE_USER && tr->nargs < 2) ||
	    (strcmp(tr->argv[0], "all") != 0 &&
	    strcmp(tr->argv[0], env->conf->fleet_name) != 0 &&
	    host_find(tr->argv[0]) == NULL))
		return 0;
	for (i = 0; i < NFCMDS; i++)
		if (fcmds[i].tg == tr->cmd && admin_is_command(fcmds[i].req))
			return fcmds[i].fleet;
	return 0;
}

/*
 * An admin command for the fleet whose first word looks like a host's
 * name but names none (nor "all", this host, a service here or a user
 * id): a typo, that must not act here instead (/windows web9).
 */
static int
no_such_host(const struct pks_tg_req *tr)
{
	const char	*w = tr->argv[0];
	size_t		 i;

	for (i = 0; i < NFCMDS; i++)
		if (fcmds[i].tg == tr->cmd && admin_is_command(fcmds[i].req))
			break;
	/* /recovery revoke ID|all is the front's own */
	return i < NFCMDS && tr->nargs > 0 && conf_valid_name(w) &&
	    strspn(w, "0123456789") != strlen(w) && strcmp(w, "all") != 0 &&
	    (tr->cmd != TG_CMD_RECOVERY || strcmp(w, "revoke") != 0) &&
	    strcmp(w, env->conf->fleet_name) != 0 && host_find(w) == NULL &&
	    conf_service_index(env->conf, w) == -1;
}

/* /lockdown all, /windows web2: the first word says where */
static int
fleet_admin(const struct request *tr, uint32_t cmd)
{
	struct request	r = *tr;
	char		where[sizeof(tr->argv[0])];
	uint32_t	i;

	snprintf(where, sizeof(where), "%s", r.argv[0]);
	for (i = 0; i + 1 < PKS_ARGS_MAX; i++)
		memcpy(r.argv[i], r.argv[i + 1], sizeof(r.argv[i]));
	memset(r.argv[PKS_ARGS_MAX - 1], 0, sizeof(r.argv[0]));
	r.nargs--;
	if (strcmp(where, env->conf->fleet_name) == 0) {
		request_handle(&r);
		return 1;
	}
	/*
	 * /grant web2 SERVICE as a reply to someone's message: a request
	 * to a host carries no reply, so the person replied to goes as the
	 * user id (the host's answer names the id, not the name).
	 */
	if ((r.cmd == REQ_GRANT || r.cmd == REQ_UNGRANT) && r.reply_user > 0 &&
	    r.nargs > 0 && r.nargs < PKS_ARGS_MAX &&
	    strspn(r.argv[0], "0123456789") != strlen(r.argv[0])) {
		for (i = r.nargs; i > 0; i--)
			memcpy(r.argv[i], r.argv[i - 1], sizeof(r.argv[i]));
		snprintf(r.argv[0], sizeof(r.argv[0]), "%lld",
		    (long long)r.reply_user);
		r.nargs++;
	}
	if (strcmp(where, "all") == 0)
		fleet_gather(&r, cmd);
	else if (!link_state.connected)
		front_say(&r, "The fleet's message broker cannot be reached "
		    "right now, so %s cannot be asked. Try again later.",
		    where);
	else if (fwd_sendv(&r, where, cmd, NULL) == -1)
		front_say(&r, "No memory to ask %s right now.", where);
	return 1;
}

/* /hosts: the hosts of the fleet, when each was last heard from */
static void
fleet_hosts(const struct request *r)
{
	struct reply	rp;
	time_t		now = mono_now();
	size_t		i;

	reply_init(&rp);
	reply_add(&rp, "This bot serves %s", env->conf->fleet_name);
	if (nhosts == 0)
		reply_add(&rp, " only: no other host has been heard from.");
	else
		reply_add(&rp, " and %zu more host%s (/generate HOST "
		    "[SERVICE]):", nhosts, nhosts == 1 ? "" : "s");
	for (i = 0; i < nhosts; i++) {
		reply_add(&rp, "\n");
		reply_style(&rp, STYLE_BOLD);
		reply_add(&rp, "%s", hosts[i].name);
		reply_style(&rp, STYLE_PLAIN);
		reply_add(&rp, ": %slast heard from %lld s ago",
		    host_silent(&hosts[i]) ? "silent, " : "",
		    (long long)(now - hosts[i].seen));
	}
	if (!link_state.connected)
		reply_add(&rp, "\nThe message broker cannot be reached right "
		    "now.");
	telegram_origin.reply(r, &rp);
	telegram_origin.done(r);
}

/* a host the picker of hosts may offer: /generate NAME with a service
 * of ours by that name means the service */
static int
pickable(const struct fhost *h)
{
	return conf_service_index(env->conf, h->name) == -1;
}

/* 1 if host named a service for g, a picker of hosts */
static int
offered(const struct gather *g, const char *host)
{
	size_t	i;

	for (i = 0; i < g->noffered; i++)
		if (strcmp(g->offered[i], host) == 0)
			return 1;
	return 0;
}

/*
 * The picker of hosts: this one first if the person may open something
 * here, then the hosts that said they may (g: the gathered answers, in
 * name order; NULL: the broker is down, none was asked).  With nothing
 * but this host to offer, and every host asked answering, the front
 * answers as a single host.
 */
static void
picker_show(const struct request *r, const struct gather *g)
{
	struct reply	rp;
	struct text	mine;
	size_t		i, n = 0, more = 0;
	int		here, silent = g != NULL ? g->silent : 0;

	here = request_allowed(r, &mine) > 0;
	if (g != NULL && silent == 0 && here && g->noffered == 0) {
		request_handle(r);
		return;
	}
	if (g == NULL && !here) {
		front_say(r, "The fleet's message broker cannot be reached "
		    "right now, so no other host can be asked. Try again "
		    "later.");
		return;
	}
	reply_init(&rp);
	rp.to = REPLY_CHOICE;
	if (here) {
		text_add(&rp.alt, "%s/", env->conf->fleet_name);
		n++;
	}
	for (i = 0; g != NULL && i < nhosts; i++) {
		if (!offered(g, hosts[i].name))
			continue;
		if (n == PKS_PICKER_MAX) {
			more++;
			continue;
		}
		text_add(&rp.alt, "%s%s/", n > 0 ? " " : "", hosts[i].name);
		n++;
	}
	if (n == 0) {
		log_info("refused /generate from %s (user %lld, chat %lld): "
		    "not allowed here nor on the hosts that answered",
		    r->user_name, (long long)r->user, (long long)r->chat);
		if (silent > 0)
			front_say(r, "Sorry, you are not allowed to open any "
			    "service here, nor on the hosts that answered "
			    "(%d did not: try again later).", silent);
		else
			front_say(r, "Sorry, you are not allowed to open any "
			    "service here, nor on any other host of the "
			    "fleet.");
		return;
	}
	reply_add(&rp, "Which host?");
	if (more > 0)
		reply_add(&rp, " (%zu more: /hosts lists them, /generate HOST "
		    "asks one)", more);
	if (silent > 0)
		reply_add(&rp, " (%d host%s did not answer: /hosts lists "
		    "them)", silent, silent == 1 ? "" : "s");
	if (g == NULL)
		reply_add(&rp, " The fleet's message broker cannot be reached "
		    "right now: only %s answers.", env->conf->fleet_name);
	telegram_origin.reply(r, &rp);
	telegram_origin.done(r);
}

/*
 * /generate alone, on a front that heard from other hosts: a picker of
 * the hosts where the person may open a service.  What they may open on
 * another host is that host's to say: each is asked (FLEET_CMD_SERVICES,
 * gathered like a /status), and the picker, once all answered or the
 * fleet timeout ended, shows those that named a service (picker_show).
 * A press asks that host (/generate HOST), which answers with its own
 * picker of those services.  0 if there is no other host to ask: the
 * front answers as a single host.
 */
static int
host_picker(const struct request *r)
{
	struct gather	*g;
	struct request	 ask = *r;
	size_t		 i, n = 0;

	for (i = 0; i < nhosts; i++)
		n += pickable(&hosts[i]);
	if (n == 0)
		return 0;
	if (r->age > PKS_REQ_MAX_AGE) {
		front_say(r, "That request is %u seconds old and has "
		    "expired: ask again.", r->age);
		return 1;
	}
	if (!link_state.connected) {
		picker_show(r, NULL);
		return 1;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->offered = calloc(n, sizeof(*g->offered))) == NULL) {
		log_warn("fleet");
		free(g);
		return 0;
	}
	g->req = *r;
	g->cmd = FLEET_CMD_SERVICES;
	reply_init(&g->out);
	memset(ask.argv, 0, sizeof(ask.argv));
	ask.nargs = 0;
	g->waiting = 1;		/* until every host is asked */
	for (i = 0; i < nhosts; i++) {
		if (!pickable(&hosts[i]))
			continue;
		/* one that missed its hellos would hold the picker up
		 * for the whole timeout: not asked, as not answering */
		if (host_silent(&hosts[i]))
			g->silent++;
		else if (fwd_sendv(&ask, hosts[i].name, FLEET_CMD_SERVICES,
		    g) == 0)
			g->waiting++;
	}
	g->asked = g->waiting - 1;
	if (--g->waiting == 0)
		gather_end(g);
	return 1;
}

/*
 * A host's picker of its services: each button asks that host again
 * (HOST/SERVICE), never a service of the same name here.
 */
static void
host_choices(struct text *alt, const char *host)
{
	struct text	in = *alt;
	char		name[PKS_NAME_MAX];
	size_t		i = 0, start, n = 0;

	memset(alt, 0, sizeof(*alt));
	while (i < in.len) {
		while (i < in.len && in.buf[i] == ' ')
			i++;
		for (start = i; i < in.len && in.buf[i] != ' '; i++)
			;
		if (i == start || i - start >= sizeof(name))
			continue;
		memcpy(name, in.buf + start, i - start);
		name[i - start] = '\0';
		if (conf_valid_name(name))
			text_add(alt, "%s%s/%s", n++ > 0 ? " " : "", host,
			    name);
	}
}

/*
 * A Telegram request on the front: 1 if it was the fleet's to handle
 * (forwarded, or answered here about the fleet), 0 if the monitor
 * handles it as a local one.
 */
int
fleet_tg_request(const struct pks_tg_req *tr)
{
	struct request		 r;
	uint32_t		 cmd;
	const char		*host = tr->arg1;

	if (!is_front() || tr->user_id == 0)
		return 0;
	if (tr->cmd == TG_CMD_HOSTS) {
		telegram_to_request(tr, &r);
		fleet_hosts(&r);
		return 1;
	}
	if (tr->cmd == TG_CMD_STATUS && tr->arg1[0] == '\0') {
		telegram_to_request(tr, &r);
		memset(r.argv, 0, sizeof(r.argv));
		r.nargs = 0;
		fleet_gather(&r, FLEET_CMD_STATUS);
		return 1;
	}
	if (tr->cmd == TG_CMD_GENERATE && tr->arg1[0] == '\0') {
		telegram_to_request(tr, &r);
		return host_picker(&r);
	}
	if ((cmd = admin_cmd(tr)) != 0) {
		telegram_to_request(tr, &r);
		return fleet_admin(&r, cmd);
	}
	if (no_such_host(tr)) {
		telegram_to_request(tr, &r);
		front_say(&r, "%s is neither a host of the fleet nor a service "
		    "here: /hosts lists the hosts.", tr->argv[0]);
		return 1;
	}
	if ((tr->cmd != TG_CMD_GENERATE && tr->cmd != TG_CMD_REVOKE) ||
	    host[0] == '\0' || conf_service_index(env->conf, host) != -1)
		return 0;
	telegram_to_request(tr, &r);
	cmd = tr->cmd == TG_CMD_REVOKE ? FLEET_CMD_REVOKE : FLEET_CMD_GENERATE;
	if (strcmp(host, env->conf->fleet_name) == 0) {
		/* this host by name: /generate ME [SERVICE], /revoke ME */
		memcpy(r.argv[0], tr->arg2, sizeof(r.argv[0]));
		memset(r.argv[1], 0, sizeof(r.argv[1]));
		request_handle(&r);
		return 1;
	}
	if (host_find(host) == NULL) {
		front_say(&r, "%s is neither a service here nor a host of "
		    "the fleet.", host);
		return 1;
	}
	if (!link_state.connected) {
		log_info("fleet: /%s for %s from user %lld while the "
		    "broker is unreachable", cmd == FLEET_CMD_REVOKE ?
		    "revoke" : "generate", host, (long long)r.user);
		front_say(&r, "The fleet's message broker cannot be reached "
		    "right now, so %s cannot be asked: %s Try again later.",
		    host, cmd == FLEET_CMD_REVOKE ? "nothing was revoked "
		    "there." : "nothing was issued.");
		return 1;
	}
	if (r.age > env->conf->fleet_timeout + PKS_FLEET_TTL_MAX) {
		front_say(&r, "That request is %u seconds old and has "
		    "expired: ask again.", r.age);
		return 1;
	}
	if (fwd_send(&r, host, cmd, tr->arg2, NULL) == -1)
		front_say(&r, "No memory to ask %s right now.", host);
	return 1;
}

/* the request of that id, whichever host it was asked of (the answer
 * says which host it came from: fleet_auth_bound() compares) */
static struct forward *
fwd_find(uint64_t id)
{
	struct forward	*f;

	for (f = forwards; f != NULL; f = f->next)
		if (f->id == id)
			return f;
	return NULL;
}

/* dst += "\nHOST: " and the words of src, their styles kept */
static void
words_add(struct reply *dst, const char *host, const struct reply *src)
{
	size_t	i, shift;

	if (dst->t.len > 0)
		reply_add(dst, "\n");
	reply_style(dst, STYLE_BOLD);
	reply_add(dst, "%s", host);
	reply_style(dst, STYLE_PLAIN);
	reply_add(dst, ": ");
	shift = dst->t.len;
	for (i = 0; i < src->nmark && dst->nmark < REPLY_MARKS; i++) {
		dst->mark[dst->nmark].off = src->mark[i].off + shift;
		dst->mark[dst->nmark++].style = src->mark[i].style;
	}
	text_addn(&dst->t, src->t.buf, src->t.len);
	/* what follows is plain again */
	reply_style(dst, STYLE_PLAIN);
}

/* a host's words as it sent them: text, styles, where, second text */
static void
host_src(struct reply *src, const struct pks_fleet_reply *fr,
    const char *text, const char *alt)
{
	size_t	i;

	reply_init(src);
	src->t.max = PKS_FLEET_TEXT_MAX;
	src->to = fr->to;
	/* whole, up to a text's size (dispatch.c): none of the room that
	 * text_addn() keeps for "... and N more lines", which the host's
	 * own end already says; it goes out under the host's name, in
	 * slices if need be (words_lines) */
	memcpy(src->t.buf, text, fr->textlen);
	src->t.len = fr->textlen;
	src->t.buf[src->t.len] = '\0';
	for (i = 0; i < fr->nmark && i < REPLY_MARKS; i++) {
		src->mark[i].off = fr->mark[i].off;
		src->mark[i].style = fr->mark[i].style;
	}
	src->nmark = i;
	text_addn(&src->alt, alt, fr->altlen);
}

/* words of a host, under its name: "web2: ..." */
static void
host_words(struct reply *rp, const struct pks_fleet_reply *fr,
    const char *text, const char *alt)
{
	struct reply	src;

	host_src(&src, fr, text, alt);
	reply_init(rp);
	rp->to = src.to;
	rp->alt = src.alt;
	words_add(rp, fr->host, &src);
}

/* 1 if host's words rp, after what out holds, make one message that
 * Telegram takes whole: every word and every style, as HTML */
static int
words_fit(const struct reply *out, const char *host, const struct reply *rp)
{
	struct reply	t;

	/* words_add's own: bold, plain, plain; words that did not fit
	 * where they are (a slice of a host's: reply_slice) do not here */
	if (out->nmark + rp->nmark + 3 > REPLY_MARKS || rp->t.full)
		return 0;
	t = *out;
	words_add(&t, host, rp);
	return reply_fits(&t, 0);
}

/*
 * out, the first part of a long answer to req, as a message of its own:
 * more follows.  One for the person in private (to_person) goes there
 * as a message of its own; the last part goes through the request, which
 * falls back to a hint in a group (the delivery of that one is the
 * answer's).  out starts again, empty, going where it went.
 */
static void
piece_flush(const struct request *req, int to_person, struct reply *out)
{
	enum reply_to	 to = out->to;
	struct text	 alt = out->alt;

	if (to_person)
		telegram_message(req->user, out);
	else
		telegram_origin.reply(req, out);
	reply_init(out);
	out->to = to;
	out->alt = alt;
}

/* a /status asked in a group goes to the person (fleet_gather) */
static int
gather_to_person(const struct gather *g)
{
	return g->cmd == FLEET_CMD_STATUS && !g->req.private;
}

static void
gather_flush(struct gather *g)
{
	piece_flush(&g->req, gather_to_person(g), &g->out);
}

/* a line of the front's own ("\nNothing of yours ..."), whole */
static void
gather_line(struct gather *g, const char *line)
{
	struct reply	t = g->out;

	reply_add(&t, "%s", line);
	if (g->out.t.len > 0 && !reply_fits(&t, 0))
		gather_flush(g);
	reply_add(&g->out, "%s", line);
}

/* bytes s..e of rp's words, with their styles */
static void
reply_slice(const struct reply *rp, size_t s, size_t e, struct reply *out)
{
	size_t	i;

	reply_init(out);
	out->to = rp->to;
	out->alt = rp->alt;
	for (i = 0; i < rp->nmark && rp->mark[i].off <= s; i++)
		;
	if (i > 0 && rp->mark[i - 1].style != STYLE_PLAIN) {
		out->mark[0].off = 0;
		out->mark[0].style = rp->mark[i - 1].style;
		out->nmark = 1;
	}
	for (; i < rp->nmark && rp->mark[i].off < e &&
	    out->nmark < REPLY_MARKS; i++) {
		out->mark[out->nmark].off = rp->mark[i].off - s;
		out->mark[out->nmark++].style = rp->mark[i].style;
	}
	text_addn(&out->t, rp->t.buf + s, e - s);
}

/*
 * host's words rp after what out holds, too long for one message under
 * its name (a host's answer may fill one: /users web2, a /status with
 * many windows): line by line, in as few messages as hold them, each
 * under its name, all but the last sent (piece_flush: req, to_person);
 * the last stays in out.  Only a single line longer than a message is
 * cut.
 */
static void
words_lines(const struct request *req, int to_person, struct reply *out,
    const char *host, const struct reply *rp)
{
	struct reply	 piece;
	const char	*nl;
	size_t		 start = 0, end, next = 0;

	while (start < rp->t.len) {
		/* the most whole lines from start that fit after out */
		for (end = start; end < rp->t.len; end = next) {
			nl = memchr(rp->t.buf + end, '\n', rp->t.len - end);
			next = nl != NULL ? (size_t)(nl - rp->t.buf) + 1 :
			    rp->t.len;
			reply_slice(rp, start, next, &piece);
			if (!words_fit(out, host, &piece))
				break;
		}
		if (end == start && out->t.len > 0) {
			piece_flush(req, to_person, out);
			continue;
		}
		if (end == start)
			end = next;	/* a line longer than a message */
		reply_slice(rp, start, end, &piece);
		words_add(out, host, &piece);
		if (piece.t.full) {
			/* that line: counted ("... and 1 more line") */
			out->t.full = 1;
			out->t.more++;
		}
		if ((start = end) < rp->t.len)
			piece_flush(req, to_person, out);
	}
}

/* every host answered, or the time is up: the last message */
static void
gather_end(struct gather *g)
{
	char	line[80];

	if (g->orphan) {
		/* its request's number is the old worker's, which may be a
		 * new one's now: the new worker asks again */
		log_info("fleet: gathered answer to request %u not "
		    "delivered: pks-telegram restarted since it was asked",
		    g->req.id);
	} else if (g->cmd == FLEET_CMD_SERVICES)
		picker_show(&g->req, g);
	if (g->orphan || g->cmd == FLEET_CMD_SERVICES) {
		free(g->offered);
		free(g);
		return;
	}
	/* a /status names only the hosts where the person has something */
	if (g->cmd == FLEET_CMD_STATUS && g->asked > 0 && g->parts == 0) {
		snprintf(line, sizeof(line), "\nNothing of yours on the %d "
		    "other host%s.", g->asked, g->asked == 1 ? "" : "s");
		gather_line(g, line);
	}
	if (g->cmd == FLEET_CMD_STATUS &&
	    request_status_private(&g->req, &g->out)) {
		/* the group hears of the delivery (request_delivered) */
		telegram_origin.reply(&g->req, &g->out);
		free(g);
		return;
	}
	telegram_origin.reply(&g->req, &g->out);
	telegram_origin.done(&g->req);
	free(g);
}

/*
 * host's words into the gathered answer.  What every host says can be
 * more than one message holds (/status with many hosts, /recovery all
 * USER_ID SERVICE 10, /users all): what is gathered goes first, as a
 * message of its own, so every host's part arrives whole (recovery
 * sequences cut off would be issued and never shown), and a part too
 * long for a message of its own goes line by line (words_lines).
 *
 * A part that goes to the person only (/users, /windows name users and
 * addresses: admin.c to_private()) makes the gathered answer go there
 * too, with its hint for a group; never the other way round.  (A
 * /status goes there as a whole, fleet_gather.)
 */
static void
gather_add(struct gather *g, const char *host, const struct reply *rp)
{
	struct reply	*out = &g->out;

	if (out->t.len > 0 && !words_fit(out, host, rp))
		gather_flush(g);
	/* before any of its words go, in one message or several */
	if (g->cmd != FLEET_CMD_STATUS && rp->to == REPLY_PRIVATE &&
	    out->to != REPLY_PRIVATE) {
		out->to = REPLY_PRIVATE;
		out->alt = rp->alt;
	}
	if (words_fit(out, host, rp))
		words_add(out, host, rp);
	else
		words_lines(&g->req, gather_to_person(g), out, host, rp);
}

/* a host's part: its answer (rp), or NULL: it did not answer */
static void
gather_part(struct forward *f, const struct reply *rp)
{
	struct gather	*g = f->gather;
	struct reply	 none;

	if (g->cmd == FLEET_CMD_SERVICES) {
		/* the picker of hosts: offered if it named a service; this
		 * picker's own, as others may be gathering at once */
		if (rp == NULL)
			g->silent++;
		else if (rp->alt.len > 0 &&
		    g->noffered < (size_t)g->asked)
			memcpy(g->offered[g->noffered++], f->host,
			    sizeof(*g->offered));
		if (--g->waiting == 0)
			gather_end(g);
		return;
	}
	if (rp == NULL) {
		reply_init(&none);
		reply_add(&none, "did not answer.");
		rp = &none;
	}
	/* no words: nothing to tell (a /status with nothing there) */
	if (rp->t.len > 0) {
		gather_add(g, f->host, rp);
		g->parts++;
	}
	if (--g->waiting == 0)
		gather_end(g);
}

/* A host's answer, checked by dispatch.c. */
void
fleet_reply(const struct pks_fleet_reply *fr, const char *text,
    const char *alt)
{
	struct forward	*f;
	struct reply	 rp, src;
	int		 sent;

	if (!is_front() || fleet_auth_words(IMSG_FLEET_REPLY, fr, text, alt) ==
	    -1)
		return;
	host_seen(fr->host, 0);
	if ((f = fwd_find(fr->id)) == NULL || f->state == FWD_SENDING) {
		log_info("fleet: dropped an answer from %s to request %llu: "
		    "unknown, late or already answered", fr->host,
		    (unsigned long long)fr->id);
		return;
	}
	/* made by that host, and for this request: its host, person,
	 * chat and MAC (a refused one leaves the request waiting) */
	if (fleet_auth_bound(fr, f->host, f->req.user, f->req.chat, f->mac) ==
	    -1)
		return;
	host_src(&src, fr, text, alt);
	if (f->orphan) {
		/* its request's number is the old worker's; the new one
		 * asks again: a sequence in it is revoked on the host */
		log_info("fleet: answer from %s to request %llu not "
		    "delivered: pks-telegram restarted since it was asked",
		    fr->host, (unsigned long long)fr->id);
		if (src.to == REPLY_PRIVATE)
			fwd_undelivered(f);
		fwd_free(f);
		return;
	}
	if (f->gather != NULL) {
		/* gather_part puts the host's name before them */
		gather_part(f, &src);
		fwd_free(f);
		return;
	}
	reply_init(&rp);
	rp.to = src.to;
	rp.alt = src.alt;
	if (rp.to == REPLY_CHOICE) {
		host_choices(&rp.alt, f->host);
		words_add(&rp, f->host, &src);
	} else if (!words_fit(&rp, f->host, &src))
		/* a host's answer that fills a message (/users web2): its
		 * first lines go first, in messages of their own */
		words_lines(&f->req, rp.to == REPLY_PRIVATE, &rp, f->host,
		    &src);
	else
		words_add(&rp, f->host, &src);
	sent = telegram_origin.reply(&f->req, &rp);
	if (f->state == FWD_AFTER) {
		fwd_free(f);
		return;
	}
	if (rp.to == REPLY_PRIVATE) {
		/* the delivery decides whether the host keeps it; an
		 * answer pks-telegram cannot take is not delivered */
		f->state = FWD_SENDING;
		f->deadline = mono_now() + SENT_WAIT;
		if (sent == -1)
			fwd_undelivered(f);
		return;
	}
	telegram_origin.done(&f->req);
	fwd_free(f);
}

/*
 * The worker's outcome of a message sent: 1 if it was an answer of a
 * host, whose outcome goes back to that host.
 */
int
fleet_tg_sent(const struct pks_tg_sent *s)
{
	struct forward	*f;

	for (f = forwards; f != NULL; f = f->next)
		if (f->req.id == s->reqid && f->state == FWD_SENDING &&
		    !f->orphan)
			break;
	if (f == NULL)
		return 0;
	fwd_outcome(f, s);
	return 1;
}

/* the outcome s of f's private answer, for its host */
static void
fwd_outcome(struct forward *f, const struct pks_tg_sent *s)
{
	struct pks_fleet_sent	 fs;

	memset(&fs, 0, sizeof(fs));
	fs.id = f->id;
	memcpy(fs.host, f->host, sizeof(fs.host));
	fs.ok = s->status == 200;
	fs.status = s->status;
	fs.where = s->chat_id;
	fs.msg_id = s->message_id;
	if (fleet_auth_sign_sent(&fs) == -1)
		log_warnx("fleet: no secret-file shared with %s", fs.host);
	if (fs.ok && fs.msg_id != 0) {
		struct owned	*o = &owned[nowned++ % OWNED_MAX];

		memcpy(o->host, f->host, sizeof(o->host));
		o->chat = fs.where;
		o->msg = fs.msg_id;
	}
	child_send(PROC_FLEET, IMSG_FLEET_SENT, -1, &fs, sizeof(fs));
	/* an orphan's number may be a new worker's request now */
	if (!f->orphan)
		telegram_origin.done(&f->req);
	f->state = FWD_AFTER;
	f->deadline = mono_now() + env->conf->fleet_timeout;
}

/* f's private answer did not reach Telegram: its host revokes what it
 * held at once, instead of waiting for an outcome that never comes */
static void
fwd_undelivered(struct forward *f)
{
	struct pks_tg_sent	s;

	memset(&s, 0, sizeof(s));
	s.reqid = f->req.id;
	fwd_outcome(f, &s);
}

/*
 * The front's pks-telegram exited: what was handed to it and not
 * delivered is lost, and it confirmed none of those updates, so the next
 * one gets them again.  A host waiting for a delivery outcome hears
 * "not delivered" now; an answer still to come is not delivered (its
 * request's number is the old worker's), nor one being gathered from
 * every host.
 */
void
fleet_tg_gone(void)
{
	struct forward	*f, *fn;

	for (f = forwards; f != NULL; f = fn) {
		fn = f->next;
		if (f->state == FWD_ASKED && f->gather != NULL)
			f->gather->orphan = 1;	/* ends, says nothing */
		else
			f->orphan = 1;
		if (f->state == FWD_SENDING)
			fwd_undelivered(f);
		if (f->state == FWD_AFTER)
			fwd_free(f);
	}
}

/* A host's message: new (msg_id 0), or new words for one it sent. */
void
fleet_notice(const struct pks_fleet_reply *fr, const char *text,
    const char *alt)
{
	struct reply	rp;
	size_t		i, n = nowned < OWNED_MAX ? nowned : OWNED_MAX;

	if (!is_front() || fleet_auth_words(IMSG_FLEET_NOTICE, fr, text, alt) ==
	    -1)
		return;
	host_seen(fr->host, 0);
	/* a host rewrites only what was sent for it, never the front's
	 * messages or another host's */
	for (i = 0; fr->msg_id != 0 && i < n; i++)
		if (owned[i].msg == fr->msg_id && owned[i].chat == fr->chat &&
		    strcmp(owned[i].host, fr->host) == 0)
			break;
	if (fr->msg_id != 0 && i == n) {
		log_warnx("fleet: %s asked to rewrite message %lld in chat "
		    "%lld, which was not sent for it (or not since the "
		    "front started): dropped", fr->host,
		    (long long)fr->msg_id, (long long)fr->chat);
		return;
	}
	host_words(&rp, fr, text, alt);
	if (fr->msg_id != 0)
		telegram_edit(fr->chat, fr->msg_id, &rp);
	else
		telegram_message(fr->chat, &rp);
}

void
fleet_hello(const struct pks_fleet_hello *h)
{
	/* hellos carry no MAC: a host is one the front shares a key with */
	if (is_front() && fleet_auth_known(h->host))
		host_seen(h->host, h->at);
	else if (is_front())
		fleet_refused("hello from %s: no host line of the fleet block "
		    "names it", h->host);
}

/* -------------------------------------------------------------- host */

static struct local *
local_find(uint32_t lid)
{
	struct local	*l;

	for (l = locals; l != NULL; l = l->next)
		if (l->lid == lid)
			return l;
	return NULL;
}

/* 0 if id may be handled now, and is remembered; -1 (logged) if not */
static int
seen_check(const struct pks_fleet_req *fr)
{
	int64_t	now = time(NULL), start;
	size_t	i, j;

	if (fr->expires < now) {
		fleet_refused("request %llu from the front: "
		    "expired %lld s ago (stale or replayed)",
		    (unsigned long long)fr->id,
		    (long long)(now - fr->expires));
		return -1;
	}
	/* the start on today's clock, so that a step of it since (NTP
	 * correcting a clock that was ahead) does not refuse everything */
	start = mono_ms_to_wall(env->started_ms);
	if (fr->issued < start) {
		fleet_refused("request %llu from the front: made %lld ms "
		    "before this monitor started (replayed, or the clocks "
		    "disagree)",
		    (unsigned long long)fr->id,
		    (long long)(start - fr->issued));
		return -1;
	}
	if (fr->expires > now + PKS_FLEET_TTL_MAX) {
		fleet_refused("request %llu from the front: it "
		    "expires in %lld s, over %d", (unsigned long long)fr->id,
		    (long long)(fr->expires - now), PKS_FLEET_TTL_MAX);
		return -1;
	}
	for (i = j = 0; i < nseen; i++) {
		if (seen[i].id == fr->id) {
			fleet_refused("request %llu from the "
			    "front: seen before (replayed)",
			    (unsigned long long)fr->id);
			return -1;
		}
		if (seen[i].expires >= now)
			seen[j++] = seen[i];
	}
	nseen = j;
	if (nseen == SEEN_MAX) {
		fleet_refused("request %llu: %d requests live",
		    (unsigned long long)fr->id, SEEN_MAX);
		return -1;
	}
	seen[nseen].id = fr->id;
	seen[nseen++].expires = fr->expires;
	return 0;
}

/*
 * The front's picker of hosts asks what the person may open here: the
 * names, as a choice's second text, and no words.  Nothing is issued
 * and nothing waits: the answer is all.
 */
static void
services_answer(const struct pks_fleet_req *fr)
{
	struct request	r;
	struct local	l;
	struct reply	rp;
	int		n;

	memset(&r, 0, sizeof(r));
	r.user = fr->user;
	r.chat = fr->chat;
	memset(&l, 0, sizeof(l));
	l.id = fr->id;
	l.user = fr->user;
	l.chat = fr->chat;
	memcpy(l.mac, fr->mac, sizeof(l.mac));
	reply_init(&rp);
	rp.to = REPLY_CHOICE;
	n = request_allowed(&r, &rp.alt);
	log_info("fleet: request %llu from the front: services for user "
	    "%lld: %d may be opened here", (unsigned long long)fr->id,
	    (long long)fr->user, n);
	(void)send_words(IMSG_FLEET_REPLY, &l, 0, 0, &rp);
}

/* A request of the front, checked by dispatch.c: one more origin. */
void
fleet_req(const struct pks_fleet_req *fr)
{
	struct request	 r;
	struct local	*l;
	size_t		 i;
	int		 key;

	if (is_front() || (key = fleet_auth_req(fr)) == -1 ||
	    seen_check(fr) == -1)
		return;
	fleet_auth_front_used(key);
	if (fr->cmd == FLEET_CMD_SERVICES) {
		services_answer(fr);
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("fleet");
		return;
	}
	if (++next_lid == 0)
		next_lid = 1;
	l->lid = next_lid;
	l->id = fr->id;
	l->user = fr->user;
	l->chat = fr->chat;
	memcpy(l->mac, fr->mac, sizeof(l->mac));
	l->deadline = mono_now() + (fr->expires - time(NULL)) + HOST_GRACE;
	l->next = locals;
	locals = l;

	memset(&r, 0, sizeof(r));
	r.origin = &fleet_origin;
	r.id = l->lid;
	r.cmd = REQ_UNKNOWN;
	for (i = 0; i < NFCMDS; i++)
		if (fcmds[i].fleet == fr->cmd)
			r.cmd = fcmds[i].req;
	r.user = fr->user;
	r.chat = fr->chat;
	r.private = fr->private;
	r.age = fr->age;
	/* the front gathers a /status from every host into one answer */
	r.terse = r.cmd == REQ_STATUS;
	/* asked as /CMD ME ... of the front */
	memcpy(r.where, env->conf->fleet_name, sizeof(r.where));
	/* the front drops what comes after (it says "did not answer"): the
	 * end of the request's last second (seen_check() takes it through
	 * that second), which is before the front stops waiting */
	r.answer_by = mono_now() + (fr->expires - time(NULL)) + 1;
	memcpy(r.user_name, fr->user_name, sizeof(r.user_name));
	if (r.cmd == REQ_GENERATE) {
		/* service, address ("": none from the fleet); only the
		 * first nargs words are under the MAC */
		if (fr->nargs >= 1)
			memcpy(r.argv[0], fr->argv[0], sizeof(r.argv[0]));
		r.nargs = 2;
	} else {
		memcpy(r.argv, fr->argv, sizeof(r.argv));
		r.nargs = fr->nargs;
	}
	log_info("fleet: request %llu from the front: %s for user %lld",
	    (unsigned long long)fr->id, r.cmd == REQ_STATUS ? "status" :
	    r.cmd == REQ_GENERATE ? "generate" : r.cmd == REQ_REVOKE ?
	    "revoke" : "an admin command",
	    (long long)r.user);
	request_handle(&r);
}

/* The front's outcome of a private answer of ours. */
void
fleet_sent(const struct pks_fleet_sent *s)
{
	struct local	*l;
	int		 key;

	if (is_front() || (key = fleet_auth_sent(s)) == -1)
		return;
	for (l = locals; l != NULL; l = l->next)
		if (l->id == s->id)
			break;
	if (l == NULL) {
		log_info("fleet: delivery outcome for request %llu, which is "
		    "not waiting for one", (unsigned long long)s->id);
		return;
	}
	fleet_auth_front_used(key);
	request_delivered(&fleet_origin, l->lid, s->ok, s->where, s->status,
	    s->msg_id);
}

/* an answer to the request of l, or (l NULL) a notice to chat; 0 if
 * queued for pks-fleet */
static int
send_words(uint32_t type, const struct local *l, int64_t chat, int64_t msg,
    const struct reply *rp)
{
	struct pks_fleet_reply	fr;
	struct iovec		iov[3];
	struct text		t = rp->t, alt = rp->alt;
	size_t			i, n = 0, cut;

	cut = text_finish(&t);
	text_finish(&alt);
	memset(&fr, 0, sizeof(fr));
	memcpy(fr.host, env->conf->fleet_name, sizeof(fr.host));
	if (l != NULL) {
		fr.id = l->id;
		fr.user = l->user;
		fr.chat = l->chat;
		memcpy(fr.req, l->mac, sizeof(fr.req));
	} else {
		fr.chat = chat;
		fr.msg_id = msg;
	}
	fr.to = rp->to;
	fr.textlen = t.len;
	fr.altlen = alt.len;
	/* the styles of the words that are there; "... and N more lines"
	 * in none (a heading whose words did not fit left its style) */
	for (i = 0; i < rp->nmark && n < PKS_FLEET_MARKS; i++)
		if (rp->mark[i].off < cut || (cut == t.len &&
		    rp->mark[i].off == cut)) {
			fr.mark[n].off = rp->mark[i].off;
			fr.mark[n++].style = rp->mark[i].style;
		}
	if (cut < t.len && n < PKS_FLEET_MARKS) {
		fr.mark[n].off = cut;
		fr.mark[n++].style = STYLE_PLAIN;
	}
	fr.nmark = n;
	fleet_auth_sign_words(type, &fr, t.buf, alt.buf);
	iov[0].iov_base = &fr;
	iov[0].iov_len = sizeof(fr);
	iov[1].iov_base = t.buf;
	iov[1].iov_len = t.len;
	iov[2].iov_base = alt.buf;
	iov[2].iov_len = alt.len;
	return child_sendv(PROC_FLEET, type, iov, 3);
}

/*
 * -1 if the answer cannot reach the front now: pks-fleet is down,
 * restarting (a crash, with back-off; a reload) or has no broker link.
 * Not held for later: a sequence in it is revoked (request.c) and the
 * front says "HOST did not answer", as for a host that is silent.
 */
static int
fl_reply(const struct request *r, const struct reply *rp)
{
	struct local	*l;

	if ((l = local_find(r->id)) == NULL || !child_taking(PROC_FLEET) ||
	    !link_state.connected)
		return -1;
	return send_words(IMSG_FLEET_REPLY, l, 0, 0, rp);
}

static void
local_drop(uint32_t lid)
{
	struct local	**pp, *l;

	for (pp = &locals; (l = *pp) != NULL; pp = &l->next)
		if (l->lid == lid) {
			*pp = l->next;
			free(l);
			return;
		}
}

static void
fl_done(const struct request *r)
{
	local_drop(r->id);
}

static void
fl_notify(int64_t except, const struct reply *rp)
{
	size_t	i;

	for (i = 0; i < env->conf->nnotify; i++)
		if (env->conf->notify[i] != except)
			(void)send_words(IMSG_FLEET_NOTICE, NULL,
			    env->conf->notify[i], 0, rp);
}

static void
fl_window(const struct window *w, enum win_event ev)
{
	struct reply	rp;

	reply_init(&rp);
	reply_window(&rp, w, ev);
	(void)send_words(IMSG_FLEET_NOTICE, NULL, w->user_id, 0, &rp);
}

static void
fl_seq_gone(const struct sequence *q)
{
	struct reply	rp;

	reply_init(&rp);
	reply_seq_gone(&rp, q);
	(void)send_words(IMSG_FLEET_NOTICE, NULL, q->user_id, q->msg_id, &rp);
}

static const struct origin fleet_origin = {
	.name = "fleet",
	.reply = fl_reply,
	.done = fl_done,
	.notify = fl_notify,
	.window = fl_window,
	.seq_gone = fl_seq_gone,
	/* the front splits a long answer between lines */
	.text_max = PKS_FLEET_TEXT_MAX
};

/* ------------------------------------------------------------- both */

void
fleet_link(const struct pks_fleet_state *s)
{
	if (!link_known || s->connected != link_state.connected)
		log_debug("fleet: broker link %s", s->connected ? "up" :
		    "down");
	link_state = *s;
	link_known = 1;
}

/* pks-fleet exited: no link until the next one says so */
void
fleet_child_gone(void)
{
	memset(&link_state, 0, sizeof(link_state));
	link_known = 0;
}

void
fleet_expire(time_t now)
{
	struct forward	*f, *fn;
	struct local	*l, *ln;
	uint32_t	 lid;

	fleet_refused_held(now);
	for (f = forwards; f != NULL; f = fn) {
		fn = f->next;
		if (f->deadline > now)
			continue;
		if (f->orphan)
			;	/* the new worker asks again */
		else if (f->state == FWD_ASKED && f->gather != NULL)
			gather_part(f, NULL);
		else if (f->state == FWD_ASKED) {
			log_info("fleet: %s did not answer request %llu",
			    f->host, (unsigned long long)f->id);
			front_say(&f->req, "%s did not answer: nothing was "
			    "issued there. Try again later.", f->host);
		} else if (f->state == FWD_SENDING)
			telegram_origin.done(&f->req);
		fwd_free(f);
	}
	for (l = locals; l != NULL; l = ln) {
		ln = l->next;
		if (l->deadline > now)
			continue;
		/* the front never said it was delivered: as undelivered,
		 * which revokes a sequence nobody got (and ends it) */
		lid = l->lid;
		request_delivered(&fleet_origin, lid, 0, 0, 0, 0);
		local_drop(lid);
	}
}

time_t
fleet_next_deadline(void)
{
	const struct forward	*f;
	const struct local	*l;
	time_t			 t = 0;

	for (f = forwards; f != NULL; f = f->next)
		if (t == 0 || f->deadline < t)
			t = f->deadline;
	for (l = locals; l != NULL; l = l->next)
		if (t == 0 || l->deadline < t)
			t = l->deadline;
	return t;
}

/* pksctl fleet */
void
fleet_show(struct text *t)
{
	const struct pks_conf	*c = env->conf;
	time_t			 now = mono_now();
	size_t			 i;

	if (!c->has_fleet) {
		text_add(t, "fleet mode is not configured\n");
		return;
	}
	text_add(t, "fleet host %s, role %s, broker %s\n", c->fleet_name,
	    c->fleet_role == PKS_FLEET_FRONT ? "front" : "host",
	    c->fleet_broker);
	text_add(t, "broker %s", link_state.connected ? "connected" :
	    "not connected");
	if (link_state.error != 0)
		text_add(t, " (last error %d)", link_state.error);
	text_add(t, "\nmessages received %llu, refused %llu, last %s",
	    (unsigned long long)link_state.received,
	    (unsigned long long)link_state.refused,
	    link_state.last == 0 ? "never" : "");
	if (link_state.last != 0)
		text_add(t, "%lld s ago", (long long)(time(NULL) -
		    link_state.last));
	text_add(t, "\n");
	if (!is_front())
		return;
	text_add(t, "%-32s %s\n", "HOST", "LAST-SEEN");
	for (i = 0; i < nhosts; i++)
		text_add(t, "%-32s %lld s ago%s\n", hosts[i].name,
		    (long long)(now - hosts[i].seen), host_silent(&hosts[i]) ?
		    " (silent)" : "");
}

/*
 * request.c: requests of any origin, and the user commands.
 *
 * An origin (telegram.c; pks-fleet next) turns what it received into a
 * struct request at its edge.  From here on the monitor decides the same
 * way whoever asked: rights from the configuration for every request,
 * a reply rendered by the origin, and "done" once the request needs
 * nothing more.  A sequence is only ever sent to its requester's private
 * chat; a group gets a neutral line once the delivery is known, so that
 * request stays pending, keyed by its origin and id.
 *
 * A new sequence is answered only once pks-sniffer has it armed (its
 * matcher and kernel filters hold it: seq_armed()), so that a knock sent
 * the moment the answer arrives is heard.  The request waits for that,
 * pending too, for at most ARM_WAIT seconds, a sniffer restart included
 * (the restarted one gets the whole live set, and arms it); past that
 * the sequence is revoked, never shown, and the person is told that
 * knocks cannot be heard right now, as when no sniffer captures at all.
 * No wait outlasts the sequence's own lifetime (sequence-lifetime may be
 * as short as ARM_WAIT): one that ends with it says the sequence expired
 * before it could be armed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

#define MAX_AGE		PKS_REQ_MAX_AGE	/* older commands are stale */
#define ARM_WAIT	10		/* seconds an answer waits for its
					   sequence to be armed */

/* a request whose private answer is on its way, or waits to be made */
struct pending {
	struct pending	*next;
	struct request	 req;
	uint32_t	 seq_id;	/* revoked if undelivered; 0: none */
	char		 what[64];	/* "Sent you WHAT in private" */
	time_t		 arm_by;	/* the answer waits for seq_id to be
					   armed until then (monotonic); 0:
					   it was made */
	time_t		 expires;	/* the sequence's end (monotonic) */
	uint32_t	 gen;		/* the sequence's stamp when issued */
	uint32_t	 commit;	/* (seq_armed()) */
};

/*
 * A request answered in private: once the delivery is known, a group
 * hears of it ("Sent you WHAT in private"), a sequence keeps its message
 * id, and the request is done then (request_delivered).  Returns the
 * pending request, or NULL if it could not wait.
 */
static struct pending *
pending_add(const struct request *r, struct reply *rp, const char *hint,
    uint32_t seq_id, const char *what)
{
	struct pending	*p;

	rp->to = REPLY_PRIVATE;
	text_add(&rp->alt, "%s", hint);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->req = *r;
	p->seq_id = seq_id;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->next = env->pending;
	env->pending = p;
	return p;
}

/* the services r's person may open, in names; returns how many */
int
request_allowed(const struct request *r, struct text *names)
{
	int	i, n = 0;

	memset(names, 0, sizeof(*names));
	for (i = 0; i < env->conf->nservices; i++)
		if (policy_allowed(r->user, r->chat, i)) {
			text_add(names, "%s%s", n ? " " : "",
			    env->conf->services[i].name);
			n++;
		}
	return n;
}

static void
cmd_help(const struct request *r, struct reply *rp)
{
	struct text	names;

	reply_add(rp, "I hand out one-time port-knocking sequences.\n\n"
	    "/generate [service] [address] - a fresh sequence, sent to you "
	    "privately\n/status - your live sequences and open windows\n"
	    "/revoke - cancel your live sequences\n"
	    "/whoami - your ids, for the administrator\n\n");
	if (env->conf->has_fleet && env->conf->fleet_role == PKS_FLEET_FRONT)
		reply_add(rp, "This bot serves a fleet: /generate HOST "
		    "[SERVICE] asks another host (/generate alone lets you "
		    "pick one), /revoke HOST cancels yours there, /hosts "
		    "lists them. Here is %s.\n\n", env->conf->fleet_name);
	if (request_allowed(r, &names) > 0)
		reply_add(rp, "Services you may open: %s", names.buf);
	else
		reply_add(rp, "You may not open any service here. Send /whoami "
		    "to your administrator.");
	if (policy_is_admin(r->user))
		admin_help(rp);
}

static void
cmd_whoami(const struct request *r, struct reply *rp)
{
	reply_add(rp, "Your user id: ");
	reply_style(rp, STYLE_CODE);
	reply_add(rp, "%lld", (long long)r->user);
	reply_style(rp, STYLE_PLAIN);
	reply_add(rp, "\nThis chat id: ");
	reply_style(rp, STYLE_CODE);
	reply_add(rp, "%lld", (long long)r->chat);
	reply_style(rp, STYLE_PLAIN);
}

/* the service a /generate asks for, or -1 with the reply written */
static int
generate_service(const struct request *r, struct reply *rp)
{
	struct text	names;
	int		svc, i, n;

	if ((n = request_allowed(r, &names)) == 0) {
		log_info("refused /generate from %s (user %lld, chat %lld): "
		    "not allowed", r->user_name, (long long)r->user,
		    (long long)r->chat);
		reply_add(rp, "Sorry, you are not allowed to open any "
		    "service.");
		return -1;
	}
	if (r->argv[0][0] == '\0') {
		if (n > 1) {
			reply_add(rp, "Which service?");
			rp->to = REPLY_CHOICE;
			rp->alt = names;
			return -1;
		}
		svc = -1;
		for (i = 0; i < env->conf->nservices && svc == -1; i++)
			if (policy_allowed(r->user, r->chat, i))
				svc = i;
	} else
		svc = conf_service_index(env->conf, r->argv[0]);
	if (svc == -1 || !policy_allowed(r->user, r->chat, svc)) {
		log_info("refused /generate %s from %s (user %lld, chat "
		    "%lld): not allowed", r->argv[0], r->user_name,
		    (long long)r->user, (long long)r->chat);
		reply_add(rp, "You may not open that service. Yours: %s",
		    names.buf);
		return -1;
	}
	return svc;
}

/*
 * The answer to r, a /generate that got q: the ports, for the person
 * only (rp->to, and the hint for a group).  Its "what" names it for the
 * group's line once delivered.
 */
static void
generate_answer(const struct request *r, const struct sequence *q,
    struct reply *rp, char *what, size_t whatlen)
{
	const struct conf_service *svc = &env->conf->services[q->service];
	char		 exp[16], hint[160];
	struct tm	 tm;
	time_t		 until;

	/* UTC: the server's zone means nothing to the reader */
	until = mono_to_wall(q->expires);
	gmtime_r(&until, &tm);
	strftime(exp, sizeof(exp), "%H:%M:%S UTC", &tm);
	reply_add(rp, "One-time sequence for ");
	reply_style(rp, STYLE_BOLD);
	reply_add(rp, "%s", q->svcname);
	reply_style(rp, STYLE_PLAIN);
	reply_add(rp, ", valid until %s", exp);
	if (q->seq.bound_af != 0)
		reply_add(rp, " from %s only", r->argv[1]);
	reply_add(rp, ":\n\n");
	seq_reply_knock(rp, &q->seq);
	reply_add(rp, "\n\nThen connect within %u seconds.", svc->open_for);
	if (svc->port == 22) {
		reply_add(rp, " To knock and connect in one go, add ");
		reply_style(rp, STYLE_CODE);
		reply_add(rp, "-- ssh you@host");
		reply_style(rp, STYLE_PLAIN);
		reply_add(rp, " to that line.");
	}
	/*
	 * Pending in a private chat too: the delivery brings the id of the
	 * message, rewritten once the sequence is gone (request_delivered).
	 * In a group the sequence goes to the requester privately.
	 */
	rp->to = REPLY_PRIVATE;
	snprintf(hint, sizeof(hint), "%s, please open a private chat with "
	    "me and press Start, then ask again.", r->user_name[0] ?
	    r->user_name : "You");
	text_add(&rp->alt, "%s", hint);
	snprintf(what, whatlen, "a sequence for %s", q->svcname);
}

/* why a knock could not be heard, as /generate says it */
static void
generate_deaf(struct reply *rp)
{
	reply_add(rp, "Knocks cannot be heard right now (the server is not "
	    "capturing): no sequence is issued. Try again later.");
}

/*
 * 1 if the request stays pending: its answer waits for the sequence to
 * be armed (request_armed()), then for its delivery.
 */
static int
cmd_generate(const struct request *r, struct reply *rp)
{
	struct sequence	*s;
	struct pending	*p;
	uint8_t		 addr[16];
	int		 svc, af = 0, why;

	if (policy_locked()) {
		log_info("refused /generate from %s (user %lld): locked down",
		    r->user_name, (long long)r->user);
		reply_add(rp, "An administrator has locked everything down: "
		    "no sequence is issued until it is lifted.");
		return 0;
	}
	if (!child_hearing()) {
		log_info("refused /generate from %s (user %lld): knocks "
		    "cannot be heard right now", r->user_name,
		    (long long)r->user);
		generate_deaf(rp);
		return 0;
	}
	if (r->age > MAX_AGE) {
		reply_add(rp, "That request is %u seconds old and has "
		    "expired: ask again.", r->age);
		return 0;
	}
	if ((svc = generate_service(r, rp)) == -1)
		return 0;
	if (r->argv[1][0] != '\0' && addr_parse(r->argv[1], &af, addr) ==
	    -1) {
		reply_add(rp, "Not an IPv4 or IPv6 address: %s", r->argv[1]);
		return 0;
	}
	if ((s = seq_generate(r->origin, svc, r->user, r->chat, r->user_name,
	    af, addr, &why)) == NULL) {
		if (why == SEQ_FULL)
			reply_add(rp, "Too many sequences are live on this "
			    "host right now: ask again in a few minutes.");
		else if (why == SEQ_CHAT_FULL)
			reply_add(rp, "Too many sequences asked for in this "
			    "chat are live right now: ask again in a few "
			    "minutes, or in a private chat with me.");
		else
			reply_add(rp, "No sequence could be made right now; "
			    "tell your administrator.");
		return 0;
	}
	if ((p = pending_add(r, rp, "", s->seq.id, "")) == NULL) {
		/* nobody will be told of it: it must not stay live */
		log_warn("sequence %u of %s", s->seq.id, r->user_name);
		seq_remove(s);
		reply_init(rp);
		reply_add(rp, "No sequence could be made right now; tell "
		    "your administrator.");
		return 0;
	}
	/* the answer is made once the sniffer holds the sequence, while
	 * someone can still hear it: a fleet request's front gives up at
	 * its expiry, and a sequence armed later would stay live, unseen,
	 * until the host stops waiting for its delivery */
	p->arm_by = mono_now() + ARM_WAIT;
	if (r->answer_by != 0 && r->answer_by < p->arm_by)
		p->arm_by = r->answer_by;
	if (s->expires < p->arm_by)
		p->arm_by = s->expires;
	p->expires = s->expires;
	p->gen = s->gen;
	p->commit = s->commit;
	return 1;
}

/* 1 if the request stays pending (a group: delivery not known yet) */
static int
cmd_status(const struct request *r, struct reply *rp)
{
	const struct sequence	*q;
	const struct window	*w;
	time_t			 now = mono_now();
	char			 a[INET6_ADDRSTRLEN];
	int			 n = 0;

	for (q = NULL; (q = seq_each(q, r->user)) != NULL; n++)
		reply_add(rp, "Sequence for %s: %lld s left\n", q->svcname,
		    (long long)(q->expires - now));
	for (w = NULL; (w = win_each(w, r->user, 0)) != NULL; n++)
		reply_add(rp, "Window: %s open for %s, %lld s left\n",
		    w->svcname, addr_str(w->w.af, w->w.addr, a, sizeof(a)),
		    win_left(w, now));
	if (n == 0 && !r->terse)
		reply_add(rp, "You have no live sequence and no open window.");
	return request_status_private(r, rp);
}

/*
 * A status asked in a group goes to the person in private: 1 if the
 * request now waits for the delivery (the group hears of it then).
 */
int
request_status_private(const struct request *r, struct reply *rp)
{
	if (r->private)
		return 0;
	/* it names addresses and services: never in the group */
	return pending_add(r, rp, "Your status names addresses: please open "
	    "a private chat with me and press Start, then ask again.", 0,
	    "your status") != NULL;
}

static void
cmd_revoke(const struct request *r, struct reply *rp)
{
	int	n;

	n = seq_revoke_user(r->user, 0);
	log_info("%s (user %lld) revoked %d sequence(s)", r->user_name,
	    (long long)r->user, n);
	reply_add(rp, "Revoked %d live sequence%s.", n, n == 1 ? "" : "s");
}

static void	pending_end(struct pending *);

/*
 * The answer to r could not be handed on (the child of its origin is
 * down or restarting): what it alone shows must not stay, unseen.
 * Recovery sequences just issued are revoked; a request waiting for the
 * delivery of that answer ends (and is done), as nothing is delivered.
 */
static void
answer_unsent(const struct request *r)
{
	struct pending	*p;

	log_info("answer to %s (user %lld) could not be sent: the %s "
	    "origin is down or restarting", r->user_name,
	    (long long)r->user, r->origin->name);
	if (r->cmd == REQ_RECOVERY)
		recovery_unsent(r->user_name);
	for (p = env->pending; p != NULL; p = p->next)
		if (p->req.origin == r->origin && p->req.id == r->id) {
			pending_end(p);
			return;
		}
}

/* A request, checked by the origin's dispatch: decide and answer. */
void
request_handle(const struct request *r)
{
	struct reply	rp, nt;
	int		later = 0;

	reply_init(&rp);
	reply_init(&nt);
	rp.t.max = r->origin->text_max;
	if (r->user == 0) {
		/* an anonymous admin, a channel, a bot: no one to answer */
		log_info("refused a command sent on behalf of a chat or by a "
		    "bot, in chat %lld", (long long)r->chat);
		reply_add(&rp, "This was sent on behalf of a chat (anonymous "
		    "admin, or as a channel), not by a person: I act only for "
		    "people. Please send it as yourself.");
		r->origin->reply(r, &rp);
		r->origin->done(r);
		return;
	}
	switch (r->cmd) {
	case REQ_HELP:
		cmd_help(r, &rp);
		break;
	case REQ_WHOAMI:
		cmd_whoami(r, &rp);
		break;
	case REQ_GENERATE:
		later = cmd_generate(r, &rp);
		break;
	case REQ_STATUS:
		later = cmd_status(r, &rp);
		break;
	case REQ_REVOKE:
		cmd_revoke(r, &rp);
		break;
	default:
		if (admin_is_command(r->cmd))
			admin_handle(r, &rp, &nt);
		else
			reply_add(&rp, "Unknown command. Try /help.");
		break;
	}
	/* a new sequence: answered once armed (request_armed()) */
	if ((r->cmd != REQ_GENERATE || !later) &&
	    r->origin->reply(r, &rp) == -1)
		answer_unsent(r);	/* done, if it was waiting */
	if (nt.t.len > 0)
		r->origin->notify(r->user, &nt);
	if (!later)
		r->origin->done(r);
}

/* p leaves the list and is freed, its request done */
static void
pending_end(struct pending *p)
{
	struct pending	**pp;

	for (pp = &env->pending; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->req.origin->done(&p->req);
	free(p);
}

/*
 * A waiting answer that cannot be made: its sequence (if still live) is
 * revoked, never shown, and the person hears why (rp, if not NULL).
 */
static void
pending_fail(struct pending *p, const struct reply *rp)
{
	struct sequence	*q;

	if ((q = seq_find(p->seq_id)) != NULL)
		seq_remove(q);
	if (rp != NULL)
		p->req.origin->reply(&p->req, rp);
	pending_end(p);
}

/*
 * A waiting answer whose sequence's lifetime ended before it was armed:
 * nothing was shown, and the person is told why (not "cancelled", not
 * "cannot be heard": it only took longer than the sequence lives).
 */
static void
pending_expired(struct pending *p)
{
	struct reply	rp;

	log_warnx("sequence %u of %s expired (sequence-lifetime %u s) before "
	    "pks-sniffer armed it", p->seq_id, p->req.user_name,
	    env->conf->seq_lifetime);
	reply_init(&rp);
	reply_add(&rp, "Your new sequence expired before it could be armed: "
	    "nothing was issued. Ask again; if this repeats, tell your "
	    "administrator.");
	pending_fail(p, &rp);
}

/*
 * pks-sniffer confirmed commits (dispatch.c): the answers whose sequence
 * is armed go out, and wait for their delivery from here on.  A sequence
 * gone meanwhile (a newer /generate, /revoke, an admin; or its lifetime
 * over) is said so, and first: a person who asked twice reads the newer
 * sequence last, never "cancelled" after it (the list is newest first).
 */
void
request_armed(void)
{
	struct pending	*p, *np;
	struct sequence	*q;
	struct reply	 rp;
	time_t		 now = mono_now();
	int		 pass;

	for (pass = 0; pass < 2; pass++)
		for (p = env->pending; p != NULL; p = np) {
			np = p->next;
			if (p->arm_by == 0)
				continue;
			/* not that far yet: no need to look the sequence up
			 * (a burst of requests waits on a large live set) */
			if (p->gen == env->sniff_gen &&
			    p->commit > env->sniff_armed)
				continue;
			q = seq_find(p->seq_id);
			if (q != NULL && !seq_armed(q))
				continue;
			/* gone with its lifetime, or going this second */
			if (pass == 0 && p->expires <= now) {
				pending_expired(p);
				continue;
			}
			reply_init(&rp);
			if (q == NULL && pass == 0) {
				log_info("sequence %u of %s was revoked before "
				    "its answer was sent", p->seq_id,
				    p->req.user_name);
				reply_add(&rp, "Your new sequence was cancelled "
				    "before it could be sent (a newer one, "
				    "/revoke, or an administrator): nothing was "
				    "issued.");
				pending_fail(p, &rp);
				continue;
			}
			if (q == NULL || pass == 0)
				continue;
			log_debug("sequence %u armed by pks-sniffer: answered",
			    q->seq.id);
			p->arm_by = 0;
			generate_answer(&p->req, q, &rp, p->what,
			    sizeof(p->what));
			if (p->req.origin->reply(&p->req, &rp) == 0)
				continue;
			/* dropped (pks-fleet or pks-telegram is restarting):
			 * nobody will see it, it must not stay live */
			log_warnx("answer to %s could not be sent (the %s "
			    "origin is down or restarting): sequence %u "
			    "revoked", p->req.user_name, p->req.origin->name,
			    q->seq.id);
			pending_fail(p, NULL);
		}
}

/*
 * Answers still waiting for their sequence to be armed after ARM_WAIT
 * seconds: the sniffer is down, restarting too slowly, or stuck.  The
 * sequence is revoked, never shown: nothing stays half-issued.
 */
void
request_expire(time_t now)
{
	struct pending	*p, *np;
	struct reply	 rp;

	for (p = env->pending; p != NULL; p = np) {
		np = p->next;
		if (p->arm_by == 0 || p->arm_by > now)
			continue;
		if (p->expires <= now) {
			pending_expired(p);
			continue;
		}
		if (p->req.answer_by != 0 && p->arm_by == p->req.answer_by)
			log_warnx("sequence %u of %s revoked: pks-sniffer did "
			    "not arm it before its request expired",
			    p->seq_id, p->req.user_name);
		else
			log_warnx("sequence %u of %s revoked: pks-sniffer did "
			    "not arm it within %d s; knocks cannot be heard "
			    "right now", p->seq_id, p->req.user_name,
			    ARM_WAIT);
		reply_init(&rp);
		generate_deaf(&rp);
		pending_fail(p, &rp);
	}
}

/* the earliest end of a wait for a sequence to be armed, 0: none */
time_t
request_next_deadline(void)
{
	const struct pending	*p;
	time_t			 t = 0;

	for (p = env->pending; p != NULL; p = p->next)
		if (p->arm_by != 0 && (t == 0 || p->arm_by < t))
			t = p->arm_by;
	return t;
}

/*
 * The delivery of a pending request's private message is known (ok:
 * delivered, to where, as the origin's message msg): privately delivered,
 * a group gets a neutral line and a sequence keeps msg; otherwise nobody
 * got the sequence and it must not stay live.
 */
void
request_delivered(const struct origin *o, uint32_t id, int ok, int64_t where,
    int status, int64_t msg)
{
	struct pending	**pp, *p;
	struct sequence	 *q;
	struct reply	  rp;
	int		  delivered;

	for (pp = &env->pending; (p = *pp) != NULL; pp = &p->next)
		if (p->req.origin == o && p->req.id == id)
			break;
	if (p == NULL)
		return;
	if (p->arm_by != 0) {
		/* the origin gave up on it (a fleet request's time is up)
		 * before its answer was made: nobody saw the sequence */
		log_info("sequence %u of %s revoked: its request ended before "
		    "it was armed", p->seq_id, p->req.user_name);
		pending_fail(p, NULL);
		return;
	}
	*pp = p->next;
	/* after a refusal the origin may have told the group instead */
	delivered = ok && (p->req.private || where != p->req.chat);
	q = p->seq_id != 0 ? seq_find(p->seq_id) : NULL;
	if (delivered && !p->req.private) {
		reply_init(&rp);
		reply_add(&rp, "Sent you %s in private.", p->what);
		o->reply(&p->req, &rp);
	} else if (!ok && !p->req.private && where != p->req.chat) {
		/* refused for another reason than "never started": say so,
		 * in the group, without what it held */
		reply_init(&rp);
		reply_add(&rp, "I could not send you %s in private (", p->what);
		if (status != 0)
			reply_add(&rp, "Telegram answered %d", status);
		else
			reply_add(&rp, "no answer came");
		reply_add(&rp, ")%s. Please try again later.", q != NULL ?
		    "; it was revoked" : "");
		o->reply(&p->req, &rp);
	}
	if (delivered && q != NULL)
		q->msg_id = msg;	/* its message, edited when it is gone */
	else if (!delivered && q != NULL) {
		log_info("sequence %u could not be delivered (%d): revoked",
		    q->seq.id, status);
		seq_remove(q);
	}
	o->done(&p->req);
	free(p);
}

/*
 * An origin restarted: it numbers its requests anew, and what it had not
 * delivered died with it.  A sequence whose answer was not made yet, or
 * whose delivery was not known yet, may have been seen by nobody: it is
 * revoked.  (pks-telegram confirms a batch of updates only once each of
 * its requests is done and each message for them finished: the restarted
 * worker gets the update again, and the person a fresh answer.)
 */
void
request_origin_gone(const struct origin *o)
{
	struct pending	**pp, *p;
	struct sequence	 *q;

	for (pp = &env->pending; (p = *pp) != NULL;) {
		if (p->req.origin == o) {
			*pp = p->next;
			if (p->seq_id != 0 &&
			    (q = seq_find(p->seq_id)) != NULL) {
				log_warnx("sequence %u of %s revoked: %s "
				    "restarted before its answer was %s",
				    p->seq_id, p->req.user_name, o->name,
				    p->arm_by != 0 ? "sent" : "delivered");
				seq_remove(q);
			}
			free(p);
		} else
			pp = &p->next;
	}
}

/*
 * recovery.c: recovery (break-glass) sequences.
 *
 * A server whose ssh depends on Telegram must stay reachable when
 * Telegram, or the bot token, is not.  An admin (pksctl as root, or
 * /recovery in a private chat with the bot) issues a few one-time
 * sequences for one user and service, valid for recovery-valid (90 days
 * by default), shown once to be kept offline.  They are ordinary live
 * sequences for the sniffer (seq.c draws them, longer: see
 * seq_recovery_len()), kept in the state file so they survive restarts,
 * listed without their ports, revocable, and each works once: a use is
 * written to the state file before the window is asked for, logged, and
 * told to the admins who follow admin actions.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

#define RECOVERY_BATCH		10	/* sequences issued at once, at most */
#define RECOVERY_ROOM		64	/* bytes of an answer kept for a
					   front's "HOST: " (fleet.c) */
#define RECOVERY_PER_USER	10	/* live per user and service */

static const struct origin	*notes;	/* where admins hear of them */
/* the sequences the last /recovery issued, until its answer is sent */
static uint32_t			 just[RECOVERY_BATCH];
static unsigned int		 njust;

void
recovery_init(const struct origin *o)
{
	notes = o;
}

static int
live_of(int64_t user, int svc)
{
	const struct sequence	*q;
	int			 n = 0;

	for (q = NULL; (q = seq_each_recovery(q)) != NULL;)
		if (q->user_id == user && q->service == svc)
			n++;
	return n;
}

/* the answer to an issue: the sequences, with their ports */
static void
answer(struct reply *rp, int64_t user, const char *svcname,
    const char *until, struct sequence *const *made, unsigned int count)
{
	unsigned int	i;

	reply_add(rp, "%u recovery sequence%s of %lld for ", count,
	    count == 1 ? "" : "s", (long long)user);
	reply_style(rp, STYLE_BOLD);
	reply_add(rp, "%s", svcname);
	reply_style(rp, STYLE_PLAIN);
	reply_add(rp, ", valid until %s. Each works once. They are shown "
	    "only now: keep them offline.\n", until);
	for (i = 0; i < count; i++) {
		reply_add(rp, "\n%u: ", made[i]->seq.id);
		seq_reply_knock(rp, &made[i]->seq);
	}
}

/*
 * Issue count recovery sequences of user for service svcname.  The
 * sequences, with their ports, go in rp only; nt gets a line for the
 * admins.  0 if issued; -1 with the reason in rp, and nothing changed.
 */
int
recovery_issue(int64_t user, const char *svcname, unsigned int count,
    int64_t by, const char *by_name, struct reply *rp, struct reply *nt)
{
	struct sequence	*made[RECOVERY_BATCH];
	const char	*why = NULL;
	char		 until[32], byw[96], toolong[80];
	time_t		 end;
	unsigned int	 i, n;
	int		 svc;

	if ((svc = conf_service_index(env->conf, svcname)) == -1) {
		reply_add(rp, "No service \"%s\" in the configuration.",
		    svcname);
		return -1;
	}
	if (count < 1 || count > RECOVERY_BATCH) {
		reply_add(rp, "COUNT must be 1 to %d.", RECOVERY_BATCH);
		return -1;
	}
	if (policy_locked()) {
		reply_add(rp, "Locked down: nothing is issued until the "
		    "lockdown is lifted.");
		return -1;
	}
	if (live_of(user, svc) + count > RECOVERY_PER_USER) {
		reply_add(rp, "%lld holds %d recovery sequence(s) for %s; at "
		    "most %d: revoke some first.", (long long)user,
		    live_of(user, svc), svcname, RECOVERY_PER_USER);
		return -1;
	}
	end = mono_now() + env->conf->recovery_valid;
	for (n = 0; n < count; n++)
		if ((made[n] = seq_recovery_add(svc, user, end, by, time(NULL),
		    NULL, &why)) == NULL)
			break;
	clock_date(mono_to_wall(end), until, sizeof(until));
	if (n == count)
		answer(rp, user, svcname, until, made, count);
	/* shown whole, or not issued: a sequence cut off the answer would
	 * live on, known to nobody (a long knock-host, 16 UDP ports) */
	if (n == count && !reply_fits(rp, RECOVERY_ROOM)) {
		snprintf(toolong, sizeof(toolong), "%u sequences of %d ports "
		    "do not fit in one message: ask for fewer", count,
		    made[0]->seq.len);
		why = toolong;
	}
	if (why == NULL && grants_save() == -1)
		why = "the state file cannot be written (see the log)";
	if (why != NULL) {
		for (i = 0; i < n; i++)
			seq_remove(made[i]);
		reply_init(rp);
		reply_add(rp, "No recovery sequence issued: %s.", why);
		return -1;
	}
	for (njust = 0; njust < count; njust++)
		just[njust] = made[njust]->seq.id;
	log_warnx("recovery: %u sequence(s) of %lld for %s issued by %s, "
	    "valid until %s (ids %u to %u)", count, (long long)user, svcname,
	    actor_str(by, by_name, byw, sizeof(byw)), until, made[0]->seq.id,
	    made[count - 1]->seq.id);
	reply_actor(nt, by, by_name);
	reply_add(nt, " issued %u recovery sequence%s of %lld for %s, "
	    "valid until %s.", count, count == 1 ? "" : "s", (long long)user,
	    svcname, until);
	return 0;
}

/*
 * Revoke recovery sequence id (0: all of them).  0 if any was; -1 with
 * the reason in rp.
 */
int
recovery_revoke(uint32_t id, int64_t by, const char *by_name,
    struct reply *rp, struct reply *nt)
{
	const struct sequence	*q, *nq;
	char			 byw[96];
	int			 n = 0;

	for (q = seq_each_recovery(NULL); q != NULL; q = nq) {
		nq = seq_each_recovery(q);
		if (id == 0 || q->seq.id == id) {
			seq_remove(seq_find(q->seq.id));
			n++;
		}
	}
	if (n == 0) {
		if (id == 0)
			reply_add(rp, "There is no recovery sequence.");
		else
			reply_add(rp, "No recovery sequence %u.", id);
		return -1;
	}
	log_warnx("recovery: %s revoked %d sequence(s)%s", actor_str(by,
	    by_name, byw, sizeof(byw)), n, id == 0 ? ", all of them" : "");
	reply_add(rp, "Revoked %d recovery sequence%s.", n, n == 1 ? "" : "s");
	if (grants_save() == -1)
		reply_add(rp, " The state file cannot be written (see the "
		    "log): a restart would bring %s back.", n == 1 ? "it" :
		    "them");
	reply_actor(nt, by, by_name);
	if (id == 0)
		reply_add(nt, " revoked every recovery sequence (%d).", n);
	else
		reply_add(nt, " revoked recovery sequence %u.", id);
	return 0;
}

/*
 * The sniffer says a sequence was knocked: 0 if it is not a recovery
 * sequence (seq.c's then).  A recovery sequence is used up by any
 * completed knock, opened or refused: it was seen on the wire.
 */
int
recovery_knock(const struct pks_knock *k)
{
	struct sequence	*s;
	struct reply	 nt;
	char		 a[INET6_ADDRSTRLEN], since[32];
	const char	*refused = NULL;
	int		 left;

	if ((s = seq_find(k->seq_id)) == NULL || !s->recovery)
		return 0;
	addr_str(k->af, k->addr, a, sizeof(a));
	if (s->expires <= mono_now()) {
		log_info("knock from %s for expired recovery sequence %u", a,
		    s->seq.id);
		seq_remove(s);
		grants_save();
		return 1;
	}
	if (policy_locked())
		refused = "refused: locked down";
	else if (!policy_allowed(s->user_id, s->user_id, s->service))
		refused = "refused: the user may no longer open it";
	reply_init(&nt);
	clock_date(s->since, since, sizeof(since));
	log_warnx("recovery sequence %u of %lld for %s knocked from %s "
	    "(issued %s): %s", s->seq.id, (long long)s->user_id, s->svcname,
	    a, since, refused ? refused : "opening");
	if (refused == NULL) {
		s->origin = notes;	/* the owner hears of the window */
		win_open(s, k->af, k->addr);
	}
	s->used_at = mono_to_wall(mono_now());
	left = live_of(s->user_id, s->service) - 1;
	reply_add(&nt, "Recovery sequence %u of %lld for %s was knocked from "
	    "%s%s%s; %d left for that user.", s->seq.id, (long long)s->user_id,
	    s->svcname, a, refused ? ", " : "", refused ? refused : "", left);
	seq_remove(s);		/* one-time */
	if (grants_save() == -1)
		reply_add(&nt, " The state file cannot be written: it is tried "
		    "again every few seconds, and a restart before a write "
		    "works would make this sequence usable again.");
	if (notes != NULL && notes->notify != NULL)
		notes->notify(0, &nt);
	return 1;
}

static void
list(struct reply *rp)
{
	const struct sequence	*q;
	char			 until[32], since[32];
	int			 n = 0;

	for (q = NULL; (q = seq_each_recovery(q)) != NULL; n++) {
		reply_add(rp, "%u: %lld, %s, %u ports, until %s, issued %s by ",
		    q->seq.id, (long long)q->user_id, q->svcname, q->seq.len,
		    clock_date(mono_to_wall(q->expires), until, sizeof(until)),
		    clock_date(q->since, since, sizeof(since)));
		if (q->by == 0)
			reply_add(rp, "pksctl\n");
		else
			reply_add(rp, "%lld\n", (long long)q->by);
	}
	if (n == 0)
		reply_add(rp, "No recovery sequence.");
}

/*
 * The answer to the last /recovery could not be sent (request.c): the
 * sequences it issued were shown to nobody, and would live on unknown
 * for recovery-valid.  They are revoked.
 */
void
recovery_unsent(const char *to)
{
	unsigned int	 i, n = 0;

	for (i = 0; i < njust; i++) {
		struct sequence	*q = seq_find(just[i]);

		if (q != NULL && q->recovery) {
			seq_remove(q);
			n++;
		}
	}
	if (n > 0) {
		log_warnx("recovery: the answer to %s could not be sent: %u "
		    "sequence(s) revoked (ids %u to %u)", to, n, just[0],
		    just[njust - 1]);
		(void)grants_save();
	}
	njust = 0;
}

/*
 * /recovery, from an admin (admin.c checked that, the age and the words'
 * shapes): USER_ID SERVICE [COUNT] issues, "revoke ID|all" revokes, none
 * lists.  Only in the admin's private chat: the answer holds ports.
 * -1: the words fit no form (the caller answers the usage line).
 */
int
recovery_command(const struct request *r, struct reply *rp, struct reply *nt)
{
	int64_t	user, v = 1;

	njust = 0;
	if (!r->private) {
		log_warnx("refused /recovery from %s (%lld) in chat %lld: only "
		    "in a private chat", r->user_name, (long long)r->user,
		    (long long)r->chat);
		reply_add(rp, "/recovery works only in a private chat with "
		    "me: its answers hold sequences.");
		return 0;
	}
	if (r->nargs == 0)
		list(rp);
	else if (r->nargs == 2 && strcmp(r->argv[0], "revoke") == 0) {
		if (strcmp(r->argv[1], "all") == 0)
			v = 0;
		else if (num_parse(r->argv[1], 1, UINT32_MAX, &v) == -1)
			return -1;
		recovery_revoke((uint32_t)v, r->user, r->user_name, rp, nt);
	} else if (r->nargs >= 2 && r->nargs <= 3 &&
	    user_id_parse(r->argv[0], &user) == 0 &&
	    conf_valid_name(r->argv[1])) {
		if (r->nargs == 3 && num_parse(r->argv[2], 1, RECOVERY_BATCH,
		    &v) == -1)
			return -1;
		recovery_issue(user, r->argv[1], (unsigned int)v, r->user,
		    r->user_name, rp, nt);
	} else
		return -1;
	return 0;
}

/*
 * admin.c: the admin commands of the bot, grants and lockdown.
 *
 * pks-telegram only splits the words of a command: who is an admin, and
 * what every word means, is decided here, from the monitor's own
 * configuration ("admin user").  A compromised worker can relay a
 * request in a non-admin's name; it is refused like any other.
 *
 * Every change is written to the state file (state.c) before it is
 * answered.  A change that widens rights (a grant, an unlock) is undone
 * if it cannot be saved, so a restart never brings back more than an
 * admin was told; one that narrows them (ungrant, lockdown) stays in
 * force even then, and the admin is told it will not survive a restart.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

#define ADMIN_MAX_AGE	600	/* seconds: an admin command older than
				   this (the monitor was down) is stale */
#define EXPIRED_MAX	64	/* grants logged per expiry round */

static const struct {
	uint32_t	 cmd;
	const char	*name;
	const char	*usage;
} cmds[] = {
	{ TG_CMD_GRANT, "grant", "/grant USER_ID SERVICE [DURATION], or "
	    "/grant SERVICE [DURATION] as a reply to the user's message; "
	    "DURATION like 30m, 2h, 7d (at most 365d), none: until "
	    "/ungrant" },
	{ TG_CMD_UNGRANT, "ungrant", "/ungrant USER_ID SERVICE, or "
	    "/ungrant SERVICE as a reply to the user's message" },
	{ TG_CMD_USERS, "users", "/users" },
	{ TG_CMD_WINDOWS, "windows", "/windows" },
	{ TG_CMD_CLOSE, "close", "/close ADDRESS" },
	{ TG_CMD_REVOKE_USER, "revoke", "/revoke USER_ID|all" },
	{ TG_CMD_LOCKDOWN, "lockdown", "/lockdown" },
	{ TG_CMD_UNLOCK, "unlock", "/unlock" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static size_t
cmd_index(uint32_t cmd)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].cmd == cmd)
			break;
	return i;
}

static const char *
when(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	/* UTC: the server's zone means nothing to the reader */
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

/* "name (id)" of who sent r, escaped, for replies and notices */
static void
text_who(struct text *t, const char *name, int64_t id)
{
	if (name[0] != '\0') {
		text_esc(t, name);
		text_add(t, " (%lld)", (long long)id);
	} else
		text_add(t, "%lld", (long long)id);
}

/* a line for every "notify user" but the one who caused it */
static void
notify(int64_t except, const struct text *t)
{
	size_t	i;

	for (i = 0; i < env->conf->nnotify; i++)
		if (env->conf->notify[i] != except)
			bot_send(0, env->conf->notify[i], 0, t, 0, NULL);
}

/* admin action: "ada (6123) granted ssh to 777 ..." to notify users */
static void
notify_action(const struct pks_tg_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notify_action(const struct pks_tg_req *r, const char *fmt, ...)
{
	struct text	t = { .len = 0 };
	char		buf[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	text_who(&t, r->user_name, r->user_id);
	text_add(&t, " ");
	text_esc(&t, buf);
	notify(r->user_id, &t);
}

/*
 * Save the state.  A file refused at load is first moved aside, so a
 * write never destroys what an admin may want to look at.
 */
static int
save(void)
{
	char	ebuf[256], aside[4096];
	int	rc;

	if (env->state_refused) {
		if (state_keep_aside(env->conf->state_file, aside,
		    sizeof(aside), ebuf, sizeof(ebuf)) == -1) {
			log_warnx("state file %s: cannot move it aside: %s",
			    env->conf->state_file, ebuf);
			return -1;
		}
		log_warnx("state file %s: the refused file is kept as %s",
		    env->conf->state_file, aside);
		env->state_refused = 0;
	}
	rc = state_save(env->conf->state_file, &env->state, ebuf,
	    sizeof(ebuf));
	if (rc == -1) {
		log_warnx("state file %s: cannot write it: %s",
		    env->conf->state_file, ebuf);
		return -1;
	}
	if (rc == 1)
		log_warnx("state file %s: %s", env->conf->state_file, ebuf);
	log_debug("state file %s written (%zu grants, lockdown %d)",
	    env->conf->state_file, env->state.ngrants, env->state.lockdown);
	return 0;
}

/* sequences whose owner lost the right to their service die */
static int
revoke_unallowed(int64_t user)
{
	struct sequence	*q, *nq;
	int		 n = 0;

	for (q = env->seqs; q != NULL; q = nq) {
		nq = q->next;
		if ((user == 0 || q->user_id == user) &&
		    !bot_allowed(q->user_id, q->chat_id, q->service)) {
			log_info("sequence %u of %s revoked: no longer "
			    "allowed %s", q->seq.id, q->user_name, q->svcname);
			seq_remove(q);
			n++;
		}
	}
	return n;
}

static void
check_services(void)
{
	size_t	i;

	for (i = 0; i < env->state.ngrants; i++) {
		const struct grant	*g = &env->state.grants[i];

		if (conf_service_index(env->conf, g->service) == -1)
			log_warnx("grant of %s to %lld: the configuration "
			    "defines no such service, it is not in force",
			    g->service, (long long)g->user);
	}
}

/* Load the state file at start.  Never fatal: see pks-monitor(8). */
void
admin_init(void)
{
	struct pks_state	st;
	char			ebuf[256];
	int			rc;

	rc = state_load(env->conf->state_file, &st, ebuf, sizeof(ebuf));
	if (rc == -1) {
		log_warnx("state file %s refused: %s; running with the "
		    "configuration's rights only (no grant, no lockdown); "
		    "the file is moved aside at the next admin change",
		    env->conf->state_file, ebuf);
		env->state_refused = 1;
		memset(&env->state, 0, sizeof(env->state));
		return;
	}
	env->state = st;
	if (rc == 1)
		log_info("state file %s: none yet, empty state",
		    env->conf->state_file);
	else
		log_info("state file %s: %zu grant(s), lockdown %s",
		    env->conf->state_file, st.ngrants,
		    st.lockdown ? "ON" : "off");
	check_services();
	/* grants that ended while the monitor was not running */
	admin_expire(time(NULL));
}

/* SIGHUP: read the file again; if it is refused, keep what runs */
void
admin_reload(void)
{
	struct pks_state	st;
	char			ebuf[256];
	int			rc;

	rc = state_load(env->conf->state_file, &st, ebuf, sizeof(ebuf));
	if (rc == -1) {
		log_warnx("state file %s refused: %s; the running state is "
		    "kept", env->conf->state_file, ebuf);
		return;
	}
	state_clear(&env->state);
	env->state = st;
	env->state_refused = 0;
	log_info("state file %s: %zu grant(s), lockdown %s",
	    env->conf->state_file, st.ngrants, st.lockdown ? "ON" : "off");
	check_services();
	if (st.lockdown)
		seq_revoke_user(0, 1);
	admin_expire(time(NULL));
}

void
admin_expire(time_t now)
{
	struct grant	gone[EXPIRED_MAX];
	size_t		n, i;

	if ((n = state_expire(&env->state, now, gone, EXPIRED_MAX)) == 0)
		return;
	for (i = 0; i < n && i < EXPIRED_MAX; i++)
		log_info("grant of %s to %lld (by %lld) expired",
		    gone[i].service, (long long)gone[i].user,
		    (long long)gone[i].by);
	revoke_unallowed(0);
	save();
}

time_t
admin_next_expiry(void)
{
	return state_next_expiry(&env->state);
}

int
admin_locked(void)
{
	return env->state.lockdown;
}

/* "ada opened ssh from 198.18.0.2", to notify users */
void
admin_window_opened(const struct window *w)
{
	struct text	t = { .len = 0 };
	char		a[INET6_ADDRSTRLEN];

	if (env->conf->nnotify == 0)
		return;
	text_esc(&t, w->user_name[0] ? w->user_name : "someone");
	text_add(&t, " opened %s from %s", w->svcname,
	    addr_str(w->w.af, w->w.addr, a, sizeof(a)));
	notify(w->user_id, &t);
}

/* the admin part of /help */
void
admin_help(const struct pks_tg_req *r, struct text *t)
{
	size_t	i;

	(void)r;
	text_add(t, "\n\nYou are an administrator:");
	for (i = 0; i < NCMDS; i++) {
		text_add(t, "\n");
		text_esc(t, cmds[i].usage);
	}
}

/*
 * An answer that names users or addresses: in a group it goes to the
 * admin's private chat, and if the admin never started the bot, the
 * group gets a hint instead.
 */
static void
reply_private(const struct pks_tg_req *r, const struct text *t)
{
	struct text	g = { .len = 0 };

	if (r->chat_type == TG_CHAT_PRIVATE) {
		bot_reply(r, t);
		return;
	}
	text_add(&g, "The answer names users or addresses: please open a "
	    "private chat with me, press Start, then ask again.");
	bot_send(r->reqid, r->user_id, TG_SEND_FALLBACK, t, r->chat_id, &g);
}

static void
usage(const struct pks_tg_req *r, size_t ci)
{
	struct text	t = { .len = 0 };

	text_add(&t, "Usage: ");
	text_esc(&t, cmds[ci].usage);
	bot_reply(r, &t);
}

/*
 * The target of /grant and /ungrant: "USER_ID SERVICE ..." or, as a
 * reply to a user's message, "SERVICE ...".  Returns the index of the
 * service word, -1 if the words fit neither form.
 */
static int
target(const struct pks_tg_req *r, int64_t *user, const char **name,
    uint32_t minw, uint32_t maxw)
{
	if (r->nargs >= minw + 1 && r->nargs <= maxw + 1 &&
	    state_user_id(r->argv[0], user) == 0) {
		*name = "";
		return 1;
	}
	if (r->reply_user_id > 0 && r->nargs >= minw && r->nargs <= maxw &&
	    r->argv[0][0] != '\0' && state_user_id(r->argv[0], user) == -1) {
		*user = r->reply_user_id;
		*name = r->reply_user_name;
		return 0;
	}
	return -1;
}

static int
service_word(const struct pks_tg_req *r, const char *w)
{
	struct text	t = { .len = 0 };
	int		i, svc;

	if ((svc = conf_service_index(env->conf, w)) != -1)
		return svc;
	text_add(&t, "The configuration defines no service \"");
	text_esc(&t, w);
	text_add(&t, "\". Services:");
	for (i = 0; i < env->conf->nservices; i++)
		text_add(&t, " %s", env->conf->services[i].name);
	bot_reply(r, &t);
	return -1;
}

static void
cmd_grant(const struct pks_tg_req *r, size_t ci)
{
	struct text	 t = { .len = 0 };
	struct grant	 g, old, *o;
	const char	*name;
	char		 until[32];
	uint32_t	 secs = 0;
	int		 si, svc, had;

	if ((si = target(r, &g.user, &name, 1, 2)) == -1) {
		usage(r, ci);
		return;
	}
	if ((svc = service_word(r, r->argv[si])) == -1)
		return;
	if (r->nargs > (uint32_t)si + 1 &&
	    state_duration(r->argv[si + 1], &secs) == -1) {
		text_add(&t, "Not a duration: \"");
		text_esc(&t, r->argv[si + 1]);
		text_add(&t, "\" (like 30m, 2h, 7d; at most 365d).");
		bot_reply(r, &t);
		return;
	}
	memset(g.service, 0, sizeof(g.service));
	snprintf(g.service, sizeof(g.service), "%s",
	    env->conf->services[svc].name);
	g.since = time(NULL);
	g.until = secs ? g.since + secs : 0;
	g.by = r->user_id;
	snprintf(g.name, sizeof(g.name), "%s", name);
	if ((o = state_find(&env->state, g.user, g.service)) != NULL) {
		old = *o;
		had = 1;
	} else
		had = 0;
	if (state_grant(&env->state, &g) == -1) {
		text_add(&t, "Cannot grant: at most %d grants.",
		    STATE_GRANTS_MAX);
		bot_reply(r, &t);
		return;
	}
	if (save() == -1) {
		/* never more rights than the file holds */
		if (had)
			state_grant(&env->state, &old);
		else
			state_ungrant(&env->state, g.user, g.service);
		text_add(&t, "Not granted: the state file cannot be written "
		    "(see the log).");
		bot_reply(r, &t);
		return;
	}
	if (g.until)
		when(g.until, until, sizeof(until));
	else
		snprintf(until, sizeof(until), "ungranted");
	log_info("admin %s (%lld) granted %s to %lld%s%s until %s",
	    r->user_name, (long long)r->user_id, g.service,
	    (long long)g.user, name[0] ? " " : "", name, until);
	text_add(&t, "Granted %s to ", g.service);
	text_who(&t, name, g.user);
	text_add(&t, " until %s%s.", until, had ? " (replaces the earlier "
	    "grant)" : "");
	bot_reply(r, &t);
	notify_action(r, "granted %s to %lld until %s", g.service,
	    (long long)g.user, until);
}

static void
cmd_ungrant(const struct pks_tg_req *r, size_t ci)
{
	struct text	 t = { .len = 0 };
	const char	*name, *svcname;
	int64_t		 user;
	int		 si, svc, n, saved;

	if ((si = target(r, &user, &name, 1, 1)) == -1 ||
	    !conf_valid_name(r->argv[si])) {
		usage(r, ci);
		return;
	}
	svcname = r->argv[si];
	if (state_ungrant(&env->state, user, svcname) == -1) {
		text_add(&t, "%lld has no grant for ", (long long)user);
		text_esc(&t, svcname);
		text_add(&t, ".");
		if ((svc = conf_service_index(env->conf, svcname)) != -1 &&
		    bot_allowed(user, user, svc))
			text_add(&t, " The configuration allows it: only "
			    "pks.conf can change that.");
		bot_reply(r, &t);
		return;
	}
	saved = save() == 0;
	n = revoke_unallowed(user);
	log_info("admin %s (%lld) ungranted %s from %lld; %d live "
	    "sequence(s) revoked", r->user_name, (long long)r->user_id,
	    svcname, (long long)user, n);
	text_add(&t, "Ungranted %s from ", svcname);
	text_who(&t, name, user);
	text_add(&t, "; %d live sequence%s revoked.", n, n == 1 ? "" : "s");
	if ((svc = conf_service_index(env->conf, svcname)) != -1 &&
	    bot_allowed(user, user, svc))
		text_add(&t, " The configuration still allows it.");
	if (!saved)
		text_add(&t, " The state file cannot be written (see the "
		    "log): a restart would bring the grant back.");
	bot_reply(r, &t);
	notify_action(r, "ungranted %s from %lld", svcname, (long long)user);
}

static void
cmd_users(const struct pks_tg_req *r)
{
	struct text	 t = { .len = 0 };
	struct pks_conf	*conf = env->conf;
	char		 buf[32];
	size_t		 i;
	int		 s;

	text_add(&t, "<b>Lockdown</b>: ");
	if (env->state.lockdown)
		text_add(&t, "ON since %s, by %lld\n",
		    when(env->state.lock_since, buf, sizeof(buf)),
		    (long long)env->state.lock_by);
	else
		text_add(&t, "off\n");
	text_add(&t, "<b>Admins</b>:");
	for (i = 0; i < conf->nadmins; i++)
		text_add(&t, " %lld", (long long)conf->admins[i]);
	text_add(&t, "\n<b>From the configuration</b>:\n");
	for (i = 0; i < conf->ngrants; i++) {
		text_add(&t, "%s %lld:", conf->grants[i].kind == GRANT_CHAT ?
		    "chat" : "user", (long long)conf->grants[i].id);
		for (s = 0; s < conf->nservices; s++)
			if (conf->grants[i].services & (1ULL << s))
				text_add(&t, " %s", conf->services[s].name);
		text_add(&t, "\n");
	}
	if (conf->ngrants == 0)
		text_add(&t, "nobody\n");
	text_add(&t, "<b>Granted by an admin</b>:\n");
	for (i = 0; i < env->state.ngrants; i++) {
		const struct grant	*g = &env->state.grants[i];

		text_add(&t, "user ");
		text_who(&t, g->name, g->user);
		text_add(&t, ": %s, by %lld, ", g->service, (long long)g->by);
		if (g->until)
			text_add(&t, "until %s", when(g->until, buf,
			    sizeof(buf)));
		else
			text_add(&t, "until ungranted");
		if (conf_service_index(conf, g->service) == -1)
			text_add(&t, " (no such service: not in force)");
		text_add(&t, "\n");
	}
	if (env->state.ngrants == 0)
		text_add(&t, "nobody\n");
	if (env->state_refused)
		text_add(&t, "The state file was refused at start: see the "
		    "log.\n");
	reply_private(r, &t);
}

static void
cmd_windows(const struct pks_tg_req *r)
{
	struct text	 t = { .len = 0 };
	struct window	*w;
	time_t		 now = time(NULL);
	char		 a[INET6_ADDRSTRLEN];
	int		 n = 0;

	for (w = env->windows; w != NULL; w = w->next) {
		if (w->expires == 0)
			continue;
		text_who(&t, w->user_name, w->user_id);
		text_add(&t, ": %s from %s, %lld s left%s\n", w->svcname,
		    addr_str(w->w.af, w->w.addr, a, sizeof(a)),
		    (long long)(w->expires > now ? w->expires - now : 0),
		    w->open ? "" : " (opening)");
		n++;
	}
	if (n == 0)
		text_add(&t, "No open window.");
	reply_private(r, &t);
}

static void
cmd_close(const struct pks_tg_req *r, size_t ci)
{
	struct text	t = { .len = 0 };
	uint8_t		addr[16];
	int		af, n;

	if (r->nargs != 1) {
		usage(r, ci);
		return;
	}
	if (inet_pton(AF_INET, r->argv[0], addr) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, r->argv[0], addr) == 1)
		af = AF_INET6;
	else {
		text_add(&t, "Not an IPv4 or IPv6 address: \"");
		text_esc(&t, r->argv[0]);
		text_add(&t, "\".");
		reply_private(r, &t);
		return;
	}
	n = win_close_addr(af, addr);
	log_info("admin %s (%lld) closed %d window(s) of %s", r->user_name,
	    (long long)r->user_id, n, r->argv[0]);
	text_add(&t, "Closing %d window%s of %s.", n, n == 1 ? "" : "s",
	    r->argv[0]);
	reply_private(r, &t);
	notify_action(r, "closed %d window(s) of %s", n, r->argv[0]);
}

static void
cmd_revoke_user(const struct pks_tg_req *r, size_t ci)
{
	struct text	t = { .len = 0 };
	int64_t		user = 0;
	int		n, all;

	all = r->nargs == 1 && strcmp(r->argv[0], "all") == 0;
	if (r->nargs != 1 || (!all && state_user_id(r->argv[0], &user) ==
	    -1)) {
		usage(r, ci);
		return;
	}
	n = seq_revoke_user(user, all);
	log_info("admin %s (%lld) revoked %d sequence(s) of %s",
	    r->user_name, (long long)r->user_id, n, r->argv[0]);
	text_add(&t, "Revoked %d live sequence%s of %s.", n,
	    n == 1 ? "" : "s", all ? "everyone" : r->argv[0]);
	bot_reply(r, &t);
	notify_action(r, "revoked %d sequence(s) of %s", n, all ? "everyone" :
	    r->argv[0]);
}

/* every window closes; their owners are told by seq.c */
static int
close_all_windows(void)
{
	struct window	*w;
	int		 n = 0;

	for (w = env->windows; w != NULL; w = w->next)
		if (w->expires != 0)
			n += win_close_addr(w->w.af, w->w.addr);
	return n;
}

static void
cmd_lockdown(const struct pks_tg_req *r, size_t ci)
{
	struct text	t = { .len = 0 };
	char		buf[32];
	int		ns, nw, saved;

	if (r->nargs != 0) {
		usage(r, ci);
		return;
	}
	if (env->state.lockdown) {
		text_add(&t, "Already locked down, since %s by %lld.",
		    when(env->state.lock_since, buf, sizeof(buf)),
		    (long long)env->state.lock_by);
		bot_reply(r, &t);
		return;
	}
	env->state.lockdown = 1;
	env->state.lock_by = r->user_id;
	env->state.lock_since = time(NULL);
	saved = save() == 0;
	ns = seq_revoke_user(0, 1);
	nw = close_all_windows();
	log_warnx("admin %s (%lld) locked everything down: %d sequence(s) "
	    "revoked, %d window(s) closing", r->user_name,
	    (long long)r->user_id, ns, nw);
	text_add(&t, "Locked down: %d live sequence%s revoked, %d window%s "
	    "closing. No sequence is issued or accepted until /unlock.",
	    ns, ns == 1 ? "" : "s", nw, nw == 1 ? "" : "s");
	if (!saved)
		text_add(&t, " The state file cannot be written (see the "
		    "log): a restart would lift the lockdown.");
	bot_reply(r, &t);
	notify_action(r, "locked everything down");
}

static void
cmd_unlock(const struct pks_tg_req *r, size_t ci)
{
	struct text	t = { .len = 0 };

	if (r->nargs != 0) {
		usage(r, ci);
		return;
	}
	if (!env->state.lockdown) {
		text_add(&t, "Not locked down.");
		bot_reply(r, &t);
		return;
	}
	env->state.lockdown = 0;
	if (save() == -1) {
		env->state.lockdown = 1;
		text_add(&t, "Still locked down: the state file cannot be "
		    "written (see the log).");
		bot_reply(r, &t);
		return;
	}
	env->state.lock_by = 0;
	env->state.lock_since = 0;
	log_warnx("admin %s (%lld) lifted the lockdown", r->user_name,
	    (long long)r->user_id);
	text_add(&t, "Lockdown lifted: sequences are issued again.");
	bot_reply(r, &t);
	notify_action(r, "lifted the lockdown");
}

void
admin_request(const struct pks_tg_req *r)
{
	struct text	t = { .len = 0 };
	size_t		ci;
	uint32_t	i;

	if ((ci = cmd_index(r->cmd)) == NCMDS)
		return;
	if (!bot_is_admin(r->user_id)) {
		log_warnx("refused /%s from %s (user %lld, chat %lld): not an "
		    "admin", cmds[ci].name, r->user_name,
		    (long long)r->user_id, (long long)r->chat_id);
		text_add(&t, "Sorry, /%s is for administrators only.",
		    cmds[ci].name);
		if (r->cmd == TG_CMD_REVOKE_USER)
			text_add(&t, " /revoke alone cancels your own "
			    "sequences.");
		bot_reply(r, &t);
		return;
	}
	/* a word the worker found of a bad shape came as "" */
	for (i = 0; i < r->nargs && i < PKS_ARGS_MAX; i++)
		if (r->argv[i][0] == '\0') {
			usage(r, ci);
			return;
		}
	if (r->age > ADMIN_MAX_AGE) {
		log_info("ignored /%s from admin %s (%lld): %u seconds old",
		    cmds[ci].name, r->user_name, (long long)r->user_id,
		    r->age);
		text_add(&t, "That /%s is %u seconds old and was not acted "
		    "on: send it again.", cmds[ci].name, r->age);
		bot_reply(r, &t);
		return;
	}
	switch (r->cmd) {
	case TG_CMD_GRANT:
		cmd_grant(r, ci);
		break;
	case TG_CMD_UNGRANT:
		cmd_ungrant(r, ci);
		break;
	case TG_CMD_USERS:
		cmd_users(r);
		break;
	case TG_CMD_WINDOWS:
		cmd_windows(r);
		break;
	case TG_CMD_CLOSE:
		cmd_close(r, ci);
		break;
	case TG_CMD_REVOKE_USER:
		cmd_revoke_user(r, ci);
		break;
	case TG_CMD_LOCKDOWN:
		cmd_lockdown(r, ci);
		break;
	case TG_CMD_UNLOCK:
		cmd_unlock(r, ci);
		break;
	}
}

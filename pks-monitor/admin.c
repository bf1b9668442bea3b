/*
 * admin.c: the admin commands, for requests of any origin.
 *
 * A front end only splits the words of a command: who is an admin, and
 * what every word means, is decided here, from the monitor's own
 * configuration ("admin user").  A compromised worker can relay a
 * request in a non-admin's name; it is refused like any other.
 *
 * Every change is written to the state file (grants.c) before it is
 * answered.  A change that widens rights (a grant, an unlock) is undone
 * if it cannot be saved, so a restart never brings back more than an
 * admin was told; one that narrows them (ungrant, lockdown) stays in
 * force even then, and the admin is told it will not survive a restart.
 *
 * Each handler fills a reply, and a note for the people who follow
 * admin actions; request.c sends both through the request's origin.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

#define ADMIN_MAX_AGE	600	/* seconds: an admin command older than
				   this (the monitor was down) is stale */

static const struct {
	enum req_cmd	 cmd;
	const char	*name;
	const char	*usage;
} cmds[] = {
	{ REQ_GRANT, "grant", "/grant USER_ID SERVICE [DURATION], or "
	    "/grant SERVICE [DURATION] as a reply to the user's message; "
	    "DURATION like 30m, 2h, 7d (at most 365d), none: until "
	    "/ungrant" },
	{ REQ_UNGRANT, "ungrant", "/ungrant USER_ID SERVICE, or "
	    "/ungrant SERVICE as a reply to the user's message" },
	{ REQ_USERS, "users", "/users" },
	{ REQ_WINDOWS, "windows", "/windows" },
	{ REQ_CLOSE, "close", "/close ADDRESS" },
	{ REQ_REVOKE_USER, "revoke", "/revoke USER_ID|all" },
	{ REQ_LOCKDOWN, "lockdown", "/lockdown" },
	{ REQ_UNLOCK, "unlock", "/unlock" },
	{ REQ_RECOVERY, "recovery", "/recovery USER_ID SERVICE [COUNT] "
	    "(1 to 10 break-glass sequences, shown once: keep them offline), "
	    "/recovery revoke ID|all, or /recovery alone to list them; in "
	    "a private chat with me only" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static size_t
cmd_index(enum req_cmd cmd)
{
	size_t	i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].cmd == cmd)
			break;
	return i;
}

int
admin_is_command(enum req_cmd cmd)
{
	return cmd_index(cmd) != NCMDS;
}

/* admin action: "ada (6123) granted ssh to 777 ..." for notify users */
static void
note(struct reply *n, const struct request *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
note(struct reply *n, const struct request *r, const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	reply_who(n, r->user_name, r->user);
	reply_add(n, " %s", buf);
}

/* the admin part of /help */
void
admin_help(struct reply *rp)
{
	size_t	i;

	reply_add(rp, "\n\nYou are an administrator:");
	for (i = 0; i < NCMDS; i++)
		reply_add(rp, "\n%s", cmds[i].usage);
	if (env->conf->has_fleet && env->conf->fleet_role == PKS_FLEET_FRONT)
		reply_add(rp, "\nIn this fleet, each takes a "
		    "host's name, or all, as its first word: /lockdown all, "
		    "/revoke web2 USER_ID, /grant web2 USER_ID SERVICE "
		    "[DURATION]; each host checks its own administrators.");
}

/*
 * An answer that names users or addresses: in a group it goes to the
 * admin's private chat, and if the admin never started the bot, the
 * group gets a hint instead.
 */
static void
to_private(struct reply *rp)
{
	rp->to = REPLY_PRIVATE;
	text_add(&rp->alt, "The answer names users or addresses: please "
	    "open a private chat with me, press Start, then ask again.");
}

/*
 * The usage line, in the words the command was asked in: in a fleet,
 * each form names the host first as the front takes it ("/recovery web2
 * USER_ID SERVICE", answered by web2; "/recovery [HOST|all] ..." by the
 * front).
 */
static void
usage(struct reply *rp, const struct request *r, size_t ci)
{
	const char	*u = cmds[ci].usage, *p;
	size_t		 n = strlen(cmds[ci].name);

	reply_add(rp, "Usage: ");
	while (r->where[0] != '\0' && (p = strchr(u, '/')) != NULL) {
		p++;
		if (strncmp(p, cmds[ci].name, n) == 0 && (p[n] == ' ' ||
		    p[n] == ',' || p[n] == '\0')) {
			reply_add(rp, "%.*s %s", (int)(p + n - u), u,
			    r->where);
			u = p + n;
		} else {
			reply_add(rp, "%.*s", (int)(p - u), u);
			u = p;
		}
	}
	reply_add(rp, "%s", u);
}

/*
 * The target of /grant and /ungrant: "USER_ID SERVICE ..." or, as a
 * reply to a user's message, "SERVICE ...".  Returns the index of the
 * service word, -1 if the words fit neither form.
 */
static int
target(const struct request *r, int64_t *user, const char **name,
    uint32_t minw, uint32_t maxw)
{
	if (r->nargs >= minw + 1 && r->nargs <= maxw + 1 &&
	    user_id_parse(r->argv[0], user) == 0) {
		*name = "";
		return 1;
	}
	if (r->reply_user > 0 && r->nargs >= minw && r->nargs <= maxw &&
	    r->argv[0][0] != '\0' && user_id_parse(r->argv[0], user) == -1) {
		*user = r->reply_user;
		*name = r->reply_user_name;
		return 0;
	}
	return -1;
}

static int
service_word(struct reply *rp, const char *w)
{
	int	i, svc;

	if ((svc = conf_service_index(env->conf, w)) != -1)
		return svc;
	reply_add(rp, "The configuration defines no service \"%s\". "
	    "Services:", w);
	for (i = 0; i < env->conf->nservices; i++)
		reply_add(rp, " %s", env->conf->services[i].name);
	return -1;
}

static void
cmd_grant(const struct request *r, size_t ci, struct reply *rp,
    struct reply *nt)
{
	struct grant	 g, old, *o;
	const char	*name;
	char		 until[32];
	uint32_t	 secs = 0;
	int		 si, svc, had;

	if ((si = target(r, &g.user, &name, 1, 2)) == -1) {
		usage(rp, r, ci);
		return;
	}
	if ((svc = service_word(rp, r->argv[si])) == -1)
		return;
	if (r->nargs > (uint32_t)si + 1 &&
	    state_duration(r->argv[si + 1], &secs) == -1) {
		reply_add(rp, "Not a duration: \"%s\" (like 30m, 2h, 7d; at "
		    "most 365d).", r->argv[si + 1]);
		return;
	}
	memset(g.service, 0, sizeof(g.service));
	snprintf(g.service, sizeof(g.service), "%s",
	    env->conf->services[svc].name);
	g.since = time(NULL);
	g.until = secs ? mono_now() + secs : 0;
	g.by = r->user;
	snprintf(g.name, sizeof(g.name), "%s", name);
	if ((o = state_find(&env->state, g.user, g.service)) != NULL) {
		old = *o;
		had = 1;
	} else
		had = 0;
	if (state_grant(&env->state, &g) == -1) {
		reply_add(rp, "Cannot grant: at most %d grants.",
		    STATE_GRANTS_MAX);
		return;
	}
	if (grants_save() == -1) {
		/* never more rights than the file holds */
		if (had)
			state_grant(&env->state, &old);
		else
			state_ungrant(&env->state, g.user, g.service);
		reply_add(rp, "Not granted: the state file cannot be written "
		    "(see the log).");
		return;
	}
	if (g.until)
		clock_date(mono_to_wall(g.until), until, sizeof(until));
	else
		snprintf(until, sizeof(until), "ungranted");
	log_info("admin %s (%lld) granted %s to %lld%s%s until %s",
	    r->user_name, (long long)r->user, g.service,
	    (long long)g.user, name[0] ? " " : "", name, until);
	reply_add(rp, "Granted %s to ", g.service);
	reply_who(rp, name, g.user);
	reply_add(rp, " until %s%s.", until, had ? " (replaces the earlier "
	    "grant)" : "");
	note(nt, r, "granted %s to %lld until %s", g.service,
	    (long long)g.user, until);
}

static void
cmd_ungrant(const struct request *r, size_t ci, struct reply *rp,
    struct reply *nt)
{
	const char	*name, *svcname;
	int64_t		 user;
	int		 si, svc, n, saved;

	if ((si = target(r, &user, &name, 1, 1)) == -1 ||
	    !conf_valid_name(r->argv[si])) {
		usage(rp, r, ci);
		return;
	}
	svcname = r->argv[si];
	if (state_ungrant(&env->state, user, svcname) == -1) {
		reply_add(rp, "%lld has no grant for %s.", (long long)user,
		    svcname);
		if ((svc = conf_service_index(env->conf, svcname)) != -1 &&
		    policy_allowed(user, user, svc))
			reply_add(rp, " The configuration allows it: only "
			    "pks.conf can change that.");
		return;
	}
	saved = grants_save() == 0;
	n = seq_revoke_unallowed(user);
	log_info("admin %s (%lld) ungranted %s from %lld; %d live "
	    "sequence(s) revoked", r->user_name, (long long)r->user,
	    svcname, (long long)user, n);
	reply_add(rp, "Ungranted %s from ", svcname);
	reply_who(rp, name, user);
	reply_add(rp, "; %d live sequence%s revoked.", n, n == 1 ? "" : "s");
	if ((svc = conf_service_index(env->conf, svcname)) != -1 &&
	    policy_allowed(user, user, svc))
		reply_add(rp, " The configuration still allows it.");
	if (!saved)
		reply_add(rp, " The state file cannot be written (see the "
		    "log): a restart would bring the grant back.");
	note(nt, r, "ungranted %s from %lld", svcname, (long long)user);
}

static void
heading(struct reply *rp, const char *h)
{
	reply_style(rp, STYLE_BOLD);
	reply_add(rp, "%s", h);
	reply_style(rp, STYLE_PLAIN);
}

/* who set the lockdown: an admin's id, or "pksctl" (0: the console) */
static void
reply_lock_by(struct reply *rp)
{
	if (env->state.lock_by == 0)
		reply_add(rp, "pksctl");
	else
		reply_add(rp, "%lld", (long long)env->state.lock_by);
}

static void
cmd_users(struct reply *rp)
{
	struct pks_conf	*conf = env->conf;
	char		 buf[32];
	size_t		 i;
	int		 s;

	heading(rp, "Lockdown");
	reply_add(rp, ": ");
	if (env->state.lockdown) {
		reply_add(rp, "ON since %s, by ",
		    clock_date(env->state.lock_since, buf, sizeof(buf)));
		reply_lock_by(rp);
		reply_add(rp, "\n");
	} else
		reply_add(rp, "off\n");
	heading(rp, "Admins");
	reply_add(rp, ":");
	for (i = 0; i < conf->nadmins; i++)
		reply_add(rp, " %lld", (long long)conf->admins[i]);
	reply_add(rp, "\n");
	heading(rp, "From the configuration");
	reply_add(rp, ":\n");
	for (i = 0; i < conf->ngrants; i++) {
		reply_add(rp, "%s %lld:", conf->grants[i].kind == GRANT_CHAT ?
		    "chat" : "user", (long long)conf->grants[i].id);
		for (s = 0; s < conf->nservices; s++)
			if (conf->grants[i].services & (1ULL << s))
				reply_add(rp, " %s", conf->services[s].name);
		reply_add(rp, "\n");
	}
	if (conf->ngrants == 0)
		reply_add(rp, "nobody\n");
	heading(rp, "Granted by an admin");
	reply_add(rp, ":\n");
	for (i = 0; i < env->state.ngrants; i++) {
		const struct grant	*g = &env->state.grants[i];

		reply_add(rp, "user ");
		reply_who(rp, g->name, g->user);
		reply_add(rp, ": %s, by %lld, ", g->service, (long long)g->by);
		if (g->until)
			reply_add(rp, "until %s", clock_date(mono_to_wall(g->until),
			    buf, sizeof(buf)));
		else
			reply_add(rp, "until ungranted");
		if (conf_service_index(conf, g->service) == -1)
			reply_add(rp, " (no such service: not in force)");
		reply_add(rp, "\n");
	}
	if (env->state.ngrants == 0)
		reply_add(rp, "nobody\n");
	if (env->state_refused)
		reply_add(rp, "The state file was refused at start: see the "
		    "log.\n");
	to_private(rp);
}

static void
cmd_windows(struct reply *rp)
{
	const struct window	*w;
	time_t			 now = mono_now();
	char			 a[INET6_ADDRSTRLEN];
	int			 n = 0;

	for (w = NULL; (w = win_each(w, 0, 0)) != NULL; n++) {
		reply_who(rp, w->user_name, w->user_id);
		reply_add(rp, ": %s from %s, %lld s left%s\n", w->svcname,
		    addr_str(w->w.af, w->w.addr, a, sizeof(a)),
		    win_left(w, now), w->state == WIN_OPEN ? "" :
		    " (opening)");
	}
	if (n == 0)
		reply_add(rp, "No open window.");
	to_private(rp);
}

static void
cmd_close(const struct request *r, size_t ci, struct reply *rp,
    struct reply *nt)
{
	uint8_t	addr[16];
	int	af, n;

	if (r->nargs != 1) {
		usage(rp, r, ci);
		return;
	}
	to_private(rp);
	if (addr_parse(r->argv[0], &af, addr) == -1) {
		reply_add(rp, "Not an IPv4 or IPv6 address: \"%s\".",
		    r->argv[0]);
		return;
	}
	n = win_close_addr(af, addr);
	log_info("admin %s (%lld) closed %d window(s) of %s", r->user_name,
	    (long long)r->user, n, r->argv[0]);
	reply_add(rp, "Closing %d window%s of %s.", n, n == 1 ? "" : "s",
	    r->argv[0]);
	note(nt, r, "closed %d window(s) of %s", n, r->argv[0]);
}

static void
cmd_revoke_user(const struct request *r, size_t ci, struct reply *rp,
    struct reply *nt)
{
	int64_t	user = 0;
	int	n, all;

	all = r->nargs == 1 && strcmp(r->argv[0], "all") == 0;
	if (r->nargs != 1 || (!all && user_id_parse(r->argv[0], &user) ==
	    -1)) {
		usage(rp, r, ci);
		return;
	}
	n = seq_revoke_user(user, all);
	log_info("admin %s (%lld) revoked %d sequence(s) of %s",
	    r->user_name, (long long)r->user, n, r->argv[0]);
	reply_add(rp, "Revoked %d live sequence%s of %s.", n,
	    n == 1 ? "" : "s", all ? "everyone" : r->argv[0]);
	note(nt, r, "revoked %d sequence(s) of %s", n, all ? "everyone" :
	    r->argv[0]);
}

/*
 * Set (on) or lift the lockdown, for an admin of any origin or for the
 * console (by 0: pksctl, as root).  The answer in rp, a line for the
 * notify users in nt.  -1 if it was asked and could not be done.
 */
int
admin_lockdown(int on, int64_t by, const char *by_name, struct reply *rp,
    struct reply *nt)
{
	char	who[96], date[32];
	int	ns, nw, saved;

	actor_str(by, by_name, who, sizeof(who));
	if (on && env->state.lockdown) {
		reply_add(rp, "Already locked down, since %s by ",
		    clock_date(env->state.lock_since, date, sizeof(date)));
		reply_lock_by(rp);
		reply_add(rp, ".");
		return 0;
	}
	if (!on && !env->state.lockdown) {
		reply_add(rp, "Not locked down.");
		return 0;
	}
	if (!on) {
		env->state.lockdown = 0;
		if (grants_save() == -1) {
			env->state.lockdown = 1;
			reply_add(rp, "Still locked down: the state file "
			    "cannot be written (see the log).");
			return -1;
		}
		env->state.lock_by = 0;
		env->state.lock_since = 0;
		log_warnx("%s lifted the lockdown", who);
		reply_add(rp, "Lockdown lifted: sequences are issued again.");
		reply_actor(nt, by, by_name);
		reply_add(nt, " lifted the lockdown");
		return 0;
	}
	env->state.lockdown = 1;
	env->state.lock_by = by;
	env->state.lock_since = time(NULL);
	saved = grants_save() == 0;
	ns = seq_revoke_user(0, 1);
	nw = win_close_every();
	log_warnx("%s locked everything down: %d sequence(s) revoked, %d "
	    "window(s) closing", who, ns, nw);
	reply_add(rp, "Locked down: %d live sequence%s revoked, %d window%s "
	    "closing. No sequence is issued or accepted until /unlock or "
	    "pksctl lockdown off.", ns, ns == 1 ? "" : "s", nw,
	    nw == 1 ? "" : "s");
	if (!saved)
		reply_add(rp, " The state file cannot be written (see the "
		    "log): a restart would lift the lockdown.");
	reply_actor(nt, by, by_name);
	reply_add(nt, " locked everything down");
	return 0;
}

/* An admin command: the reply in rp, a line for notify users in nt. */
void
admin_handle(const struct request *r, struct reply *rp, struct reply *nt)
{
	size_t		ci;
	uint32_t	i;

	if ((ci = cmd_index(r->cmd)) == NCMDS)
		return;
	if (!policy_is_admin(r->user)) {
		log_warnx("refused /%s from %s (user %lld, chat %lld): not an "
		    "admin", cmds[ci].name, r->user_name,
		    (long long)r->user, (long long)r->chat);
		reply_add(rp, "Sorry, /%s is for administrators only.",
		    cmds[ci].name);
		if (r->cmd == REQ_REVOKE_USER)
			reply_add(rp, " /revoke alone cancels your own "
			    "sequences.");
		return;
	}
	/* a word the front end found of a bad shape came as "" */
	for (i = 0; i < r->nargs && i < PKS_ARGS_MAX; i++)
		if (r->argv[i][0] == '\0') {
			usage(rp, r, ci);
			return;
		}
	if (r->age > ADMIN_MAX_AGE) {
		log_info("ignored /%s from admin %s (%lld): %u seconds old",
		    cmds[ci].name, r->user_name, (long long)r->user,
		    r->age);
		reply_add(rp, "That /%s is %u seconds old and was not acted "
		    "on: send it again.", cmds[ci].name, r->age);
		return;
	}
	switch (r->cmd) {
	case REQ_GRANT:
		cmd_grant(r, ci, rp, nt);
		break;
	case REQ_UNGRANT:
		cmd_ungrant(r, ci, rp, nt);
		break;
	case REQ_USERS:
	case REQ_WINDOWS:
		/* no word: in a fleet the front took the host's name off */
		if (r->nargs != 0)
			usage(rp, r, ci);
		else if (r->cmd == REQ_USERS)
			cmd_users(rp);
		else
			cmd_windows(rp);
		break;
	case REQ_CLOSE:
		cmd_close(r, ci, rp, nt);
		break;
	case REQ_REVOKE_USER:
		cmd_revoke_user(r, ci, rp, nt);
		break;
	case REQ_LOCKDOWN:
	case REQ_UNLOCK:
		if (r->nargs != 0)
			usage(rp, r, ci);
		else
			admin_lockdown(r->cmd == REQ_LOCKDOWN, r->user,
			    r->user_name, rp, nt);
		break;
	case REQ_RECOVERY:
		if (recovery_command(r, rp, nt) == -1)
			usage(rp, r, ci);
		break;
	default:
		break;
	}
}

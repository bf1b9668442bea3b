/*
 * bot.c: what the monitor answers to Telegram commands.
 *
 * pks-telegram only relays: rights are decided here, from the
 * configuration, for every request.  A sequence is only ever sent to
 * its requester's private chat; a group gets a neutral line.
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
#include <unistd.h>

#include "log.h"
#include "monitor.h"

#define MAX_AGE		60	/* seconds: older commands are stale */

/*
 * The forum topic of the request being handled (0: none): whatever is
 * sent to that group while it is handled goes to the topic the command
 * came from, not to General.
 */
static uint32_t	cur_thread;

/* room kept for "... and N more lines" when a text is full */
#define TEXT_MORE	48

/*
 * Append to t, a whole piece or nothing: once a piece does not fit,
 * t is full and later pieces are only counted (their lines), so a long
 * answer (/users with hundreds of grants) is never cut inside a UTF-8
 * character or an entity; text_finish() then ends it on a line.
 */
void
text_add(struct text *t, const char *fmt, ...)
{
	char	piece[PKS_TEXT_MAX];
	va_list	ap;
	int	n, i;

	va_start(ap, fmt);
	n = vsnprintf(piece, sizeof(piece), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (!t->full && (size_t)n < sizeof(piece) &&
	    t->len + n < sizeof(t->buf) - TEXT_MORE) {
		memcpy(t->buf + t->len, piece, n + 1);
		t->len += n;
		return;
	}
	t->full = 1;
	for (i = 0; i < n && (size_t)i < sizeof(piece) - 1; i++)
		if (piece[i] == '\n')
			t->more++;
	t->open_line = n > 0 && piece[n - 1] != '\n';
}

/*
 * A full text ends on its last whole line, then says how many lines
 * did not fit.  A text with no line break at all ends on a character.
 */
static void
text_finish(struct text *t)
{
	size_t	 cut = t->len;
	char	*nl;
	int	 n;

	if (!t->full)
		return;
	if ((nl = memrchr(t->buf, '\n', t->len)) != NULL)
		cut = nl - t->buf + 1;
	else
		while (cut > 0 && ((unsigned char)t->buf[cut] & 0xc0) == 0x80)
			cut--;
	/* into the room kept for it */
	n = snprintf(t->buf + cut, sizeof(t->buf) - cut, "... and %u more "
	    "line%s", t->more + t->open_line,
	    t->more + t->open_line == 1 ? "" : "s");
	t->len = cut + (n > 0 && (size_t)n < sizeof(t->buf) - cut ? n : 0);
	t->buf[t->len] = '\0';
	t->full = 0;
}

/* HTML-escape untrusted text (names come from Telegram users) */
void
text_esc(struct text *t, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			text_add(t, "&lt;");
			break;
		case '>':
			text_add(t, "&gt;");
			break;
		case '&':
			text_add(t, "&amp;");
			break;
		default:
			text_add(t, "%c", *s);
		}
	}
}

void
bot_send(uint32_t reqid, int64_t chat, uint32_t flags, const struct text *t,
    int64_t fallback_chat, const struct text *second)
{
	struct pks_tg_send	ts;
	struct iovec		iov[3];
	struct text		tf, sf;

	if (t->full) {
		tf = *t;
		text_finish(&tf);
		t = &tf;
	}
	if (second != NULL && second->full) {
		sf = *second;
		text_finish(&sf);
		second = &sf;
	}
	memset(&ts, 0, sizeof(ts));
	ts.reqid = reqid;
	ts.flags = flags | TG_SEND_HTML;
	ts.chat_id = chat;
	ts.fallback_chat = fallback_chat;
	ts.textlen = t->len;
	ts.fallbacklen = second ? second->len : 0;
	if (chat < 0 || ((flags & TG_SEND_FALLBACK) && fallback_chat < 0))
		ts.thread_id = cur_thread;
	iov[0].iov_base = &ts;
	iov[0].iov_len = sizeof(ts);
	iov[1].iov_base = (void *)t->buf;
	iov[1].iov_len = t->len;
	iov[2].iov_base = second ? (void *)second->buf : NULL;
	iov[2].iov_len = second ? second->len : 0;
	child_sendv(PROC_TELEGRAM, IMSG_TG_SEND, iov, 3);
}

void
bot_reply(const struct pks_tg_req *r, const struct text *t)
{
	bot_send(r->reqid, r->chat_id, 0, t, 0, NULL);
}

static void
done(uint32_t reqid)
{
	child_send(PROC_TELEGRAM, IMSG_TG_DONE, -1, &reqid, sizeof(reqid));
}

/* Is user an admin?  Only the configuration says so. */
int
bot_is_admin(int64_t user)
{
	size_t	i;

	for (i = 0; i < env->conf->nadmins; i++)
		if (env->conf->admins[i] == user && user != 0)
			return 1;
	return 0;
}

/*
 * May user (asking in chat) open service svc?  Deny by default: the
 * configuration's allow statements, then the grants an admin made
 * (state.c), by service name, while they last.
 */
int
bot_allowed(int64_t user, int64_t chat, int svc)
{
	struct pks_conf	*conf = env->conf;
	size_t		 i;

	if (svc < 0 || svc >= conf->nservices)
		return 0;
	if (user != 0 && state_allows(&env->state, user,
	    conf->services[svc].name, time(NULL)))
		return 1;
	for (i = 0; i < conf->ngrants; i++) {
		const struct conf_grant	*g = &conf->grants[i];

		if (!(g->services & (1ULL << svc)))
			continue;
		if (g->kind == GRANT_USER && g->id == user)
			return 1;
		if (g->kind == GRANT_CHAT && g->id == chat)
			return 1;
	}
	return 0;
}

static int
allowed_list(const struct pks_tg_req *r, struct text *names)
{
	int	i, n = 0;

	memset(names, 0, sizeof(*names));
	for (i = 0; i < env->conf->nservices; i++)
		if (bot_allowed(r->user_id, r->chat_id, i)) {
			text_add(names, "%s%s", n ? " " : "",
			    env->conf->services[i].name);
			n++;
		}
	return n;
}

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

static void
cmd_help(const struct pks_tg_req *r)
{
	struct text	t = { .len = 0 }, names;
	int		n;

	n = allowed_list(r, &names);
	text_add(&t, "I hand out one-time port-knocking sequences.\n\n"
	    "/generate [service] [address] - a fresh sequence, sent to you "
	    "privately\n/status - your live sequences and open windows\n"
	    "/revoke - cancel your live sequences\n"
	    "/whoami - your ids, for the administrator\n\n");
	if (n > 0) {
		text_add(&t, "Services you may open: ");
		text_esc(&t, names.buf);
	} else
		text_add(&t, "You may not open any service here. Send /whoami "
		    "to your administrator.");
	if (bot_is_admin(r->user_id))
		admin_help(r, &t);
	bot_reply(r, &t);
}

static void
cmd_whoami(const struct pks_tg_req *r)
{
	struct text	t = { .len = 0 };

	text_add(&t, "Your user id: <code>%lld</code>\nThis chat id: "
	    "<code>%lld</code>", (long long)r->user_id,
	    (long long)r->chat_id);
	bot_reply(r, &t);
}

/*
 * A group request whose private answer is on its way: the group hears
 * of it ("Sent you WHAT in private") once delivery is known (bot_sent),
 * and the request is done then.
 */
static void
pending_add(const struct pks_tg_req *r, uint32_t seq_id, const char *what)
{
	struct pending	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->reqid = r->reqid;
	p->group_chat = r->chat_id;
	p->thread = r->thread_id;
	p->seq_id = seq_id;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->next = env->pending;
	env->pending = p;
}

static void
cmd_generate(const struct pks_tg_req *r)
{
	struct text	 t = { .len = 0 }, names, g = { .len = 0 };
	struct sequence	*s;
	uint8_t		 addr[16];
	char		 exp[16];
	struct tm	 tm;
	char		 what[64];
	int		 svc, n, af = 0, i, group;

	group = r->chat_type != TG_CHAT_PRIVATE;
	if (admin_locked()) {
		log_info("refused /generate from %s (user %lld): locked down",
		    r->user_name, (long long)r->user_id);
		text_add(&t, "An administrator has locked everything down: no "
		    "sequence is issued until it is lifted.");
		bot_reply(r, &t);
		return;
	}
	if (!ready_hearing()) {
		log_info("refused /generate from %s (user %lld): knocks "
		    "cannot be heard right now", r->user_name,
		    (long long)r->user_id);
		text_add(&t, "Knocks cannot be heard right now (the server "
		    "is not capturing): no sequence is issued. Try again "
		    "later.");
		bot_reply(r, &t);
		return;
	}
	if (r->age > MAX_AGE) {
		text_add(&t, "That request is %u seconds old and has "
		    "expired: ask again.", r->age);
		bot_reply(r, &t);
		return;
	}
	n = allowed_list(r, &names);
	if (n == 0) {
		log_info("refused /generate from %s (user %lld, chat %lld): "
		    "not allowed", r->user_name, (long long)r->user_id,
		    (long long)r->chat_id);
		text_add(&t, "Sorry, you are not allowed to open any "
		    "service.");
		bot_reply(r, &t);
		return;
	}
	if (r->arg1[0] == '\0') {
		if (n > 1) {
			text_add(&t, "Which service?");
			bot_send(r->reqid, r->chat_id, TG_SEND_KEYBOARD, &t,
			    0, &names);
			return;
		}
		svc = -1;
		for (i = 0; i < env->conf->nservices && svc == -1; i++)
			if (bot_allowed(r->user_id, r->chat_id, i))
				svc = i;
	} else
		svc = conf_service_index(env->conf, r->arg1);
	if (svc == -1 || !bot_allowed(r->user_id, r->chat_id, svc)) {
		log_info("refused /generate %s from %s (user %lld, chat "
		    "%lld): not allowed", r->arg1, r->user_name,
		    (long long)r->user_id, (long long)r->chat_id);
		text_add(&t, "You may not open that service. Yours: ");
		text_esc(&t, names.buf);
		bot_reply(r, &t);
		return;
	}
	if (r->arg2[0] != '\0') {
		if (inet_pton(AF_INET, r->arg2, addr) == 1)
			af = AF_INET;
		else if (inet_pton(AF_INET6, r->arg2, addr) == 1)
			af = AF_INET6;
		else {
			text_add(&t, "Not an IPv4 or IPv6 address: ");
			text_esc(&t, r->arg2);
			bot_reply(r, &t);
			return;
		}
	}
	if ((s = seq_generate(svc, r->user_id, r->chat_id, r->user_name, af,
	    addr)) == NULL) {
		text_add(&t, "No sequence could be made right now; tell your "
		    "administrator.");
		bot_reply(r, &t);
		return;
	}
	/* UTC: the server's zone means nothing to the reader */
	gmtime_r(&s->expires, &tm);
	strftime(exp, sizeof(exp), "%H:%M:%S UTC", &tm);
	text_add(&t, "One-time sequence for <b>%s</b>, valid until %s",
	    env->conf->services[svc].name, exp);
	if (af != 0)
		text_add(&t, " from %s only", r->arg2);
	text_add(&t, ":\n\n<code>pks-knock ");
	text_esc(&t, knock_host());
	for (i = 0; i < s->seq.len; i++)
		text_add(&t, " %u%s", s->seq.ports[i],
		    s->seq.proto == IPPROTO_UDP ? ":udp" : "");
	text_add(&t, "</code>\n\nThen connect within %u seconds.",
	    env->conf->services[svc].open_for);
	if (env->conf->services[svc].port == 22)
		text_add(&t, " To knock and connect in one go, add "
		    "<code>-- ssh you@host</code> to that line.");
	if (!group) {
		bot_reply(r, &t);
		return;
	}
	/* in a group: the sequence goes to the requester privately */
	text_esc(&g, r->user_name[0] ? r->user_name : "You");
	text_add(&g, ", please open a private chat with me and press "
	    "Start, then ask again.");
	bot_send(r->reqid, r->user_id, TG_SEND_FALLBACK, &t, r->chat_id, &g);
	snprintf(what, sizeof(what), "a sequence for %s",
	    env->conf->services[svc].name);
	pending_add(r, s->seq.id, what);
}

static void
cmd_status(const struct pks_tg_req *r)
{
	struct text	 t = { .len = 0 }, g = { .len = 0 };
	struct sequence	*q;
	struct window	*w;
	time_t		 now = time(NULL);
	char		 a[INET6_ADDRSTRLEN];
	int		 n = 0;

	for (q = env->seqs; q != NULL; q = q->next)
		if (q->user_id == r->user_id) {
			text_add(&t, "%sSequence for %s: %lld s left\n",
			    n++ ? "" : "", q->svcname,
			    (long long)(q->expires - now));
		}
	for (w = env->windows; w != NULL; w = w->next)
		if (w->user_id == r->user_id && w->expires != 0) {
			text_add(&t, "Window: %s open for %s, %lld s left\n",
			    w->svcname, addr_str(w->w.af, w->w.addr, a,
			    sizeof(a)), (long long)(w->expires - now));
			n++;
		}
	if (n == 0)
		text_add(&t, "You have no live sequence and no open window.");
	if (r->chat_type == TG_CHAT_PRIVATE) {
		bot_reply(r, &t);
		return;
	}
	/* it names addresses and services: never in the group */
	text_add(&g, "Your status names addresses: please open a private "
	    "chat with me and press Start, then ask again.");
	bot_send(r->reqid, r->user_id, TG_SEND_FALLBACK, &t, r->chat_id, &g);
	pending_add(r, 0, "your status");
}

static void
cmd_revoke(const struct pks_tg_req *r)
{
	struct text	t = { .len = 0 };
	int		n;

	n = seq_revoke_user(r->user_id, 0);
	log_info("%s (user %lld) revoked %d sequence(s)", r->user_name,
	    (long long)r->user_id, n);
	text_add(&t, "Revoked %d live sequence%s.", n, n == 1 ? "" : "s");
	bot_reply(r, &t);
}

static int
req_valid(const struct pks_tg_req *r)
{
	int	i;

	if (r->reqid == 0 || r->cmd == TG_CMD_NONE || r->cmd >= TG_CMD_MAX ||
	    r->chat_type < TG_CHAT_PRIVATE || r->chat_type > TG_CHAT_CHANNEL)
		return 0;
	/* no chat is 0: an answer to chat 0 cannot be sent; user 0 is a
	 * message with no person behind it, never in a private chat */
	if (r->chat_id == 0 ||
	    (r->user_id == 0 && r->chat_type == TG_CHAT_PRIVATE))
		return 0;
	/* a forum topic is only ever in a supergroup */
	if (r->thread_id > INT32_MAX ||
	    (r->thread_id != 0 && r->chat_type != TG_CHAT_SUPERGROUP))
		return 0;
	if (memchr(r->user_name, '\0', sizeof(r->user_name)) == NULL ||
	    memchr(r->arg1, '\0', sizeof(r->arg1)) == NULL ||
	    memchr(r->arg2, '\0', sizeof(r->arg2)) == NULL ||
	    memchr(r->reply_user_name, '\0', sizeof(r->reply_user_name)) ==
	    NULL || r->nargs > 255)
		return 0;
	for (i = 0; i < PKS_ARGS_MAX; i++)
		if (memchr(r->argv[i], '\0', sizeof(r->argv[i])) == NULL)
			return 0;
	/* in a private chat, the chat is the user */
	if (r->chat_type == TG_CHAT_PRIVATE && r->chat_id != r->user_id)
		return 0;
	return 1;
}

void
bot_request(const struct pks_tg_req *r)
{
	struct text	 t = { .len = 0 };
	struct pending	*p;

	if (!req_valid(r)) {
		child_kill(PROC_TELEGRAM, "malformed request");
		return;
	}
	cur_thread = r->thread_id;
	if (r->user_id == 0) {
		/* an anonymous admin, a channel, a bot: no one to answer */
		log_info("refused a command sent on behalf of a chat or by a "
		    "bot, in chat %lld", (long long)r->chat_id);
		text_add(&t, "This was sent on behalf of a chat (anonymous "
		    "admin, or as a channel), not by a person: I act only for "
		    "people. Please send it as yourself.");
		bot_reply(r, &t);
		cur_thread = 0;
		done(r->reqid);
		return;
	}
	switch (r->cmd) {
	case TG_CMD_START:
	case TG_CMD_HELP:
		cmd_help(r);
		break;
	case TG_CMD_WHOAMI:
		cmd_whoami(r);
		break;
	case TG_CMD_GENERATE:
		cmd_generate(r);
		break;
	case TG_CMD_STATUS:
		cmd_status(r);
		break;
	case TG_CMD_REVOKE:
		cmd_revoke(r);
		break;
	case TG_CMD_GRANT:
	case TG_CMD_UNGRANT:
	case TG_CMD_USERS:
	case TG_CMD_WINDOWS:
	case TG_CMD_CLOSE:
	case TG_CMD_REVOKE_USER:
	case TG_CMD_LOCKDOWN:
	case TG_CMD_UNLOCK:
		admin_request(r);
		break;
	default:
		text_add(&t, "Unknown command. Try /help.");
		bot_reply(r, &t);
		break;
	}
	cur_thread = 0;
	/* a group request is done once delivery is known (bot_sent) */
	for (p = env->pending; p != NULL; p = p->next)
		if (p->reqid == r->reqid)
			return;
	done(r->reqid);
}

/* Delivery of a group request's private message is known. */
void
bot_sent(const struct pks_tg_sent *s)
{
	struct pending	**pp, *p;
	struct sequence	 *q;
	struct text	  t = { .len = 0 };

	for (pp = &env->pending; (p = *pp) != NULL; pp = &p->next)
		if (p->reqid == s->reqid)
			break;
	if (p == NULL)
		return;
	*pp = p->next;
	/* after a 403 the worker delivered the fallback to the group */
	cur_thread = p->thread;
	if (s->status == 200 && s->chat_id != p->group_chat) {
		text_add(&t, "Sent you %s in private.", p->what);
		bot_send(p->reqid, p->group_chat, 0, &t, 0, NULL);
	} else if (p->seq_id != 0 && (q = seq_find(p->seq_id)) != NULL) {
		/* nobody got it: it must not stay live */
		log_info("sequence %u could not be delivered (%d): revoked",
		    q->seq.id, s->status);
		seq_remove(q);
	}
	cur_thread = 0;
	done(p->reqid);
	free(p);
}

/* A line for a user's private chat, not tied to a request. */
void
bot_notify(int64_t user, const char *fmt, ...)
{
	struct text	t = { .len = 0 };
	va_list		ap;
	int		n;

	va_start(ap, fmt);
	n = vsnprintf(t.buf, sizeof(t.buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	t.len = (size_t)n >= sizeof(t.buf) ? sizeof(t.buf) - 1 : (size_t)n;
	bot_send(0, user, 0, &t, 0, NULL);
}

/*
 * A group became a supergroup: its id changed, and "allow chat OLD"
 * no longer matches anything.  The configuration is the admin's to
 * change: say loudly what line to add, in the log and to every notify
 * user.
 */
void
bot_migrated(const struct pks_tg_migrated *m)
{
	const struct pks_conf	*conf = env->conf;
	struct text		 t = { .len = 0 }, line;
	size_t			 i, j;
	int			 n = 0;

	if (m->old_chat >= 0 || m->new_chat >= 0 ||
	    m->old_chat == m->new_chat) {
		child_kill(PROC_TELEGRAM, "malformed migration");
		return;
	}
	text_add(&t, "Group %lld became supergroup %lld: its new id is not "
	    "in the configuration.", (long long)m->old_chat,
	    (long long)m->new_chat);
	for (i = 0; i < conf->ngrants; i++) {
		const struct conf_grant	*g = &conf->grants[i];

		if (g->kind != GRANT_CHAT || g->id != m->old_chat)
			continue;
		memset(&line, 0, sizeof(line));
		text_add(&line, "allow chat %lld to {", (long long)m->new_chat);
		for (j = 0; j < (size_t)conf->nservices; j++)
			if (g->services & (1ULL << j))
				text_add(&line, " %s", conf->services[j].name);
		text_add(&line, " }");
		log_warnx("chat %lld is now %lld: \"allow chat %lld\" no "
		    "longer matches; add to the configuration: %s",
		    (long long)m->old_chat, (long long)m->new_chat,
		    (long long)m->old_chat, line.buf);
		text_add(&t, "%s<code>", n++ ? "\n" : " Add to pks.conf, then "
		    "reload:\n");
		text_esc(&t, line.buf);
		text_add(&t, "</code>");
	}
	if (n == 0)
		log_warnx("chat %lld is now %lld; no allow chat line names it",
		    (long long)m->old_chat, (long long)m->new_chat);
	for (i = 0; i < conf->nnotify; i++)
		bot_send(0, conf->notify[i], 0, &t, 0, NULL);
}

/*
 * telegram.c: the Telegram origin.
 *
 * pks-telegram only relays: a request it sends (checked field by field
 * in dispatch.c) becomes a struct request here, and the monitor's
 * answers go back as HTML messages for the worker to deliver.  Nothing
 * here decides anything.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monitor.h"

/* thread: the forum topic of a message to a group (chat < 0), or 0;
 * 0 if queued for the worker */
static int
tg_send(uint32_t reqid, int64_t chat, uint32_t flags, const struct text *t,
    int64_t fallback_chat, const struct text *second, uint32_t thread)
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
		ts.thread_id = thread;
	iov[0].iov_base = &ts;
	iov[0].iov_len = sizeof(ts);
	iov[1].iov_base = (void *)t->buf;
	iov[1].iov_len = t->len;
	iov[2].iov_base = second ? (void *)second->buf : NULL;
	iov[2].iov_len = second ? second->len : 0;
	return child_sendv(PROC_TELEGRAM, IMSG_TG_SEND, iov, 3);
}

/* a message of its own, not an answer */
void
telegram_message(int64_t chat, const struct reply *rp)
{
	struct text	html;

	reply_html(rp, &html);
	(void)tg_send(0, chat, 0, &html, 0, NULL, 0);
}

/* new words for a message the bot sent (editMessageText) */
void
telegram_edit(int64_t chat, int64_t msg, const struct reply *rp)
{
	struct pks_tg_edit	 e;
	struct text		 html;
	struct iovec		 iov[2];

	reply_html(rp, &html);
	memset(&e, 0, sizeof(e));
	e.chat_id = chat;
	e.message_id = msg;
	e.textlen = html.len;
	iov[0].iov_base = &e;
	iov[0].iov_len = sizeof(e);
	iov[1].iov_base = html.buf;
	iov[1].iov_len = html.len;
	child_sendv(PROC_TELEGRAM, IMSG_TG_EDIT, iov, 2);
}

/* plain text as HTML */
static void
tg_escape(const struct text *plain, struct text *html)
{
	struct reply	tmp;

	reply_init(&tmp);
	text_addn(&tmp.t, plain->buf, plain->len);
	reply_html(&tmp, html);
}

/* -1: the worker is down or stopping, and would not deliver it */
static int
tg_reply(const struct request *r, const struct reply *rp)
{
	struct text	html, alt;

	if (!child_taking(PROC_TELEGRAM))
		return -1;
	reply_html(rp, &html);
	switch (rp->to) {
	case REPLY_CHOICE:
		/* the choices are button labels, not HTML */
		return tg_send(r->id, r->chat, TG_SEND_KEYBOARD, &html, 0,
		    &rp->alt, r->thread);
	case REPLY_PRIVATE:
		if (!r->private) {
			tg_escape(&rp->alt, &alt);
			return tg_send(r->id, r->user, TG_SEND_FALLBACK, &html,
			    r->chat, &alt, r->thread);
		}
		break;
	case REPLY_HERE:
		break;
	}
	return tg_send(r->id, r->chat, 0, &html, 0, NULL, r->thread);
}

/* the worker may confirm the update */
static void
tg_done(const struct request *r)
{
	child_send(PROC_TELEGRAM, IMSG_TG_DONE, -1, &r->id, sizeof(r->id));
}

/* a line for every "notify user" but the one who caused it */
static void
tg_notify(int64_t except, const struct reply *rp)
{
	struct text	html;
	size_t		i;

	reply_html(rp, &html);
	for (i = 0; i < env->conf->nnotify; i++)
		if (env->conf->notify[i] != except)
			(void)tg_send(0, env->conf->notify[i], 0, &html, 0,
			    NULL, 0);
}

/* the owner of a window is told; "ada opened ssh from ..." to others */
static void
tg_window(const struct window *w, enum win_event ev)
{
	struct reply	 rp;
	char		 a[INET6_ADDRSTRLEN];

	reply_init(&rp);
	reply_window(&rp, w, ev);
	telegram_message(w->user_id, &rp);
	if (ev != WIN_EV_OPENED || env->conf->nnotify == 0)
		return;
	addr_str(w->w.af, w->w.addr, a, sizeof(a));
	reply_init(&rp);
	reply_add(&rp, "%s opened %s from %s", w->user_name[0] ?
	    w->user_name : "someone", w->svcname, a);
	tg_notify(w->user_id, &rp);
}

/* A sequence is gone: its message is rewritten (reply_seq_gone()). */
static void
tg_seq_gone(const struct sequence *q)
{
	struct reply	rp;

	reply_init(&rp);
	reply_seq_gone(&rp, q);
	telegram_edit(q->user_id, q->msg_id, &rp);
}

const struct origin telegram_origin = {
	.name = "telegram",
	.reply = tg_reply,
	.done = tg_done,
	.notify = tg_notify,
	.window = tg_window,
	.seq_gone = tg_seq_gone
};

static enum req_cmd
tg_cmd(uint32_t cmd)
{
	switch (cmd) {
	case TG_CMD_START:
	case TG_CMD_HELP:
		return REQ_HELP;
	case TG_CMD_GENERATE:
		return REQ_GENERATE;
	case TG_CMD_STATUS:
		return REQ_STATUS;
	case TG_CMD_REVOKE:
		return REQ_REVOKE;
	case TG_CMD_WHOAMI:
		return REQ_WHOAMI;
	case TG_CMD_GRANT:
		return REQ_GRANT;
	case TG_CMD_UNGRANT:
		return REQ_UNGRANT;
	case TG_CMD_USERS:
		return REQ_USERS;
	case TG_CMD_WINDOWS:
		return REQ_WINDOWS;
	case TG_CMD_CLOSE:
		return REQ_CLOSE;
	case TG_CMD_REVOKE_USER:
		return REQ_REVOKE_USER;
	case TG_CMD_LOCKDOWN:
		return REQ_LOCKDOWN;
	case TG_CMD_UNLOCK:
		return REQ_UNLOCK;
	case TG_CMD_RECOVERY:
		return REQ_RECOVERY;
	default:
		return REQ_UNKNOWN;
	}
}

/* A request from the worker, checked by dispatch.c. */
void
telegram_request(const struct pks_tg_req *tr)
{
	struct request	r;

	telegram_to_request(tr, &r);
	request_handle(&r);
}

/* what the worker sent, as a request of this origin */
void
telegram_to_request(const struct pks_tg_req *tr, struct request *rp)
{
	struct request	r;
	uint32_t	i;

	memset(&r, 0, sizeof(r));
	r.origin = &telegram_origin;
	r.id = tr->reqid;
	r.cmd = tg_cmd(tr->cmd);
	r.user = tr->user_id;
	r.chat = tr->chat_id;
	r.thread = tr->thread_id;
	r.private = tr->chat_type == TG_CHAT_PRIVATE;
	r.age = tr->age;
	memcpy(r.user_name, tr->user_name, sizeof(r.user_name));
	/* the front of a fleet: admin commands name a host or all first */
	if (env->conf->has_fleet && env->conf->fleet_role == PKS_FLEET_FRONT)
		snprintf(r.where, sizeof(r.where), "[HOST|all]");
	if (r.cmd == REQ_GENERATE) {
		/* service, address: each may be "" */
		memcpy(r.argv[0], tr->arg1, sizeof(r.argv[0]));
		memcpy(r.argv[1], tr->arg2, sizeof(r.argv[1]));
		r.nargs = 2;
	} else {
		r.nargs = tr->nargs;
		for (i = 0; i < PKS_ARGS_MAX; i++)
			memcpy(r.argv[i], tr->argv[i], sizeof(r.argv[i]));
		r.reply_user = tr->reply_user_id;
		memcpy(r.reply_user_name, tr->reply_user_name,
		    sizeof(r.reply_user_name));
	}
	*rp = r;
}

/* The worker's outcome of a private delivery with a fallback. */
void
telegram_sent(const struct pks_tg_sent *s)
{
	request_delivered(&telegram_origin, s->reqid, s->status == 200,
	    s->chat_id, s->status, s->message_id);
}

/*
 * A group became a supergroup: its id changed, and "allow chat OLD" no
 * longer matches anything.  The configuration is the admin's to change:
 * say loudly what line to add, in the log and to every notify user.
 */
void
telegram_migrated(const struct pks_tg_migrated *m)
{
	const struct pks_conf	*conf = env->conf;
	struct reply		 rp;
	struct text		 line;
	size_t			 i, j;
	int			 n = 0;

	reply_init(&rp);
	reply_add(&rp, "Group %lld became supergroup %lld: its new id is not "
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
		reply_add(&rp, "%s", n++ ? "\n" : " Add to pks.conf, then "
		    "reload:\n");
		reply_style(&rp, STYLE_CODE);
		reply_add(&rp, "%s", line.buf);
		reply_style(&rp, STYLE_PLAIN);
	}
	if (n == 0)
		log_warnx("chat %lld is now %lld; no allow chat line names it",
		    (long long)m->old_chat, (long long)m->new_chat);
	tg_notify(0, &rp);
}

/*
 * reply.c: the answer to a request, as words and markup.
 *
 * A command handler writes words (all of them plain text, whoever
 * wrote them) and says where a style starts; an origin renders that:
 * HTML for Telegram, where every word is escaped here and nowhere else,
 * plain text for a front end without markup.
 */
#include <sys/types.h>

#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor.h"

void
reply_init(struct reply *r)
{
	memset(r, 0, sizeof(*r));
}

void
reply_add(struct reply *r, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	text_vadd(&r->t, fmt, ap);
	va_end(ap);
}

/* the words from here on are in style s */
void
reply_style(struct reply *r, enum reply_style s)
{
	if (r->nmark == REPLY_MARKS)
		return;
	r->mark[r->nmark].off = r->t.len;
	r->mark[r->nmark].style = s;
	r->nmark++;
}

/* "name (id)", or the id alone when there is no name */
void
reply_who(struct reply *r, const char *name, int64_t id)
{
	if (name[0] != '\0')
		reply_add(r, "%s (%lld)", name, (long long)id);
	else
		reply_add(r, "%lld", (long long)id);
}

/* who did an admin action, for the notify users: by 0 is the console */
void
reply_actor(struct reply *r, int64_t by, const char *name)
{
	if (by == 0)
		reply_add(r, "pksctl (root)");
	else
		reply_who(r, name, by);
}

static const char *const html_open[] = { "", "<b>", "<code>" };
static const char *const html_close[] = { "", "</b>", "</code>" };

void
reply_html(const struct reply *r, struct text *out)
{
	enum reply_style	cur = STYLE_PLAIN;
	size_t			i, m = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i <= r->t.len; i++) {
		for (; m < r->nmark && r->mark[m].off == i; m++) {
			if (r->mark[m].style == cur)
				continue;
			text_add(out, "%s%s", html_close[cur],
			    html_open[r->mark[m].style]);
			cur = r->mark[m].style;
		}
		if (i == r->t.len)
			break;
		switch (r->t.buf[i]) {
		case '<':
			text_add(out, "&lt;");
			break;
		case '>':
			text_add(out, "&gt;");
			break;
		case '&':
			text_add(out, "&amp;");
			break;
		default:
			text_addn(out, &r->t.buf[i], 1);
		}
	}
	text_add(out, "%s", html_close[cur]);
	/* words that did not fit count as lines left out */
	if (r->t.full) {
		out->full = 1;
		out->more += r->t.more;
		out->open_line = r->t.open_line;
	}
}

void
reply_plain(const struct reply *r, struct text *out)
{
	*out = r->t;
}

/* 1 if r is one whole message, as HTML, with room bytes to spare */
int
reply_fits(const struct reply *r, size_t room)
{
	struct text	html;

	if (r->t.full)
		return 0;
	reply_html(r, &html);
	return !html.full && html.len + room < PKS_TEXT_MAX - TEXT_MORE;
}

/* "ssh open for 192.0.2.1 until 12:00:30 UTC", "ssh closed for ..." */
void
reply_window(struct reply *rp, const struct window *w, enum win_event ev)
{
	struct tm	tm;
	char		a[INET6_ADDRSTRLEN], t[16];
	time_t		until;

	addr_str(w->w.af, w->w.addr, a, sizeof(a));
	if (ev == WIN_EV_CLOSED)
		reply_add(rp, "%s closed for %s", w->svcname, a);
	else {
		until = mono_to_wall(w->expires);
		gmtime_r(&until, &tm);
		strftime(t, sizeof(t), "%H:%M:%S UTC", &tm);
		reply_add(rp, "%s open for %s until %s", w->svcname, a, t);
	}
}

/*
 * A sequence is gone: its message must not look usable.  It says it was
 * used, when and from where, that it expired, or that it was revoked;
 * the ports go.
 */
void
reply_seq_gone(struct reply *rp, const struct sequence *q)
{
	struct tm	tm;
	char		when[16];
	time_t		at;

	reply_add(rp, "Sequence for ");
	reply_style(rp, STYLE_BOLD);
	reply_add(rp, "%s", q->svcname);
	reply_style(rp, STYLE_PLAIN);
	at = q->used_at != 0 ? q->used_at : mono_to_wall(q->expires);
	gmtime_r(&at, &tm);
	strftime(when, sizeof(when), "%H:%M:%S UTC", &tm);
	if (q->used_at != 0)
		reply_add(rp, ": used at %s from %s.", when, q->used_from);
	else if (q->expires <= mono_now())
		reply_add(rp, ": expired at %s, unused.", when);
	else
		reply_add(rp, ": revoked, unused.");
	reply_add(rp, " Ask again with /generate.");
}

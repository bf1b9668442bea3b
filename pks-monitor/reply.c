/*
 * reply.c: the answer to a request, as words and markup.
 *
 * A command handler writes words (all of them plain text, whoever
 * wrote them) and says where a style starts; an origin renders that:
 * HTML for Telegram, where every word is escaped here and nowhere else,
 * plain text for a front end without markup.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/*
 * text.c: text buffers and the words every front end parses the same
 * way: an address, a user id, a bounded number.
 *
 * Calls nothing else of the monitor.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "monitor.h"

/* the bytes t may hold */
static size_t
text_max(const struct text *t)
{
	return t->max != 0 && t->max <= sizeof(t->buf) ? t->max :
	    PKS_TEXT_MAX;
}

/*
 * Append len bytes of s, the whole piece or nothing: once a piece does
 * not fit, t is full and later pieces are only counted (their lines),
 * so a long answer (/users with hundreds of grants) is never cut inside
 * a UTF-8 character or an entity; text_finish() then ends it on a line.
 */
void
text_addn(struct text *t, const char *s, size_t len)
{
	size_t	i;

	if (!t->full && t->len + len < text_max(t) - TEXT_MORE) {
		memcpy(t->buf + t->len, s, len);
		t->len += len;
		t->buf[t->len] = '\0';
		return;
	}
	t->full = 1;
	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			t->more++;
	if (len > 0)
		t->open_line = s[len - 1] != '\n';
}

/* append a formatted piece, whole or not at all (text_addn) */
void
text_vadd(struct text *t, const char *fmt, va_list ap)
{
	char	piece[PKS_TEXT_MAX];
	int	n;

	n = vsnprintf(piece, sizeof(piece), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(piece)) {
		t->full = 1;	/* larger than any text: never fits */
		n = sizeof(piece) - 1;
	}
	text_addn(t, piece, n);
}

void
text_add(struct text *t, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	text_vadd(t, fmt, ap);
	va_end(ap);
}

/*
 * A full text ends on its last whole line, then says how many lines
 * did not fit.  A text with no line break at all ends on a character.
 * Returns where its words end (and "... and N more lines" starts).
 */
size_t
text_finish(struct text *t)
{
	size_t	 cut = t->len;
	char	*nl;
	int	 n;

	if (!t->full)
		return t->len;
	if ((nl = memrchr(t->buf, '\n', t->len)) != NULL)
		cut = nl - t->buf + 1;
	else
		while (cut > 0 && ((unsigned char)t->buf[cut] & 0xc0) == 0x80)
			cut--;
	/* into the room kept for it */
	n = snprintf(t->buf + cut, text_max(t) - cut, "... and %u more "
	    "line%s", t->more + t->open_line,
	    t->more + t->open_line == 1 ? "" : "s");
	t->len = cut + (n > 0 && (size_t)n < text_max(t) - cut ? n : 0);
	t->buf[t->len] = '\0';
	t->full = 0;
	return cut;
}

/*
 * Untrusted text (a child's log line, a name from Telegram) as one
 * printable line: C0 and C1 controls and DEL become '?'.  C1 controls
 * are the UTF-8 sequences 0xc2 0x80..0x9f.
 */
void
text_clean(char *dst, size_t dstsz, const char *src, size_t len)
{
	size_t	i, n = 0;

	if (dstsz == 0)
		return;
	for (i = 0; i < len && n < dstsz - 1 && src[i] != '\0'; i++) {
		unsigned char	c = src[i];

		if (c == 0xc2 && i + 1 < len &&
		    (unsigned char)src[i + 1] >= 0x80 &&
		    (unsigned char)src[i + 1] <= 0x9f) {
			dst[n++] = '?';
			i++;
		} else if (c < 0x20 || c == 0x7f)
			dst[n++] = '?';
		else
			dst[n++] = c;
	}
	dst[n] = '\0';
}

const char *
addr_str(int af, const uint8_t *addr, char *buf, size_t len)
{
	if (inet_ntop(af, addr, buf, len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/*
 * Who did an admin action, for a log line: "admin ada (6123456789)", or
 * "pksctl" for the console (by 0: root on the control socket).
 */
const char *
actor_str(int64_t by, const char *name, char *buf, size_t len)
{
	if (by == 0)
		snprintf(buf, len, "pksctl");
	else
		snprintf(buf, len, "admin %s (%lld)", name, (long long)by);
	return buf;
}

/* an IPv4 or IPv6 address: 0 and *af, addr (16 bytes) set, or -1 */
int
addr_parse(const char *s, int *af, uint8_t *addr)
{
	if (inet_pton(AF_INET, s, addr) == 1)
		*af = AF_INET;
	else if (inet_pton(AF_INET6, s, addr) == 1)
		*af = AF_INET6;
	else
		return -1;
	return 0;
}

/* a decimal number in [lo, hi], digits only (a '-' for lo < 0) */
int
num_parse(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	const char	*p = s;
	int64_t		 x = 0;
	int		 neg = 0;

	if (*p == '-' && lo < 0) {
		neg = 1;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -1;
	if (*p == '0' && p[1] != '\0')
		return -1;		/* no leading zeros: one spelling */
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || x > INT64_MAX / 10 - 10)
			return -1;
		x = x * 10 + (*p - '0');
	}
	if (neg)
		x = -x;
	if (x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

/* a Telegram user id: a positive decimal number */
int
user_id_parse(const char *s, int64_t *id)
{
	return num_parse(s, 1, PKS_ID_LIMIT - 1, id);
}

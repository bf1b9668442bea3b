/*
 * parse_value.c: the pieces of pks.conf statements: values, numbers,
 * lists, the end of a statement, "keyword value" settings from a table
 * and the blocks made of them.  Each reports its errors with the line
 * and leaves a token that ends the statement for cf_skip_stmt().
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "pks.h"
#include "parse_priv.h"

#define NELEM(t)	(sizeof(t) / sizeof((t)[0]))

static const char *check_url(const char *);
static const char *check_broker(const char *);

/* a statement ends at a newline, the end of the file or a block's '}' */
int
cf_end_stmt(struct lexer *lx, int inblock)
{
	struct token	t;
	char		buf[64];

	switch (lex_next(lx, &t)) {
	case T_NL:
		return (0);
	case T_EOF:
		lex_unget(lx, &t);
		return (0);
	case T_RBRACE:
		if (inblock) {
			lex_unget(lx, &t);
			return (0);
		}
		break;
	case T_ERROR:
		return (-1);
	}
	conf_error(lx, t.line, "unexpected %s at end of statement",
	    lex_tokdesc(&t, buf, sizeof(buf)));
	lex_unget(lx, &t);
	return (-1);
}

/* after an error: drop the rest of the statement, braces included */
void
cf_skip_stmt(struct lexer *lx, int inblock)
{
	struct token	t;
	int		depth = 0;

	for (;;) {
		switch (lex_next(lx, &t)) {
		case T_EOF:
			lex_unget(lx, &t);
			return;
		case T_NL:
			if (depth == 0)
				return;
			break;
		case T_LBRACE:
			depth++;
			break;
		case T_RBRACE:
			if (depth > 0)
				depth--;
			else if (inblock) {
				lex_unget(lx, &t);
				return;
			}
			break;
		}
	}
}

/* the value of a keyword: a word or a string on the same line */
int
cf_get_value(struct lexer *lx, const char *what, struct token *t)
{
	char	buf[64];

	lex_next(lx, t);
	if (t->type == T_WORD || t->type == T_STRING)
		return (0);
	if (t->type != T_ERROR) {
		conf_error(lx, t->line, "%s: value expected, got %s", what,
		    lex_tokdesc(t, buf, sizeof(buf)));
		lex_unget(lx, t);
	}
	return (-1);
}

/* strict: digits only (one leading '-'), no overflow, within lo..hi */
int
cf_get_number(struct lexer *lx, const char *what, const struct token *t,
    long long lo, long long hi, long long *v)
{
	const char	*s = t->s;
	char		*end;

	if (!((s[0] >= '0' && s[0] <= '9') ||
	    (s[0] == '-' && s[1] >= '0' && s[1] <= '9'))) {
		conf_error(lx, t->line, "%s: \"%s\" is not a number",
		    what, s);
		return (-1);
	}
	errno = 0;
	*v = strtoll(s, &end, 10);
	if (*end != '\0') {
		conf_error(lx, t->line, "%s: \"%s\" is not a number",
		    what, s);
		return (-1);
	}
	if (errno == ERANGE || *v < lo || *v > hi) {
		conf_error(lx, t->line, "%s: %s is out of range "
		    "(%lld..%lld)", what, s, lo, hi);
		return (-1);
	}
	return (0);
}

/*
 * ADDRESS or ADDRESS/LEN (LEN 1..32 or 1..128), host bits zero, into
 * p->af, p->plen and p->addr (IPv4 in the first 4 bytes).
 */
int
cf_get_prefix(struct lexer *lx, const char *what, struct conf_always *p)
{
	struct token	 v, len;
	char		*slash;
	long long	 n;
	int		 max, i;

	if (cf_get_value(lx, what, &v) == -1)
		return (-1);
	len = v;
	if ((slash = strchr(len.s, '/')) != NULL)
		*slash = '\0';
	memset(p->addr, 0, sizeof(p->addr));
	if (inet_pton(AF_INET, len.s, p->addr) == 1) {
		p->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, len.s, p->addr) == 1) {
		p->af = AF_INET6;
		max = 128;
	} else {
		conf_error(lx, v.line, "%s: \"%.60s\" is not an IPv4 or IPv6 "
		    "address or prefix", what, v.s);
		return (-1);
	}
	n = max;
	if (slash != NULL) {
		memmove(len.s, slash + 1, strlen(slash + 1) + 1);
		if (strcmp(len.s, "0") == 0) {
			conf_error(lx, v.line, "%s: %s would let every address "
			    "in (mode observe is the way to try PKS without "
			    "locking anyone out)", what, v.s);
			return (-1);
		}
		if (cf_get_number(lx, what, &len, 1, max, &n) == -1)
			return (-1);
	}
	for (i = n; i < max; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			conf_error(lx, v.line, "%s: %s has host bits set "
			    "beyond /%lld", what, v.s, n);
			return (-1);
		}
	p->plen = n;
	return (0);
}

/* NULL if the Bot API may be reached at u, else why not */
static const char *
check_url(const char *u)
{
	static const char	*local[] = {
		"http://127.0.0.1", "http://[::1]", "http://localhost"
	};
	const char		*s;
	size_t			 i, n;

	for (s = u; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return ("must not hold spaces or control characters");
	if (strncmp(u, "https://", 8) == 0) {
		if (u[8] == '\0' || u[8] == '/')
			return ("has no host");
		return (NULL);
	}
	for (i = 0; i < NELEM(local); i++) {
		n = strlen(local[i]);
		if (strncmp(u, local[i], n) != 0)
			continue;
		s = u + n;
		/* an optional port, so "http://localhost:@evil" is not local */
		if (*s == ':') {
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
			if (s == u + n + 1)
				break;
		}
		if (*s == '\0' || *s == '/')
			return (NULL);
		break;
	}
	return ("must start with https:// (plain http only to 127.0.0.1, "
	    "[::1] or localhost)");
}

/* NULL if u is an MQTT-over-TLS address, mqtts://HOST[:PORT], else why
 * not; HOST a name, an IPv4 address or [an IPv6 one] */
static const char *
check_broker(const char *u)
{
	const char	*h, *s;
	long		 port = 0;

	if (strncmp(u, "mqtts://", 8) != 0)
		return ("must start with mqtts:// (MQTT over TLS)");
	h = u + 8;
	if (*h == '[') {
		if ((s = strchr(h, ']')) == NULL || s == h + 1)
			return ("has an unclosed or empty [IPv6 address]");
		for (h++; h < s; h++)
			if (!((*h >= '0' && *h <= '9') || (*h >= 'a' &&
			    *h <= 'f') || (*h >= 'A' && *h <= 'F') ||
			    *h == ':' || *h == '.'))
				return ("has a bad [IPv6 address]");
		s++;
	} else {
		for (s = h; (*s >= 'a' && *s <= 'z') || (*s >= 'A' &&
		    *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		    *s == '-'; s++)
			;
		if (s == h)
			return ("has no host");
	}
	if (*s == ':') {
		for (s++; *s >= '0' && *s <= '9' && port <= 65535; s++)
			port = port * 10 + (*s - '0');
		if (port < 1 || port > 65535)
			return ("has a port out of 1..65535");
	}
	if (*s != '\0')
		return ("must be mqtts://HOST[:PORT], nothing after");
	return (NULL);
}

/* the words a V_PROTO, V_FIREWALL, V_ROLE or V_MODE value may be, and
 * what each stores */
static const struct {
	int		 type;
	const char	*word;
	uint8_t		 val;
} words[] = {
	{ V_PROTO,	"tcp",		IPPROTO_TCP },
	{ V_PROTO,	"udp",		IPPROTO_UDP },
	{ V_FIREWALL,	"auto",		PKS_FW_AUTO },
	{ V_FIREWALL,	"nftables",	PKS_FW_NFTABLES },
	{ V_FIREWALL,	"iptables",	PKS_FW_IPTABLES },
	{ V_ROLE,	"front",	PKS_FLEET_FRONT },
	{ V_ROLE,	"host",		PKS_FLEET_HOST },
	{ V_MODE,	"observe",	PKS_MODE_OBSERVE },
	{ V_MODE,	"enforce",	PKS_MODE_ENFORCE },
};

/* one of the words of s's type, stored as a uint8_t at dst */
static int
word_value(struct lexer *lx, const struct setting *s, const struct token *v,
    unsigned char *dst)
{
	char	list[64] = "";
	size_t	i, n = 0, last = 0;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (words[i].type != s->type)
			continue;
		if (strcmp(v->s, words[i].word) == 0) {
			*dst = words[i].val;
			return (0);
		}
		n++;
		last = i;
	}
	/* "is not a, b or c" */
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i].type == s->type && i != last)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
			    "%s%s", list[0] ? ", " : "", words[i].word);
	conf_error(lx, v->line, "%s: \"%s\" is not %s%s%s", s->name, v->s,
	    list, n > 1 ? " or " : "", words[last].word);
	return (-1);
}

/* "90d": a number with a unit (s m h d w), or seconds; within lo..hi */
static int
duration(struct lexer *lx, const struct setting *s, struct token *v,
    uint32_t *secs)
{
	static const char	 units[] = "smhdw";
	static const long long	 mul[] = { 1, 60, 3600, 86400, 604800 };
	size_t			 len = strlen(v->s);
	const char		*u;
	long long		 n, m = 1;

	if (len > 1 && (u = strchr(units, v->s[len - 1])) != NULL) {
		m = mul[u - units];
		v->s[len - 1] = '\0';
	}
	if (cf_get_number(lx, s->name, v, 1, s->hi, &n) == -1)
		return (-1);
	if (n * m < s->lo || n * m > s->hi) {
		conf_error(lx, v->line, "%s: out of range (%llds..%llds, "
		    "like 90d)", s->name, s->lo, s->hi);
		return (-1);
	}
	*secs = (uint32_t)(n * m);
	return (0);
}

/* "keyword value" from a table; seen[] holds the line of each one given */
int
cf_set_setting(struct lexer *lx, const struct setting *tab, int *seen,
    size_t i, void *base, const struct token *kw)
{
	const struct setting	*s = &tab[i];
	struct token		 v;
	unsigned char		*dst = (unsigned char *)base + s->off;
	const char		*why;
	long long		 n;
	uint16_t		 u16;
	uint32_t		 u32;

	if (seen[i]) {
		conf_error(lx, kw->line, "%s given twice (first at line "
		    "%d)", s->name, seen[i]);
		return (-1);
	}
	if (cf_get_value(lx, s->name, &v) == -1)
		return (-1);
	switch (s->type) {
	case V_STR:
	case V_PATH:
	case V_URL:
	case V_BROKER:
		if (v.s[0] == '\0') {
			conf_error(lx, v.line, "%s: empty value", s->name);
			return (-1);
		}
		if (strlen(v.s) >= s->size) {
			conf_error(lx, v.line, "%s: \"%.40s\" is too long "
			    "(max %zu bytes)", s->name, v.s, s->size - 1);
			return (-1);
		}
		if (s->type == V_PATH && v.s[0] != '/') {
			conf_error(lx, v.line, "%s: \"%s\" is not an "
			    "absolute path", s->name, v.s);
			return (-1);
		}
		if (s->type == V_URL && (why = check_url(v.s)) != NULL) {
			conf_error(lx, v.line, "%s: \"%s\" %s", s->name,
			    v.s, why);
			return (-1);
		}
		if (s->type == V_BROKER && (why = check_broker(v.s)) != NULL) {
			conf_error(lx, v.line, "%s: \"%s\" %s", s->name,
			    v.s, why);
			return (-1);
		}
		memcpy(dst, v.s, strlen(v.s) + 1);
		break;
	case V_DURATION:
		if (duration(lx, s, &v, &u32) == -1)
			return (-1);
		memcpy(dst, &u32, sizeof(u32));
		break;
	case V_NUM:
		if (cf_get_number(lx, s->name, &v, s->lo, s->hi, &n) == -1)
			return (-1);
		if (s->size == sizeof(u16)) {
			u16 = n;
			memcpy(dst, &u16, sizeof(u16));
		} else {
			u32 = n;
			memcpy(dst, &u32, sizeof(u32));
		}
		break;
	case V_PROTO:
	case V_FIREWALL:
	case V_ROLE:
	case V_MODE:
		if (word_value(lx, s, &v, dst) == -1)
			return (-1);
		break;
	}
	seen[i] = kw->line;
	return (0);
}

/*
 * "{" on the keyword's line, then settings of tab, one per line, "}".
 * kw is the token that opened the block, for the error if it never ends.
 * hook, if not NULL, sees each keyword first (statements of another
 * shape than "keyword value").
 */
int
cf_parse_block(struct lexer *lx, const struct token *kw,
    const struct setting *tab, size_t ntab, void *base, const char *what,
    cf_kw_fn hook, void *arg)
{
	struct token	t;
	char		buf[64];
	int		seen[SET_MAX] = { 0 };
	size_t		i;
	int		r;

	if (lex_next(lx, &t) != T_LBRACE) {
		if (t.type != T_ERROR)
			conf_error(lx, t.line, "%s: expected '{', got %s",
			    what, lex_tokdesc(&t, buf, sizeof(buf)));
		lex_unget(lx, &t);
		return (-1);
	}
	for (;;) {
		switch (lex_next(lx, &t)) {
		case T_NL:
			continue;
		case T_RBRACE:
			return (0);
		case T_EOF:
			conf_error(lx, kw->line, "%s: missing '}' (block "
			    "not closed)", what);
			lex_unget(lx, &t);
			return (-1);
		case T_WORD:
			if (hook != NULL && (r = hook(lx, &t, arg)) != CF_TABLE)
				break;
			for (i = 0; i < ntab; i++)
				if (strcmp(t.s, tab[i].name) == 0)
					break;
			if (i < ntab)
				r = cf_set_setting(lx, tab, seen, i, base, &t);
			else {
				conf_error(lx, t.line, "%s: unknown keyword "
				    "\"%s\"", what, t.s);
				r = -1;
			}
			break;
		case T_ERROR:
			r = -1;
			break;
		default:
			conf_error(lx, t.line, "%s: unexpected %s", what,
			    lex_tokdesc(&t, buf, sizeof(buf)));
			lex_unget(lx, &t);
			r = -1;
			break;
		}
		if (r == 0)
			r = cf_end_stmt(lx, 1);
		if (r == -1)
			cf_skip_stmt(lx, 1);
	}
}

/* one item, or "{ item ... }" (newlines allowed inside) */
int
cf_parse_list(struct lexer *lx, const char *what,
    cf_item_fn item,
    void *arg)
{
	struct token	t;
	char		buf[64];
	int		r = 0, n = 0, line;

	lex_next(lx, &t);
	if (t.type == T_WORD || t.type == T_STRING)
		return (item(lx, what, &t, arg));
	if (t.type != T_LBRACE) {
		if (t.type != T_ERROR)
			conf_error(lx, t.line, "%s: expected a value or a "
			    "'{' list, got %s", what,
			    lex_tokdesc(&t, buf, sizeof(buf)));
		lex_unget(lx, &t);
		return (-1);
	}
	line = t.line;
	for (;;) {
		switch (lex_next(lx, &t)) {
		case T_NL:
			break;
		case T_RBRACE:
			if (n == 0 && r == 0) {
				conf_error(lx, t.line, "%s: empty list",
				    what);
				r = -1;
			}
			return (r);
		case T_WORD:
		case T_STRING:
			if (item(lx, what, &t, arg) == -1)
				r = -1;
			n++;
			break;
		case T_ERROR:
			r = -1;
			break;
		case T_EOF:
			conf_error(lx, line, "%s: missing '}' to close the "
			    "list", what);
			lex_unget(lx, &t);
			return (-1);
		default:
			conf_error(lx, t.line, "%s: unexpected %s in list",
			    what, lex_tokdesc(&t, buf, sizeof(buf)));
			lex_unget(lx, &t);
			return (-1);
		}
	}
}

int
cf_check_name(struct lexer *lx, const char *what, const struct token *t)
{
	if (t->s[0] == '\0') {
		conf_error(lx, t->line, "%s: empty service name", what);
		return (-1);
	}
	if (strlen(t->s) >= PKS_NAME_MAX) {
		conf_error(lx, t->line, "%s: service name \"%.40s\" is too "
		    "long (max %d bytes)", what, t->s, PKS_NAME_MAX - 1);
		return (-1);
	}
	if (!conf_valid_name(t->s)) {
		conf_error(lx, t->line, "%s: service name \"%s\" "
		    "may hold only letters, digits, '-' and '_'", what, t->s);
		return (-1);
	}
	return (0);
}

/*
 * parse.c: pks.conf(5), read by the monitor only.
 *
 * A recursive-descent parser over the tokens of parse_lex.c.  A statement
 * is one line; blocks ("telegram { }", "service NAME { }") hold one
 * statement per line.  After an error the parser skips to the end of the
 * statement and goes on, so one run reports every mistake; any error
 * makes the whole file refused.  Service names in "allow" are resolved
 * once the whole file is read, so a service may be defined after use.
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "parse_priv.h"

#define CF(f)	offsetof(struct pks_conf, f), sizeof(((struct pks_conf *)0)->f)
#define SF(f)	offsetof(struct conf_service, f), \
		sizeof(((struct conf_service *)0)->f)
#define NSET(t)	(sizeof(t) / sizeof((t)[0]))

static const struct setting globals[] = {
	{ "user",		V_STR,	CF(user), 0, 0 },
	{ "chroot",		V_PATH,	CF(chroot), 0, 0 },
	{ "sequence-length",	V_NUM,	CF(seq_len), PKS_SEQ_MIN, PKS_SEQ_MAX },
	{ "sequence-lifetime",	V_NUM,	CF(seq_lifetime), 10, 86400 },
	{ "knock-timeout",	V_NUM,	CF(knock_timeout), 1, 300 },
	{ "max-sources",	V_NUM,	CF(max_sources), 16, 1048576 },
	{ "max-sequences",	V_NUM,	CF(max_sequences), 1,
	    PKS_SEQUENCES_MAX },
	{ "max-sequences-per-chat", V_NUM, CF(max_seq_chat), 1,
	    PKS_SEQUENCES_MAX },
	{ "recovery-valid",	V_DURATION, CF(recovery_valid), 3600,
	    365 * 86400 },
	{ "control-socket",	V_PATH,	CF(control_socket), 0, 0 },
	{ "state-file",		V_PATH,	CF(state_file), 0, 0 },
	{ "firewall",		V_FIREWALL, CF(firewall), 0, 0 },
	{ "mode",		V_MODE,	CF(mode), 0, 0 },
	{ "nflog-group",	V_NUM,	CF(nflog_group), 0, 65535 },
};

static const struct setting tgsettings[] = {
	{ "token-file",		V_PATH,	CF(token_file), 0, 0 },
	{ "api-url",		V_URL,	CF(api_url), 0, 0 },
	{ "ca-file",		V_PATH,	CF(ca_file), 0, 0 },
	{ "knock-host",		V_STR,	CF(knock_host), 0, 0 },
};

static const struct setting fleetsettings[] = {
	{ "broker",		V_BROKER, CF(fleet_broker), 0, 0 },
	{ "ca-file",		V_PATH,	CF(fleet_ca), 0, 0 },
	{ "cert-file",		V_PATH,	CF(fleet_cert), 0, 0 },
	{ "key-file",		V_PATH,	CF(fleet_key), 0, 0 },
	{ "password-file",	V_PATH,	CF(fleet_password), 0, 0 },
	{ "name",		V_STR,	CF(fleet_name), 0, 0 },
	{ "role",		V_ROLE,	CF(fleet_role), 0, 0 },
	{ "timeout",		V_NUM,	CF(fleet_timeout), 1, 60 },
	{ "secret-file",	V_PATH,	CF(fleet_secret[CONF_KEY_NOW].path), 0,
	    0 },
	{ "previous-secret-file", V_PATH,
	    CF(fleet_secret[CONF_KEY_PREVIOUS].path), 0, 0 },
};

/*
 * The files the blocks name: conf_load() checks each one, so that a
 * start, a reload or -n refuses, with file:line, a file that a child
 * would get too late to say so (pks-fleet without its CA restarts for
 * ever).  A secret is root's, 0600 and no link; the others, readable
 * regular files.
 */
static const struct conffile {
	const char	*block;
	const char	*kw;
	size_t		 off;		/* its path in struct pks_conf */
	int		 secret;
} conffiles[CONF_FILES] = {
	{ "telegram",	"token-file",	offsetof(struct pks_conf, token_file),
	    1 },
	{ "telegram",	"ca-file",	offsetof(struct pks_conf, ca_file), 0 },
	{ "fleet",	"ca-file",	offsetof(struct pks_conf, fleet_ca), 0 },
	{ "fleet",	"cert-file",	offsetof(struct pks_conf, fleet_cert),
	    0 },
	{ "fleet",	"key-file",	offsetof(struct pks_conf, fleet_key), 1 },
	{ "fleet",	"password-file", offsetof(struct pks_conf,
	    fleet_password), 1 },
};

static const struct setting svcsettings[] = {
	{ "port",		V_NUM,	SF(port), 1, 65535 },
	{ "protocol",		V_PROTO, SF(proto), 0, 0 },
	{ "knock-protocol",	V_PROTO, SF(knock_proto), 0, 0 },
	{ "open-for",		V_NUM,	SF(open_for), 1, PKS_WINDOW_MAX },
};

/* a control socket path must fit a sockaddr_un */
_Static_assert(sizeof(((struct pks_conf *)0)->control_socket) <=
    sizeof(((struct sockaddr_un *)0)->sun_path), "control_socket too long");
_Static_assert(PKS_SERVICES_MAX <= 64, "services bitmask is 64 bits");
_Static_assert(NSET(globals) <= SET_MAX, "SET_MAX too small for the globals");

/* an "allow" or "allow-always" statement, resolved at the end of the
 * file */
struct allow {
	int		  kind;		/* 0: allow-always */
	int		  line;
	int		  always;	/* its index in conf->always */
	int64_t		 *ids;
	size_t		  nids, idcap;
	char		(*names)[PKS_NAME_MAX];
	size_t		  nnames, namecap;
};

struct parser {
	struct lexer	 lx;
	struct pks_conf	*conf;
	int		 seen[SET_MAX];		/* line of each global */
	int		 knock_line;
	int		 seq_line;
	int		 tg_line;
	int		 fleet_line;
	size_t		 fleethostcap;
	int		 nservice_stmts;
	int		 svc_line[PKS_SERVICES_MAX];
	struct allow	*allows;
	size_t		 nallows, allowcap;
	size_t		 admincap, notifycap;
};

struct kwhandler {
	const char	*name;
	int		(*fn)(struct parser *, struct token *);
};

static void	*grow(void *, size_t *, size_t, size_t);
static int	id_item(struct lexer *, const char *, struct token *, void *);
static int	name_item(struct lexer *, const char *, struct token *,
		    void *);
static int	parse_macro(struct parser *, struct token *);
static int	parse_interface(struct parser *, struct token *);
static int	parse_knockports(struct parser *, struct token *);
static int	parse_exclude(struct parser *, struct token *);
static int	parse_telegram(struct parser *, struct token *);
static int	parse_fleet(struct parser *, struct token *);
static int	parse_service(struct parser *, struct token *);
static int	parse_allow(struct parser *, struct token *);
static int	parse_always(struct parser *, struct token *);
static int	parse_userlist(struct parser *, struct token *);
static int	parse_global(struct parser *, struct token *);
static void	parse_top(struct parser *);
static int	cmp_grant(const void *, const void *);
static int	cmp_id(const void *, const void *);
static size_t	uniq_ids(int64_t *, size_t);
static void	finish_fleet(struct parser *);
static void	finish(struct parser *);

static const struct kwhandler handlers[] = {
	{ "interface",		parse_interface },
	{ "knock-ports",	parse_knockports },
	{ "knock-exclude",	parse_exclude },
	{ "telegram",		parse_telegram },
	{ "fleet",		parse_fleet },
	{ "service",		parse_service },
	{ "allow",		parse_allow },
	{ "allow-always",	parse_always },
	{ "admin",		parse_userlist },
	{ "notify",		parse_userlist },
};

/* room for element n of arr, which holds *cap: the array, or NULL */
static void *
grow(void *arr, size_t *cap, size_t n, size_t elsize)
{
	void	*np;
	size_t	 ncap;

	if (n < *cap)
		return (arr);
	for (ncap = *cap == 0 ? 16 : *cap; ncap <= n; ncap *= 2)
		if (ncap > SIZE_MAX / 2)
			return (NULL);
	if ((np = reallocarray(arr, ncap, elsize)) == NULL)
		return (NULL);
	*cap = ncap;
	return (np);
}

/* a Telegram id: users are positive, chats (groups) may be negative */
static int
id_item(struct lexer *lx, const char *what, struct token *t, void *arg)
{
	struct allow	*a = arg;
	int64_t		*np;
	long long	 v;

	if (cf_get_number(lx, what, t, a->kind == GRANT_USER ? 1 : INT64_MIN,
	    INT64_MAX, &v) == -1)
		return (-1);
	if (v == 0) {
		conf_error(lx, t->line, "%s: 0 is not a chat id", what);
		return (-1);
	}
	if ((np = grow(a->ids, &a->idcap, a->nids, sizeof(*np))) == NULL) {
		conf_error(lx, t->line, "out of memory");
		return (-1);
	}
	a->ids = np;
	a->ids[a->nids++] = v;
	return (0);
}

static int
name_item(struct lexer *lx, const char *what, struct token *t, void *arg)
{
	struct allow	*a = arg;
	void		*np;

	if (cf_check_name(lx, what, t) == -1)
		return (-1);
	if ((np = grow(a->names, &a->namecap, a->nnames,
	    sizeof(*a->names))) == NULL) {
		conf_error(lx, t->line, "out of memory");
		return (-1);
	}
	a->names = np;
	memcpy(a->names[a->nnames++], t->s, strlen(t->s) + 1);
	return (0);
}

/* name = "value" */
static int
parse_macro(struct parser *p, struct token *name)
{
	struct token	 t, v;
	const char	*s;
	size_t		 i;

	lex_next(&p->lx, &t);		/* the '=' seen by lex_peek() */
	for (s = name->s; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    *s == '_' || (s > name->s && *s >= '0' && *s <= '9'))) {
			conf_error(&p->lx, name->line, "invalid macro name "
			    "\"%s\" (letters, digits and '_')", name->s);
			return (-1);
		}
	for (i = 0; i < NSET(handlers); i++)
		if (strcmp(name->s, handlers[i].name) == 0)
			break;
	if (i < NSET(handlers) || strcmp(name->s, "user") == 0 ||
	    strcmp(name->s, "chroot") == 0) {
		conf_error(&p->lx, name->line, "macro name \"%s\" is a "
		    "keyword", name->s);
		return (-1);
	}
	if (cf_get_value(&p->lx, name->s, &v) == -1)
		return (-1);
	if (lex_setmacro(&p->lx, name->s, v.s) == -1) {
		conf_error(&p->lx, name->line, "out of memory");
		return (-1);
	}
	return (0);
}

static int
parse_interface(struct parser *p, struct token *kw)
{
	struct pks_conf	*c = p->conf;
	struct token	 v;
	int		 i;

	if (cf_get_value(&p->lx, kw->s, &v) == -1)
		return (-1);
	if (v.s[0] == '\0' || strlen(v.s) >= IFNAMSIZ) {
		conf_error(&p->lx, v.line, "interface: \"%.40s\" is not 1 to "
		    "%d bytes long", v.s, IFNAMSIZ - 1);
		return (-1);
	}
	/* what the kernel refuses in a name (dev_valid_name()) */
	if (strcmp(v.s, ".") == 0 || strcmp(v.s, "..") == 0 ||
	    strpbrk(v.s, "/: \t") != NULL) {
		conf_error(&p->lx, v.line, "interface: \"%s\" is not a valid "
		    "interface name", v.s);
		return (-1);
	}
	for (i = 0; i < c->nifaces; i++) {
		if (strcmp(c->ifaces[i], v.s) == 0) {
			conf_error(&p->lx, v.line, "interface \"%s\" given "
			    "twice", v.s);
			return (-1);
		}
		/* "any" already captures on every interface */
		if (strcmp(c->ifaces[i], "any") == 0 ||
		    strcmp(v.s, "any") == 0) {
			conf_error(&p->lx, v.line, "interface \"any\" cannot "
			    "be combined with other interfaces");
			return (-1);
		}
	}
	if (c->nifaces >= PKS_IFACES_MAX) {
		conf_error(&p->lx, v.line, "too many interfaces (max %d)",
		    PKS_IFACES_MAX);
		return (-1);
	}
	memcpy(c->ifaces[c->nifaces++], v.s, strlen(v.s) + 1);
	return (0);
}

/* LO-HI (or PORT alone, if single) after keyword kw */
static int
parse_range(struct parser *p, struct token *kw, int single, long long *l,
    long long *h)
{
	struct token	 v, lo, hi;
	char		*dash;

	if (cf_get_value(&p->lx, kw->s, &v) == -1)
		return (-1);
	if (single && strchr(v.s, '-') == NULL) {
		if (cf_get_number(&p->lx, kw->s, &v, 1, 65535, l) == -1)
			return (-1);
		*h = *l;
		return (0);
	}
	if ((dash = strchr(v.s, '-')) == NULL || dash == v.s) {
		conf_error(&p->lx, v.line, "%s: expected LO-HI, got \"%s\"",
		    kw->s, v.s);
		return (-1);
	}
	lo = hi = v;
	lo.s[dash - v.s] = '\0';
	memcpy(hi.s, dash + 1, strlen(dash + 1) + 1);
	if (cf_get_number(&p->lx, kw->s, &lo, 1, 65535, l) == -1 ||
	    cf_get_number(&p->lx, kw->s, &hi, 1, 65535, h) == -1)
		return (-1);
	if (*l >= *h) {
		conf_error(&p->lx, v.line, "%s: %lld-%lld: the low port must "
		    "be below the high one", kw->s, *l, *h);
		return (-1);
	}
	return (0);
}

/* knock-exclude PORT|LO-HI: never drawn, repeatable */
static int
parse_exclude(struct parser *p, struct token *kw)
{
	struct pks_conf	*c = p->conf;
	long long	 l, h;

	if (parse_range(p, kw, 1, &l, &h) == -1)
		return (-1);
	if (c->nexclude >= CONF_EXCLUDE_MAX) {
		conf_error(&p->lx, kw->line, "knock-exclude: at most %d lines",
		    CONF_EXCLUDE_MAX);
		return (-1);
	}
	c->exclude[c->nexclude][0] = l;
	c->exclude[c->nexclude][1] = h;
	c->nexclude++;
	return (0);
}

/* knock-ports LO-HI */
static int
parse_knockports(struct parser *p, struct token *kw)
{
	long long	 l, h;

	if (p->knock_line) {
		conf_error(&p->lx, kw->line, "knock-ports given twice (first "
		    "at line %d)", p->knock_line);
		return (-1);
	}
	if (parse_range(p, kw, 0, &l, &h) == -1)
		return (-1);
	p->conf->knock_lo = l;
	p->conf->knock_hi = h;
	p->knock_line = kw->line;
	return (0);
}

/* a block given once: telegram { } or fleet { } */
static int
parse_once(struct parser *p, struct token *kw, int *line, int *has,
    const struct setting *tab, size_t ntab, cf_kw_fn hook)
{
	size_t	i;

	if (*line) {
		conf_error(&p->lx, kw->line, "%s block given twice (first at "
		    "line %d)", kw->s, *line);
		return (-1);
	}
	*line = kw->line;
	*has = 1;
	for (i = 0; i < CONF_FILES; i++)
		if (strcmp(conffiles[i].block, kw->s) == 0)
			p->conf->file_line[i] = kw->line;
	return (cf_parse_block(&p->lx, kw, tab, ntab, p->conf, kw->s, hook,
	    p));
}

/* in block: the line of a keyword that names a file (conffiles) */
static void
file_kw(struct pks_conf *c, const char *block, const struct token *t)
{
	size_t	i;

	for (i = 0; i < CONF_FILES; i++)
		if (strcmp(conffiles[i].block, block) == 0 &&
		    strcmp(conffiles[i].kw, t->s) == 0)
			c->file_line[i] = t->line;
}

static int
tg_kw(struct lexer *lx, struct token *t, void *arg)
{
	struct parser	*p = arg;

	(void)lx;
	file_kw(p->conf, "telegram", t);
	return (CF_TABLE);
}

static int
parse_telegram(struct parser *p, struct token *kw)
{
	return (parse_once(p, kw, &p->tg_line, &p->conf->has_telegram,
	    tgsettings, NSET(tgsettings), tg_kw));
}

/*
 * Why name cannot name a host of the fleet, or NULL.  The front reads a
 * host's name where commands also take "all", /recovery's "revoke" and
 * a user id (/revoke web2 all, /recovery revoke 5, /revoke 6123456789):
 * a host named so would make those mean two things.
 */
static const char *
fleet_name_why(const char *name)
{
	static char	bad[64];

	if (!conf_valid_name(name)) {
		snprintf(bad, sizeof(bad), "is not 1 to %d letters, digits, "
		    "'-' or '_'", PKS_NAME_MAX - 1);
		return (bad);
	}
	if (strcmp(name, "all") == 0)
		return ("names every host, not one (/lockdown all)");
	if (strcmp(name, "revoke") == 0)
		return ("is a word of /recovery revoke ID|all, not a host's "
		    "name");
	if (strspn(name, "0123456789") == strlen(name))
		return ("is all digits, as a user id (/revoke USER_ID), not "
		    "a host's name");
	return (NULL);
}

static const char *const keywords[CONF_KEYS] = {
	"secret-file", "previous-secret-file"
};

/* "KEYWORD PATH" of a front's host line, keyword keywords[which] */
static int
host_key(struct lexer *lx, const char *host, int which, struct conf_key *k)
{
	struct token	kw, path;

	if (cf_get_value(lx, "host", &kw) == -1)
		return (-1);
	if (strcmp(kw.s, keywords[which]) != 0) {
		conf_error(lx, kw.line, "host %s: expected %s, got \"%.40s\"",
		    host, keywords[which], kw.s);
		return (-1);
	}
	if (cf_get_value(lx, "host", &path) == -1)
		return (-1);
	if (path.s[0] != '/' || strlen(path.s) >= sizeof(k->path)) {
		conf_error(lx, path.line, "host %s: %s \"%.40s\" is not an "
		    "absolute path that fits", host, keywords[which], path.s);
		return (-1);
	}
	memcpy(k->path, path.s, strlen(path.s) + 1);
	k->line = kw.line;
	return (0);
}

/*
 * In fleet { }: "host NAME secret-file PATH [previous-secret-file PATH]"
 * (a front: the key it shares with that host, and the one it replaces);
 * the lines of a host's "secret-file" and "previous-secret-file", for
 * the errors of their files.
 */
static int
fleet_kw(struct lexer *lx, struct token *t, void *arg)
{
	struct parser		*p = arg;
	struct pks_conf		*c = p->conf;
	struct conf_fleet_host	*h, nh;
	struct token		 name;
	const char		*why;
	size_t			 i;

	file_kw(c, "fleet", t);
	for (i = 0; i < CONF_KEYS; i++)
		if (strcmp(t->s, keywords[i]) == 0) {
			c->fleet_secret[i].line = t->line;
			return (CF_TABLE);
		}
	if (strcmp(t->s, "host") != 0)
		return (CF_TABLE);
	if (cf_get_value(lx, "host", &name) == -1)
		return (-1);
	if ((why = fleet_name_why(name.s)) != NULL) {
		conf_error(lx, name.line, "host: \"%.40s\" %s", name.s, why);
		return (-1);
	}
	memset(&nh, 0, sizeof(nh));
	if (host_key(lx, name.s, CONF_KEY_NOW, &nh.key[CONF_KEY_NOW]) == -1 ||
	    (lex_peek(lx) == T_WORD && host_key(lx, name.s, CONF_KEY_PREVIOUS,
	    &nh.key[CONF_KEY_PREVIOUS]) == -1))
		return (-1);
	for (i = 0; i < c->nfleet_hosts; i++)
		if (strcmp(c->fleet_hosts[i].name, name.s) == 0) {
			conf_error(lx, name.line, "host %s given twice (first "
			    "at line %d)", name.s, c->fleet_hosts[i].line);
			return (-1);
		}
	if (c->nfleet_hosts == PKS_FLEET_HOSTS_MAX) {
		conf_error(lx, name.line, "host: over %d hosts",
		    PKS_FLEET_HOSTS_MAX);
		return (-1);
	}
	if ((h = grow(c->fleet_hosts, &p->fleethostcap, c->nfleet_hosts,
	    sizeof(*h))) == NULL) {
		conf_error(lx, name.line, "out of memory");
		return (-1);
	}
	c->fleet_hosts = h;
	h = &c->fleet_hosts[c->nfleet_hosts++];
	*h = nh;
	memcpy(h->name, name.s, strlen(name.s) + 1);
	h->line = name.line;
	return (0);
}

/* fleet { ... }: what the whole block must hold is checked in finish() */
static int
parse_fleet(struct parser *p, struct token *kw)
{
	return (parse_once(p, kw, &p->fleet_line, &p->conf->has_fleet,
	    fleetsettings, NSET(fleetsettings), fleet_kw));
}

static int
parse_service(struct parser *p, struct token *kw)
{
	struct pks_conf		*c = p->conf;
	struct conf_service	 s;
	struct token		 name;
	char			 what[PKS_NAME_MAX + 16];
	int			 i, r, errors, ok = 1;

	p->nservice_stmts++;
	if (cf_get_value(&p->lx, "service", &name) == -1)
		return (-1);
	errors = p->lx.errors;
	/* on a bad name, still read the block to report its errors */
	if (cf_check_name(&p->lx, "service", &name) == -1)
		ok = 0;
	else if ((i = conf_service_index(c, name.s)) != -1) {
		conf_error(&p->lx, name.line, "service \"%s\" defined twice "
		    "(first at line %d)", name.s, p->svc_line[i]);
		ok = 0;
	} else if (c->nservices >= PKS_SERVICES_MAX) {
		conf_error(&p->lx, name.line, "too many services (max %d)",
		    PKS_SERVICES_MAX);
		ok = 0;
	}
	memset(&s, 0, sizeof(s));
	s.proto = IPPROTO_TCP;
	s.knock_proto = IPPROTO_TCP;
	s.open_for = 30;
	snprintf(what, sizeof(what), "service %.*s", PKS_NAME_MAX, name.s);
	r = cf_parse_block(&p->lx, kw, svcsettings, NSET(svcsettings), &s,
	    what, NULL, NULL);
	/* a block with errors is kept too: "allow" may name it */
	if (ok && r == 0) {
		memcpy(s.name, name.s, strlen(name.s) + 1);
		p->svc_line[c->nservices] = kw->line;
		c->services[c->nservices++] = s;
	}
	if (r == -1 || p->lx.errors > errors)
		return (r);
	if (s.port == 0) {
		conf_error(&p->lx, kw->line, "%s: no port given", what);
		return (0);	/* the statement itself ended well */
	}
	for (i = 0; i < c->nservices - 1; i++)
		if (c->services[i].port == s.port &&
		    c->services[i].proto == s.proto) {
			conf_error(&p->lx, kw->line, "%s: port %u/%s is "
			    "already protected by service %s", what, s.port,
			    s.proto == IPPROTO_TCP ? "tcp" : "udp",
			    c->services[i].name);
			break;
		}
	return (0);
}

/* "to NAME|{ NAME ... }" ending an allow statement a, kept (or freed) */
static int
allow_to(struct parser *p, struct token *kw, const char *what,
    struct allow *a)
{
	struct token	 t;
	char		 buf[64];
	void		*np;

	lex_next(&p->lx, &t);
	if (t.type != T_WORD || strcmp(t.s, "to") != 0) {
		if (t.type != T_ERROR)
			conf_error(&p->lx, t.line, "%s: expected \"to\", got "
			    "%s", what, lex_tokdesc(&t, buf, sizeof(buf)));
		lex_unget(&p->lx, &t);
		goto fail;
	}
	if (cf_parse_list(&p->lx, what, name_item, a) == -1)
		goto fail;
	if ((np = grow(p->allows, &p->allowcap, p->nallows, sizeof(*a))) ==
	    NULL) {
		conf_error(&p->lx, kw->line, "out of memory");
		goto fail;
	}
	p->allows = np;
	p->allows[p->nallows++] = *a;
	return (0);
 fail:
	free(a->ids);
	free(a->names);
	return (-1);
}

/* allow user|chat ID|{ ID ... } to NAME|{ NAME ... } */
static int
parse_allow(struct parser *p, struct token *kw)
{
	struct allow	 a;
	struct token	 t;
	char		 buf[64];
	const char	*what;

	memset(&a, 0, sizeof(a));
	a.line = kw->line;
	lex_next(&p->lx, &t);
	if (t.type == T_WORD && strcmp(t.s, "user") == 0) {
		a.kind = GRANT_USER;
		what = "allow user";
	} else if (t.type == T_WORD && strcmp(t.s, "chat") == 0) {
		a.kind = GRANT_CHAT;
		what = "allow chat";
	} else {
		if (t.type != T_ERROR)
			conf_error(&p->lx, t.line, "allow: expected user or "
			    "chat, got %s", lex_tokdesc(&t, buf, sizeof(buf)));
		lex_unget(&p->lx, &t);
		return (-1);
	}
	if (cf_parse_list(&p->lx, what, id_item, &a) == -1)
		goto fail;
	return (allow_to(p, kw, what, &a));
 fail:
	free(a.ids);
	free(a.names);
	return (-1);
}

/* allow-always PREFIX to NAME|{ NAME ... } */
static int
parse_always(struct parser *p, struct token *kw)
{
	struct pks_conf	*c = p->conf;
	struct allow	 a;

	memset(&a, 0, sizeof(a));
	a.line = kw->line;
	if (c->nalways >= CONF_ALWAYS_MAX) {
		conf_error(&p->lx, kw->line, "allow-always: at most %d lines",
		    CONF_ALWAYS_MAX);
		return (-1);
	}
	if (cf_get_prefix(&p->lx, kw->s, &c->always[c->nalways]) == -1)
		return (-1);
	a.always = c->nalways++;
	return (allow_to(p, kw, kw->s, &a));
}

/* admin user ID|{ ... }, notify user ID|{ ... } */
static int
parse_userlist(struct parser *p, struct token *kw)
{
	struct pks_conf	 *c = p->conf;
	struct allow	  a;
	struct token	  t;
	char		  buf[64];
	const char	 *what;
	int64_t		**arr, *np;
	size_t		 *n, *cap;
	int		  r = -1;

	if (strcmp(kw->s, "admin") == 0) {
		arr = &c->admins;
		n = &c->nadmins;
		cap = &p->admincap;
	} else {
		arr = &c->notify;
		n = &c->nnotify;
		cap = &p->notifycap;
	}
	what = arr == &c->admins ? "admin user" : "notify user";
	if (lex_next(&p->lx, &t) != T_WORD || strcmp(t.s, "user") != 0) {
		if (t.type != T_ERROR)
			conf_error(&p->lx, t.line, "%s: expected user, got %s",
			    kw->s, lex_tokdesc(&t, buf, sizeof(buf)));
		lex_unget(&p->lx, &t);
		return (-1);
	}
	memset(&a, 0, sizeof(a));
	a.kind = GRANT_USER;
	if (cf_parse_list(&p->lx, what, id_item, &a) == -1)
		goto done;
	if ((np = grow(*arr, cap, *n + a.nids - 1, sizeof(*np))) == NULL) {
		conf_error(&p->lx, kw->line, "out of memory");
		goto done;
	}
	memcpy(np + *n, a.ids, a.nids * sizeof(*np));
	*arr = np;
	*n += a.nids;
	r = 0;
 done:
	free(a.ids);
	return (r);
}

static int
parse_global(struct parser *p, struct token *kw)
{
	size_t	i;

	for (i = 0; i < NSET(handlers); i++)
		if (strcmp(kw->s, handlers[i].name) == 0)
			return (handlers[i].fn(p, kw));
	for (i = 0; i < NSET(globals); i++)
		if (strcmp(kw->s, globals[i].name) == 0) {
			if (strcmp(kw->s, "sequence-length") == 0)
				p->seq_line = kw->line;
			return (cf_set_setting(&p->lx, globals, p->seen, i,
			    p->conf, kw));
		}
	conf_error(&p->lx, kw->line, "unknown keyword \"%s\"", kw->s);
	return (-1);
}

static void
parse_top(struct parser *p)
{
	struct token	t;
	char		buf[64];
	int		r;

	for (;;) {
		switch (lex_next(&p->lx, &t)) {
		case T_EOF:
			return;
		case T_NL:
			continue;
		case T_WORD:
			if (lex_peek(&p->lx) == T_EQ)
				r = parse_macro(p, &t);
			else
				r = parse_global(p, &t);
			break;
		case T_ERROR:
			r = -1;
			break;
		default:
			conf_error(&p->lx, t.line, "unexpected %s",
			    lex_tokdesc(&t, buf, sizeof(buf)));
			if (t.type == T_LBRACE)
				lex_unget(&p->lx, &t);
			r = -1;
			break;
		}
		if (r == 0)
			r = cf_end_stmt(&p->lx, 0);
		if (r == -1)
			cf_skip_stmt(&p->lx, 0);
	}
}

static int
cmp_grant(const void *a, const void *b)
{
	const struct conf_grant	*x = a, *y = b;

	if (x->kind != y->kind)
		return (x->kind < y->kind ? -1 : 1);
	if (x->id != y->id)
		return (x->id < y->id ? -1 : 1);
	return (0);
}

static int
cmp_id(const void *a, const void *b)
{
	const int64_t	*x = a, *y = b;

	return (*x < *y ? -1 : *x > *y);
}

static size_t
uniq_ids(int64_t *v, size_t n)
{
	size_t	i, j = 0;

	if (n == 0)
		return (0);
	qsort(v, n, sizeof(*v), cmp_id);
	for (i = 1; i < n; i++)
		if (v[i] != v[j])
			v[++j] = v[i];
	return (j + 1);
}

/* a fleet block: a broker, a CA, this host's name, a way to log in */
static void
finish_fleet(struct parser *p)
{
	struct pks_conf	*c = p->conf;
	const char	*why;
	int		 line = p->fleet_line;
	size_t		 i;

	if (c->fleet_broker[0] == '\0')
		conf_error(&p->lx, line, "fleet: no broker given");
	if (c->fleet_ca[0] == '\0')
		conf_error(&p->lx, line, "fleet: no ca-file given (the "
		    "broker's certificate is always checked)");
	if (c->fleet_name[0] == '\0')
		conf_error(&p->lx, line, "fleet: no name given (this host's "
		    "name in the fleet)");
	else if ((why = fleet_name_why(c->fleet_name)) != NULL)
		conf_error(&p->lx, line, "fleet: name \"%s\" %s",
		    c->fleet_name, why);
	if ((c->fleet_cert[0] == '\0') != (c->fleet_key[0] == '\0'))
		conf_error(&p->lx, line, "fleet: cert-file and key-file go "
		    "together");
	if (c->fleet_cert[0] == '\0' && c->fleet_password[0] == '\0')
		conf_error(&p->lx, line, "fleet: no credentials (cert-file "
		    "and key-file, or password-file)");
	if (c->fleet_role == PKS_FLEET_FRONT && !c->has_telegram)
		conf_error(&p->lx, line, "fleet: role front needs a telegram "
		    "block (the front runs the bot)");
	/* the front signs each host's requests with that host's key */
	for (i = 0; c->fleet_role == PKS_FLEET_FRONT && i < CONF_KEYS; i++)
		if (c->fleet_secret[i].path[0] != '\0')
			conf_error(&p->lx, c->fleet_secret[i].line, "fleet: %s "
			    "is a host's; a front names each host's keys with "
			    "\"host NAME secret-file PATH [previous-secret-file "
			    "PATH]\"", keywords[i]);
	if (c->fleet_role == PKS_FLEET_HOST &&
	    c->fleet_secret[CONF_KEY_NOW].path[0] == '\0')
		conf_error(&p->lx, line, "fleet: no secret-file given (the "
		    "key this host shares with the front)");
	if (c->fleet_role == PKS_FLEET_HOST && c->nfleet_hosts > 0)
		conf_error(&p->lx, c->fleet_hosts[0].line, "fleet: host lines "
		    "are a front's (this is role host)");
	for (i = 0; i < c->nfleet_hosts; i++)
		if (strcmp(c->fleet_hosts[i].name, c->fleet_name) == 0)
			conf_error(&p->lx, c->fleet_hosts[i].line, "fleet: "
			    "host %s is this host's own name", c->fleet_name);
	/* the front reads "/generate NAME SERVICE" as its own service
	 * NAME when it has one: such a host could never be asked */
	for (i = 0; c->fleet_role == PKS_FLEET_FRONT &&
	    i <= c->nfleet_hosts; i++) {
		const char	*name = i < c->nfleet_hosts ?
			    c->fleet_hosts[i].name : c->fleet_name;

		if (conf_service_index(c, name) != -1)
			conf_error(&p->lx, i < c->nfleet_hosts ?
			    c->fleet_hosts[i].line : line, "fleet: host %s "
			    "is also a service here (/generate %s would "
			    "mean the service)", name, name);
	}
}

/* what needs the whole file: service references, grants, defaults */
static void
finish(struct parser *p)
{
	struct pks_conf	*c = p->conf;
	struct allow	*a;
	uint64_t	 mask;
	size_t		 i, j, n, pairs = 0;
	unsigned int	 need;
	int		 idx, bad;

	for (i = 0, n = 0; i < p->nallows; i++)
		n += p->allows[i].nids;
	if (n > 0 && (c->grants = calloc(n, sizeof(*c->grants))) == NULL) {
		conf_error(&p->lx, p->lx.line, "out of memory");
		return;
	}
	for (i = 0; i < p->nallows; i++) {
		a = &p->allows[i];
		mask = 0;
		bad = 0;
		for (j = 0; j < a->nnames; j++) {
			if ((idx = conf_service_index(c, a->names[j])) == -1) {
				conf_error(&p->lx, a->line, "%s: service "
				    "\"%s\" is not defined", a->kind == 0 ?
				    "allow-always" : "allow", a->names[j]);
				bad = 1;
			} else
				mask |= 1ULL << idx;
		}
		if (a->kind == 0) {
			c->always[a->always].services = mask;
			pairs += __builtin_popcountll(mask);
		}
		for (j = 0; j < a->nids && !bad; j++) {
			c->grants[c->ngrants].kind = a->kind;
			c->grants[c->ngrants].id = a->ids[j];
			c->grants[c->ngrants++].services = mask;
		}
	}
	if (pairs > PKS_ALLOW_MAX)
		conf_error(&p->lx, p->lx.line, "allow-always: %zu prefix and "
		    "service pairs, at most %d", pairs, PKS_ALLOW_MAX);
	/* one grant per user or chat, holding all its services */
	if (c->ngrants > 0) {
		qsort(c->grants, c->ngrants, sizeof(*c->grants), cmp_grant);
		for (i = 1, n = 0; i < c->ngrants; i++) {
			if (cmp_grant(&c->grants[i], &c->grants[n]) == 0)
				c->grants[n].services |= c->grants[i].services;
			else
				c->grants[++n] = c->grants[i];
		}
		c->ngrants = n + 1;
	}
	c->nadmins = uniq_ids(c->admins, c->nadmins);
	c->nnotify = uniq_ids(c->notify, c->nnotify);

	if (p->nservice_stmts == 0)
		conf_error(&p->lx, p->lx.line, "no service defined (at least "
		    "one is required)");
	if (c->nifaces == 0) {
		memcpy(c->ifaces[0], "any", sizeof("any"));
		c->nifaces = 1;
	}
	if (c->has_fleet)
		finish_fleet(p);
	/* each knock port needs its guard ports free on either side */
	need = c->seq_len * (2 * PKS_GUARD + 1);
	if ((unsigned int)(c->knock_hi - c->knock_lo) + 1 < need)
		conf_error(&p->lx, p->knock_line ? p->knock_line : p->seq_line,
		    "knock-ports %u-%u: too few ports for sequence-length %u "
		    "(needs at least %u)", c->knock_lo, c->knock_hi,
		    c->seq_len, need);
}

struct pks_conf *
conf_parse_buffer(const char *file, const char *buf, size_t len)
{
	struct parser	*p;
	struct pks_conf	*c;
	size_t		 i;
	int		 errors;

	if (len > CONF_SIZE_MAX) {
		log_warnx("%s: file too large (%zu bytes, max %d)", file, len,
		    CONF_SIZE_MAX);
		return (NULL);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", file);
		free(p);
		return (NULL);
	}
	snprintf(c->user, sizeof(c->user), "_pks");
	snprintf(c->chroot, sizeof(c->chroot), "/var/lib/pks/empty");
	c->knock_lo = 20000;
	c->knock_hi = 60000;
	c->seq_len = 3;
	c->seq_lifetime = 300;
	c->knock_timeout = 10;
	c->max_sources = 65536;
	c->max_sequences = 10000;
	c->max_seq_chat = 1000;
	c->recovery_valid = 90 * 86400;
	c->nflog_group = PKS_NFLOG_GROUP;
	snprintf(c->control_socket, sizeof(c->control_socket),
	    "/run/pks/pks.sock");
	snprintf(c->state_file, sizeof(c->state_file), "/var/lib/pks/state");
	snprintf(c->token_file, sizeof(c->token_file), "/etc/pks/token");
	snprintf(c->api_url, sizeof(c->api_url), "https://api.telegram.org");
	snprintf(c->ca_file, sizeof(c->ca_file),
	    "/etc/ssl/certs/ca-certificates.crt");
	c->fleet_timeout = 5;

	p->conf = c;
	lex_init(&p->lx, file, buf, len);
	if (lex_check(&p->lx) == 0) {
		parse_top(p);
		finish(p);
	}
	errors = p->lx.errors;
	for (i = 0; i < p->nallows; i++) {
		free(p->allows[i].ids);
		free(p->allows[i].names);
	}
	free(p->allows);
	lex_free(&p->lx);
	free(p);
	if (errors > 0) {
		conf_free(c);
		return (NULL);
	}
	return (c);
}

/* a side's keys: each file checked (root, 0600, no link) and read, and
 * the previous one not the same as the new; every error logged as
 * file:line ("WHAT secret-file PATH WHY") */
static int
read_keys(const char *path, const char *what, struct conf_key *k)
{
	struct conf_key	*now = &k[CONF_KEY_NOW], *prev = &k[CONF_KEY_PREVIOUS];
	char		 buf[PATH_MAX + 100];
	int		 i, rc = 0;

	for (i = 0; i < CONF_KEYS; i++) {
		if (k[i].path[0] == '\0')
			continue;
		snprintf(buf, sizeof(buf), "%s:%d: %s%s", path, k[i].line,
		    what, keywords[i]);
		if (conf_read_secret(buf, k[i].path, k[i].key, &k[i].len) ==
		    -1)
			rc = -1;
	}
	if (rc == 0 && prev->len > 0 && prev->len == now->len &&
	    memcmp(prev->key, now->key, now->len) == 0) {
		log_warnx("%s:%d: %sprevious-secret-file %s holds the key of "
		    "secret-file %s (line %d): a rotation has a new key", path,
		    prev->line, what, prev->path, now->path, now->line);
		rc = -1;
	}
	return (rc);
}

/* the fleet's keys, a host's or those a front shares with each host */
static int
fleet_secrets(const char *path, struct pks_conf *c)
{
	char	what[PKS_NAME_MAX + 32];
	size_t	i;
	int	rc;

	rc = read_keys(path, "fleet ", c->fleet_secret);
	for (i = 0; i < c->nfleet_hosts; i++) {
		snprintf(what, sizeof(what), "fleet host %s ",
		    c->fleet_hosts[i].name);
		if (read_keys(path, what, c->fleet_hosts[i].key) == -1)
			rc = -1;
	}
	return (rc);
}

/*
 * Open path to read it, a regular file only; O_NONBLOCK: a FIFO in its
 * place must not hang us.  The descriptor, st filled; or -1, logged as
 * "WHAT PATH not found", "... is not a regular file" or the error.
 */
static int
open_regular(const char *what, const char *path, struct stat *st)
{
	int	fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC))
	    == -1) {
		if (errno == ENOENT)
			log_warnx("%s %s not found", what, path);
		else
			log_warn("%s %s", what, path);
		return (-1);
	}
	if (fstat(fd, st) == -1) {
		log_warn("%s %s", what, path);
		close(fd);
		return (-1);
	}
	if (!S_ISREG(st->st_mode)) {
		log_warnx("%s %s is not a regular file", what, path);
		close(fd);
		return (-1);
	}
	return (fd);
}

/* every file of conffiles the blocks given name: -1 if one is refused
 * (each one logged as "FILE:LINE: BLOCK KEYWORD PATH WHY") */
static int
check_files(const char *path, const struct pks_conf *c)
{
	const struct conffile	*f;
	const char		*file;
	char			 what[PATH_MAX + 64];
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < CONF_FILES; i++) {
		f = &conffiles[i];
		file = (const char *)c + f->off;
		if (file[0] == '\0' || !(strcmp(f->block, "telegram") == 0 ?
		    c->has_telegram : c->has_fleet))
			continue;
		snprintf(what, sizeof(what), "%s:%d: %s %s", path,
		    c->file_line[i], f->block, f->kw);
		if ((f->secret ? conf_check_secret(what, file) :
		    conf_check_readable(what, file)) == -1)
			rc = -1;
	}
	return (rc);
}

struct pks_conf *
conf_load(const char *path)
{
	struct pks_conf	*c;
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, bad;

	if ((fd = open_regular("configuration file", path, &st)) == -1)
		return (NULL);
	if (st.st_size > CONF_SIZE_MAX) {
		log_warnx("%s: file too large (max %d bytes)", path,
		    CONF_SIZE_MAX);
		close(fd);
		return (NULL);
	}
	/* one byte more than allowed, to see a file that grew */
	if ((buf = malloc(CONF_SIZE_MAX + 1)) == NULL) {
		log_warn("%s", path);
		close(fd);
		return (NULL);
	}
	while (len <= CONF_SIZE_MAX &&
	    (n = read(fd, buf + len, CONF_SIZE_MAX + 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s", path);
			free(buf);
			close(fd);
			return (NULL);
		}
		len += n;
	}
	close(fd);
	c = conf_parse_buffer(path, buf, len);
	free(buf);
	if (c == NULL)
		return (NULL);
	/* every bad file said at once */
	bad = c->has_fleet && fleet_secrets(path, c) == -1;
	if (check_files(path, c) == -1 || bad) {
		conf_free(c);
		return (NULL);
	}
	return (c);
}

void
conf_free(struct pks_conf *c)
{
	if (c == NULL)
		return;
	free(c->grants);
	free(c->admins);
	free(c->notify);
	if (c->fleet_hosts != NULL)
		explicit_bzero(c->fleet_hosts, c->nfleet_hosts *
		    sizeof(*c->fleet_hosts));
	free(c->fleet_hosts);
	explicit_bzero(c->fleet_secret, sizeof(c->fleet_secret));
	free(c);
}

int
conf_service_index(const struct pks_conf *c, const char *name)
{
	int	i;

	if (c == NULL || name == NULL)
		return (-1);
	for (i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return (i);
	return (-1);
}

/*
 * A file the monitor hands to a child later (a CA bundle, a
 * certificate): it must be there and readable now, so that a start or
 * a reload fails with its name rather than a child that cannot connect
 * and restarts.
 */
int
conf_check_readable(const char *what, const char *path)
{
	struct stat	st;
	int		fd;

	if ((fd = open_regular(what, path, &st)) == -1)
		return (-1);
	close(fd);
	return (0);
}

/*
 * A secret (the bot token, a fleet key or password): a regular file (not
 * a link someone could point elsewhere), owned by root, no access for
 * group or others.
 */
int
conf_check_secret(const char *what, const char *path)
{
	struct stat	st;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			log_warnx("%s %s not found", what, path);
		else
			log_warn("%s %s", what, path);
		return (-1);
	}
	if (S_ISLNK(st.st_mode)) {
		log_warnx("%s %s must not be a symbolic link", what, path);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s %s is not a regular file", what, path);
		return (-1);
	}
	if (st.st_uid != 0) {
		log_warnx("%s %s must be owned by root (owner uid %u)", what,
		    path, (unsigned int)st.st_uid);
		return (-1);
	}
	if (st.st_mode & 077) {
		log_warnx("%s %s must not be readable by group or others "
		    "(mode %04o)", what, path,
		    (unsigned int)(st.st_mode & 07777));
		return (-1);
	}
	return (0);
}

/*
 * A fleet secret-file: checked as every secret, again on the descriptor,
 * and read: its bytes, a final newline and blanks left out, are the key
 * (CONF_SECRET_MIN to CONF_SECRET_MAX of them).  Never logged.
 */
int
conf_read_secret(const char *what, const char *path, uint8_t *key,
    size_t *keylen)
{
	struct stat	st;
	uint8_t		buf[CONF_SECRET_MAX + 2];
	size_t		len = 0;
	ssize_t		n;
	int		fd;

	*keylen = 0;
	if (conf_check_secret(what, path) == -1)
		return (-1);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		log_warn("%s %s", what, path);
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077)) {
		log_warnx("%s %s changed while it was read", what, path);
		close(fd);
		return (-1);
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len,
	    sizeof(buf) - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s %s", what, path);
			explicit_bzero(buf, sizeof(buf));
			close(fd);
			return (-1);
		}
		len += n;
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	    buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len < CONF_SECRET_MIN || len > CONF_SECRET_MAX) {
		log_warnx("%s %s: %s bytes, %d to %d are needed (openssl rand "
		    "-hex 32 makes one)", what, path, len > CONF_SECRET_MAX ?
		    "too many" : "too few", CONF_SECRET_MIN, CONF_SECRET_MAX);
		explicit_bzero(buf, sizeof(buf));
		return (-1);
	}
	memcpy(key, buf, len);
	*keylen = len;
	explicit_bzero(buf, sizeof(buf));
	return (0);
}

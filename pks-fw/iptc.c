/*
 * iptc.c: the PKS chain, through libiptc (ip4tc and ip6tc).
 *
 * The state (services, open windows) lives here; the kernel is made to
 * match it.  Each change rebuilds the whole PKS chain of one family in
 * the libiptc snapshot and commits: a commit replaces the whole table
 * anyway, and a rebuild cannot leave a stale or doubled rule behind,
 * whatever happened to the chain since the last commit.
 *
 * libiptc does not take the xtables lock; iptables(8) does.  We hold it
 * from iptc_init() to iptc_commit(), so an iptables(8) run cannot slip a
 * change in between that our commit would silently undo.  A writer that
 * ignores the lock makes the kernel refuse our commit (EAGAIN: the rule
 * count changed): take a fresh snapshot and try again.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "log.h"
#include "pks.h"
#include "iptc.h"

#define FW_TABLE	"filter"
#define FW_INPUT	"INPUT"
#define FW_ENTRY_MAX	1024	/* one rule, matches and target included */

#ifdef PKS_TESTHOOKS
void	(*fw_precommit_hook)(int, int);
#endif

/* what a window rule matches; windows with the same key share a rule */
struct fw_key {
	uint8_t		af;
	uint8_t		proto;
	uint16_t	port;
	uint8_t		addr[16];
};

struct fw_win {
	uint32_t	id;
	struct fw_key	key;
};

struct fw_rule {
	struct fw_key	key;
	unsigned int	refs;		/* windows holding it open */
};

enum fw_kind {
	R_ESTAB,	/* -p P --dport N -m conntrack --ctstate ... -j ACCEPT */
	R_WINDOW,	/* -s A -p P --dport N -j ACCEPT */
	R_DROP,		/* -p P --dport N -j DROP */
	R_JUMP		/* -j PKS */
};

union fw_entry {
	struct ipt_entry	e4;
	struct ip6t_entry	e6;
	unsigned char		buf[FW_ENTRY_MAX];
};

/*
 * One family's libiptc, behind one set of pointers, so the logic above
 * it is written once.  Entries are passed as void *.
 */
struct fw_family {
	int		  af;
	const char	 *name;
	struct xtc_handle *(*init)(const char *);
	void		(*free)(struct xtc_handle *);
	int		(*is_chain)(const char *, struct xtc_handle *const);
	int		(*create)(const xt_chainlabel, struct xtc_handle *);
	int		(*flush)(const xt_chainlabel, struct xtc_handle *);
	int		(*append)(const char *, const void *,
			    struct xtc_handle *);
	int		(*insert)(const char *, const void *, unsigned int,
			    struct xtc_handle *);
	int		(*delete_num)(const xt_chainlabel, unsigned int,
			    struct xtc_handle *);
	const void	*(*first)(const char *, struct xtc_handle *);
	const void	*(*next)(const void *, struct xtc_handle *);
	const char	*(*target)(const void *, struct xtc_handle *);
	int		(*is_plain)(const void *);
	int		(*commit)(struct xtc_handle *);
	const char	*(*error)(int);
};

static struct pks_fw_service	fw_svcs[PKS_SERVICES_MAX];
static size_t			fw_nsvcs;
static struct fw_win		fw_wins[FW_WINDOWS_MAX];
static size_t			fw_nwins;
static struct fw_rule		fw_rules[FW_WINDOWS_MAX];
static size_t			fw_nrule;
static int			fw_lockfd = -1;

/* ---------------------------------------------------------- families */

static int
v4_append(const char *c, const void *e, struct xtc_handle *h)
{
	return iptc_append_entry(c, e, h);
}

static int
v4_insert(const char *c, const void *e, unsigned int n, struct xtc_handle *h)
{
	return iptc_insert_entry(c, e, n, h);
}

static const void *
v4_first(const char *c, struct xtc_handle *h)
{
	return iptc_first_rule(c, h);
}

static const void *
v4_next(const void *e, struct xtc_handle *h)
{
	return iptc_next_rule(e, h);
}

static const char *
v4_target(const void *e, struct xtc_handle *h)
{
	return iptc_get_target(e, h);
}

/* no address, interface, protocol or match: an unconditional rule */
static int
v4_is_plain(const void *p)
{
	const struct ipt_entry	*e = p;
	static const struct ipt_ip zero;

	return e->target_offset == sizeof(*e) &&
	    memcmp(&e->ip, &zero, sizeof(zero)) == 0;
}

static int
v6_append(const char *c, const void *e, struct xtc_handle *h)
{
	return ip6tc_append_entry(c, e, h);
}

static int
v6_insert(const char *c, const void *e, unsigned int n, struct xtc_handle *h)
{
	return ip6tc_insert_entry(c, e, n, h);
}

static const void *
v6_first(const char *c, struct xtc_handle *h)
{
	return ip6tc_first_rule(c, h);
}

static const void *
v6_next(const void *e, struct xtc_handle *h)
{
	return ip6tc_next_rule(e, h);
}

static const char *
v6_target(const void *e, struct xtc_handle *h)
{
	return ip6tc_get_target(e, h);
}

static int
v6_is_plain(const void *p)
{
	const struct ip6t_entry	*e = p;
	static const struct ip6t_ip6 zero;

	return e->target_offset == sizeof(*e) &&
	    memcmp(&e->ipv6, &zero, sizeof(zero)) == 0;
}

static const struct fw_family fw_v4 = {
	AF_INET, "IPv4", iptc_init, iptc_free, iptc_is_chain,
	iptc_create_chain, iptc_flush_entries, v4_append, v4_insert,
	iptc_delete_num_entry, v4_first, v4_next, v4_target, v4_is_plain,
	iptc_commit, iptc_strerror
};

static const struct fw_family fw_v6 = {
	AF_INET6, "IPv6", ip6tc_init, ip6tc_free, ip6tc_is_chain,
	ip6tc_create_chain, ip6tc_flush_entries, v6_append, v6_insert,
	ip6tc_delete_num_entry, v6_first, v6_next, v6_target, v6_is_plain,
	ip6tc_commit, ip6tc_strerror
};

static const struct fw_family *
fw_family(int af)
{
	return af == AF_INET ? &fw_v4 : &fw_v6;
}

/* ---------------------------------------------------------- entries */

static size_t
fw_match(unsigned char *p, const char *name, uint8_t rev, const void *data,
    size_t len)
{
	struct xt_entry_match	*m = (struct xt_entry_match *)p;
	size_t			 sz;

	sz = XT_ALIGN(sizeof(*m)) + XT_ALIGN(len);
	memset(p, 0, sz);
	m->u.user.match_size = sz;
	snprintf(m->u.user.name, sizeof(m->u.user.name), "%s", name);
	m->u.user.revision = rev;
	memcpy(m->data, data, len);
	return sz;
}

/* -p tcp|udp --dport N (with the implicit -m tcp|udp iptables adds) */
static size_t
fw_match_port(unsigned char *p, uint8_t proto, uint16_t port)
{
	struct xt_tcp	tcp;
	struct xt_udp	udp;

	if (proto == IPPROTO_TCP) {
		memset(&tcp, 0, sizeof(tcp));
		tcp.spts[1] = 0xffff;
		tcp.dpts[0] = tcp.dpts[1] = port;
		return fw_match(p, "tcp", 0, &tcp, sizeof(tcp));
	}
	memset(&udp, 0, sizeof(udp));
	udp.spts[1] = 0xffff;
	udp.dpts[0] = udp.dpts[1] = port;
	return fw_match(p, "udp", 0, &udp, sizeof(udp));
}

/* -m conntrack --ctstate ESTABLISHED,RELATED (revision 3) */
static size_t
fw_match_estab(unsigned char *p)
{
	struct xt_conntrack_mtinfo3	ct;

	memset(&ct, 0, sizeof(ct));
	ct.match_flags = XT_CONNTRACK_STATE;
	ct.state_mask = XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) |
	    XT_CONNTRACK_STATE_BIT(IP_CT_RELATED);
	return fw_match(p, "conntrack", 3, &ct, sizeof(ct));
}

/*
 * A standard target: ACCEPT or DROP become verdicts, any other name a
 * jump to that chain (libiptc resolves both by name).
 */
static size_t
fw_target(unsigned char *p, const char *name)
{
	struct xt_standard_target	*t = (struct xt_standard_target *)p;
	size_t				 sz;

	sz = XT_ALIGN(sizeof(*t));
	memset(p, 0, sz);
	t->target.u.user.target_size = sz;
	snprintf(t->target.u.user.name, sizeof(t->target.u.user.name), "%s",
	    name);
	return sz;
}

/* Lay out one rule of the given kind in e. */
static void
fw_entry(union fw_entry *e, int af, enum fw_kind kind, uint8_t proto,
    uint16_t port, const uint8_t *addr)
{
	unsigned char	*p;
	size_t		 off, toff;

	memset(e, 0, sizeof(*e));
	if (af == AF_INET) {
		off = sizeof(e->e4);
		if (kind != R_JUMP)
			e->e4.ip.proto = proto;
		if (kind == R_WINDOW) {
			memcpy(&e->e4.ip.src, addr, 4);
			memset(&e->e4.ip.smsk, 0xff, 4);
		}
	} else {
		off = sizeof(e->e6);
		if (kind != R_JUMP) {
			e->e6.ipv6.proto = proto;
			e->e6.ipv6.flags = IP6T_F_PROTO;
		}
		if (kind == R_WINDOW) {
			memcpy(&e->e6.ipv6.src, addr, 16);
			memset(&e->e6.ipv6.smsk, 0xff, 16);
		}
	}
	p = e->buf;
	if (kind != R_JUMP)
		off += fw_match_port(p + off, proto, port);
	if (kind == R_ESTAB)
		off += fw_match_estab(p + off);
	toff = off;
	off += fw_target(p + off, kind == R_JUMP ? FW_CHAIN :
	    kind == R_DROP ? IPTC_LABEL_DROP : IPTC_LABEL_ACCEPT);
	if (af == AF_INET) {
		e->e4.target_offset = toff;
		e->e4.next_offset = off;
	} else {
		e->e6.target_offset = toff;
		e->e6.next_offset = off;
	}
}

/* ---------------------------------------------------------- lock */

int
fw_lock_open(const char *path)
{
	int	fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return errno;
	if (fw_lockfd != -1)
		close(fw_lockfd);
	fw_lockfd = fd;
	return 0;
}

/* Wait for the xtables lock, a bounded time: a hung iptables(8) must
 * not make us deaf to the monitor. */
static int
fw_lock(void)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int		waited = 0;

	if (fw_lockfd == -1)
		return EBADF;
	while (flock(fw_lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return errno;
		if (waited >= FW_LOCK_WAIT_MS) {
			log_warnx("xtables lock held by another process for "
			    "%d ms, giving up", waited);
			return ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
		waited += 10;
	}
	return 0;
}

static void
fw_unlock(void)
{
	(void)flock(fw_lockfd, LOCK_UN);
}

/* ---------------------------------------------------------- commit */

/*
 * Make INPUT's first rule the one and only unconditional jump to PKS.
 * Jumps to PKS with conditions are an admin's and are left alone.
 */
static int
fw_fix_jump(const struct fw_family *f, struct xtc_handle *h)
{
	union fw_entry	 e;
	const void	*r;
	unsigned int	 i;
	int		 first;

	for (;;) {
		first = 0;
		for (r = f->first(FW_INPUT, h), i = 0; r != NULL;
		    r = f->next(r, h), i++) {
			if (strcmp(f->target(r, h), FW_CHAIN) != 0 ||
			    !f->is_plain(r))
				continue;
			if (i > 0)
				break;	/* misplaced or doubled */
			first = 1;
		}
		if (r == NULL)
			break;
		if (!f->delete_num(FW_INPUT, i, h))
			return 0;
	}
	if (first)
		return 1;
	fw_entry(&e, f->af, R_JUMP, 0, 0, NULL);
	return f->insert(FW_INPUT, &e, 0, h);
}

/* Rebuild the PKS chain of one family in a fresh snapshot, commit. */
static int
fw_sync_once(const struct fw_family *f, int attempt)
{
	struct xtc_handle	*h;
	union fw_entry		 e;
	size_t			 i;
	const char		*what;
	int			 err;

	(void)attempt;
	if ((h = f->init(FW_TABLE)) == NULL) {
		err = errno ? errno : EPROTO;
		log_warnx("%s filter table: %s", f->name, f->error(errno));
		return err;
	}
	what = "create chain";
	if (!f->is_chain(FW_CHAIN, h) && !f->create(FW_CHAIN, h))
		goto fail;
	what = "flush chain";
	if (!f->flush(FW_CHAIN, h))
		goto fail;
	what = "append rule";
	for (i = 0; i < fw_nsvcs; i++) {
		fw_entry(&e, f->af, R_ESTAB, fw_svcs[i].proto,
		    fw_svcs[i].port, NULL);
		if (!f->append(FW_CHAIN, &e, h))
			goto fail;
	}
	for (i = 0; i < fw_nrule; i++) {
		if (fw_rules[i].key.af != f->af)
			continue;
		fw_entry(&e, f->af, R_WINDOW, fw_rules[i].key.proto,
		    fw_rules[i].key.port, fw_rules[i].key.addr);
		if (!f->append(FW_CHAIN, &e, h))
			goto fail;
	}
	for (i = 0; i < fw_nsvcs; i++) {
		fw_entry(&e, f->af, R_DROP, fw_svcs[i].proto,
		    fw_svcs[i].port, NULL);
		if (!f->append(FW_CHAIN, &e, h))
			goto fail;
	}
	what = "jump from INPUT";
	if (!fw_fix_jump(f, h))
		goto fail;
#ifdef PKS_TESTHOOKS
	if (fw_precommit_hook != NULL)
		fw_precommit_hook(f->af, attempt);
#endif
	what = "commit";
	if (!f->commit(h))
		goto fail;
	f->free(h);
	return 0;
 fail:
	err = errno ? errno : EPROTO;
	if (err != EAGAIN)
		log_warnx("%s %s: %s", f->name, what, f->error(errno));
	f->free(h);
	return err;
}

static int
fw_sync(int af)
{
	const struct fw_family	*f = fw_family(af);
	int			 attempt, err = EAGAIN;

	for (attempt = 0; attempt < FW_RETRIES; attempt++) {
		if ((err = fw_lock()) != 0)
			return err;
		err = fw_sync_once(f, attempt);
		fw_unlock();
		if (err != EAGAIN)
			return err;
		log_debug("%s filter table changed under us, retrying",
		    f->name);
	}
	log_warnx("%s filter table: commit refused %d times, giving up",
	    f->name, FW_RETRIES);
	return err;
}

/* ---------------------------------------------------------- checks */

int
fw_check_service(const struct pks_fw_service *s)
{
	if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
		return EINVAL;
	if (s->port == 0 || s->pad != 0)
		return EINVAL;
	return 0;
}

static int
fw_is_service(uint8_t proto, uint16_t port)
{
	size_t	i;

	for (i = 0; i < fw_nsvcs; i++)
		if (fw_svcs[i].proto == proto && fw_svcs[i].port == port)
			return 1;
	return 0;
}

static int
fw_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return 0;
	return 1;
}

int
fw_check(const struct pks_window *w)
{
	const uint8_t	*a = w->addr;

	if (w->id == 0)
		return EINVAL;
	switch (w->af) {
	case AF_INET:
		/* unspecified, multicast, limited broadcast; v4 uses the
		 * first 4 bytes and the rest must be zero */
		if (fw_zero(a, 4) || (a[0] & 0xf0) == 0xe0 ||
		    (a[0] & a[1] & a[2] & a[3]) == 0xff || !fw_zero(a + 4, 12))
			return EINVAL;
		break;
	case AF_INET6:
		if (fw_zero(a, 16) || a[0] == 0xff)
			return EINVAL;
		break;
	default:
		return EINVAL;
	}
	if (w->proto != IPPROTO_TCP && w->proto != IPPROTO_UDP)
		return EINVAL;
	if (w->port == 0 || !fw_is_service(w->proto, w->port))
		return EINVAL;
	return 0;
}

/* ---------------------------------------------------------- state */

static void
fw_key(struct fw_key *k, const struct pks_window *w)
{
	memset(k, 0, sizeof(*k));
	k->af = w->af;
	k->proto = w->proto;
	k->port = w->port;
	memcpy(k->addr, w->addr, w->af == AF_INET ? 4 : 16);
}

static int
fw_keyeq(const struct fw_key *a, const struct fw_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static struct fw_win *
fw_win_find(uint32_t id)
{
	size_t	i;

	for (i = 0; i < fw_nwins; i++)
		if (fw_wins[i].id == id)
			return &fw_wins[i];
	return NULL;
}

static size_t
fw_rule_find(const struct fw_key *k)
{
	size_t	i;

	for (i = 0; i < fw_nrule; i++)
		if (fw_keyeq(&fw_rules[i].key, k))
			return i;
	return fw_nrule;
}

static const char *
fw_str(const struct fw_key *k, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN];

	if (inet_ntop(k->af, k->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s %s/%u", a, k->proto == IPPROTO_TCP ? "tcp" :
	    "udp", k->port);
	return buf;
}

/* ---------------------------------------------------------- operations */

/*
 * Start from scratch: the chain of each family holds the service rules
 * and no window (a previous run's rules are flushed); the monitor sends
 * the windows that are still open.
 */
int
fw_init(const struct pks_fw_service *svcs, size_t n)
{
	size_t	i;
	int	err;

	if (n > PKS_SERVICES_MAX)
		return EINVAL;
	for (i = 0; i < n; i++)
		if (fw_check_service(&svcs[i]) != 0)
			return EINVAL;
	fw_nsvcs = fw_nwins = fw_nrule = 0;
	for (i = 0; i < n; i++)
		if (!fw_is_service(svcs[i].proto, svcs[i].port))
			fw_svcs[fw_nsvcs++] = svcs[i];
	if ((err = fw_sync(AF_INET)) != 0)
		return err;
	return fw_sync(AF_INET6);
}

int
fw_open(const struct pks_window *w)
{
	struct fw_key	 k;
	struct fw_win	*win;
	size_t		 r;
	char		 buf[80];
	int		 err;

	if (fw_check(w) != 0)
		return EINVAL;
	fw_key(&k, w);
	if ((win = fw_win_find(w->id)) != NULL)
		return fw_keyeq(&win->key, &k) ? 0 : EEXIST;
	if (fw_nwins >= FW_WINDOWS_MAX)
		return ENOSPC;
	fw_wins[fw_nwins].id = w->id;
	fw_wins[fw_nwins].key = k;
	fw_nwins++;
	if ((r = fw_rule_find(&k)) < fw_nrule) {
		fw_rules[r].refs++;
		log_debug("window %u: %s already open", w->id,
		    fw_str(&k, buf, sizeof(buf)));
		return 0;
	}
	fw_rules[fw_nrule].key = k;
	fw_rules[fw_nrule].refs = 1;
	fw_nrule++;
	if ((err = fw_sync(k.af)) != 0) {
		/* the kernel did not take it: forget it */
		fw_nrule--;
		fw_nwins--;
		return err;
	}
	log_info("window %u: opened %s", w->id, fw_str(&k, buf, sizeof(buf)));
	return 0;
}

int
fw_close(const struct pks_window *w)
{
	struct fw_key	 k;
	struct fw_win	*win, saved;
	struct fw_rule	 rule;
	size_t		 r, wi;
	char		 buf[80];
	int		 err;

	if (fw_check(w) != 0)
		return EINVAL;
	fw_key(&k, w);
	if ((win = fw_win_find(w->id)) == NULL)
		return ENOENT;
	if (!fw_keyeq(&win->key, &k))
		return EINVAL;
	wi = win - fw_wins;
	saved = *win;
	fw_wins[wi] = fw_wins[--fw_nwins];
	r = fw_rule_find(&k);
	if (--fw_rules[r].refs > 0)
		return 0;
	rule = fw_rules[r];
	memmove(&fw_rules[r], &fw_rules[r + 1],
	    (fw_nrule - r - 1) * sizeof(fw_rules[0]));
	fw_nrule--;
	if ((err = fw_sync(k.af)) != 0) {
		/* still in the kernel: keep it, a retry can close it */
		memmove(&fw_rules[r + 1], &fw_rules[r],
		    (fw_nrule - r) * sizeof(fw_rules[0]));
		fw_rules[r] = rule;
		fw_rules[r].refs = 1;
		fw_nrule++;
		fw_wins[fw_nwins++] = saved;
		return err;
	}
	log_info("window %u: closed %s", w->id, fw_str(&k, buf, sizeof(buf)));
	return 0;
}

/*
 * Close every window, keep the service rules: fail-closed.  The state is
 * forgotten even if a commit fails, so the next change of that family
 * removes what is left.
 */
int
fw_close_all(void)
{
	int	err4, err6;

	fw_nwins = fw_nrule = 0;
	err4 = fw_sync(AF_INET);
	err6 = fw_sync(AF_INET6);
	if (err4 == 0 && err6 == 0)
		log_info("all windows closed");
	return err4 ? err4 : err6;
}

size_t
fw_nwindows(void)
{
	return fw_nwins;
}

/* window rules of one family in the chain */
size_t
fw_nrules(int af)
{
	size_t	i, n = 0;

	for (i = 0; i < fw_nrule; i++)
		if (fw_rules[i].key.af == af)
			n++;
	return n;
}

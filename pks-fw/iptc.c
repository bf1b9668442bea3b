/*
 * iptc.c: the iptables backend: the PKS chain, through libiptc (ip4tc
 * and ip6tc).
 *
 * The chain PKS (IPv4 and IPv6) is jumped to from INPUT as its first
 * rule and holds, in this order:
 *	per service:	-p P --dport N -m conntrack --ctstate ESTABLISHED -j ACCEPT
 *	per window:	-s ADDR/32|128 -p P --dport N -j ACCEPT
 *	per allow-always prefix and service:
 *			-s NET/LEN -p P --dport N
 *			    -m comment --comment "pks allow-always" -j ACCEPT
 *	per service:	-p P --dport N -j DROP			(mode enforce)
 *			-p P --dport N -m conntrack --ctstate NEW
 *			    -j NFLOG --nflog-group G --nflog-prefix ...
 *			    --nflog-size R				(mode observe)
 *
 * The state (services, open windows) lives in fw.c; the kernel is made
 * to match it.  Each change rebuilds the whole PKS chain of one family in
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

#include <linux/capability.h>
#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter/xt_NFLOG.h>
#include <linux/netfilter/xt_comment.h>

#include "log.h"
#include "pks.h"
#include "fw.h"

#define FW_TABLE	"filter"
#define FW_INPUT	"INPUT"
#define FW_ENTRY_MAX	1024	/* one rule, matches and target included */
#define FW_ALWAYS_COMMENT "pks allow-always"

#ifdef PKS_TESTHOOKS
void	(*fw_precommit_hook)(int, int);
#endif

enum fw_kind {
	R_ESTAB,	/* -p P --dport N -m conntrack --ctstate ... -j ACCEPT */
	R_WINDOW,	/* -s A -p P --dport N -j ACCEPT */
	R_DROP,		/* -p P --dport N -j DROP */
	R_JUMP,		/* -j PKS */
	R_ALLOW,	/* -s NET/LEN -p P --dport N -m comment ... -j ACCEPT */
	R_OBSERVE	/* -p P --dport N -m conntrack --ctstate NEW -j NFLOG */
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
	const char	*(*first_chain)(struct xtc_handle *);
	const char	*(*next_chain)(struct xtc_handle *);
};

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
	iptc_commit, iptc_strerror, iptc_first_chain, iptc_next_chain
};

static const struct fw_family fw_v6 = {
	AF_INET6, "IPv6", ip6tc_init, ip6tc_free, ip6tc_is_chain,
	ip6tc_create_chain, ip6tc_flush_entries, v6_append, v6_insert,
	ip6tc_delete_num_entry, v6_first, v6_next, v6_target, v6_is_plain,
	ip6tc_commit, ip6tc_strerror, ip6tc_first_chain, ip6tc_next_chain
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

/*
 * -m conntrack --ctstate ESTABLISHED (revision 3).  Not RELATED: a
 * connection a conntrack helper expects would reach the protected port
 * without a window (issue 13, L4).
 */
static size_t
fw_match_ctstate(unsigned char *p, unsigned int state)
{
	struct xt_conntrack_mtinfo3	ct;

	memset(&ct, 0, sizeof(ct));
	ct.match_flags = XT_CONNTRACK_STATE;
	ct.state_mask = XT_CONNTRACK_STATE_BIT(state);
	return fw_match(p, "conntrack", 3, &ct, sizeof(ct));
}

/*
 * -m comment --comment "pks allow-always": a /32 prefix and a window
 * look alike otherwise, to an admin and to the check
 */
static size_t
fw_match_comment(unsigned char *p, const char *text)
{
	struct xt_comment_info	c;

	memset(&c, 0, sizeof(c));
	snprintf((char *)c.comment, sizeof(c.comment), "%s", text);
	return fw_match(p, "comment", 0, &c, sizeof(c));
}

/* mode observe: -j NFLOG to pks-fw's group, the service as prefix */
static size_t
fw_target_nflog(unsigned char *p, uint8_t proto, uint16_t port)
{
	struct xt_entry_target	*t = (struct xt_entry_target *)p;
	struct xt_nflog_info	 info;
	struct pks_fw_service	 s;
	size_t			 sz;

	memset(&info, 0, sizeof(info));
	memset(&s, 0, sizeof(s));
	s.proto = proto;
	s.port = port;
	info.len = FW_NFLOG_RANGE;
	info.group = fw_nflog_group();
	info.flags = XT_NFLOG_F_COPY_LEN;
	observe_prefix(&s, info.prefix, sizeof(info.prefix));
	sz = XT_ALIGN(sizeof(*t)) + XT_ALIGN(sizeof(info));
	memset(p, 0, sz);
	t->u.user.target_size = sz;
	snprintf(t->u.user.name, sizeof(t->u.user.name), "NFLOG");
	memcpy(t->data, &info, sizeof(info));
	return sz;
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

/* the first plen bits of len bytes set (all of them if plen is more) */
static void
fw_mask(uint8_t *m, size_t len, int plen)
{
	int	i;

	memset(m, 0, len);
	for (i = 0; i < plen && i < (int)len * 8; i++)
		m[i / 8] |= 0x80 >> (i % 8);
}

/* Lay out one rule of the given kind in e; addr/plen: R_WINDOW, R_ALLOW */
static void
fw_entry(union fw_entry *e, int af, enum fw_kind kind, uint8_t proto,
    uint16_t port, const uint8_t *addr, int plen)
{
	unsigned char	*p;
	size_t		 off, toff;
	int		 src = kind == R_WINDOW || kind == R_ALLOW;

	memset(e, 0, sizeof(*e));
	if (af == AF_INET) {
		off = sizeof(e->e4);
		if (kind != R_JUMP)
			e->e4.ip.proto = proto;
		if (src) {
			memcpy(&e->e4.ip.src, addr, 4);
			fw_mask((uint8_t *)&e->e4.ip.smsk, 4, plen);
		}
	} else {
		off = sizeof(e->e6);
		if (kind != R_JUMP) {
			e->e6.ipv6.proto = proto;
			e->e6.ipv6.flags = IP6T_F_PROTO;
		}
		if (src) {
			memcpy(&e->e6.ipv6.src, addr, 16);
			fw_mask((uint8_t *)&e->e6.ipv6.smsk, 16, plen);
		}
	}
	p = e->buf;
	if (kind != R_JUMP)
		off += fw_match_port(p + off, proto, port);
	if (kind == R_ALLOW)
		off += fw_match_comment(p + off, FW_ALWAYS_COMMENT);
	if (kind == R_ESTAB)
		off += fw_match_ctstate(p + off, IP_CT_ESTABLISHED);
	if (kind == R_OBSERVE)
		off += fw_match_ctstate(p + off, IP_CT_NEW);
	toff = off;
	if (kind == R_OBSERVE)
		off += fw_target_nflog(p + off, proto, port);
	else
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

/* The xtables lock if it is free now: 0, EWOULDBLOCK or an errno value */
static int
fw_trylock(void)
{
	if (fw_lockfd == -1)
		return EBADF;
	while (flock(fw_lockfd, LOCK_EX | LOCK_NB) == -1)
		if (errno != EINTR)
			return errno;
	return 0;
}

/* Wait for the xtables lock, a bounded time: a hung iptables(8) must
 * not make us deaf to the monitor. */
static int64_t
fw_lock_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
fw_lock(void)
{
	struct timespec	ts = { 0, 10 * 1000 * 1000 };
	int64_t		start = 0, waited;
	int		err;

	while ((err = fw_trylock()) != 0) {
		if (err != EWOULDBLOCK)
			return err;
		/* by the clock, not by the naps: a loaded machine makes
		 * each nap longer than asked */
		if (start == 0)
			start = fw_lock_ms();
		else if ((waited = fw_lock_ms() - start) >= FW_LOCK_WAIT_MS) {
			log_warnx("xtables lock held by another process for "
			    "%lld ms, giving up", (long long)waited);
			return ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
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
	fw_entry(&e, f->af, R_JUMP, 0, 0, NULL, 0);
	return f->insert(FW_INPUT, &e, 0, h);
}

/* Rebuild the PKS chain of one family in a fresh snapshot, commit. */
static int
fw_sync_once(const struct fw_family *f, int attempt)
{
	struct xtc_handle	*h;
	union fw_entry		 e;
	size_t			 i;
	const struct pks_fw_service *svcs;
	const struct pks_fw_allow *allows;
	const struct fw_rule	*rules;
	size_t			 nsvcs, nrules, nallows;
	const char		*what;
	int			 err;

	(void)attempt;
	svcs = fw_services(&nsvcs);
	rules = fw_rules(&nrules);
	allows = fw_allows(&nallows);
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
	for (i = 0; i < nsvcs; i++) {
		fw_entry(&e, f->af, R_ESTAB, svcs[i].proto, svcs[i].port,
		    NULL, 0);
		if (!f->append(FW_CHAIN, &e, h))
			goto fail;
	}
	for (i = 0; i < nrules; i++) {
		if (rules[i].key.af != f->af)
			continue;
		fw_entry(&e, f->af, R_WINDOW, rules[i].key.proto,
		    rules[i].key.port, rules[i].key.addr, 128);
		if (!f->append(FW_CHAIN, &e, h))
			goto fail;
	}
	for (i = 0; i < nallows; i++) {
		if (allows[i].af != f->af)
			continue;
		fw_entry(&e, f->af, R_ALLOW, allows[i].proto, allows[i].port,
		    allows[i].addr, allows[i].plen);
		if (!f->append(FW_CHAIN, &e, h))
			goto fail;
	}
	for (i = 0; i < nsvcs; i++) {
		fw_entry(&e, f->af, fw_observing() ? R_OBSERVE : R_DROP,
		    svcs[i].proto, svcs[i].port, NULL, 0);
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

/* ---------------------------------------------------------- check */

/*
 * Does one family's filter table still hold what we put there: the
 * chain, exactly as many rules in it as the state makes, and INPUT's
 * first rule its one unconditional jump?  A cheap look (one snapshot,
 * rules counted, no commit), good for a flush, a deletion, an insertion
 * or a moved jump; an edit in place of one of our rules is not seen
 * until the next change rebuilds the chain.  1: it does; 0: it does
 * not; -1: the xtables lock is held, no look now.
 */
static int
iptc_intact(const struct fw_family *f)
{
	struct xtc_handle	*h;
	const void		*r;
	size_t			 n = 0, want, nsvcs, nrules, i, jumps = 0;
	size_t			 nallows;
	const struct fw_rule	*rules;
	const struct pks_fw_allow *allows;
	int			 ok, first = 0;

	(void)fw_services(&nsvcs);
	rules = fw_rules(&nrules);
	allows = fw_allows(&nallows);
	for (want = 2 * nsvcs, i = 0; i < nrules; i++)
		if (rules[i].key.af == f->af)
			want++;
	for (i = 0; i < nallows; i++)
		if (allows[i].af == f->af)
			want++;
	/* never wait for it: a close due meanwhile must not wait behind a
	 * look that can be had next time */
	if (fw_trylock() != 0)
		return -1;	/* busy: look again soon */
	if ((h = f->init(FW_TABLE)) == NULL) {
		fw_unlock();
		return 0;
	}
	ok = f->is_chain(FW_CHAIN, h);
	if (ok)
		for (r = f->first(FW_CHAIN, h); r != NULL; r = f->next(r, h))
			n++;
	for (r = f->first(FW_INPUT, h), i = 0; r != NULL;
	    r = f->next(r, h), i++)
		if (strcmp(f->target(r, h), FW_CHAIN) == 0 && f->is_plain(r)) {
			jumps++;
			if (i == 0)
				first = 1;
		}
	f->free(h);
	fw_unlock();
	return ok && n == want && first && jumps == 1;
}

static int
iptc_check(void)
{
	const struct fw_family	*fam[] = { &fw_v4, &fw_v6 };
	size_t			 i;
	int			 err, busy = 0, r;

	for (i = 0; i < 2; i++) {
		if ((r = iptc_intact(fam[i])) == -1)
			busy = 1;
		if (r != 0)
			continue;
		log_warnx("%s filter table: chain %s or its jump from %s was "
		    "changed by someone else: rebuilding it", fam[i]->name,
		    FW_CHAIN, FW_INPUT);
		if ((err = fw_sync(fam[i]->af)) != 0)
			return err;
	}
	return busy ? EWOULDBLOCK : 0;
}

/* ---------------------------------------------------------- backend */

static int
iptc_prepare(void)
{
	/* the lock file is out of reach once in the chroot */
	return fw_lock_open(FW_LOCKFILE);
}

/* both families from the state: services, and no window at start */
static int
iptc_sync_all(void)
{
	int	err;

	if ((err = fw_sync(AF_INET)) != 0)
		return err;
	return fw_sync(AF_INET6);
}

/* close_all: both families, even if the first fails */
static int
iptc_sync_both(void)
{
	int	err4, err6;

	err4 = fw_sync(AF_INET);
	err6 = fw_sync(AF_INET6);
	return err4 ? err4 : err6;
}

static int
iptc_change(const struct fw_rule *r)
{
	return fw_sync(r->key.af);
}

/*
 * For firewall auto: the rules in the legacy filter tables (IPv4 and
 * IPv6), or -1 when the kernel has no legacy tables.
 */
int
iptc_legacy_rules(void)
{
	const struct fw_family	*fam[] = { &fw_v4, &fw_v6 };
	struct xtc_handle	*h;
	const char		*c;
	const void		*r;
	size_t			 i;
	int			 n = 0, found = 0;

	for (i = 0; i < 2; i++) {
		if ((h = fam[i]->init(FW_TABLE)) == NULL)
			continue;
		found = 1;
		for (c = fam[i]->first_chain(h); c != NULL;
		    c = fam[i]->next_chain(h))
			for (r = fam[i]->first(c, h); r != NULL;
			    r = fam[i]->next(r, h))
				n++;
		fam[i]->free(h);
	}
	return found ? n : -1;
}

static const int iptc_caps[] = { CAP_NET_ADMIN, CAP_NET_RAW };

/*
 * Its seccomp rules, beside sandbox_fw (seen with strace -f under
 * tests/e2e/t_fw_traffic.py: 3000 foreign rules in INPUT, 300 windows,
 * the xtables lock held by someone else).
 */
static const struct sandbox_rule iptc_sandbox[] = {
	/* a raw socket per snapshot, the tables over sockopts (the copies,
	 * mmap()ed when large, are sandbox_fw's) */
	SB_ARG(socket, 0, AF_INET),	/* iptc_init(): SOCK_RAW, IPPROTO_RAW */
	SB_ARG(socket, 0, AF_INET6),	/* ip6tc_init() */
	SB_ARG(fcntl, 1, F_SETFD),	/* FD_CLOEXEC on that socket */
	SB_ARG(getsockopt, 1, IPPROTO_IP),	/* IPT_SO_GET_INFO, _ENTRIES */
	SB_ARG(getsockopt, 1, IPPROTO_IPV6),	/* IP6T_SO_GET_INFO, _ENTRIES */
	SB_ARG(setsockopt, 1, IPPROTO_IP),	/* IPT_SO_SET_REPLACE,
						   _ADD_COUNTERS */
	SB_ARG(setsockopt, 1, IPPROTO_IPV6),	/* IP6T_SO_SET_... */
	SB_ALLOW(close),		/* iptc_free() */
	/* xtables lock (the file was opened before chroot) */
	SB_ALLOW(flock),
	SB_ALLOW(clock_nanosleep),	/* nanosleep() while it is held */
};

const struct fw_backend fw_iptc = {
	.name = "iptables",
	.prepare = iptc_prepare,
	.setup = iptc_sync_all,
	.open = iptc_change,
	.close = iptc_change,
	.close_all = iptc_sync_both,
	.check = iptc_check,
	.expires = 0,
	.caps = iptc_caps,
	.ncaps = sizeof(iptc_caps) / sizeof(iptc_caps[0]),
	.sandbox = iptc_sandbox,
	.sandbox_len = sizeof(iptc_sandbox) / sizeof(iptc_sandbox[0])
};

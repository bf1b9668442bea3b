/*
 * nft.c: the nftables backend, through libnftnl and libmnl over
 * NETLINK_NETFILTER (no nft(8), no shell).
 *
 * PKS's own table, one for both families:
 *
 *	table inet pks {
 *		flags owner,persist		(where the kernel has them)
 *		set win4 { type ipv4_addr . inet_proto . inet_service
 *			   flags timeout }
 *		set win6 { type ipv6_addr . inet_proto . inet_service
 *			   flags timeout }
 *		chain input {
 *			type filter hook input priority -10; policy accept;
 *			ip saddr . meta l4proto . th dport @win4 accept
 *			ip6 saddr . meta l4proto . th dport @win6 accept
 *			per allow-always prefix and service:
 *			ip saddr NET/LEN meta l4proto P th dport N accept
 *			per service:
 *			meta l4proto P th dport N ct state established accept
 *			meta l4proto P th dport N drop		(mode enforce)
 *			meta l4proto P th dport N ct state new
 *			    log prefix "pks-observe P/N" group G (mode observe)
 *		}
 *	}
 *
 * Priority -10 runs before the usual filter chains (iptables-nft,
 * firewalld and ufw sit at 0 or later); it decides nothing for them: a
 * drop in any base chain wins and an accept ends only its own chain, so
 * PKS only narrows what the host's ruleset lets in.
 *
 * A window is one element of win4 or win6 whose timeout is the time
 * the window has left: the kernel removes it then by itself, so a
 * window closes on time even if every PKS process was killed.  Opening
 * or closing one is one element in one batch, whatever the number of
 * windows open.
 *
 * Fail closed: the table (and its drops) must outlive pks-fw.  Flag
 * owner alone would make the kernel delete it with our socket; owner
 * with persist (Linux 6.9) keeps it, orphaned, and forbids any other
 * process (nft flush ruleset, a firewall reload) to change it while we
 * run.  Without persist the table gets no flag at all.  At start the
 * table is rebuilt in one atomic batch: a previous run's table (and
 * elements the monitor no longer knows) goes, the new one comes, and
 * packets see one or the other.  A reload restarts pks-fw, so a new
 * mode or allow-always list replaces the old one in that same batch.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/capability.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "log.h"
#include "pks.h"
#include "fw.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST	0x4	/* Linux 6.9; older headers lack it */
#endif

#define NFT_BUF		(256 * 1024)	/* one batch, or the answers */
#define NFT_ANSWER_MS	5000		/* the kernel answers or we give up */

static struct mnl_socket	*nl;
static uint32_t			 nl_portid;
static uint32_t			 nl_seq;
static uint32_t			 tflags;	/* the flags our table has */
static int			 sock_fd = -1;
static char			 buf[NFT_BUF];
static char			 rbuf[NFT_BUF];

/*
 * Its seccomp rules, beside sandbox_fw.  The netlink socket is opened
 * before the sandbox (prepare()), so socket() is not allowed at all;
 * batches go out with sendto() on that socket only (its number is
 * filled in by prepare()), answers come with recvmsg() on it.
 */
static struct sandbox_rule nft_sandbox[] = {
	SB_ARG(sendto, 0, 0),		/* mnl_socket_sendto(): our socket */
	SB_ARG(recvmsg, 0, 0),		/* mnl_socket_recvfrom(): the same */
};

/* ---------------------------------------------------------- batches */

struct batch {
	struct mnl_nlmsg_batch	*b;
	uint32_t		 first;	/* seq of the first message */
	uint32_t		 n;	/* messages that need an answer */
	int			 full;
};

static void
batch_start(struct batch *bt)
{
	bt->b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	bt->full = 0;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), nl_seq++);
	mnl_nlmsg_batch_next(bt->b);
	bt->first = nl_seq;
	bt->n = 0;
}

/* a message header in the batch, answered (NLM_F_ACK) */
static struct nlmsghdr *
batch_msg(struct batch *bt, uint16_t type, uint16_t flags)
{
	bt->n++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type,
	    NFPROTO_INET, flags | NLM_F_ACK, nl_seq++);
}

static void
batch_next(struct batch *bt)
{
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->full = 1;
}

/*
 * Send the batch; wait for one answer per message.  The kernel applies
 * all of it or nothing, and answers every message even after an error;
 * an error on the batch as a whole comes on its first message.
 */
static int
batch_commit(struct batch *bt, const char *what)
{
	struct nlmsghdr	*nh;
	struct nlmsgerr	*e;
	uint32_t	 answered = 0, last = bt->first + bt->n;
	ssize_t		 n;
	int		 err = 0;

	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), nl_seq++);
	mnl_nlmsg_batch_next(bt->b);
	if (bt->full) {
		mnl_nlmsg_batch_stop(bt->b);
		log_warnx("nftables %s: batch too large", what);
		return E2BIG;
	}
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b),
	    mnl_nlmsg_batch_size(bt->b)) == -1) {
		err = errno;
		mnl_nlmsg_batch_stop(bt->b);
		log_warnx("nftables %s: send: %s", what, strerror(err));
		return err;
	}
	mnl_nlmsg_batch_stop(bt->b);
	while (answered < bt->n) {
		if ((n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf))) == -1) {
			if (errno == EINTR)
				continue;
			err = errno == EAGAIN ? ETIMEDOUT : errno;
			log_warnx("nftables %s: no answer from the kernel: %s",
			    what, strerror(err));
			return err;
		}
		for (nh = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nh, (int)n);
		    nh = mnl_nlmsg_next(nh, (int *)&n)) {
			if (nh->nlmsg_seq < bt->first - 1 ||
			    nh->nlmsg_seq >= last)
				continue;	/* a late answer to an old one */
			if (nh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nh);
			if (e->error != 0 && err == 0) {
				err = -e->error;
				log_warnx("nftables %s: %s (errno %d)", what,
				    strerror(err), err);
			}
			if (nh->nlmsg_seq == bt->first - 1)
				return err ? err : EPROTO; /* the batch */
			answered++;
		}
	}
	return err;
}

/* ---------------------------------------------------------- expressions */

static int	expr_failed;

static struct nftnl_expr *
expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr	*e;

	if ((e = nftnl_expr_alloc(name)) == NULL) {
		expr_failed = 1;
		return NULL;
	}
	nftnl_rule_add_expr(r, e);
	return e;
}

static void
x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr	*e;

	if ((e = expr(r, "meta")) == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void
x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
    uint32_t dreg)
{
	struct nftnl_expr	*e;

	if ((e = expr(r, "payload")) == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

static void
x_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr	*e;

	if ((e = expr(r, "cmp")) == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void
x_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr	*e;

	if ((e = expr(r, "immediate")) == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
}

/* meta l4proto P th dport N */
static void
x_service(struct nftnl_rule *r, const struct pks_fw_service *s)
{
	uint8_t		proto = s->proto;
	uint16_t	port = htons(s->port);

	x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	x_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
	x_cmp(r, NFT_CMP_EQ, &port, sizeof(port));
}

/* ct state established (not related: L4 of the security issue), or
 * ct state new */
static void
x_ctstate(struct nftnl_rule *r, uint32_t mask)
{
	struct nftnl_expr	*e;
	uint32_t		 zero = 0;

	if ((e = expr(r, "ct")) == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	if ((e = expr(r, "bitwise")) == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	x_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

/* ip saddr NET/LEN (or ip6 saddr) */
static void
x_prefix(struct nftnl_rule *r, const struct pks_fw_allow *a)
{
	struct nftnl_expr	*e;
	uint8_t			 nfproto = a->af == AF_INET ? NFPROTO_IPV4 :
				    NFPROTO_IPV6;
	uint8_t			 mask[16], zero[16];
	uint32_t		 alen = a->af == AF_INET ? 4 : 16, i;

	memset(mask, 0, sizeof(mask));
	memset(zero, 0, sizeof(zero));
	for (i = 0; i < a->plen; i++)
		mask[i / 8] |= 0x80 >> (i % 8);
	x_meta(r, NFT_META_NFPROTO, NFT_REG_1);
	x_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto));
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, a->af == AF_INET ? 12 : 8,
	    alen, NFT_REG_1);
	if (a->plen < alen * 8) {
		if ((e = expr(r, "bitwise")) == NULL)
			return;
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, alen);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, alen);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, alen);
	}
	x_cmp(r, NFT_CMP_EQ, a->addr, alen);
}

/* log group fw_nflog_group() prefix "pks-observe P/N" snaplen ... */
static void
x_log(struct nftnl_rule *r, const struct pks_fw_service *s)
{
	struct nftnl_expr	*e;
	char			 prefix[32];

	if ((e = expr(r, "log")) == NULL)
		return;
	nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, observe_prefix(s,
	    prefix, sizeof(prefix)));
	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, fw_nflog_group());
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, FW_NFLOG_RANGE);
}

/*
 * ip saddr . meta l4proto . th dport @winN accept: each part in its own
 * 32-bit register, zero-padded, as the set's key is laid out.
 */
static void
x_window(struct nftnl_rule *r, int af, const char *set, uint32_t set_id)
{
	struct nftnl_expr	*e;
	uint8_t			 nfproto = af == AF_INET ? NFPROTO_IPV4 :
				    NFPROTO_IPV6;
	uint32_t		 alen = af == AF_INET ? 4 : 16;

	x_meta(r, NFT_META_NFPROTO, NFT_REG_1);
	x_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto));
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, af == AF_INET ? 12 : 8,
	    alen, NFT_REG32_00);
	x_meta(r, NFT_META_L4PROTO, NFT_REG32_00 + alen / 4);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2,
	    NFT_REG32_00 + alen / 4 + 1);
	if ((e = expr(r, "lookup")) == NULL)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG32_00);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	x_verdict(r, NF_ACCEPT);
}

/* ---------------------------------------------------------- objects */

#define NFT_TABLE	"pks"
#define NFT_CHAIN	"input"
#define NFT_PRIO	(-10)

/* nft's datatype numbers, so that nft list shows the keys */
#define TYPE_IPADDR	7
#define TYPE_IP6ADDR	8
#define TYPE_PROTO	12
#define TYPE_SERVICE	13
#define TYPE_BITS	6

static const char *
set_name(int af)
{
	return af == AF_INET ? "win4" : "win6";
}

static int
put_table(struct batch *bt, uint16_t type, uint32_t flags)
{
	struct nftnl_table	*t;
	struct nlmsghdr		*nh;

	if ((t = nftnl_table_alloc()) == NULL)
		return ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	nh = batch_msg(bt, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE |
	    NLM_F_EXCL : 0);
	nftnl_table_nlmsg_build_payload(nh, t);
	nftnl_table_free(t);
	batch_next(bt);
	return 0;
}

static int
put_chain(struct batch *bt)
{
	struct nftnl_chain	*c;
	struct nlmsghdr		*nh;

	if ((c = nftnl_chain_alloc()) == NULL)
		return ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, NFT_CHAIN);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NFT_PRIO);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nh = batch_msg(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_chain_nlmsg_build_payload(nh, c);
	nftnl_chain_free(c);
	batch_next(bt);
	return 0;
}

static int
put_set(struct batch *bt, int af, uint32_t id)
{
	struct nftnl_set	*s;
	struct nlmsghdr		*nh;
	uint32_t		 type;

	type = ((af == AF_INET ? TYPE_IPADDR : TYPE_IP6ADDR) << TYPE_BITS |
	    TYPE_PROTO) << TYPE_BITS | TYPE_SERVICE;
	if ((s = nftnl_set_alloc()) == NULL)
		return ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set_name(af));
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, af == AF_INET ? 12 : 24);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, FW_WINDOWS_MAX);
	nh = batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_set_nlmsg_build_payload(nh, s);
	nftnl_set_free(s);
	batch_next(bt);
	return 0;
}

/* one rule at the end of the chain, its expressions added by fn */
static int
put_rule(struct batch *bt, void (*fn)(struct nftnl_rule *, const void *),
    const void *arg)
{
	struct nftnl_rule	*r;
	struct nlmsghdr		*nh;

	if ((r = nftnl_rule_alloc()) == NULL)
		return ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, NFT_CHAIN);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	expr_failed = 0;
	fn(r, arg);
	if (expr_failed) {
		nftnl_rule_free(r);
		return ENOMEM;
	}
	nh = batch_msg(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nh, r);
	nftnl_rule_free(r);
	batch_next(bt);
	return 0;
}

/* the rules' contents, for put_rule() */
static void
rule_window4(struct nftnl_rule *r, const void *arg)
{
	(void)arg;
	x_window(r, AF_INET, set_name(AF_INET), 1);
}

static void
rule_window6(struct nftnl_rule *r, const void *arg)
{
	(void)arg;
	x_window(r, AF_INET6, set_name(AF_INET6), 2);
}

static void
rule_estab(struct nftnl_rule *r, const void *svc)
{
	x_service(r, svc);
	x_ctstate(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED));
	x_verdict(r, NF_ACCEPT);
}

/* allow-always: ip saddr NET/LEN meta l4proto P th dport N accept */
static void
rule_allow(struct nftnl_rule *r, const void *allow)
{
	const struct pks_fw_allow	*a = allow;
	struct pks_fw_service		 s;

	memset(&s, 0, sizeof(s));
	s.proto = a->proto;
	s.port = a->port;
	x_prefix(r, a);
	x_service(r, &s);
	x_verdict(r, NF_ACCEPT);
}

/* mode observe: what mode enforce drops (a new connection) is logged
 * to pks-fw and passes */
static void
rule_observe(struct nftnl_rule *r, const void *svc)
{
	x_service(r, svc);
	x_ctstate(r, NF_CT_STATE_BIT(IP_CT_NEW));
	x_log(r, svc);
}

static void
rule_drop(struct nftnl_rule *r, const void *svc)
{
	x_service(r, svc);
	x_verdict(r, NF_DROP);
}

/* the set key of a rule: address . protocol . port, 32-bit aligned */
static size_t
elem_key(const struct fw_key *k, uint8_t *key)
{
	size_t		alen = k->af == AF_INET ? 4 : 16;
	uint16_t	port = htons(k->port);

	memset(key, 0, 24);
	memcpy(key, k->addr, alen);
	key[alen] = k->proto;
	memcpy(key + alen + 4, &port, sizeof(port));
	return alen + 8;
}

/*
 * One element message of rule r's set (none: the whole set), with its
 * timeout in ms when timeout_ms != 0.
 */
static int
put_elem(struct batch *bt, uint16_t type, int af, const struct fw_rule *r,
    uint64_t timeout_ms)
{
	struct nftnl_set	*s;
	struct nftnl_set_elem	*e;
	struct nlmsghdr		*nh;
	uint8_t			 key[24];
	size_t			 klen;

	if ((s = nftnl_set_alloc()) == NULL)
		return ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set_name(af));
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (r != NULL) {
		if ((e = nftnl_set_elem_alloc()) == NULL) {
			nftnl_set_free(s);
			return ENOMEM;
		}
		klen = elem_key(&r->key, key);
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, klen);
		if (timeout_ms != 0)
			nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT,
			    timeout_ms);
		nftnl_set_elem_add(s, e);
	}
	nh = batch_msg(bt, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE :
	    0);
	nftnl_set_elems_nlmsg_build_payload(nh, s);
	nftnl_set_free(s);
	batch_next(bt);
	return 0;
}

/* ---------------------------------------------------------- the table */

/*
 * Our table as the kernel holds it: 0 and its flags and owner, ENOENT
 * if there is none, or an errno.
 */
static int
table_get(uint32_t *flags, uint32_t *owner)
{
	struct nftnl_table	*t;
	struct nlmsghdr		*nh;
	struct nlmsgerr		*e;
	uint32_t		 seq = nl_seq++;
	ssize_t			 n;
	int			 err = EPROTO, found = 0;

	if ((t = nftnl_table_alloc()) == NULL)
		return ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	nh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET,
	    NLM_F_ACK, seq);
	nftnl_table_nlmsg_build_payload(nh, t);
	if (mnl_socket_sendto(nl, nh, nh->nlmsg_len) == -1) {
		err = errno;
		goto done;
	}
	for (;;) {
		if ((n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf))) == -1) {
			if (errno == EINTR)
				continue;
			err = errno == EAGAIN ? ETIMEDOUT : errno;
			goto done;
		}
		for (nh = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nh, (int)n);
		    nh = mnl_nlmsg_next(nh, (int *)&n)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				e = mnl_nlmsg_get_payload(nh);
				err = found && e->error == 0 ? 0 : -e->error;
				goto done;
			}
			if (nftnl_table_nlmsg_parse(nh, t) == 0) {
				found = 1;
				*flags = nftnl_table_get_u32(t,
				    NFTNL_TABLE_FLAGS);
				*owner = nftnl_table_is_set(t,
				    NFTNL_TABLE_OWNER) ? nftnl_table_get_u32(t,
				    NFTNL_TABLE_OWNER) : 0;
			}
		}
	}
 done:
	nftnl_table_free(t);
	return err;
}

/* One batch: the old table goes (if any), the new one comes. */
static int
table_build(int replace, uint32_t flags)
{
	const struct pks_fw_service	*svcs;
	const struct pks_fw_allow	*allows;
	struct batch			 bt;
	size_t				 i, n, na;
	int				 err;

	svcs = fw_services(&n);
	allows = fw_allows(&na);
	batch_start(&bt);
	if ((replace && (err = put_table(&bt, NFT_MSG_DELTABLE, 0)) != 0) ||
	    (err = put_table(&bt, NFT_MSG_NEWTABLE, flags)) != 0 ||
	    (err = put_chain(&bt)) != 0 ||
	    (err = put_set(&bt, AF_INET, 1)) != 0 ||
	    (err = put_set(&bt, AF_INET6, 2)) != 0 ||
	    (err = put_rule(&bt, rule_window4, NULL)) != 0 ||
	    (err = put_rule(&bt, rule_window6, NULL)) != 0)
		goto fail;
	for (i = 0; i < na; i++)
		if ((err = put_rule(&bt, rule_allow, &allows[i])) != 0)
			goto fail;
	for (i = 0; i < n; i++)
		if ((err = put_rule(&bt, rule_estab, &svcs[i])) != 0 ||
		    (err = put_rule(&bt, fw_observing() ? rule_observe :
		    rule_drop, &svcs[i])) != 0)
			goto fail;
	return batch_commit(&bt, "set-up");
 fail:
	mnl_nlmsg_batch_stop(bt.b);
	return err;
}

static int
nft_prepare(void)
{
	struct timeval	tv = { NFT_ANSWER_MS / 1000,
			    NFT_ANSWER_MS % 1000 * 1000 };
	int		one = 1;

	if ((nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL)
		return errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1)
		return errno;
	nl_portid = mnl_socket_get_portid(nl);
	nl_seq = (uint32_t)time(NULL);
	sock_fd = mnl_socket_get_fd(nl);
	/* short answers; a kernel that never answers is an error */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(sock_fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1)
		return errno;
	nft_sandbox[0].val = nft_sandbox[1].val = sock_fd;
	return 0;
}

static int
nft_setup(void)
{
	uint32_t	flags = 0, owner = 0;
	int		err, exists;

	if ((err = table_get(&flags, &owner)) != 0 && err != ENOENT) {
		log_warnx("nftables: cannot read table inet %s: %s",
		    NFT_TABLE, strerror(err));
		return err;
	}
	exists = err == 0;
	if (exists && (flags & NFT_TABLE_F_OWNER) && owner != nl_portid) {
		log_warnx("nftables: table inet %s belongs to another "
		    "process (netlink port %u): is pks-fw running twice?",
		    NFT_TABLE, owner);
		return EBUSY;
	}
	if (exists)
		log_info("nftables: replacing table inet %s left by a "
		    "previous run (flags %#x)", NFT_TABLE, flags);
	tflags = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
	err = table_build(exists, tflags);
	if (err == EOPNOTSUPP || err == EINVAL) {
		/* before Linux 6.9: no persist, so no owner either */
		log_warnx("nftables: the kernel has no table flag persist: "
		    "table inet %s without owner, foreign changes are not "
		    "refused", NFT_TABLE);
		tflags = 0;
		err = table_build(exists, tflags);
	}
	if (err == 0)
		log_info("nftables: table inet %s ready%s", NFT_TABLE,
		    tflags ? " (flags owner, persist)" : "");
	return err;
}

/*
 * A window opened or given a later end: the element comes back with
 * the rule's timeout.  Added (a no-op if it is there), deleted, added
 * again, all in one batch: its timeout is set whatever the kernel held.
 */
static int
nft_open(const struct fw_rule *r)
{
	struct batch	bt;
	uint64_t	ms = (uint64_t)r->timeout * 1000;
	int		err;

	batch_start(&bt);
	if ((err = put_elem(&bt, NFT_MSG_NEWSETELEM, r->key.af, r, ms)) != 0 ||
	    (err = put_elem(&bt, NFT_MSG_DELSETELEM, r->key.af, r, 0)) != 0 ||
	    (err = put_elem(&bt, NFT_MSG_NEWSETELEM, r->key.af, r, ms)) != 0) {
		mnl_nlmsg_batch_stop(bt.b);
		return err;
	}
	return batch_commit(&bt, "open");
}

/*
 * A window closed: its element goes.  Added first (with a short timeout)
 * so that the delete succeeds if the kernel already expired it.
 */
static int
nft_close(const struct fw_rule *r)
{
	struct batch	bt;
	int		err;

	batch_start(&bt);
	if ((err = put_elem(&bt, NFT_MSG_NEWSETELEM, r->key.af, r, 1000)) != 0 ||
	    (err = put_elem(&bt, NFT_MSG_DELSETELEM, r->key.af, r, 0)) != 0) {
		mnl_nlmsg_batch_stop(bt.b);
		return err;
	}
	return batch_commit(&bt, "close");
}

/* both sets flushed, in one batch */
static int
nft_close_all(void)
{
	struct batch	bt;
	int		err;

	batch_start(&bt);
	if ((err = put_elem(&bt, NFT_MSG_DELSETELEM, AF_INET, NULL, 0)) != 0 ||
	    (err = put_elem(&bt, NFT_MSG_DELSETELEM, AF_INET6, NULL, 0)) != 0) {
		mnl_nlmsg_batch_stop(bt.b);
		return err;
	}
	return batch_commit(&bt, "close all");
}

static const int nft_caps[] = { CAP_NET_ADMIN };

const struct fw_backend fw_nft = {
	.name = "nftables",
	.prepare = nft_prepare,
	.setup = nft_setup,
	.open = nft_open,
	.close = nft_close,
	.close_all = nft_close_all,
	.expires = 1,
	.caps = nft_caps,
	.ncaps = sizeof(nft_caps) / sizeof(nft_caps[0]),
	.sandbox = nft_sandbox,
	.sandbox_len = sizeof(nft_sandbox) / sizeof(nft_sandbox[0])
};

/*
 * test_fw_observe: what pks-fw takes from the monitor for mode observe
 * and allow-always (fw.c), and what it takes from the kernel's NFLOG
 * messages (observe.c).  No root, no netfilter: NFLOG datagrams are
 * built here as the kernel lays them out, good and malformed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <libmnl/libmnl.h>

#include "pks.h"
#include "fw.h"

static char	dgram[64 * 1024];
static size_t	dlen;

static void
services(void)
{
	static int			 done;
	const struct pks_fw_service	 s[] = {
		{ IPPROTO_TCP, 0, 22 }, { IPPROTO_UDP, 0, 53 }
	};

	if (done++)
		return;
	assert_int_equal(fw_service_add(&s[0]), 0);
	assert_int_equal(fw_service_add(&s[1]), 0);
}

/*
 * One NFLOG packet message appended to dgram: family, group, prefix
 * (NULL: none; nul: NUL-terminated), an IP header of version ver with
 * source src, plen bytes of it.
 */
static void
put_packet(uint8_t family, uint16_t group, const char *prefix, int nul,
    int ver, const char *src, size_t plen)
{
	struct nlmsghdr	*nh = (struct nlmsghdr *)(dgram + dlen);
	struct nfgenmsg	*g;
	uint8_t		 pkt[64];

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = ver << 4;
	if (ver == 4)
		assert_int_equal(inet_pton(AF_INET, src, pkt + 12), 1);
	else
		assert_int_equal(inet_pton(AF_INET6, src, pkt + 8), 1);
	nh = mnl_nlmsg_put_header(nh);
	nh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	g = mnl_nlmsg_put_extra_header(nh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(group);
	if (prefix != NULL)
		mnl_attr_put(nh, NFULA_PREFIX, strlen(prefix) + (nul ? 1 : 0),
		    prefix);
	mnl_attr_put(nh, NFULA_PAYLOAD, plen, pkt);
	dlen += nh->nlmsg_len;
}

static int
input(void)
{
	int	n = observe_input(dgram, dlen);

	dlen = 0;
	return n;
}

/* the counts that changed, by source: count of src, or 0 */
static uint64_t
taken(const struct pks_fw_observed *o, size_t n, int af, const char *src,
    uint16_t port)
{
	uint8_t	a[16];
	size_t	i;

	memset(a, 0, sizeof(a));
	if (af != 0)
		assert_int_equal(inet_pton(af, src, a), 1);
	for (i = 0; i < n; i++)
		if (o[i].af == af && o[i].port == port &&
		    memcmp(o[i].addr, a, 16) == 0)
			return o[i].count;
	return 0;
}

static size_t
take(struct pks_fw_observed *o, size_t max)
{
	size_t	n = 0;

	while (n < max && observe_next(&o[n]))
		n++;
	return n;
}

static void
test_packets_are_counted(void **state)
{
	struct pks_fw_observed	o[8];
	size_t			n;

	(void)state;
	services();
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 4,
	    "198.18.0.2", FW_NFLOG_RANGE);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 4,
	    "198.18.0.2", 20);
	put_packet(NFPROTO_IPV6, PKS_NFLOG_GROUP, "pks-observe udp/53", 1, 6,
	    "fd00::2", FW_NFLOG_RANGE);
	assert_int_equal(input(), 3);
	assert_int_equal(observe_flush_in(), 0);	/* due at once */
	n = take(o, 8);
	assert_int_equal(n, 2);
	assert_int_equal(taken(o, n, AF_INET, "198.18.0.2", 22), 2);
	assert_int_equal(taken(o, n, AF_INET6, "fd00::2", 53), 1);
	assert_int_equal(o[0].pad, 0);
	assert_int_equal(observe_next(&o[0]), 0);
	assert_int_equal(observe_flush_in(), -1);	/* nothing changed */
	/* one more: only that count is sent again, later */
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 4,
	    "198.18.0.2", FW_NFLOG_RANGE);
	assert_int_equal(input(), 1);
	assert_true(observe_flush_in() > 0);
	n = take(o, 8);
	assert_int_equal(n, 1);
	assert_int_equal(taken(o, n, AF_INET, "198.18.0.2", 22), 3);
}

static void
test_malformed_messages_are_skipped(void **state)
{
	struct pks_fw_observed	o[8];
	struct nlmsghdr		*nh;

	(void)state;
	services();
	(void)take(o, 8);
	/* another group, another prefix, no prefix, a prefix without its
	 * NUL, an unprotected port, a short packet, a version that is not
	 * the family's */
	put_packet(NFPROTO_IPV4, 1, "pks-observe tcp/22", 1, 4, "10.0.0.1",
	    40);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "ssh-drop", 1, 4,
	    "10.0.0.2", 40);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, NULL, 1, 4, "10.0.0.3", 40);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 0, 4,
	    "10.0.0.4", 40);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/23", 1, 4,
	    "10.0.0.5", 40);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 4,
	    "10.0.0.6", 19);
	put_packet(NFPROTO_IPV6, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 6,
	    "fd00::6", 39);
	put_packet(NFPROTO_IPV6, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 4,
	    "10.0.0.7", 40);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 6,
	    "fd00::7", 40);
	assert_int_equal(input(), 0);
	/* another message type; a header longer than the datagram */
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 4,
	    "10.0.0.8", 40);
	nh = (struct nlmsghdr *)dgram;
	nh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	assert_int_equal(input(), 0);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe tcp/22", 1, 4,
	    "10.0.0.9", 40);
	nh->nlmsg_len += 4;
	assert_int_equal(input(), 0);
	assert_int_equal(observe_input(dgram, 3), 0);
	assert_int_equal(take(o, 8), 0);
}

static struct pks_fw_observed
count_of(int af, const char *src, uint8_t proto, uint16_t port,
    uint64_t count)
{
	struct pks_fw_observed	o;

	memset(&o, 0, sizeof(o));
	o.af = af;
	o.proto = proto;
	o.port = port;
	o.count = count;
	if (af != 0)
		assert_int_equal(inet_pton(af, src, o.addr), 1);
	return o;
}

/* counts an earlier pks-fw reached: counting goes on from them */
static void
test_seeds_go_on(void **state)
{
	struct pks_fw_observed	o[8], bad;
	size_t			n;

	(void)state;
	services();
	(void)take(o, 8);
	o[0] = count_of(AF_INET6, "fd00::9", IPPROTO_UDP, 53, 5);
	assert_int_equal(observe_seed(&o[0]), EINVAL);	/* mode enforce */
	assert_int_equal(fw_mode_set(PKS_MODE_OBSERVE, PKS_NFLOG_GROUP), 0);
	assert_int_equal(observe_seed(&o[0]), 0);
	assert_int_equal(observe_seed(&o[0]), EINVAL);	/* twice */
	o[1] = count_of(0, NULL, IPPROTO_TCP, 22, 40);
	assert_int_equal(observe_seed(&o[1]), 0);
	assert_int_equal(observe_next(&o[2]), 0);	/* nothing to send */
	/* each malformed one refused */
	bad = count_of(AF_INET, "10.9.0.1", IPPROTO_TCP, 23, 1);  /* port */
	assert_int_equal(observe_seed(&bad), EINVAL);
	bad = count_of(AF_INET, "10.9.0.1", IPPROTO_TCP, 22, 0);  /* zero */
	assert_int_equal(observe_seed(&bad), EINVAL);
	bad = count_of(AF_INET, "10.9.0.1", IPPROTO_TCP, 22, 1);
	bad.addr[4] = 1;
	assert_int_equal(observe_seed(&bad), EINVAL);
	bad = count_of(AF_INET, "10.9.0.1", IPPROTO_TCP, 22, 1);
	bad.pad = 1;
	assert_int_equal(observe_seed(&bad), EINVAL);
	bad = count_of(0, NULL, IPPROTO_TCP, 22, 1);
	bad.af = 1;
	assert_int_equal(observe_seed(&bad), EINVAL);
	/* a new connection adds to the seed */
	put_packet(NFPROTO_IPV6, PKS_NFLOG_GROUP, "pks-observe udp/53", 1, 6,
	    "fd00::9", FW_NFLOG_RANGE);
	assert_int_equal(input(), 1);
	n = take(o, 8);
	assert_int_equal(n, 1);
	assert_int_equal(taken(o, n, AF_INET6, "fd00::9", 53), 6);
}

/* PKS_OBSERVED_MAX sources, then one count per service for the rest */
static void
test_sources_are_capped(void **state)
{
	static struct pks_fw_observed	o[PKS_OBSERVED_MAX + 8];
	char				src[32];
	size_t				n;
	int				i;

	(void)state;
	services();
	(void)take(o, PKS_OBSERVED_MAX + 8);
	for (i = 0; i < PKS_OBSERVED_MAX + 100; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.1", i / 256, i % 256);
		put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe udp/53",
		    1, 4, src, 40);
		assert_int_equal(input(), 1);
	}
	n = take(o, PKS_OBSERVED_MAX + 8);
	/* the earlier tests' 3 sources, these, and one "other sources" */
	assert_int_equal(n, PKS_OBSERVED_MAX - 3 + 1);
	assert_int_equal(taken(o, n, 0, NULL, 53), 103);
	assert_int_equal(taken(o, n, AF_INET, "10.0.0.1", 53), 1);
	/* a known source still counts as itself */
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe udp/53", 1, 4,
	    "10.0.0.1", 40);
	assert_int_equal(input(), 1);
	n = take(o, 8);
	assert_int_equal(n, 1);
	assert_int_equal(taken(o, n, AF_INET, "10.0.0.1", 53), 2);
	/* no seed past the cap */
	o[0] = count_of(AF_INET, "10.200.0.1", IPPROTO_UDP, 53, 1);
	assert_int_equal(observe_seed(&o[0]), ENOSPC);
}

static void
test_prefix_names_the_service(void **state)
{
	struct pks_fw_service	s = { IPPROTO_UDP, 0, 65535 };
	char			buf[32];

	(void)state;
	assert_string_equal(observe_prefix(&s, buf, sizeof(buf)),
	    "pks-observe udp/65535");
}

static struct pks_fw_allow
allow(int af, const char *addr, int plen, uint8_t proto, uint16_t port)
{
	struct pks_fw_allow	a;

	memset(&a, 0, sizeof(a));
	a.af = af;
	a.plen = plen;
	a.proto = proto;
	a.port = port;
	assert_int_equal(inet_pton(af, addr, a.addr), 1);
	return a;
}

static void
test_allow_is_checked(void **state)
{
	struct pks_fw_allow	 a;
	const struct pks_fw_allow *held;
	size_t			 n, i;

	(void)state;
	services();
	a = allow(AF_INET, "198.18.0.0", 24, IPPROTO_TCP, 22);
	assert_int_equal(fw_allow_add(&a), 0);
	assert_int_equal(fw_allow_add(&a), 0);		/* once only */
	a = allow(AF_INET6, "fd00::", 8, IPPROTO_UDP, 53);
	assert_int_equal(fw_allow_add(&a), 0);
	a = allow(AF_INET, "198.18.0.3", 32, IPPROTO_UDP, 53);
	assert_int_equal(fw_allow_add(&a), 0);
	held = fw_allows(&n);
	assert_int_equal(n, 3);
	assert_int_equal(held[1].af, AF_INET6);

	/* each refused, nothing added */
	a = allow(AF_INET, "198.18.0.1", 24, IPPROTO_TCP, 22);	/* host */
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET6, "fd00::1", 64, IPPROTO_TCP, 22);
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 0, IPPROTO_TCP, 22);	/* /0 */
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 33, IPPROTO_TCP, 22);
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET6, "fd00::", 129, IPPROTO_TCP, 22);
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 24, IPPROTO_TCP, 23);	/* port */
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 24, IPPROTO_UDP, 22);	/* proto */
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 24, IPPROTO_TCP, 22);
	a.addr[4] = 1;				/* v4 uses 4 bytes */
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 24, IPPROTO_TCP, 22);
	a.af = AF_UNIX;
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 24, IPPROTO_TCP, 22);
	a.pad = 1;
	assert_int_equal(fw_allow_add(&a), EINVAL);
	a = allow(AF_INET, "198.18.0.0", 24, IPPROTO_TCP, 22);
	a.pad2 = 1;
	assert_int_equal(fw_allow_add(&a), EINVAL);
	(void)fw_allows(&n);
	assert_int_equal(n, 3);

	/* PKS_ALLOW_MAX pairs */
	for (i = 0; n < PKS_ALLOW_MAX; i++, n++) {
		a = allow(AF_INET, "10.0.0.0", 24, IPPROTO_TCP, 22);
		a.addr[1] = i / 256;
		a.addr[2] = i % 256;
		assert_int_equal(fw_allow_add(&a), 0);
	}
	a = allow(AF_INET, "11.0.0.0", 8, IPPROTO_TCP, 22);
	assert_int_equal(fw_allow_add(&a), ENOSPC);
}

static void
test_mode_is_checked(void **state)
{
	(void)state;
	assert_int_equal(fw_mode_set(PKS_MODE_ENFORCE, PKS_NFLOG_GROUP), 0);
	assert_int_equal(fw_observing(), 0);
	assert_int_equal(fw_mode_set(PKS_MODE_OBSERVE, PKS_NFLOG_GROUP), 0);
	assert_int_equal(fw_observing(), 1);
	assert_int_equal(fw_mode_set(2, PKS_NFLOG_GROUP), EINVAL);
	assert_int_equal(fw_mode_set(UINT32_MAX, PKS_NFLOG_GROUP), EINVAL);
	assert_int_equal(fw_mode_set(PKS_MODE_OBSERVE, 65536), EINVAL);
	assert_int_equal(fw_observing(), 1);
	assert_int_equal(fw_nflog_group(), PKS_NFLOG_GROUP);
	assert_int_equal(fw_mode_set(PKS_MODE_ENFORCE, PKS_NFLOG_GROUP), 0);
	assert_int_equal(fw_observing(), 0);
}

/* nflog-group: what comes from another group is not counted */
static void
test_other_group_is_skipped(void **state)
{
	struct pks_fw_observed	o[8];

	(void)state;
	services();
	(void)take(o, 8);
	assert_int_equal(fw_mode_set(PKS_MODE_OBSERVE, 65535), 0);
	assert_int_equal(fw_nflog_group(), 65535);
	put_packet(NFPROTO_IPV4, PKS_NFLOG_GROUP, "pks-observe udp/53", 1, 4,
	    "198.18.0.7", FW_NFLOG_RANGE);
	put_packet(NFPROTO_IPV4, 65535, "pks-observe tcp/22", 1, 4,
	    "198.18.0.8", FW_NFLOG_RANGE);
	assert_int_equal(input(), 1);
	/* (by now, an earlier test filled the table: "other sources") */
	assert_int_equal(take(o, 8), 1);
	assert_int_equal(o[0].proto, IPPROTO_TCP);
	assert_int_equal(o[0].port, 22);
	assert_int_equal(fw_mode_set(PKS_MODE_OBSERVE, PKS_NFLOG_GROUP), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packets_are_counted),
		cmocka_unit_test(test_malformed_messages_are_skipped),
		cmocka_unit_test(test_seeds_go_on),
		cmocka_unit_test(test_sources_are_capped),
		cmocka_unit_test(test_prefix_names_the_service),
		cmocka_unit_test(test_allow_is_checked),
		cmocka_unit_test(test_mode_is_checked),
		cmocka_unit_test(test_other_group_is_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

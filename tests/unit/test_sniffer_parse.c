/*
 * test_sniffer_parse: the frame parser of pks-sniffer.
 *
 * Frames are built here, byte by byte, for every link type and layer
 * the parser knows.  Each good frame is exactly as long as its last
 * header, so every shorter capture must be refused: the truncation test
 * parses every prefix (run it under ASan, `make SANITIZE=1
 * build/asan/tests/test_sniffer_parse`, to see that no prefix is read
 * past its end: each prefix is copied into a buffer of its own size).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pcap/dlt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sniffer.h"

struct frame {
	uint8_t	 b[512];
	size_t	 len;
};

static const uint8_t src4[4] = { 198, 18, 0, 2 };
static const uint8_t src6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 2 };

static void
put8(struct frame *f, unsigned int v)
{
	f->b[f->len++] = v;
}

static void
put16(struct frame *f, unsigned int v)
{
	put8(f, v >> 8);
	put8(f, v & 0xff);
}

static void
putn(struct frame *f, const void *p, size_t n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
zero(struct frame *f, size_t n)
{
	memset(f->b + f->len, 0, n);
	f->len += n;
}

static void
eth(struct frame *f, unsigned int et)
{
	static const uint8_t	 mac[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	putn(f, mac, sizeof(mac));
	put16(f, et);
}

static void
vlan(struct frame *f, unsigned int vid, unsigned int next)
{
	put16(f, vid);
	put16(f, next);
}

static void
sll(struct frame *f, unsigned int pkttype, unsigned int et)
{
	put16(f, pkttype);
	put16(f, 1);		/* ARPHRD_ETHER */
	put16(f, 6);
	zero(f, 8);
	put16(f, et);
}

static void
sll2(struct frame *f, unsigned int pkttype, unsigned int et)
{
	put16(f, et);
	put16(f, 0);
	put16(f, 0);
	put16(f, 2);		/* ifindex */
	put16(f, 1);		/* ARPHRD_ETHER */
	put8(f, pkttype);
	put8(f, 6);
	zero(f, 8);
}

/* IPv4 with optwords 32-bit words of options and l4len bytes after */
static void
ip4(struct frame *f, int proto, size_t optwords, size_t l4len,
    unsigned int frag)
{
	size_t	 hlen = 20 + optwords * 4;

	put8(f, 0x40 | hlen / 4);
	put8(f, 0);
	put16(f, hlen + l4len);
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	putn(f, src4, 4);
	put8(f, 198); put8(f, 18); put8(f, 0); put8(f, 1);
	while (optwords-- > 0) {
		put16(f, 0x0101);	/* NOP NOP NOP NOP */
		put16(f, 0x0101);
	}
}

static void
ip6(struct frame *f, int nxt, size_t plen)
{
	static const uint8_t	 dst[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 1 };

	put16(f, 0x6000);
	put16(f, 0);
	put16(f, plen);
	put8(f, nxt);
	put8(f, 64);
	putn(f, src6, 16);
	putn(f, dst, 16);
}

/* an extension header of (units + 1) * 8 bytes, padded with PadN */
static void
ext6(struct frame *f, int nxt, unsigned int units)
{
	put8(f, nxt);
	put8(f, units);
	put8(f, 1);		/* PadN */
	put8(f, units * 8 + 4);
	zero(f, units * 8 + 4);
}

static void
tcp(struct frame *f, unsigned int dport, unsigned int flags)
{
	put16(f, 40000);
	put16(f, dport);
	put16(f, 0); put16(f, 1);	/* seq */
	put16(f, 0); put16(f, 0);	/* ack */
	put8(f, 5 << 4);
	put8(f, flags);
	put16(f, 64240);
	put16(f, 0);
	put16(f, 0);
}

static void
udp(struct frame *f, unsigned int dport, unsigned int len)
{
	put16(f, 40000);
	put16(f, dport);
	put16(f, len);
	put16(f, 0);
}

#define SYN	0x02
#define ACK	0x10
#define RST	0x04

struct sample {
	const char	*name;
	int		 dlt;
	struct frame	 f;
	int		 af;
	int		 proto;
	unsigned int	 dport;
};

static struct sample	 samples[16];
static size_t		 nsamples;

static struct frame *
sample(const char *name, int dlt, int af, int proto, unsigned int dport)
{
	struct sample	*s = &samples[nsamples++];

	assert_true(nsamples <= sizeof(samples) / sizeof(samples[0]));
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->dlt = dlt;
	s->af = af;
	s->proto = proto;
	s->dport = dport;
	return (&s->f);
}

static int
setup_samples(void **state)
{
	struct frame	*f;

	(void)state;
	nsamples = 0;
	f = sample("eth ipv4 tcp syn", DLT_EN10MB, AF_INET, IPPROTO_TCP, 41233);
	eth(f, 0x0800); ip4(f, IPPROTO_TCP, 0, 20, 0x4000); tcp(f, 41233, SYN);

	f = sample("eth 802.1q ipv4 udp", DLT_EN10MB, AF_INET, IPPROTO_UDP,
	    9120);
	eth(f, 0x8100); vlan(f, 42, 0x0800); ip4(f, IPPROTO_UDP, 0, 8, 0);
	udp(f, 9120, 8);

	f = sample("eth qinq ipv6 tcp", DLT_EN10MB, AF_INET6, IPPROTO_TCP,
	    60111);
	eth(f, 0x88a8); vlan(f, 7, 0x8100); vlan(f, 42, 0x86dd);
	ip6(f, IPPROTO_TCP, 20); tcp(f, 60111, SYN);

	f = sample("eth ipv4 options udp", DLT_EN10MB, AF_INET, IPPROTO_UDP,
	    20001);
	eth(f, 0x0800); ip4(f, IPPROTO_UDP, 3, 8, 0); udp(f, 20001, 8);

	f = sample("eth ipv6 hbh dstopts tcp", DLT_EN10MB, AF_INET6,
	    IPPROTO_TCP, 22222);
	eth(f, 0x86dd); ip6(f, IPPROTO_HOPOPTS, 8 + 16 + 20);
	ext6(f, IPPROTO_DSTOPTS, 0); ext6(f, IPPROTO_TCP, 1);
	tcp(f, 22222, SYN);

	f = sample("sll ipv4 tcp", DLT_LINUX_SLL, AF_INET, IPPROTO_TCP, 30000);
	sll(f, 0, 0x0800); ip4(f, IPPROTO_TCP, 0, 20, 0); tcp(f, 30000, SYN);

	f = sample("sll 802.1q ipv6 udp", DLT_LINUX_SLL, AF_INET6,
	    IPPROTO_UDP, 30001);
	sll(f, 1, 0x8100); vlan(f, 3, 0x86dd); ip6(f, IPPROTO_UDP, 8);
	udp(f, 30001, 8);

	f = sample("sll2 ipv6 routing udp", DLT_LINUX_SLL2, AF_INET6,
	    IPPROTO_UDP, 30002);
	sll2(f, 0, 0x86dd); ip6(f, IPPROTO_ROUTING, 16); ext6(f, IPPROTO_UDP, 0);
	udp(f, 30002, 8);

	f = sample("sll2 ipv4 tcp", DLT_LINUX_SLL2, AF_INET, IPPROTO_TCP,
	    65535);
	sll2(f, 0, 0x0800); ip4(f, IPPROTO_TCP, 0, 20, 0); tcp(f, 65535, SYN);

	f = sample("raw ipv4 tcp", DLT_RAW, AF_INET, IPPROTO_TCP, 1);
	ip4(f, IPPROTO_TCP, 0, 20, 0); tcp(f, 1, SYN);

	f = sample("raw ipv6 udp", DLT_RAW, AF_INET6, IPPROTO_UDP, 53);
	ip6(f, IPPROTO_UDP, 8); udp(f, 53, 8);

	f = sample("dlt ipv4 udp", DLT_IPV4, AF_INET, IPPROTO_UDP, 5000);
	ip4(f, IPPROTO_UDP, 0, 8, 0); udp(f, 5000, 8);

	f = sample("dlt ipv6 tcp", DLT_IPV6, AF_INET6, IPPROTO_TCP, 5001);
	ip6(f, IPPROTO_TCP, 20); tcp(f, 5001, SYN);
	return (0);
}

/* parse a copy of the first caplen bytes, in a buffer of that size */
static int
parse_prefix(int dlt, const struct frame *f, size_t caplen, struct pkt *pkt)
{
	uint8_t	*copy;
	int	 rv;

	copy = malloc(caplen ? caplen : 1);
	assert_non_null(copy);
	memcpy(copy, f->b, caplen);
	rv = parse_frame(dlt, copy, caplen, pkt);
	free(copy);
	return (rv);
}

static void
check_sample(const struct sample *s)
{
	struct pkt	 pkt;

	memset(&pkt, 0xee, sizeof(pkt));
	if (parse_prefix(s->dlt, &s->f, s->f.len, &pkt) != 0)
		fail_msg("%s: refused", s->name);
	assert_int_equal(pkt.af, s->af);
	assert_int_equal(pkt.proto, s->proto);
	assert_int_equal(pkt.dport, s->dport);
	/* extension headers walked: only the wake capture admits those */
	assert_int_equal(pkt.ext, strstr(s->name, " hbh ") != NULL ||
	    strstr(s->name, " routing ") != NULL);
	if (s->af == AF_INET) {
		assert_memory_equal(pkt.src, src4, 4);
		assert_memory_equal(pkt.src + 4,
		    "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
	} else
		assert_memory_equal(pkt.src, src6, 16);
}

static void
every_sample_parses(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < nsamples; i++)
		check_sample(&samples[i]);
}

static void
every_truncation_is_refused(void **state)
{
	struct pkt	 pkt, untouched;
	size_t		 i, len;

	(void)state;
	memset(&untouched, 0x5a, sizeof(untouched));
	for (i = 0; i < nsamples; i++) {
		for (len = 0; len < samples[i].f.len; len++) {
			pkt = untouched;
			if (parse_prefix(samples[i].dlt, &samples[i].f, len,
			    &pkt) != -1)
				fail_msg("%s: accepted at %zu of %zu bytes",
				    samples[i].name, len, samples[i].f.len);
			/* a refused frame leaves the output alone */
			assert_memory_equal(&pkt, &untouched, sizeof(pkt));
		}
		check_sample(&samples[i]);
	}
}

static void
ethernet_padding_is_ignored(void **state)
{
	struct frame	 f = { .len = 0 };
	struct pkt	 pkt;

	(void)state;
	eth(&f, 0x0800); ip4(&f, IPPROTO_UDP, 0, 8, 0); udp(&f, 7777, 8);
	zero(&f, 60 - f.len);
	assert_int_equal(parse_frame(DLT_EN10MB, f.b, f.len, &pkt), 0);
	assert_int_equal(pkt.dport, 7777);
}

static int
parse1(int dlt, const struct frame *f)
{
	struct pkt	 pkt;

	return (parse_prefix(dlt, f, f->len, &pkt));
}

static void
tcp_flags_must_be_syn_without_ack(void **state)
{
	static const unsigned int bad[] = { 0, ACK, SYN | ACK, RST, 0x01 };
	struct frame	 f;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.len = 0;
		eth(&f, 0x0800); ip4(&f, IPPROTO_TCP, 0, 20, 0);
		tcp(&f, 1000, bad[i]);
		assert_int_equal(parse1(DLT_EN10MB, &f), -1);
		f.len = 0;
		ip6(&f, IPPROTO_TCP, 20); tcp(&f, 1000, bad[i]);
		assert_int_equal(parse1(DLT_RAW, &f), -1);
	}
	/* other flags next to SYN do not matter (ECN setup: SYN|ECE|CWR) */
	f.len = 0;
	ip4(&f, IPPROTO_TCP, 0, 20, 0); tcp(&f, 1000, SYN | 0xc0);
	assert_int_equal(parse1(DLT_RAW, &f), 0);
	/* a data offset under 5 words is no TCP header */
	f.b[20 + 12] = 4 << 4;
	assert_int_equal(parse1(DLT_RAW, &f), -1);
}

static void
port_zero_is_refused(void **state)
{
	struct frame	 f = { .len = 0 };

	(void)state;
	ip4(&f, IPPROTO_TCP, 0, 20, 0); tcp(&f, 0, SYN);
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.len = 0;
	ip6(&f, IPPROTO_UDP, 8); udp(&f, 0, 8);
	assert_int_equal(parse1(DLT_RAW, &f), -1);
}

static void
udp_length_under_header_is_refused(void **state)
{
	struct frame	 f = { .len = 0 };

	(void)state;
	ip4(&f, IPPROTO_UDP, 0, 8, 0); udp(&f, 99, 7);
	assert_int_equal(parse1(DLT_RAW, &f), -1);
}

static void
ipv4_fragments_are_refused(void **state)
{
	static const unsigned int frag[] = { 0x2000, 0x0001, 0x2001, 0x1fff };
	struct frame	 f;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		f.len = 0;
		ip4(&f, IPPROTO_UDP, 0, 8, frag[i]); udp(&f, 99, 8);
		assert_int_equal(parse1(DLT_RAW, &f), -1);
	}
	/* DF alone is no fragment */
	f.len = 0;
	ip4(&f, IPPROTO_UDP, 0, 8, 0x4000); udp(&f, 99, 8);
	assert_int_equal(parse1(DLT_RAW, &f), 0);
}

static void
ipv4_bad_lengths_are_refused(void **state)
{
	struct frame	 f = { .len = 0 };

	(void)state;
	ip4(&f, IPPROTO_UDP, 0, 8, 0); udp(&f, 99, 8);
	f.b[0] = 0x44;			/* header shorter than 20 */
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[0] = 0x4f;			/* header longer than captured */
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[0] = 0x45;
	f.b[3] = 19;			/* total length under the header */
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[3] = 27;			/* ends inside the UDP header */
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[3] = 28;
	assert_int_equal(parse1(DLT_RAW, &f), 0);
	f.b[0] = 0x55;			/* not version 4 */
	assert_int_equal(parse1(DLT_IPV4, &f), -1);
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[0] = 0x45;
	f.b[9] = IPPROTO_ICMP;
	assert_int_equal(parse1(DLT_RAW, &f), -1);
}

static void
ipv6_bad_headers_are_refused(void **state)
{
	struct frame	 f = { .len = 0 };

	(void)state;
	ip6(&f, IPPROTO_UDP, 8); udp(&f, 99, 8);
	f.b[4] = f.b[5] = 0;		/* jumbogram */
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[5] = 7;			/* payload ends inside UDP */
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[5] = 8;
	assert_int_equal(parse1(DLT_RAW, &f), 0);
	assert_int_equal(parse1(DLT_IPV4, &f), -1);

	f.len = 0;			/* fragment header */
	ip6(&f, IPPROTO_FRAGMENT, 16); ext6(&f, IPPROTO_UDP, 0);
	udp(&f, 99, 8);
	assert_int_equal(parse1(DLT_RAW, &f), -1);
	f.b[6] = IPPROTO_DSTOPTS;	/* the same bytes as options: fine */
	assert_int_equal(parse1(DLT_RAW, &f), 0);
	f.b[41] = 1;			/* options longer than the packet */
	assert_int_equal(parse1(DLT_RAW, &f), -1);

	f.len = 0;			/* no next header */
	ip6(&f, IPPROTO_NONE, 8); udp(&f, 99, 8);
	assert_int_equal(parse1(DLT_RAW, &f), -1);
}

static void
ipv6_extension_chain_is_bounded(void **state)
{
	struct frame	 f;
	int		 n, i;

	(void)state;
	for (n = SNIFF_V6_EXT_MAX; n <= SNIFF_V6_EXT_MAX + 1; n++) {
		f.len = 0;
		ip6(&f, IPPROTO_DSTOPTS, n * 8 + 8);
		for (i = 0; i < n; i++)
			ext6(&f, i == n - 1 ? IPPROTO_UDP : IPPROTO_DSTOPTS, 0);
		udp(&f, 99, 8);
		assert_int_equal(parse1(DLT_RAW, &f),
		    n <= SNIFF_V6_EXT_MAX ? 0 : -1);
	}
}

static void
links_are_checked(void **state)
{
	struct frame	 f = { .len = 0 };

	(void)state;
	eth(&f, 0x0806); zero(&f, 28);	/* ARP */
	assert_int_equal(parse1(DLT_EN10MB, &f), -1);
	f.len = 0;			/* three tags */
	eth(&f, 0x8100); vlan(&f, 1, 0x8100); vlan(&f, 2, 0x8100);
	vlan(&f, 3, 0x0800); ip4(&f, IPPROTO_UDP, 0, 8, 0); udp(&f, 99, 8);
	assert_int_equal(parse1(DLT_EN10MB, &f), -1);
	f.len = 0;			/* sent by this host */
	sll(&f, 4, 0x0800); ip4(&f, IPPROTO_UDP, 0, 8, 0); udp(&f, 99, 8);
	assert_int_equal(parse1(DLT_LINUX_SLL, &f), -1);
	f.b[1] = 3;			/* to another host: still incoming */
	assert_int_equal(parse1(DLT_LINUX_SLL, &f), 0);
	f.len = 0;
	sll2(&f, 4, 0x0800); ip4(&f, IPPROTO_UDP, 0, 8, 0); udp(&f, 99, 8);
	assert_int_equal(parse1(DLT_LINUX_SLL2, &f), -1);
	/* a link type the parser does not know */
	assert_int_equal(parse1(DLT_NULL, &f), -1);
	assert_false(parse_dlt_ok(DLT_NULL));
	assert_true(parse_dlt_ok(DLT_LINUX_SLL2));
	f.len = 0;
	put8(&f, 0x50); zero(&f, 40);
	assert_int_equal(parse1(DLT_RAW, &f), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(every_sample_parses, setup_samples),
		cmocka_unit_test_setup(every_truncation_is_refused,
		    setup_samples),
		cmocka_unit_test(ethernet_padding_is_ignored),
		cmocka_unit_test(tcp_flags_must_be_syn_without_ack),
		cmocka_unit_test(port_zero_is_refused),
		cmocka_unit_test(udp_length_under_header_is_refused),
		cmocka_unit_test(ipv4_fragments_are_refused),
		cmocka_unit_test(ipv4_bad_lengths_are_refused),
		cmocka_unit_test(ipv6_bad_headers_are_refused),
		cmocka_unit_test(ipv6_extension_chain_is_bounded),
		cmocka_unit_test(links_are_checked),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

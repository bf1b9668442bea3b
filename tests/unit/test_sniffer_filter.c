/*
 * test_sniffer_filter: the kernel filter of pks-sniffer.
 *
 * Filters are compiled by libpcap on dead handles of each link type the
 * sniffer uses and run with pcap_offline_filter() on frames built here,
 * so what is tested is the very program the kernel would get.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sniffer.h"

#define SYN	0x02
#define ACK	0x10

struct frame {
	uint8_t	 b[256];
	size_t	 len;
};

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* a link header for dlt carrying ethertype et; returns its length */
static size_t
link_hdr(int dlt, uint8_t *b, unsigned int et)
{
	switch (dlt) {
	case DLT_EN10MB:
		memset(b, 2, 12);
		put16(b + 12, et);
		return (14);
	case DLT_LINUX_SLL:
		memset(b, 0, 16);
		put16(b + 14, et);
		return (16);
	case DLT_LINUX_SLL2:
		memset(b, 0, 20);
		put16(b, et);
		return (20);
	}
	fail();
	return (0);
}

/* IPv4 + TCP (flags) or UDP (flags -1) to port, with frag bits */
static struct frame
frame4(int dlt, unsigned int port, int flags, unsigned int frag)
{
	struct frame	 f;
	uint8_t		*ip;
	size_t		 l4 = flags >= 0 ? 20 : 8;

	memset(&f, 0, sizeof(f));
	f.len = link_hdr(dlt, f.b, 0x0800);
	ip = f.b + f.len;
	ip[0] = 0x46;			/* one word of options */
	put16(ip + 2, 24 + l4);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = flags >= 0 ? IPPROTO_TCP : IPPROTO_UDP;
	memcpy(ip + 12, "\xc6\x12\x00\x02\xc6\x12\x00\x01", 8);
	ip[20] = ip[21] = ip[22] = ip[23] = 1;
	put16(ip + 24, 40000);
	put16(ip + 26, port);
	if (flags >= 0) {
		ip[24 + 12] = 5 << 4;
		ip[24 + 13] = flags;
	} else
		put16(ip + 24 + 4, 8);
	f.len += 24 + l4;
	return (f);
}

/* IPv6 + an optional hop-by-hop header + TCP or UDP to port */
static struct frame
frame6(int dlt, unsigned int port, int flags, int hbh)
{
	struct frame	 f;
	uint8_t		*ip, *l4;
	int		 proto = flags >= 0 ? IPPROTO_TCP : IPPROTO_UDP;
	size_t		 l4len = flags >= 0 ? 20 : 8;

	memset(&f, 0, sizeof(f));
	f.len = link_hdr(dlt, f.b, 0x86dd);
	ip = f.b + f.len;
	ip[0] = 0x60;
	put16(ip + 4, l4len + (hbh ? 8 : 0));
	ip[6] = hbh ? IPPROTO_HOPOPTS : proto;
	ip[7] = 64;
	ip[8] = ip[24] = 0xfd;
	ip[23] = 2;
	ip[39] = 1;
	l4 = ip + 40;
	if (hbh) {
		l4[0] = proto;
		l4[2] = 1;		/* PadN */
		l4[3] = 4;
		l4 += 8;
	}
	put16(l4, 40000);
	put16(l4 + 2, port);
	if (flags >= 0) {
		l4[12] = 5 << 4;
		l4[13] = flags;
	} else
		put16(l4 + 4, 8);
	f.len = l4 + l4len - f.b;
	return (f);
}

static int
passes(const struct bpf_program *prog, const struct frame *f)
{
	struct pcap_pkthdr	 h;

	memset(&h, 0, sizeof(h));
	h.caplen = h.len = f->len;
	return (pcap_offline_filter(prog, &h, f->b) != 0);
}

static uint64_t	 rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng >> 32);
}

static void
compile(int dlt, const uint16_t *ports, size_t n, struct bpf_program *prog)
{
	pcap_t	*p;

	assert_non_null(p = pcap_open_dead(dlt, SNIFF_SNAPLEN));
	if (filter_compile(p, ports, n, prog) == -1)
		fail_msg("filter_compile: %s", pcap_geterr(p));
	assert_true(prog->bf_len > 0);
	assert_true(prog->bf_len < FILTER_INSNS_MAX);
	pcap_close(p);
}

/* every knock port and guard passes, as TCP SYN and UDP, v4 and v6 */
static void
check_admits(int dlt, const struct bpf_program *prog, const uint16_t *ports,
    size_t n)
{
	struct frame	 f;
	size_t		 i;
	long		 q;

	for (i = 0; i < n; i++)
		for (q = (long)ports[i] - PKS_GUARD;
		    q <= (long)ports[i] + PKS_GUARD; q++) {
			if (q < 1 || q > 65535)
				continue;
			f = frame4(dlt, q, SYN, 0x4000);
			if (!passes(prog, &f))
				fail_msg("v4 tcp port %ld refused", q);
			f = frame4(dlt, q, -1, 0);
			if (!passes(prog, &f))
				fail_msg("v4 udp port %ld refused", q);
			f = frame6(dlt, q, SYN, 0);
			if (!passes(prog, &f))
				fail_msg("v6 tcp port %ld refused", q);
			f = frame6(dlt, q, -1, 0);
			if (!passes(prog, &f))
				fail_msg("v6 udp port %ld refused", q);
		}
}

static const uint16_t	 few[6] = { 41233, 9120, 60111, 20000, 30000, 40000 };

static void
small_set_is_exact(void **state)
{
	static const int	 dlts[3] = { DLT_EN10MB, DLT_LINUX_SLL,
	    DLT_LINUX_SLL2 };
	struct bpf_program	 prog;
	struct frame		 f;
	int			 i, dlt;

	(void)state;
	for (i = 0; i < 3; i++) {
		dlt = dlts[i];
		compile(dlt, few, 6, &prog);
		check_admits(dlt, &prog, few, 6);
		/* just past the guards, and far away */
		f = frame4(dlt, 41233 + PKS_GUARD + 1, SYN, 0);
		assert_false(passes(&prog, &f));
		f = frame4(dlt, 9120 - PKS_GUARD - 1, -1, 0);
		assert_false(passes(&prog, &f));
		f = frame4(dlt, 22, SYN, 0);
		assert_false(passes(&prog, &f));
		f = frame6(dlt, 22, SYN, 0);
		assert_false(passes(&prog, &f));
		f = frame6(dlt, 60111 + PKS_GUARD + 1, -1, 0);
		assert_false(passes(&prog, &f));
		/* v4: only a SYN without ACK, and no fragment */
		f = frame4(dlt, 41233, SYN | ACK, 0);
		assert_false(passes(&prog, &f));
		f = frame4(dlt, 41233, ACK, 0);
		assert_false(passes(&prog, &f));
		f = frame4(dlt, 41233, SYN, 0x2000);
		assert_false(passes(&prog, &f));
		f = frame4(dlt, 41233, -1, 0x0010);
		assert_false(passes(&prog, &f));
		/* v6: flags are user space's job; extension headers too */
		f = frame6(dlt, 41233, SYN | ACK, 0);
		assert_true(passes(&prog, &f));
		f = frame6(dlt, 22, SYN, 1);
		assert_true(passes(&prog, &f));
		pcap_freecode(&prog);
	}
}

static void
empty_set_admits_nothing(void **state)
{
	struct bpf_program	 prog;
	struct frame		 f;
	pcap_t			*p;

	(void)state;
	assert_non_null(p = pcap_open_dead(DLT_EN10MB, SNIFF_SNAPLEN));
	assert_int_equal(filter_compile(p, NULL, 0, &prog), 0);
	assert_int_equal(prog.bf_len, 1);
	f = frame4(DLT_EN10MB, 41233, SYN, 0);
	assert_false(passes(&prog, &f));
	f = frame6(DLT_EN10MB, 41233, SYN, 1);
	assert_false(passes(&prog, &f));
	pcap_freecode(&prog);
	pcap_close(p);
}

static void
many_sequences(size_t nseq, uint16_t lo, uint16_t hi, int dlt)
{
	struct bpf_program	 prog;
	struct frame		 f;
	uint16_t		*ports;
	size_t			 i, n = nseq * 3;
	uint16_t		 far;

	assert_non_null(ports = calloc(n, sizeof(*ports)));
	for (i = 0; i < n; i++)
		ports[i] = lo + rnd() % (hi - lo + 1);
	compile(dlt, ports, n, &prog);
	check_admits(dlt, &prog, ports, n);
	far = lo > 10000 ? lo - 5000 : 65535;
	f = frame4(dlt, far, SYN, 0);
	assert_false(passes(&prog, &f));
	f = frame6(dlt, far, -1, 0);
	assert_false(passes(&prog, &f));
	f = frame4(dlt, lo + 1, SYN | ACK, 0);
	assert_false(passes(&prog, &f));
	pcap_freecode(&prog);
	free(ports);
}

static void
five_thousand_sequences_fit(void **state)
{
	(void)state;
	many_sequences(5000, 20000, 60000, DLT_EN10MB);
	many_sequences(5000, 20000, 60000, DLT_LINUX_SLL2);
}

static void
sparse_sequences_fit(void **state)
{
	(void)state;
	/* 1500 ranges of 33 ports, gaps of ~ 27: merging must happen */
	many_sequences(500, 20000, 60000, DLT_EN10MB);
	many_sequences(2000, 30000, 32000, DLT_EN10MB);
	many_sequences(20000, 20000, 60000, DLT_LINUX_SLL);
}

static void
ranges_cover_guards(void **state)
{
	static const uint16_t	 p[5] = { 100, 133, 200, 1, 65530 };
	struct filter_range	*r;
	size_t			 n;

	(void)state;
	n = filter_ranges(p, 5, &r);
	assert_int_equal(n, 4);
	assert_int_equal(r[0].lo, 1);
	assert_int_equal(r[0].hi, 1 + PKS_GUARD);
	assert_int_equal(r[1].lo, 100 - PKS_GUARD);
	assert_int_equal(r[1].hi, 133 + PKS_GUARD);	/* they touch */
	assert_int_equal(r[2].lo, 200 - PKS_GUARD);
	assert_int_equal(r[2].hi, 200 + PKS_GUARD);
	assert_int_equal(r[3].lo, 65530 - PKS_GUARD);
	assert_int_equal(r[3].hi, 65535);
	/* the narrowest gap (149..184) closes first */
	assert_int_equal(filter_merge(r, n, 3), 3);
	assert_int_equal(r[1].lo, 100 - PKS_GUARD);
	assert_int_equal(r[1].hi, 200 + PKS_GUARD);
	assert_int_equal(filter_merge(r, 3, 1), 1);
	assert_int_equal(r[0].lo, 1);
	assert_int_equal(r[0].hi, 65535);
	free(r);
	assert_int_equal(filter_ranges(p, 0, &r), 0);
	assert_null(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ranges_cover_guards),
		cmocka_unit_test(small_set_is_exact),
		cmocka_unit_test(empty_set_admits_nothing),
		cmocka_unit_test(five_thousand_sequences_fit),
		cmocka_unit_test(sparse_sequences_fit),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

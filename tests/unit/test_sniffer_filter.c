/*
 * test_sniffer_filter: the kernel filters of pks-sniffer, the wake
 * filter (the last port of each sequence, wakes the sniffer) and the
 * read filter (every knock port and the guards, read later).  The
 * port lists hold the last ports first, as match_ports() gives them.
 *
 * The program is built for DLT_RAW (offsets from the IP header, as the
 * kernel sees them after filter_attach() moves them) and run with
 * pcap_offline_filter() on the IP packet of frames built here for each
 * link type the sniffer uses.  The kernel's own checker sees it too,
 * through a socket pair, which needs no privilege.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sniffer.h"
#include "testrnd.h"

#define SYN	0x02
#define ACK	0x10

struct frame {
	uint8_t	 b[256];
	size_t	 len;
	size_t	 off;		/* the IP header */
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
	f.off = f.len = link_hdr(dlt, f.b, 0x0800);
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
	f.off = f.len = link_hdr(dlt, f.b, 0x86dd);
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

/* an IPv6 UDP datagram to port behind n destination-options headers of
 * 16 bytes each */
static struct frame
frame6_ext(int dlt, unsigned int port, int n)
{
	struct frame	 f;
	uint8_t		*ip, *h;
	int		 i;

	f = frame6(dlt, port, -1, 0);
	ip = f.b + f.off;
	memmove(ip + 40 + 16 * n, ip + 40, 8);
	ip[6] = IPPROTO_DSTOPTS;
	for (i = 0, h = ip + 40; i < n; i++, h += 16) {
		memset(h, 0, 16);
		h[0] = i + 1 < n ? IPPROTO_DSTOPTS : IPPROTO_UDP;
		h[1] = 1;		/* (1 + 1) * 8 bytes */
		h[2] = 1;		/* PadN */
		h[3] = 12;
	}
	put16(ip + 4, 8 + 16 * n);
	f.len += 16 * n;
	return (f);
}

static int
passes(const struct bpf_program *prog, const struct frame *f)
{
	struct pcap_pkthdr	 h;

	memset(&h, 0, sizeof(h));
	h.caplen = h.len = f->len - f->off;
	return (pcap_offline_filter(prog, &h, f->b + f->off) != 0);
}


/* what the kernel would say: pcap's checker, then the kernel's own */
static void
check_loads(const struct bpf_program *prog)
{
	int	 sv[2];

	assert_true(bpf_validate(prog->bf_insns, prog->bf_len));
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	if (filter_attach(sv[0], prog) == -1)
		fail_msg("kernel refused %u instructions", prog->bf_len);
	close(sv[0]);
	close(sv[1]);
}

static void
compile(const uint16_t *ports, size_t n, size_t nlast, int which,
    struct bpf_program *prog)
{
	if (filter_compile(ports, n, nlast, which, prog) == -1)
		fail_msg("filter_compile failed");
	assert_true(prog->bf_len > 0);
	assert_true(prog->bf_len < FILTER_INSNS_MAX);
	check_loads(prog);
}

/*
 * Every last port passes the wake filter, as TCP SYN and UDP, v4 and
 * v6; every knock port and guard port passes the read filter.
 */
static void
check_admits(int dlt, const struct bpf_program *kp,
    const struct bpf_program *gp, const uint16_t *ports, size_t n,
    size_t nlast)
{
	struct frame	 f[4];
	uint8_t		*knock;
	size_t		 i;
	long		 q;
	int		 j, k;

	assert_non_null(knock = calloc(65536, 1));
	for (i = 0; i < nlast; i++)
		knock[ports[i]] = 1;
	for (i = 0; i < n; i++)
		for (q = (long)ports[i] - PKS_GUARD;
		    q <= (long)ports[i] + PKS_GUARD; q++) {
			if (q < 1 || q > 65535)
				continue;
			f[0] = frame4(dlt, q, SYN, 0x4000);
			f[1] = frame4(dlt, q, -1, 0);
			f[2] = frame6(dlt, q, SYN, 0);
			f[3] = frame6(dlt, q, -1, 0);
			k = knock[q];
			for (j = 0; j < 4; j++) {
				if (k && !passes(kp, &f[j]))
					fail_msg("last port %ld (frame %d) "
					    "refused", q, j);
				if (!passes(gp, &f[j]))
					fail_msg("port %ld (frame %d) "
					    "refused", q, j);
			}
		}
	free(knock);
}

static const uint16_t	 few[6] = { 41233, 9120, 60111, 20000, 30000, 40000 };

static void
small_set_is_exact(void **state)
{
	static const int	 dlts[3] = { DLT_EN10MB, DLT_LINUX_SLL,
	    DLT_LINUX_SLL2 };
	struct bpf_program	 kp, gp;
	struct frame		 f;
	int			 i, dlt, k;

	(void)state;
	for (i = 0; i < 3; i++) {
		dlt = dlts[i];
		/* 41233 and 9120 end sequences */
		compile(few, 6, 2, FILTER_WAKE, &kp);
		compile(few, 6, 2, FILTER_READ, &gp);
		check_admits(dlt, &kp, &gp, few, 6, 2);
		/* a last port goes to both sockets, the others to one */
		f = frame4(dlt, 41233, SYN, 0);
		assert_true(passes(&kp, &f));
		assert_true(passes(&gp, &f));
		f = frame4(dlt, 41233 + 1, SYN, 0);
		assert_true(passes(&gp, &f));
		assert_false(passes(&kp, &f));
		f = frame4(dlt, 60111, SYN, 0);
		assert_true(passes(&gp, &f));
		assert_false(passes(&kp, &f));
		f = frame6(dlt, 9120 - PKS_GUARD, -1, 0);
		assert_true(passes(&gp, &f));
		assert_false(passes(&kp, &f));
		/* just past the guards, and far away */
		f = frame4(dlt, 41233 + PKS_GUARD + 1, SYN, 0);
		assert_false(passes(&kp, &f) || passes(&gp, &f));
		f = frame4(dlt, 9120 - PKS_GUARD - 1, -1, 0);
		assert_false(passes(&kp, &f) || passes(&gp, &f));
		f = frame4(dlt, 22, SYN, 0);
		assert_false(passes(&kp, &f) || passes(&gp, &f));
		f = frame6(dlt, 22, SYN, 0);
		assert_false(passes(&kp, &f) || passes(&gp, &f));
		f = frame6(dlt, 60111 + PKS_GUARD + 1, -1, 0);
		assert_false(passes(&kp, &f) || passes(&gp, &f));
		/* v4: only a SYN without ACK, and no fragment */
		f = frame4(dlt, 41233, SYN | ACK, 0);
		assert_false(passes(&kp, &f));
		f = frame4(dlt, 41233, ACK, 0);
		assert_false(passes(&kp, &f));
		f = frame4(dlt, 41233, SYN, 0x2000);
		assert_false(passes(&kp, &f));
		f = frame4(dlt, 41233, -1, 0x0010);
		assert_false(passes(&kp, &f));
		f = frame4(dlt, 41234, SYN | ACK, 0);
		assert_false(passes(&gp, &f));
		f = frame4(dlt, 41234, -1, 0x0010);
		assert_false(passes(&gp, &f));
		/* v6: flags are user space's job; extension headers are
		 * followed to the port (issue 13, L3: they used to wake the
		 * sniffer whatever their port), up to three of them */
		f = frame6(dlt, 41233, SYN | ACK, 0);
		assert_true(passes(&kp, &f));
		f = frame6(dlt, 41234, SYN | ACK, 0);
		assert_true(passes(&gp, &f));
		f = frame6(dlt, 22, SYN, 1);
		assert_false(passes(&kp, &f));
		assert_false(passes(&gp, &f));
		f = frame6(dlt, 41234, SYN, 1);
		assert_false(passes(&kp, &f));
		assert_true(passes(&gp, &f));
		f = frame6(dlt, 41233, -1, 1);
		assert_true(passes(&kp, &f));
		for (k = 1; k <= 4; k++) {
			f = frame6_ext(dlt, 41233, k);
			assert_int_equal(passes(&kp, &f), k <= 3);
			f = frame6_ext(dlt, 22, k);
			assert_false(passes(&kp, &f));
		}
		pcap_freecode(&kp);
		pcap_freecode(&gp);
	}
}

static void
empty_set_admits_nothing(void **state)
{
	struct bpf_program	 prog;
	struct frame		 f;
	int			 which;

	(void)state;
	for (which = FILTER_WAKE; which <= FILTER_READ; which++) {
		assert_int_equal(filter_compile(NULL, 0, 0, which, &prog), 0);
		assert_int_equal(prog.bf_len, 1);
		f = frame4(DLT_EN10MB, 41233, SYN, 0);
		assert_false(passes(&prog, &f));
		f = frame6(DLT_EN10MB, 41233, SYN, 1);
		assert_false(passes(&prog, &f));
		pcap_freecode(&prog);
	}
}

static void
many_sequences(size_t nseq, uint16_t lo, uint16_t hi, int dlt)
{
	struct bpf_program	 kp, gp;
	struct frame		 f;
	uint16_t		*ports;
	size_t			 i, n = nseq * 3;
	uint16_t		 far;

	assert_non_null(ports = calloc(n, sizeof(*ports)));
	for (i = 0; i < n; i++)
		ports[i] = lo + rnd() % (hi - lo + 1);
	compile(ports, n, nseq, FILTER_WAKE, &kp);
	compile(ports, n, nseq, FILTER_READ, &gp);
	check_admits(dlt, &kp, &gp, ports, n, nseq);
	far = lo > 10000 ? lo - 5000 : 65535;
	f = frame4(dlt, far, SYN, 0);
	assert_false(passes(&kp, &f) || passes(&gp, &f));
	f = frame6(dlt, far, -1, 0);
	assert_false(passes(&kp, &f) || passes(&gp, &f));
	f = frame4(dlt, lo + 1, SYN | ACK, 0);
	assert_false(passes(&kp, &f) || passes(&gp, &f));
	pcap_freecode(&kp);
	pcap_freecode(&gp);
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

/* n random sequences of PKS_SEQ_MIN..PKS_SEQ_MAX ports; returns the ports */
static uint16_t *
random_ports(size_t nseq, size_t *np)
{
	uint16_t	*ports;
	size_t		 i, j, n = 0, len;

	assert_non_null(ports = calloc(nseq * PKS_SEQ_MAX, sizeof(*ports)));
	for (i = 0; i < nseq; i++) {
		len = PKS_SEQ_MIN + rnd() % (PKS_SEQ_MAX - PKS_SEQ_MIN + 1);
		for (j = 0; j < len; j++)
			ports[n++] = 1 + rnd() % 65535;
	}
	*np = n;
	return (ports);
}

/*
 * Every destination port, through each filter: admitted iff in that
 * filter's ranges; and those ranges are exact: the last ports for the
 * wake filter, every knock port and the guards for the read filter.
 * A set too large for one program (!exact) has its ranges merged: a
 * port in them must still pass, and one outside may.
 */
static void
check_every_port(const uint16_t *ports, size_t n, size_t nlast, int exact)
{
	struct bpf_program	 prog;
	struct filter_range	*r;
	struct frame		 f;
	uint8_t			*in, *want[2];
	size_t			 nr, i;
	long			 p;
	int			 dlt = DLT_EN10MB, which;

	assert_non_null(want[FILTER_WAKE] = calloc(65536, 1));
	assert_non_null(want[FILTER_READ] = calloc(65536, 1));
	for (i = 0; i < n; i++)
		for (p = (long)ports[i] - PKS_GUARD;
		    p <= (long)ports[i] + PKS_GUARD; p++)
			if (p >= 1 && p <= 65535)
				want[FILTER_READ][p] = 1;
	for (i = 0; i < nlast; i++)
		want[FILTER_WAKE][ports[i]] = 1;
	for (which = FILTER_WAKE; which <= FILTER_READ; which++) {
		assert_non_null(in = calloc(65536, 1));
		nr = filter_ranges(ports, n, nlast, which, &r);
		assert_true(nr > 0 && nr != (size_t)-1);
		for (i = 0; i < nr; i++)
			for (p = r[i].lo; p <= r[i].hi; p++)
				in[p] = 1;
		free(r);
		for (p = 0; p < 65536; p++)
			if (in[p] != want[which][p])
				fail_msg("filter %d: port %ld wrongly %s", which,
				    p, in[p] ? "in" : "out");
		compile(ports, n, nlast, which, &prog);
		for (p = 0; p < 65536; p++) {
			if (!exact && !in[p]) {
				f = frame4(dlt, p, SYN, 0x4000);
				in[p] = passes(&prog, &f);
			}
			f = frame4(dlt, p, SYN, 0x4000);
			if (passes(&prog, &f) != in[p])
				fail_msg("filter %d: v4 tcp syn port %ld: "
				    "wrong", which, p);
			f = frame4(dlt, p, -1, 0);
			if (passes(&prog, &f) != in[p])
				fail_msg("v4 udp port %ld: wrong", p);
			f = frame6(dlt, p, SYN, 0);
			if (passes(&prog, &f) != in[p])
				fail_msg("v6 tcp syn port %ld: wrong", p);
			f = frame6(dlt, p, SYN | ACK, 0);
			if (passes(&prog, &f) != in[p])
				fail_msg("v6 tcp syn+ack port %ld: wrong", p);
			f = frame6(dlt, p, -1, 0);
			if (passes(&prog, &f) != in[p])
				fail_msg("v6 udp port %ld: wrong", p);
			f = frame6(dlt, p, -1, 1);
			if (passes(&prog, &f) != in[p])
				fail_msg("v6 hop-by-hop port %ld: wrong", p);
			f = frame4(dlt, p, SYN | ACK, 0);
			if (passes(&prog, &f))
				fail_msg("v4 tcp syn+ack port %ld admitted", p);
			f = frame4(dlt, p, SYN, 0x2000);
			if (passes(&prog, &f))
				fail_msg("v4 first fragment port %ld admitted",
				    p);
			f = frame4(dlt, p, -1, 0x0001);
			if (passes(&prog, &f))
				fail_msg("v4 later fragment port %ld admitted",
				    p);
		}
		pcap_freecode(&prog);
		free(in);
	}
	free(want[FILTER_WAKE]);
	free(want[FILTER_READ]);
}

static void
every_port_is_exact(void **state)
{
	uint16_t	*ports;
	size_t		 n;
	int		 round;

	(void)state;
	for (round = 0; round < 3; round++) {
		ports = random_ports(20, &n);
		if (round == 2) {
			/* the ends of the port space */
			ports[0] = 1;
			ports[1] = 65535;
		}
		check_every_port(ports, n, n / 3, 1);
		free(ports);
	}
	/* one range, and ranges far apart enough to need a ja */
	ports = random_ports(1, &n);
	check_every_port(ports, n, 1, 1);
	free(ports);
	ports = random_ports(200, &n);
	check_every_port(ports, n, 200, 0);
	free(ports);
}

/* not a test: how long a change of the live set costs */
static void
build_time(void **state)
{
	static const size_t	 nseqs[3] = { 1, 100, 200 };
	struct bpf_program	 prog;
	struct timespec		 t0, t1;
	uint16_t		*ports;
	size_t			 i, n;

	(void)state;
	for (i = 0; i < 3; i++) {
		ports = random_ports(nseqs[i], &n);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(filter_compile(ports, n, nseqs[i],
		    FILTER_READ, &prog), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("# %zu sequences (%zu ports): %u instructions in "
		    "%.3f ms\n", nseqs[i], n, prog.bf_len,
		    (t1.tv_sec - t0.tv_sec) * 1e3 +
		    (t1.tv_nsec - t0.tv_nsec) / 1e6);
		pcap_freecode(&prog);
		free(ports);
	}
}

static void
ranges_cover_guards(void **state)
{
	static const uint16_t	 p[5] = { 100, 133, 200, 1, 65530 };
	struct filter_range	*r;
	size_t			 n;

	(void)state;
	/* all five end a sequence: the read filter has them all too */
	n = filter_ranges(p, 5, 5, FILTER_READ, &r);
	assert_int_equal(n, 4);
	assert_int_equal(r[0].lo, 1);
	assert_int_equal(r[0].hi, 1 + PKS_GUARD);
	assert_int_equal(r[1].lo, 100 - PKS_GUARD);
	assert_int_equal(r[1].hi, 133 + PKS_GUARD);	/* guards touch */
	assert_int_equal(r[2].lo, 200 - PKS_GUARD);
	assert_int_equal(r[2].hi, 200 + PKS_GUARD);
	assert_int_equal(r[3].lo, 65530 - PKS_GUARD);
	assert_int_equal(r[3].hi, 65535);
	/* the narrowest gap (150..183) closes first */
	assert_int_equal(filter_merge(r, n, 3), 3);
	assert_int_equal(r[1].lo, 100 - PKS_GUARD);
	assert_int_equal(r[1].hi, 200 + PKS_GUARD);
	assert_int_equal(r[2].lo, 65530 - PKS_GUARD);
	assert_int_equal(filter_merge(r, 3, 1), 1);
	assert_int_equal(r[0].lo, 1);
	assert_int_equal(r[0].hi, 65535);
	free(r);
	n = filter_ranges(p, 5, 5, FILTER_WAKE, &r);
	assert_int_equal(n, 5);
	assert_int_equal(r[0].lo, 1);
	assert_int_equal(r[0].hi, 1);
	assert_int_equal(r[4].lo, 65530);
	assert_int_equal(r[4].hi, 65530);
	free(r);
	/* the read filter does not depend on which ports end sequences */
	n = filter_ranges(p, 5, 2, FILTER_READ, &r);
	assert_int_equal(n, 4);
	assert_int_equal(r[1].lo, 100 - PKS_GUARD);
	assert_int_equal(r[1].hi, 133 + PKS_GUARD);
	free(r);
	n = filter_ranges(p, 5, 2, FILTER_WAKE, &r);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].lo, 100);
	assert_int_equal(r[1].hi, 133);
	free(r);
	assert_int_equal(filter_ranges(p, 0, 0, FILTER_READ, &r), 0);
	assert_null(r);
	assert_int_equal(filter_ranges(p, 0, 0, FILTER_WAKE, &r), 0);
	assert_null(r);
}

/*
 * filter_merge() closes the narrowest gaps, the leftmost of equal ones
 * first: checked against the plain way, sorting the gaps, on random
 * ranges with many equal gaps.
 */
static const struct filter_range	*ref_r;

static int
ref_cmp(const void *a, const void *b)
{
	size_t	 i = *(const size_t *)a, j = *(const size_t *)b;
	long	 gi = (long)ref_r[i + 1].lo - ref_r[i].hi;
	long	 gj = (long)ref_r[j + 1].lo - ref_r[j].hi;

	if (gi != gj)
		return (gi < gj ? -1 : 1);
	return (i < j ? -1 : i > j);
}

static void
merge_closes_narrowest_gaps(void **state)
{
	struct filter_range	 r[600], want[600];
	size_t			 gaps[600], n, t, i, out, round;
	uint8_t			 shut[600];
	long			 p;

	(void)state;
	srandom(7);
	for (round = 0; round < 200; round++) {
		n = 2 + random() % 500;
		for (p = 1, i = 0; i < n; i++) {
			r[i].lo = p + 2 + random() % 8;
			r[i].hi = r[i].lo + random() % 5;
			p = r[i].hi;
		}
		t = 1 + random() % n;
		ref_r = r;
		for (i = 0; i + 1 < n; i++)
			gaps[i] = i;
		qsort(gaps, n - 1, sizeof(gaps[0]), ref_cmp);
		memset(shut, 0, sizeof(shut));
		for (i = 0; i + t < n; i++)
			shut[gaps[i]] = 1;
		for (out = 0, i = 0; i < n; i++) {
			if (i > 0 && shut[i - 1])
				want[out - 1].hi = r[i].hi;
			else
				want[out++] = r[i];
		}
		assert_int_equal(filter_merge(r, n, t), out);
		assert_memory_equal(r, want, out * sizeof(r[0]));
	}
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
		cmocka_unit_test(every_port_is_exact),
		cmocka_unit_test(build_time),
		cmocka_unit_test(merge_closes_narrowest_gaps),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

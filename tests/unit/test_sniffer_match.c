/*
 * test_sniffer_match: the knock matcher of pks-sniffer, rule by rule.
 *
 * Time is simulated (milliseconds); packets are struct pkt, as parse.c
 * hands them over.  Sweeps feed every port, as if the kernel filter had
 * let everything through.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sniffer.h"
#define TESTRND_SEED	88172645463325252ULL
#include "testrnd.h"

#define T0		1000000		/* ms: any start will do */
#define TIMEOUT		10		/* knock-timeout, s */

static const uint8_t	 key[16] = "pks-test-key-16";

static struct match *
mk(uint32_t max)
{
	struct match	*m;

	m = match_new(max, TIMEOUT, key);
	assert_non_null(m);
	return (m);
}

static struct pks_seq
seq(uint32_t id, int proto, int len, const uint16_t *ports)
{
	struct pks_seq	 s;

	memset(&s, 0, sizeof(s));
	s.id = id;
	s.len = len;
	s.proto = proto;
	memcpy(s.ports, ports, len * sizeof(*ports));
	return (s);
}

static void
add(struct match *m, uint32_t id, int proto, int len, const uint16_t *ports)
{
	struct pks_seq	 s = seq(id, proto, len, ports);

	assert_int_equal(match_seq_add(m, &s), 0);
}

static struct pkt
v4(uint32_t addr, int proto, unsigned int port)
{
	struct pkt	 p;

	memset(&p, 0, sizeof(p));
	p.af = AF_INET;
	p.proto = proto;
	p.dport = port;
	p.src[0] = addr >> 24;
	p.src[1] = addr >> 16;
	p.src[2] = addr >> 8;
	p.src[3] = addr;
	return (p);
}

static struct pkt
v6(uint32_t low, int proto, unsigned int port)
{
	struct pkt	 p;

	p = v4(low, proto, port);
	p.af = AF_INET6;
	memmove(p.src + 12, p.src, 4);
	memset(p.src, 0, 12);
	p.src[0] = 0xfd;
	return (p);
}

/* the sequence id completed by this packet, or 0 */
static uint32_t
feed(struct match *m, struct pkt p, uint64_t now)
{
	struct pks_knock	 k;

	memset(&k, 0, sizeof(k));
	if (match_packet(m, &p, now, &k) == 0)
		return (0);
	assert_int_equal(k.af, p.af);
	assert_memory_equal(k.addr, p.src, 16);
	assert_int_not_equal(k.seq_id, 0);
	return (k.seq_id);
}

/* knock ports in order from one address, 100 ms apart */
static uint32_t
knock(struct match *m, uint32_t addr, int proto, int n, const uint16_t *ports,
    uint64_t *now)
{
	uint32_t	 id = 0;
	int		 i;

	for (i = 0; i < n; i++) {
		*now += 100;
		id = feed(m, v4(addr, proto, ports[i]), *now);
		if (i < n - 1)
			assert_int_equal(id, 0);
	}
	return (id);
}

#define A	0xc6120002	/* 198.18.0.2 */
#define B	0xc6120003	/* 198.18.0.3 */
#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP

static const uint16_t	 asc[3] = { 20000, 30000, 40000 };
static const uint16_t	 desc[3] = { 40500, 30500, 20500 };
static const uint16_t	 abc[3] = { 41233, 9120, 60111 };

static void
in_order_knock_completes(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 7);
	match_free(m);
}

static void
completed_sequence_is_reported_once(void **state)
{
	struct match	*m = mk(100);
	uint16_t	*ports;
	size_t		 nlast;
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 7);
	now += 3000;
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 0);
	assert_int_equal(knock(m, B, TCP, 3, abc, &now), 0);
	/* and it leaves the kernel filter at the next commit */
	assert_int_equal(match_ports(m, &ports, &nlast), 0);
	assert_int_equal(nlast, 0);
	free(ports);
	assert_int_equal(match_seq_del(m, 7), 0);
	assert_int_equal(match_nseqs(m), 0);
	match_free(m);
}

static void
duplicate_syn_passes(void **state)
{
	struct match	*m = mk(100);
	const uint16_t	 dup[6] = { 41233, 41233, 9120, 9120, 9120, 60111 };
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	assert_int_equal(knock(m, A, TCP, 6, dup, &now), 7);
	match_free(m);
}

static void
wrong_order_fails(void **state)
{
	struct match	*m = mk(100);
	const uint16_t	 o1[3] = { 41233, 60111, 9120 };
	const uint16_t	 o2[3] = { 9120, 41233, 60111 };
	const uint16_t	 o3[4] = { 41233, 9120, 41233, 60111 };
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	assert_int_equal(knock(m, A, TCP, 3, o1, &now), 0);
	now += 3000;
	assert_int_equal(knock(m, A, TCP, 3, o2, &now), 0);
	now += 3000;
	/* back to the first port restarts: this source must knock again */
	assert_int_equal(knock(m, A, TCP, 4, o3, &now), 0);
	now += 3000;
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 7);
	match_free(m);
}

static void
wrong_hit_resets_but_blocks_nothing(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;
	struct pkt	 p;

	(void)state;
	add(m, 7, TCP, 3, abc);
	match_set_range(m, 20000, 60000);
	/* any port of the knock range between two knocks resets ... */
	assert_int_equal(feed(m, v4(A, TCP, abc[0]), now += 10), 0);
	p = v4(A, TCP, 33333);
	assert_int_equal(match_progress(m, &p), 1);
	assert_int_equal(feed(m, p, now += 10), 0);
	assert_int_equal(match_progress(m, &p), 0);
	assert_int_equal(feed(m, v4(A, TCP, abc[1]), now += 10), 0);
	assert_int_equal(feed(m, v4(A, TCP, abc[2]), now += 10), 0);
	/* ... one outside it, or of the other protocol, does not */
	assert_int_equal(feed(m, v4(A, TCP, abc[0]), now += 10), 0);
	assert_int_equal(feed(m, v4(A, TCP, 19000), now += 10), 0);
	assert_int_equal(feed(m, v4(A, UDP, 33333), now += 10), 0);
	assert_int_equal(feed(m, v4(A, TCP, abc[1]), now += 10), 0);
	assert_int_equal(match_progress(m, &p), 2);
	/* a single wrong hit right before does not block the knock (M4) */
	assert_int_equal(feed(m, v4(A, TCP, 33333), now += 10), 0);
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 7);
	match_free(m);
}

static void
prefix_over_rate_starts_nothing(void **state)
{
	struct match	*m = mk(1000);
	unsigned long long wrong, limited;
	uint64_t	 now = T0;
	struct pkt	 p;
	int		 i;

	(void)state;
	add(m, 7, TCP, 3, abc);
	add(m, 8, UDP, 3, asc);
	match_set_range(m, 20000, 60000);
	/* a burst of wrong hits from many addresses of one /64 */
	for (i = 0; i <= SNIFF_WRONG_BURST + 1; i++) {
		p = v6(1000 + i, TCP, 30000 + i % 100);
		assert_int_equal(feed(m, p, now), 0);
	}
	/* every address of that /64 is refused, for that protocol only */
	for (i = 0; i < 3; i++)
		assert_int_equal(feed(m, v6(5000, TCP, abc[i]), now), 0);
	p = v6(5001, UDP, asc[0]);
	assert_int_equal(feed(m, p, now), 0);
	assert_int_equal(match_progress(m, &p), 1);
	/* another /64, or v4 with the same low bytes: not refused */
	p = v6(5002, TCP, abc[0]);
	p.src[7] = 1;
	assert_int_equal(feed(m, p, now), 0);
	assert_int_equal(match_progress(m, &p), 1);
	match_counters(m, &wrong, &limited);
	assert_true(wrong >= SNIFF_WRONG_BURST + 2);
	assert_true(limited >= 1);
	/* once the rate is back under the limit, the prefix may knock */
	now += (uint64_t)(SNIFF_WRONG_BURST + 2) * 1000 / SNIFF_WRONG_RATE;
	p = v6(5003, TCP, abc[0]);
	assert_int_equal(feed(m, p, now += 1), 0);
	assert_int_equal(match_progress(m, &p), 1);
	match_counters(m, &wrong, &limited);
	assert_true(wrong == 0 && limited == 0);
	match_free(m);
}

static void
protocol_must_match(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, UDP, 3, abc);
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 0);
	now += 3000;
	assert_int_equal(knock(m, A, UDP, 3, abc, &now), 7);
	match_free(m);
}


enum order { ASCENDING, DESCENDING, RANDOM };

/*
 * Feed ports 1..65535 in that order from one source, step ms apart,
 * each rep times; returns how many sequences completed.
 */
static int
sweep(struct match *m, enum order o, uint64_t step, int rep, int proto)
{
	static uint16_t	 ports[65535];
	static uint64_t	 now = T0;	/* time goes on from sweep to sweep */
	int		 i, j, done = 0;
	uint16_t	 t;

	for (i = 0; i < 65535; i++)
		ports[i] = o == DESCENDING ? 65535 - i : i + 1;
	if (o == RANDOM)
		for (i = 65534; i > 0; i--) {
			j = rnd() % (i + 1);
			t = ports[i];
			ports[i] = ports[j];
			ports[j] = t;
		}
	for (i = 0; i < 65535; i++)
		for (j = 0; j < rep; j++) {
			now += step;
			if (feed(m, v4(B, proto, ports[i]), now) != 0)
				done++;
			if (i % 1000 == 0)
				match_expire(m, now);
		}
	return (done);
}

static void
sweeps(struct match *m)
{
	enum order	 o;

	for (o = ASCENDING; o <= RANDOM; o++) {
		/* fast, with retransmits, and slower than the rate */
		assert_int_equal(sweep(m, o, 1, 1, TCP), 0);
		assert_int_equal(sweep(m, o, 1, 3, TCP), 0);
		assert_int_equal(sweep(m, o, 1000 / SNIFF_WRONG_RATE + 1, 1,
		    TCP), 0);
	}
}

static void
sweep_never_completes(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 1, TCP, 3, asc);
	add(m, 2, TCP, 3, desc);
	sweeps(m);
	/* the sequences are still good for their owner */
	now += 100000;
	assert_int_equal(knock(m, A, TCP, 3, asc, &now), 1);
	assert_int_equal(knock(m, A, TCP, 3, desc, &now), 2);
	match_free(m);
}

static void
sweep_never_completes_many_sequences(void **state)
{
	struct match	*m = mk(100);
	uint16_t	 p[PKS_SEQ_MAX];
	uint32_t	 id;
	int		 i, len;
	struct pks_seq	 s;

	(void)state;
	add(m, 1, TCP, 3, asc);
	add(m, 2, TCP, 3, desc);
	for (id = 3; id < 200; id++) {
		len = PKS_SEQ_MIN + rnd() % 3;
		do {
			for (i = 0; i < len; i++)
				p[i] = 20000 + rnd() % 40001;
			s = seq(id, TCP, len, p);
		} while (match_seq_check(&s) != NULL);
		assert_int_equal(match_seq_add(m, &s), 0);
	}
	sweeps(m);
	match_free(m);
}

static void
adjacent_ports_are_refused(void **state)
{
	const uint16_t	 up[3] = { 30000, 30001, 30002 };
	const uint16_t	 near[3] = { 30000, 30000 + 2 * PKS_GUARD + 1, 40000 };
	const uint16_t	 far[3] = { 30000, 30000 + 2 * PKS_GUARD + 2, 40000 };
	struct pks_seq	 s;

	(void)state;
	/* a sweep over these would be the sequence itself: the monitor
	 * never draws ports within each other's guards, and the sniffer
	 * takes no such sequence */
	s = seq(1, TCP, 3, up);
	assert_non_null(match_seq_check(&s));
	s = seq(1, TCP, 3, near);
	assert_non_null(match_seq_check(&s));
	s = seq(1, TCP, 3, far);
	assert_null(match_seq_check(&s));
}

static void
two_sources_interleaved_both_complete(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;
	int		 i;

	(void)state;
	add(m, 7, TCP, 3, abc);
	add(m, 8, TCP, 3, asc);
	for (i = 0; i < 2; i++) {
		assert_int_equal(feed(m, v4(A, TCP, abc[i]), now += 10), 0);
		assert_int_equal(feed(m, v6(B, TCP, asc[i]), now += 10), 0);
		assert_int_equal(feed(m, v4(B, TCP, abc[i]), now += 10), 0);
	}
	assert_int_equal(feed(m, v6(B, TCP, asc[2]), now += 10), 8);
	assert_int_equal(feed(m, v4(A, TCP, abc[2]), now += 10), 7);
	assert_int_equal(feed(m, v4(B, TCP, abc[2]), now += 10), 0);
	match_free(m);
}

static void
other_source_does_not_interfere(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;
	struct pkt	 p;
	int		 i, j;

	(void)state;
	add(m, 7, TCP, 3, abc);
	for (i = 0; i < 3; i++) {
		/* B hits guards, wrong and right ports; so does a v6
		 * address ending in A's four bytes */
		for (j = -PKS_GUARD; j <= PKS_GUARD; j++) {
			assert_int_equal(feed(m, v4(B, TCP, abc[i] + j),
			    now += 1), 0);
			p = v6(A, TCP, abc[(i + 1) % 3] + j);
			assert_int_equal(feed(m, p, now += 1), 0);
		}
		assert_int_equal(feed(m, v4(A, TCP, abc[i]), now += 1),
		    i == 2 ? 7 : 0);
	}
	match_free(m);
}

static void
inter_knock_timeout(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	assert_int_equal(feed(m, v4(A, TCP, abc[0]), now), 0);
	assert_int_equal(feed(m, v4(A, TCP, abc[1]), now += 1000), 0);
	now += TIMEOUT * 1000 + 1;
	assert_int_equal(feed(m, v4(A, TCP, abc[2]), now), 0);

	/* exactly the timeout is still in time */
	now += 10000;
	assert_int_equal(feed(m, v4(A, TCP, abc[0]), now), 0);
	assert_int_equal(feed(m, v4(A, TCP, abc[1]), now += TIMEOUT * 1000),
	    0);
	assert_int_equal(feed(m, v4(A, TCP, abc[2]), now += TIMEOUT * 1000),
	    7);
	match_free(m);
}

static void
idle_sources_expire(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	assert_int_equal(feed(m, v4(A, TCP, abc[0]), now), 0);
	assert_int_equal(feed(m, v4(B, TCP, abc[0] + 1), now + 5000), 0);
	assert_int_equal(match_nsources(m), 2);
	match_expire(m, now + TIMEOUT * 1000);
	assert_int_equal(match_nsources(m), 2);
	match_expire(m, now + TIMEOUT * 1000 + 1);
	assert_int_equal(match_nsources(m), 1);
	/* A is gone: its second knock starts nothing */
	assert_int_equal(feed(m, v4(A, TCP, abc[1]), now + 10500), 0);
	match_expire(m, now + 100000);
	assert_int_equal(match_nsources(m), 0);
	match_free(m);
}

static void
bound_address_is_enforced(void **state)
{
	struct match	*m = mk(100);
	struct pks_seq	 s;
	uint64_t	 now = T0;
	struct pkt	 p;
	int		 i;

	(void)state;
	s = seq(7, TCP, 3, abc);
	s.bound_af = AF_INET;
	memcpy(s.bound_addr, "\xc6\x12\x00\x02", 4);
	assert_int_equal(match_seq_add(m, &s), 0);
	assert_int_equal(knock(m, B, TCP, 3, abc, &now), 0);
	/* same four bytes, other family */
	for (i = 0; i < 3; i++) {
		p = v4(A, TCP, abc[i]);
		p.af = AF_INET6;
		assert_int_equal(feed(m, p, now += 100), 0);
	}
	now += 3000;
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 7);

	s = seq(8, TCP, 3, asc);
	s.bound_af = AF_INET6;
	p = v6(A, TCP, 0);
	memcpy(s.bound_addr, p.src, 16);
	assert_int_equal(match_seq_add(m, &s), 0);
	assert_int_equal(knock(m, A, TCP, 3, asc, &now), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(feed(m, v6(B, TCP, asc[i]), now += 100), 0);
	now += 3000;
	for (i = 0; i < 3; i++)
		assert_int_equal(feed(m, v6(A, TCP, asc[i]), now += 100),
		    i == 2 ? 8 : 0);
	match_free(m);
}

static void
spoofed_flood_stays_at_cap(void **state)
{
	struct match	*m = mk(1000);
	uint64_t	 now = T0;
	uint32_t	 i;

	(void)state;
	add(m, 7, TCP, 3, abc);
	for (i = 0; i < 1000000; i++) {
		if (i % 2)
			feed(m, v4(0x0a000000 + i, TCP, abc[i % 3] + 1), now);
		else
			feed(m, v6(i, TCP, abc[i % 3]), now);
		assert_true(match_nsources(m) <= 1000);
		if (i % 1000 == 0)
			match_expire(m, now++);
	}
	assert_int_equal(match_nsources(m), 1000);
	/* a real knock still gets through during the flood */
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 7);
	match_expire(m, now + 100000);
	assert_int_equal(match_nsources(m), 0);
	match_free(m);
}

/* this process's resident memory, kB */
static long
rss_kb(void)
{
	char	 line[128];
	FILE	*f;
	long	 kb = -1;

	assert_non_null(f = fopen("/proc/self/status", "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb > 0);
	return (kb);
}

/* the cap bounds memory; entries cost memory only once used */
static void
source_table_grows_on_use(void **state)
{
	struct match	*m;
	uint64_t	 now = T0;
	long		 kb0, kb1, kb2;
	uint32_t	 i;

	(void)state;
	/* not measurable where the sanitizer's shadow memory counts too,
	 * or under valgrind, whose calloc() writes every byte (cmocka's
	 * skip() would print "not ok # SKIP", a failure to prove(1)) */
#ifdef PKS_SANITIZE
	print_message("# sanitizer build: resident memory not measured\n");
	return;
#endif
	if (getenv("PKS_VALGRIND") != NULL) {
		print_message("# valgrind: resident memory not measured\n");
		return;
	}
	kb0 = rss_kb();
	m = mk(SNIFF_SOURCES_MAX);
	kb1 = rss_kb();
	add(m, 7, TCP, 3, abc);
	/* 100,000 sources: guard hits, each an entry */
	for (i = 0; i < 100000; i++)
		feed(m, v4(0x0a000000 + i, TCP, abc[i % 3] + 1), now);
	assert_int_equal(match_nsources(m), 100000);
	kb2 = rss_kb();
	print_message("# table for %u sources: %ld kB at start, %ld kB "
	    "after 100000 sources\n", SNIFF_SOURCES_MAX, kb1 - kb0, kb2 - kb0);
	/* a whole table would be over 100 MB; a tenth of it is used */
	assert_true(kb1 - kb0 < 4096);
	assert_true(kb2 - kb1 > 8192);
	/* freed entries are used again before new ones */
	match_expire(m, now + 100000);
	assert_int_equal(match_nsources(m), 0);
	for (i = 0; i < 100000; i++)
		feed(m, v4(0x0b000000 + i, TCP, abc[i % 3] + 1), now + 200000);
	assert_true(rss_kb() - kb2 < 2048);
	now += 300000;
	assert_int_equal(knock(m, A, TCP, 3, abc, &now), 7);
	match_free(m);
}

static void
lru_evicts_the_oldest(void **state)
{
	struct match	*m;
	uint64_t	 now = T0;
	uint32_t	 cap;

	(void)state;
	for (cap = 3; cap <= 4; cap++) {
		m = mk(cap);
		add(m, 7, TCP, 3, abc);
		add(m, 8, TCP, 3, asc);
		feed(m, v4(A, TCP, abc[0]), now += 10);
		feed(m, v4(B, TCP, asc[0]), now += 10);
		feed(m, v4(A, TCP, abc[1]), now += 10);	/* A is recent */
		feed(m, v4(1, TCP, abc[0] + 5), now += 10);
		feed(m, v4(2, TCP, abc[0] + 5), now += 10); /* B goes at 3 */
		assert_int_equal(match_nsources(m), cap);
		assert_int_equal(feed(m, v4(A, TCP, abc[2]), now += 10), 7);
		feed(m, v4(B, TCP, asc[1]), now += 10);
		assert_int_equal(feed(m, v4(B, TCP, asc[2]), now += 10),
		    cap == 3 ? 0 : 8);
		match_free(m);
	}
}

/*
 * With thousands live, several sequences share a first port (10,000 in
 * 40,000 ports: a fifth of the ports start more than one).  A knock of
 * any of them completes, however many share it: more than SNIFF_CANDS
 * here, the newest (the one just issued) first in the port's list.
 */
static void
shared_first_port_every_one_completes(void **state)
{
	struct match	*m = mk(100);
	uint16_t	 p[3];
	uint64_t	 now = T0;
	uint32_t	 id, n = 3 * SNIFF_CANDS;

	(void)state;
	for (id = 1; id <= n; id++) {
		p[0] = 30000;
		p[1] = 20000 + 100 * id;
		p[2] = 40000 + 100 * id;
		add(m, id, TCP, 3, p);
	}
	for (id = n; id >= 1; id--) {
		p[1] = 20000 + 100 * id;
		p[2] = 40000 + 100 * id;
		assert_int_equal(knock(m, A + id, TCP, 3, p, &now), id);
	}
	/* and two sharing two ports: the third tells them apart */
	p[1] = 25000;
	p[2] = 50000;
	add(m, 101, TCP, 3, p);
	p[2] = 51000;
	add(m, 102, TCP, 3, p);
	assert_int_equal(knock(m, B, TCP, 3, p, &now), 102);
	p[2] = 50000;
	assert_int_equal(knock(m, B, TCP, 3, p, &now), 101);
	/* a wrong port still resets the knock, whichever it held */
	match_set_range(m, 20000, 60000);
	add(m, 103, TCP, 3, p);
	p[2] = 51000;
	add(m, 104, TCP, 3, p);
	assert_int_equal(feed(m, v4(B, TCP, 30000), now += 100), 0);
	assert_int_equal(feed(m, v4(B, TCP, 33333), now += 100), 0);
	assert_int_equal(feed(m, v4(B, TCP, 25000), now += 100), 0);
	assert_int_equal(feed(m, v4(B, TCP, 51000), now += 100), 0);
	match_free(m);
}

/*
 * The sequence a knock in progress was held as is used from another
 * address, or revoked: another live one its knocked ports begin takes
 * over.  One bound to another address never does.
 */
static void
shared_prefix_outlives_its_mate(void **state)
{
	struct match	*m = mk(100);
	const uint16_t	 a[3] = { 30000, 20000, 40000 };
	const uint16_t	 b[3] = { 30000, 21000, 41000 };
	const uint16_t	 c[3] = { 30000, 22000, 42000 };
	struct pks_seq	 bound;
	uint64_t	 now = T0;

	(void)state;
	add(m, 1, TCP, 3, a);
	add(m, 2, TCP, 3, b);
	add(m, 3, TCP, 3, c);
	/* B starts; A uses 3, then 3 is deleted; B goes on with 2 */
	assert_int_equal(feed(m, v4(B, TCP, 30000), now += 100), 0);
	assert_int_equal(knock(m, A, TCP, 3, c, &now), 3);
	assert_int_equal(match_seq_del(m, 3), 0);
	assert_int_equal(feed(m, v4(B, TCP, b[1]), now += 100), 0);
	assert_int_equal(match_seq_del(m, 1), 0);
	assert_int_equal(feed(m, v4(B, TCP, b[2]), now += 100), 2);
	assert_int_equal(match_seq_del(m, 2), 0);
	/* bound to A: B's knock of its ports never takes it over */
	add(m, 4, TCP, 3, a);
	bound = seq(5, TCP, 3, b);
	bound.bound_af = AF_INET;
	memcpy(bound.bound_addr, "\xc6\x12\x00\x02", 4);
	assert_int_equal(match_seq_add(m, &bound), 0);
	assert_int_equal(feed(m, v4(B, TCP, 30000), now += 100), 0);
	assert_int_equal(match_seq_del(m, 4), 0);
	assert_int_equal(feed(m, v4(B, TCP, b[1]), now += 100), 0);
	assert_int_equal(feed(m, v4(B, TCP, b[2]), now += 100), 0);
	now += 3000;
	assert_int_equal(knock(m, A, TCP, 3, b, &now), 5);
	match_free(m);
}

static void
deleted_sequence_stops_matching(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	assert_int_equal(feed(m, v4(A, TCP, abc[0]), now += 10), 0);
	assert_int_equal(feed(m, v4(A, TCP, abc[1]), now += 10), 0);
	assert_int_equal(match_seq_del(m, 7), 0);
	/* the same id and ports again: a knock in progress is void */
	add(m, 7, TCP, 3, abc);
	assert_int_equal(feed(m, v4(A, TCP, abc[2]), now += 10), 0);
	match_free(m);
}

static void
unknown_ports_are_ignored(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	/* ports the kernel filter keeps out, when a widened filter lets
	 * them in, neither reset a knock nor cost a source entry */
	assert_int_equal(feed(m, v4(A, TCP, abc[0]), now += 10), 0);
	assert_int_equal(feed(m, v4(A, TCP, 22), now += 10), 0);
	assert_int_equal(feed(m, v4(B, TCP, 22), now += 10), 0);
	assert_int_equal(match_nsources(m), 1);
	assert_int_equal(feed(m, v4(A, TCP, abc[1]), now += 10), 0);
	assert_int_equal(feed(m, v4(A, TCP, abc[2]), now += 10), 7);
	match_free(m);
}

static void
sequences_are_validated(void **state)
{
	struct match	*m = mk(100);
	struct pks_seq	 s, bad;
	uint16_t	*ports;
	size_t		 n, nlast;

	(void)state;
	s = seq(7, TCP, 3, abc);
	assert_null(match_seq_check(&s));
	bad = s; bad.id = 0;
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.len = PKS_SEQ_MIN - 1;
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.len = PKS_SEQ_MAX + 1;
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.proto = IPPROTO_ICMP;
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.bound_af = AF_UNIX;
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.ports[1] = 0;
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.ports[2] = bad.ports[0];
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.len = 4;		/* the fourth port is 0 */
	assert_non_null(match_seq_check(&bad));
	bad = s; bad.id = 0;
	assert_int_equal(match_seq_add(m, &bad), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(match_nseqs(m), 0);

	assert_int_equal(match_seq_add(m, &s), 0);
	s.ports[0] = 1;
	assert_int_equal(match_seq_add(m, &s), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(match_seq_del(m, 8), -1);
	assert_int_equal(match_seq_del(m, 0), -1);
	n = match_ports(m, &ports, &nlast);
	assert_int_equal(n, 3);
	/* the last port first: it has its own kernel filter */
	assert_int_equal(nlast, 1);
	assert_int_equal(ports[0], abc[2]);
	assert_int_equal(ports[1], abc[0]);
	assert_int_equal(ports[2], abc[1]);
	free(ports);
	assert_int_equal(match_seq_del(m, 7), 0);
	assert_int_equal(match_seq_del(m, 7), -1);
	match_free(m);

	assert_null(match_new(0, TIMEOUT, key));
	assert_null(match_new(SNIFF_SOURCES_MAX + 1, TIMEOUT, key));
	assert_null(match_new(100, 0, key));
	assert_null(match_new(100, SNIFF_TIMEOUT_MAX + 1, key));
}

static void
many_sequences_add_and_delete(void **state)
{
	struct match	*m = mk(100);
	uint16_t	 p[3];
	uint64_t	 now = T0;
	uint32_t	 id;

	(void)state;
	for (id = 1; id <= 5000; id++) {
		p[0] = 20000 + id;
		p[1] = 30000 + id;
		p[2] = 50000 + id;
		add(m, id, id % 2 ? TCP : UDP, 3, p);
	}
	for (id = 1; id <= 5000; id += 2)
		assert_int_equal(match_seq_del(m, id), 0);
	assert_int_equal(match_nseqs(m), 2500);
	p[0] = 20000 + 4000;
	p[1] = 30000 + 4000;
	p[2] = 50000 + 4000;
	assert_int_equal(knock(m, A, UDP, 3, p, &now), 4000);
	p[0] = 20000 + 3999;
	p[1] = 30000 + 3999;
	p[2] = 50000 + 3999;
	now += 3000;
	assert_int_equal(knock(m, A, TCP, 3, p, &now), 0);
	match_free(m);
}

/* the kernel's word (range.c), faked: the last drop of any prefix */
static uint64_t		 drop_kns;
static uint64_t		 drop_since;
static int		 drop_refusals;

static int
fake_dropped(const struct pkt *p, uint64_t since)
{
	(void)p;
	drop_since = since;
	return (drop_kns != 0 && drop_kns >= since);
}

static void
count_refusal(const struct pkt *p, enum match_refusal why, uint32_t id,
    unsigned int step)
{
	(void)p;
	(void)id;
	if (why == REFUSE_DROPPED && step == 1)
		drop_refusals++;
}

/* the sequence id completed by this packet, or 0; kns: the kernel's */
static uint32_t
at(struct match *m, struct pkt p, uint64_t now, uint64_t kns)
{
	struct pks_knock	 k;

	if (match_packet_at(m, &p, now, kns, &k) == 0)
		return (0);
	return (k.seq_id);
}

/* a packet dropped in the kernel after a candidate's last step resets
 * it at its next; one dropped before it does not */
static void
kernel_drop_resets_the_next_step(void **state)
{
	struct match	*m = mk(100);
	uint64_t	 now = T0;

	(void)state;
	add(m, 7, TCP, 3, abc);
	match_on_drop(m, fake_dropped);
	match_on_refusal(m, count_refusal);
	drop_kns = 0;
	drop_refusals = 0;
	assert_int_equal(at(m, v4(A, TCP, abc[0]), now += 100, 1000), 0);
	drop_kns = 1500;
	assert_int_equal(at(m, v4(A, TCP, abc[1]), now += 100, 2000), 0);
	assert_int_equal(drop_since, 1000);
	assert_int_equal(drop_refusals, 1);
	assert_int_equal(at(m, v4(A, TCP, abc[2]), now += 100, 2100), 0);
	/* from the start again, after that drop: it completes */
	assert_int_equal(at(m, v4(A, TCP, abc[0]), now += 100, 3000), 0);
	assert_int_equal(at(m, v4(A, TCP, abc[1]), now += 100, 3100), 0);
	assert_int_equal(drop_since, 3000);
	assert_int_equal(at(m, v4(A, TCP, abc[2]), now += 100, 3200), 7);
	assert_int_equal(drop_since, 3100);
	assert_int_equal(drop_refusals, 1);
	match_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order_knock_completes),
		cmocka_unit_test(completed_sequence_is_reported_once),
		cmocka_unit_test(duplicate_syn_passes),
		cmocka_unit_test(wrong_order_fails),
		cmocka_unit_test(wrong_hit_resets_but_blocks_nothing),
		cmocka_unit_test(prefix_over_rate_starts_nothing),
		cmocka_unit_test(protocol_must_match),
		cmocka_unit_test(sweep_never_completes),
		cmocka_unit_test(sweep_never_completes_many_sequences),
		cmocka_unit_test(adjacent_ports_are_refused),
		cmocka_unit_test(two_sources_interleaved_both_complete),
		cmocka_unit_test(other_source_does_not_interfere),
		cmocka_unit_test(inter_knock_timeout),
		cmocka_unit_test(idle_sources_expire),
		cmocka_unit_test(bound_address_is_enforced),
		cmocka_unit_test(spoofed_flood_stays_at_cap),
		cmocka_unit_test(lru_evicts_the_oldest),
		cmocka_unit_test(source_table_grows_on_use),
		cmocka_unit_test(shared_first_port_every_one_completes),
		cmocka_unit_test(shared_prefix_outlives_its_mate),
		cmocka_unit_test(deleted_sequence_stops_matching),
		cmocka_unit_test(unknown_ports_are_ignored),
		cmocka_unit_test(sequences_are_validated),
		cmocka_unit_test(many_sequences_add_and_delete),
		cmocka_unit_test(kernel_drop_resets_the_next_step),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_sniffer_stamp: a capture's wall-clock stamps turned into the
 * kernel's monotonic time (stamp.c), across steps of the wall clock
 * (issue 13, review F3).
 *
 * The readings below are what the sniffer would take (monotonic, then
 * wall clock) on a host whose wall clock is stepped between a frame's
 * stamp and its read.  A frame's time may come out earlier than it was,
 * never later: later, a wrong hit the kernel recorded just after the
 * step would be taken for one before the knock (range_dropped()), and
 * the knock would go on.  The knock scenario runs through the real
 * match.c.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sniffer.h"

#define MS		1000000LL		/* ns */
#define S		(1000 * MS)
#define M0		(100 * S)		/* monotonic at the start */
#define OFF		(1700000000LL * S)	/* wall - monotonic */

static const uint8_t	 key[16] = "pks-test-key-16";
static const uint16_t	 ports[3] = { 41233, 29120, 50111 };
static uint64_t		 drop_at;	/* the kernel's record, 0: none */

/* a reading at monotonic m, the wall clock off ahead of it */
static void
rd(struct stamp_clock *c, int64_t m, int64_t off)
{
	stamp_read(c, (uint64_t)m, m + off);
}

/* a frame captured at monotonic t, its stamp taken with offset off */
static uint64_t
kns(const struct stamp_clock *c, int64_t t, int64_t off)
{
	return (stamp_mono(c, t + off));
}

static int
dropped(const struct pkt *p, uint64_t since)
{
	(void)p;
	return (drop_at != 0 && drop_at >= since);
}

static struct pkt
syn(unsigned int port)
{
	struct pkt	 p;

	memset(&p, 0, sizeof(p));
	p.af = AF_INET;
	p.proto = IPPROTO_TCP;
	p.dport = port;
	p.src[0] = 198;
	p.src[1] = 18;
	p.src[3] = 9;
	return (p);
}

/* a knock: p1 stamped before a backward step of the wall clock, read
 * after it; a wrong hit dropped in the kernel after p1; p2, p3.  It
 * must not complete. */
static void
step_back_between_stamp_and_read(void **state)
{
	struct stamp_clock	 c;
	struct pks_knock	 k;
	struct match		*m;
	struct pkt		 p;
	uint64_t		 k1, k2, k3;
	int			 done;

	(void)state;
	memset(&c, 0, sizeof(c));
	m = match_new(100, 10, key);
	assert_non_null(m);
	{
		struct pks_seq	 s;

		memset(&s, 0, sizeof(s));
		s.id = 7;
		s.len = 3;
		s.proto = IPPROTO_TCP;
		memcpy(s.ports, ports, sizeof(ports));
		assert_int_equal(match_seq_add(m, &s), 0);
	}
	match_on_drop(m, dropped);

	rd(&c, M0, OFF);
	/* p1 at M0 + 10 ms; the clock goes back 30 ms at M0 + 20 ms (less
	 * than p1's age when read); the wrong hit is dropped in the kernel
	 * at M0 + 30 ms; p2 and p3 at M0 + 60 and 70 ms; all read at
	 * M0 + 100 ms, in capture order */
	rd(&c, M0 + 100 * MS, OFF - 30 * MS);
	drop_at = M0 + 30 * MS;
	k1 = kns(&c, M0 + 10 * MS, OFF);
	k2 = kns(&c, M0 + 60 * MS, OFF - 30 * MS);
	k3 = kns(&c, M0 + 70 * MS, OFF - 30 * MS);
	p = syn(ports[0]);
	done = match_packet_at(m, &p, k1 != 0 ? k1 / MS : 100, k1, &k);
	p = syn(ports[1]);
	done |= match_packet_at(m, &p, k2 != 0 ? k2 / MS : 100, k2, &k);
	p = syn(ports[2]);
	done |= match_packet_at(m, &p, k3 != 0 ? k3 / MS : 100, k3, &k);
	assert_int_equal(done, 0);
	/* earlier than it was, never later */
	assert_true(k1 <= (uint64_t)(M0 + 10 * MS));
	assert_true(k2 <= (uint64_t)(M0 + 60 * MS));
	match_free(m);
}

/* without a step, a frame's time is its own (a wrong hit before a
 * knock does not reset it), and so it is again once the hold is over */
static void
steady_clock_is_exact(void **state)
{
	struct stamp_clock	 c;
	uint64_t		 t;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(stamp_mono(&c, OFF + M0), 0);	/* no reading */
	rd(&c, M0, OFF);
	rd(&c, M0 + 10 * MS, OFF + 3000);	/* a reading 3 us late */
	assert_int_equal(kns(&c, M0 + 5 * MS, OFF), M0 + 5 * MS);
	/* a step back of 2 s: frames after it come out 2 s early for
	 * the hold, then exact */
	rd(&c, M0 + 20 * MS, OFF - 2 * S);
	assert_int_equal(c.steps, 1);
	assert_true(c.back >= 2 * S);
	t = kns(&c, M0 + 15 * MS, OFF - 2 * S);
	assert_true(t == 0 || t <= (uint64_t)(M0 + 15 * MS - 2 * S));
	rd(&c, M0 + 20 * MS + (int64_t)STAMP_HOLD_NS, OFF - 2 * S);
	t = M0 + 19 * MS + STAMP_HOLD_NS;
	assert_int_equal(kns(&c, (int64_t)t, OFF - 2 * S), t);
}

/* a step forward: frames stamped before it come out earlier (safe);
 * the future and the too old have no time */
static void
step_forward_and_bounds(void **state)
{
	struct stamp_clock	 c;
	uint64_t		 t;

	(void)state;
	memset(&c, 0, sizeof(c));
	rd(&c, M0, OFF);
	rd(&c, M0 + 50 * MS, OFF + 60 * S);
	assert_int_equal(c.steps, 0);
	t = kns(&c, M0 + 10 * MS, OFF);
	assert_true(t == 0 || t <= (uint64_t)(M0 + 10 * MS));
	assert_int_equal(kns(&c, M0 + 40 * MS, OFF + 60 * S), M0 + 40 * MS);
	/* later than the read: the read's time; older than
	 * STAMP_AGE_MAX_NS: 0 */
	assert_int_equal(kns(&c, M0 + 60 * MS, OFF + 60 * S), M0 + 50 * MS);
	assert_int_equal(kns(&c, M0 + 49 * MS - (int64_t)STAMP_AGE_MAX_NS,
	    OFF + 60 * S), 0);
	/* a big step back: within the hold, a frame stamped before it
	 * keeps its time, one after it has none */
	rd(&c, M0 + 60 * MS, OFF - 3600 * S);
	assert_int_equal(c.steps, 1);
	assert_int_equal(kns(&c, M0 + 55 * MS, OFF + 60 * S), M0 + 55 * MS);
	assert_int_equal(kns(&c, M0 + 58 * MS, OFF - 3600 * S), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(step_back_between_stamp_and_read),
		cmocka_unit_test(steady_clock_is_exact),
		cmocka_unit_test(step_forward_and_bounds),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

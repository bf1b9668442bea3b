/*
 * test_common_ebpf: the range filter's eBPF program (common/ebpf.c),
 * run by the kernel on made-up packets (BPF_PROG_TEST_RUN), with its
 * map mmap()ed as pks-sniffer maps it.  Skipped where the kernel refuses
 * bpf(2).
 *
 * A wrong hit from a prefix with a knock in progress is passed to the
 * range capture; if that ring is full the sniffer never sees it, so the
 * program must record it in the bucket (the sniffer checks the record
 * before the knock's next step) whether it drops it or not.
 *
 * The range capture is the sniffer's only read capture where the
 * program is attached: it passes the live ports and guards, those
 * outside the knock range too, unless their prefix is over the
 * wrong-hit rate (what match.c would refuse or count as a wrong hit):
 * then they are dropped, recorded and counted.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>

#include <linux/bpf.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebpf.h"

#define LO		20000
#define HI		60000
#define LIVE		30001
#define EDGE		(HI + 3)	/* a guard outside the knock range */
#define PASS		256	/* a pass: the snap length */
#define SOURCES		16384	/* max-sources, as make bench has it */

static int			 mapfd = -1, progfd = -1, wakefd = -1;
static uint32_t			 nb;	/* the map's buckets */
static struct ebpf_shared	*sh;
static const uint8_t		 src[16] = { 198, 18, 0, 7 };	/* as struct pkt */

static int
setup(void **state)
{
	char	 why[256];

	(void)state;
	/* fewer buckets than the most: the program's mask and C's agree */
	nb = ebpf_buckets(SOURCES);
	if (ebpf_make(nb, &mapfd, &progfd, &wakefd, why, sizeof(why)) == -1) {
		print_message("skipped: %s\n", why);
		return 0;
	}
	sh = mmap(NULL, ebpf_size(nb), PROT_READ | PROT_WRITE, MAP_SHARED,
	    mapfd, 0);
	assert_true(sh != MAP_FAILED);
	sh->window = 11000000000ULL;
	sh->ports[LIVE / 64] |= 1ULL << (LIVE % 64);
	sh->ports[EDGE / 64] |= 1ULL << (EDGE % 64);
	sh->range = LO | (uint32_t)HI << 16;
	return 0;
}

static uint64_t
mono_ns(void)
{
	struct timespec	 ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* a program's verdict on a TCP SYN from src to port */
static uint32_t
run_prog(int fd, uint16_t port)
{
	uint8_t		 f[14 + 20 + 20], out[sizeof(f)];
	union bpf_attr	 a;

	memset(f, 0, sizeof(f));
	f[12] = 0x08;		/* Ethernet, IPv4 */
	f[14] = 0x45;
	f[14 + 2] = sizeof(f) - 14;
	f[14 + 8] = 64;
	f[14 + 9] = IPPROTO_TCP;
	memcpy(f + 14 + 12, src, 4);
	f[14 + 16] = 198;
	f[14 + 17] = 18;
	f[14 + 19] = 1;
	f[34] = 0x9c;		/* source port 40000 */
	f[35] = 0x40;
	f[36] = port >> 8;
	f[37] = port & 0xff;
	f[34 + 12] = 5 << 4;
	f[34 + 13] = 0x02;	/* SYN */
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = fd;
	a.test.data_in = (uintptr_t)f;
	a.test.data_size_in = sizeof(f);
	/* not needed by the kernel; valgrind checks it */
	a.test.data_out = (uintptr_t)out;
	a.test.data_size_out = sizeof(out);
	assert_int_equal(syscall(__NR_bpf, BPF_PROG_TEST_RUN, &a, sizeof(a)),
	    0);
	return a.test.retval;
}

/* the range program's */
static uint32_t
run(uint16_t port)
{
	return run_prog(progfd, port);
}

static void
wrong_hits_are_recorded_passed_or_dropped(void **state)
{
	struct ebpf_bucket	*b;
	uint64_t		 t0;

	(void)state;
	if (sh == NULL)
		skip();
	b = &sh->b[ebpf_bucket(sh->key, nb, AF_INET, src, IPPROTO_TCP)];
	/* no knock in progress: a wrong hit is dropped, and recorded */
	t0 = mono_ns();
	assert_int_equal(run(30000), 0);
	assert_true(b->dropped >= t0);
	assert_int_equal(b->touch, 0);
	/* a live port: passed, a touch, no wrong hit */
	b->dropped = 0;
	t0 = mono_ns();
	assert_int_equal(run(LIVE), PASS);
	assert_true(b->touch >= t0);
	assert_int_equal(b->dropped, 0);
	/* touched: the next wrong hit is passed to the sniffer, and still
	 * recorded as passed (its ring may be full and lose it) */
	t0 = mono_ns();
	assert_int_equal(run(30000), PASS);
	assert_true(b->passed >= t0);
	assert_int_equal(b->dropped, 0);
	/* outside the range: dropped, nothing recorded */
	b->passed = 0;
	assert_int_equal(run(LO - 1), 0);
	assert_int_equal(run(HI + 1), 0);
	assert_int_equal(b->dropped, 0);
	assert_int_equal(b->passed, 0);
}

/* src's bucket, cleared */
static struct ebpf_bucket *
fresh_bucket(void)
{
	struct ebpf_bucket	*b;

	if (sh == NULL)
		skip();
	b = &sh->b[ebpf_bucket(sh->key, nb, AF_INET, src, IPPROTO_TCP)];
	memset(b, 0, sizeof(*b));
	return b;
}

static void
live_ports_pass_outside_the_range_too(void **state)
{
	struct ebpf_bucket	*b = fresh_bucket();

	(void)state;
	assert_int_equal(run(EDGE), PASS);
	assert_true(b->touch != 0);
	assert_int_equal(b->dropped, 0);
	/* its neighbour, neither live nor in the range: nothing */
	assert_int_equal(run(EDGE + 1), 0);
	assert_int_equal(b->dropped, 0);
	assert_int_equal(b->passed, 0);
}

static void
over_the_rate_live_ports_are_dropped_and_recorded(void **state)
{
	struct ebpf_bucket	*b = fresh_bucket();
	uint64_t		 t0, m0;
	int			 i;

	(void)state;
	/* a burst of wrong hits, as a random-port flood sends, puts the
	 * debt past EBPF_BURST_NS; while it stays there (a flood keeps it
	 * so; here, whatever the scheduler does, a debt of a minute) ... */
	for (i = 0; i < 300; i++)
		assert_int_equal(run(30100 + i), 0);
	assert_true(b->tat > mono_ns());
	t0 = mono_ns();
	b->tat = t0 + EBPF_BURST_NS + 60000000000ULL;
	m0 = sh->misses;
	/* ... a live port or guard is dropped as a wrong hit */
	assert_int_equal(run(LIVE), 0);
	assert_int_equal(run(EDGE), 0);
	assert_true(b->dropped >= t0);
	assert_int_equal(b->touch, 0);
	assert_int_equal(sh->misses, m0 + 2);
	/* the debt paid, a live port passes again */
	b->tat = 0;
	assert_int_equal(run(LIVE), PASS);
	assert_true(b->touch >= t0);
}

static void
wake_program_passes_last_ports_under_the_rate(void **state)
{
	struct ebpf_bucket	*b = fresh_bucket();
	uint64_t		 m0 = sh->misses;

	(void)state;
	sh->last[LIVE / 64] |= 1ULL << (LIVE % 64);
	assert_int_equal(run_prog(wakefd, LIVE), PASS);
	/* live, not a last port; a miss; outside the range: no wake */
	assert_int_equal(run_prog(wakefd, EDGE), 0);
	assert_int_equal(run_prog(wakefd, 30100), 0);
	assert_int_equal(run_prog(wakefd, LO - 1), 0);
	/* the range program keeps the records, for each packet once */
	assert_int_equal(b->touch, 0);
	assert_int_equal(b->tat, 0);
	assert_int_equal(b->passed, 0);
	assert_int_equal(b->dropped, 0);
	assert_int_equal(sh->misses, m0);
	/* over the rate: no wake, and no second record */
	b->tat = mono_ns() + EBPF_BURST_NS + 60000000000ULL;
	assert_int_equal(run_prog(wakefd, LIVE), 0);
	assert_int_equal(b->dropped, 0);
	assert_int_equal(sh->misses, m0);
	sh->last[LIVE / 64] = 0;
}

/* the map follows max-sources: two buckets a source, a power of two in
 * bounds; any other count is refused, and makes nothing */
static void
buckets_follow_max_sources(void **state)
{
	char	 why[256];
	int	 m = -2, pr = -2, w = -2;

	(void)state;
	assert_int_equal(ebpf_buckets(1), EBPF_BUCKETS_MIN);
	assert_int_equal(ebpf_buckets(2048), EBPF_BUCKETS_MIN);
	assert_int_equal(ebpf_buckets(2049), 2 * EBPF_BUCKETS_MIN);
	assert_int_equal(ebpf_buckets(SOURCES), 1U << 15);
	assert_int_equal(ebpf_buckets(65536), EBPF_BUCKETS_MAX);
	assert_int_equal(ebpf_buckets(1U << 20), EBPF_BUCKETS_MAX);
	assert_true(ebpf_buckets_ok(1U << 15));
	assert_false(ebpf_buckets_ok(0));
	assert_false(ebpf_buckets_ok(EBPF_BUCKETS_MIN / 2));
	assert_false(ebpf_buckets_ok(EBPF_BUCKETS_MAX * 2));
	assert_false(ebpf_buckets_ok(3 * EBPF_BUCKETS_MIN));
	/* a page more than the header for the least; 4 MB for the most */
	assert_true(ebpf_size(EBPF_BUCKETS_MIN) <= 160 * 1024);
	assert_true(ebpf_size(EBPF_BUCKETS_MAX) >= 4U << 20);
	assert_int_equal(ebpf_make(3 * EBPF_BUCKETS_MIN, &m, &pr, &w, why,
	    sizeof(why)), -1);
	assert_int_equal(m, -1);
	assert_int_equal(pr, -1);
	assert_int_equal(w, -1);
	assert_non_null(strstr(why, "buckets"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buckets_follow_max_sources),
		cmocka_unit_test(wrong_hits_are_recorded_passed_or_dropped),
		cmocka_unit_test(live_ports_pass_outside_the_range_too),
		cmocka_unit_test(
		    over_the_rate_live_ports_are_dropped_and_recorded),
		cmocka_unit_test(wake_program_passes_last_ports_under_the_rate),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

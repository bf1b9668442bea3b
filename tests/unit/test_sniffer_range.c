/*
 * test_sniffer_range: the sniffer's side of the map it shares with the
 * kernel's range filter (range.c), on a memfd standing in for the map
 * (range.c only mmap()s it).
 *
 * A wrong hit the kernel passed to a range ring that then lost frames
 * resets like a dropped one; without the map (the classic filter), any
 * loss of the range ring does.  A sniffer restarted after it was killed
 * must not take over what the one before left in the map: the hash key (a compromised sniffer that
 * chose it can aim prefixes at one bucket) and the buckets (left all
 * "dropped" or over the rate, every knock of its successors would be
 * reset for ever).
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebpf.h"
#include "sniffer.h"

static void
range_map_state(void **state)
{
	struct ebpf_shared	*sh;
	struct pkt		 p;
	size_t			 i;
	int			 fd, prog, wake;
	const uint16_t		 last[] = { 30001, 40002 };
	const uint32_t		 nb = ebpf_buckets(16384);

	(void)state;
	fd = memfd_create("pks-test-range", MFD_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(ftruncate(fd, (off_t)ebpf_size(nb)), 0);
	sh = mmap(NULL, ebpf_size(nb), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	assert_true(sh != MAP_FAILED);
	/* what a compromised sniffer before it left */
	sh->key[0] = 0x1111111111111111ULL;
	sh->key[1] = 0x2222222222222222ULL;
	for (i = 0; i < nb; i++) {
		sh->b[i].dropped = UINT64_MAX;
		sh->b[i].tat = UINT64_MAX;
		sh->b[i].touch = UINT64_MAX;
		sh->b[i].passed = UINT64_MAX;
	}
	memset(sh->last, 0xff, sizeof(sh->last));
	/* a bucket count the monitor cannot have made: the classic filter */
	prog = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(prog != -1);
	wake = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(wake != -1);
	assert_int_equal(range_setup(dup(fd), prog, wake, nb + 1, 20000,
	    60000, 10), -1);
	assert_false(range_active());
	assert_true(sh->key[0] == 0x1111111111111111ULL);
	prog = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(prog != -1);
	wake = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(wake != -1);
	assert_int_equal(range_setup(dup(fd), prog, wake, nb, 20000, 60000,
	    10), 0);
	assert_true(range_active());
	/* no last port wakes before the first live set */
	for (i = 0; i < NPORTS / 64; i++)
		if (sh->last[i] != 0)
			fail_msg("last ports word %zu kept its old state", i);
	/* then exactly the last ports of the live set */
	range_last(last, 2);
	assert_int_equal(BIT_ISSET(sh->last, 30001), 1);
	assert_int_equal(BIT_ISSET(sh->last, 40002), 1);
	assert_int_equal(BIT_ISSET(sh->last, 30002), 0);
	range_last(last, 1);
	assert_int_equal(BIT_ISSET(sh->last, 30001), 1);
	assert_int_equal(BIT_ISSET(sh->last, 40002), 0);

	/* a new secret, and clean buckets */
	assert_false(sh->key[0] == 0x1111111111111111ULL &&
	    sh->key[1] == 0x2222222222222222ULL);
	for (i = 0; i < nb; i++)
		if (sh->b[i].dropped != 0 || sh->b[i].tat != 0 ||
		    sh->b[i].touch != 0 || sh->b[i].passed != 0)
			fail_msg("bucket %zu kept its old state", i);
	memset(&p, 0, sizeof(p));
	p.af = AF_INET;
	p.proto = IPPROTO_TCP;
	p.dport = 30000;
	p.src[0] = 198;
	p.src[1] = 18;
	p.src[3] = 7;
	assert_int_equal(range_dropped(&p, 1000), 0);
	/* the check still works: a drop recorded since resets */
	sh->b[ebpf_bucket(sh->key, nb, AF_INET, p.src, IPPROTO_TCP)].dropped =
	    5000;
	assert_int_equal(range_dropped(&p, 1000), 1);
	/* a wrong hit the kernel passed counts only once a range ring has
	 * lost frames since the candidate's last step */
	sh->b[ebpf_bucket(sh->key, nb, AF_INET, p.src, IPPROTO_TCP)].dropped = 0;
	sh->b[ebpf_bucket(sh->key, nb, AF_INET, p.src, IPPROTO_TCP)].passed =
	    5000000;
	assert_int_equal(range_dropped(&p, 4000000), 0);
	range_lost(3000000, 0);	/* a loss before the last step: no */
	assert_int_equal(range_dropped(&p, 4100000), 0);
	range_lost(6000000, 0);
	assert_int_equal(range_dropped(&p, 4100000), 1);
	/* a passed one before the last step: no */
	assert_int_equal(range_dropped(&p, 6500000), 0);
	/* the range and window are set for the program */
	assert_int_equal(sh->range, 20000U | 60000U << 16);
	assert_true(sh->window == 11000000000ULL);
	munmap(sh, ebpf_size(nb));
	close(fd);
}

/* the classic filter (no map): nothing says whose packets a full range
 * ring lost, so any loss since a candidate's last step counts */
static void
classic_loss_counts_for_all(void **state)
{
	struct pkt	 p;

	(void)state;
	assert_false(range_active());
	memset(&p, 0, sizeof(p));
	p.af = AF_INET6;
	p.proto = IPPROTO_UDP;
	p.dport = 30000;
	p.src[0] = 0xfd;
	assert_int_equal(range_dropped(&p, 2000000), 0);
	assert_int_equal(range_dropped(&p, 0), 0);
	range_lost(5000000, 1);
	assert_int_equal(range_dropped(&p, 4000000), 1);
	assert_int_equal(range_dropped(&p, 5500000), 1);	/* the slack */
	assert_int_equal(range_dropped(&p, 7000000), 0);	/* before it */
	assert_int_equal(range_dropped(&p, 0), 1);	/* time unknown */
	range_lost(0, 1);	/* none, for the next test */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classic_loss_counts_for_all),
		cmocka_unit_test(range_map_state),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

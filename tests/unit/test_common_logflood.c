/*
 * test_common_logflood.c: lines the network can provoke, said in full
 * up to a burst a period, the rest counted and said once it is over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

static void
burst_then_counted(void **unused)
{
	struct log_flood	f = { 0 };
	long long		since = -1, t0 = 5000;
	int			i, said = 0;

	(void)unused;
	/* a flood of 100 within a second: the burst said, 80 counted */
	for (i = 0; i < 100; i++)
		said += log_flood_say(&f, t0 + i / 100);
	assert_int_equal(said, LOG_FLOOD_BURST);
	/* the count waits for the end of the period */
	assert_int_equal(log_flood_held(&f, t0 + LOG_FLOOD_PERIOD - 1,
	    &since), 0);
	assert_int_equal(log_flood_held(&f, t0 + LOG_FLOOD_PERIOD, &since),
	    100 - LOG_FLOOD_BURST);
	assert_int_equal(since, t0);
	/* said once */
	assert_int_equal(log_flood_held(&f, t0 + LOG_FLOOD_PERIOD + 1,
	    &since), 0);
	/* a new period: a new burst in full */
	assert_true(log_flood_say(&f, t0 + LOG_FLOOD_PERIOD + 2));
}

static void
a_few_are_all_said(void **unused)
{
	struct log_flood	f = { 0 };
	long long		since;
	int			i;

	(void)unused;
	/* at the start of a monotonic clock (0) too */
	for (i = 0; i < LOG_FLOOD_BURST; i++)
		assert_true(log_flood_say(&f, i));
	assert_int_equal(log_flood_held(&f, 1000, &since), 0);
	/* spread out: one a period, each said */
	for (i = 0; i < 5; i++)
		assert_true(log_flood_say(&f, 2000 + i * LOG_FLOOD_PERIOD));
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(burst_then_counted),
		cmocka_unit_test(a_few_are_all_said),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

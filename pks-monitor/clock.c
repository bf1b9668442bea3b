/*
 * clock.c: the monitor's two clocks.
 *
 * Every expiry (sequence, window, grant, restart back-off) runs on
 * CLOCK_MONOTONIC, which a step of the wall clock (an NTP correction, a
 * spoofed NTP reply, an admin's date(1)) does not move.  Wall-clock
 * dates appear only in messages and in the state file, converted here.
 *
 * Monotonic times are shifted by MONO_BASE so that they are never 0,
 * which callers use for "none".
 */
#include <sys/types.h>

#include <time.h>

#include "log.h"
#include "monitor.h"

#define MONO_BASE	((time_t)1000000000)

time_t
mono_now(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return ts.tv_sec + MONO_BASE;
}

/* wall minus monotonic, rounded: constant while the clock is not stepped */
static time_t
offset(void)
{
	struct timespec	mo, rt;
	long long	ns;

	if (clock_gettime(CLOCK_MONOTONIC, &mo) == -1 ||
	    clock_gettime(CLOCK_REALTIME, &rt) == -1)
		fatal("clock_gettime");
	ns = ((long long)rt.tv_sec - mo.tv_sec) * 1000000000LL +
	    (rt.tv_nsec - mo.tv_nsec) + 500000000LL;
	return (time_t)(ns >= 0 ? ns / 1000000000LL :
	    -((-ns + 999999999LL) / 1000000000LL)) - MONO_BASE;
}

/* the wall-clock date of a monotonic time, for messages */
time_t
mono_to_wall(time_t m)
{
	return m + offset();
}

/* a date for messages: UTC, the server's zone means nothing to a reader */
const char *
clock_date(time_t wall, char *buf, size_t len)
{
	struct tm	tm;

	gmtime_r(&wall, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec	ts;

	if (clock_gettime(id, &ts) == -1)
		fatal("clock_gettime");
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* the wall clock in milliseconds: when a fleet request was made */
int64_t
wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* CLOCK_MONOTONIC in milliseconds */
int64_t
mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* milliseconds until the monotonic second t begins, 0 once it has */
int64_t
mono_ms_until(time_t t)
{
	int64_t	ms;

	ms = (int64_t)(t - MONO_BASE) * 1000 - mono_ms();
	return ms > 0 ? ms : 0;
}

/*
 * The wall-clock date (ms) of the monotonic time m (ms), on today's wall
 * clock: a step of the clock since then (NTP correcting a host that
 * booted with its clock ahead) moves it too.
 */
int64_t
mono_ms_to_wall(int64_t m)
{
	return wall_ms() - (mono_ms() - m);
}

/* the monotonic time of a wall-clock date (from the state file) */
time_t
wall_to_mono(time_t w)
{
	return w - offset();
}

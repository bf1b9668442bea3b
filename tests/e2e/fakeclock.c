/*
 * fakeclock.c: an LD_PRELOAD shim that steps the wall clock of one
 * process, for t_clock_step.py.
 *
 * Every reading of CLOCK_REALTIME (time(2), gettimeofday(2),
 * clock_gettime(2) with a realtime clock) gets the number of seconds
 * that the file named by FAKECLOCK_FILE holds added to it (0 while the
 * file is absent or empty), read again at each call: the test steps the
 * clock by writing the file.  CLOCK_MONOTONIC and CLOCK_BOOTTIME are
 * left alone, as the kernel leaves them when the real clock is stepped.
 * Only system calls are used on the way.
 */
#include <sys/syscall.h>
#include <sys/time.h>

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long
offset(void)
{
	const char	*path = getenv("FAKECLOCK_FILE");
	char		 buf[32];
	long		 v = 0;
	ssize_t		 n, i = 0;
	int		 fd, neg = 0;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	if (buf[0] == '-') {
		neg = 1;
		i = 1;
	}
	for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return neg ? -v : v;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	long	r = syscall(SYS_clock_gettime, clk, ts);

	if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
		ts->tv_sec += offset();
	return (int)r;
}

int
gettimeofday(struct timeval *tv, void *tz)
{
	struct timespec	ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t
time(time_t *t)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return (time_t)-1;
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

/*
 * log.c: every line carries the process's name.
 *
 * Foreground (-d): "name: message" on stderr.  Daemon: the monitor
 * writes RFC 3164 lines to /dev/log itself, reconnecting when syslog
 * restarts; each child writes on a /dev/log socket it connected before
 * its chroot, and once that fails, hands its lines to the monitor.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	1024

static const char	*log_name = "pks";
static int		 log_foreground = 1;
static int		 log_verbose;
static log_sink_fn	 log_sink;
static int		 log_fd = -1;	/* /dev/log */
static int		 log_direct;	/* child: log_fd opened before chroot */
static pid_t		 log_pid;	/* its pid: getpid() is not in every
					   sandbox */

void
log_init(const char *name, int foreground, int verbose)
{
	log_name = name;
	log_foreground = foreground;
	log_verbose = verbose;
}

void
log_procname(const char *name)
{
	log_name = name;
}

const char *
log_getname(void)
{
	return log_name;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_setsink(log_sink_fn fn)
{
	log_sink = fn;
}

static int
log_connect(void)
{
	struct sockaddr_un	sun;

	if (log_fd != -1)
		return 0;
	if ((log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, "/dev/log", sizeof(sun.sun_path) - 1);
	if (connect(log_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(log_fd);
		log_fd = -1;
		return -1;
	}
	return 0;
}

/*
 * A child, before its chroot: keep a socket connected to /dev/log, so
 * that its lines reach syslog from its own process (the journal then
 * shows its own PID).  write(2) on it is all it needs in its sandbox; if
 * syslog goes away, the lines go to the sink (the monitor) instead.  The
 * socket is moved to fd, if that is free, so that an allow-list can name
 * it.
 */
int
log_open_syslog(int fd)
{
	if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
		return -1;		/* taken: keep relaying */
	if (log_connect() == -1)
		return -1;
	if (log_fd != fd) {	/* socket(2) may have returned fd itself */
		if (dup3(log_fd, fd, O_CLOEXEC) == -1) {
			close(log_fd);
			log_fd = -1;
			return -1;
		}
		close(log_fd);
		log_fd = fd;
	}
	tzset();	/* the time stamp: read /etc/localtime while we can */
	log_pid = getpid();
	log_direct = 1;
	return 0;
}

static int
log_format(char *line, size_t size, const char *name, pid_t pid, int prio,
    const char *msg, size_t len)
{
	char		 stamp[32];
	struct tm	 tm;
	time_t		 now;
	int		 n;

	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	if (len > LOG_LINE_MAX)
		len = LOG_LINE_MAX;
	n = snprintf(line, size, "<%d>%s %s[%ld]: %.*s",
	    LOG_DAEMON | (prio & LOG_PRIMASK), stamp, name, (long)pid,
	    (int)len, msg);
	if (n < 0)
		return -1;
	if ((size_t)n >= size)
		n = size - 1;
	return n;
}

/* A child's own line on its own socket; -1: hand it to the sink. */
static int
log_write_direct(int prio, const char *msg, size_t len)
{
	char	line[LOG_LINE_MAX + 128];
	int	n, saved = errno;

	if (!log_direct || log_fd == -1)
		return -1;
	n = log_format(line, sizeof(line), log_name, log_pid, prio, msg,
	    len);
	if (n == -1 || write(log_fd, line, n) != n) {
		log_direct = 0;		/* no reconnecting from a chroot */
		errno = saved;
		return -1;
	}
	errno = saved;
	return 0;
}

/*
 * Write one line to syslog under the given name and pid.  Used by the
 * monitor for its own lines and for the lines its children relay.
 */
void
log_syslog(const char *name, pid_t pid, int prio, const char *msg,
    size_t len)
{
	char		 line[LOG_LINE_MAX + 128];
	int		 n, try;

	if ((n = log_format(line, sizeof(line), name, pid, prio, msg,
	    len)) == -1)
		return;
	for (try = 0; try < 2; try++) {
		if (log_connect() == -1)
			return;
		if (send(log_fd, line, n, MSG_NOSIGNAL) != -1)
			return;
		/* syslog restarted: reconnect once */
		close(log_fd);
		log_fd = -1;
	}
}

static void
log_emit(int prio, const char *msg, size_t len)
{
	if (log_sink != NULL) {
		if (log_write_direct(prio, msg, len) == -1)
			log_sink(prio, msg, len);
		return;
	}
	if (log_foreground) {
		int	saved = errno;

		fprintf(stderr, "%s: %.*s\n", log_name, (int)len, msg);
		fflush(stderr);
		errno = saved;
		return;
	}
	log_syslog(log_name, getpid(), prio, msg, len);
}

/*
 * Replace control characters: a log line is one line, and a terminal
 * reading it takes no command from it.  C0 and DEL, and C1 (U+0080 to
 * U+009F, 0xc2 0x80..0x9f in UTF-8), each become one '?'.
 */
static void
log_clean(char *s)
{
	char	*d = s;

	for (; *s; s++, d++) {
		if ((unsigned char)s[0] == 0xc2 &&
		    (unsigned char)s[1] >= 0x80 &&
		    (unsigned char)s[1] <= 0x9f) {
			*d = '?';
			s++;
		} else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*d = '?';
		else
			*d = *s;
	}
	*d = '\0';
}

void
vlog(int prio, const char *fmt, va_list ap)
{
	char	buf[LOG_LINE_MAX];
	int	n;

	if (prio == LOG_DEBUG && log_verbose < 1)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	log_clean(buf);
	log_emit(prio, buf, strlen(buf));
}

static void	vlog_errno(int, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
vlog_errno(int prio, const char *fmt, va_list ap)
{
	char	buf[LOG_LINE_MAX];
	int	saved = errno;

	if (fmt == NULL) {
		snprintf(buf, sizeof(buf), "%s", strerror(saved));
	} else {
		vsnprintf(buf, sizeof(buf), fmt, ap);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ": %s",
		    strerror(saved));
	}
	log_clean(buf);
	log_emit(prio, buf, strlen(buf));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog_errno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* an event of f's kind at now: 1 if it is to be said in full, 0 if it
 * is counted (log_flood_held says how many) */
int
log_flood_say(struct log_flood *f, long long now)
{
	if (f->said == 0 || now - f->start >= LOG_FLOOD_PERIOD) {
		f->start = now;
		f->said = 0;
	}
	if (f->said < LOG_FLOOD_BURST) {
		f->said++;
		return 1;
	}
	if (f->held++ == 0)
		f->held_since = now;
	return 0;
}

/* at now: the events counted in a period that is over (and since when),
 * to be said in one line; 0 if none or the period goes on */
unsigned long long
log_flood_held(struct log_flood *f, long long now, long long *since)
{
	unsigned long long	n = f->held;

	if (n == 0 || now - f->start < LOG_FLOOD_PERIOD)
		return 0;
	*since = f->held_since;
	f->held = 0;
	return n;
}

/* at now: the events of f counted in a period that is over, in one
 * line */
void
log_flood_tick(struct log_flood *f, long long now)
{
	unsigned long long	n;
	long long		since;

	if ((n = log_flood_held(f, now, &since)) > 0)
		log_warnx("%llu more %s refused in %lld s (the last: %s)", n,
		    f->what, now - since, f->last);
}

/* a line of f's kind at now: said, or counted (and kept as the last) */
void
log_flood_vwarnx(struct log_flood *f, long long now, const char *fmt,
    va_list ap)
{
	log_flood_tick(f, now);
	if (!log_flood_say(f, now)) {
		vsnprintf(f->last, sizeof(f->last), fmt, ap);
		return;
	}
	vlog(LOG_WARNING, fmt, ap);
	if (f->said == LOG_FLOOD_BURST)
		log_warnx("%d %s refused within %d s: the next ones are "
		    "counted and said once a minute", LOG_FLOOD_BURST, f->what,
		    LOG_FLOOD_PERIOD);
}

void
log_flood_warnx(struct log_flood *f, long long now, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_flood_vwarnx(f, now, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

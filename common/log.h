/*
 * log.h: logging under the process's own name.  Foreground: stderr.
 * Otherwise the monitor writes to syslog itself; each child writes to a
 * /dev/log socket it connected before its chroot (so its own PID is on
 * its lines) and, once that fails, hands its lines to the monitor
 * (IMSG_LOG), so a chroot or a syslog restart cannot silence it.
 */
#ifndef PKS_LOG_H
#define PKS_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

typedef void	(*log_sink_fn)(int, const char *, size_t);

/*
 * Lines of one kind that the network can provoke (a refused broker
 * message): the first LOG_FLOOD_BURST of a period are said in full, the
 * rest counted and said as one line once the period is over, like the
 * sniffer's wrong hits: a flood costs a few lines a minute.  Times are
 * seconds on any monotonic clock.
 */
#define LOG_FLOOD_PERIOD	60
#define LOG_FLOOD_BURST		20

struct log_flood {
	const char		*what;		/* "broker messages" */
	long long		 start;		/* this period began */
	unsigned int		 said;		/* in full, in it */
	unsigned long long	 held;		/* counted, not said yet */
	long long		 held_since;	/* the first of them */
	char			 last[256];	/* the last one held */
};

/* log.c */
void	log_init(const char *, int, int);
void	log_procname(const char *);
const char *log_getname(void);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_setsink(log_sink_fn);
void	log_syslog(const char *, pid_t, int, const char *, size_t);
int	log_open_syslog(int);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vlog(int, const char *, va_list) __attribute__((format(printf, 2, 0)));
int	log_flood_say(struct log_flood *, long long);
unsigned long long log_flood_held(struct log_flood *, long long,
	    long long *);
void	log_flood_warnx(struct log_flood *, long long, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_flood_vwarnx(struct log_flood *, long long, const char *,
	    va_list) __attribute__((format(printf, 3, 0)));
void	log_flood_tick(struct log_flood *, long long);
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* PKS_LOG_H */

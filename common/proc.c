/*
 * proc.c: the start of every child (see proc.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "pks.h"
#include "privsep.h"
#include "proc.h"
#include "sandbox.h"

static struct imsgbuf	 proc_ib;
struct imsgbuf		*proc_ibuf;
struct pks_conf_proc	 proc_conf;

static const char *const proc_names[PROC_MAX] = {
	"pks-monitor", "pks-telegram", "pks-sniffer", "pks-fw", "pks-fleet"
};

const char *
proc_name(enum pks_proc p)
{
	if ((int)p < 0 || p >= PROC_MAX)
		return "unknown";
	return proc_names[p];
}

/* daemon mode: every log line goes to the monitor */
static void
proc_log_sink(int prio, const char *msg, size_t len)
{
	struct pks_log	pl;
	struct iovec	iov[2];

	pl.prio = prio;
	iov[0].iov_base = &pl;
	iov[0].iov_len = sizeof(pl);
	iov[1].iov_base = (void *)msg;
	iov[1].iov_len = len > 1024 ? 1024 : len;
	if (imsg_composev(proc_ibuf, IMSG_LOG, 0, -1, iov, 2) == 0)
		(void)imsgbuf_write(proc_ibuf);
}

static void
proc_atexit(void)
{
	if (proc_ibuf != NULL)
		(void)imsgbuf_flush(proc_ibuf);
}

void
proc_start(const char *name, int argc, char **argv)
{
	struct stat	st;

	(void)argv;
	log_init(name, 1, 0);
	if (argc != 1)
		fatalx("this program is started by pks-monitor, not by hand");
	if (fstat(PROC_FD, &st) == -1 || !S_ISSOCK(st.st_mode))
		fatalx("this program is started by pks-monitor, not by hand");
	if (geteuid() != 0)
		fatalx("must be started as root by pks-monitor");
	imsgbuf_init(&proc_ib, PROC_FD);
	proc_ibuf = &proc_ib;
	atexit(proc_atexit);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* a ^C in -d mode is the monitor's */
}

/*
 * One message at a time, no byte more: what the monitor sends after
 * CONF_END (the state a restarted child must rebuild) stays in the
 * socket, so the child's poll() loop sees it at once.
 */
static int
proc_wait_read(void)
{
	int	n;

	if ((n = imsgbuf_read_one(proc_ibuf)) == -1) {
		if (errno == EBADMSG)
			fatalx("malformed message from monitor");
		fatal("read from monitor");
	}
	if (n == 0) {
		log_debug("monitor went away");
		exit(0);
	}
	return 1;
}

/*
 * Read the configuration: CONF_PROC first, then what fn takes, up to
 * CONF_END.
 */
void
proc_read_conf(proc_conf_fn fn)
{
	struct imsg	im;
	int		got_proc = 0, r;

	for (;;) {
		proc_wait_read();
		while ((r = imsg_get(proc_ibuf, &im)) == 1) {
			switch (im.hdr.type) {
			case IMSG_CONF_PROC:
				if (im.len != sizeof(proc_conf))
					fatalx("bad IMSG_CONF_PROC length");
				memcpy(&proc_conf, im.data, sizeof(proc_conf));
				proc_conf.chroot[sizeof(proc_conf.chroot) - 1]
				    = '\0';
				log_setverbose(proc_conf.verbose);
				if (!proc_conf.foreground) {
					log_setsink(proc_log_sink);
					(void)log_open_syslog(PROC_LOG_FD);
				}
				got_proc = 1;
				break;
			case IMSG_CONF_END:
				if (!got_proc)
					fatalx("configuration without "
					    "IMSG_CONF_PROC");
				if (im.fd != -1)
					close(im.fd);
				imsg_free(&im);
				goto done;
			default:
				if (!got_proc || fn == NULL || fn(&im) == -1)
					fatalx("malformed configuration "
					    "message (type %u)", im.hdr.type);
				break;
			}
			imsg_free(&im);
		}
		if (r == -1)
			fatalx("malformed message from monitor");
	}
 done:
	if (fcntl(PROC_FD, F_SETFL, fcntl(PROC_FD, F_GETFL) | O_NONBLOCK)
	    == -1)
		fatal("fcntl");
}

void
proc_confine(const int *caps, size_t ncaps, const struct sandbox_rule *rules,
    size_t nrules)
{
	privsep_drop(&proc_conf, caps, ncaps);
#ifdef PKS_TESTHOOKS
	/* test builds: SIGUSR2 (or SIGRTMIN + SB_TRY_*) makes a forbidden
	 * call */
	sandbox_test_signals();
#endif
	sandbox_apply(rules, nrules);
	proc_compose(IMSG_READY, -1, NULL, 0);
	proc_flush();
}

void
proc_dispatch(proc_conf_fn fn)
{
	struct imsg	im;
	ssize_t		n;
	int		r;

	if ((n = imsgbuf_read(proc_ibuf)) == -1) {
		if (errno == EAGAIN)
			return;
		fatal("read from monitor");
	}
	if (n == 0) {
		log_debug("monitor went away");
		exit(0);
	}
	while ((r = imsg_get(proc_ibuf, &im)) == 1) {
		if (fn(&im) == -1)
			fatalx("malformed message (type %u) from monitor",
			    im.hdr.type);
		if (im.fd != -1)
			close(im.fd);
		imsg_free(&im);
	}
	if (r == -1)
		fatalx("malformed message from monitor");
}

/*
 * All of fd (at most max bytes) in a new NUL-terminated buffer, or NULL
 * (errno set; EFBIG: too large).  For the files the monitor hands over
 * before the chroot: tokens, certificates, keys; a failure wipes what
 * was read.
 */
char *
proc_read_fd(int fd, size_t max, size_t *lenp)
{
	char	*buf, *nb;
	size_t	 len = 0, cap = 4096;
	ssize_t	 n;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			if ((nb = realloc(buf, cap * 2)) == NULL)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += n;
	}
	if (len > max) {
		errno = EFBIG;
		goto fail;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
 fail:
	explicit_bzero(buf, cap);
	free(buf);
	return NULL;
}

void
proc_compose(uint32_t type, int fd, const void *data, size_t len)
{
	if (imsg_compose(proc_ibuf, type, 0, fd, data, len) == -1)
		fatal("imsg_compose");
}

void
proc_flush(void)
{
	if (imsgbuf_write(proc_ibuf) == -1) {
		if (errno == EPIPE || errno == ECONNRESET)
			exit(0);
		fatal("write to monitor");
	}
}

#ifdef PKS_TESTHOOKS
/*
 * Test builds: the whole number a PKS_TEST_* variable gives, from min to
 * max; 0 when it is not set.  Anything else is fatal: a test that
 * misspells its hook must not run without it.
 */
int
proc_test_env(const char *name, int min, int max)
{
	const char	*v = getenv(name);
	char		*end;
	long		 n;

	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < min || n > max)
		fatalx("%s: %d to %d", name, min, max);
	return (int)n;
}
#endif

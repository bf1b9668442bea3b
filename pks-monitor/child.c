/*
 * child.c: start, feed, supervise and restart the three children.
 *
 * Each child is a fresh exec of its own binary with its socketpair end
 * on fd 3.  It gets its part of the configuration over that socket and
 * nothing else.  A child that dies is logged with the reason (SIGSYS is
 * a sandbox violation) and restarted with back-off; one that sends a
 * malformed message is treated as compromised and killed.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "monitor.h"
#include "privsep.h"
#include "proc.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS	83	/* Linux 6.16: refuse SCM_RIGHTS */
#endif

#define BACKOFF_MAX	60	/* seconds */
#define STABLE_AFTER	60	/* a child up this long restarts at once */

void
child_init_all(void)
{
	int	i;

	for (i = 1; i < PROC_MAX; i++) {
		memset(&env->child[i], 0, sizeof(env->child[i]));
		env->child[i].id = i;
		env->child[i].pid = -1;
		env->child[i].fd = -1;
	}
}

static int
child_wanted(enum pks_proc id)
{
	/* without a telegram block there is no bot to run, without a
	 * fleet block no broker to talk to */
	if (id == PROC_TELEGRAM)
		return env->conf->has_telegram;
	if (id == PROC_FLEET)
		return env->conf->has_fleet;
	return 1;
}

/* a file for a child, opened here (the child cannot); -1: logged */
static int
child_send_file(struct child *c, uint32_t type, const char *path,
    const char *what, int secret)
{
	struct stat	st;
	int		fd;

	if (path[0] == '\0')
		return 0;
	/* a secret is checked again on the open file: nothing swapped in */
	fd = open(path, O_RDONLY | O_CLOEXEC | (secret ? O_NOFOLLOW : 0));
	if (fd == -1 || (secret && (fstat(fd, &st) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0))) {
		if (fd == -1)
			log_warn("%s %s", what, path);
		else
			log_warnx("%s %s: not a regular file owned by root "
			    "with mode 0600", what, path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	child_send(c->id, type, fd, NULL, 0);
	return 0;
}

/* the range filter's map and programs, copies: each sniffer gets its
 * own (sent descriptors are closed) and the next one gets them again */
static void
child_send_ebpf(struct child *c)
{
	int	 m = -1, p = -1, w = -1;

	if (env->ebpf_prog == -1)
		return;
	if ((m = fcntl(env->ebpf_map, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    (p = fcntl(env->ebpf_prog, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    (w = fcntl(env->ebpf_wake, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("range filter: dup");
		if (m != -1)
			close(m);
		if (p != -1)
			close(p);
		return;
	}
	child_send(c->id, IMSG_SNIFF_EBPF_MAP, m, NULL, 0);
	child_send(c->id, IMSG_SNIFF_EBPF_PROG, p, NULL, 0);
	child_send(c->id, IMSG_SNIFF_EBPF_WAKE, w, NULL, 0);
}

/* fleet { }: mqtts://HOST[:PORT] split, the files opened */
static void
child_send_fleet(struct child *c)
{
	const struct pks_conf	*conf = env->conf;
	struct pks_fleet_conf	 fc;
	const char		*h = conf->fleet_broker + strlen("mqtts://");
	const char		*colon;
	size_t			 n;

	memset(&fc, 0, sizeof(fc));
	/* the parser checked the shape: [v6][:port] or host[:port] */
	colon = strrchr(h, ':');
	if (colon != NULL && h[0] == '[' && colon < strchr(h, ']'))
		colon = NULL;
	n = colon != NULL ? (size_t)(colon - h) : strlen(h);
	if (n >= sizeof(fc.host))
		n = sizeof(fc.host) - 1;
	memcpy(fc.host, h, n);
	fc.port = colon != NULL ? atoi(colon + 1) : 8883;
	fc.role = conf->fleet_role;
	memcpy(fc.name, conf->fleet_name, sizeof(fc.name));
	child_send(c->id, IMSG_FLEET_CONF, -1, &fc, sizeof(fc));
	child_send_file(c, IMSG_FLEET_CA, conf->fleet_ca, "fleet ca-file", 0);
	child_send_file(c, IMSG_FLEET_CERT, conf->fleet_cert,
	    "fleet cert-file", 0);
	child_send_file(c, IMSG_FLEET_KEY, conf->fleet_key, "fleet key-file",
	    1);
	child_send_file(c, IMSG_FLEET_PASSWORD, conf->fleet_password,
	    "fleet password-file", 1);
}

/*
 * pks-fw's mode; in mode observe the counts earlier pks-fws reached, of
 * the services still configured; each allow-always prefix once per
 * service.
 */
static void
child_send_fw_mode(struct child *c)
{
	const struct pks_conf	*conf = env->conf;
	struct pks_fw_mode	 m = { conf->mode, conf->nflog_group };
	struct pks_fw_allow	 a;
	size_t			 k, n;
	int			 i, j;

	child_send(c->id, IMSG_FW_MODE, -1, &m, sizeof(m));
	for (k = n = 0; conf->mode == PKS_MODE_OBSERVE &&
	    k < env->nobserved; k++)
		for (i = 0; i < conf->nservices; i++)
			if (conf->services[i].proto == env->observed[k].proto &&
			    conf->services[i].port == env->observed[k].port) {
				env->observed[n] = env->observed[k];
				child_send(c->id, IMSG_FW_OBSERVED, -1,
				    &env->observed[n++],
				    sizeof(env->observed[0]));
				break;
			}
	if (conf->mode == PKS_MODE_OBSERVE)
		env->nobserved = n;
	for (i = 0; i < conf->nalways; i++)
		for (j = 0; j < conf->nservices; j++) {
			if (!(conf->always[i].services & (1ULL << j)))
				continue;
			memset(&a, 0, sizeof(a));
			a.af = conf->always[i].af;
			a.plen = conf->always[i].plen;
			memcpy(a.addr, conf->always[i].addr, sizeof(a.addr));
			a.proto = conf->services[j].proto;
			a.port = conf->services[j].port;
			child_send(c->id, IMSG_FW_ALLOW, -1, &a, sizeof(a));
		}
}

static void
child_send_conf(struct child *c)
{
	struct pks_conf		*conf = env->conf;
	struct pks_conf_proc	 pc;
	int			 i;

	memset(&pc, 0, sizeof(pc));
	/* looked up at start and at reload: a lookup failing now (out of
	 * memory, a directory service down) must not stop a restart */
	pc.uid = env->uid;
	pc.gid = env->gid;
	pc.verbose = env->verbose;
	pc.foreground = env->log_stderr;
	snprintf(pc.chroot, sizeof(pc.chroot), "%s", conf->chroot);
	child_send(c->id, IMSG_CONF_PROC, -1, &pc, sizeof(pc));

	switch (c->id) {
	case PROC_SNIFFER: {
		struct pks_sniff_conf	sc;
		struct pks_iface	ifc;

		memset(&sc, 0, sizeof(sc));
		sc.knock_timeout = conf->knock_timeout;
		sc.max_sources = conf->max_sources;
		sc.knock_lo = conf->knock_lo;
		sc.knock_hi = conf->knock_hi;
		sc.ebpf_buckets = env->ebpf_map != -1 ? env->ebpf_buckets : 0;
		child_send(c->id, IMSG_SNIFF_CONF, -1, &sc, sizeof(sc));
		for (i = 0; i < conf->nifaces; i++) {
			memset(&ifc, 0, sizeof(ifc));
			snprintf(ifc.name, sizeof(ifc.name), "%s",
			    conf->ifaces[i]);
			child_send(c->id, IMSG_SNIFF_IFACE, -1, &ifc,
			    sizeof(ifc));
		}
		child_send_ebpf(c);
		break;
	}
	case PROC_FW: {
		struct pks_fw_conf	fc = { conf->firewall };

		child_send(c->id, IMSG_FW_CONF, -1, &fc, sizeof(fc));
		for (i = 0; i < conf->nservices; i++) {
			struct pks_fw_service	fs;

			memset(&fs, 0, sizeof(fs));
			fs.proto = conf->services[i].proto;
			fs.port = conf->services[i].port;
			child_send(c->id, IMSG_FW_SERVICE, -1, &fs,
			    sizeof(fs));
		}
		child_send_fw_mode(c);
		break;
	}
	case PROC_TELEGRAM: {
		struct pks_tg_conf	tc;

		memset(&tc, 0, sizeof(tc));
		snprintf(tc.api_url, sizeof(tc.api_url), "%s", conf->api_url);
		tc.poll_timeout = 50;
		tc.front = conf->has_fleet &&
		    conf->fleet_role == PKS_FLEET_FRONT;
		child_send(c->id, IMSG_TG_CONF, -1, &tc, sizeof(tc));
		if (child_send_file(c, IMSG_TG_TOKEN, conf->token_file,
		    "token-file", 1) == -1)
			log_warnx("no token: the bot is not started");
		/* admins see the admin commands in their menu, in their
		 * private chat and in each allowed group */
		for (i = 0; (size_t)i < conf->nadmins; i++)
			child_send(c->id, IMSG_TG_ADMIN, -1, &conf->admins[i],
			    sizeof(conf->admins[i]));
		for (i = 0; (size_t)i < conf->ngrants; i++)
			if (conf->grants[i].kind == GRANT_CHAT &&
			    conf->grants[i].id < 0)
				child_send(c->id, IMSG_TG_GROUP, -1,
				    &conf->grants[i].id,
				    sizeof(conf->grants[i].id));
		child_send_file(c, IMSG_TG_CA, conf->ca_file, "ca-file", 0);
		break;
	}
	case PROC_FLEET:
		child_send_fleet(c);
		break;
	default:
		break;
	}
	child_send(c->id, IMSG_CONF_END, -1, NULL, 0);
}

/*
 * Start a child and send its configuration; 0 if it runs.  The state it
 * must rebuild is the caller's to send (reload.c).
 */
int
child_start(enum pks_proc id)
{
	struct child	*c = &env->child[id];
	char		 path[PATH_MAX];
	char		*argv[2];
	char		*envp[7];
	int		 sv[2], n = 0;
	pid_t		 pid;

	if (!child_wanted(id))
		return -1;
	if (snprintf(path, sizeof(path), "%s/%s", env->libexec,
	    proc_name(id)) >= (int)sizeof(path))
		fatalx("child path too long");
	if (access(path, X_OK) == -1)
		fatal("%s", path);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");

	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0: {
		sigset_t	set;

		sigemptyset(&set);
		sigprocmask(SIG_SETMASK, &set, NULL);
		if (dup2(sv[1], PROC_FD) == -1)
			_exit(127);
		argv[0] = (char *)proc_name(id);
		argv[1] = NULL;
		/* a clean environment; sanitizer settings pass for tests,
		 * and in test builds pks-telegram's pacing, pks-sniffer's
		 * arming delay and pks-fleet's hellos (see there) */
		for (int k = 0; environ[k] != NULL && n < 6; k++)
			if (strncmp(environ[k], "ASAN_OPTIONS=", 13) == 0 ||
			    strncmp(environ[k], "UBSAN_OPTIONS=", 14) == 0
#ifdef PKS_TESTHOOKS
			    || strncmp(environ[k], "PKS_TEST_RATE_DIV=", 18) == 0
			    || strncmp(environ[k], "PKS_TEST_ARM_DELAY_MS=",
			    22) == 0
			    || strncmp(environ[k], "PKS_TEST_HELLO_S=", 17) == 0
#endif
			    )
				envp[n++] = environ[k];
		envp[n] = NULL;
		execve(path, argv, envp);
		_exit(127);
	}
	default:
		break;
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	/* no child sends descriptors: the kernel refuses them here (their
	 * last close could block us, see child_get()) */
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSRIGHTS, &(int){ 0 },
	    sizeof(int)) == -1)
		log_debug("%s: SO_PASSRIGHTS: %s", proc_name(id),
		    strerror(errno));
	if (id == PROC_SNIFFER) {
		/* a new sniffer counts from 0: keep what the last one said */
		env->sniff_past.wrong += env->sniff_now.wrong;
		env->sniff_past.refused += env->sniff_now.refused;
		env->sniff_past.lost += env->sniff_now.lost;
		memset(&env->sniff_now, 0, sizeof(env->sniff_now));
		/* and its commits: nothing is armed in it before its first,
		 * the whole live set (seq_push_all()) */
		env->sniff_gen++;
		env->sniff_commits = env->sniff_armed = 0;
	}
	c->pid = pid;
	c->uid = env->uid;
	c->fd = sv[0];
	c->ready = 0;
	c->planned = 0;
	c->started = mono_now();
	c->restart_at = 0;
	imsgbuf_init(&c->ibuf, sv[0]);
	log_debug("started %s, pid %ld", proc_name(id), (long)pid);
	child_send_conf(c);
	(void)imsgbuf_write(&c->ibuf);
	return 0;
}

/*
 * Send sig to a running child.  Once dropped it runs as the
 * unprivileged user, and the monitor has no CAP_KILL under the unit
 * (a root process without it cannot signal another user's): the
 * signal then goes as that user, which one user's processes may send
 * each other.  A child not yet dropped is still root's.
 */
int
child_signal(enum pks_proc id, int sig)
{
	struct child	*c = &env->child[id];
	int		 r, e;

	if (c->pid == -1)
		return 0;
	if ((r = kill(c->pid, sig)) == -1 && errno == EPERM) {
		if (seteuid(c->uid) == -1) {
			log_warn("%s: seteuid %ld", proc_name(id), (long)c->uid);
			return -1;
		}
		r = kill(c->pid, sig);
		e = errno;
		if (seteuid(0) == -1)
			fatal("seteuid back to root");
		errno = e;
	}
	if (r == -1)
		log_warn("%s: kill", proc_name(id));
	return r;
}

/* Kill a child we no longer trust; reaped, it is restarted. */
void
child_kill(enum pks_proc id, const char *why)
{
	struct child	*c = &env->child[id];

	if (c->pid == -1 && c->fd == -1)
		return;
	log_warnx("%s: %s: killing it", proc_name(id), why);
	c->ready = 0;
	if (c->pid != -1)	/* -1: reaped, its last words being read */
		(void)child_signal(id, SIGKILL);
	if (c->fd != -1) {
		imsgbuf_clear(&c->ibuf);
		close(c->fd);
		c->fd = -1;
	}
}

/*
 * A pid waitpid() returned: the child it was (its pid forgotten at once,
 * so that nothing signals a pid the system may give again), or
 * PROC_MONITOR when it is none of ours.
 */
enum pks_proc
child_reaped(pid_t pid)
{
	int	i;

	for (i = 1; i < PROC_MAX; i++)
		if (env->child[i].pid == pid) {
			env->child[i].pid = -1;
			return i;
		}
	return PROC_MONITOR;
}

/*
 * A reaped child, once what it sent is read: its socket closed, its
 * restart planned.
 */
void
child_gone(enum pks_proc id, int status)
{
	struct child	*c = &env->child[id];
	const char	*name = proc_name(id);
	time_t		 now = mono_now();
	int		 sig;

	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		if (sig == SIGSYS)
			log_warnx("%s: sandbox violation: killed by the "
			    "kernel (SIGSYS)", name);
		else if ((c->planned || env->stopping) && sig == SIGTERM)
			log_debug("%s: stopped", name);
		else
			log_warnx("%s: killed by signal %d (%s)", name, sig,
			    strsignal(sig));
	} else if (WEXITSTATUS(status) != 0)
		log_warnx("%s: exited with status %d", name,
		    WEXITSTATUS(status));
	else if (!c->planned && !env->stopping)
		log_warnx("%s: exited", name);
	if (c->fd != -1) {
		imsgbuf_clear(&c->ibuf);
		close(c->fd);
		c->fd = -1;
	}
	c->pid = -1;
	c->ready = 0;
	if (env->stopping)
		return;

	if (c->planned) {
		c->restart_at = now;
	} else {
		if (now - c->started >= STABLE_AFTER)
			c->backoff = 0;
		c->backoff = c->backoff ? c->backoff * 2 : 1;
		if (c->backoff > BACKOFF_MAX)
			c->backoff = BACKOFF_MAX;
		/* without pks-fw no window closes: never wait long for it */
		if (c->id == PROC_FW)
			c->backoff = 1;
		c->restart_at = now + c->backoff;
		log_info("%s: restarting in %u s", name, c->backoff);
	}
	c->restarts++;
}

/* Restart the children whose time has come; returns those started. */
unsigned int
child_restart_due(time_t now)
{
	unsigned int	started = 0;
	int		i;

	for (i = 1; i < PROC_MAX; i++) {
		struct child	*c = &env->child[i];

		if (c->pid == -1 && c->restart_at != 0 &&
		    c->restart_at <= now) {
			log_info("%s: restarting", proc_name(i));
			if (child_start(i) == 0)
				started |= CHILD_BIT(i);
		}
	}
	return started;
}

/* when the next restart is due, 0 if none is */
time_t
child_next_deadline(void)
{
	time_t	t = 0;
	int	i;

	for (i = 1; i < PROC_MAX; i++) {
		struct child	*c = &env->child[i];

		if (c->pid == -1 && c->restart_at != 0 &&
		    (t == 0 || c->restart_at < t))
			t = c->restart_at;
	}
	return t;
}

/*
 * Queue a message for a child; fd (or -1) goes with it.  A child that is
 * not running gets the whole state again at its restart.  0 if queued,
 * -1 if dropped (an answer to someone is then not sent: the caller
 * decides, see child_taking()).
 */
static int
child_queue(enum pks_proc id, uint32_t type, int fd, const struct iovec *iov,
    int iovcnt)
{
	struct child	*c = &env->child[id];

	if (c->fd == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (imsg_composev(&c->ibuf, type, 0, fd, iov, iovcnt) == -1) {
		/* a lost message would leave the child out of step: a
		 * restart gives it the whole state again */
		log_warn("%s: cannot queue message", proc_name(id));
		if (fd != -1)
			close(fd);
		child_kill(id, errno == ENOBUFS ? "not reading its messages" :
		    "out of step");
		return -1;
	}
	return 0;
}

/* 0 if queued, -1 if dropped (child_queue()) */
int
child_sendv(enum pks_proc id, uint32_t type, const struct iovec *iov,
    int iovcnt)
{
	return child_queue(id, type, -1, iov, iovcnt);
}

/*
 * Whether a child takes what is queued for it now: running, and not on
 * its way out (a reload stops it; what it has not read dies with it).
 * An answer to someone that a child would not pass on is not sent: the
 * origin says so (struct origin's reply), and a sequence it held is
 * revoked (request.c).
 */
int
child_taking(enum pks_proc id)
{
	const struct child	*c = &env->child[id];

	return c->pid != -1 && c->fd != -1 && !c->planned;
}

void
child_send(enum pks_proc id, uint32_t type, int fd, const void *data,
    size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)data;
	iov.iov_len = len;
	(void)child_queue(id, type, fd, &iov, data != NULL ? 1 : 0);
}

void
child_flush_all(void)
{
	int	i;

	for (i = 1; i < PROC_MAX; i++) {
		struct child	*c = &env->child[i];

		if (c->fd == -1 || !imsgbuf_pending(&c->ibuf))
			continue;
		if (imsgbuf_write(&c->ibuf) == -1 && errno != EPIPE)
			log_warn("%s: write", proc_name(i));
	}
}

int
child_all_ready(void)
{
	int	i;

	for (i = 1; i < PROC_MAX; i++)
		if (child_wanted(i) && !env->child[i].ready)
			return 0;
	return 1;
}

/* Send sig to every running child. */
void
child_stop_all(int sig)
{
	int	i;

	for (i = 1; i < PROC_MAX; i++)
		(void)child_signal(i, sig);
}

/*
 * A child's log line, written under its name.  The text is untrusted:
 * one printable line, control characters (C0, DEL, C1) replaced.
 */
void
child_log(enum pks_proc id, const struct pks_log *pl, const char *text,
    size_t len)
{
	struct child	*c = &env->child[id];
	char		 buf[1100];

	text_clean(buf, sizeof(buf), text, len);
	if (env->log_stderr) {
		fprintf(stderr, "%s: %s\n", proc_name(id), buf);
		fflush(stderr);
	} else
		log_syslog(proc_name(id), c->pid, pl->prio, buf,
		    strlen(buf));
}

void
child_ready(enum pks_proc id)
{
	env->child[id].ready = 1;
	log_debug("%s: ready", proc_name(id));
}

/* Whether pks-sniffer is capturing: only then is a sequence worth it. */
int
child_hearing(void)
{
	const struct child	*c = &env->child[PROC_SNIFFER];

	return c->pid != -1 && c->ready;
}

/*
 * Read what a child sent.  1: read; 0: nothing yet; -1: the child is
 * gone or killed, its socket closed.
 */
int
child_read(enum pks_proc id)
{
	struct child	*c = &env->child[id];
	ssize_t		 n;

	if (c->fd == -1)
		return -1;
	if ((n = imsgbuf_read(&c->ibuf)) == -1) {
		if (errno == EAGAIN)
			return 0;
		/* a child that exits with our messages unread: the kernel
		 * says so with ECONNRESET instead of EOF; it is not a
		 * reason to distrust it (reaped, it is restarted) */
		if (errno != ECONNRESET) {
			log_warn("%s: read", proc_name(id));
			child_kill(id, "unreadable socket");
			return -1;
		}
		log_debug("%s: closed its socket with messages unread",
		    proc_name(id));
		n = 0;
	}
	if (n == 0) {
		/* EOF: the child is exiting; reaped, it is restarted */
		imsgbuf_clear(&c->ibuf);
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 1;
}

/*
 * The next message already read from a child: 1 and *im (to be freed
 * with imsg_free), or 0 when there is none (or the child was killed
 * over it).  A message carrying a descriptor, or broken framing, kills
 * the child: no child sends descriptors.  Out of memory is ours: the
 * message stays buffered and the main loop asks again.
 */
int
child_get(enum pks_proc id, struct imsg *im)
{
	struct child	*c = &env->child[id];
	int		 r;

	if (c->fd == -1 || c->ibuf.rlen == 0)
		return 0;
	if ((r = imsg_get(&c->ibuf, im)) == 1) {
		if (im->fd != -1) {
			/* a socket with unsent data and SO_LINGER would
			 * block this close (ours may be the last): reset
			 * it instead of lingering */
			(void)setsockopt(im->fd, SOL_SOCKET, SO_LINGER,
			    &(struct linger){ 1, 0 }, sizeof(struct linger));
			close(im->fd);
			im->fd = -1;
			imsg_free(im);
			child_kill(id, "sent a file descriptor");
			return 0;
		}
		return 1;
	}
	if (r == -1 && errno != EBADMSG)
		log_warn("%s: reading a message", proc_name(id));
	else if (r == -1) {
		log_warnx("%s: malformed message framing", proc_name(id));
		child_kill(id, "compromised");
	}
	return 0;
}

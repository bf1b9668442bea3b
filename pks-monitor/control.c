/*
 * control.c: the local control socket that pksctl(8) talks to.
 *
 * A unix stream socket only root may use (mode 0600, and the peer's
 * credentials are checked).  One request line per connection, a text
 * answer, then the monitor closes.  Requests are short and bounded.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monitor.h"
#include "proc.h"

#define CTL_REQ_MAX	256
#define CTL_IDLE	5	/* seconds a client may take to ask */

struct ctl_conn {
	int	fd;
	time_t	since;
	size_t	len;
	char	buf[CTL_REQ_MAX];
};

static int		ctl_fd = -1;
static struct ctl_conn	ctl_conn[CTL_MAX_CONN];
static char		ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

int
control_init(const char *path)
{
	struct sockaddr_un	 sun;
	char			 dir[PATH_MAX];
	mode_t			 old;
	int			 i;

	for (i = 0; i < CTL_MAX_CONN; i++)
		ctl_conn[i].fd = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("control-socket %s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	/* the directory (/run/pks) may not exist yet after a boot */
	if (mkdir(dirname(dir), 0755) == -1 && errno != EEXIST) {
		log_warn("control-socket directory %s", dir);
		return -1;
	}
	if ((ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		log_warn("control socket");
		return -1;
	}
	/* a stale socket from a crash: only if nobody answers on it */
	if (connect(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		log_warnx("control-socket %s: another pks-monitor is running",
		    path);
		close(ctl_fd);
		ctl_fd = -1;
		return -1;
	}
	unlink(path);
	old = umask(0077);
	if (bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_warn("control-socket %s", path);
		close(ctl_fd);
		ctl_fd = -1;
		return -1;
	}
	umask(old);
	if (chmod(path, 0600) == -1 || listen(ctl_fd, 8) == -1) {
		log_warn("control-socket %s", path);
		close(ctl_fd);
		ctl_fd = -1;
		return -1;
	}
	snprintf(ctl_path, sizeof(ctl_path), "%s", path);
	return 0;
}

void
control_cleanup(void)
{
	int	i;

	if (ctl_fd == -1)
		return;
	close(ctl_fd);
	ctl_fd = -1;
	unlink(ctl_path);
	for (i = 0; i < CTL_MAX_CONN; i++)
		if (ctl_conn[i].fd != -1) {
			close(ctl_conn[i].fd);
			ctl_conn[i].fd = -1;
		}
}

/* fill pfd with the listener and the connections; returns how many */
int
control_pollfds(struct pollfd *pfd)
{
	int	i, n = 0;

	if (ctl_fd == -1)
		return 0;
	pfd[n].fd = ctl_fd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < CTL_MAX_CONN; i++) {
		pfd[n].fd = ctl_conn[i].fd;
		pfd[n++].events = POLLIN;
	}
	return n;
}

static void
out(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out(int fd, const char *fmt, ...)
{
	struct text	t = { .len = 0 };
	va_list		ap;

	va_start(ap, fmt);
	text_vadd(&t, fmt, ap);
	va_end(ap);
	/* the client is root and waiting: a short blocking write is fine */
	(void)!write(fd, t.buf, t.len);
}

static void
fmt_dur(char *buf, size_t len, long s)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lds", s);
}

/*
 * Most new connections first.  An insertion sort, not qsort(3): glibc's
 * asks sysinfo(2) for the memory size past 1 KB of data, a call a
 * confined monitor need not make for a status line.
 */
static void
sort_observed(struct pks_fw_observed *o, size_t n)
{
	struct pks_fw_observed	t;
	size_t			i, j;

	for (i = 1; i < n; i++) {
		t = o[i];
		for (j = i; j > 0 && o[j - 1].count < t.count; j--)
			o[j] = o[j - 1];
		o[j] = t;
	}
}

/* the name of the service on proto/port, into buf */
static const char *
svc_name(uint8_t proto, uint16_t port, char *buf, size_t len)
{
	const struct pks_conf	*c = env->conf;
	int			 i;

	for (i = 0; i < c->nservices; i++)
		if (c->services[i].proto == proto &&
		    c->services[i].port == port)
			return c->services[i].name;
	snprintf(buf, len, "%s/%u", proto == IPPROTO_TCP ? "tcp" : "udp",
	    port);
	return buf;
}

/* the mode, what mode observe counted, the allow-always prefixes */
static void
ctl_mode(int fd)
{
	static struct pks_fw_observed	 o[sizeof(env->observed) /
					    sizeof(env->observed[0])];
	const struct pks_conf		*c = env->conf;
	char				 a[INET6_ADDRSTRLEN], b[16];
	char				 since[32];
	struct tm			*tm;
	unsigned long long		 total = 0;
	size_t				 i, n = env->nobserved;
	int				 j;

	if (c->mode == PKS_MODE_OBSERVE) {
		memcpy(o, env->observed, n * sizeof(o[0]));
		sort_observed(o, n);
		for (i = 0; i < n; i++)
			total += o[i].count;
		out(fd, "mode observe: nothing dropped, %llu new connection%s "
		    "mode enforce would drop", total, total == 1 ? "" : "s");
		if (n > 0 && (tm = gmtime(&env->observed_since)) != NULL &&
		    strftime(since, sizeof(since), "%Y-%m-%d %H:%M UTC",
		    tm) > 0)
			out(fd, " since %s", since);
		out(fd, "\n");
		if (n > 0)
			out(fd, "%-39s %-12s %s\n", "WOULD-DROP SOURCE",
			    "SERVICE", "NEW");
		for (i = 0; i < n; i++)
			out(fd, "%-39s %-12s %llu\n", o[i].af == 0 ?
			    "(other sources)" : addr_str(o[i].af, o[i].addr, a,
			    sizeof(a)), svc_name(o[i].proto, o[i].port, b,
			    sizeof(b)), (unsigned long long)o[i].count);
	} else
		out(fd, "mode enforce\n");
	for (i = 0; i < (size_t)c->nalways; i++) {
		out(fd, "allow-always %s/%u to", addr_str(c->always[i].af,
		    c->always[i].addr, a, sizeof(a)), c->always[i].plen);
		for (j = 0; j < c->nservices; j++)
			if (c->always[i].services & (1ULL << j))
				out(fd, " %s", c->services[j].name);
		out(fd, "\n");
	}
}

/* "lockdown off", or for how long and by whom it is ON */
static void
ctl_lockdown_show(int fd)
{
	char	for_[32];

	if (!env->state.lockdown) {
		out(fd, "lockdown off\n");
		return;
	}
	fmt_dur(for_, sizeof(for_), time(NULL) - env->state.lock_since);
	if (env->state.lock_by == 0)
		out(fd, "lockdown ON for %s, by pksctl\n", for_);
	else
		out(fd, "lockdown ON for %s, by %lld\n", for_,
		    (long long)env->state.lock_by);
}

static void
ctl_status(int fd)
{
	const struct sequence	*q;
	const struct window	*w;
	time_t			 now = mono_now();
	char			 up[32];
	int			 i, ns = 0, nw = 0;

	fmt_dur(up, sizeof(up), now - env->started);
	out(fd, "%-13s %-8s %-9s %-9s %s\n", "PROCESS", "PID", "UPTIME",
	    "RESTARTS", "STATE");
	out(fd, "%-13s %-8ld %-9s %-9s %s\n", "pks-monitor", (long)getpid(),
	    up, "-", "running");
	for (i = 1; i < PROC_MAX; i++) {
		struct child	*c = &env->child[i];

		if (c->pid == -1 && c->restart_at == 0) {
			out(fd, "%-13s %-8s %-9s %-9u %s\n", proc_name(i), "-",
			    "-", c->restarts, "not configured");
			continue;
		}
		fmt_dur(up, sizeof(up), now - c->started);
		out(fd, "%-13s %-8ld %-9s %-9u %s\n", proc_name(i),
		    (long)c->pid, c->pid == -1 ? "-" : up, c->restarts,
		    c->pid == -1 || c->planned ? "restarting" :
		    c->ready ? "ready" : "starting");
	}
	for (q = NULL; (q = seq_each(q, 0)) != NULL;)
		ns++;
	for (w = NULL; (w = win_each(w, 0, 1)) != NULL;)
		nw++;
	out(fd, "sequences %d, windows %d, configuration %s\n", ns, nw,
	    env->conf_path);
	ctl_lockdown_show(fd);
	out(fd, "grants %zu, state file %s%s\n", env->state.ngrants,
	    env->conf->state_file, env->state_refused ?
	    " (refused at start: see the log)" : "");
	for (ns = 0, q = NULL; (q = seq_each_recovery(q)) != NULL;)
		ns++;
	fmt_dur(up, sizeof(up), env->conf->recovery_valid);
	out(fd, "recovery sequences %d (%d ports, valid %s when issued)\n", ns,
	    seq_recovery_len(env->conf), up);
	out(fd, "firewall %s\n", env->fw_backend.backend == PKS_FW_NFTABLES ?
	    "nftables" : env->fw_backend.backend == PKS_FW_IPTABLES ?
	    "iptables" : "(not set up yet)");
	ctl_mode(fd);
	out(fd, "wrong hits %llu (refused starts %llu, capture lost %llu)\n",
	    (unsigned long long)(env->sniff_past.wrong + env->sniff_now.wrong),
	    (unsigned long long)(env->sniff_past.refused +
	    env->sniff_now.refused),
	    (unsigned long long)(env->sniff_past.lost + env->sniff_now.lost));
}

/* a name from Telegram, for a terminal: no control character (C0, C1) */
static const char *
clean(const char *s, char *buf, size_t len)
{
	text_clean(buf, len, s, strlen(s));
	return buf;
}

static void
ctl_grants(int fd)
{
	const struct grant	*g;
	time_t			 now = mono_now();
	char			 left[32], nm[64];
	size_t			 i;

	out(fd, "%-16s %-20s %-12s %-16s %s\n", "USER-ID", "NAME", "SERVICE",
	    "BY", "LEFT");
	for (i = 0; i < env->state.ngrants; i++) {
		g = &env->state.grants[i];
		if (g->until == 0)
			snprintf(left, sizeof(left), "-");
		else
			fmt_dur(left, sizeof(left), g->until - now);
		out(fd, "%-16lld %-20.20s %-12s %-16lld %s%s\n",
		    (long long)g->user, g->name[0] ? clean(g->name, nm,
		    sizeof(nm)) : "-",
		    g->service, (long long)g->by, left,
		    conf_service_index(env->conf, g->service) == -1 ?
		    " (no such service)" : "");
	}
}

static void
ctl_sequences(int fd, int verbose)
{
	const struct sequence	*q;
	time_t			 now = mono_now();
	char			 left[32], nm[64];
	int			 i;

	out(fd, "%-8s %-20s %-16s %-12s %s%s\n", "ID", "OWNER", "USER-ID",
	    "SERVICE", "EXPIRES", verbose ? " PORTS" : "");
	for (q = NULL; (q = seq_each(q, 0)) != NULL;) {
		fmt_dur(left, sizeof(left), q->expires - now);
		out(fd, "%-8u %-20.20s %-16lld %-12s %-7s", q->seq.id,
		    clean(q->user_name, nm, sizeof(nm)), (long long)q->user_id,
		    q->svcname, left);
		if (verbose)
			for (i = 0; i < q->seq.len; i++)
				out(fd, " %u", q->seq.ports[i]);
		out(fd, "\n");
	}
}

static void
ctl_windows(int fd)
{
	const struct window	*w;
	time_t			 now = mono_now();
	char			 a[INET6_ADDRSTRLEN], left[32], nm[64];

	out(fd, "%-39s %-12s %-20s %s\n", "ADDRESS", "SERVICE", "OWNER",
	    "LEFT");
	for (w = NULL; (w = win_each(w, 0, 1)) != NULL;) {
		if (w->state == WIN_CLOSING)
			snprintf(left, sizeof(left), "closing");
		else
			fmt_dur(left, sizeof(left), win_left(w, now));
		out(fd, "%-39s %-12s %-20.20s %s\n",
		    addr_str(w->w.af, w->w.addr, a, sizeof(a)), w->svcname,
		    clean(w->user_name, nm, sizeof(nm)), left);
	}
}

static void
ctl_recovery_list(int fd)
{
	const struct sequence	*q;
	time_t			 now = mono_now();
	char			 left[32], since[32];
	struct tm		 tm;

	out(fd, "%-10s %-16s %-12s %-6s %-9s %-17s %s\n", "ID", "USER-ID",
	    "SERVICE", "PORTS", "LEFT", "ISSUED", "BY");
	for (q = NULL; (q = seq_each_recovery(q)) != NULL;) {
		fmt_dur(left, sizeof(left), q->expires - now);
		gmtime_r(&q->since, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%MZ", &tm);
		out(fd, "%-10u %-16lld %-12s %-6u %-9s %-17s ", q->seq.id,
		    (long long)q->user_id, q->svcname, q->seq.len, left, since);
		if (q->by == 0)
			out(fd, "pksctl\n");
		else
			out(fd, "%lld\n", (long long)q->by);
	}
}

/*
 * The answer of a change made from the console (rc -1: refused), and
 * the line for the admins who follow admin actions, told by Telegram.
 */
static void
ctl_answer(int fd, int rc, const struct reply *rp, const struct reply *nt)
{
	struct text	t;

	reply_plain(rp, &t);
	out(fd, "%s%.*s\n", rc == -1 ? "error: " : "", (int)t.len, t.buf);
	if (nt->t.len > 0)
		telegram_origin.notify(0, nt);
}

/*
 * pksctl recovery: list; USER-ID SERVICE [COUNT]: issue; revoke ID|all.
 * The admins who follow admin actions hear of an issue or a revocation.
 */
static void
ctl_recovery(int fd, int argc, char **argv)
{
	struct reply	 rp, nt;
	int64_t		 user, v = 1;
	int		 rc;

	reply_init(&rp);
	reply_init(&nt);
	if (argc == 1) {
		ctl_recovery_list(fd);
		return;
	}
	if (strcmp(argv[1], "revoke") == 0) {
		if (argc != 3 || (strcmp(argv[2], "all") != 0 &&
		    num_parse(argv[2], 1, UINT32_MAX, &v) == -1)) {
			out(fd, "error: recovery revoke ID|all\n");
			return;
		}
		if (strcmp(argv[2], "all") == 0)
			v = 0;
		rc = recovery_revoke((uint32_t)v, 0, NULL, &rp, &nt);
	} else {
		if (argc > 4 || argc < 3) {
			out(fd, "error: recovery [USER-ID SERVICE [COUNT] | "
			    "revoke ID|all]\n");
			return;
		}
		if (user_id_parse(argv[1], &user) == -1) {
			out(fd, "error: recovery: \"%s\" is not a user id\n",
			    argv[1]);
			return;
		}
		if (argc == 4 && num_parse(argv[3], 1, INT32_MAX, &v) == -1) {
			out(fd, "error: recovery: COUNT \"%s\" is not a "
			    "positive number\n", argv[3]);
			return;
		}
		rc = recovery_issue(user, argv[2], (unsigned int)v, 0, NULL,
		    &rp, &nt);
	}
	ctl_answer(fd, rc, &rp, &nt);
}

/*
 * pksctl lockdown: show; on: set; off: lift.  The same change as an
 * admin's /lockdown and /unlock (admin.c), made by the console: for when
 * Telegram or the bot token is not there to lift one.
 */
static void
ctl_lockdown(int fd, int argc, char **argv)
{
	struct reply	 rp, nt;
	int		 on;

	if (argc == 1) {
		ctl_lockdown_show(fd);
		return;
	}
	if (argc != 2) {
		out(fd, "error: lockdown [on|off]\n");
		return;
	}
	if (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0) {
		out(fd, "error: lockdown: \"%s\" is neither on nor off\n",
		    argv[1]);
		return;
	}
	on = strcmp(argv[1], "on") == 0;
	reply_init(&rp);
	reply_init(&nt);
	ctl_answer(fd, admin_lockdown(on, 0, "", &rp, &nt), &rp, &nt);
}

static void
ctl_request(int fd, char *req)
{
	char		*argv[5], *p;
	int		 argc = 0, n;
	int64_t		 id;
	uint8_t		 addr[16];
	int		 af;

	for (p = strtok(req, " \t"); p != NULL && argc < 5;
	    p = strtok(NULL, " \t"))
		argv[argc++] = p;
	if (p != NULL) {
		out(fd, "error: too many words\n");
		return;
	}
	if (argc == 0) {
		out(fd, "error: empty request\n");
		return;
	}
	if (strcmp(argv[0], "status") == 0 && argc == 1)
		ctl_status(fd);
	else if (strcmp(argv[0], "sequences") == 0 && argc == 1)
		ctl_sequences(fd, 0);
	else if (strcmp(argv[0], "sequences") == 0 && argc == 2 &&
	    strcmp(argv[1], "-v") == 0)
		ctl_sequences(fd, 1);
	else if (strcmp(argv[0], "windows") == 0 && argc == 1)
		ctl_windows(fd);
	else if (strcmp(argv[0], "grants") == 0 && argc == 1)
		ctl_grants(fd);
	else if (strcmp(argv[0], "recovery") == 0)
		ctl_recovery(fd, argc, argv);
	else if (strcmp(argv[0], "lockdown") == 0)
		ctl_lockdown(fd, argc, argv);
	else if (strcmp(argv[0], "fleet") == 0 && argc == 1) {
		struct text	t;

		memset(&t, 0, sizeof(t));
		fleet_show(&t);
		text_finish(&t);
		out(fd, "%s", t.buf);
	}
	else if (strcmp(argv[0], "revoke") == 0 && argc == 2) {
		if (strcmp(argv[1], "all") == 0)
			n = seq_revoke_user(0, 1);
		else if (user_id_parse(argv[1], &id) == 0)
			n = seq_revoke_user(id, 0);
		else {
			out(fd, "error: %s: not a user id or \"all\"\n",
			    argv[1]);
			return;
		}
		log_info("pksctl: revoked %d sequence(s) of %s", n, argv[1]);
		out(fd, "revoked %d sequence%s\n", n, n == 1 ? "" : "s");
	} else if (strcmp(argv[0], "close") == 0 && argc == 2) {
		if (addr_parse(argv[1], &af, addr) == 0)
			n = win_close_addr(af, addr);
		else {
			out(fd, "error: %s: not an IPv4 or IPv6 address\n",
			    argv[1]);
			return;
		}
		log_info("pksctl: closing %d window(s) of %s", n, argv[1]);
		out(fd, "closing %d window%s\n", n, n == 1 ? "" : "s");
	} else if (strcmp(argv[0], "reload") == 0 && argc == 1) {
		out(fd, "%s\n", monitor_reload() == 0 ? "reloaded" :
		    "error: configuration has errors, see the log; the "
		    "running one stays");
	} else
		out(fd, "error: unknown request \"%s\"\n", argv[0]);
}

static void
ctl_close(struct ctl_conn *c)
{
	close(c->fd);
	c->fd = -1;
}

static void
ctl_accept(void)
{
	struct ucred	cred;
	socklen_t	len = sizeof(cred);
	int		fd, i;

	if ((fd = accept4(ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	    == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    cred.uid != 0) {
		log_warnx("control socket: refused a client of uid %ld",
		    (long)cred.uid);
		close(fd);
		return;
	}
	for (i = 0; i < CTL_MAX_CONN; i++)
		if (ctl_conn[i].fd == -1) {
			ctl_conn[i].fd = fd;
			ctl_conn[i].len = 0;
			ctl_conn[i].since = mono_now();
			return;
		}
	close(fd);		/* busy */
}

static void
ctl_read(struct ctl_conn *c)
{
	ssize_t	 n;
	char	*nl;
	int	 fl;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_close(c);
		return;
	}
	c->len += n;
	c->buf[c->len] = '\0';
	if ((nl = strchr(c->buf, '\n')) == NULL) {
		if (c->len >= sizeof(c->buf) - 1) {
			out(c->fd, "error: request too long\n");
			ctl_close(c);
		}
		return;
	}
	*nl = '\0';
	if ((fl = fcntl(c->fd, F_GETFL)) != -1)
		fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
	ctl_request(c->fd, c->buf);
	ctl_close(c);
}

void
control_dispatch(struct pollfd *pfd, int n)
{
	time_t	now = mono_now();
	int	i;

	if (n == 0)
		return;
	if (pfd[0].revents & POLLIN)
		ctl_accept();
	for (i = 0; i < CTL_MAX_CONN; i++) {
		struct ctl_conn	*c = &ctl_conn[i];

		if (c->fd == -1)
			continue;
		if (pfd[i + 1].fd == c->fd &&
		    (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
			ctl_read(c);
		else if (now - c->since > CTL_IDLE)
			ctl_close(c);
	}
}

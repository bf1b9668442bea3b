/*
 * pks-monitor: the root supervisor of PKS.
 *
 * Reads the configuration, starts the children, owns the state
 * (sequences and windows) and decides.  It parses no packet and no
 * HTTP, and listens to no network socket.
 */
#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ebpf.h"
#include "log.h"
#include "monitor.h"
#include "privsep.h"
#include "proc.h"
#include "sandbox.h"

struct monitor	*env;

/*
 * The exit status of a configuration refused at start (sysexits'
 * EX_CONFIG): the unit's RestartPreventExitStatus= stops the restart
 * loop on it, since starting again cannot help.
 */
#define EXIT_CONFIG	78
/* reads of a reaped child's socket at most: 64 full buffers, more than
 * any socket holds */
#define LAST_WORDS_READS	64

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: pks-monitor [-dnv] [-f file]\n");
	exit(1);
}

/*
 * Children live beside the monitor in the build tree; installed, in
 * LIBEXECDIR.
 */
static void
find_libexec(void)
{
	char	self[PATH_MAX], *dir;
	ssize_t	n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		fatal("readlink /proc/self/exe");
	self[n] = '\0';
	dir = dirname(self);
	if (strcmp(dir, SBINDIR) == 0)
		strncpy(env->libexec, LIBEXECDIR, sizeof(env->libexec) - 1);
	else
		strncpy(env->libexec, dir, sizeof(env->libexec) - 1);
}

/*
 * The children that exited.  Once reaped, a child has written all it
 * will: what its socket holds (pks-fw's last counts of mode observe)
 * is read before the socket closes, however the exits of several
 * children interleave with our reads.  A worker that exits takes its
 * pending requests with it.
 */
static void
reap(void)
{
	unsigned int	gone = 0;
	pid_t		pid;
	int		status, i, n;
	enum pks_proc	id;

	for (;;) {
#ifdef PKS_TESTHOOKS
		testhook_reap_pause();
#endif
		if ((pid = waitpid(-1, &status, WNOHANG)) <= 0)
			break;
		if ((id = child_reaped(pid)) == PROC_MONITOR)
			continue;
		/* bounded: had the dead child passed its end on (none
		 * does; a compromised one might), writes could go on */
		for (n = 0; n < LAST_WORDS_READS &&
		    monitor_dispatch_imsg(id, 1) == 1; n++)
			;
		child_gone(id, status);
		gone |= CHILD_BIT(id);
	}

	for (i = 1; i < PROC_MAX; i++)
		if (gone & CHILD_BIT(i))
			ready_child_down(i);
	if (gone & CHILD_BIT(PROC_TELEGRAM)) {
		request_origin_gone(&telegram_origin);
		fleet_tg_gone();
	}
	if (gone & CHILD_BIT(PROC_FLEET))
		fleet_child_gone();
}

/*
 * SIGTERM: close every window, wait (briefly) for pks-fw to confirm,
 * then stop the children.
 */
static void
shutdown_all(int sfd)
{
	struct pollfd	pfd[2];
	struct child	*fw = &env->child[PROC_FW];
	time_t		 end;

	env->stopping = 1;
	ready_stopping();
	log_info("stopping: closing all windows");
	win_close_all();
	child_flush_all();
	end = mono_now() + 5;
	while (fw->fd != -1 && env->windows != NULL && mono_now() < end) {
		pfd[0].fd = fw->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, 500) > 0 && (pfd[0].revents & (POLLIN |
		    POLLHUP)))
			monitor_dispatch_imsg(PROC_FW, 1);
		reap();
	}
	if (env->windows != NULL)
		log_warnx("pks-fw did not confirm the close of every window");
	if (env->observed_dirty)	/* counts of mode observe */
		grants_save();
	child_stop_all(SIGTERM);
	end = mono_now() + 5;
	for (;;) {
		int	i, alive = 0;

		reap();
		for (i = 1; i < PROC_MAX; i++)
			if (env->child[i].pid != -1)
				alive = 1;
		if (!alive)
			break;
		if (mono_now() >= end) {
			child_stop_all(SIGKILL);
			end = mono_now() + 5;
		}
		poll(NULL, 0, 20);
	}
	log_info("stopped");
}

/*
 * Under systemd, stderr may be a journal stream: then log to syslog
 * ourselves, so each process keeps its own name (journalctl -t).
 */
static int
stderr_is_journal(void)
{
	struct stat		 st;
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

static char	pidfile[PATH_MAX];

/*
 * What the children need from the system, checked before anything
 * starts, with a clear error: the unprivileged user, and an empty
 * root-owned directory to chroot into (created if missing).
 */
static void
prepare_system(void)
{
	struct stat	 st;
	const char	*dir = env->conf->chroot;

	if (privsep_lookup_user(env->conf->user, &env->uid,
	    &env->gid) == -1) {
		log_warnx("user \"%s\" does not exist (or is root): create it "
		    "(useradd --system %s) or set \"user\" in %s",
		    env->conf->user, env->conf->user, env->conf_path);
		exit(EXIT_CONFIG);
	}
	if (stat(dir, &st) == -1) {
		if (errno != ENOENT)
			fatal("chroot %s", dir);
		if (mkdir(dir, 0755) == -1) {
			log_warn("chroot %s: cannot create it (under "
			    "systemd, see READ-ONLY PATHS in pks.conf(5))", dir);
			exit(EXIT_CONFIG);
		}
		log_info("created the chroot directory %s", dir);
	}
	privsep_check_chroot(dir);	/* the rule the children apply */
}

/*
 * The range filter in the kernel (common/ebpf.c), made once, here,
 * before the monitor's seccomp filter: bpf(2) is in no allow-list, and
 * every sniffer, restarted or not, gets these.  Refused (no bpf(2), no
 * CAP_BPF, a verifier that says no): the sniffers read the whole knock
 * range as before, judging each packet in user space; said once.
 */
static void
ebpf_init(void)
{
	char	 why[256];

	env->ebpf_map = env->ebpf_prog = env->ebpf_wake = -1;
#ifdef PKS_TESTHOOKS
	if (getenv("PKS_TEST_NO_EBPF") != NULL) {
		log_warnx("range filter: not in the kernel (test hook "
		    "PKS_TEST_NO_EBPF): pks-sniffer judges the whole knock "
		    "range itself");
		return;
	}
#endif
	env->ebpf_buckets = ebpf_buckets(env->conf->max_sources);
	if (ebpf_make(env->ebpf_buckets, &env->ebpf_map, &env->ebpf_prog,
	    &env->ebpf_wake, why, sizeof(why)) == -1)
		log_warnx("range filter: not in the kernel (eBPF: %s): "
		    "pks-sniffer judges the whole knock range itself", why);
	else
		log_debug("range filter: eBPF, in the kernel");
}

/* beside the control socket: /run/pks/pks-monitor.pid by default */
static void
pidfile_write(void)
{
	char	 dir[PATH_MAX];
	FILE	*f;
	int	 fd;

	snprintf(dir, sizeof(dir), "%s", env->conf->control_socket);
	snprintf(pidfile, sizeof(pidfile), "%s/pks-monitor.pid",
	    dirname(dir));
	if ((fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("pid file %s", pidfile);
		pidfile[0] = '\0';
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/*
 * The one place that knows when the loop must wake: it asks each module
 * for its next deadline.  In time_t, clamped: a deadline weeks away
 * must not overflow the poll timeout.
 */
static int
next_timeout(time_t now)
{
	time_t	t[6], next = 0;
	int	i;

	t[0] = seq_next_deadline();
	t[1] = win_next_deadline();
	t[2] = grants_next_deadline();
	t[3] = child_next_deadline();
	t[4] = fleet_next_deadline();
	t[5] = request_next_deadline();
	for (i = 0; i < 6; i++)
		if (t[i] != 0 && (next == 0 || t[i] < next))
			next = t[i];
	/* wake at least once a second: idle control clients, clocks */
	if (next == 0 || next - now > 1)
		return 1000;
	/* and at the very start of the deadline's second: a second's
	 * sleep from whenever the loop last woke would end a window up to
	 * a second after its time */
	return (int)mono_ms_until(next < now ? now : next);
}

static void
main_loop(void)
{
	struct pollfd		 pfd[PROC_MAX + CONTROL_NFDS];
	struct signalfd_siginfo	 si;
	sigset_t		 set;
	int			 sfd, i, n, nctl;
	time_t			 now;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);

	for (i = 1; i < PROC_MAX; i++)
		if (child_start(i) == 0)
			monitor_started(CHILD_BIT(i));

	for (;;) {
		child_flush_all();
		now = mono_now();
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		for (i = 1; i < PROC_MAX; i++) {
			struct child	*c = &env->child[i];

			pfd[i].fd = c->fd;
			pfd[i].events = POLLIN;
			if (c->fd != -1 && imsgbuf_pending(&c->ibuf))
				pfd[i].events |= POLLOUT;
		}
		nctl = control_pollfds(pfd + PROC_MAX);
		n = poll(pfd, PROC_MAX + nctl, next_timeout(now));
		if (n == -1 && errno != EINTR)
			fatal("poll");
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				switch (si.ssi_signo) {
				case SIGTERM:
				case SIGINT:
					shutdown_all(sfd);
					control_cleanup();
					if (pidfile[0] != '\0')
						unlink(pidfile);
					return;
				case SIGHUP:
					monitor_reload();
					break;
				case SIGCHLD:
					reap();
					break;
				}
			}
		}
		for (i = 1; i < PROC_MAX; i++) {
			if (pfd[i].fd == -1 || env->child[i].fd == -1)
				continue;
			monitor_dispatch_imsg(i, n > 0 &&
			    (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)));
		}
		control_dispatch(pfd + PROC_MAX, n > 0 ? nctl : 0);
		now = mono_now();
		request_expire(now);
		seq_expire(now);
		win_expire(now);
		grants_expire(now);
		grants_sync();
		fleet_expire(now);
		reap();
		monitor_started(child_restart_due(now));
	}
}

int
main(int argc, char *argv[])
{
	static struct monitor	 m;
	const char		*why;
	int			 ch, check = 0;

	env = &m;
	env->conf_path = CONF_DEFAULT_PATH;
	log_init("pks-monitor", 1, 0);
	ready_init();

	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
			env->foreground = 1;
			break;
		case 'f':
			env->conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			env->verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/*
	 * Under systemd, stderr is the journal, which names the process
	 * itself: log to syslog instead of "pks-monitor: " on stderr.
	 */
	if (stderr_is_journal())
		log_init("pks-monitor", 0, 0);
	log_setverbose(env->verbose);
#ifdef PKS_TESTHOOKS
	/* before the configuration: a bad hook is fatal, as in a child */
	if (!check)
		testhook_init();
#endif
	/* daemon(3) moves to /: keep the path valid for SIGHUP */
	if (env->conf_path[0] != '/') {
		static char	abspath[PATH_MAX];

		if (realpath(env->conf_path, abspath) != NULL)
			env->conf_path = abspath;
	}
	if ((env->conf = conf_load(env->conf_path)) == NULL)
		exit(check ? 1 : EXIT_CONFIG);
	ready_check_ifaces(env->conf);
	if ((why = seq_recovery_refused(env->conf)) != NULL)
		log_warnx("%s: %s (%d ports): pksctl recovery will refuse",
		    env->conf_path, why, seq_recovery_len(env->conf));
	if (check) {
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}
	if (geteuid() != 0)
		fatalx("need root privileges");

	env->log_stderr = env->foreground && !stderr_is_journal();
	log_init("pks-monitor", env->log_stderr, env->verbose);
	prepare_system();
	if (!env->foreground && daemon(0, 0) == -1)
		fatal("daemon");
	find_libexec();
	if (control_init(env->conf->control_socket) == -1)
		exit(1);
	pidfile_write();
	env->started = mono_now();
	env->started_ms = mono_ms();
	ebpf_init();
	child_init_all();
	recovery_init(&telegram_origin);
	grants_init();
#ifdef PKS_TESTHOOKS
	testhook_seqs();
	/* SIGUSR2: a forbidden call, as the children's (t_monitor_sandbox) */
	sandbox_test_signals();
#endif
	/* started: from here on, only what the monitor and its children
	 * need (sandbox.c) */
	monitor_sandbox();
	log_info("starting, configuration %s", env->conf_path);
	main_loop();
	conf_free(env->conf);
	return 0;
}

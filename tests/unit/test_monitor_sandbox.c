/*
 * test_monitor_sandbox: pks-monitor's own seccomp allow-list
 * (pks-monitor/sandbox.c) holds at the largest workload the monitor
 * meets after start-up, and refuses what it must.  In a child under the
 * real list: a reload of the largest configuration (thousands of user
 * and chat ids: the parser's qsort(3) goes through sysinfo(2)), the
 * state file at STATE_GRANTS_MAX grants written (tmp, fsync, rename)
 * and read back, large buffers grown (mmap, mremap), a user lookup, a
 * date, /proc/net, a datagram to a NOTIFY_SOCKET, and a child binary
 * forked and executed: its loader and libc start run under this list,
 * as every child's do.  The e2e tests run the whole monitor under it.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "monitor.h"
#include "sandboxrun.h"

#define IDS	60000		/* user ids in the configuration */

static char	dir[64];
static char	confpath[96];
static char	statepath[96];
static char	childbin[PATH_MAX];

/* the monitor's start-up: a large configuration on disk */
static void
write_conf(void)
{
	FILE	*f;
	int	 i, s;

	SBR_CHECK((f = fopen(confpath, "w")) != NULL);
	fprintf(f, "user \"nobody\"\nchroot \"%s\"\n", dir);
	for (s = 0; s < PKS_SERVICES_MAX; s++)
		fprintf(f, "service s%d {\n\tport %d\n}\n", s, 1000 + s);
	/* one allow line per 100 users, in no order: the parser sorts */
	for (i = 0; i < IDS; i++) {
		if (i % 100 == 0)
			fprintf(f, "%sallow user { ", i ? "} to { s1 s2 }\n" :
			    "");
		fprintf(f, "%lld ", 6000000000LL + (i * 7919LL) % IDS);
	}
	fprintf(f, "} to { s1 s2 }\n");
	for (i = 0; i < 2000; i++)
		fprintf(f, "allow chat -100%d to { s0 }\nadmin user %d\n"
		    "notify user %d\n", 1000000 + i, 5000 - i, 7000 + i);
	SBR_CHECK(fclose(f) == 0);
}

static void
before(void)
{
	char	self[PATH_MAX];
	ssize_t	n;

	log_init("pks-monitor", 1, 0);
	snprintf(dir, sizeof(dir), "/tmp/pks-monsb-XXXXXX");
	SBR_CHECK(mkdtemp(dir) != NULL);
	snprintf(confpath, sizeof(confpath), "%s/pks.conf", dir);
	snprintf(statepath, sizeof(statepath), "%s/state", dir);
	write_conf();
	/* the test binary is in BUILD/tests: the children in BUILD */
	SBR_CHECK((n = readlink("/proc/self/exe", self, sizeof(self) - 1))
	    > 0);
	self[n] = '\0';
	snprintf(childbin, sizeof(childbin), "%s/../pks-sniffer",
	    dirname(self));
}

/* a child binary, run as the monitor runs one (fork, execve, waitpid,
 * the sanitizer settings passed on): without its socketpair it refuses
 * to start, with its own message */
static void
exec_child(void)
{
	char	*argv[] = { "pks-sniffer", NULL }, *envp[3];
	pid_t	 pid;
	int	 st, k, n = 0;

	for (k = 0; environ[k] != NULL && n < 2; k++)
		if (strncmp(environ[k], "ASAN_OPTIONS=", 13) == 0 ||
		    strncmp(environ[k], "UBSAN_OPTIONS=", 14) == 0)
			envp[n++] = environ[k];
	envp[n] = NULL;

	SBR_CHECK((pid = fork()) != -1);
	if (pid == 0) {
		close(3);
		execve(childbin, argv, envp);
		_exit(126);
	}
	SBR_CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fprintf(stderr, "# %s: status %#x\n", childbin, st);
	SBR_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

static void
state_roundtrip(void)
{
	struct pks_state	 st, back;
	struct grant		 g;
	char			 e[256], aside[128];
	int			 i;

	memset(&st, 0, sizeof(st));
	st.lockdown = 1;
	st.lock_by = 6123456789LL;
	st.lock_since = 1700000000;
	for (i = 0; i < STATE_GRANTS_MAX; i++) {
		memset(&g, 0, sizeof(g));
		g.user = 6000000000LL + i;
		snprintf(g.service, sizeof(g.service), "s%d", i % 64);
		g.until = 1800000000 + i;
		g.by = 6123456789LL;
		g.since = 1700000000;
		memset(g.name, 'N', sizeof(g.name) - 1);
		SBR_CHECK(state_grant(&st, &g) == 0);
	}
	SBR_CHECK(state_save(statepath, &st, e, sizeof(e)) == 0);
	SBR_CHECK(state_save(statepath, &st, e, sizeof(e)) == 0);
	SBR_CHECK(state_load(statepath, &back, e, sizeof(e)) == 0);
	SBR_CHECK(back.ngrants == STATE_GRANTS_MAX && back.lockdown == 1);
	state_clear(&back);
	SBR_CHECK(state_keep_aside(statepath, aside, sizeof(aside), e,
	    sizeof(e)) == 0);
	state_clear(&st);
}

/* sd_notify's datagram, to a socket nobody listens on */
static void
notify(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "pks-monsb-%d",
	    (int)getpid());
	SBR_CHECK((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1);
	(void)sendto(fd, "READY=1", 7, MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
}

static void
largest(void)
{
	struct pks_conf	*conf;
	char		*big = NULL, line[256], date[64];
	size_t		 sz;
	time_t		 now = time(NULL);
	FILE		*f;

	/* reload: the configuration read and checked again */
	SBR_CHECK((conf = conf_load(confpath)) != NULL);
	SBR_CHECK(conf->ngrants >= IDS && conf->nservices == PKS_SERVICES_MAX);
	conf_free(conf);
	SBR_CHECK(getpwnam("root") != NULL);
	state_roundtrip();
	/* buffers of the largest imsg queues and replies */
	for (sz = 4096; sz <= (64u << 20); sz *= 4) {
		char	*p = realloc(big, sz);

		SBR_CHECK(p != NULL);
		big = p;
		memset(big, 'x', sz);
	}
	free(big);
	strftime(date, sizeof(date), "%H:%M:%S %Z", localtime(&now));
	/* the draw's look at root's sockets (seq.c) */
	SBR_CHECK((f = fopen("/proc/self/net/tcp", "re")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		;
	fclose(f);
	notify();
	log_warnx("a log line under the sandbox, %s", date);
	exec_child();
	exec_child();
}

static void
cleanup(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

static void
sandbox_holds_at_largest_workload(void **state)
{
	int	r;

	(void)state;
	r = sandbox_run(monitor_rules, monitor_nrules, before, largest);
	cleanup();
	assert_int_equal(r, 0);
}

/* calls the monitor never makes: the kernel kills it */
static void
try_ptrace(void)
{
	sandbox_test_violation(SB_TRY_PTRACE);
}

static void
try_mmap_x(void)
{
	sandbox_test_violation(SB_TRY_MMAP_X);
}

static void
try_mprotect_x(void)
{
	sandbox_test_violation(SB_TRY_MPROT_X);
}

static void
try_af_alg(void)
{
	(void)socket(AF_ALG, SOCK_SEQPACKET, 0);	/* a family PKS lacks */
	_exit(99);
}

static void
try_dumpable(void)
{
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);	/* a prctl not listed */
	_exit(99);
}

static void
try_mount(void)
{
	(void)syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL);
	_exit(99);
}

static void
try_module(void)
{
	(void)syscall(SYS_finit_module, -1, "", 0);
	_exit(99);
}

static void
forbidden_calls_are_killed(void **state)
{
	static const struct {
		void		 (*fn)(void);
		const char	*what;
		int		 try;	/* SB_TRY_* it is, else -1 */
	} tries[] = {
		{ try_ptrace, "ptrace", SB_TRY_PTRACE },
		{ try_mmap_x, "executable anonymous mmap", SB_TRY_MMAP_X },
		{ try_mprotect_x, "mprotect to executable", SB_TRY_MPROT_X },
		{ try_af_alg, "socket(AF_ALG)", -1 },
		{ try_dumpable, "prctl(PR_SET_DUMPABLE)", -1 },
		{ try_mount, "mount", -1 },
		{ try_module, "finit_module", -1 },
	};
	size_t	i;
	int	missed = 0;

	(void)state;
	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		/* sanitizer builds allow executable mappings (ASan's) */
		if (tries[i].try != -1 && !sbr_try_holds(tries[i].try))
			continue;
		if (sandbox_run(monitor_rules, monitor_nrules, NULL,
		    tries[i].fn) != 1) {
			fprintf(stderr, "# %s was not killed\n", tries[i].what);
			missed++;
		}
	}
	assert_int_equal(missed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sandbox_holds_at_largest_workload),
		cmocka_unit_test(forbidden_calls_are_killed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

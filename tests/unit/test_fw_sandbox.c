/*
 * test_fw_sandbox: pks-fw's seccomp allow-list (sandbox_fw and each
 * backend's rules, as pks-fw.c joins them) lets pks-fw do its work and
 * nothing past it (issue 13, M3): it writes only to stderr, sends only
 * on its socketpair (and, on nftables, its netlink socket), and never
 * maps memory executable.  Each forbidden call must kill the child with
 * SIGSYS.  No root needed: the netlink socket of the nftables backend
 * opens without privilege.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "proc.h"
#include "fw.h"
#include "sandboxrun.h"

#define RULES_MAX	64

static struct sandbox_rule	rules[RULES_MAX];
static size_t			nrules;
static int			other_fd = -1;	/* a socket that is not ours */
static int			nl_fd = -1;	/* nftables: its netlink socket */

static void
join(const struct fw_backend *be)
{
	memcpy(rules, sandbox_fw, sandbox_fw_len * sizeof(rules[0]));
	size_t	i;

	memcpy(rules + sandbox_fw_len, be->sandbox,
	    be->sandbox_len * sizeof(rules[0]));
	nrules = sandbox_fw_len + be->sandbox_len;
	for (i = 0; i < be->sandbox_len; i++)
		if (strcmp(be->sandbox[i].name, "sendto") == 0)
			nl_fd = be->sandbox[i].val;
}

/* PROC_FD is one end of a socketpair, as the monitor gives it */
static void
before(void)
{
	int	sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    dup2(sp[0], PROC_FD) == -1)
		_exit(101);
	if ((other_fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1)
		_exit(102);
	log_init("pks-fw", 1, 0);
}

static void
send_on(int fd)
{
	struct iovec	iov = { "x", 1 };
	struct msghdr	mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	(void)sendmsg(fd, &mh, MSG_DONTWAIT);
}

/* what pks-fw does: log, talk to the monitor, large allocations */
static void
allowed(void)
{
	void	*p;

	log_warnx("a log line on stderr");
	send_on(PROC_FD);
	SBR_CHECK((p = malloc(64 << 20)) != NULL);	/* mmap()ed */
	memset(p, 1, 64 << 20);
	free(p);
	SBR_CHECK((p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED);
	munmap(p, 4096);
	if (nl_fd != -1) {
		/* nftables: a request out, its answer in */
		(void)sendto(nl_fd, "", 0, MSG_DONTWAIT, NULL, 0);
		(void)recvmsg(nl_fd, &(struct msghdr){ 0 }, MSG_DONTWAIT);
	}
}

static void
write_stdout(void)
{
	(void)!write(STDOUT_FILENO, "x", 1);
}

static void
sendmsg_other(void)
{
	send_on(other_fd);
}

static void
sendto_other(void)
{
	(void)sendto(other_fd, "x", 1, MSG_DONTWAIT, NULL, 0);
}

static void
mmap_exec(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void
mmap_rwx(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void
mprotect_exec(void)
{
	static char	page[4096] __attribute__((aligned(4096)));

	(void)mprotect(page, sizeof(page), PROT_READ | PROT_EXEC);
}

static void
open_file(void)
{
	(void)open("/dev/null", O_WRONLY);
}

static void (*const forbidden[])(void) = {
	write_stdout, sendmsg_other, sendto_other, mmap_exec, mmap_rwx,
	mprotect_exec, open_file,
};

/* sanitizer builds allow executable mappings (see sbr_try_holds()) and
 * answer a file's opening with ENOENT (test_report_file_calls) */
static int
forbidden_here(void (*f)(void))
{
	if (f == mmap_exec || f == mmap_rwx)
		return sbr_try_holds(SB_TRY_MMAP_X);
	if (f == mprotect_exec)
		return sbr_try_holds(SB_TRY_MPROT_X);
#ifdef PKS_SANITIZE
	if (f == open_file)
		return 0;
#endif
	return 1;
}

static void
check(const struct fw_backend *be)
{
	size_t	i;

	join(be);
	assert_int_equal(sandbox_run(rules, nrules, before, allowed), 0);
	for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		if (!forbidden_here(forbidden[i]))
			continue;
		fprintf(stderr, "# %s: forbidden call %zu\n", be->name, i);
		assert_int_equal(sandbox_run(rules, nrules, before,
		    forbidden[i]), 1);	/* killed by SIGSYS */
	}
}

static void
test_iptables(void **state)
{
	(void)state;
	check(&fw_iptc);
}

static void
test_nftables(void **state)
{
	(void)state;
	if (fw_nft.prepare() != 0)
		skip();
	check(&fw_nft);
}

#ifdef PKS_SANITIZE
/*
 * Sanitizer builds: a finding in a sandboxed process reaches stderr
 * whole, and the process does not die of SIGSYS on its way (before
 * common/sandbox.c's sanitizer_rules, it died at the report's first
 * syscall and the monitor logged a mere sandbox violation).  UBSan's
 * report is short; ASan's lists its stack's modules (/proc/self/maps).
 */
static int	report_fd = -1;		/* the write end of a pipe */

/* around the finding (ASan's report says "Stack after return") */
#define BEFORE	"-- before the finding --"
#define AFTER	"-- after the finding --"

static void
before_report(void)
{
	before();
	if (dup2(report_fd, STDERR_FILENO) == -1)
		_exit(103);
}

static void
overflow(void)
{
	volatile int	a = INT32_MAX, b = 1;

	(void)!write(STDERR_FILENO, BEFORE "\n", sizeof(BEFORE));
	a += b;			/* UBSan stops here */
	(void)!write(STDERR_FILENO, AFTER "\n", sizeof(AFTER));
}

static void
heap_overflow(void)
{
	volatile size_t	 n = 10;	/* unknown to UBSan's size check */
	volatile char	*p;

	if ((p = malloc(n)) == NULL)
		_exit(106);
	(void)!write(STDERR_FILENO, BEFORE "\n", sizeof(BEFORE));
	p[n] = 1;		/* ASan stops here */
	(void)!write(STDERR_FILENO, AFTER "\n", sizeof(AFTER));
	free((void *)p);
}

/* work() under pks-fw's rules: its stderr holds the report (what) */
static void
report_of(void (*work)(void), const char *what)
{
	char	 out[16384], *line, *last;
	size_t	 len = 0;
	int	 before_seen, report_seen, after_seen;
	ssize_t	 r;
	pid_t	 pid;
	int	 p[2], st;

	join(&fw_iptc);
	assert_int_equal(pipe(p), 0);
	report_fd = p[1];
	fflush(NULL);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		close(p[0]);
		before_report();
		sandbox_apply(rules, nrules);
		work();
		_exit(0);
	}
	close(p[1]);
	while (len < sizeof(out) - 1 &&
	    (r = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += r;
	out[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	before_seen = strstr(out, BEFORE) != NULL;
	report_seen = strstr(out, what) != NULL;
	after_seen = strstr(out, AFTER) != NULL;
	fprintf(stderr, "# child %s %d; its stderr:\n",
	    WIFSIGNALED(st) ? "killed by signal" : "exited",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	for (line = strtok_r(out, "\n", &last); line != NULL;
	    line = strtok_r(NULL, "\n", &last))
		fprintf(stderr, "#   %s\n", line);
	assert_true(before_seen);
	assert_true(report_seen);
	assert_false(after_seen);
	assert_false(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_sanitizer_report(void **state)
{
	(void)state;
	report_of(overflow, "runtime error: signed integer overflow");
}

/* the report's end: what came before it, the stack included, was
 * written without a refused call */
static void
test_asan_report(void **state)
{
	(void)state;
	report_of(heap_overflow, "SUMMARY: AddressSanitizer: "
	    "heap-buffer-overflow");
}

/*
 * Every call by which a report may name a file is refused with ENOENT
 * (as in a chroot), none kills: the runtime's open and readlink, the
 * same as openat and readlinkat (arm64 has only those), and libc's
 * openat, by which a stack whose modules could not be listed is
 * symbolized from their files.  pks-fw's list has none of them.
 */
static void
file_calls(void)
{
	char	buf[256];

	errno = 0;
	SBR_CHECK(syscall(SYS_openat, AT_FDCWD, "/proc/self/maps",
	    O_RDONLY) == -1 && errno == ENOENT);
	errno = 0;
	SBR_CHECK(syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", buf,
	    sizeof(buf)) == -1 && errno == ENOENT);
	errno = 0;
	SBR_CHECK(open("/proc/self/exe", O_RDONLY | O_CLOEXEC) == -1 &&
	    errno == ENOENT);
#ifdef SYS_open
	errno = 0;
	SBR_CHECK(syscall(SYS_open, "/proc/self/maps", O_RDONLY) == -1 &&
	    errno == ENOENT);
#endif
#ifdef SYS_readlink
	errno = 0;
	SBR_CHECK(syscall(SYS_readlink, "/proc/self/exe", buf,
	    sizeof(buf)) == -1 && errno == ENOENT);
#endif
}

static void
test_report_file_calls(void **state)
{
	(void)state;
	join(&fw_iptc);
	assert_int_equal(sandbox_run(rules, nrules, before, file_calls), 0);
}

/* the child of test_leak_at_exit, run afresh without ASAN_OPTIONS */
static int
leak_at_exit(void)
{
	before();
	sandbox_apply(rules, nrules);
	/* never freed: a leak for LeakSanitizer to find, if it ran */
	/* cppcheck-suppress leakReturnValNotUsed */
	if (malloc(100) == NULL)
		_exit(104);
	exit(0);			/* atexit: LeakSanitizer, if on */
}

/*
 * LeakSanitizer's check at exit needs calls no allow-list has: the
 * build turns it off by default (__asan_default_options), so a process
 * run without ASAN_OPTIONS=detect_leaks=0 exits, not SIGSYS.
 */
static void
test_leak_at_exit(void **state)
{
	char	*argv[] = { "test_fw_sandbox", "leak-at-exit", NULL };
	pid_t	 pid;
	int	 st;

	(void)state;
	fflush(NULL);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		unsetenv("ASAN_OPTIONS");
		execv("/proc/self/exe", argv);
		_exit(105);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fprintf(stderr, "# killed by signal %d\n", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}
#endif

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iptables),
		cmocka_unit_test(test_nftables),
#ifdef PKS_SANITIZE
		cmocka_unit_test(test_sanitizer_report),
		cmocka_unit_test(test_asan_report),
		cmocka_unit_test(test_report_file_calls),
		cmocka_unit_test(test_leak_at_exit),
#endif
	};

	if (getenv("PKS_VALGRIND") != NULL) {
		/* valgrind cannot load a seccomp filter (seccomp_init fails);
		 * cmocka's own TAP skip reads as a failure */
		printf("1..0 # SKIP seccomp under valgrind (t_valgrind)\n");
		return 0;
	}
#ifdef PKS_SANITIZE
	if (argc == 2 && strcmp(argv[1], "leak-at-exit") == 0) {
		join(&fw_iptc);
		return leak_at_exit();
	}
#else
	(void)argc;
	(void)argv;
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}

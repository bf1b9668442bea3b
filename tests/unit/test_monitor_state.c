/*
 * test_monitor_state: the monitor's state file (pks-monitor/state.c):
 * format, refusal of corrupt and truncated files, atomic writes, grant
 * bookkeeping and durations.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <netinet/in.h>

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

#include "monitor.h"

static const char good[] =
    "# a comment\n"
    "pks-state 1\n"
    "lockdown 1 6123456789 1700000000\n"
    "grant 777 ssh 0 6123456789 1700000000 Ada Lovelace\n"
    "grant 778 web 1700003600 6123456789 1700000000\n"
    "end 2\n";

static int
parse(struct pks_state *st, const char *text, char *ebuf, size_t elen)
{
	return state_parse(st, text, strlen(text), ebuf, elen);
}

static void
good_file_is_read(void **unused)
{
	struct pks_state	st;
	char			e[256];

	(void)unused;
	assert_int_equal(parse(&st, good, e, sizeof(e)), 0);
	assert_int_equal(st.lockdown, 1);
	assert_int_equal(st.lock_by, 6123456789LL);
	assert_int_equal(st.lock_since, 1700000000);
	assert_int_equal(st.ngrants, 2);
	assert_int_equal(st.grants[0].user, 777);
	assert_string_equal(st.grants[0].service, "ssh");
	assert_int_equal(st.grants[0].until, 0);
	assert_string_equal(st.grants[0].name, "Ada Lovelace");
	assert_int_equal(st.grants[1].until, 1700003600);
	assert_string_equal(st.grants[1].name, "");
	state_clear(&st);
}

static void
format_then_parse_is_identity(void **unused)
{
	struct pks_state	st, st2;
	struct grant		g;
	char			e[256], *buf, *buf2;
	size_t			len, len2;

	(void)unused;
	memset(&st, 0, sizeof(st));
	memset(&g, 0, sizeof(g));
	g.user = 42;
	snprintf(g.service, sizeof(g.service), "ssh");
	g.by = 1;
	g.since = 5;
	/* a lockdown set with pksctl: by 0 */
	st.lockdown = 1;
	st.lock_since = 1700000000;
	/* control characters in a name are made harmless, not written */
	snprintf(g.name, sizeof(g.name), "Bad\nName\r\x7f");
	assert_int_equal(state_grant(&st, &g), 0);
	assert_string_equal(st.grants[0].name, "Bad?Name??");
	buf = state_format(&st, &len);
	assert_non_null(buf);
	assert_int_equal(state_parse(&st2, buf, len, e, sizeof(e)), 0);
	buf2 = state_format(&st2, &len2);
	assert_non_null(buf2);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	assert_int_equal(st2.lockdown, 1);
	assert_int_equal(st2.lock_by, 0);
	assert_int_equal(st2.lock_since, 1700000000);
	free(buf);
	free(buf2);
	state_clear(&st);
	state_clear(&st2);
}

/* every prefix of a good file is refused: a cut file never loads */
static void
truncated_files_are_refused(void **unused)
{
	struct pks_state	st;
	char			e[256];
	size_t			n;

	(void)unused;
	for (n = 0; n < sizeof(good) - 1; n++) {
		assert_int_equal(state_parse(&st, good, n, e, sizeof(e)), -1);
		assert_int_equal(st.ngrants, 0);
		assert_int_equal(st.lockdown, 0);
		assert_null(st.grants);
	}
	assert_int_equal(state_parse(&st, good, sizeof(good) - 1, e,
	    sizeof(e)), 0);
	state_clear(&st);
}

static void
corrupt_files_are_refused(void **unused)
{
	static const char *const bad[] = {
		"",
		"pks-state 1\nend 0",				/* no \n */
		"pks-state 2\nend 0\n",				/* version */
		"pks-state one\nend 0\n",
		"lockdown 0\npks-state 1\nend 0\n",		/* order */
		"pks-state 1\nend 1\n",				/* count */
		"pks-state 1\ngrant 777 ssh 0 1 0\nend 0\n",
		"pks-state 1\nend 0\ngrant 777 ssh 0 1 0\n",	/* after end */
		"pks-state 1\nend 0\nend 0\n",
		"pks-state 1\nlockdown 2\nend 0\n",
		"pks-state 1\nlockdown 1\nend 0\n",
		"pks-state 1\nlockdown 1 x 5\nend 0\n",
		"pks-state 1\nlockdown 1 -1 5\nend 0\n",
		"pks-state 1\nlockdown 1 00 5\nend 0\n",
		"pks-state 1\nlockdown 0\nlockdown 0\nend 0\n",
		"pks-state 1\ngrant 777 ssh 0 1\nend 1\n",	/* short */
		"pks-state 1\ngrant -7 ssh 0 1 0\nend 1\n",
		"pks-state 1\ngrant 0 ssh 0 1 0\nend 1\n",
		"pks-state 1\ngrant 0777 ssh 0 1 0\nend 1\n",
		"pks-state 1\ngrant 9007199254740992 ssh 0 1 0\nend 1\n",
		"pks-state 1\ngrant 99999999999999999999999 ssh 0 1 0\n"
		    "end 1\n",
		"pks-state 1\ngrant 777 s$h 0 1 0\nend 1\n",
		"pks-state 1\ngrant 777 ssh -1 1 0\nend 1\n",
		"pks-state 1\ngrant 777 ssh 0 0 0\nend 1\n",
		"pks-state 1\ngrant 777 ssh 0 1 x\nend 1\n",
		"pks-state 1\ngrant 777  ssh 0 1 0\nend 1\n",
		"pks-state 1\ngrant 777 ssh 0 1 0 A\tB\nend 1\n",
		"pks-state 1\ngrant 777 ssh 0 1 0\ngrant 777 ssh 5 1 0\n"
		    "end 2\n",					/* twice */
		"pks-state 1\ngrant 777 "
		    "a-very-long-service-name-that-cannot-be 0 1 0\nend 1\n",
		"pks-state 1\nallow 777 ssh\nend 0\n",
		"garbage\n",
	};
	struct pks_state	st;
	char			e[256];
	size_t			i;

	(void)unused;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e[0] = '\0';
		if (parse(&st, bad[i], e, sizeof(e)) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(e[0] != '\0');
		assert_int_equal(st.ngrants, 0);
		assert_int_equal(st.lockdown, 0);
	}
	/* a NUL inside */
	assert_int_equal(state_parse(&st, "pks-state 1\n\0end 0\n", 19, e,
	    sizeof(e)), -1);
}

static const char good_recov[] =
    "pks-state 1\n"
    "lockdown 0\n"
    "grant 778 web 1700003600 6123456789 1700000000\n"
    "recovery 7 777 ssh 1707776000 0 1700000000 tcp 20000 30000 40000 "
    "50000\n"
    "recovery 8 777 web 1707776000 6123456789 1700000000 udp 20000 20034 "
    "20068\n"
    "end 1 2\n";

/* recovery sequences: read, written back the same, and kept apart */
static void
recovery_lines_are_read(void **unused)
{
	struct pks_state	st, st2;
	char			e[256], *buf;
	size_t			len;

	(void)unused;
	assert_int_equal(parse(&st, good_recov, e, sizeof(e)), 0);
	assert_int_equal(st.ngrants, 1);
	assert_int_equal(st.nrecov, 2);
	assert_int_equal(st.recov[0].seq.id, 7);
	assert_int_equal(st.recov[0].user, 777);
	assert_string_equal(st.recov[0].service, "ssh");
	assert_int_equal(st.recov[0].until, 1707776000);
	assert_int_equal(st.recov[0].by, 0);
	assert_int_equal(st.recov[0].seq.len, 4);
	assert_int_equal(st.recov[0].seq.ports[3], 50000);
	assert_int_equal(st.recov[0].seq.proto, IPPROTO_TCP);
	assert_int_equal(st.recov[1].seq.proto, IPPROTO_UDP);
	assert_int_equal(st.recov[1].by, 6123456789LL);
	buf = state_format(&st, &len);
	assert_non_null(buf);
	assert_non_null(strstr(buf, "\npks-state "));
	assert_string_equal(strstr(buf, "\npks-state ") + 1, good_recov);
	free(buf);
	/* a file without any ends as before: "end N" */
	free(st.recov);
	st.recov = NULL;
	st.nrecov = 0;
	buf = state_format(&st, &len);
	assert_non_null(strstr(buf, "\nend 1\n"));
	assert_int_equal(state_parse(&st2, buf, len, e, sizeof(e)), 0);
	assert_int_equal(st2.nrecov, 0);
	free(buf);
	state_clear(&st);
	state_clear(&st2);
}

static void
bad_recovery_lines_are_refused(void **unused)
{
	static const char *const bad[] = {
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 30000\nend 0 1\n",
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 20033 30000\n"
		    "end 0 1\n",				/* guards */
		"recovery 7 777 ssh 1707776000 0 1 icmp 20000 30000 40000\n"
		    "end 0 1\n",
		"recovery 0 777 ssh 1707776000 0 1 tcp 20000 30000 40000\n"
		    "end 0 1\n",
		"recovery 7 0 ssh 1707776000 0 1 tcp 20000 30000 40000\n"
		    "end 0 1\n",
		"recovery 7 777 ssh 0 0 1 tcp 20000 30000 40000\nend 0 1\n",
		"recovery 7 777 ssh 1707776000 -1 1 tcp 20000 30000 40000\n"
		    "end 0 1\n",
		"recovery 7 777 s$h 1707776000 0 1 tcp 20000 30000 40000\n"
		    "end 0 1\n",
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 30000 0\n"
		    "end 0 1\n",
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 30000 65536\n"
		    "end 0 1\n",
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 30000 40000 \n"
		    "end 0 1\n",				/* empty field */
		"recovery 7 777 ssh 1707776000 0 1 tcp 1000 2000 3000 4000 "
		    "5000 6000 7000 8000 9000 10000 11000 12000 13000 14000 "
		    "15000 16000 17000\nend 0 1\n",		/* 17 ports */
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 30000 40000\n"
		    "recovery 7 777 ssh 1707776000 0 1 tcp 21000 31000 41000\n"
		    "end 0 2\n",				/* id twice */
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 30000 40000\n"
		    "end 0\n",					/* count */
		"recovery 7 777 ssh 1707776000 0 1 tcp 20000 30000 40000\n"
		    "end 0 2\n",
		"end 0 0\n",
		"end 0 1 2\n",
	};
	struct pks_state	st;
	char			e[256], text[512];
	size_t			i;

	(void)unused;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "pks-state 1\n%s", bad[i]);
		e[0] = '\0';
		if (parse(&st, text, e, sizeof(e)) != -1)
			fail_msg("accepted: %s", text);
		assert_true(e[0] != '\0');
		assert_int_equal(st.nrecov, 0);
		assert_null(st.recov);
	}
}

static void
durations(void **unused)
{
	static const struct {
		const char	*s;
		int		 ok;
		uint32_t	 secs;
	} t[] = {
		{ "30m", 1, 1800 }, { "2h", 1, 7200 }, { "7d", 1, 604800 },
		{ "1w", 1, 604800 }, { "45s", 1, 45 }, { "365d", 1, 31536000 },
		{ "366d", 0, 0 }, { "53w", 0, 0 }, { "0h", 0, 0 }, { "h", 0, 0 },
		{ "5", 0, 0 }, { "5y", 0, 0 }, { "-5m", 0, 0 }, { "05m", 0, 0 },
		{ "1.5h", 0, 0 }, { "", 0, 0 }, { "99999999999999d", 0, 0 },
		{ "2H", 0, 0 }, { "2 h", 0, 0 },
	};
	uint32_t	s;
	size_t		i;

	(void)unused;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = 0;
		if ((state_duration(t[i].s, &s) == 0) != t[i].ok)
			fail_msg("duration \"%s\"", t[i].s);
		if (t[i].ok)
			assert_int_equal(s, t[i].secs);
	}
}

static void
grants_expire_and_allow(void **unused)
{
	struct pks_state	st;
	struct grant		g, gone[4];

	(void)unused;
	memset(&st, 0, sizeof(st));
	memset(&g, 0, sizeof(g));
	g.user = 777;
	g.by = 1;
	snprintf(g.service, sizeof(g.service), "ssh");
	g.until = 100;
	assert_int_equal(state_grant(&st, &g), 0);
	snprintf(g.service, sizeof(g.service), "web");
	g.until = 0;
	assert_int_equal(state_grant(&st, &g), 0);
	assert_true(state_allows(&st, 777, "ssh", 99));
	assert_false(state_allows(&st, 777, "ssh", 100));
	assert_false(state_allows(&st, 778, "ssh", 50));
	assert_false(state_allows(&st, 777, "db", 50));
	assert_true(state_allows(&st, 777, "web", 1000000));
	assert_int_equal(state_next_expiry(&st), 100);
	assert_int_equal(state_expire(&st, 99, gone, 4), 0);
	assert_int_equal(state_expire(&st, 100, gone, 4), 1);
	assert_string_equal(gone[0].service, "ssh");
	assert_int_equal(st.ngrants, 1);
	assert_int_equal(state_next_expiry(&st), 0);
	/* a second grant for the same pair replaces the first */
	g.until = 500;
	assert_int_equal(state_grant(&st, &g), 0);
	assert_int_equal(st.ngrants, 1);
	assert_int_equal(st.grants[0].until, 500);
	assert_int_equal(state_ungrant(&st, 777, "web"), 0);
	assert_int_equal(state_ungrant(&st, 777, "web"), -1);
	assert_int_equal(st.ngrants, 0);
	/* malformed grants are not taken */
	g.user = 0;
	assert_int_equal(state_grant(&st, &g), -1);
	g.user = 5;
	snprintf(g.service, sizeof(g.service), "a b");
	assert_int_equal(state_grant(&st, &g), -1);
	state_clear(&st);
}

static void
grants_are_bounded(void **unused)
{
	struct pks_state	st;
	struct grant		g;
	int			i;

	(void)unused;
	memset(&st, 0, sizeof(st));
	memset(&g, 0, sizeof(g));
	g.by = 1;
	snprintf(g.service, sizeof(g.service), "ssh");
	for (i = 1; i <= STATE_GRANTS_MAX; i++) {
		g.user = i;
		assert_int_equal(state_grant(&st, &g), 0);
	}
	g.user = i;
	assert_int_equal(state_grant(&st, &g), -1);
	state_clear(&st);
}

static char	dir[64];

static int
mkdir_tmp(void **unused)
{
	(void)unused;
	snprintf(dir, sizeof(dir), "/tmp/pks-state-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
rm_tmp(void **unused)
{
	char	cmd[128];

	(void)unused;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int	fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd != -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
save_and_load(void **unused)
{
	struct pks_state	st, st2;
	struct stat		sb;
	struct grant		g;
	char			path[192], sub[128], tmp[256], e[256];

	(void)unused;
	/* the directory is created (0700) when missing */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(path, sizeof(path), "%s/state", sub);
	assert_int_equal(state_load(path, &st, e, sizeof(e)), 1);
	assert_int_equal(st.ngrants, 0);
	memset(&g, 0, sizeof(g));
	g.user = 777;
	g.by = 1;
	snprintf(g.service, sizeof(g.service), "ssh");
	st.lockdown = 1;
	st.lock_by = 9;
	st.lock_since = 10;
	assert_int_equal(state_grant(&st, &g), 0);
	assert_int_equal(state_save(path, &st, e, sizeof(e)), 0);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_uid, geteuid());
	/* no temporary file is left behind */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(state_load(path, &st2, e, sizeof(e)), 0);
	assert_int_equal(st2.lockdown, 1);
	assert_int_equal(st2.ngrants, 1);
	assert_int_equal(st2.grants[0].user, 777);
	state_clear(&st2);
	/* a leftover temporary file (a crash) does not stop a write */
	write_file(tmp, "half a fi", 0644);
	assert_int_equal(state_save(path, &st, e, sizeof(e)), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	state_clear(&st);
}

static void
unsafe_files_are_refused(void **unused)
{
	struct pks_state	st;
	struct stat		sb;
	char			path[128], link[128], aside[256], e[256];

	(void)unused;
	snprintf(path, sizeof(path), "%s/state2", dir);
	write_file(path, good, 0620);		/* others may write it */
	assert_int_equal(state_load(path, &st, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "writable"));
	write_file(path, good, 0600);
	assert_int_equal(state_load(path, &st, e, sizeof(e)), 0);
	assert_string_equal(e, "");
	state_clear(&st);
	/* readable by others: read (a lockdown is kept), made 0600, and
	 * said, since its recovery ports may have been read */
	write_file(path, good, 0644);
	assert_int_equal(state_load(path, &st, e, sizeof(e)), 0);
	assert_non_null(strstr(e, "readable by group or others (mode 0644)"));
	assert_true(st.lockdown);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	state_clear(&st);
	write_file(path, good, 0640);
	assert_int_equal(state_load(path, &st, e, sizeof(e)), 0);
	assert_non_null(strstr(e, "(mode 0640), now 0600"));
	state_clear(&st);
	snprintf(link, sizeof(link), "%s/state3", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(state_load(link, &st, e, sizeof(e)), -1);
	/* a refused file is kept aside, not lost */
	write_file(path, "pks-state 1\ngrant 7", 0600);
	assert_int_equal(state_load(path, &st, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "truncated"));
	assert_int_equal(state_keep_aside(path, aside, sizeof(aside), e,
	    sizeof(e)), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(aside, F_OK), 0);
}

/* mode observe's counts: read, written back the same, bad ones skipped */
static void
observed_lines(void **unused)
{
	static const char	 obs[] =
	    "pks-state 1\n"
	    "lockdown 1 6123456789 1700000000\n"
	    "grant 777 ssh 0 6123456789 1700000000\n"
	    "observed 1700000500 198.18.0.5 tcp 22 17\n"
	    "observed 1700000400 fd00::5 tcp 22 3\n"
	    "observed 1700000500 - udp 53 9\n"
	    "end 1\n";
	static const char	*bad[] = {
		"observed 1700000500 198.18.0.5 tcp 22",
		"observed 1700000500 198.18.0.5 tcp 22 17 9",
		"observed x 198.18.0.5 tcp 22 17",
		"observed 1700000500 198.18.0.256 tcp 22 17",
		"observed 1700000500 198.18.0.5 sctp 22 17",
		"observed 1700000500 198.18.0.5 tcp 0 17",
		"observed 1700000500 198.18.0.5 tcp 22 0",
		"observed 1700000500 198.18.0.5 tcp 22 -1",
		"observed 1700000500  198.18.0.5 tcp 22 17",
		"observed 1700000500 198.18.0.5 tcp 22 17",	/* twice */
	};
	struct pks_state	 st, st2;
	char			 e[256], text[512], *buf;
	size_t			 len, i;

	(void)unused;
	assert_int_equal(parse(&st, obs, e, sizeof(e)), 0);
	assert_int_equal(st.nobs, 3);
	assert_int_equal(st.nobs_bad, 0);
	assert_int_equal(st.obs_since, 1700000400);
	assert_int_equal(st.obs[0].af, AF_INET);
	assert_int_equal(st.obs[0].addr[3], 5);
	assert_int_equal(st.obs[0].proto, IPPROTO_TCP);
	assert_int_equal(st.obs[0].port, 22);
	assert_int_equal(st.obs[0].count, 17);
	assert_int_equal(st.obs[1].af, AF_INET6);
	assert_int_equal(st.obs[1].count, 3);
	assert_int_equal(st.obs[2].af, 0);
	assert_int_equal(st.obs[2].proto, IPPROTO_UDP);
	assert_int_equal(st.obs[2].count, 9);
	buf = state_format(&st, &len);
	assert_non_null(buf);
	assert_non_null(strstr(buf, "observed 1700000400 fd00::5 tcp 22 3\n"));
	assert_non_null(strstr(buf, "observed 1700000400 - udp 53 9\n"));
	assert_int_equal(state_parse(&st2, buf, len, e, sizeof(e)), 0);
	assert_int_equal(st2.nobs, 3);
	assert_memory_equal(st.obs, st2.obs, 3 * sizeof(st.obs[0]));
	free(buf);
	state_clear(&st2);
	state_clear(&st);
	/* each bad line is skipped, named; the rest of the file is read */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "pks-state 1\nlockdown 1 5 6\n"
		    "grant 777 ssh 0 5 6\n%s%s\nend 1\n", i == 9 ?
		    "observed 1 198.18.0.5 tcp 22 4\n" : "", bad[i]);
		assert_int_equal(parse(&st, text, e, sizeof(e)), 0);
		assert_int_equal(st.nobs_bad, 1);
		assert_int_equal(st.nobs, i == 9 ? 1 : 0);
		assert_non_null(strstr(st.obs_err, i == 9 ? "line 5" :
		    "line 4"));
		assert_int_equal(st.lockdown, 1);
		assert_int_equal(st.ngrants, 1);
		state_clear(&st);
	}
	/* a file cut after a count line is refused like any other */
	assert_int_equal(state_parse(&st, obs, strstr(obs, "end") - obs, e,
	    sizeof(e)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file_is_read),
		cmocka_unit_test(format_then_parse_is_identity),
		cmocka_unit_test(truncated_files_are_refused),
		cmocka_unit_test(corrupt_files_are_refused),
		cmocka_unit_test(recovery_lines_are_read),
		cmocka_unit_test(observed_lines),
		cmocka_unit_test(bad_recovery_lines_are_refused),
		cmocka_unit_test(durations),
		cmocka_unit_test(grants_expire_and_allow),
		cmocka_unit_test(grants_are_bounded),
		cmocka_unit_test_setup_teardown(save_and_load, mkdir_tmp,
		    rm_tmp),
		cmocka_unit_test_setup_teardown(unsafe_files_are_refused,
		    mkdir_tmp, rm_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

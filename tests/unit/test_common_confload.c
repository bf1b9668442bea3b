/*
 * test_common_confload.c: conf_load() on real files, and the checks on
 * secret files (conf_check_secret()).  Runs as root: it chowns its
 * files.  The grammar itself is in test_common_parse.c.
 */
#include <sys/stat.h>
#include <sys/types.h>

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

#include "conf.h"
#include "log.h"

#define SVC		"service ssh {\n\tport 22\n}\n"
#define NLOGS		64

static char	logs[NLOGS][1200];
static int	nlogs;

static void
sink(int prio, const char *s, size_t len)
{
	(void)prio;
	if (nlogs >= NLOGS)
		return;
	if (len >= sizeof(logs[0]))
		len = sizeof(logs[0]) - 1;
	memcpy(logs[nlogs], s, len);
	logs[nlogs++][len] = '\0';
}

static void
assert_logged_text(const char *msg)
{
	int	i;

	for (i = 0; i < nlogs; i++)
		if (strstr(logs[i], msg) != NULL)
			return;
	print_message("wanted: %s\n", msg);
	for (i = 0; i < nlogs; i++)
		print_message("logged: %s\n", logs[i]);
	fail();
}

static char	tmpdir[64];

static int
setup_dir(void **state)
{
	(void)state;
	nlogs = 0;
	strcpy(tmpdir, "/tmp/pks-parse-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown_dir(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text, uid_t uid, mode_t mode)
{
	int	fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) !=
	    -1);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchown(fd, uid, 0), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* a telegram block with this ca-file: refused saying err, or loaded */
static void
load_with_ca(const char *conf, const char *tok, const char *ca,
    const char *err)
{
	char		 text[512];
	struct pks_conf	*c;

	snprintf(text, sizeof(text), "telegram {\n\ttoken-file \"%s\"\n"
	    "\tca-file \"%s\"\n}\n" SVC, tok, ca);
	write_file(conf, text, 0, 0644);
	nlogs = 0;
	c = conf_load(conf);
	if (err != NULL) {
		assert_null(c);
		assert_logged_text("telegram ca-file ");
		assert_logged_text(err);
	} else {
		assert_non_null(c);
		assert_int_equal(nlogs, 0);
		conf_free(c);
	}
}

static void
test_load_with_token(void **state)
{
	char		 conf[128], tok[128], text[512];
	struct pks_conf	*c;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/pks.conf", tmpdir);
	snprintf(tok, sizeof(tok), "%s/token", tmpdir);
	snprintf(text, sizeof(text), "telegram {\n\ttoken-file \"%s\"\n}\n"
	    SVC, tok);
	write_file(conf, text, 0, 0644);

	/* missing token file */
	assert_null(conf_load(conf));
	assert_logged_text("pks.conf:2: telegram token-file ");
	assert_logged_text(" not found");

	write_file(tok, "123:abc\n", 0, 0600);
	nlogs = 0;
	assert_non_null(c = conf_load(conf));
	assert_int_equal(nlogs, 0);
	assert_string_equal(c->token_file, tok);
	conf_free(c);

	assert_int_equal(chmod(tok, 0644), 0);
	assert_null(conf_load(conf));
	assert_logged_text("must not be readable by group or others (mode "
	    "0644)");
	assert_int_equal(chmod(tok, 0600), 0);

	/* the Bot API's CA bundle must be there, and be a file */
	snprintf(text, sizeof(text), "%s/ca.pem", tmpdir);
	load_with_ca(conf, tok, text, "/ca.pem not found");
	load_with_ca(conf, tok, tmpdir, " is not a regular file");
	load_with_ca(conf, tok, conf, NULL);
}

static void
test_load_without_telegram_ignores_token(void **state)
{
	char		 conf[128];
	struct pks_conf	*c;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/pks.conf", tmpdir);
	write_file(conf, SVC, 0, 0644);
	assert_non_null(c = conf_load(conf));
	assert_int_equal(c->has_telegram, 0);
	conf_free(c);
}

static void
test_load_errors(void **state)
{
	char	 path[128], want[256];
	char	*big;
	size_t	 len = 1024 * 1024 + 1;

	(void)state;
	snprintf(path, sizeof(path), "%s/none.conf", tmpdir);
	assert_null(conf_load(path));
	assert_logged_text("configuration file ");
	assert_logged_text("/none.conf not found");

	nlogs = 0;
	assert_null(conf_load(tmpdir));
	assert_logged_text("not a regular file");

	/* the file name is in the parser's errors */
	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	write_file(path, "\nbogus\n" SVC, 0, 0644);
	nlogs = 0;
	assert_null(conf_load(path));
	snprintf(want, sizeof(want), "%s:2: unknown keyword \"bogus\"", path);
	assert_logged_text(want);

	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	assert_non_null(big = malloc(len + 1));
	memset(big, '#', len);
	big[len] = '\0';
	write_file(path, big, 0, 0644);
	free(big);
	nlogs = 0;
	assert_null(conf_load(path));
	assert_logged_text("file too large (max 1048576 bytes)");
}

static void
test_secret_file(void **state)
{
	char	path[128], link[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	write_file(path, "x", 0, 0600);
	assert_int_equal(conf_check_secret("token file", path), 0);
	assert_int_equal(nlogs, 0);

	write_file(path, "x", 0, 0400);
	assert_int_equal(conf_check_secret("token file", path), 0);

	write_file(path, "x", 0, 0640);
	assert_int_equal(conf_check_secret("token file", path), -1);
	assert_logged_text("must not be readable by group or others (mode "
	    "0640)");

	write_file(path, "x", 0, 0602);
	nlogs = 0;
	assert_int_equal(conf_check_secret("token file", path), -1);
	assert_logged_text("(mode 0602)");

	write_file(path, "x", 1000, 0600);
	nlogs = 0;
	assert_int_equal(conf_check_secret("token file", path), -1);
	assert_logged_text("must be owned by root");

	write_file(path, "x", 0, 0600);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	nlogs = 0;
	assert_int_equal(conf_check_secret("token file", link), -1);
	assert_logged_text("must not be a symbolic link");

	nlogs = 0;
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_int_equal(conf_check_secret("token file", tmpdir), -1);
	assert_logged_text("is not a regular file");
}

/* conf refused, and "CONF:LINE: WHAT FILEWHY" logged */
static void
file_refused(const char *conf, int line, const char *what, const char *file,
    const char *why)
{
	char	want[512];

	nlogs = 0;
	assert_null(conf_load(conf));
	snprintf(want, sizeof(want), "%s:%d: %s %s%s", conf, line, what, file,
	    why);
	assert_logged_text(want);
}

/* conf at path refused once key holds text (uid, mode): logged as
 * "PATH:LINE: WHAT KEYWHY" */
static void
secret_refused(const char *path, int line, const char *what,
    const char *key, const char *text, uid_t uid, mode_t mode,
    const char *why)
{
	write_file(key, text, uid, mode);
	file_refused(path, line, what, key, why);
}

/* fleet secret-files: read by conf_load, errors as file:line, the key
 * never logged */
static void
test_fleet_secrets(void **state)
{
	struct pks_conf	*c;
	char		 path[128], key[128], key2[128], ca[128], text[1024];
	const char	*k = "0123456789abcdef0123456789abcdef0123456789abcdef";
	int		 i;

	(void)state;
	snprintf(path, sizeof(path), "%s/pks.conf", tmpdir);
	snprintf(key, sizeof(key), "%s/web1.key", tmpdir);
	snprintf(key2, sizeof(key2), "%s/web2.key", tmpdir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	write_file(ca, "a CA bundle\n", 0, 0644);
	snprintf(text, sizeof(text), "telegram {\n\ttoken-file \"%s\"\n}\n"
	    "fleet {\n\tbroker \"mqtts://b\"\n\tca-file \"%s\"\n"
	    "\tname front\n\tpassword-file \"%s\"\n\trole front\n"
	    "\thost web1 secret-file \"%s\"\n"
	    "\thost web2 secret-file \"%s\"\n}\n" SVC, key, ca, key, key,
	    key2);
	write_file(path, text, 0, 0600);
	/* a final newline is not part of the key */
	snprintf(text, sizeof(text), "%s\n", k);
	write_file(key, text, 0, 0600);
	secret_refused(path, 11, "fleet host web2 secret-file", key2,
	    "short\n", 0, 0600, ": too few bytes, 32 to 256 are needed");
	secret_refused(path, 11, "fleet host web2 secret-file", key2, k, 0,
	    0644, " must not be readable by group or others");
	write_file(key2, k, 0, 0600);
	nlogs = 0;
	c = conf_load(path);
	assert_non_null(c);
	assert_int_equal(c->nfleet_hosts, 2);
	assert_int_equal(c->fleet_hosts[0].key[CONF_KEY_NOW].len, strlen(k));
	assert_memory_equal(c->fleet_hosts[0].key[CONF_KEY_NOW].key, k,
	    strlen(k));
	assert_memory_equal(c->fleet_hosts[1].key[CONF_KEY_NOW].key, k,
	    strlen(k));
	conf_free(c);
	for (i = 0; i < nlogs; i++)
		assert_null(strstr(logs[i], "0123456789abcdef"));
	/* a host: its own secret-file, the same checks */
	snprintf(text, sizeof(text), "fleet {\n\tbroker \"mqtts://b\"\n"
	    "\tca-file \"%s\"\n\tname web2\n\tpassword-file \"%s\"\n"
	    "\tsecret-file \"%s\"\n}\n" SVC, ca, key, key2);
	write_file(path, text, 0, 0600);
	c = conf_load(path);
	assert_non_null(c);
	assert_int_equal(c->fleet_secret[CONF_KEY_NOW].len, strlen(k));
	conf_free(c);
	secret_refused(path, 6, "fleet secret-file", key2, k, 1000, 0600,
	    " must be owned by root");
}

/* a host's configuration at path: secret-file now, previous-secret-file
 * prev (line 7) */
static void
host_previous(const char *path, const char *ca, const char *now,
    const char *prev)
{
	char	text[1024];

	snprintf(text, sizeof(text), "fleet {\n\tbroker \"mqtts://b\"\n"
	    "\tca-file \"%s\"\n\tname web2\n\tpassword-file \"%s\"\n"
	    "\tsecret-file \"%s\"\n\tprevious-secret-file \"%s\"\n}\n" SVC,
	    ca, now, now, prev);
	write_file(path, text, 0, 0600);
}

/* previous-secret-file, a host's or on a front's host line: checked and
 * read as secret-file, with its own line; not the same key */
static void
test_fleet_previous_secrets(void **state)
{
	struct pks_conf	*c;
	char		 path[128], now[128], old[128], lnk[128], ca[128];
	char		 text[1024];
	const char	*k = "0123456789abcdef0123456789abcdef0123456789abcdef";
	const char	*k2 = "fedcba9876543210fedcba9876543210";
	int		 i;

	(void)state;
	snprintf(path, sizeof(path), "%s/pks.conf", tmpdir);
	snprintf(now, sizeof(now), "%s/web2.new", tmpdir);
	snprintf(old, sizeof(old), "%s/web2.old", tmpdir);
	snprintf(lnk, sizeof(lnk), "%s/web2.link", tmpdir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	write_file(ca, "a CA bundle\n", 0, 0644);
	write_file(now, k2, 0, 0600);
	host_previous(path, ca, now, old);
	file_refused(path, 7, "fleet previous-secret-file", old,
	    " not found");
	secret_refused(path, 7, "fleet previous-secret-file", old, "short\n",
	    0, 0600, ": too few bytes, 32 to 256 are needed");
	secret_refused(path, 7, "fleet previous-secret-file", old, k, 0,
	    0640, " must not be readable by group or others");
	secret_refused(path, 7, "fleet previous-secret-file", old, k, 1000,
	    0600, " must be owned by root");
	write_file(old, k, 0, 0600);
	assert_int_equal(symlink(old, lnk), 0);
	host_previous(path, ca, now, lnk);
	file_refused(path, 7, "fleet previous-secret-file", lnk,
	    " must not be a symbolic link");
	/* the same key twice: a rotation that changes nothing */
	host_previous(path, ca, now, old);
	write_file(old, k2, 0, 0600);
	file_refused(path, 7, "fleet previous-secret-file", old,
	    " holds the key of secret-file");
	write_file(old, k, 0, 0600);
	nlogs = 0;
	assert_non_null(c = conf_load(path));
	assert_int_equal(c->fleet_secret[CONF_KEY_NOW].len, strlen(k2));
	assert_memory_equal(c->fleet_secret[CONF_KEY_NOW].key, k2, strlen(k2));
	assert_int_equal(c->fleet_secret[CONF_KEY_PREVIOUS].len, strlen(k));
	assert_memory_equal(c->fleet_secret[CONF_KEY_PREVIOUS].key, k,
	    strlen(k));
	conf_free(c);

	/* a front's host line */
	snprintf(text, sizeof(text), "telegram {\n\ttoken-file \"%s\"\n}\n"
	    "fleet {\n\tbroker \"mqtts://b\"\n\tca-file \"%s\"\n"
	    "\tname front\n\tpassword-file \"%s\"\n\trole front\n"
	    "\thost web2 secret-file \"%s\" previous-secret-file \"%s\"\n}\n"
	    SVC, now, ca, now, now, old);
	write_file(path, text, 0, 0600);
	secret_refused(path, 10, "fleet host web2 previous-secret-file", old,
	    k, 0, 0604, " must not be readable by group or others");
	write_file(old, k, 0, 0600);
	assert_non_null(c = conf_load(path));
	assert_int_equal(c->fleet_hosts[0].key[CONF_KEY_NOW].len, strlen(k2));
	assert_memory_equal(c->fleet_hosts[0].key[CONF_KEY_PREVIOUS].key, k,
	    strlen(k));
	conf_free(c);
	for (i = 0; i < nlogs; i++) {
		assert_null(strstr(logs[i], "0123456789abcdef"));
		assert_null(strstr(logs[i], "fedcba9876543210"));
	}
}

/*
 * Every file fleet { } and telegram { } name is checked at load (start,
 * reload, -n), with file:line: pks-fleet would get a missing CA or
 * certificate only after the start, and restart for ever.
 */
static void
test_block_files(void **state)
{
	struct pks_conf	*c;
	char		 conf[128], ca[128], cert[128], key[128], sec[128];
	char		 fifo[128], text[1024], want[512];
	const char	*k = "0123456789abcdef0123456789abcdef0123456789abcdef";

	(void)state;
	snprintf(conf, sizeof(conf), "%s/pks.conf", tmpdir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	snprintf(cert, sizeof(cert), "%s/web2.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/web2.key", tmpdir);
	snprintf(sec, sizeof(sec), "%s/web2.secret", tmpdir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	write_file(key, "a key\n", 0, 0600);
	write_file(sec, k, 0, 0600);
	snprintf(text, sizeof(text), "fleet {\n\tbroker \"mqtts://b\"\n"
	    "\tca-file \"%s\"\n\tname web2\n\tcert-file \"%s\"\n"
	    "\tkey-file \"%s\"\n\tsecret-file \"%s\"\n}\n" SVC, ca,
	    cert, key, sec);
	write_file(conf, text, 0, 0644);

	/* both missing: both said, each on its own line */
	file_refused(conf, 3, "fleet ca-file", ca, " not found");
	snprintf(want, sizeof(want), "%s:5: fleet cert-file %s not found",
	    conf, cert);
	assert_logged_text(want);

	/* a directory, a FIFO (never waited on) */
	write_file(cert, "a certificate\n", 0, 0644);
	assert_int_equal(mkdir(ca, 0755), 0);
	file_refused(conf, 3, "fleet ca-file", ca, " is not a regular file");
	assert_int_equal(rmdir(ca), 0);
	write_file(ca, "a CA bundle\n", 0, 0644);
	assert_int_equal(unlink(cert), 0);
	assert_int_equal(mkfifo(cert, 0644), 0);
	file_refused(conf, 5, "fleet cert-file", cert,
	    " is not a regular file");
	assert_int_equal(unlink(cert), 0);
	write_file(cert, "a certificate\n", 0, 0644);

	/* the key: a secret, with its line too */
	write_file(key, "a key\n", 0, 0644);
	file_refused(conf, 6, "fleet key-file", key,
	    " must not be readable by group or others");
	write_file(key, "a key\n", 0, 0600);

	nlogs = 0;
	assert_non_null(c = conf_load(conf));
	assert_int_equal(nlogs, 0);
	conf_free(c);

	/* telegram's too, with their lines */
	snprintf(text, sizeof(text), "\ntelegram {\n\ttoken-file \"%s\"\n"
	    "\tca-file \"%s\"\n}\n" SVC, key, fifo);
	write_file(conf, text, 0, 0644);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	file_refused(conf, 4, "telegram ca-file", fifo,
	    " is not a regular file");
	snprintf(text, sizeof(text), "\ntelegram {\n\ttoken-file \"%s\"\n"
	    "}\n" SVC, fifo);
	write_file(conf, text, 0, 0644);
	file_refused(conf, 3, "telegram token-file", fifo,
	    " is not a regular file");
}

#define TD(f)	cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		TD(test_load_with_token),
		TD(test_load_without_telegram_ignores_token),
		TD(test_load_errors),
		TD(test_secret_file),
		TD(test_fleet_secrets),
		TD(test_fleet_previous_secrets),
		TD(test_block_files),
	};

	log_init("test_common_confload", 1, 0);
	log_setsink(sink);
	return cmocka_run_group_tests_name("common_confload", tests, NULL,
	    NULL);
}

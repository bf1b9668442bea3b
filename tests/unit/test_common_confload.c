/*
 * test_common_confload.c: conf_load() on real files, and the checks on
 * the bot token file (conf_check_secret_file()).  Runs as root: it
 * chowns its files.  The grammar itself is in test_common_parse.c.
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
	assert_logged_text("token file ");
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
	assert_logged_text("No such file or directory");

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
	assert_int_equal(conf_check_secret_file(path), 0);
	assert_int_equal(nlogs, 0);

	write_file(path, "x", 0, 0400);
	assert_int_equal(conf_check_secret_file(path), 0);

	write_file(path, "x", 0, 0640);
	assert_int_equal(conf_check_secret_file(path), -1);
	assert_logged_text("must not be readable by group or others (mode "
	    "0640)");

	write_file(path, "x", 0, 0602);
	nlogs = 0;
	assert_int_equal(conf_check_secret_file(path), -1);
	assert_logged_text("(mode 0602)");

	write_file(path, "x", 1000, 0600);
	nlogs = 0;
	assert_int_equal(conf_check_secret_file(path), -1);
	assert_logged_text("must be owned by root");

	write_file(path, "x", 0, 0600);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	nlogs = 0;
	assert_int_equal(conf_check_secret_file(link), -1);
	assert_logged_text("must not be a symbolic link");

	nlogs = 0;
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_int_equal(conf_check_secret_file(tmpdir), -1);
	assert_logged_text("is not a regular file");
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
	};

	log_init("test_common_confload", 1, 0);
	log_setsink(sink);
	return cmocka_run_group_tests_name("common_confload", tests, NULL,
	    NULL);
}

/*
 * testhook.c: test builds only (PKS_TESTHOOKS).  A scale test needs
 * thousands of live sequences; asking the fake Bot API for each would
 * test the bot, not the scale.  PKS_TEST_SEQS=N:FILE makes the monitor
 * issue N sequences at start, through the same seq_generate() as
 * /generate (users 1..N of the first service, never bound), and write
 * one line per sequence, "ID PORT PORT ...", to FILE.  The sniffer gets
 * them all at once when it starts (seq_push_all()).
 *
 * PKS_TEST_SEQS_OF=USER makes it issue, at start, one sequence of every
 * service to USER (named "test", asked in private): a /status as long as
 * the configuration allows, without a /generate per service (t_fleet).
 *
 * PKS_TEST_REAP_PAUSE_MS=N makes reap() wait N ms (1..1000) before each
 * waitpid(): the moment when, of several children stopping at once, one
 * may still be writing its last words (t_fw_observe).
 *
 * PKS_TEST_OBSERVED_SAVE_S=N (1..60) writes moved counts of mode observe
 * N seconds after the last write instead of OBSERVED_SAVE_S.
 *
 * PKS_TEST_STATE_DELAY_MS=N (1..10000) pauses state_save() N ms halfway
 * through its temporary file (t_admin_crash).
 *
 * PKS_TEST_HELLO_S=N (1..3600): a fleet host's pks-fleet says hello every
 * N seconds instead of PKS_FLEET_HELLO_EVERY, and a front takes a host
 * that missed PKS_FLEET_SILENT of them for silent (t_fleet).
 *
 * The numbers are read once, at start, as the children read theirs
 * (proc_test_env()): a value that is not a whole number in range is
 * fatal, so that a test that misspells one does not run without it.
 */
#ifdef PKS_TESTHOOKS
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "monitor.h"

#define TEST_SEQS_MAX	1000000

static int	test_reap_pause_ms;	/* 0: none */
static int	test_observed_save_s;	/* 0: OBSERVED_SAVE_S */

void
testhook_init(void)
{
	test_reap_pause_ms = proc_test_env("PKS_TEST_REAP_PAUSE_MS", 1, 1000);
	test_observed_save_s = proc_test_env("PKS_TEST_OBSERVED_SAVE_S", 1,
	    60);
	state_test_delay_ms = proc_test_env("PKS_TEST_STATE_DELAY_MS", 1,
	    10000);
	fleet_test_hello_s = proc_test_env("PKS_TEST_HELLO_S", 1, 3600);
}

/* PKS_TEST_SEQS_OF=USER */
static void
testhook_seqs_of(const char *v)
{
	int64_t	user;
	int	svc, why;

	if (user_id_parse(v, &user) == -1)
		fatalx("PKS_TEST_SEQS_OF: a user id");
	for (svc = 0; svc < env->conf->nservices; svc++)
		if (seq_generate(NULL, svc, user, user, "test", 0, NULL,
		    &why) == NULL)
			fatalx("PKS_TEST_SEQS_OF: sequence refused");
	log_info("test hook: %d sequences issued to %lld",
	    env->conf->nservices, (long long)user);
}

void
testhook_seqs(void)
{
	const char	*v, *path;
	struct sequence	*s;
	char		 name[32], *end;
	unsigned long	 n, i;
	unsigned int	 k;
	int		 why;
	FILE		*f;

	if ((v = getenv("PKS_TEST_SEQS_OF")) != NULL)
		testhook_seqs_of(v);
	if ((v = getenv("PKS_TEST_SEQS")) == NULL)
		return;
	n = strtoul(v, &end, 10);
	if (*end != ':' || n == 0 || n > TEST_SEQS_MAX || end[1] == '\0')
		fatalx("PKS_TEST_SEQS: N:FILE, N in 1..%d", TEST_SEQS_MAX);
	path = end + 1;
	if ((f = fopen(path, "we")) == NULL)
		fatal("PKS_TEST_SEQS: %s", path);
	for (i = 1; i <= n; i++) {
		(void)snprintf(name, sizeof(name), "test%lu", i);
		if ((s = seq_generate(NULL, 0, (int64_t)i, (int64_t)i, name,
		    0, NULL, &why)) == NULL)
			fatalx("PKS_TEST_SEQS: sequence %lu refused", i);
		fprintf(f, "%u", s->seq.id);
		for (k = 0; k < s->seq.len; k++)
			fprintf(f, " %u", s->seq.ports[k]);
		fprintf(f, "\n");
	}
	if (fclose(f) == EOF)
		fatal("PKS_TEST_SEQS: %s", path);
	log_info("test hook: %lu sequences issued", n);
}

void
testhook_reap_pause(void)
{
	if (test_reap_pause_ms > 0)
		(void)poll(NULL, 0, test_reap_pause_ms);
}

time_t
testhook_observed_save_s(time_t dflt)
{
	return test_observed_save_s > 0 ? test_observed_save_s : dflt;
}
#endif /* PKS_TESTHOOKS */

/*
 * test_telegram_sandbox: pks-telegram's seccomp allow-list holds at the
 * largest workload it can be given (issue 14), not only the usual one:
 * a reply buffer grown by doubling to the largest reply api.c accepts,
 * the largest getUpdates batch (TG_UPDATES_MAX updates with texts
 * near 4,096 characters, padded to that size) parsed by json-c, the
 * longest message built for sendMessage, the longest log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "telegram.h"
#include "sandboxrun.h"

#define REPLY_MAX	(2 * 1024 * 1024)	/* api.c: RESP_MAX */

static void
before(void)
{
	log_init("pks-telegram", 1, 2);
}

static void
largest(void)
{
	static struct tg_update	 ups[TG_UPDATES_MAX];
	char			*buf = NULL, *nb, text[PKS_TEXT_MAX + 1];
	char			 kb[PKS_SERVICES_MAX * (PKS_NAME_MAX + 1)];
	size_t			 cap = 0, len = 0, nups, i, pad, kblen;
	int			 n;

	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	/* the batch, grown as api.c grows a reply: doubling from 16 kB */
	for (i = 0; i <= TG_UPDATES_MAX; i++) {
		while (cap - len < PKS_TEXT_MAX * 2 + 512) {
			cap = cap ? cap * 2 : 16384;
			SBR_CHECK((nb = realloc(buf, cap)) != NULL);
			buf = nb;
		}
		if (i == 0) {
			n = snprintf(buf, cap, "{\"ok\":true,\"result\":[");
		} else {
			n = snprintf(buf + len, cap - len,
			    "%s{\"update_id\":%zu,\"message\":{\"message_id\":"
			    "%zu,\"from\":{\"id\":%zu,\"is_bot\":false,"
			    "\"first_name\":\"%.200s\"},\"chat\":{\"id\":%zu,"
			    "\"type\":\"private\"},\"date\":1700000000,"
			    "\"text\":\"/generate %.4000s\"}}", i > 1 ? "," :
			    "", 100000 + i, i, 6000000000 + i, text,
			    6000000000 + i, text);
		}
		SBR_CHECK(n > 0 && (size_t)n < cap - len);
		len += n;
	}
	/* padded with white space to the largest reply accepted */
	pad = REPLY_MAX - len - 3;
	while (cap < REPLY_MAX) {
		cap *= 2;
		SBR_CHECK((nb = realloc(buf, cap)) != NULL);
		buf = nb;
	}
	memset(buf + len, ' ', pad);
	len += pad;
	memcpy(buf + len, "]}", 3);
	len += 2;
	SBR_CHECK(tg_parse_updates(buf, len, "PksTestBot", 1700000100, ups,
	    TG_UPDATES_MAX, &nups) == TG_UPDATES_MAX);
	SBR_CHECK(nups == TG_UPDATES_MAX);
	free(buf);
	/* the longest text sent, with a key for every service there
	 * can be */
	for (kblen = 0, i = 0; i < PKS_SERVICES_MAX; i++)
		kblen += snprintf(kb + kblen, sizeof(kb) - kblen, "%s%.*s%02zu",
		    i ? " " : "", PKS_NAME_MAX - 4, text, i);
	buf = tg_build_send(6000000001, 0, text, PKS_TEXT_MAX, 1, kb, kblen);
	SBR_CHECK(buf != NULL);
	free(buf);
	log_warnx("%s", text);
}

static void
sandbox_holds_at_largest_workload(void **state)
{
	(void)state;
	assert_int_equal(sandbox_run(tg_sandbox_rules, tg_sandbox_nrules,
	    before, largest), 0);
}

/* each forbidden call kills: write() past stderr, sendmsg() past the
 * socketpair, executable memory, SO_LINGER (issue 13, M1 and M3) */
static void
forbidden_calls_are_killed(void **state)
{
	(void)state;
	assert_int_equal(sandbox_run_tries(tg_sandbox_rules, tg_sandbox_nrules), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sandbox_holds_at_largest_workload),
		cmocka_unit_test(forbidden_calls_are_killed),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

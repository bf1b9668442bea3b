/*
 * test_telegram_api.c: the pure parts of pks-telegram/api.c: token
 * scrubbing, request bodies, the pre-chroot resolution.
 */
#include <stdarg.h>
#include <stddef.h>
#include <sched.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "telegram.h"

static void
scrub(void **state)
{
	char	s[128] = "GET /bot123:SeCrEt-x/getMe SeCrEt-x SeCrEt-";

	(void)state;
	tg_scrub(s, "SeCrEt-x");
	assert_string_equal(s, "GET /bot123:***/getMe *** SeCrEt-");
	tg_scrub(s, "");		/* nothing to hide: unchanged */
	assert_string_equal(s, "GET /bot123:***/getMe *** SeCrEt-");
}

static json_object *
body(char *s)
{
	json_object	*o;

	assert_non_null(s);
	o = json_tokener_parse(s);
	free(s);
	assert_non_null(o);
	return o;
}

static const char *
str(json_object *o, const char *k)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, k, &v))
		return NULL;
	return json_object_get_string(v);
}

static void
send_body(void **state)
{
	json_object	*o, *mk, *rows, *row;

	(void)state;
	o = body(tg_build_send(INT64_C(-1001234567890), 42, "a\"<b>\n", 6, 1,
	    NULL, 0));
	assert_string_equal(str(o, "chat_id"), "-1001234567890");
	assert_string_equal(str(o, "message_thread_id"), "42");
	assert_string_equal(str(o, "text"), "a\"<b>\n");
	assert_string_equal(str(o, "parse_mode"), "HTML");
	assert_false(json_object_object_get_ex(o, "reply_markup", NULL));
	json_object_put(o);

	/* keyboard: valid names only, three per row */
	o = body(tg_build_send(1, 42, "x", 1, 0, " a b;c d e  f", 13));
	assert_null(str(o, "parse_mode"));
	/* a private chat has no topics */
	assert_null(str(o, "message_thread_id"));
	assert_true(json_object_object_get_ex(o, "reply_markup", &mk));
	assert_true(json_object_object_get_ex(mk, "inline_keyboard", &rows));
	assert_int_equal(json_object_array_length(rows), 2);
	row = json_object_array_get_idx(rows, 0);
	assert_int_equal(json_object_array_length(row), 3);
	assert_string_equal(str(json_object_array_get_idx(row, 1),
	    "callback_data"), "g:d");
	assert_int_equal(json_object_array_length(
	    json_object_array_get_idx(rows, 1)), 1);
	json_object_put(o);

	/* no valid entry: no keyboard at all */
	o = body(tg_build_send(1, 0, "x", 1, 0, "a/b/c /b a;b //", 15));
	assert_false(json_object_object_get_ex(o, "reply_markup", NULL));
	json_object_put(o);

	/* fleet mode: a host's button, a service of a host's */
	o = body(tg_build_send(1, 0, "x", 1, 0, "web2/ web2/ssh", 14));
	assert_true(json_object_object_get_ex(o, "reply_markup", &mk));
	assert_true(json_object_object_get_ex(mk, "inline_keyboard", &rows));
	row = json_object_array_get_idx(rows, 0);
	assert_int_equal(json_object_array_length(row), 2);
	assert_string_equal(str(json_object_array_get_idx(row, 0), "text"),
	    "web2");
	assert_string_equal(str(json_object_array_get_idx(row, 0),
	    "callback_data"), "@web2");
	assert_string_equal(str(json_object_array_get_idx(row, 1), "text"),
	    "ssh");
	assert_string_equal(str(json_object_array_get_idx(row, 1),
	    "callback_data"), "@web2/ssh");
	json_object_put(o);
}

/* keyboard entries: the longest fit callback_data's 64 bytes */
static void
kb_entries(void **state)
{
	char		 e[80], label[PKS_NAME_MAX], data[TG_CB_DATA_MAX + 1];
	char		 kb[200 * 5];
	const char	*bad[] = { "", "/", "/ssh", "a/b/c", "s;h", "w/s;h",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	json_object	*o, *mk, *rows;
	size_t		 i, n, nrows;

	(void)state;
	memset(e, 'a', 31);
	e[31] = '/';
	memset(e + 32, 'b', 31);
	assert_int_equal(tg_kb_entry(e, 63, label, sizeof(label), data,
	    sizeof(data)), 0);
	assert_int_equal(strlen(data), TG_CB_DATA_MAX);
	assert_int_equal(strlen(label), 31);
	assert_int_equal(label[0], 'b');
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tg_kb_entry(bad[i], strlen(bad[i]), label,
		    sizeof(label), data, sizeof(data)), -1);
	/* a keyboard stops at TG_KB_MAX buttons */
	for (i = n = 0; i < 200; i++)
		n += snprintf(kb + n, sizeof(kb) - n, "s%zu ", i);
	o = body(tg_build_send(1, 0, "x", 1, 0, kb, n));
	assert_true(json_object_object_get_ex(o, "reply_markup", &mk));
	assert_true(json_object_object_get_ex(mk, "inline_keyboard", &rows));
	nrows = json_object_array_length(rows);
	for (i = n = 0; i < nrows; i++)
		n += json_object_array_length(json_object_array_get_idx(rows,
		    i));
	assert_int_equal(n, TG_KB_MAX);
	json_object_put(o);
}

/* replies and the start button, in a group only; never both keyboards */
static void
msg_body(void **state)
{
	struct tg_msg	 m;
	json_object	*o, *v;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.chat = INT64_C(-1001234567890);
	m.reply_to = 77;
	m.text = "x";
	m.len = 1;
	m.start_bot = "PksTestBot";
	o = body(tg_build_msg(&m));
	assert_true(json_object_object_get_ex(o, "reply_parameters", &v));
	assert_string_equal(str(v, "message_id"), "77");
	assert_non_null(strstr(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "\"url\":\"https://t.me/PksTestBot?start=pks\""));
	json_object_put(o);
	m.kb = "ssh";
	m.kblen = 3;
	o = body(tg_build_msg(&m));
	assert_null(strstr(json_object_to_json_string(o), "t.me"));
	json_object_put(o);
	m.chat = 6123456789;
	o = body(tg_build_msg(&m));
	assert_false(json_object_object_get_ex(o, "reply_parameters", NULL));
	json_object_put(o);
}

static void
other_bodies(void **state)
{
	json_object	*o, *a;

	(void)state;
	o = body(tg_build_getupdates(0, 50));
	assert_false(json_object_object_get_ex(o, "offset", NULL));
	assert_string_equal(str(o, "timeout"), "50");
	assert_true(json_object_object_get_ex(o, "allowed_updates", &a));
	/* no channel_post: a channel carries no person */
	assert_int_equal(json_object_array_length(a), 2);
	assert_null(strstr(json_object_to_json_string(a), "channel_post"));
	json_object_put(o);
	o = body(tg_build_getupdates(INT64_C(900000001), 5));
	assert_string_equal(str(o, "offset"), "900000001");
	json_object_put(o);
	o = body(tg_build_answer("4382bfd\"x", NULL, NULL));
	assert_string_equal(str(o, "callback_query_id"), "4382bfd\"x");
	assert_false(json_object_object_get_ex(o, "text", &a));
	assert_false(json_object_object_get_ex(o, "url", &a));
	json_object_put(o);
	/* a user who never started the bot: the press opens its chat */
	o = body(tg_build_answer("7", "Open it", "PksBot"));
	assert_string_equal(str(o, "text"), "Open it");
	assert_string_equal(str(o, "url"), "https://t.me/PksBot?start=pks");
	json_object_put(o);
	o = body(tg_build_commands(TG_MENU_PRIVATE, 0, 0, 0));
	assert_true(json_object_object_get_ex(o, "commands", &a));
	assert_int_equal(json_object_array_length(a), 5);
	assert_null(strstr(json_object_to_json_string(a), "grant"));
	assert_null(strstr(json_object_to_json_string(a), "hosts"));
	assert_true(json_object_object_get_ex(o, "scope", &a));
	assert_string_equal(str(a, "type"), "all_private_chats");
	json_object_put(o);
	/* the front of a fleet: /hosts too, in every menu */
	o = body(tg_build_commands(TG_MENU_PRIVATE, 0, 0, 1));
	assert_true(json_object_object_get_ex(o, "commands", &a));
	assert_int_equal(json_object_array_length(a), 6);
	assert_non_null(strstr(json_object_to_json_string(a),
	    "\"hosts\""));
	json_object_put(o);
	o = body(tg_build_commands(TG_MENU_GROUP_ADMIN,
	    INT64_C(-1001234567890), 6123456789, 1));
	assert_true(json_object_object_get_ex(o, "commands", &a));
	assert_int_equal(json_object_array_length(a), 13);
	json_object_put(o);
	o = body(tg_build_commands(TG_MENU_ADMIN, 6123456789, 0, 0));
	assert_true(json_object_object_get_ex(o, "commands", &a));
	assert_int_equal(json_object_array_length(a), 13);
	assert_true(json_object_object_get_ex(o, "scope", &a));
	assert_string_equal(str(a, "type"), "chat");
	assert_string_equal(str(a, "chat_id"), "6123456789");
	json_object_put(o);
	o = body(tg_build_commands(TG_MENU_GROUP, 0, 0, 0));
	assert_true(json_object_object_get_ex(o, "commands", &a));
	assert_null(strstr(json_object_to_json_string(a), "grant"));
	assert_true(json_object_object_get_ex(o, "scope", &a));
	assert_string_equal(str(a, "type"), "all_group_chats");
	json_object_put(o);
	/* an admin in a group: the admin commands, worded for the group */
	o = body(tg_build_commands(TG_MENU_GROUP_ADMIN,
	    INT64_C(-1001234567890), 6123456789, 0));
	assert_true(json_object_object_get_ex(o, "commands", &a));
	assert_int_equal(json_object_array_length(a), 12);
	assert_non_null(strstr(json_object_to_json_string(a),
	    "replying to someone"));
	assert_true(json_object_object_get_ex(o, "scope", &a));
	assert_string_equal(str(a, "type"), "chat_member");
	assert_string_equal(str(a, "chat_id"), "-1001234567890");
	assert_string_equal(str(a, "user_id"), "6123456789");
	json_object_put(o);
}

static int	isolated;

static void
resolve(void **state)
{
	char	e[256];
	int	ipr;

	(void)state;
	assert_int_equal(tg_resolve("https://127.0.0.1:8443", e, sizeof(e),
	    &ipr), 0);
	assert_string_equal(e, "");
	assert_int_equal(tg_resolve("https://[::1]:8443/x", e, sizeof(e),
	    &ipr), 0);
	assert_string_equal(e, "");
	assert_int_equal(tg_resolve("https://localhost:8443", e, sizeof(e),
	    &ipr), 0);
	assert_true(strncmp(e, "localhost:8443:", 15) == 0);
	assert_non_null(strstr(e, "127.0.0.1"));
	/* default port from the scheme */
	assert_int_equal(tg_resolve("https://localhost/", e, sizeof(e),
	    &ipr), 0);
	assert_true(strncmp(e, "localhost:443:", 14) == 0);
	/* an unknown name, only where no query can leave this machine */
	if (isolated)
		assert_int_equal(tg_resolve("https://no-such-host.invalid", e,
		    sizeof(e), &ipr), -1);
	assert_int_equal(tg_resolve("not a url", e, sizeof(e), &ipr), -1);
	/* too small for the entry */
	assert_int_equal(tg_resolve("https://localhost:8443", e, 12, &ipr),
	    -1);
}

int
main(void)
{
	/*
	 * Network rule: a name lookup must not reach the host's resolver.
	 * In a network namespace of our own (root only), a DNS query has
	 * no route and fails at once.
	 */
	isolated = unshare(CLONE_NEWNET) == 0;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scrub),
		cmocka_unit_test(send_body),
		cmocka_unit_test(kb_entries),
		cmocka_unit_test(msg_body),
		cmocka_unit_test(other_bodies),
		cmocka_unit_test(resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_telegram_update.c: Bot API JSON to monitor requests (update.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "telegram.h"

#define BOT	"PksTestBot"
#define NOW	1700000100

static struct tg_update	ups[TG_UPDATES_MAX];
static size_t		nups;

/* {"ok":true,"result":[ <body> ]} through the parser */
static int
parse(const char *body)
{
	char	buf[8192];

	snprintf(buf, sizeof(buf), "{\"ok\":true,\"result\":[%s]}", body);
	return tg_parse_updates(buf, strlen(buf), BOT, NOW, ups,
	    TG_UPDATES_MAX, &nups);
}

/* one private or group message; ent: the entities array or "" */
static int
msg(const char *chat, const char *text, const char *ent)
{
	char	buf[4096];

	snprintf(buf, sizeof(buf),
	    "{\"update_id\":100000001,\"message\":{\"message_id\":5,"
	    "\"from\":{\"id\":6123456789,\"is_bot\":false,"
	    "\"first_name\":\"Ann\",\"username\":\"ann\"},"
	    "\"chat\":%s,\"date\":1700000000,\"text\":\"%s\"%s%s}}",
	    chat, text, *ent ? ",\"entities\":" : "", ent);
	return parse(buf);
}

#define PRIV	"{\"id\":6123456789,\"type\":\"private\",\"first_name\":\"Ann\"}"
#define GROUP	"{\"id\":-1001234567890,\"type\":\"supergroup\",\"title\":\"G\"}"
#define CMD(n)	"[{\"offset\":0,\"length\":" #n ",\"type\":\"bot_command\"}]"

static void
generate_private(void **state)
{
	(void)state;
	assert_int_equal(msg(PRIV, "/generate ssh", CMD(9)), 1);
	assert_int_equal(nups, 1);
	assert_int_equal(ups[0].update_id, 100000001);
	assert_true(ups[0].has_cmd);
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_int_equal(ups[0].req.chat_type, TG_CHAT_PRIVATE);
	assert_true(ups[0].req.user_id == INT64_C(6123456789));
	assert_true(ups[0].req.chat_id == INT64_C(6123456789));
	assert_int_equal(ups[0].req.age, 100);
	assert_string_equal(ups[0].req.arg1, "ssh");
	assert_string_equal(ups[0].req.arg2, "");
	assert_string_equal(ups[0].req.user_name, "@ann");
	assert_int_equal(ups[0].req.reqid, 0);
}

/* chat 0 or user 0 cannot be answered: such an update is no command */
static void
zero_ids_are_dropped(void **state)
{
	(void)state;
	assert_int_equal(msg("{\"id\":0,\"type\":\"private\"}",
	    "/whoami", CMD(7)), 1);
	assert_int_equal(nups, 1);
	assert_false(ups[0].has_cmd);
	assert_int_equal(parse("{\"update_id\":100000002,\"message\":"
	    "{\"message_id\":5,\"from\":{\"id\":0,\"is_bot\":false,"
	    "\"first_name\":\"Z\"},\"chat\":" GROUP ",\"date\":1700000000,"
	    "\"text\":\"/whoami\",\"entities\":" CMD(7) "}}"), 1);
	assert_false(ups[0].has_cmd);
}

static void
generate_with_address(void **state)
{
	(void)state;
	msg(PRIV, "/generate ssh 198.18.0.2", CMD(9));
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_string_equal(ups[0].req.arg2, "198.18.0.2");
	msg(PRIV, "/generate  web-1\\n fd00::2", CMD(9));
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_string_equal(ups[0].req.arg1, "web-1");
	assert_string_equal(ups[0].req.arg2, "fd00::2");
	/* fleet mode: a host, then a service; the monitor tells */
	msg(PRIV, "/generate web2 ssh", CMD(9));
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_string_equal(ups[0].req.arg1, "web2");
	assert_string_equal(ups[0].req.arg2, "ssh");
}

/* fleet mode: a host's name first, then the command's own words */
static void
fleet_admin_words(void **state)
{
	(void)state;
	msg(PRIV, "/revoke web2 6123456790", CMD(7));
	assert_int_equal(ups[0].req.cmd, TG_CMD_REVOKE_USER);
	assert_int_equal(ups[0].req.nargs, 2);
	assert_string_equal(ups[0].req.argv[0], "web2");
	assert_string_equal(ups[0].req.argv[1], "6123456790");
	msg(PRIV, "/revoke all all", CMD(7));
	assert_int_equal(ups[0].req.cmd, TG_CMD_REVOKE_USER);
	assert_int_equal(ups[0].req.nargs, 2);
	/* a host alone: the person's own sequences there */
	msg(PRIV, "/revoke web2", CMD(7));
	assert_int_equal(ups[0].req.cmd, TG_CMD_REVOKE);
	assert_string_equal(ups[0].req.arg1, "web2");
	/* neither a user id nor all after the host */
	msg(PRIV, "/revoke web2 bob", CMD(7));
	assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
	msg(PRIV, "/revoke we;b2 5", CMD(7));
	assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
	/* /grant HOST USER_ID SERVICE DURATION: four words kept */
	msg(PRIV, "/grant web2 6123456790 ssh 1h", CMD(6));
	assert_int_equal(ups[0].req.cmd, TG_CMD_GRANT);
	assert_int_equal(ups[0].req.nargs, 4);
	assert_string_equal(ups[0].req.argv[3], "1h");
	/* a fifth is counted, not kept: the monitor answers the usage */
	msg(PRIV, "/grant web2 6123456790 ssh 1h x", CMD(6));
	assert_int_equal(ups[0].req.nargs, 5);
	assert_string_equal(ups[0].req.argv[3], "1h");
}

static void
bad_arguments_are_unknown(void **state)
{
	static const char *const bad[] = {
		"/generate ss;h",
		"/generate ssh no/host",
		"/generate web2 ssh 1.2.3.4",
		"/generate ssh 1.2.3.4 extra",
		"/generate aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"/generate ssh 1111:2222:3333:4444:5555:6666:7777:8888:9999:"
		    "aaaa:bbbb:cccc:dddd:1111:2222:3333:4444:5555:6666:7777",
		"/generate ss\\u00e9",
		"/revoke ssh 1.2.3.4",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(msg(PRIV, bad[i], bad[i][1] == 'r' ?
		    CMD(7) : CMD(9)), 1);
		assert_true(ups[0].has_cmd);
		assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
		assert_string_equal(ups[0].req.arg1, "");
		assert_string_equal(ups[0].req.arg2, "");
	}
}

static void
every_command(void **state)
{
	static const struct {
		const char	*text;
		const char	*ent;
		uint32_t	 cmd;
	} t[] = {
		{ "/start", CMD(6), TG_CMD_START },
		{ "/start deep-link-payload x y", CMD(6), TG_CMD_START },
		{ "/help", CMD(5), TG_CMD_HELP },
		{ "/status", CMD(7), TG_CMD_STATUS },
		{ "/status ssh", CMD(7), TG_CMD_STATUS },
		{ "/revoke", CMD(7), TG_CMD_REVOKE },
		{ "/whoami", CMD(7), TG_CMD_WHOAMI },
		{ "/WhoAmI", CMD(7), TG_CMD_WHOAMI },
		{ "/frobnicate", CMD(11), TG_CMD_UNKNOWN },
		{ "hello", "", TG_CMD_UNKNOWN },
		{ "/ not a command", "", TG_CMD_UNKNOWN },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msg(PRIV, t[i].text, t[i].ent);
		assert_true(ups[0].has_cmd);
		assert_int_equal(ups[0].req.cmd, t[i].cmd);
	}
}

static void
bot_suffix(void **state)
{
	(void)state;
	msg(GROUP, "/generate@PksTestBot ssh", CMD(20));
	assert_true(ups[0].has_cmd);
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_int_equal(ups[0].req.chat_type, TG_CHAT_SUPERGROUP);
	assert_true(ups[0].req.chat_id == INT64_C(-1001234567890));
	assert_string_equal(ups[0].req.arg1, "ssh");
	/* usernames are case-insensitive */
	msg(PRIV, "/status@pkstestbot", CMD(18));
	assert_int_equal(ups[0].req.cmd, TG_CMD_STATUS);
}

static void
other_bot_is_ignored(void **state)
{
	(void)state;
	assert_int_equal(msg(GROUP, "/generate@OtherBot ssh", CMD(18)), 1);
	assert_int_equal(nups, 1);	/* still confirmed */
	assert_false(ups[0].has_cmd);
	msg(PRIV, "/help@OtherBot", CMD(14));
	assert_false(ups[0].has_cmd);
	/* a prefix of our name is another name */
	msg(GROUP, "/help@PksTestBo", CMD(15));
	assert_false(ups[0].has_cmd);
	msg(GROUP, "/help@PksTestBotX", CMD(17));
	assert_false(ups[0].has_cmd);
}

static void
group_text_and_unknown(void **state)
{
	(void)state;
	msg(GROUP, "hello all", "");
	assert_false(ups[0].has_cmd);
	msg(GROUP, "/foo", CMD(4));		/* maybe another bot's */
	assert_false(ups[0].has_cmd);
	msg(GROUP, "/foo@PksTestBot", CMD(15));
	assert_true(ups[0].has_cmd);
	assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
	msg("{\"id\":-4012345678,\"type\":\"group\",\"title\":\"g\"}",
	    "/whoami", CMD(7));
	assert_int_equal(ups[0].req.chat_type, TG_CHAT_GROUP);
	assert_int_equal(ups[0].req.cmd, TG_CMD_WHOAMI);
}

static void
utf16_offsets(void **state)
{
	size_t	b;

	(void)state;
	/* U+1F511 (key): 4 bytes, 2 UTF-16 units; U+00E9: 2 bytes, 1 unit */
	assert_int_equal(tg_utf16_to_bytes("\xf0\x9f\x94\x91x", 5, 2, &b), 0);
	assert_int_equal(b, 4);
	assert_int_equal(tg_utf16_to_bytes("\xf0\x9f\x94\x91x", 5, 3, &b), 0);
	assert_int_equal(b, 5);
	/* inside the surrogate pair */
	assert_int_equal(tg_utf16_to_bytes("\xf0\x9f\x94\x91x", 5, 1, &b), -1);
	assert_int_equal(tg_utf16_to_bytes("\xc3\xa9", 2, 1, &b), 0);
	assert_int_equal(b, 2);
	assert_int_equal(tg_utf16_to_bytes("ab", 2, 3, &b), -1);
	/* broken, overlong, surrogate code points */
	assert_int_equal(tg_utf16_to_bytes("\xc3", 1, 1, &b), -1);
	assert_int_equal(tg_utf16_to_bytes("\xc0\xaf", 2, 1, &b), -1);
	assert_int_equal(tg_utf16_to_bytes("\xed\xa0\x80", 3, 1, &b), -1);
	assert_int_equal(tg_utf16_to_bytes("\xff", 1, 1, &b), -1);

	/* a command followed by emoji: only the entity is the command */
	msg(PRIV, "/generate\\ud83d\\udd11 ssh", CMD(9));
	assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
	/* "/generate@PksTestBot" measured after emoji in the name field */
	msg(GROUP, "/generate@PksTestBot ssh \\ud83d\\ude00", CMD(20));
	assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
	msg(GROUP, "/generate@PksTestBot ssh", CMD(20));
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	/* an entity length that counts the emoji as one unit is refused */
	msg(PRIV, "/\\ud83d\\udd11 x", CMD(2));
	assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
	/* a non-ASCII first name is kept whole */
	parse("{\"update_id\":7,\"message\":{\"from\":{\"id\":1,"
	    "\"first_name\":\"Z\\u00f6e \\ud83d\\udd11\"},\"chat\":" PRIV
	    ",\"date\":1,\"text\":\"/help\",\"entities\":" CMD(5) "}}");
	assert_string_equal(ups[0].req.user_name,
	    "Z\xc3\xb6" "e \xf0\x9f\x94\x91");
}

static void
long_name_cut_on_character(void **state)
{
	char	body[1024], name[256];
	size_t	i;

	(void)state;
	/* "a" then 40 two-byte characters: 81 bytes, cut at 63 */
	name[0] = 'a';
	for (i = 0; i < 40; i++)
		memcpy(name + 1 + 6 * i, "\\u00e9", 6);
	name[1 + 6 * 40] = '\0';
	snprintf(body, sizeof(body), "{\"update_id\":7,\"message\":{\"from\":"
	    "{\"id\":1,\"first_name\":\"%s\\n\"},\"chat\":" PRIV ",\"date\":1,"
	    "\"text\":\"/help\",\"entities\":" CMD(5) "}}", name);
	parse(body);
	assert_int_equal(strlen(ups[0].req.user_name), 63);
	assert_int_equal(ups[0].req.user_name[62], '\xa9');
	snprintf(body, sizeof(body), "{\"update_id\":7,\"message\":{\"from\":"
	    "{\"id\":1,\"first_name\":\"x\\ny\"},\"chat\":" PRIV ",\"date\":1,"
	    "\"text\":\"/help\",\"entities\":" CMD(5) "}}");
	parse(body);
	assert_string_equal(ups[0].req.user_name, "x?y");
}

static void
huge_ids(void **state)
{
	(void)state;
	parse("{\"update_id\":900000001,\"message\":{\"from\":{\"id\":"
	    "8999999999999},\"chat\":{\"id\":-1009999999999,\"type\":"
	    "\"supergroup\"},\"date\":1,\"text\":\"/help\",\"entities\":"
	    CMD(5) "}}");
	assert_true(ups[0].has_cmd);
	assert_true(ups[0].req.user_id == INT64_C(8999999999999));
	assert_true(ups[0].req.chat_id == INT64_C(-1009999999999));
	/* beyond what Telegram can send: not an id */
	parse("{\"update_id\":9,\"message\":{\"from\":{\"id\":"
	    "99999999999999999999},\"chat\":" PRIV ",\"date\":1,"
	    "\"text\":\"/help\",\"entities\":" CMD(5) "}}");
	assert_int_equal(nups, 1);
	assert_false(ups[0].has_cmd);
	/* an update id out of range is skipped, the others are kept */
	assert_int_equal(parse("{\"update_id\":1e30},{\"update_id\":"
	    "-5},{\"update_id\":12}"), 3);
	assert_int_equal(nups, 1);
	assert_int_equal(ups[0].update_id, 12);
}

/* a press on a service picker sent at date: has_cmd */
static int
picker_press(long long date)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), "{\"update_id\":13,\"callback_query\":"
	    "{\"id\":\"9\",\"from\":{\"id\":5},\"message\":{\"message_id\":"
	    "2,\"chat\":" PRIV ",\"date\":%lld},\"data\":\"g:ssh\"}}", date);
	parse(buf);
	return ups[0].has_cmd;
}

/* a press on a button holding data (a fresh picker): has_cmd */
static int
press(const char *data)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), "{\"update_id\":14,\"callback_query\":"
	    "{\"id\":\"9\",\"from\":{\"id\":5},\"message\":{\"message_id\":"
	    "2,\"chat\":" PRIV ",\"date\":%lld},\"data\":\"%s\"}}",
	    (long long)NOW, data);
	parse(buf);
	return ups[0].has_cmd;
}

/* fleet mode: a host's button, a service of a host's */
static void
host_picker_press(void **state)
{
	static const char *const bad[] = {
		"@", "@/ssh", "@web2/", "@web2/s;h", "@we;b2", "@web2/ssh/x",
		"@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "h:web2", "g:web2/ssh",
	};
	size_t	i;

	(void)state;
	assert_int_equal(press("@web2"), 1);
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_string_equal(ups[0].req.arg1, "web2");
	assert_string_equal(ups[0].req.arg2, "");
	assert_int_equal(press("@web2/ssh"), 1);
	assert_string_equal(ups[0].req.arg1, "web2");
	assert_string_equal(ups[0].req.arg2, "ssh");
	/* the longest names fit Telegram's 64 bytes */
	assert_int_equal(press("@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), 1);
	assert_int_equal(strlen(ups[0].req.arg2), PKS_NAME_MAX - 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(press(bad[i]), 0);
		assert_string_equal(ups[0].cbq_id, "9");	/* answered */
	}
}

static void
callback_query(void **state)
{
	(void)state;
	parse("{\"update_id\":11,\"callback_query\":{\"id\":\"4382bfdwdsb323b2d9\","
	    "\"from\":{\"id\":6123456789,\"first_name\":\"Ann\"},\"message\":"
	    "{\"message_id\":3,\"chat\":" GROUP ",\"date\":1700000095,"
	    "\"text\":\"x\"},\"chat_instance\":\"1\",\"data\":\"g:ssh\"}}");
	assert_true(ups[0].has_cmd);
	assert_false(ups[0].expired);
	assert_string_equal(ups[0].cbq_id, "4382bfdwdsb323b2d9");
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_string_equal(ups[0].req.arg1, "ssh");
	assert_true(ups[0].req.chat_id == INT64_C(-1001234567890));
	assert_string_equal(ups[0].req.user_name, "Ann");
	assert_int_equal(ups[0].req.age, 5);	/* the picker's age */
	/* the picker expires with its command; inaccessible ones are dated 0 */
	assert_int_equal(picker_press(NOW - PKS_REQ_MAX_AGE), 1);
	assert_int_equal(ups[0].req.age, PKS_REQ_MAX_AGE);
	assert_int_equal(picker_press(NOW - PKS_REQ_MAX_AGE - 1), 0);
	assert_true(ups[0].expired);
	assert_string_equal(ups[0].cbq_id, "9");
	assert_int_equal(ups[0].req.cmd, TG_CMD_NONE);
	/* the picker to strip of its buttons */
	assert_true(ups[0].expired_chat == INT64_C(6123456789));
	assert_int_equal(ups[0].msg_id, 2);
	assert_int_equal(picker_press(0), 0);
	assert_true(ups[0].expired);
	assert_true(ups[0].expired_chat == 0);	/* too old to edit */
	/* not our data: answered (id kept) but no command */
	parse("{\"update_id\":12,\"callback_query\":{\"id\":\"77\",\"from\":"
	    "{\"id\":5},\"message\":{\"chat\":" PRIV "},\"data\":\"x:ssh\"}}");
	assert_false(ups[0].has_cmd);
	assert_string_equal(ups[0].cbq_id, "77");
	parse("{\"update_id\":12,\"callback_query\":{\"id\":\"77\",\"from\":"
	    "{\"id\":5},\"message\":{\"chat\":" PRIV "},\"data\":\"g:s;h\"}}");
	assert_false(ups[0].has_cmd);
	/* an inline message (no "message"): nothing to answer in */
	parse("{\"update_id\":12,\"callback_query\":{\"id\":\"77\",\"from\":"
	    "{\"id\":5},\"inline_message_id\":\"x\",\"data\":\"g:ssh\"}}");
	assert_false(ups[0].has_cmd);
	assert_string_equal(ups[0].cbq_id, "77");
	/* no id: nothing at all */
	parse("{\"update_id\":12,\"callback_query\":{\"id\":5,\"from\":"
	    "{\"id\":5},\"message\":{\"chat\":" PRIV "},\"data\":\"g:ssh\"}}");
	assert_false(ups[0].has_cmd);
	assert_string_equal(ups[0].cbq_id, "");
}

static void
ignored_kinds(void **state)
{
	static const char *const t[] = {
		/* edited message */
		"{\"update_id\":5,\"edited_message\":{\"from\":{\"id\":1},"
		    "\"chat\":" PRIV ",\"date\":1,\"text\":\"/help\","
		    "\"entities\":" CMD(5) "}}",
		/* sticker, no text */
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":"
		    PRIV ",\"date\":1,\"sticker\":{}}}",
		/* unknown kind */
		"{\"update_id\":5,\"my_chat_member\":{}}",
		/* wrong types */
		"{\"update_id\":5,\"message\":[]}",
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":\"1\"},"
		    "\"chat\":" PRIV ",\"date\":1,\"text\":\"/help\"}}",
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":"
		    "{\"id\":1,\"type\":\"secret\"},\"date\":1,\"text\":\"/x\"}}",
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":"
		    "{\"id\":1.5,\"type\":\"private\"},\"date\":1,\"text\":\"x\"}}",
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":"
		    PRIV ",\"date\":\"now\",\"text\":\"/help\"}}",
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":"
		    PRIV ",\"date\":1,\"text\":7}}",
		"{\"update_id\":5,\"message\":{\"chat\":" PRIV ",\"date\":1,"
		    "\"text\":\"/help\"}}",
		/* NUL inside the text */
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":"
		    PRIV ",\"date\":1,\"text\":\"/help\\u0000x\"}}",
		/* empty text */
		"{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":"
		    PRIV ",\"date\":1,\"text\":\"\"}}",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(parse(t[i]), 1);
		assert_int_equal(nups, 1);
		assert_false(ups[0].has_cmd);
		assert_int_equal(ups[0].update_id, 5);
	}
}

static void
broken_entities_in_group_ignored(void **state)
{
	static const char *const ents[] = {
		"[{\"offset\":1,\"length\":5,\"type\":\"bot_command\"}]",
		"[{\"offset\":0,\"length\":5,\"type\":\"mention\"}]",
		"[{\"offset\":0,\"length\":50,\"type\":\"bot_command\"}]",
		"[{\"offset\":0,\"length\":\"5\",\"type\":\"bot_command\"}]",
		"[{\"offset\":0,\"length\":-5,\"type\":\"bot_command\"}]",
		"[7]", "{}", "[]",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		msg(GROUP, "/help@PksTestBot", ents[i]);
		assert_false(ups[0].has_cmd);
		msg(PRIV, "/help", ents[i]);
		assert_int_equal(ups[0].req.cmd, TG_CMD_UNKNOWN);
	}
}

/* a channel carries no person: its posts are ignored, never answered */
static void
channel_post(void **state)
{
	(void)state;
	parse("{\"update_id\":5,\"channel_post\":{\"message_id\":3,"
	    "\"sender_chat\":{\"id\":-1001000000001,\"type\":\"channel\","
	    "\"title\":\"Ops\"},\"chat\":{\"id\":-1001000000001,\"type\":"
	    "\"channel\",\"title\":\"Ops\"},\"date\":1,\"text\":"
	    "\"/generate@PksTestBot\",\"entities\":" CMD(20) "}}");
	assert_int_equal(nups, 1);
	assert_false(ups[0].has_cmd);
	assert_true(ups[0].req.chat_id == 0 && ups[0].req.user_id == 0);
}

/* a group message with these fields added after "chat" */
static int
gmsg(const char *extra, const char *text, const char *ent)
{
	char	buf[4096];

	snprintf(buf, sizeof(buf),
	    "{\"update_id\":100000001,\"message\":{\"message_id\":20,"
	    "\"from\":{\"id\":6123456789,\"is_bot\":false,"
	    "\"first_name\":\"Ann\"},\"chat\":" GROUP "%s,"
	    "\"date\":1700000000,\"text\":\"%s\",\"entities\":%s}}",
	    extra, text, ent);
	return parse(buf);
}

#define TOPIC	",\"message_thread_id\":7,\"is_topic_message\":true"
#define CREATED	",\"reply_to_message\":{\"message_id\":7,\"from\":{\"id\":" \
	"5000000001,\"is_bot\":false,\"first_name\":\"Eve\"},\"chat\":" \
	GROUP ",\"date\":1,\"message_thread_id\":7,\"forum_topic_created\":" \
	"{\"name\":\"ops\",\"icon_color\":7322096}}"

static void
forum_topics(void **state)
{
	(void)state;
	/* every topic message replies to the creation: no grant target */
	gmsg(TOPIC CREATED, "/grant@PksTestBot ssh", CMD(17));
	assert_true(ups[0].has_cmd);
	assert_int_equal(ups[0].req.cmd, TG_CMD_GRANT);
	assert_int_equal(ups[0].req.thread_id, 7);
	assert_true(ups[0].req.reply_user_id == 0);
	/* the same, told apart by the id alone */
	gmsg(TOPIC ",\"reply_to_message\":{\"message_id\":7,\"from\":{\"id\":"
	    "5000000001,\"is_bot\":false,\"first_name\":\"Eve\"},\"chat\":"
	    GROUP ",\"date\":1}", "/grant@PksTestBot ssh", CMD(17));
	assert_true(ups[0].req.reply_user_id == 0);
	/* a real reply inside the topic names its sender */
	gmsg(TOPIC ",\"reply_to_message\":{\"message_id\":9,\"from\":{\"id\":"
	    "5000000002,\"is_bot\":false,\"first_name\":\"Bo\"},\"chat\":"
	    GROUP ",\"date\":1,\"message_thread_id\":7,\"is_topic_message\":"
	    "true}", "/grant@PksTestBot ssh", CMD(17));
	assert_true(ups[0].req.reply_user_id == INT64_C(5000000002));
	assert_int_equal(ups[0].req.thread_id, 7);
	/* a reply thread outside a forum is no topic */
	gmsg(",\"message_thread_id\":7", "/status@PksTestBot", CMD(18));
	assert_true(ups[0].has_cmd);
	assert_int_equal(ups[0].req.thread_id, 0);
	/* a topic id out of range is none */
	gmsg(",\"message_thread_id\":4294967296,\"is_topic_message\":true",
	    "/status@PksTestBot", CMD(18));
	assert_int_equal(ups[0].req.thread_id, 0);
}

static void
no_person(void **state)
{
	(void)state;
	/* an anonymous admin: GroupAnonymousBot on behalf of the group */
	parse("{\"update_id\":1,\"message\":{\"message_id\":2,\"from\":{\"id\":"
	    "1087968824,\"is_bot\":true,\"first_name\":\"Group\",\"username\":"
	    "\"GroupAnonymousBot\"},\"sender_chat\":" GROUP ",\"chat\":" GROUP
	    ",\"date\":1700000000,\"text\":\"/generate@PksTestBot\","
	    "\"entities\":" CMD(20) "}}");
	assert_true(ups[0].has_cmd);
	assert_int_equal(ups[0].req.cmd, TG_CMD_GENERATE);
	assert_true(ups[0].req.user_id == 0);
	assert_string_equal(ups[0].req.user_name, "");
	/* sender_chat alone is enough, whoever "from" claims to be */
	gmsg(",\"sender_chat\":{\"id\":-1001000000001,\"type\":\"channel\","
	    "\"title\":\"C\"}", "/generate@PksTestBot", CMD(20));
	assert_true(ups[0].has_cmd && ups[0].req.user_id == 0);
	/* a reply to an automatic forward from a linked channel */
	gmsg(",\"reply_to_message\":{\"message_id\":3,\"from\":{\"id\":777000,"
	    "\"is_bot\":false,\"first_name\":\"Telegram\"},\"sender_chat\":"
	    "{\"id\":-1001000000001,\"type\":\"channel\",\"title\":\"C\"},"
	    "\"is_automatic_forward\":true,\"chat\":" GROUP ",\"date\":1}",
	    "/grant@PksTestBot ssh", CMD(17));
	assert_true(ups[0].has_cmd && ups[0].req.user_id != 0);
	assert_true(ups[0].req.reply_user_id == 0);
	/* in a private chat, a message with no person is no command */
	msg(PRIV "," "\"sender_chat\":" GROUP, "/whoami", CMD(7));
	assert_false(ups[0].has_cmd);
}

static void
migration(void **state)
{
	struct tg_reply	rp;
	const char	*s;

	(void)state;
	parse("{\"update_id\":1,\"message\":{\"message_id\":4,\"from\":{\"id\":"
	    "6123456789,\"is_bot\":false,\"first_name\":\"Ann\"},\"chat\":"
	    "{\"id\":-4012345678,\"type\":\"group\",\"title\":\"G\"},\"date\":"
	    "1700000000,\"migrate_to_chat_id\":-1001234567890}}");
	assert_false(ups[0].has_cmd);
	assert_true(ups[0].migrate_to == INT64_C(-1001234567890));
	assert_true(ups[0].migrate_from == INT64_C(-4012345678));
	/* a positive or equal id is no migration */
	parse("{\"update_id\":1,\"message\":{\"message_id\":4,\"from\":{\"id\":"
	    "6123456789,\"is_bot\":false,\"first_name\":\"Ann\"},\"chat\":"
	    "{\"id\":-4012345678,\"type\":\"group\",\"title\":\"G\"},\"date\":"
	    "1700000000,\"migrate_to_chat_id\":5}}");
	assert_true(ups[0].migrate_to == 0);
	s = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: "
	    "group chat was upgraded to a supergroup chat\",\"parameters\":"
	    "{\"migrate_to_chat_id\":-1001234567890}}";
	assert_int_equal(tg_parse_reply(s, strlen(s), &rp), 0);
	assert_true(rp.migrate_to == INT64_C(-1001234567890));
	s = "{\"ok\":false,\"parameters\":{\"migrate_to_chat_id\":\"-1\"}}";
	assert_int_equal(tg_parse_reply(s, strlen(s), &rp), 0);
	assert_true(rp.migrate_to == 0);
}

/* the id of a message sent, to edit it later; 0 when absent or odd */
static void
sent_message_id(void **state)
{
	static const char *const zero[] = {
		"{\"ok\":true,\"result\":true}", "{\"ok\":true}", "x",
		"{\"ok\":true,\"result\":{\"message_id\":0}}",
		"{\"ok\":true,\"result\":{\"message_id\":-4}}",
		"{\"ok\":true,\"result\":{\"message_id\":4294967296}}",
		"{\"ok\":true,\"result\":{\"message_id\":\"7\"}}",
	};
	const char	*s;
	size_t		 i;

	(void)state;
	s = "{\"ok\":true,\"result\":{\"message_id\":77,\"chat\":{}}}";
	assert_true(tg_parse_sent(s, strlen(s)) == 77);
	for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		assert_true(tg_parse_sent(zero[i], strlen(zero[i])) == 0);
}

static void
envelope(void **state)
{
	static const char *const bad[] = {
		"", "{", "[]", "null", "{\"ok\":true}", "{\"ok\":false}",
		"{\"ok\":\"true\",\"result\":[]}", "{\"ok\":true,\"result\":{}}",
		"{\"ok\":true,\"result\":[{\"update_id\":",
		"{\"ok\":true,\"result\":[]} x", "<html>502</html>",
		"{\"ok\":true,\"result\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	static const char *const notenv[] = {
		"", "{", "[]", "null", "{\"ok\":\"true\"}", "{\"ok\":1}",
		"<html>502</html>", "{\"ok\":true} x", "{\"ok\":true,",
	};
	struct tg_reply	rp;
	size_t		i;
	const char	*s;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tg_parse_updates(bad[i], strlen(bad[i]), BOT,
		    NOW, ups, TG_UPDATES_MAX, &nups), -1);
	assert_int_equal(parse(""), 0);
	assert_int_equal(nups, 0);
	/* trailing white space is fine; ids must increase */
	s = "{\"ok\":true,\"result\":[{\"update_id\":3},{\"update_id\":3},"
	    "{\"update_id\":2},{\"update_id\":4}]} \n";
	assert_int_equal(tg_parse_updates(s, strlen(s), BOT, NOW, ups,
	    TG_UPDATES_MAX, &nups), 4);
	assert_int_equal(nups, 2);
	assert_int_equal(ups[1].update_id, 4);
	/* only max updates are taken */
	assert_int_equal(tg_parse_updates(s, strlen(s), BOT, NOW, ups, 1,
	    &nups), 4);
	assert_int_equal(nups, 1);

	s = "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many "
	    "Requests: retry after 7\",\"parameters\":{\"retry_after\":7}}";
	assert_int_equal(tg_parse_reply(s, strlen(s), &rp), 0);
	assert_false(rp.ok);
	assert_int_equal(rp.error_code, 429);
	assert_int_equal(rp.retry_after, 7);
	assert_string_equal(rp.desc, "Too Many Requests: retry after 7");
	s = "{\"ok\":false,\"error_code\":\"x\",\"parameters\":7}";
	assert_int_equal(tg_parse_reply(s, strlen(s), &rp), 0);
	assert_int_equal(rp.error_code, 0);
	assert_int_equal(rp.retry_after, 0);
	for (i = 0; i < sizeof(notenv) / sizeof(notenv[0]); i++)
		assert_int_equal(tg_parse_reply(notenv[i], strlen(notenv[i]),
		    &rp), -1);
}

static void
getme(void **state)
{
	char		name[TG_BOTNAME_MAX];
	const char	*s;

	(void)state;
	s = "{\"ok\":true,\"result\":{\"id\":123456,\"is_bot\":true,"
	    "\"first_name\":\"PKS\",\"username\":\"PksTestBot\"}}";
	assert_int_equal(tg_parse_getme(s, strlen(s), name, sizeof(name)), 0);
	assert_string_equal(name, "PksTestBot");
	s = "{\"ok\":true,\"result\":{\"id\":1,\"username\":\"a b\"}}";
	assert_int_equal(tg_parse_getme(s, strlen(s), name, sizeof(name)), -1);
	s = "{\"ok\":true,\"result\":{\"id\":1}}";
	assert_int_equal(tg_parse_getme(s, strlen(s), name, sizeof(name)), -1);
	s = "{\"ok\":false,\"error_code\":401}";
	assert_int_equal(tg_parse_getme(s, strlen(s), name, sizeof(name)), -1);
}

static void
validators(void **state)
{
	(void)state;
	assert_true(conf_valid_name("ssh"));
	assert_true(conf_valid_name("A-z_09"));
	assert_true(conf_valid_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_false(conf_valid_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_false(conf_valid_name(""));
	assert_false(conf_valid_name("a b"));
	assert_false(conf_valid_name("a/b"));
	assert_true(tg_valid_addr("203.0.113.7"));
	assert_true(tg_valid_addr("::ffff:1.2.3.4"));
	assert_true(tg_valid_addr("FD00::2"));
	assert_false(tg_valid_addr(""));
	assert_true(tg_valid_addr("1.2.3"));	/* shape only: the monitor
						   refuses it, clearly */
	assert_false(tg_valid_addr("fd00::2%eth0"));
	assert_false(tg_valid_addr("::g"));
	assert_true(tg_valid_token("123456:ABC-def_9"));
	assert_false(tg_valid_token("123456:"));
	assert_false(tg_valid_token(":abc"));
	assert_false(tg_valid_token("12a:abc"));
	assert_false(tg_valid_token("123:ab c"));
	assert_false(tg_valid_token("123:abc\n"));
	assert_false(tg_valid_token("123:abc/../x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generate_private),
		cmocka_unit_test(zero_ids_are_dropped),
		cmocka_unit_test(generate_with_address),
		cmocka_unit_test(bad_arguments_are_unknown),
		cmocka_unit_test(fleet_admin_words),
		cmocka_unit_test(every_command),
		cmocka_unit_test(bot_suffix),
		cmocka_unit_test(other_bot_is_ignored),
		cmocka_unit_test(group_text_and_unknown),
		cmocka_unit_test(utf16_offsets),
		cmocka_unit_test(long_name_cut_on_character),
		cmocka_unit_test(huge_ids),
		cmocka_unit_test(callback_query),
		cmocka_unit_test(host_picker_press),
		cmocka_unit_test(ignored_kinds),
		cmocka_unit_test(broken_entities_in_group_ignored),
		cmocka_unit_test(channel_post),
		cmocka_unit_test(forum_topics),
		cmocka_unit_test(no_person),
		cmocka_unit_test(migration),
		cmocka_unit_test(sent_message_id),
		cmocka_unit_test(envelope),
		cmocka_unit_test(getme),
		cmocka_unit_test(validators),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

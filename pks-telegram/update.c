/*
 * update.c: Bot API replies (JSON) to requests for the monitor.
 *
 * Pure functions: no I/O, no global state, so the unit tests and the
 * fuzzer drive them directly.  Everything in a reply is hostile until
 * checked: a missing field, a field of the wrong type or a value out of
 * range makes the update (or the whole reply) be ignored, never trusted.
 *
 * What becomes a command:
 *  - a message with text whose first entity is a bot_command at
 *    offset 0; "/cmd@OtherBot" is not for us;
 *  - in a private chat, any other text: TG_CMD_UNKNOWN, so the monitor
 *    can answer with a hint;
 *  - in a group, an unknown command only when addressed to us
 *    (/foo@ThisBot): "/foo" alone may be meant for another bot;
 *  - a callback_query whose data is TG_CB_PREFIX and a service name, or
 *    TG_CB_HOST and a host's name, with "/" and a service name or not
 *    (a button of our inline keyboard): TG_CMD_GENERATE, unless the
 *    keyboard is older than the command it answered may be;
 *  - an admin command (/grant, /ungrant, /users, /windows, /close,
 *    /lockdown, /unlock, and /revoke [HOST] USER_ID|all): its words in
 *    argv[], each of a harmless shape or "", and their number; for
 *    /grant and /ungrant, the sender of the message it replies to.
 *    Whether the sender is an admin and what the words mean is the
 *    monitor's call.
 *
 * Who asks: a person, or nobody.  Channel posts are not asked for and
 * are ignored if they come: they carry no person.  A message sent on
 * behalf of a chat (sender_chat: an anonymous group admin, "send as
 * channel", an automatic forward from a linked channel) or by a bot
 * has user_id 0, and the monitor answers it without acting.  In a
 * forum (a supergroup with topics) the topic goes along (thread_id),
 * so the answer lands where the command was typed, and a reply to the
 * topic's creation, which every topic message carries, is no reply.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "log.h"
#include "pks.h"
#include "telegram.h"

#define JSON_DEPTH	24		/* updates nest about 6 deep */
#define TG_SERVICE_ID	777000	/* "Telegram": automatic forwards */

static const struct {
	const char	*name;
	enum pks_tg_cmd	 cmd;
} cmds[] = {
	{ "start",	TG_CMD_START },
	{ "help",	TG_CMD_HELP },
	{ "generate",	TG_CMD_GENERATE },
	{ "status",	TG_CMD_STATUS },
	{ "revoke",	TG_CMD_REVOKE },
	{ "whoami",	TG_CMD_WHOAMI },
	{ "hosts",	TG_CMD_HOSTS },		/* fleet mode */
	/* admin commands: the monitor checks who may use them */
	{ "grant",	TG_CMD_GRANT },
	{ "ungrant",	TG_CMD_UNGRANT },
	{ "users",	TG_CMD_USERS },
	{ "windows",	TG_CMD_WINDOWS },
	{ "close",	TG_CMD_CLOSE },
	{ "lockdown",	TG_CMD_LOCKDOWN },
	{ "unlock",	TG_CMD_UNLOCK },
	{ "recovery",	TG_CMD_RECOVERY },
};

static json_object *
parse_json(const char *s, size_t len)
{
	json_tokener	*tok;
	json_object	*o;
	size_t		 end;

	if (len > INT32_MAX || (tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o != NULL && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	if (o != NULL) {
		/* nothing but white space may follow the value */
		for (end = json_tokener_get_parse_end(tok); end < len; end++)
			if (strchr(" \t\r\n", s[end]) == NULL || s[end] == '\0')
				break;
		if (end < len) {
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	return o;
}

/* a member of the given type, or NULL when absent or of another type */
static json_object *
member(json_object *o, const char *key, json_type type)
{
	json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* an integer id member within what Telegram can send; -1 if not */
static int
member_id(json_object *o, const char *key, int64_t *id)
{
	json_object	*v;
	int64_t		 x;

	if ((v = member(o, key, json_type_int)) == NULL)
		return -1;
	x = json_object_get_int64(v);
	if (x <= -PKS_ID_LIMIT || x >= PKS_ID_LIMIT)
		return -1;
	*id = x;
	return 0;
}

static const char *
member_str(json_object *o, const char *key, size_t *len)
{
	json_object	*v;

	if ((v = member(o, key, json_type_string)) == NULL)
		return NULL;
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

/*
 * Copy a display name: at most dstsz - 1 bytes, cut on a UTF-8
 * character boundary, control characters replaced.
 */
static void
copy_name(char *dst, size_t dstsz, const char *prefix, const char *src)
{
	size_t	n = 0, i;

	dst[0] = '\0';
	if (prefix != NULL)
		while (*prefix && n + 1 < dstsz)
			dst[n++] = *prefix++;
	for (i = 0; src[i] != '\0' && n + 1 < dstsz; i++) {
		unsigned char	c = src[i];

		dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : c;
	}
	/* do not leave half a multi-byte character at the end */
	if (src[i] != '\0') {
		i = n;
		while (i > 0 && ((unsigned char)dst[i - 1] & 0xc0) == 0x80)
			i--;
		if (i > 0 && ((unsigned char)dst[i - 1] & 0xc0) == 0xc0) {
			unsigned char	lead = dst[i - 1];
			size_t		need = lead >= 0xf0 ? 4 :
			    lead >= 0xe0 ? 3 : 2;

			if (n - (i - 1) < need)
				n = i - 1;
		}
	}
	dst[n] = '\0';
}

/*
 * Convert a length in UTF-16 code units, counted from the start of a
 * UTF-8 text, to a length in bytes.  -1 if the text is not valid UTF-8
 * within that length, is too short, or the length ends inside a
 * surrogate pair.
 */
int
tg_utf16_to_bytes(const char *s, size_t len, size_t units, size_t *bytes)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, u = 0, n, k;
	uint32_t		 cp;

	while (u < units) {
		if (i >= len)
			return -1;
		if (p[i] < 0x80) {
			n = 1;
			cp = p[i];
		} else if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
		} else
			return -1;
		if (i + n > len)
			return -1;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		u += cp >= 0x10000 ? 2 : 1;
		i += n;
	}
	if (u != units)
		return -1;		/* ends between two surrogates */
	*bytes = i;
	return 0;
}

/*
 * The shape of an address only: the monitor decides whether it is one,
 * and says so to the user ("Not an IPv4 or IPv6 address").
 */
int
tg_valid_addr(const char *s)
{
	size_t		i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= TG_ADDR_MAX - 1)
			return 0;
		if (strchr("0123456789abcdefABCDEF.:", s[i]) == NULL)
			return 0;
	}
	return i > 0;
}

/* [0-9]+:[A-Za-z0-9_-]+, the shape of every bot token */
int
tg_valid_token(const char *s)
{
	size_t	i = 0, j;

	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || s[i] != ':')
		return 0;
	for (j = ++i; s[j] != '\0'; j++)
		if (!((s[j] >= 'a' && s[j] <= 'z') ||
		    (s[j] >= 'A' && s[j] <= 'Z') ||
		    (s[j] >= '0' && s[j] <= '9') || s[j] == '_' || s[j] == '-'))
			return 0;
	return j > i && j < 256;
}

static int
chat_type(const char *t)
{
	if (t == NULL)
		return 0;
	if (strcmp(t, "private") == 0)
		return TG_CHAT_PRIVATE;
	if (strcmp(t, "group") == 0)
		return TG_CHAT_GROUP;
	if (strcmp(t, "supergroup") == 0)
		return TG_CHAT_SUPERGROUP;
	if (strcmp(t, "channel") == 0)
		return TG_CHAT_CHANNEL;
	return 0;
}

/* next word of s (ASCII white space separated) into w; 0 at the end */
static int
next_word(const char **s, char *w, size_t wsz)
{
	const char	*p = *s;
	size_t		 n = 0;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '\0')
		return 0;
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' &&
	    *p != '\r') {
		if (n + 1 < wsz)
			w[n] = *p;
		n++;
		p++;
	}
	*s = p;
	if (n + 1 > wsz) {
		w[0] = '\0';	/* too long: caller refuses the empty word */
		return 1;
	}
	w[n] = '\0';
	return 1;
}

/* ids, service names, durations, addresses, "all" */
static int
admin_word(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("_-.:", s[i]) != NULL))
			return 0;
	return i > 0;
}

/*
 * The words of an admin command: the first PKS_ARGS_MAX in argv[] (a
 * word of another shape as ""), all of them counted, so the monitor
 * can answer a usage line.  With raw (test builds only), words are
 * copied whatever they hold: a stand-in for a compromised worker.
 */
static void
admin_args(struct pks_tg_req *r, const char *rest, int raw)
{
	char	w[sizeof(r->argv[0])];

	while (next_word(&rest, w, sizeof(w))) {
		if (r->nargs < PKS_ARGS_MAX && (raw || admin_word(w)))
			memcpy(r->argv[r->nargs], w, sizeof(w));
		if (r->nargs < 255)
			r->nargs++;
	}
}

static int
all_digits(const char *s)
{
	size_t	i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i > 0 && s[i] == '\0';
}

/* whose sequences an admin's /revoke cancels: USER_ID or all */
static int
revoke_target(const char *w)
{
	return strcmp(w, "all") == 0 || all_digits(w);
}

/*
 * Arguments after a known command: /generate [service [address]] (or
 * [host [service]] in fleet mode: the monitor tells them apart),
 * /status and /revoke [service]; the others take none and ignore
 * what follows.  0 if they do not fit.
 */
static int
parse_args(struct pks_tg_req *r, const char *rest)
{
	char		 w[TG_ADDR_MAX];
	const char	*p = rest;
	int		 maxw;

	switch (r->cmd) {
	case TG_CMD_GRANT:
	case TG_CMD_UNGRANT:
	case TG_CMD_USERS:
	case TG_CMD_WINDOWS:
	case TG_CMD_CLOSE:
	case TG_CMD_LOCKDOWN:
	case TG_CMD_UNLOCK:
	case TG_CMD_RECOVERY:
		admin_args(r, rest, 0);
		return 1;
	default:
		break;
	}
	/*
	 * /revoke USER_ID|all is the admin's, and so is /revoke HOST
	 * USER_ID|all (fleet mode: the monitor tells a host from a
	 * service); /revoke [service] is anyone's.
	 */
	if (r->cmd == TG_CMD_REVOKE && next_word(&p, w, sizeof(w)) &&
	    (revoke_target(w) || (conf_valid_name(w) &&
	    next_word(&p, w, sizeof(w)) && revoke_target(w)))) {
		r->cmd = TG_CMD_REVOKE_USER;
		admin_args(r, rest, 0);
		return 1;
	}
	switch (r->cmd) {
	case TG_CMD_GENERATE:
		maxw = 2;
		break;
	case TG_CMD_STATUS:
	case TG_CMD_REVOKE:
		maxw = 1;
		break;
	default:
		return 1;
	}
	if (!next_word(&rest, w, sizeof(w)))
		return 1;
	if (!conf_valid_name(w))
		return 0;
	snprintf(r->arg1, sizeof(r->arg1), "%s", w);
	if (!next_word(&rest, w, sizeof(w)))
		return 1;
	/* an address, or in fleet mode a service: /generate HOST SERVICE */
	if (maxw < 2 || !(tg_valid_addr(w) || conf_valid_name(w)))
		return 0;
	snprintf(r->arg2, sizeof(r->arg2), "%s", w);
	return !next_word(&rest, w, sizeof(w));
}

/*
 * Is a person behind msg, sent by from?  Not when it was sent on behalf
 * of a chat (sender_chat: GroupAnonymousBot for an anonymous admin,
 * Channel_Bot for "send as channel", 777000 for an automatic forward),
 * nor by a bot.
 */
static int
is_person(json_object *msg, json_object *from)
{
	json_object	*b;
	int64_t		 id;

	if (member(msg, "sender_chat", json_type_object) != NULL ||
	    ((b = member(msg, "is_automatic_forward", json_type_boolean)) !=
	    NULL && json_object_get_boolean(b)))
		return 0;
	if ((b = member(from, "is_bot", json_type_boolean)) != NULL &&
	    json_object_get_boolean(b))
		return 0;
	return member_id(from, "id", &id) == 0 && id > 0 &&
	    id != TG_SERVICE_ID;
}

/*
 * /grant and /ungrant as a reply: the sender of the message replied
 * to, if a person sent it (not a bot, ours included, nor a chat), and
 * unless it is the creation of the forum topic the command is in.
 */
static void
parse_reply_to(struct pks_tg_req *r, json_object *msg)
{
	json_object	*rt, *from;
	const char	*s;
	int64_t		 id, mid, thread;

	if ((rt = member(msg, "reply_to_message", json_type_object)) == NULL ||
	    (from = member(rt, "from", json_type_object)) == NULL ||
	    member_id(from, "id", &id) == -1 || id <= 0)
		return;
	/* in a forum topic, every message replies to the topic's creation */
	if (member(rt, "forum_topic_created", json_type_object) != NULL ||
	    (member_id(msg, "message_thread_id", &thread) == 0 &&
	    member_id(rt, "message_id", &mid) == 0 && mid == thread)) {
		log_debug("update: reply to a topic's creation, not a reply");
		return;
	}
	if (!is_person(rt, from)) {
		log_debug("update: reply to a message with no person behind it");
		return;
	}
	r->reply_user_id = id;
	if ((s = member_str(from, "username", NULL)) != NULL && *s != '\0')
		copy_name(r->reply_user_name, sizeof(r->reply_user_name), "@",
		    s);
	else if ((s = member_str(from, "first_name", NULL)) != NULL)
		copy_name(r->reply_user_name, sizeof(r->reply_user_name), NULL,
		    s);
}

/* the command at the start of text, per its first entity; 0: ignore */
static int
parse_command(struct pks_tg_req *r, json_object *msg, const char *text,
    size_t tlen, const char *bot)
{
	json_object	*ents, *e;
	const char	*type, *at, *rest;
	char		 name[64];
	size_t		 bytes, nlen, i;
	int64_t		 off, len;
	int		 addressed = 0, group;

	group = r->chat_type != TG_CHAT_PRIVATE;
	r->cmd = TG_CMD_UNKNOWN;
	if ((ents = member(msg, "entities", json_type_array)) == NULL ||
	    json_object_array_length(ents) == 0 ||
	    (e = json_object_array_get_idx(ents, 0)) == NULL ||
	    (type = member_str(e, "type", NULL)) == NULL ||
	    strcmp(type, "bot_command") != 0 ||
	    member_id(e, "offset", &off) == -1 || off != 0 ||
	    member_id(e, "length", &len) == -1 || len < 2 || len > 256 ||
	    tg_utf16_to_bytes(text, tlen, (size_t)len, &bytes) == -1 ||
	    text[0] != '/') {
		/* plain text (or a broken entity): a hint, in private only */
		if (group)
			log_debug("update: text without a command in a group");
		return !group;
	}
	/* "/name" or "/name@bot", then white space or the end */
	if ((at = memchr(text, '@', bytes)) != NULL) {
		nlen = at - text - 1;
		if (strlen(bot) != bytes - (at - text) - 1 ||
		    strncasecmp(at + 1, bot, strlen(bot)) != 0) {
			log_debug("update: command for another bot");
			return 0;
		}
		addressed = 1;
	} else
		nlen = bytes - 1;
	if (nlen == 0 || nlen >= sizeof(name))
		return !group || addressed;
	memcpy(name, text + 1, nlen);
	name[nlen] = '\0';
	rest = text + bytes;
#ifdef PKS_TESTHOOKS
	/* test builds: an unchecked grant, as a compromised worker sends */
	if (strcasecmp(name, "forge_grant") == 0) {
		r->cmd = TG_CMD_GRANT;
		admin_args(r, rest, 1);
		return 1;
	}
#endif
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcasecmp(name, cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		if (group && !addressed)
			log_debug("update: unknown command in a group");
		return !group || addressed;
	}
	r->cmd = cmds[i].cmd;
	if (!parse_args(r, rest)) {
		log_debug("update: bad arguments to /%s", cmds[i].name);
		r->cmd = TG_CMD_UNKNOWN;
		r->arg1[0] = r->arg2[0] = '\0';
	}
	if (r->cmd == TG_CMD_GRANT || r->cmd == TG_CMD_UNGRANT)
		parse_reply_to(r, msg);
	return 1;
}

/*
 * The chat a message is in, and its forum topic if it is in one; -1 if
 * it is not a usable chat.
 */
static int
parse_chat(struct pks_tg_req *r, json_object *msg)
{
	json_object	*chat, *topic;
	int64_t		 thread;

	if ((chat = member(msg, "chat", json_type_object)) == NULL ||
	    member_id(chat, "id", &r->chat_id) == -1 || r->chat_id == 0 ||
	    (r->chat_type = chat_type(member_str(chat, "type", NULL))) == 0)
		return -1;	/* no chat is 0: nothing could be answered */
	/* message_thread_id alone may name a reply thread, not a topic */
	if (r->chat_type == TG_CHAT_SUPERGROUP &&
	    (topic = member(msg, "is_topic_message", json_type_boolean)) !=
	    NULL && json_object_get_boolean(topic) &&
	    member_id(msg, "message_thread_id", &thread) == 0 &&
	    thread > 0 && thread <= INT32_MAX)
		r->thread_id = (uint32_t)thread;
	return 0;
}

/* user id and display name of a sender */
static int
parse_from(struct pks_tg_req *r, json_object *from)
{
	const char	*s;

	if (from == NULL || member_id(from, "id", &r->user_id) == -1 ||
	    r->user_id == 0)
		return -1;
	if ((s = member_str(from, "username", NULL)) != NULL && *s != '\0')
		copy_name(r->user_name, sizeof(r->user_name), "@", s);
	else if ((s = member_str(from, "first_name", NULL)) != NULL)
		copy_name(r->user_name, sizeof(r->user_name), NULL, s);
	return 0;
}

static int
parse_message(struct tg_update *u, json_object *msg, const char *bot,
    time_t now)
{
	struct pks_tg_req	*r = &u->req;
	json_object		*from;
	const char		*text;
	int64_t			 date, to;
	size_t			 tlen;

	if (parse_chat(r, msg) == -1) {
		log_debug("update %lld: message without a valid chat",
		    (long long)u->update_id);
		return 0;
	}
	if (member_id(msg, "message_id", &u->msg_id) == -1 ||
	    u->msg_id <= 0 || u->msg_id > INT32_MAX)
		u->msg_id = 0;
	if (r->chat_type == TG_CHAT_CHANNEL) {
		log_info("update %lld: a message in a channel, ignored: it "
		    "carries no person", (long long)u->update_id);
		return 0;
	}
	/* a group became a supergroup: its id changes (said once, here) */
	if (member_id(msg, "migrate_to_chat_id", &to) == 0) {
		if (r->chat_id < 0 && to < 0 && to != r->chat_id) {
			u->migrate_from = r->chat_id;
			u->migrate_to = to;
		}
		return 0;
	}
	from = member(msg, "from", json_type_object);
	if (parse_from(r, from) == -1) {
		log_debug("update %lld: message without a valid sender",
		    (long long)u->update_id);
		return 0;
	}
	if (!is_person(msg, from)) {
		/* the monitor answers "send it as yourself", nothing more */
		if (r->chat_type == TG_CHAT_PRIVATE)
			return 0;
		r->user_id = 0;
		r->user_name[0] = '\0';
	}
	if (member_id(msg, "date", &date) == -1) {
		log_debug("update %lld: message without a date",
		    (long long)u->update_id);
		return 0;
	}
	if (date >= now)
		r->age = 0;
	else if (now - date > UINT32_MAX)
		r->age = UINT32_MAX;
	else
		r->age = (uint32_t)(now - date);
	if ((text = member_str(msg, "text", &tlen)) == NULL || tlen == 0) {
		log_debug("update %lld: message without text",
		    (long long)u->update_id);
		return 0;
	}
	if (strlen(text) != tlen) {
		log_debug("update %lld: text with a NUL",
		    (long long)u->update_id);
		return 0;
	}
#ifdef PKS_TESTHOOKS
	/* test builds: an IMSG_TG_SENT as a compromised worker sends it */
	if (sscanf(text, "/forge_sent %d %" SCNd64, &u->forge.status,
	    &u->forge.message_id) == 2) {
		u->forge.chat_id = r->chat_id;
		u->forged = 1;
		return 0;
	}
#endif
	return parse_command(r, msg, text, tlen, bot);
}

/*
 * The callback_data of our buttons into /generate's words: "g:SERVICE"
 * is /generate SERVICE, "@HOST" /generate HOST and "@HOST/SERVICE"
 * /generate HOST SERVICE (fleet mode).  -1 if it is none of these.
 */
static int
cb_data(struct pks_tg_req *r, const char *data)
{
	const char	*p, *slash;
	size_t		 n;

	if (strncmp(data, TG_CB_PREFIX, strlen(TG_CB_PREFIX)) == 0) {
		p = data + strlen(TG_CB_PREFIX);
		if (!conf_valid_name(p))
			return -1;
		snprintf(r->arg1, sizeof(r->arg1), "%s", p);
		return 0;
	}
	if (strncmp(data, TG_CB_HOST, strlen(TG_CB_HOST)) != 0)
		return -1;
	p = data + strlen(TG_CB_HOST);
	if ((slash = strchr(p, '/')) == NULL)
		slash = p + strlen(p);
	if ((n = slash - p) >= sizeof(r->arg1))
		return -1;
	memcpy(r->arg1, p, n);
	r->arg1[n] = '\0';
	if (*slash == '/')
		snprintf(r->arg2, sizeof(r->arg2), "%s", slash + 1);
	if (!conf_valid_name(r->arg1) || (*slash == '/' &&
	    !conf_valid_name(r->arg2))) {
		r->arg1[0] = r->arg2[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * A press on a button of our picker: /generate of that service (or
 * host, or service of a host).
 * The picker expires with the command that brought it: a press on a
 * picker older than PKS_REQ_MAX_AGE (or one Telegram no longer shows,
 * dated 0) asks for nothing, and its answer says so (u->expired);
 * the picker, where it can still be edited, loses its buttons
 * (expired_chat, msg_id).
 */
static int
parse_callback(struct tg_update *u, json_object *cbq, time_t now)
{
	struct pks_tg_req	*r = &u->req;
	const char		*id, *data;
	size_t			 len;
	int64_t			 date = 0;

	if ((id = member_str(cbq, "id", &len)) == NULL || len == 0 ||
	    len >= sizeof(u->cbq_id) || strlen(id) != len) {
		log_debug("update %lld: callback query without a valid id",
		    (long long)u->update_id);
		return 0;
	}
	memcpy(u->cbq_id, id, len + 1);
	/* from here on the query gets an answer, whatever it holds */
	if (parse_from(r, member(cbq, "from", json_type_object)) == -1 ||
	    parse_chat(r, member(cbq, "message", json_type_object)) == -1) {
		log_debug("update %lld: callback query without sender or chat",
		    (long long)u->update_id);
		return 0;
	}
	if ((data = member_str(cbq, "data", NULL)) == NULL ||
	    cb_data(r, data) == -1) {
		log_debug("update %lld: callback query not from our keyboard",
		    (long long)u->update_id);
		return 0;
	}
	if (member_id(member(cbq, "message", json_type_object), "date",
	    &date) == -1 || date <= 0 || now - date > PKS_REQ_MAX_AGE) {
		log_info("update %lld: a press on an expired service picker",
		    (long long)u->update_id);
		u->expired = 1;
		if (date > 0 && member_id(member(cbq, "message",
		    json_type_object), "message_id", &u->msg_id) == 0 &&
		    u->msg_id > 0 && u->msg_id <= INT32_MAX)
			u->expired_chat = r->chat_id;
		else
			u->msg_id = 0;
		return 0;
	}
	r->cmd = TG_CMD_GENERATE;
	/* the picker stands for the command: the monitor checks its age */
	r->age = date >= now ? 0 : (uint32_t)(now - date);
	return 1;
}

static void
parse_update(struct tg_update *u, json_object *o, const char *bot,
    time_t now)
{
	json_object	*v;

	if ((v = member(o, "message", json_type_object)) != NULL)
		u->has_cmd = parse_message(u, v, bot, now);
	else if (member(o, "channel_post", json_type_object) != NULL)
		log_info("update %lld: a channel post, ignored: it carries no "
		    "person", (long long)u->update_id);
	else if ((v = member(o, "callback_query", json_type_object)) != NULL)
		u->has_cmd = parse_callback(u, v, now);
	else
		log_debug("update %lld: kind not handled, ignored",
		    (long long)u->update_id);
	if (!u->has_cmd)
		memset(&u->req, 0, sizeof(u->req));
}

/*
 * Parse a getUpdates reply: {"ok":true,"result":[update...]}.  Fills
 * up to max updates, in order, and returns how many elements the
 * result array had (an element without a usable update_id is skipped:
 * it cannot be confirmed by itself), or -1 if the reply is not a
 * successful getUpdates reply.  Update ids must increase.
 */
int
tg_parse_updates(const char *json, size_t len, const char *bot, time_t now,
    struct tg_update *ups, size_t max, size_t *n)
{
	json_object	*root, *ok, *res, *o;
	size_t		 i, cnt;
	int64_t		 id, last = -1;

	*n = 0;
	if ((root = parse_json(json, len)) == NULL)
		return -1;
	if ((ok = member(root, "ok", json_type_boolean)) == NULL ||
	    !json_object_get_boolean(ok) ||
	    (res = member(root, "result", json_type_array)) == NULL) {
		json_object_put(root);
		return -1;
	}
	cnt = json_object_array_length(res);
	for (i = 0; i < cnt && *n < max; i++) {
		o = json_object_array_get_idx(res, i);
		if (member_id(o, "update_id", &id) == -1 || id < 0 ||
		    id <= last) {
			log_debug("update without a valid update_id, ignored");
			continue;
		}
		last = id;
		memset(&ups[*n], 0, sizeof(ups[*n]));
		ups[*n].update_id = id;
		parse_update(&ups[*n], o, bot, now);
		(*n)++;
	}
	json_object_put(root);
	return cnt > INT32_MAX ? INT32_MAX : (int)cnt;
}

/* The envelope of any reply.  -1 if it is not JSON or not an envelope. */
int
tg_parse_reply(const char *json, size_t len, struct tg_reply *rp)
{
	json_object	*root, *ok, *v, *par;
	const char	*d;

	memset(rp, 0, sizeof(*rp));
	if ((root = parse_json(json, len)) == NULL)
		return -1;
	if ((ok = member(root, "ok", json_type_boolean)) == NULL) {
		json_object_put(root);
		return -1;
	}
	rp->ok = json_object_get_boolean(ok);
	if ((v = member(root, "error_code", json_type_int)) != NULL &&
	    json_object_get_int64(v) > 0 && json_object_get_int64(v) < 1000)
		rp->error_code = (int)json_object_get_int64(v);
	if ((d = member_str(root, "description", NULL)) != NULL)
		copy_name(rp->desc, sizeof(rp->desc), NULL, d);
	par = member(root, "parameters", json_type_object);
	if (member_id(par, "migrate_to_chat_id", &rp->migrate_to) == -1 ||
	    rp->migrate_to >= 0)
		rp->migrate_to = 0;
	if ((v = member(par, "retry_after", json_type_int)) != NULL &&
	    json_object_get_int64(v) > 0)
		rp->retry_after = json_object_get_int64(v) > 3600 ? 3600 :
		    (int)json_object_get_int64(v);
	json_object_put(root);
	return 0;
}

/* sendMessage's reply: the id of the message sent; 0 if none */
int64_t
tg_parse_sent(const char *json, size_t len)
{
	json_object	*root, *res;
	int64_t		 id = 0;

	if ((root = parse_json(json, len)) == NULL)
		return 0;
	if ((res = member(root, "result", json_type_object)) == NULL ||
	    member_id(res, "message_id", &id) == -1 || id <= 0 ||
	    id > INT32_MAX)
		id = 0;
	json_object_put(root);
	return id;
}

/* getMe: the bot's username, needed to tell /cmd@us from /cmd@them */
int
tg_parse_getme(const char *json, size_t len, char *name, size_t namesz)
{
	json_object	*root, *ok, *res;
	const char	*u;
	size_t		 i, ulen = 0;
	int		 rc = -1;

	if ((root = parse_json(json, len)) == NULL)
		return -1;
	if ((ok = member(root, "ok", json_type_boolean)) != NULL &&
	    json_object_get_boolean(ok) &&
	    (res = member(root, "result", json_type_object)) != NULL &&
	    (u = member_str(res, "username", &ulen)) != NULL &&
	    ulen > 0 && ulen < namesz) {
		for (i = 0; i < ulen; i++)
			if (!((u[i] >= 'a' && u[i] <= 'z') ||
			    (u[i] >= 'A' && u[i] <= 'Z') ||
			    (u[i] >= '0' && u[i] <= '9') || u[i] == '_'))
				break;
		if (i == ulen) {
			memcpy(name, u, ulen + 1);
			rc = 0;
		}
	}
	json_object_put(root);
	return rc;
}

/*
 * wire.c: pks-fleet's broker messages, JSON objects, to and from the
 * fixed structs of pks.h.  Pure: no I/O, so the fuzz target drives
 * wire_decode() directly.
 *
 * What comes from the broker is hostile until checked: one JSON object
 * of at most FLEET_PAYLOAD_MAX bytes, nothing after it, a known "type",
 * only the members that type has (an unknown one refuses the message),
 * each of its JSON type and within its range, strings without NUL bytes
 * and within their field.  The host a message is from is the one its
 * topic names: the broker's ACL lets a host write only its own topics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conf.h"
#include "fleet.h"

#define JSON_DEPTH	4

/* an answer's texts, each byte escaped as two at most ("\n", "\/"; the
 * monitor's words hold no other control character), and the rest */
_Static_assert(2 * (PKS_FLEET_TEXT_MAX + PKS_TEXT_MAX) + 1024 <=
    FLEET_PAYLOAD_MAX, "an answer's JSON may not fit a broker message");

/* a member a message type may have */
struct wkey {
	const char	*name;
	json_type	 type;
	int		 required;
};

static const struct wkey req_keys[] = {
	{ "type", json_type_string, 1 }, { "id", json_type_int, 1 },
	{ "exp", json_type_int, 1 }, { "cmd", json_type_string, 1 },
	{ "user", json_type_int, 1 }, { "chat", json_type_int, 1 },
	{ "private", json_type_boolean, 1 }, { "age", json_type_int, 1 },
	{ "name", json_type_string, 1 }, { "args", json_type_array, 1 },
	{ "at", json_type_int, 1 }, { "mac", json_type_string, 1 },
};
static const struct wkey sent_keys[] = {
	{ "type", json_type_string, 1 }, { "id", json_type_int, 1 },
	{ "ok", json_type_boolean, 1 }, { "status", json_type_int, 1 },
	{ "where", json_type_int, 1 }, { "msg", json_type_int, 1 },
	{ "mac", json_type_string, 1 },
};
static const struct wkey reply_keys[] = {
	{ "type", json_type_string, 1 }, { "id", json_type_int, 1 },
	{ "user", json_type_int, 1 }, { "chat", json_type_int, 1 },
	{ "req", json_type_string, 1 },
	{ "to", json_type_int, 1 }, { "text", json_type_string, 1 },
	{ "alt", json_type_string, 1 }, { "marks", json_type_array, 1 },
	{ "mac", json_type_string, 1 },
};
static const struct wkey notice_keys[] = {
	{ "type", json_type_string, 1 }, { "chat", json_type_int, 1 },
	{ "msg", json_type_int, 1 }, { "text", json_type_string, 1 },
	{ "alt", json_type_string, 1 }, { "marks", json_type_array, 1 },
	{ "at", json_type_int, 1 }, { "mac", json_type_string, 1 },
};
static const struct wkey hello_keys[] = {
	{ "type", json_type_string, 1 }, { "at", json_type_int, 1 },
};

static const struct {
	const char		*name;
	enum wire_type		 type;
	const char		*topic;		/* the topic's last part */
	const struct wkey	*keys;
	size_t			 nkeys;
} types[] = {
#define K(t)	(t), sizeof(t) / sizeof((t)[0])
	{ "req",	WIRE_REQ,	"req",		K(req_keys) },
	{ "sent",	WIRE_SENT,	"req",		K(sent_keys) },
	{ "reply",	WIRE_REPLY,	"reply",	K(reply_keys) },
	{ "notice",	WIRE_NOTICE,	"reply",	K(notice_keys) },
	{ "hello",	WIRE_HELLO,	"hello",	K(hello_keys) },
#undef K
};
#define NTYPES	(sizeof(types) / sizeof(types[0]))

static const char *const cmds[FLEET_CMD_MAX] = {
	[FLEET_CMD_GENERATE] = "generate",
	[FLEET_CMD_STATUS] = "status",
	[FLEET_CMD_WINDOWS] = "windows",
	[FLEET_CMD_USERS] = "users",
	[FLEET_CMD_LOCKDOWN] = "lockdown",
	[FLEET_CMD_UNLOCK] = "unlock",
	[FLEET_CMD_CLOSE] = "close",
	[FLEET_CMD_GRANT] = "grant",
	[FLEET_CMD_UNGRANT] = "ungrant",
	[FLEET_CMD_REVOKE_USER] = "revoke-user",
	[FLEET_CMD_REVOKE] = "revoke",
	[FLEET_CMD_RECOVERY] = "recovery",
	[FLEET_CMD_SERVICES] = "services",
};

/* pks/HOST/what; -1 if it does not fit or HOST is not a name */
int
wire_topic(char *buf, size_t len, const char *host, const char *what)
{
	if (!conf_valid_name(host))
		return -1;
	if ((size_t)snprintf(buf, len, "pks/%s/%s", host, what) >= len)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- out */

static char *
finish(json_object *o, size_t *len)
{
	const char	*s;
	char		*out = NULL;
	size_t		 n;

	if (o == NULL)
		return NULL;
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
	if (s != NULL && n <= FLEET_PAYLOAD_MAX && (out = malloc(n + 1)) !=
	    NULL) {
		memcpy(out, s, n + 1);
		*len = n;
	}
	json_object_put(o);
	return out;
}

static void
add_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void
add_str(json_object *o, const char *k, const char *s, size_t len)
{
	json_object_object_add(o, k, json_object_new_string_len(s, (int)len));
}

/* a MAC of the monitor's, as member k, in lower-case hex */
static void
add_mac(json_object *o, const char *k, const uint8_t *mac)
{
	static const char	digits[] = "0123456789abcdef";
	char			h[2 * PKS_FLEET_MAC_LEN];
	size_t			i;

	for (i = 0; i < PKS_FLEET_MAC_LEN; i++) {
		h[2 * i] = digits[mac[i] >> 4];
		h[2 * i + 1] = digits[mac[i] & 15];
	}
	add_str(o, k, h, sizeof(h));
}

char *
wire_req(const struct pks_fleet_req *r, size_t *len)
{
	json_object	*o, *a;
	uint32_t	 i;

	if (r->cmd == 0 || r->cmd >= FLEET_CMD_MAX ||
	    (o = json_object_new_object()) == NULL)
		return NULL;
	add_str(o, "type", "req", 3);
	add_int(o, "id", (int64_t)r->id);
	add_int(o, "at", r->issued);
	add_int(o, "exp", r->expires);
	add_str(o, "cmd", cmds[r->cmd], strlen(cmds[r->cmd]));
	add_int(o, "user", r->user);
	add_int(o, "chat", r->chat);
	json_object_object_add(o, "private",
	    json_object_new_boolean(r->private != 0));
	add_int(o, "age", r->age);
	add_str(o, "name", r->user_name, strnlen(r->user_name,
	    sizeof(r->user_name)));
	a = json_object_new_array();
	for (i = 0; i < r->nargs && i < PKS_ARGS_MAX; i++)
		json_object_array_add(a, json_object_new_string_len(r->argv[i],
		    (int)strnlen(r->argv[i], sizeof(r->argv[i]))));
	json_object_object_add(o, "args", a);
	add_mac(o, "mac", r->mac);
	return finish(o, len);
}

char *
wire_sent(const struct pks_fleet_sent *s, size_t *len)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	add_str(o, "type", "sent", 4);
	add_int(o, "id", (int64_t)s->id);
	json_object_object_add(o, "ok", json_object_new_boolean(s->ok != 0));
	add_int(o, "status", s->status);
	add_int(o, "where", s->where);
	add_int(o, "msg", s->msg_id);
	add_mac(o, "mac", s->mac);
	return finish(o, len);
}

/* a REPLY (notice 0) or a NOTICE */
char *
wire_reply(int notice, const struct pks_fleet_reply *r, const char *text,
    const char *alt, size_t *len)
{
	json_object	*o, *m, *pair;
	uint32_t	 i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	add_str(o, "type", notice ? "notice" : "reply", notice ? 6 : 5);
	if (notice) {
		add_int(o, "chat", r->chat);
		add_int(o, "msg", r->msg_id);
		add_int(o, "at", r->at);
	} else {
		add_int(o, "id", (int64_t)r->id);
		add_int(o, "user", r->user);
		add_int(o, "chat", r->chat);
		add_mac(o, "req", r->req);
		add_int(o, "to", r->to);
	}
	add_str(o, "text", text, r->textlen);
	add_str(o, "alt", alt, r->altlen);
	m = json_object_new_array();
	for (i = 0; i < r->nmark && i < PKS_FLEET_MARKS; i++) {
		pair = json_object_new_array();
		json_object_array_add(pair,
		    json_object_new_int(r->mark[i].off));
		json_object_array_add(pair,
		    json_object_new_int(r->mark[i].style));
		json_object_array_add(m, pair);
	}
	json_object_object_add(o, "marks", m);
	add_mac(o, "mac", r->mac);
	return finish(o, len);
}

char *
wire_hello(int64_t at, size_t *len)
{
	json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	add_str(o, "type", "hello", 5);
	add_int(o, "at", at);
	return finish(o, len);
}

/* ----------------------------------------------------------------- in */

static json_object *
get(json_object *o, const char *k)
{
	json_object	*v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

static int64_t
get_int(json_object *o, const char *k)
{
	return json_object_get_int64(get(o, k));
}

/* a string member into dst (size sz), no NUL inside; -1 if it does not
 * fit */
static int
get_str(json_object *o, const char *k, char *dst, size_t sz, size_t *lenp)
{
	json_object	*v = get(o, k);
	const char	*s = json_object_get_string(v);
	size_t		 len = (size_t)json_object_get_string_len(v);

	if (len >= sz || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

/* every member known and of its type, every required one there (one
 * missing is named: an answer without "user" comes from a host older
 * than this front) */
static const char *
check_keys(json_object *o, const struct wkey *keys, size_t nkeys)
{
	static char	why[48];
	size_t		i;

	json_object_object_foreach(o, k, v) {
		for (i = 0; i < nkeys; i++)
			if (strcmp(k, keys[i].name) == 0)
				break;
		if (i == nkeys)
			return "an unknown member";
		if (!json_object_is_type(v, keys[i].type))
			return "a member of the wrong type";
	}
	for (i = 0; i < nkeys; i++)
		if (keys[i].required && get(o, keys[i].name) == NULL) {
			snprintf(why, sizeof(why), "a member missing (\"%s\")",
			    keys[i].name);
			return why;
		}
	return NULL;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* member k ("mac", or an answer's "req"): 64 hex digits into mac; -1
 * if it is not that (its check is the monitor's) */
static int
get_mac(json_object *o, const char *k, uint8_t *mac)
{
	const char	*s = json_object_get_string(get(o, k));
	size_t		 i;
	int		 hi, lo;

	if (json_object_get_string_len(get(o, k)) != 2 * PKS_FLEET_MAC_LEN)
		return -1;
	for (i = 0; i < PKS_FLEET_MAC_LEN; i++) {
		if ((hi = hexval(s[2 * i])) == -1 ||
		    (lo = hexval(s[2 * i + 1])) == -1)
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
id_ok(int64_t v)
{
	return v > 0 && v < PKS_FLEET_ID_MAX;
}

static int
tgid_ok(int64_t v)
{
	return v > -PKS_ID_LIMIT && v < PKS_ID_LIMIT;
}

static const char *
decode_req(json_object *o, struct pks_fleet_req *r)
{
	json_object	*a, *v;
	char		 cmd[16];
	size_t		 i, n;

	r->id = (uint64_t)get_int(o, "id");
	r->issued = get_int(o, "at");
	r->expires = get_int(o, "exp");
	r->user = get_int(o, "user");
	r->chat = get_int(o, "chat");
	r->private = json_object_get_boolean(get(o, "private"));
	if (!id_ok((int64_t)r->id) || r->expires <= 0 || r->issued <= 0 ||
	    !tgid_ok(r->user) || r->user <= 0 || !tgid_ok(r->chat) ||
	    r->chat == 0 || (r->private && r->chat != r->user))
		return "a number out of range";
	if (get_int(o, "age") < 0 || get_int(o, "age") > 86400)
		return "an age out of range";
	r->age = (uint32_t)get_int(o, "age");
	if (get_str(o, "cmd", cmd, sizeof(cmd), NULL) == -1)
		return "an unknown command";
	for (i = 1; i < FLEET_CMD_MAX; i++)
		if (strcmp(cmd, cmds[i]) == 0)
			break;
	if (i == FLEET_CMD_MAX)
		return "an unknown command";
	r->cmd = (uint32_t)i;
	if (get_str(o, "name", r->user_name, sizeof(r->user_name), NULL) == -1)
		return "a name too long";
	a = get(o, "args");
	if ((n = json_object_array_length(a)) > PKS_ARGS_MAX)
		return "too many arguments";
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string) ||
		    (size_t)json_object_get_string_len(v) >=
		    sizeof(r->argv[i]) || memchr(json_object_get_string(v),
		    '\0', json_object_get_string_len(v)) != NULL)
			return "a bad argument";
		memcpy(r->argv[i], json_object_get_string(v),
		    json_object_get_string_len(v));
	}
	r->nargs = (uint32_t)n;
	if (get_mac(o, "mac", r->mac) == -1)
		return "a MAC that is not 64 hex digits";
	return NULL;
}

static const char *
decode_sent(json_object *o, struct pks_fleet_sent *s)
{
	s->id = (uint64_t)get_int(o, "id");
	s->ok = json_object_get_boolean(get(o, "ok"));
	s->where = get_int(o, "where");
	s->msg_id = get_int(o, "msg");
	if (get_int(o, "status") < 0 || get_int(o, "status") > 999)
		return "a number out of range";
	s->status = (int32_t)get_int(o, "status");
	if (!pks_fleet_sent_valid(s))
		return "a number out of range";
	if (get_mac(o, "mac", s->mac) == -1)
		return "a MAC that is not 64 hex digits";
	return NULL;
}

/* the words, the second text and the styles of a REPLY or a NOTICE */
static const char *
decode_words(json_object *o, struct wire_msg *m)
{
	struct pks_fleet_reply	*r = &m->reply;
	json_object		*a, *pair, *off, *st;
	size_t			 i, n, len;
	int64_t			 prev = 0;

	/* an answer may be longer than a message (the front splits it
	 * between lines), a notice not */
	if (get_str(o, "text", m->text, m->type == WIRE_REPLY ?
	    sizeof(m->text) : PKS_TEXT_MAX, &len) == -1)
		return "a text too long";
	r->textlen = (uint16_t)len;
	if (get_str(o, "alt", m->alt, sizeof(m->alt), &len) == -1)
		return "a second text too long";
	r->altlen = (uint16_t)len;
	a = get(o, "marks");
	if ((n = json_object_array_length(a)) > PKS_FLEET_MARKS)
		return "too many styles";
	for (i = 0; i < n; i++) {
		pair = json_object_array_get_idx(a, i);
		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2)
			return "a bad style";
		off = json_object_array_get_idx(pair, 0);
		st = json_object_array_get_idx(pair, 1);
		if (!json_object_is_type(off, json_type_int) ||
		    !json_object_is_type(st, json_type_int))
			return "a bad style";
		/* in order, within the text, a style the monitor has */
		if (json_object_get_int64(off) < prev ||
		    json_object_get_int64(off) > r->textlen ||
		    json_object_get_int64(st) < 0 ||
		    json_object_get_int64(st) > 2)
			return "a bad style";
		prev = json_object_get_int64(off);
		r->mark[i].off = (uint16_t)prev;
		r->mark[i].style = (uint8_t)json_object_get_int64(st);
	}
	r->nmark = (uint32_t)n;
	if (get_mac(o, "mac", r->mac) == -1)
		return "a MAC that is not 64 hex digits";
	return NULL;
}

static const char *
decode_reply(json_object *o, struct wire_msg *m)
{
	struct pks_fleet_reply	*r = &m->reply;

	r->id = (uint64_t)get_int(o, "id");
	r->user = get_int(o, "user");
	r->chat = get_int(o, "chat");
	if (!id_ok((int64_t)r->id) || get_int(o, "to") < 0 ||
	    get_int(o, "to") > 2 || !tgid_ok(r->user) || r->user <= 0 ||
	    !tgid_ok(r->chat) || r->chat == 0)
		return "a number out of range";
	r->to = (uint32_t)get_int(o, "to");
	if (get_mac(o, "req", r->req) == -1)
		return "a request MAC that is not 64 hex digits";
	return decode_words(o, m);
}

static const char *
decode_notice(json_object *o, struct wire_msg *m)
{
	struct pks_fleet_reply	*r = &m->reply;

	r->chat = get_int(o, "chat");
	r->msg_id = get_int(o, "msg");
	r->at = get_int(o, "at");
	if (!tgid_ok(r->chat) || r->chat == 0 || r->msg_id < 0 ||
	    r->msg_id > INT32_MAX || r->at <= 0)
		return "a number out of range";
	return decode_words(o, m);
}

/* the host a topic names, and what follows it; -1 if not ours */
static int
topic_parts(const char *topic, char *host, const char **what)
{
	const char	*h, *slash;
	size_t		 n;

	if (strncmp(topic, "pks/", 4) != 0)
		return -1;
	h = topic + 4;
	if ((slash = strchr(h, '/')) == NULL || (n = slash - h) == 0 ||
	    n >= PKS_NAME_MAX)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!conf_valid_name(host))
		return -1;
	*what = slash + 1;
	return 0;
}

/*
 * A message from the broker on topic, for a host called me with role
 * front (1) or host (0).  0 and *m filled, or -1 and why in why.
 */
int
wire_decode(const char *me, int front, const char *topic, const void *data,
    size_t len, struct wire_msg *m, char *why, size_t whylen)
{
	json_tokener	*tok;
	json_object	*o = NULL;
	const char	*what, *err = NULL;
	char		 type[16];
	size_t		 i;

	memset(m, 0, sizeof(*m));
	if (topic_parts(topic, m->host, &what) == -1) {
		snprintf(why, whylen, "not a fleet topic");
		return -1;
	}
	/* a host reads its own requests; the front reads every host's
	 * answers and hellos */
	if (front ? strcmp(what, "req") == 0 : (strcmp(what, "req") != 0 ||
	    strcmp(m->host, me) != 0)) {
		snprintf(why, whylen, "not a topic this host reads");
		return -1;
	}
	if (len == 0 || len > FLEET_PAYLOAD_MAX || memchr(data, '\0', len)) {
		snprintf(why, whylen, "empty, too large or binary (%zu bytes)",
		    len);
		return -1;
	}
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	o = json_tokener_parse_ex(tok, data, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) !=
	    json_tokener_success || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (o == NULL) {
		snprintf(why, whylen, "not one JSON object");
		return -1;
	}
	if (!json_object_is_type(get(o, "type"), json_type_string) ||
	    get_str(o, "type", type, sizeof(type), NULL) == -1)
		err = "no type";
	for (i = 0; err == NULL && i < NTYPES; i++)
		if (strcmp(type, types[i].name) == 0)
			break;
	if (err == NULL && i == NTYPES)
		err = "an unknown type";
	else if (err == NULL && strcmp(what, types[i].topic) != 0)
		err = "a type that does not go on this topic";
	else if (err == NULL)
		err = check_keys(o, types[i].keys, types[i].nkeys);
	if (err == NULL) {
		m->type = types[i].type;
		switch (m->type) {
		case WIRE_REQ:
			err = decode_req(o, &m->req);
			memcpy(m->req.host, m->host, sizeof(m->req.host));
			break;
		case WIRE_SENT:
			err = decode_sent(o, &m->sent);
			memcpy(m->sent.host, m->host, sizeof(m->sent.host));
			break;
		case WIRE_REPLY:
			err = decode_reply(o, m);
			break;
		case WIRE_NOTICE:
			err = decode_notice(o, m);
			break;
		case WIRE_HELLO:
			m->hello.at = get_int(o, "at");
			if (m->hello.at <= 0)
				err = "a date out of range";
			memcpy(m->hello.host, m->host, sizeof(m->hello.host));
			break;
		default:
			break;
		}
		memcpy(m->reply.host, m->host, sizeof(m->reply.host));
	}
	json_object_put(o);
	if (err != NULL) {
		snprintf(why, whylen, "%s", err);
		m->type = WIRE_NONE;
		return -1;
	}
	return 0;
}

/*
 * fuzz_fleet.c: libFuzzer target for pks-fleet's broker messages
 * (pks-fleet/wire.c).  The first byte picks the topic and the role, the
 * rest is the payload.  Any input: no crash, no leak, no read out of
 * bounds; what is accepted holds what the monitor's checks want
 * (NUL-terminated names, ids and lengths in range, styles in order), and
 * encodes back to a message that decodes to the same thing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fleet.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct {
	const char	*topic;
	int		 front;
} topics[] = {
	{ "pks/web1/req",	0 },	/* a host's requests */
	{ "pks/web2/reply",	1 },	/* the front: answers, notices */
	{ "pks/web2/hello",	1 },
	{ "pks/web2/req",	0 },	/* another host's: refused */
	{ "pks/web1/req",	1 },	/* the front reads no request */
	{ "pks//reply",		1 },
};
#define NTOPICS	(sizeof(topics) / sizeof(topics[0]))

static void
check(const struct wire_msg *m)
{
	uint32_t	i;

	if (memchr(m->host, '\0', sizeof(m->host)) == NULL ||
	    !conf_valid_name(m->host))
		abort();
	switch (m->type) {
	case WIRE_REQ:
		if (m->req.id == 0 || m->req.id >= PKS_FLEET_ID_MAX ||
		    m->req.cmd == 0 || m->req.cmd >= FLEET_CMD_MAX ||
		    m->req.nargs > PKS_ARGS_MAX || m->req.user <= 0 ||
		    m->req.chat == 0 ||
		    memchr(m->req.user_name, '\0',
		    sizeof(m->req.user_name)) == NULL)
			abort();
		for (i = 0; i < PKS_ARGS_MAX; i++)
			if (memchr(m->req.argv[i], '\0',
			    sizeof(m->req.argv[i])) == NULL)
				abort();
		break;
	case WIRE_SENT:
		/* what the host's monitor takes (dispatch.c) */
		if (!pks_fleet_sent_valid(&m->sent))
			abort();
		break;
	case WIRE_REPLY:
	case WIRE_NOTICE:
		if (m->reply.textlen >= (m->type == WIRE_REPLY ?
		    PKS_FLEET_TEXT_MAX : PKS_TEXT_MAX) ||
		    m->reply.altlen >= PKS_TEXT_MAX ||
		    m->reply.nmark > PKS_FLEET_MARKS || m->reply.to > 2 ||
		    strlen(m->text) != m->reply.textlen ||
		    strlen(m->alt) != m->reply.altlen)
			abort();
		/* an answer names its request's person and chat (what the
		 * front's monitor takes, dispatch.c) */
		if (m->type == WIRE_REPLY && (m->reply.user <= 0 ||
		    m->reply.user >= PKS_ID_LIMIT || m->reply.chat == 0 ||
		    m->reply.chat <= -PKS_ID_LIMIT ||
		    m->reply.chat >= PKS_ID_LIMIT || m->reply.id == 0 ||
		    m->reply.id >= PKS_FLEET_ID_MAX))
			abort();
		if (m->type == WIRE_NOTICE && m->reply.user != 0)
			abort();
		for (i = 0; i < m->reply.nmark; i++)
			if (m->reply.mark[i].off > m->reply.textlen ||
			    m->reply.mark[i].style > 2 || (i > 0 &&
			    m->reply.mark[i].off < m->reply.mark[i - 1].off))
				abort();
		break;
	case WIRE_HELLO:
		if (m->hello.at <= 0)
			abort();
		break;
	default:
		abort();
	}
}

/* what was accepted, encoded again, decodes to the same */
static void
round_trip(const char *topic, int front, const struct wire_msg *m)
{
	static struct wire_msg	 again;
	char			*out = NULL, why[128];
	size_t			 len = 0;

	switch (m->type) {
	case WIRE_REQ:
		out = wire_req(&m->req, &len);
		break;
	case WIRE_SENT:
		out = wire_sent(&m->sent, &len);
		break;
	case WIRE_REPLY:
	case WIRE_NOTICE:
		out = wire_reply(m->type == WIRE_NOTICE, &m->reply, m->text,
		    m->alt, &len);
		break;
	case WIRE_HELLO:
		out = wire_hello(m->hello.at, &len);
		break;
	default:
		abort();
	}
	if (out == NULL)
		return;		/* over FLEET_PAYLOAD_MAX once escaped */
	if (wire_decode(front ? "front" : "web1", front, topic, out, len,
	    &again, why, sizeof(why)) == -1 || again.type != m->type ||
	    memcmp(&again.req, &m->req, sizeof(m->req)) != 0 ||
	    memcmp(&again.sent, &m->sent, sizeof(m->sent)) != 0 ||
	    memcmp(&again.reply, &m->reply, sizeof(m->reply)) != 0 ||
	    strcmp(again.text, m->text) != 0 || strcmp(again.alt, m->alt) != 0)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct wire_msg	 m;
	char			 why[128];
	size_t			 t;

	log_init("fuzz", 1, 0);
	if (len == 0)
		return 0;
	t = data[0] % NTOPICS;
	if (wire_decode(topics[t].front ? "front" : "web1", topics[t].front,
	    topics[t].topic, data + 1, len - 1, &m, why, sizeof(why)) == 0) {
		check(&m);
		round_trip(topics[t].topic, topics[t].front, &m);
	} else if (m.type != WIRE_NONE || why[0] == '\0')
		abort();
	return 0;
}

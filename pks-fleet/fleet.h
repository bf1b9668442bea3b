/*
 * fleet.h: the parts of pks-fleet, grouped by the file that defines them.
 *
 * Topics (doc/fleet.md): the front publishes requests to pks/HOST/req; a
 * host publishes its answers and notices to pks/HOST/reply and says it is
 * there on pks/HOST/hello (retained).  The broker's ACL lets a host read
 * only its own req topic and write only its own reply and hello topics,
 * so the host named in a topic is the one that wrote it.
 */
#ifndef PKS_FLEET_H
#define PKS_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "pks.h"
#include "sandbox.h"

/* bytes of a broker message: an answer's texts, each byte of them
 * escaped in JSON as two at most (wire.c) */
#define FLEET_PAYLOAD_MAX	(32 * 1024)
#define FLEET_TOPIC_MAX		(PKS_NAME_MAX + 16)

enum wire_type {
	WIRE_NONE = 0,
	WIRE_REQ,		/* pks/ME/req, "type":"req" */
	WIRE_SENT,		/* pks/ME/req, "type":"sent" */
	WIRE_REPLY,		/* pks/HOST/reply, "type":"reply" */
	WIRE_NOTICE,		/* pks/HOST/reply, "type":"notice" */
	WIRE_HELLO		/* pks/HOST/hello */
};

/* a broker message, decoded and checked */
struct wire_msg {
	enum wire_type		 type;
	char			 host[PKS_NAME_MAX];	/* from the topic */
	struct pks_fleet_req	 req;
	struct pks_fleet_sent	 sent;
	struct pks_fleet_reply	 reply;		/* REPLY, NOTICE */
	char			 text[PKS_FLEET_TEXT_MAX];
	char			 alt[PKS_TEXT_MAX];
	struct pks_fleet_hello	 hello;
};

/* wire.c */
int	 wire_topic(char *, size_t, const char *, const char *);
char	*wire_req(const struct pks_fleet_req *, size_t *);
char	*wire_sent(const struct pks_fleet_sent *, size_t *);
char	*wire_reply(int, const struct pks_fleet_reply *, const char *,
	    const char *, size_t *);
char	*wire_hello(int64_t, size_t *);
int	 wire_decode(const char *, int, const char *, const void *, size_t,
	    struct wire_msg *, char *, size_t);

/* sandbox.c */
extern const struct sandbox_rule fleet_sandbox_rules[];
extern const size_t fleet_sandbox_nrules;

#endif /* PKS_FLEET_H */

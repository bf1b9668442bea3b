/*
 * pks.h: what crosses process lines in PKS.
 *
 * One enum of message types, one struct per type.  Every struct here is
 * fixed-size, holds no pointers and is validated by its receiver, length
 * first (see the *_dispatch_imsg() function of each process).
 */
#ifndef PKS_H
#define PKS_H

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>

#define PKS_NAME_MAX		32	/* service names, incl. NUL */
#define PKS_SEQ_MAX		16	/* longest knock sequence */
#define PKS_SEQ_MIN		3	/* 2 is guessed in seconds (issue 13) */
#define PKS_SERVICES_MAX	64
#define PKS_IFACES_MAX		16
#define PKS_TEXT_MAX		4096	/* Telegram message text, bytes */
#define PKS_FLEET_TEXT_MAX	11264	/* a fleet host's answer: longer than
					   a message, which the front splits
					   between lines; with its second
					   text (PKS_TEXT_MAX), one imsg */
#define PKS_GUARD		16	/* guard ports either side of a knock port */
#define PKS_ARGS_MAX		4	/* words of an admin command: in fleet
					   mode HOST USER_ID SERVICE DURATION */
#define PKS_REQ_MAX_AGE		60	/* seconds a /generate stays good, and
					   the service picker it brought */
#define PKS_PICKER_MAX		90	/* buttons of a picker (Telegram
					   refuses more than about 100) */
#define PKS_WINDOW_MAX		86400	/* longest window (open-for), seconds */
#define PKS_SEQUENCES_MAX	50000	/* highest max-sequences: the live set
					   pushed to a new sniffer fits its
					   queue (pks-monitor/seq.c) */
#define PKS_RECOVERY_MAX	1000	/* live recovery sequences, beside
					   max-sequences (issue 16) */
#define PKS_ID_LIMIT		(INT64_C(1) << 53)	/* Telegram ids: 52 bits */

/* children, in the order the monitor starts them */
enum pks_proc {
	PROC_MONITOR = 0,
	PROC_TELEGRAM,
	PROC_SNIFFER,
	PROC_FW,
	PROC_FLEET,		/* fleet mode only */
	PROC_MAX
};

enum imsg_type {
	IMSG_NONE = 0,

	/* any child -> monitor */
	IMSG_LOG,		/* struct pks_log + text */
	IMSG_READY,		/* no payload: set up, sandboxed */

	/* monitor -> any child: first messages after exec */
	IMSG_CONF_PROC,		/* struct pks_conf_proc */
	IMSG_CONF_END,		/* no payload: configuration complete */

	/* monitor -> pks-sniffer */
	IMSG_SNIFF_CONF,	/* struct pks_sniff_conf */
	IMSG_SNIFF_IFACE,	/* struct pks_iface */
	IMSG_SEQ_ADD,		/* struct pks_seq */
	IMSG_SEQ_DEL,		/* uint32_t sequence id */
	IMSG_SEQ_COMMIT,	/* no payload: live set complete, refilter;
				   counted: IMSG_SEQ_ARMED confirms it */

	/* pks-sniffer -> monitor */
	IMSG_KNOCK_DONE,	/* struct pks_knock */

	/* monitor -> pks-fw */
	IMSG_FW_CONF,		/* struct pks_fw_conf (before CONF_END) */
	IMSG_FW_SERVICE,	/* struct pks_fw_service (before CONF_END) */
	IMSG_FW_OPEN,		/* struct pks_window */
	IMSG_FW_CLOSE,		/* struct pks_window */
	IMSG_FW_CLOSE_ALL,	/* no payload */

	/* pks-fw -> monitor */
	IMSG_FW_BACKEND,	/* struct pks_fw_conf: the backend in use */
	IMSG_FW_RESULT,		/* struct pks_fw_result */

	/* monitor -> pks-telegram */
	IMSG_TG_CONF,		/* struct pks_tg_conf */
	IMSG_TG_TOKEN,		/* fd of the token file (SCM_RIGHTS) */
	IMSG_TG_CA,		/* fd of the CA bundle (SCM_RIGHTS) */
	IMSG_TG_ADMIN,		/* int64_t: an admin's user id, for the
				   command menu of their private chat */
	IMSG_TG_SEND,		/* struct pks_tg_send + text */
	IMSG_TG_DONE,		/* uint32_t request id: may confirm the update */
	IMSG_TG_EDIT,		/* struct pks_tg_edit + text: rewrite a
				   message the bot sent */

	/* pks-telegram -> monitor */
	IMSG_TG_REQUEST,	/* struct pks_tg_req */
	IMSG_TG_SENT,		/* struct pks_tg_sent: outcome of a TG_SEND */
	IMSG_TG_MIGRATED,	/* struct pks_tg_migrated: a group's new id */

	/* pks-sniffer -> monitor (last: the numbers above stay) */
	IMSG_SNIFF_STATS,	/* struct pks_sniff_stats */

	/* monitor -> pks-fw, after the services, before CONF_END */
	IMSG_FW_MODE,		/* struct pks_fw_mode */
	IMSG_FW_ALLOW,		/* struct pks_fw_allow: allow-always */

	/* pks-fw -> monitor, mode observe */
	IMSG_FW_OBSERVED,	/* struct pks_fw_observed */

	/* monitor -> pks-fleet: configuration */
	IMSG_FLEET_CONF,	/* struct pks_fleet_conf */
	IMSG_FLEET_CA,		/* fd of the CA file (SCM_RIGHTS) */
	IMSG_FLEET_CERT,	/* fd of the client certificate */
	IMSG_FLEET_KEY,		/* fd of its private key */
	IMSG_FLEET_PASSWORD,	/* fd of the password file */

	/* pks-fleet -> monitor */
	IMSG_FLEET_STATE,	/* struct pks_fleet_state: the broker link */
	IMSG_FLEET_HELLO,	/* struct pks_fleet_hello: a host is there
				   (front) */

	/* both ways: the front's monitor -> its pks-fleet -> the broker
	   -> a host's pks-fleet -> that host's monitor, and back */
	IMSG_FLEET_REQ,		/* struct pks_fleet_req: front to host */
	IMSG_FLEET_SENT,	/* struct pks_fleet_sent: front to host, the
				   outcome of a private answer */
	IMSG_FLEET_REPLY,	/* struct pks_fleet_reply + text + alt:
				   host to front, an answer to a request */
	IMSG_FLEET_NOTICE,	/* struct pks_fleet_reply + text + alt:
				   host to front, a message (msg_id 0) or
				   the new text of one (an edit) */

	/* monitor -> pks-telegram (last: the numbers above stay) */
	IMSG_TG_GROUP,		/* int64_t: a group of "allow chat", where
				   each admin gets the admin menu */

	/* monitor -> pks-sniffer, before CONF_END (last: the numbers above
	   stay): the range filter in the kernel (common/ebpf.c) */
	IMSG_SNIFF_EBPF_MAP,	/* fd of its map (SCM_RIGHTS) */
	IMSG_SNIFF_EBPF_PROG,	/* fd of its program */
	IMSG_SNIFF_EBPF_WAKE,	/* fd of the wake captures' program */

	/* pks-sniffer -> monitor (last: the numbers above stay) */
	IMSG_SEQ_ARMED,		/* uint32_t: the IMSG_SEQ_COMMITs this
				   sniffer applied since it started; the
				   live set they made is in its matcher and
				   its kernel filters (pks-monitor/seq.c) */

	IMSG_MAX
};

/* IMSG_LOG: a child's log line, written by the monitor under its name */
struct pks_log {
	int32_t		prio;		/* syslog priority */
	/* followed by the text, not NUL-terminated */
};

/* IMSG_CONF_PROC: what every child needs to confine itself */
struct pks_conf_proc {
	uint32_t	uid;
	uint32_t	gid;
	uint32_t	verbose;
	uint32_t	foreground;
	char		chroot[256];
};

/* IMSG_SNIFF_CONF */
struct pks_sniff_conf {
	uint32_t	knock_timeout;	/* seconds between two knocks */
	uint32_t	max_sources;	/* cap on tracked sources */
	uint16_t	knock_lo;	/* knock-ports: every packet of the */
	uint16_t	knock_hi;	/* knock protocol in it is judged */
	uint32_t	ebpf_buckets;	/* of the monitor's map; 0: none */
};

/* IMSG_SNIFF_IFACE */
struct pks_iface {
	char		name[16];	/* IFNAMSIZ; "any" allowed */
};

/* IMSG_SEQ_ADD: a live sequence */
struct pks_seq {
	uint32_t	id;		/* never 0 */
	uint8_t		len;		/* PKS_SEQ_MIN..PKS_SEQ_MAX */
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		bound_af;	/* 0: any source, AF_INET, AF_INET6 */
	uint8_t		pad;
	uint16_t	ports[PKS_SEQ_MAX];
	uint8_t		bound_addr[16];
};

/* IMSG_KNOCK_DONE */
struct pks_knock {
	uint32_t	seq_id;
	uint8_t		af;		/* AF_INET or AF_INET6 */
	uint8_t		pad[3];
	uint8_t		addr[16];	/* network order; v4 in first 4 */
};

/*
 * IMSG_SNIFF_STATS: the sniffer's counters since it started, sent at
 * most once a second when they changed, and once after start; none goes
 * backwards within one sniffer's life
 */
struct pks_sniff_stats {
	uint64_t	wrong;		/* wrong hits: into knock-ports,
					   advancing no knock */
	uint64_t	refused;	/* knock starts refused to prefixes
					   over the wrong-hit rate */
	uint64_t	lost;		/* packets the captures lost */
};

/* firewall auto|nftables|iptables (pks.conf) */
enum pks_fw_kind {
	PKS_FW_AUTO = 0,
	PKS_FW_NFTABLES,
	PKS_FW_IPTABLES
};

/* fleet { role front|host } (pks.conf) */
enum pks_fleet_role {
	PKS_FLEET_HOST = 0,
	PKS_FLEET_FRONT
};

/* IMSG_FW_CONF: what pks.conf asks; IMSG_FW_BACKEND: what pks-fw chose */
struct pks_fw_conf {
	uint32_t	backend;	/* enum pks_fw_kind */
};

/* mode observe|enforce (pks.conf) */
enum pks_fw_modes {
	PKS_MODE_ENFORCE = 0,	/* what no window admits is dropped */
	PKS_MODE_OBSERVE	/* nothing dropped: counted instead */
};

/* IMSG_FW_MODE */
struct pks_fw_mode {
	uint32_t	mode;		/* enum pks_fw_modes */
	uint32_t	nflog_group;	/* mode observe: 0..65535 */
};

#define PKS_ALLOW_MAX		256	/* allow-always prefix, service pairs */
#define PKS_OBSERVED_MAX	1024	/* sources (with service) counted in
					   mode observe; beyond, one count
					   per service */
#define PKS_NFLOG_GROUP		7161	/* pks-fw's NFLOG group in mode observe,
					   unless nflog-group says */

/* IMSG_FW_ALLOW: a prefix that reaches a service without a knock */
struct pks_fw_allow {
	uint8_t		af;		/* AF_INET or AF_INET6 */
	uint8_t		plen;		/* 1..32 or 1..128 */
	uint8_t		proto;		/* a service's */
	uint8_t		pad;
	uint16_t	port;		/* host order */
	uint16_t	pad2;
	uint8_t		addr[16];	/* host bits zero; v4 in first 4 */
};

/*
 * IMSG_FW_OBSERVED: mode observe, new connections from addr to a service
 * that mode enforce would have dropped.  pks-fw -> monitor: a count that
 * changed; monitor -> pks-fw (before CONF_END): a count an earlier pks-fw
 * reached, to go on from.  af 0 (addr zero): sources beyond
 * PKS_OBSERVED_MAX.
 */
struct pks_fw_observed {
	uint8_t		af;		/* AF_INET, AF_INET6 or 0 */
	uint8_t		proto;
	uint16_t	port;		/* host order */
	uint32_t	pad;
	uint8_t		addr[16];
	uint64_t	count;		/* never goes backwards */
};

/* the fields of a pks_fw_observed, whoever receives it (not the port:
 * the receiver knows its services) */
static inline int
pks_fw_observed_ok(const struct pks_fw_observed *o)
{
	int	i, alen;

	if (o->af == AF_INET)
		alen = 4;
	else if (o->af == AF_INET6)
		alen = 16;
	else if (o->af == 0)
		alen = 0;
	else
		return 0;
	for (i = alen; i < 16; i++)
		if (o->addr[i] != 0)
			return 0;
	return (o->proto == IPPROTO_TCP || o->proto == IPPROTO_UDP) &&
	    o->port != 0 && o->pad == 0 && o->count != 0;
}

/* IMSG_FW_SERVICE: a protected port, closed unless a window is open */
struct pks_fw_service {
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		pad;
	uint16_t	port;		/* host order */
};

/* IMSG_FW_OPEN, IMSG_FW_CLOSE */
struct pks_window {
	uint32_t	id;		/* never 0 */
	uint8_t		af;
	uint8_t		proto;
	uint16_t	port;		/* host order */
	uint8_t		addr[16];
	uint32_t	timeout;	/* OPEN: seconds left, 1..PKS_WINDOW_MAX;
					   the kernel closes it then (nftables) */
};

/* IMSG_FW_RESULT */
struct pks_fw_result {
	uint32_t	id;		/* window id, 0 for CLOSE_ALL */
	uint32_t	type;		/* IMSG_FW_OPEN, _CLOSE, _CLOSE_ALL */
	int32_t		error;		/* 0 or an errno */
};

/* IMSG_TG_CONF */
struct pks_tg_conf {
	char		api_url[256];
	uint32_t	poll_timeout;	/* getUpdates timeout, seconds */
	uint32_t	front;		/* 1: the front of a fleet (its menu
					   lists /hosts), else 0 */
};

enum pks_tg_cmd {
	TG_CMD_NONE = 0,
	TG_CMD_START,
	TG_CMD_HELP,
	TG_CMD_GENERATE,
	TG_CMD_STATUS,
	TG_CMD_REVOKE,
	TG_CMD_WHOAMI,
	TG_CMD_UNKNOWN,
	/* admin commands: words in argv[], decided by the monitor */
	TG_CMD_GRANT,		/* USER_ID SERVICE [DURATION], or as a reply */
	TG_CMD_UNGRANT,		/* USER_ID SERVICE, or as a reply */
	TG_CMD_USERS,
	TG_CMD_WINDOWS,
	TG_CMD_CLOSE,		/* ADDRESS */
	TG_CMD_REVOKE_USER,	/* /revoke USER_ID|all */
	TG_CMD_LOCKDOWN,
	TG_CMD_UNLOCK,
	TG_CMD_RECOVERY,	/* [USER_ID SERVICE [COUNT] | revoke ID|all] */
	TG_CMD_HOSTS,		/* fleet mode: the hosts and when seen */
	TG_CMD_MAX
};

enum pks_tg_chat {
	TG_CHAT_PRIVATE = 1,
	TG_CHAT_GROUP,
	TG_CHAT_SUPERGROUP,
	TG_CHAT_CHANNEL
};

/* IMSG_TG_REQUEST: a command a Telegram user sent */
struct pks_tg_req {
	uint32_t	reqid;		/* chosen by the worker, never 0 */
	uint32_t	cmd;		/* enum pks_tg_cmd */
	uint32_t	chat_type;	/* enum pks_tg_chat */
	uint32_t	age;		/* seconds since the message was sent */
	int64_t		user_id;
	int64_t		chat_id;
	char		user_name[64];	/* first name or @username, display only */
	char		arg1[64];	/* service name or "" */
	char		arg2[64];	/* bound address or "" */
	/* admin commands only; arg1 and arg2 stay "" for them */
	uint32_t	nargs;		/* words after the command, max 255 */
	uint32_t	thread_id;	/* forum topic of a supergroup the
					   command came from, 0: none */
	int64_t		reply_user_id;	/* sender of the message this one
					   replies to, 0 if none */
	char		reply_user_name[64];
	char		argv[PKS_ARGS_MAX][64];	/* the first words; one
					   of a bad shape is "" */
};

#define TG_SEND_HTML		0x01	/* parse_mode HTML */
#define TG_SEND_FALLBACK	0x02	/* on 403, send fallback to chat */
#define TG_SEND_KEYBOARD	0x04	/* second text: service names, space
					   separated, shown as inline buttons
					   whose callback generates for one */

/*
 * IMSG_TG_SEND: a message for the worker to deliver.  The second text is
 * the fallback text (TG_SEND_FALLBACK) or the keyboard's service list
 * (TG_SEND_KEYBOARD), never both; with neither flag there is none.
 */
struct pks_tg_send {
	uint32_t	reqid;		/* request it answers, 0 if none */
	uint32_t	flags;
	int64_t		chat_id;
	int64_t		fallback_chat;	/* with TG_SEND_FALLBACK */
	uint16_t	textlen;	/* bytes of text that follow */
	uint16_t	fallbacklen;	/* bytes of fallback text after it */
	uint32_t	thread_id;	/* forum topic, for a message to a
					   group chat (chat or fallback);
					   0: none */
	/* followed by text, then fallback text; neither NUL-terminated */
};

/* IMSG_TG_SENT */
struct pks_tg_sent {
	uint32_t	reqid;
	int32_t		status;		/* HTTP status; 0: the API never
					   answered */
	int64_t		chat_id;
	int64_t		message_id;	/* of the message sent (status 200),
					   else 0 */
};

/* IMSG_TG_EDIT: new text for a message the bot sent (editMessageText) */
struct pks_tg_edit {
	int64_t		chat_id;
	int64_t		message_id;	/* 1..INT32_MAX */
	uint16_t	textlen;	/* bytes of HTML text that follow */
	uint16_t	pad;
	uint32_t	pad2;
	/* followed by the text, not NUL-terminated */
};

/*
 * IMSG_TG_MIGRATED: a group became a supergroup and has a new id
 * (migrate_to_chat_id, in a service message or an error reply).
 */
struct pks_tg_migrated {
	int64_t		old_chat;	/* negative, the id that stops working */
	int64_t		new_chat;	/* negative, the supergroup's id */
};

/*
 * Fleet mode (issue 17).  Host names are conf_valid_name() names; a
 * request id is chosen by the front (1..PKS_FLEET_ID_MAX, fits a JSON
 * number), its expiry is a wall-clock date (hosts compare it with their
 * own clock).
 */
#define PKS_FLEET_ID_MAX	(INT64_C(1) << 53)
#define PKS_FLEET_TTL_MAX	120	/* seconds a request may live */
#define PKS_FLEET_MARKS		32	/* styled spans of a reply */
#define PKS_FLEET_MAC_LEN	32	/* HMAC-SHA256 of a message, made and
					   checked by the monitors
					   (fleetauth.c), carried by
					   pks-fleet */
#define PKS_FLEET_HOSTS_MAX	1024	/* host lines of a front */
#define PKS_FLEET_HELLO_EVERY	60	/* seconds between a host's hellos
					   (test builds: PKS_TEST_HELLO_S) */
#define PKS_FLEET_SILENT	3	/* hellos missed: a host is silent */

/* what a front may ask a host */
enum pks_fleet_cmd {
	FLEET_CMD_GENERATE = 1,	/* argv[0]: service or "", argv[1]: "" */
	FLEET_CMD_STATUS,
	/* admin commands, their words in argv[] (the host's name taken
	   off): the host checks who is an admin */
	FLEET_CMD_WINDOWS,
	FLEET_CMD_USERS,
	FLEET_CMD_LOCKDOWN,
	FLEET_CMD_UNLOCK,
	FLEET_CMD_CLOSE,
	FLEET_CMD_GRANT,
	FLEET_CMD_UNGRANT,
	FLEET_CMD_REVOKE_USER,	/* USER_ID|all */
	FLEET_CMD_REVOKE,	/* the person's own sequences there */
	FLEET_CMD_RECOVERY,	/* [USER_ID SERVICE [COUNT] | revoke ID|all] */
	FLEET_CMD_SERVICES,	/* what the person may open there (the
				   front's picker of hosts): no args */
	FLEET_CMD_MAX
};

/* IMSG_FLEET_CONF */
struct pks_fleet_conf {
	char		host[256];	/* the broker's name or address */
	char		addr[64];	/* "" or the broker's address as text
					   (filled by pks-fleet) */
	uint16_t	port;
	uint8_t		role;		/* enum pks_fleet_role */
	uint8_t		pad;
	char		name[PKS_NAME_MAX];	/* this host's */
};

/* IMSG_FLEET_STATE */
struct pks_fleet_state {
	uint32_t	connected;	/* 1: the session with the broker is up */
	int32_t		error;		/* the last failure, a MOSQ_ERR_ or
					   CONNACK reason code, 0: none */
	uint64_t	received;	/* broker messages received, refused */
	uint64_t	refused;
	int64_t		last;		/* wall date of the last one, 0 */
};

/* IMSG_FLEET_HELLO */
struct pks_fleet_hello {
	char		host[PKS_NAME_MAX];
	int64_t		at;		/* wall date the host said it */
};

/* IMSG_FLEET_REQ: what the front asks a host, for a Telegram user */
struct pks_fleet_req {
	uint64_t	id;
	int64_t		issued;		/* wall date, milliseconds */
	int64_t		expires;	/* wall date */
	char		host[PKS_NAME_MAX];	/* to (front -> pks-fleet), from
					   (pks-fleet -> host's monitor) */
	uint32_t	cmd;		/* enum pks_fleet_cmd */
	uint32_t	private;	/* asked in the person's private chat */
	uint32_t	age;		/* seconds since it was asked */
	uint32_t	nargs;
	int64_t		user;
	int64_t		chat;
	char		user_name[64];
	char		argv[PKS_ARGS_MAX][64];
	uint8_t		mac[PKS_FLEET_MAC_LEN];
};

/* IMSG_FLEET_SENT */
struct pks_fleet_sent {
	uint64_t	id;
	char		host[PKS_NAME_MAX];
	int32_t		ok;		/* delivered */
	int32_t		status;		/* the Bot API's HTTP status */
	int64_t		where;		/* the chat it went to */
	int64_t		msg_id;		/* the message, 0 */
	uint8_t		mac[PKS_FLEET_MAC_LEN];
};

/*
 * A delivery outcome as the front makes it: ok is the Bot API's 200, a
 * message id (Telegram's int32) only when delivered, the chat a Telegram
 * id.  pks-fleet refuses any other from the broker; the host's monitor
 * kills a pks-fleet that passes one on.
 */
static inline int
pks_fleet_sent_valid(const struct pks_fleet_sent *s)
{
	return s->id > 0 && s->id < (uint64_t)PKS_FLEET_ID_MAX &&
	    (s->ok == 0 || s->ok == 1) && s->status >= 0 &&
	    s->status <= 999 && s->ok == (s->status == 200) &&
	    s->msg_id >= 0 && s->msg_id <= INT32_MAX &&
	    (s->ok || s->msg_id == 0) && s->where > -PKS_ID_LIMIT &&
	    s->where < PKS_ID_LIMIT;
}

/* IMSG_FLEET_REPLY, IMSG_FLEET_NOTICE: words, styles, the second text */
struct pks_fleet_reply {
	uint64_t	id;		/* REPLY: the request; NOTICE: 0 */
	char		host[PKS_NAME_MAX];	/* from */
	int64_t		user;		/* REPLY: the person the request was
					   for; NOTICE: 0 */
	int64_t		chat;		/* REPLY: where it was asked; NOTICE:
					   to whom */
	int64_t		msg_id;		/* NOTICE: the message to rewrite, 0 */
	int64_t		at;		/* NOTICE: when sent, wall ms, rising
					   (a replay is refused) */
	uint32_t	to;		/* enum reply_to (monitor.h) */
	uint16_t	textlen;	/* bytes of text that follow */
	uint16_t	altlen;		/* bytes of the second text after it */
	uint32_t	nmark;
	struct {
		uint16_t	off;
		uint8_t		style;	/* enum reply_style (monitor.h) */
		uint8_t		pad;
	}		mark[PKS_FLEET_MARKS];
	uint8_t		req[PKS_FLEET_MAC_LEN];	/* REPLY: the MAC of the
					   request it answers (binds the
					   answer to it) */
	uint8_t		mac[PKS_FLEET_MAC_LEN];
};

#endif /* PKS_H */

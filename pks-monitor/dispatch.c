/*
 * dispatch.c: what each child may send the monitor.
 *
 * One *_dispatch_imsg() per child, with one switch on the message type
 * in which every case checks the length and every field before it calls
 * anything: a child that sends a malformed message is treated as
 * compromised, logged and killed.  The modules called from here trust
 * what they are given.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "log.h"
#include "monitor.h"
#include "proc.h"

#define LOG_TEXT_MAX	1024	/* bytes of a child's log line */

/* what every child may send: a log line, "ready"; 0, or -1: malformed */
static int
any_dispatch_imsg(enum pks_proc id, struct imsg *im)
{
	struct pks_log	pl;

	switch (im->hdr.type) {
	case IMSG_LOG:
		if (im->len < sizeof(pl) || im->len > sizeof(pl) + LOG_TEXT_MAX)
			return -1;
		memcpy(&pl, im->data, sizeof(pl));
		child_log(id, &pl, (const char *)im->data + sizeof(pl),
		    im->len - sizeof(pl));
		return 0;
	case IMSG_READY:
		if (im->len != 0)
			return -1;
		child_ready(id);
		ready_child_up(id);
		return 0;
	default:
		return -1;
	}
}

static int
str_valid(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int
tg_req_valid(const struct pks_tg_req *r)
{
	int	i;

	if (r->reqid == 0 || r->cmd == TG_CMD_NONE || r->cmd >= TG_CMD_MAX ||
	    r->chat_type < TG_CHAT_PRIVATE || r->chat_type > TG_CHAT_CHANNEL)
		return 0;
	/* no chat is 0: an answer to chat 0 cannot be sent; user 0 is a
	 * message with no person behind it, never in a private chat */
	if (r->chat_id == 0 ||
	    (r->user_id == 0 && r->chat_type == TG_CHAT_PRIVATE))
		return 0;
	/* a forum topic is only ever in a supergroup */
	if (r->thread_id > INT32_MAX ||
	    (r->thread_id != 0 && r->chat_type != TG_CHAT_SUPERGROUP))
		return 0;
	if (!str_valid(r->user_name, sizeof(r->user_name)) ||
	    !str_valid(r->arg1, sizeof(r->arg1)) ||
	    !str_valid(r->arg2, sizeof(r->arg2)) ||
	    !str_valid(r->reply_user_name, sizeof(r->reply_user_name)) ||
	    r->nargs > 255)
		return 0;
	for (i = 0; i < PKS_ARGS_MAX; i++)
		if (!str_valid(r->argv[i], sizeof(r->argv[i])))
			return 0;
	/* in a private chat, the chat is the user */
	if (r->chat_type == TG_CHAT_PRIVATE && r->chat_id != r->user_id)
		return 0;
	return 1;
}

/* 0: handled; -1: malformed */
static int
telegram_dispatch_imsg(struct imsg *im)
{
	struct pks_tg_req	req;
	struct pks_tg_sent	sent;
	struct pks_tg_migrated	mig;

	switch (im->hdr.type) {
	case IMSG_TG_REQUEST:
		if (im->len != sizeof(req))
			return -1;
		memcpy(&req, im->data, sizeof(req));
		if (!tg_req_valid(&req))
			return -1;
		if (!fleet_tg_request(&req))
			telegram_request(&req);
		return 0;
	case IMSG_TG_SENT:
		if (im->len != sizeof(sent))
			return -1;
		memcpy(&sent, im->data, sizeof(sent));
		/* a message id only for a message sent, Telegram's int32 */
		if (sent.message_id < 0 || sent.message_id > INT32_MAX ||
		    (sent.status != 200 && sent.message_id != 0))
			return -1;
		if (!fleet_tg_sent(&sent))
			telegram_sent(&sent);
		return 0;
	case IMSG_TG_MIGRATED:
		if (im->len != sizeof(mig))
			return -1;
		memcpy(&mig, im->data, sizeof(mig));
		/* both ids are groups', and they differ */
		if (mig.old_chat >= 0 || mig.new_chat >= 0 ||
		    mig.old_chat == mig.new_chat)
			return -1;
		telegram_migrated(&mig);
		return 0;
	default:
		return any_dispatch_imsg(PROC_TELEGRAM, im);
	}
}

static int
sniffer_dispatch_imsg(struct imsg *im)
{
	struct pks_knock	k;
	struct pks_sniff_stats	st;
	uint32_t		n;

	switch (im->hdr.type) {
	case IMSG_KNOCK_DONE:
		if (im->len != sizeof(k))
			return -1;
		memcpy(&k, im->data, sizeof(k));
		if (k.af != AF_INET && k.af != AF_INET6)
			return -1;
		if (!recovery_knock(&k))
			seq_knock_done(&k);
		return 0;
	case IMSG_SNIFF_STATS:
		if (im->len != sizeof(st))
			return -1;
		memcpy(&st, im->data, sizeof(st));
		/* counters since this sniffer started: never backwards */
		if (st.wrong < env->sniff_now.wrong ||
		    st.refused < env->sniff_now.refused ||
		    st.lost < env->sniff_now.lost)
			return -1;
		env->sniff_now = st;
		return 0;
	case IMSG_SEQ_ARMED:
		if (im->len != sizeof(n))
			return -1;
		memcpy(&n, im->data, sizeof(n));
		/* commits are applied in order, none before it was sent */
		if (n <= env->sniff_armed || n > env->sniff_commits)
			return -1;
		env->sniff_armed = n;
		request_armed();
		return 0;
	default:
		return any_dispatch_imsg(PROC_SNIFFER, im);
	}
}

/*
 * IMSG_FW_OBSERVED: a count of pks-fw's, kept for pksctl status.  A
 * source beyond pks-fw's cap, a count going backwards or a bad field is
 * malformed; a service no longer configured (a reload under way) is
 * left out.
 */
static int
fw_observed(const struct pks_fw_observed *o)
{
	struct pks_fw_observed	*t = env->observed;
	size_t			 i, pairs = 0;
	int			 known = 0;

	if (!pks_fw_observed_ok(o))
		return -1;
	for (i = 0; i < (size_t)env->conf->nservices; i++)
		if (env->conf->services[i].proto == o->proto &&
		    env->conf->services[i].port == o->port)
			known = 1;
	if (!known)
		return 0;
	for (i = 0; i < env->nobserved; i++) {
		if (t[i].af == o->af && t[i].proto == o->proto &&
		    t[i].port == o->port && memcmp(t[i].addr, o->addr, 16) == 0)
			break;
		if (t[i].af != 0)
			pairs++;
	}
	if (i < env->nobserved) {
		if (o->count < t[i].count)
			return -1;
	} else if (i >= sizeof(env->observed) / sizeof(env->observed[0]) ||
	    (o->af != 0 && pairs >= PKS_OBSERVED_MAX))
		return -1;
	else {
		if (env->nobserved == 0)
			env->observed_since = time(NULL);
		env->nobserved++;
	}
	t[i] = *o;
	env->observed_dirty = 1;	/* written by grants_sync */
	return 0;
}

static int
fw_dispatch_imsg(struct imsg *im)
{
	struct pks_fw_result	r;
	struct pks_fw_conf	fc;
	struct pks_fw_observed	o;

	switch (im->hdr.type) {
	case IMSG_FW_RESULT:
		if (im->len != sizeof(r))
			return -1;
		memcpy(&r, im->data, sizeof(r));
		/* the answer to one of our three requests, an errno */
		if ((r.type != IMSG_FW_OPEN && r.type != IMSG_FW_CLOSE &&
		    r.type != IMSG_FW_CLOSE_ALL) || r.error < 0)
			return -1;
		win_fw_result(&r);
		return 0;
	case IMSG_FW_BACKEND:
		if (im->len != sizeof(fc))
			return -1;
		memcpy(&fc, im->data, sizeof(fc));
		/* the backend it chose: never "auto" */
		if (fc.backend != PKS_FW_NFTABLES &&
		    fc.backend != PKS_FW_IPTABLES)
			return -1;
		env->fw_backend = fc;
		return 0;
	case IMSG_FW_OBSERVED:
		if (im->len != sizeof(o))
			return -1;
		memcpy(&o, im->data, sizeof(o));
		return fw_observed(&o);
	default:
		return any_dispatch_imsg(PROC_FW, im);
	}
}

static int
fleet_name_valid(const char *s)
{
	return str_valid(s, PKS_NAME_MAX) && conf_valid_name(s);
}

/* an answer and its second text, the longest, fit one imsg */
_Static_assert(sizeof(struct pks_fleet_reply) + PKS_FLEET_TEXT_MAX +
    PKS_TEXT_MAX <= IMSG_MAX_PAYLOAD, "a fleet answer may not fit an imsg");

/* REPLY, NOTICE: the words, in order, within their lengths */
static int
fleet_words_valid(const struct imsg *im, struct pks_fleet_reply *r)
{
	uint32_t	i;

	if (im->len < sizeof(*r))
		return 0;
	memcpy(r, im->data, sizeof(*r));
	/* an answer may be longer than a message (the front splits it),
	 * a notice not */
	if (im->len != sizeof(*r) + r->textlen + r->altlen ||
	    r->textlen >= (im->hdr.type == IMSG_FLEET_REPLY ?
	    PKS_FLEET_TEXT_MAX : PKS_TEXT_MAX) || r->altlen >= PKS_TEXT_MAX ||
	    r->nmark > PKS_FLEET_MARKS || r->to > REPLY_CHOICE ||
	    !fleet_name_valid(r->host))
		return 0;
	for (i = 0; i < r->nmark; i++)
		if (r->mark[i].off > r->textlen || r->mark[i].style >
		    STYLE_CODE || (i > 0 && r->mark[i].off <
		    r->mark[i - 1].off))
			return 0;
	return 1;
}

static int
fleet_dispatch_imsg(struct imsg *im)
{
	struct pks_fleet_state	st;
	struct pks_fleet_hello	h;
	struct pks_fleet_req	fr;
	struct pks_fleet_sent	fs;
	struct pks_fleet_reply	rp;
	char			text[PKS_FLEET_TEXT_MAX], alt[PKS_TEXT_MAX];
	uint32_t		i;
	int			front;

	/* no pks-fleet runs without a fleet block; a front is sent
	 * answers and hellos, a host requests and delivery outcomes */
	if (!env->conf->has_fleet)
		return -1;
	front = env->conf->fleet_role == PKS_FLEET_FRONT;
	switch (im->hdr.type) {
	case IMSG_FLEET_HELLO:
	case IMSG_FLEET_REPLY:
	case IMSG_FLEET_NOTICE:
		if (!front)
			return -1;
		break;
	case IMSG_FLEET_REQ:
	case IMSG_FLEET_SENT:
		if (front)
			return -1;
		break;
	default:
		break;
	}
	switch (im->hdr.type) {
	case IMSG_FLEET_STATE:
		if (im->len != sizeof(st))
			return -1;
		memcpy(&st, im->data, sizeof(st));
		if (st.connected > 1 || st.refused > st.received)
			return -1;
		fleet_link(&st);
		return 0;
	case IMSG_FLEET_HELLO:
		if (im->len != sizeof(h))
			return -1;
		memcpy(&h, im->data, sizeof(h));
		if (!fleet_name_valid(h.host) || h.at <= 0)
			return -1;
		fleet_hello(&h);
		return 0;
	case IMSG_FLEET_REQ:
		if (im->len != sizeof(fr))
			return -1;
		memcpy(&fr, im->data, sizeof(fr));
		if (fr.id == 0 || fr.id >= PKS_FLEET_ID_MAX ||
		    fr.cmd == 0 || fr.cmd >= FLEET_CMD_MAX ||
		    fr.user <= 0 || fr.user >= PKS_ID_LIMIT ||
		    fr.chat == 0 || fr.chat <= -PKS_ID_LIMIT ||
		    fr.chat >= PKS_ID_LIMIT || fr.private > 1 ||
		    (fr.private && fr.chat != fr.user) ||
		    fr.nargs > PKS_ARGS_MAX || !fleet_name_valid(fr.host) ||
		    strcmp(fr.host, env->conf->fleet_name) != 0 ||
		    !str_valid(fr.user_name, sizeof(fr.user_name)))
			return -1;
		for (i = 0; i < PKS_ARGS_MAX; i++)
			if (!str_valid(fr.argv[i], sizeof(fr.argv[i])))
				return -1;
		fleet_req(&fr);
		return 0;
	case IMSG_FLEET_SENT:
		if (im->len != sizeof(fs))
			return -1;
		memcpy(&fs, im->data, sizeof(fs));
		if (!pks_fleet_sent_valid(&fs) || !fleet_name_valid(fs.host) ||
		    strcmp(fs.host, env->conf->fleet_name) != 0)
			return -1;
		fleet_sent(&fs);
		return 0;
	case IMSG_FLEET_REPLY:
	case IMSG_FLEET_NOTICE:
		if (!fleet_words_valid(im, &rp))
			return -1;
		/* a notice goes to a chat, maybe over a message: pks-telegram
		 * dies of a chat 0 or a message id out of Telegram's range */
		if (im->hdr.type == IMSG_FLEET_NOTICE && (rp.chat == 0 ||
		    rp.chat <= -PKS_ID_LIMIT || rp.chat >= PKS_ID_LIMIT ||
		    rp.msg_id < 0 || rp.msg_id > INT32_MAX))
			return -1;
		/* an answer names the person and chat of its request */
		if (im->hdr.type == IMSG_FLEET_REPLY && (rp.id == 0 ||
		    rp.id >= PKS_FLEET_ID_MAX || rp.user <= 0 ||
		    rp.user >= PKS_ID_LIMIT || rp.chat == 0 ||
		    rp.chat <= -PKS_ID_LIMIT || rp.chat >= PKS_ID_LIMIT))
			return -1;
		memcpy(text, (const char *)im->data + sizeof(rp), rp.textlen);
		text[rp.textlen] = '\0';
		memcpy(alt, (const char *)im->data + sizeof(rp) + rp.textlen,
		    rp.altlen);
		alt[rp.altlen] = '\0';
		if (im->hdr.type == IMSG_FLEET_REPLY)
			fleet_reply(&rp, text, alt);
		else
			fleet_notice(&rp, text, alt);
		return 0;
	default:
		return any_dispatch_imsg(PROC_FLEET, im);
	}
}

/*
 * Handle what a child sent: read it, then each message.  Also called on
 * each loop pass for messages left over (an allocation failed), since
 * the child may send nothing more until they are answered.  Returns
 * what child_read() said (1: something was read), 0 when not readable.
 */
int
monitor_dispatch_imsg(enum pks_proc id, int readable)
{
	struct imsg	im;
	int		rc, r = 0;

	if (readable && (r = child_read(id)) == -1)
		return -1;
	while (child_get(id, &im) == 1) {
		switch (id) {
		case PROC_TELEGRAM:
			rc = telegram_dispatch_imsg(&im);
			break;
		case PROC_SNIFFER:
			rc = sniffer_dispatch_imsg(&im);
			break;
		case PROC_FW:
			rc = fw_dispatch_imsg(&im);
			break;
		case PROC_FLEET:
			rc = fleet_dispatch_imsg(&im);
			break;
		default:
			rc = -1;
			break;
		}
		if (rc == -1) {
			log_warnx("%s: malformed message (type %u, %zu bytes)",
			    proc_name(id), im.hdr.type, im.len);
			imsg_free(&im);
			child_kill(id, "compromised");
			return -1;
		}
		imsg_free(&im);
		if (env->child[id].fd == -1)
			return -1;
	}
	return r;
}

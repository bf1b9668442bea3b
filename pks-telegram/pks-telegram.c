/*
 * pks-telegram: the Telegram Bot API worker.
 *
 * Holds the bot token and nothing else: it long-polls getUpdates,
 * turns each command into an IMSG_TG_REQUEST for the monitor (which
 * decides everything) and delivers the monitor's IMSG_TG_SEND messages.
 *
 * Updates are handled a batch (one getUpdates reply) at a time.  The
 * next getUpdates, whose offset confirms the batch to Telegram, starts
 * only once every request of the batch got its IMSG_TG_DONE and every
 * message for it was sent or failed for good: a restart of the worker
 * then neither loses an update nor handles one twice.
 *
 * Two calls run side by side in one curl multi handle, the poll
 * (getMe, deleteWebhook, setMyCommands, then getUpdates) and the sends
 * (sendMessage, answerCallbackQuery, one at a time, in order), and one
 * poll() loop watches them and the monitor's socket.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "imsg.h"
#include "log.h"
#include "pks.h"
#include "proc.h"
#include "telegram.h"

#define TOKEN_FILE_MAX	512
#define CA_MAX		(4 * 1024 * 1024)
#define BACKOFF_MIN	1		/* seconds, doubling ... */
#define BACKOFF_MAX	60		/* ... up to this */
/*
 * After this many transport failures in a row (no HTTP reply at all)
 * the worker exits: the monitor restarts it, and the new worker
 * resolves the api-url host again (addresses are fixed before chroot).
 */
#define UNREACHABLE_MAX	10
#define SEND_TRIES	8		/* transient failures before giving up */
#define SEND_TIMEOUT	20		/* seconds, for calls but getUpdates */
#define DONE_TIMEOUT	300		/* seconds the monitor has per request */
#define ADMINS_MAX	64		/* admins who get their own menu */
#define GROUPS_MAX	64		/* groups where admins get theirs */
#define GROUP_MENUS_MAX	256		/* admin menus in groups, in all */
/*
 * A button press is answered (answerCallbackQuery) once its request's
 * outcome is known, so that a user who never started the bot gets the
 * link to do so; Telegram shows a spinner meanwhile, so not later than
 * this after the press.
 */
#define ANSWER_WAIT	5000		/* ms */

enum phase { PH_GETME, PH_WEBHOOK, PH_COMMANDS, PH_POLL };

struct backoff {
	int		delay;		/* seconds, next wait after a failure */
	int64_t		at;		/* ms, monotonic: not before this */
};

/* one request of the current batch */
struct pending {
	uint32_t	reqid;		/* 0: the update has no command */
	int		done;		/* IMSG_TG_DONE came */
	int		nsends;		/* messages for it not yet finished */
	int		answer;		/* callback answer not yet finished */
	int		held;		/* a message of it waits for its
					   chat's 429: DONE is not waited for */
	int64_t		deadline;	/* ms: give up waiting for DONE */
};

/*
 * Requests of confirmed batches still answered: a message held by its
 * chat's 429 (up to an hour) does not hold every later update, so the
 * batch is confirmed without its DONE; what the monitor sends for the
 * request later still replies to its command.
 */
#define RELEASED_MAX	32
static struct {
	uint32_t	reqid;
	int64_t		chat;		/* where the command came from */
	int64_t		msg;		/* and its message */
} released[RELEASED_MAX];
static size_t	released_next;

/* a message to deliver, or a callback query to answer */
struct out {
	TAILQ_ENTRY(out) entry;
	int		 answer;	/* answerCallbackQuery, else send */
	int64_t		 edit;		/* editMessageText of this message */
	uint32_t	 reqid;
	uint32_t	 flags;
	int64_t		 chat;
	int64_t		 fallback;
	uint32_t	 thread;	/* forum topic, for a group chat */
	int64_t		 req_chat;	/* where the request came from ... */
	int64_t		 req_msg;	/* ... and its message: replied to */
	int		 start;		/* with a button to start a private
					   chat (the 403 fallback) */
	int		 counted;	/* in its request's nsends */
	char		*text;
	size_t		 tlen;
	char		*text2;		/* fallback text or keyboard */
	size_t		 t2len;
	char		 cbq_id[TG_CBQ_ID_MAX];
	const char	*atext;		/* the answer's text, or NULL */
	int		 url;		/* the answer opens a private chat */
	int64_t		 since;		/* ms: when the answer was queued */
	int		 tries;
	int		 last;		/* last status, 0 if no reply */
};
TAILQ_HEAD(outq, out);

static struct pks_tg_conf	 conf;
static int			 have_conf;
static char			 token[TOKEN_FILE_MAX];
static char			*ca;
static size_t			 calen;
static char			 botname[TG_BOTNAME_MAX];
static int64_t			 admins[ADMINS_MAX];
static size_t			 nadmins;
static int64_t			 groups[GROUPS_MAX];
static size_t			 ngroups;
static size_t			 menu_step;	/* setMyCommands done so far */

static struct tg_api		*api;
static struct tg_call		*pollc, *sendc;
static enum phase		 phase = PH_GETME;
static struct backoff		 pollb = { BACKOFF_MIN, 0 };
static struct backoff		 sendb = { BACKOFF_MIN, 0 };
static int			 unreachable;

static struct tg_update		 batch[TG_UPDATES_MAX];
static struct pending		 pend[TG_UPDATES_MAX];
static size_t			 nbatch;
static int64_t			 offset;
static uint32_t			 next_reqid = 1;
#ifdef PKS_TESTHOOKS
static struct tg_update		 forged;	/* its TG_SENT goes once
						   the update is confirmed */
#endif
static struct outq		 outq = TAILQ_HEAD_INITIALIZER(outq);

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
backoff_fail(struct backoff *b, int retry_after)
{
	if (retry_after > 0) {
		b->at = now_ms() + (int64_t)retry_after * 1000;
		return;
	}
	b->at = now_ms() + (int64_t)b->delay * 1000;
	b->delay = b->delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : b->delay * 2;
}

static void
backoff_ok(struct backoff *b)
{
	b->delay = BACKOFF_MIN;
	b->at = 0;
}

/* a call got no HTTP reply at all; code is curl's */
static void
transport_failed(struct tg_call *c, int code)
{
	log_warnx("%s: %s", tg_call_method(c),
	    tg_api_strerror(api, c, code));
	if (++unreachable >= UNREACHABLE_MAX)
		fatalx("Bot API unreachable (%d failures in a row): exiting "
		    "to be restarted", unreachable);
}

/* ------------------------------------------------------------ config */

static int
conf_token(int fd)
{
	char	*t;
	size_t	 len;

	if ((t = proc_read_fd(fd, TOKEN_FILE_MAX - 1, &len)) == NULL) {
		log_warn("token file");
		return -1;
	}
	while (len > 0 && strchr(" \t\r\n", t[len - 1]) != NULL)
		t[--len] = '\0';
	if (strlen(t) != len || !tg_valid_token(t)) {
		/* never echo what the file holds */
		log_warnx("token file: not a bot token (digits:letters)");
		explicit_bzero(t, len);
		free(t);
		return -1;
	}
	memcpy(token, t, len + 1);
	explicit_bzero(t, len);
	free(t);
	return 0;
}

static int
tg_conf(struct imsg *im)
{
	int64_t	id;
	size_t	i;
	int	rc = -1;

	switch (im->hdr.type) {
	case IMSG_TG_CONF:
		if (im->len != sizeof(conf) || im->fd != -1)
			break;
		memcpy(&conf, im->data, sizeof(conf));
		if (memchr(conf.api_url, '\0', sizeof(conf.api_url)) == NULL ||
		    !tg_url_ok(conf.api_url)) {
			log_warnx("api-url must be an https:// URL (plain "
			    "http:// only to a loopback address)");
			break;
		}
		if (conf.poll_timeout == 0 || conf.poll_timeout > 300) {
			log_warnx("poll timeout %u out of 1..300",
			    conf.poll_timeout);
			break;
		}
		if (conf.front > 1) {
			log_warnx("front %u is not 0 or 1", conf.front);
			break;
		}
		have_conf = 1;
		rc = 0;
		break;
	case IMSG_TG_TOKEN:
		if (im->len != 0 || im->fd == -1 || token[0] != '\0')
			break;
		rc = conf_token(im->fd);
		break;
	case IMSG_TG_ADMIN:
		if (im->len != sizeof(int64_t) || im->fd != -1)
			break;
		memcpy(&admins[nadmins], im->data, sizeof(int64_t));
		if (admins[nadmins] <= 0)
			break;
		if (nadmins + 1 < ADMINS_MAX)
			nadmins++;
		else
			log_warnx("over %d admins: the last ones get the "
			    "common menu", ADMINS_MAX - 1);
		rc = 0;
		break;
	case IMSG_TG_GROUP:
		if (im->len != sizeof(int64_t) || im->fd != -1)
			break;
		memcpy(&id, im->data, sizeof(id));
		if (id >= 0 || id <= -PKS_ID_LIMIT)
			break;
		rc = 0;
		for (i = 0; i < ngroups; i++)
			if (groups[i] == id)
				break;
		if (i < ngroups)
			break;		/* in several "allow chat" lines */
		if (ngroups < GROUPS_MAX)
			groups[ngroups++] = id;
		else
			log_warnx("over %d groups: the admins' menu is not "
			    "set in the last ones", GROUPS_MAX);
		break;
	case IMSG_TG_CA:
		if (im->len != 0 || im->fd == -1 || ca != NULL)
			break;
		if ((ca = proc_read_fd(im->fd, CA_MAX, &calen)) == NULL)
			log_warn("CA bundle");
		else if (strstr(ca, "-----BEGIN CERTIFICATE-----") == NULL)
			log_warnx("CA bundle: no PEM certificate in it");
		else
			rc = 0;
		break;
	}
	if (im->fd != -1) {
		close(im->fd);
		im->fd = -1;
	}
	return rc;
}

/* ------------------------------------------------------------ batch */

static struct pending *
pending_find(uint32_t reqid)
{
	size_t	i;

	if (reqid == 0)
		return NULL;
	for (i = 0; i < nbatch; i++)
		if (pend[i].reqid == reqid)
			return &pend[i];
	return NULL;
}

/* the released request reqid, or -1 */
static int
released_find(uint32_t reqid)
{
	size_t	i;

	for (i = 0; reqid != 0 && i < RELEASED_MAX; i++)
		if (released[i].reqid == reqid)
			return (int)i;
	return -1;
}

/* Confirm the batch once everything in it is finished. */
static void
batch_check(void)
{
	size_t	i;

	if (nbatch == 0)
		return;
	for (i = 0; i < nbatch; i++)
		if ((pend[i].reqid != 0 && !pend[i].done && !pend[i].held) ||
		    pend[i].nsends > 0 || pend[i].answer)
			return;
	for (i = 0; i < nbatch; i++)
		if (pend[i].held && !pend[i].done) {
			released[released_next].reqid = pend[i].reqid;
			released[released_next].chat = batch[i].req.chat_id;
			released[released_next].msg = batch[i].msg_id;
			released_next = (released_next + 1) % RELEASED_MAX;
			log_info("request %u: confirmed while its message "
			    "waits for its chat", pend[i].reqid);
		}
	offset = batch[nbatch - 1].update_id + 1;
	log_debug("updates up to %lld handled",
	    (long long)batch[nbatch - 1].update_id);
	nbatch = 0;
}

static void
out_free(struct out *o)
{
	free(o->text);
	free(o->text2);
	free(o);
}

/* a group's id changed: the monitor says so to whom it concerns */
static void
migrated(int64_t old, int64_t new)
{
	struct pks_tg_migrated	m;

	log_warnx("chat %lld is now supergroup %lld", (long long)old,
	    (long long)new);
	memset(&m, 0, sizeof(m));
	m.old_chat = old;
	m.new_chat = new;
	proc_compose(IMSG_TG_MIGRATED, -1, &m, sizeof(m));
}

#define PICKER_EXPIRED	"This menu has expired: send /generate again."

/* an expired service picker loses its buttons: its text is rewritten */
static void
picker_expired(int64_t chat, int64_t mid)
{
	struct out	*o;

	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->text = strdup(PICKER_EXPIRED)) == NULL)
		fatal("picker_expired");
	o->chat = chat;
	o->edit = mid;
	o->flags = TG_SEND_HTML;
	o->tlen = strlen(o->text);
	TAILQ_INSERT_TAIL(&outq, o, entry);
}

static void
batch_start(size_t n)
{
	struct out	*o;
	size_t		 i;

	nbatch = n;
	for (i = 0; i < n; i++) {
		memset(&pend[i], 0, sizeof(pend[i]));
		if (batch[i].has_cmd) {
			pend[i].reqid = next_reqid++;
			if (next_reqid == 0)
				next_reqid = 1;
			pend[i].deadline = now_ms() + DONE_TIMEOUT * 1000;
			batch[i].req.reqid = pend[i].reqid;
			log_debug("update %lld: request %u, command %u, "
			    "chat %lld", (long long)batch[i].update_id,
			    pend[i].reqid, batch[i].req.cmd,
			    (long long)batch[i].req.chat_id);
			proc_compose(IMSG_TG_REQUEST, -1, &batch[i].req,
			    sizeof(batch[i].req));
		}
		if (batch[i].migrate_to != 0)
			migrated(batch[i].migrate_from, batch[i].migrate_to);
#ifdef PKS_TESTHOOKS
		if (batch[i].forged)
			forged = batch[i];
#endif
		if (batch[i].cbq_id[0] != '\0' &&
		    (o = calloc(1, sizeof(*o))) != NULL) {
			o->answer = 1;
			o->reqid = pend[i].reqid;
			o->since = now_ms();
			if (batch[i].expired)
				o->atext = PICKER_EXPIRED;
			memcpy(o->cbq_id, batch[i].cbq_id, sizeof(o->cbq_id));
			pend[i].answer = 1;
			TAILQ_INSERT_TAIL(&outq, o, entry);
		}
		if (batch[i].expired_chat != 0)
			picker_expired(batch[i].expired_chat, batch[i].msg_id);
	}
	batch_check();
}

/* the monitor took too long: do not stall every later update for it */
static void
batch_deadlines(void)
{
	size_t	i;
	int64_t	now = now_ms();

	for (i = 0; i < nbatch; i++)
		if (pend[i].reqid != 0 && !pend[i].done &&
		    now >= pend[i].deadline) {
			log_warnx("request %u: no answer from the monitor in "
			    "%d s, update confirmed anyway", pend[i].reqid,
			    DONE_TIMEOUT);
			pend[i].done = 1;
		}
	batch_check();
}

/* ------------------------------------------------------------ sends */

/*
 * The batch no longer waits for this message: it was delivered, failed
 * for good, or must wait for its chat's back-off, which may last an
 * hour: it stays queued, and later updates are not held up for it.
 */
static void
out_uncount(struct out *o)
{
	struct pending	*p;

	if (!o->counted)
		return;
	o->counted = 0;
	if ((p = pending_find(o->reqid)) != NULL && p->nsends > 0)
		p->nsends--;
}

static void
out_finish(struct out *o, int status, int64_t mid)
{
	struct pks_tg_sent	 sent;
	size_t			 i;

	TAILQ_REMOVE(&outq, o, entry);
	if (o->answer) {
		for (i = 0; i < nbatch; i++)
			if (strcmp(batch[i].cbq_id, o->cbq_id) == 0)
				pend[i].answer = 0;
	} else if (!o->edit) {
		memset(&sent, 0, sizeof(sent));
		sent.reqid = o->reqid;
		sent.status = status;
		sent.chat_id = o->chat;
		sent.message_id = status == 200 ? mid : 0;
		proc_compose(IMSG_TG_SENT, -1, &sent, sizeof(sent));
		out_uncount(o);
	}
	out_free(o);
	batch_check();
}

/*
 * Telegram's limits on sending: about one message a second in a chat,
 * twenty a minute in a group, thirty a second in all.  The queue is
 * served in order, skipping chats that must wait, so each chat keeps its
 * own order and a busy group does not hold up a private answer.
 */
#define RATE_CHATS	64
#define RATE_PRIVATE_MS	1000
#define RATE_GROUP_MS	3000
#define RATE_ALL_MS	34

static struct {
	int64_t	chat;
	int64_t	next;		/* ms: earliest next message */
} rate[RATE_CHATS];
static int64_t	rate_all;
/* test builds: PKS_TEST_RATE_DIV=N divides the per-chat intervals, so
 * that a test of many commands in one chat does not wait a second for
 * each answer; the tests of the pacing itself run without it */
static int	rate_div = 1;

static int64_t
rate_next(int64_t chat)
{
	size_t	i;

	for (i = 0; i < RATE_CHATS; i++)
		if (rate[i].chat == chat)
			return rate[i].next > rate_all ? rate[i].next : rate_all;
	return rate_all;
}

/* the entry of chat: its own, or the stalest one, taken over */
static size_t
rate_slot(int64_t chat)
{
	size_t	i, slot = 0;

	for (i = 0; i < RATE_CHATS; i++) {
		if (rate[i].chat == chat)
			return i;
		if (rate[i].next < rate[slot].next)
			slot = i;
	}
	rate[slot].chat = chat;
	return slot;
}

static void
rate_sent(int64_t chat)
{
	int64_t	now = now_ms();
	int64_t	gap = (chat < 0 ? RATE_GROUP_MS : RATE_PRIVATE_MS) / rate_div;
	size_t	slot = rate_slot(chat);

	rate_all = now + RATE_ALL_MS;
	if (rate[slot].next < now + gap)
		rate[slot].next = now + gap;
}

/* a 429 for chat: nothing more to it for secs; other chats go on */
static void
rate_hold(int64_t chat, int secs)
{
	rate[rate_slot(chat)].next = now_ms() + (int64_t)secs * 1000;
	log_info("chat %lld: held for %d s (429), other chats go on",
	    (long long)chat, secs);
}

/* ms (monotonic) from which a callback answer may go */
static int64_t
answer_at(const struct out *o)
{
	const struct pending	*p;

	if (o->reqid == 0 || o->url ||
	    (p = pending_find(o->reqid)) == NULL || p->done)
		return 0;
	return o->since + ANSWER_WAIT;
}

/*
 * The private chat of a button press's request is not started: its
 * answer opens it (the url of answerCallbackQuery), and goes now.
 */
static void
answer_start(uint32_t reqid)
{
	struct out	*o;

	TAILQ_FOREACH(o, &outq, entry)
		if (o->answer && reqid != 0 && o->reqid == reqid) {
			o->url = 1;
			o->atext = "Open a private chat with me, press Start, "
			    "then ask again.";
		}
}

/*
 * Seconds to hold a chat for a "Too Many Requests" that is not a 429
 * (slow mode has been seen answered 400): its retry_after, the "retry
 * after N" of its text, or a back-off by tries; 0 if it is no such.
 */
static int
too_many(const struct tg_reply *rp, int tries)
{
	const char	*p;
	int		 n;

	if (strcasestr(rp->desc, "too many requests") == NULL)
		return 0;
	if (rp->retry_after > 0)
		return rp->retry_after;
	if ((p = strcasestr(rp->desc, "retry after ")) != NULL &&
	    (n = atoi(p + strlen("retry after "))) > 0)
		return n > 3600 ? 3600 : n;
	return tries >= 4 ? 60 : 5 << tries;
}

static void
send_done(struct tg_call *c, int code, long status, const char *body,
    size_t len, void *arg)
{
	struct out	*o = arg;
	struct pending	*p;
	struct tg_reply	 rp;
	int		 slow;

	if (code != CURLE_OK) {
		transport_failed(c, code);
		o->tries++;
		if (o->tries >= SEND_TRIES) {
			log_warnx("%s: giving up after %d tries",
			    tg_call_method(c), o->tries);
			out_finish(o, o->last, 0);
			return;
		}
		backoff_fail(&sendb, 0);
		return;
	}
	unreachable = 0;
	if (tg_parse_reply(body, len, &rp) == -1) {
		memset(&rp, 0, sizeof(rp));
		rp.ok = 0;
		snprintf(rp.desc, sizeof(rp.desc), "reply is not JSON");
	}
	tg_scrub(rp.desc, strchr(token, ':') + 1);
	o->last = (int)status;
	if (status == 200 && rp.ok) {
		backoff_ok(&sendb);
		out_finish(o, 200, tg_parse_sent(body, len));
		return;
	}
	if (status == 401)
		fatalx("bot token refused by the API (401)");
	if (status == 403 && !o->answer && (o->flags & TG_SEND_FALLBACK) &&
	    o->text2 != NULL) {
		/* the user never started the bot: tell the chat instead */
		log_info("chat %lld: 403, sending to chat %lld instead",
		    (long long)o->chat, (long long)o->fallback);
		o->chat = o->fallback;
		free(o->text);
		o->text = o->text2;
		o->tlen = o->t2len;
		o->text2 = NULL;
		o->flags &= ~TG_SEND_FALLBACK;
		o->start = 1;
		o->tries = 0;
		answer_start(o->reqid);
		return;
	}
	if (status != 429 && (slow = too_many(&rp, o->tries)) > 0) {
		/* slow mode may come as a 400 "Too Many Requests" */
		log_warnx("%s: %ld %s: taken as a 429", tg_call_method(c),
		    status, rp.desc);
		status = 429;
		rp.retry_after = slow;
	} else if (status == 429 || status >= 500 ||
	    (status == 200 && !rp.ok))
		log_warnx("%s: %ld %s", tg_call_method(c), status, rp.desc);
	if (status == 429 || status >= 500 || (status == 200 && !rp.ok)) {
		if (++o->tries >= SEND_TRIES) {
			log_warnx("%s: giving up after %d tries",
			    tg_call_method(c), o->tries);
			out_finish(o, (int)status, 0);
		} else if (status == 429 && !o->answer) {
			/* Telegram's limits are per chat: hold this one */
			rate_hold(o->chat, rp.retry_after > 0 ?
			    rp.retry_after : 1);
			if (o->counted && (p = pending_find(o->reqid)) != NULL)
				p->held = 1;
			out_uncount(o);
			batch_check();
		} else
			backoff_fail(&sendb, status == 429 ?
			    (rp.retry_after > 0 ? rp.retry_after : 1) : 0);
		return;
	}
	if (rp.migrate_to != 0 && o->chat < 0 && !o->answer)
		migrated(o->chat, rp.migrate_to);
	/* 400 (e.g. an HTML parse error), 403 without fallback, ...: final */
	if (o->answer)
		log_warnx("answerCallbackQuery failed: %ld %s (the button "
		    "press is handled all the same)", status, rp.desc);
	else if (o->edit && strstr(rp.desc, "not modified") != NULL)
		log_info("editMessageText of message %lld in chat %lld: it "
		    "already says that", (long long)o->edit,
		    (long long)o->chat);
	else if (o->edit)
		log_warnx("editMessageText of message %lld in chat %lld "
		    "failed: %ld %s (the message stays as it was)",
		    (long long)o->edit, (long long)o->chat, status, rp.desc);
	else
		log_warnx("%s to chat %lld failed: %ld %s", tg_call_method(c),
		    (long long)o->chat, status, rp.desc);
	backoff_ok(&sendb);
	out_finish(o, (int)status, 0);
}

/* the first queued item allowed out now; *wait: ms until one is */
static struct out *
send_pick(int64_t *wait)
{
	struct out	*o;
	int64_t		 now = now_ms(), t, best = -1;

	TAILQ_FOREACH(o, &outq, entry) {
		/* cppcheck-suppress uninitvar */
		if (o->answer)		/* callback answers are not messages */
			t = answer_at(o);
		else
			t = rate_next(o->chat);
		if (t <= now)
			return o;
		if (best == -1 || t - now < best)
			best = t - now;
	}
	*wait = best;
	return NULL;
}

static void
send_next(void)
{
	struct out	*o;
	struct tg_msg	 m;
	char		*body;
	int64_t		 wait;
	int		 kb;

	if (tg_call_busy(sendc) || TAILQ_EMPTY(&outq) ||
	    now_ms() < sendb.at || phase != PH_POLL ||
	    (o = send_pick(&wait)) == NULL)
		return;
	if (!o->answer)
		rate_sent(o->chat);
	if (o->answer) {
		body = tg_build_answer(o->cbq_id, o->atext,
		    o->url ? botname : NULL);
	} else if (o->edit) {
		body = tg_build_edit(o->chat, o->edit, o->text, o->tlen);
	} else {
		kb = (o->flags & TG_SEND_KEYBOARD) != 0;
		memset(&m, 0, sizeof(m));
		m.chat = o->chat;
		m.thread = o->thread;
		/* in a busy group, "you" is whoever sent the command */
		if (o->chat == o->req_chat)
			m.reply_to = o->req_msg;
		m.text = o->text;
		m.len = o->tlen;
		m.html = (o->flags & TG_SEND_HTML) != 0;
		m.kb = kb ? o->text2 : NULL;
		m.kblen = kb ? o->t2len : 0;
		m.start_bot = o->start ? botname : NULL;
		body = tg_build_msg(&m);
	}
	if (body == NULL ||
	    tg_call_start(sendc, o->answer ? "answerCallbackQuery" :
	    o->edit ? "editMessageText" : "sendMessage", body, SEND_TIMEOUT,
	    send_done, o) == -1) {
		log_warnx("cannot start a call");
		backoff_fail(&sendb, 0);
	}
	free(body);
}

/* IMSG_TG_SEND: struct pks_tg_send, text, second text */
static int
recv_send(struct imsg *im)
{
	struct pks_tg_send	 s;
	struct pending		*p;
	struct out		*o;
	int			 i;
	const char		*d = im->data;
	uint32_t		 known = TG_SEND_HTML | TG_SEND_FALLBACK |
				    TG_SEND_KEYBOARD;

	if (im->len < sizeof(s))
		return -1;
	memcpy(&s, d, sizeof(s));
	if (im->len != sizeof(s) + s.textlen + s.fallbacklen ||
	    s.textlen == 0 || s.textlen > PKS_TEXT_MAX ||
	    s.fallbacklen > PKS_TEXT_MAX || (s.flags & ~known) != 0 ||
	    ((s.flags & TG_SEND_FALLBACK) && (s.flags & TG_SEND_KEYBOARD)) ||
	    ((s.flags & TG_SEND_FALLBACK) &&
	    (s.fallbacklen == 0 || s.fallback_chat == 0)) ||
	    (!(s.flags & (TG_SEND_FALLBACK | TG_SEND_KEYBOARD)) &&
	    s.fallbacklen != 0) || s.chat_id == 0 ||
	    s.thread_id > INT32_MAX || (s.thread_id != 0 && s.chat_id > 0 &&
	    !((s.flags & TG_SEND_FALLBACK) && s.fallback_chat < 0)))
		return -1;	/* a topic is only ever in a group chat */
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->text = malloc(s.textlen)) == NULL ||
	    (s.fallbacklen > 0 && (o->text2 = malloc(s.fallbacklen)) == NULL))
		fatal("recv_send");
	o->reqid = s.reqid;
	o->flags = s.flags;
	o->chat = s.chat_id;
	o->fallback = s.fallback_chat;
	o->thread = s.thread_id;
	memcpy(o->text, d + sizeof(s), s.textlen);
	o->tlen = s.textlen;
	if (s.fallbacklen > 0)
		memcpy(o->text2, d + sizeof(s) + s.textlen, s.fallbacklen);
	o->t2len = s.fallbacklen;
	if ((p = pending_find(s.reqid)) != NULL && !p->done) {
		p->nsends++;
		o->counted = 1;
		o->req_chat = batch[p - pend].req.chat_id;
		o->req_msg = batch[p - pend].msg_id;
	}
	else if ((i = released_find(s.reqid)) != -1) {
		o->req_chat = released[i].chat;
		o->req_msg = released[i].msg;
	} else if (s.reqid != 0)
		log_warnx("message for request %u, which is not pending",
		    s.reqid);
	TAILQ_INSERT_TAIL(&outq, o, entry);
	return 0;
}

/* IMSG_TG_EDIT: struct pks_tg_edit, text */
static int
recv_edit(struct imsg *im)
{
	struct pks_tg_edit	 e;
	struct out		*o;

	if (im->len < sizeof(e) || im->fd != -1)
		return -1;
	memcpy(&e, im->data, sizeof(e));
	if (im->len != sizeof(e) + e.textlen || e.textlen == 0 ||
	    e.textlen > PKS_TEXT_MAX || e.chat_id == 0 ||
	    e.message_id <= 0 || e.message_id > INT32_MAX)
		return -1;
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->text = malloc(e.textlen)) == NULL)
		fatal("recv_edit");
	o->chat = e.chat_id;
	o->edit = e.message_id;
	o->flags = TG_SEND_HTML;
	memcpy(o->text, (const char *)im->data + sizeof(e), e.textlen);
	o->tlen = e.textlen;
	TAILQ_INSERT_TAIL(&outq, o, entry);
	return 0;
}

static int
dispatch(struct imsg *im)
{
	struct pending	*p;
	uint32_t	 reqid;
	int		 i;

	switch (im->hdr.type) {
	case IMSG_TG_SEND:
		return recv_send(im);
	case IMSG_TG_EDIT:
		return recv_edit(im);
	case IMSG_TG_DONE:
		if (im->len != sizeof(reqid) || im->fd != -1)
			return -1;
		memcpy(&reqid, im->data, sizeof(reqid));
		if ((i = released_find(reqid)) != -1) {
			released[i].reqid = 0;	/* its DONE came: forgotten */
			return 0;
		}
		if ((p = pending_find(reqid)) == NULL || p->done) {
			log_warnx("IMSG_TG_DONE for request %u, which is not "
			    "pending", reqid);
			return 0;
		}
		p->done = 1;
		batch_check();
		return 0;
	default:
		log_warnx("unexpected message type %u", im->hdr.type);
		return -1;
	}
}

/* ------------------------------------------------------------ poll */

/*
 * The menus, in the order they are set: private chats, groups, each
 * admin's private chat, then each admin in each allowed group (as many
 * as GROUP_MENUS_MAX: each is one call before the polling starts).
 */
static size_t
menus(void)
{
	size_t	n = nadmins * ngroups;

	return 2 + nadmins + (n > GROUP_MENUS_MAX ? GROUP_MENUS_MAX : n);
}

static char *
menu_body(size_t step)
{
	size_t	j;

	if (step == 0)
		return tg_build_commands(TG_MENU_PRIVATE, 0, 0, conf.front);
	if (step == 1)
		return tg_build_commands(TG_MENU_GROUP, 0, 0, conf.front);
	if (step < 2 + nadmins)
		return tg_build_commands(TG_MENU_ADMIN, admins[step - 2], 0,
		    conf.front);
	j = step - 2 - nadmins;
	if (j == 0 && nadmins * ngroups > GROUP_MENUS_MAX)
		log_warnx("%zu admins in %zu groups: only the first %d get "
		    "their menu there", nadmins, ngroups, GROUP_MENUS_MAX);
	return tg_build_commands(TG_MENU_GROUP_ADMIN, groups[j / nadmins],
	    admins[j % nadmins], conf.front);
}

static void
poll_done(struct tg_call *c, int code, long status, const char *body,
    size_t len, void *arg)
{
	struct tg_reply	rp;
	size_t		n;
	int		cnt;

	(void)arg;
	if (code != CURLE_OK) {
		transport_failed(c, code);
		backoff_fail(&pollb, 0);
		return;
	}
	unreachable = 0;
	if (status == 401)
		fatalx("bot token refused by the API (401)");
	if (tg_parse_reply(body, len, &rp) == -1) {
		log_warnx("%s: %ld, reply is not JSON", tg_call_method(c),
		    status);
		backoff_fail(&pollb, 0);
		return;
	}
	tg_scrub(rp.desc, strchr(token, ':') + 1);
	switch (phase) {
	case PH_GETME:
		if (status != 200 || !rp.ok ||
		    tg_parse_getme(body, len, botname, sizeof(botname)) == -1) {
			log_warnx("getMe: %ld %s", status, rp.desc);
			backoff_fail(&pollb, rp.retry_after);
			return;
		}
		log_info("bot @%s", botname);
		phase = PH_WEBHOOK;
		break;
	case PH_WEBHOOK:
		if (status != 200 || !rp.ok)
			log_warnx("deleteWebhook: %ld %s", status, rp.desc);
		phase = PH_COMMANDS;
		menu_step = 0;		/* every menu again, from the first */
		break;
	case PH_COMMANDS:
		/* a menu refused (an admin who never started the bot: "chat
		 * not found") is no reason not to serve */
		if (status != 200 || !rp.ok)
			log_warnx("setMyCommands: %ld %s", status, rp.desc);
		if (++menu_step < menus())
			break;
		phase = PH_POLL;
		log_info("polling for updates");
		break;
	case PH_POLL:
		if (status == 409) {
			log_warnx("getUpdates: 409 %s", rp.desc);
			if (strstr(rp.desc, "webhook") != NULL)
				phase = PH_WEBHOOK;
			backoff_fail(&pollb, 0);
			return;
		}
		if (status != 200 || !rp.ok) {
			log_warnx("getUpdates: %ld %s", status, rp.desc);
			backoff_fail(&pollb, status == 429 ?
			    (rp.retry_after > 0 ? rp.retry_after : 1) : 0);
			return;
		}
		cnt = tg_parse_updates(body, len, botname, time(NULL), batch,
		    TG_UPDATES_MAX, &n);
		if (cnt == -1 || (cnt > 0 && n == 0)) {
			log_warnx("getUpdates: malformed reply");
			backoff_fail(&pollb, 0);
			return;
		}
#ifdef PKS_TESTHOOKS
		/* the monitor kills us for it: never again after a restart */
		if (forged.forged && offset > forged.update_id) {
			log_info("test hook: a forged IMSG_TG_SENT");
			proc_compose(IMSG_TG_SENT, -1, &forged.forge,
			    sizeof(forged.forge));
			forged.forged = 0;
		}
#endif
		if (n > 0 && batch[0].update_id < offset) {
			log_warnx("getUpdates: update %lld before offset %lld",
			    (long long)batch[0].update_id, (long long)offset);
			backoff_fail(&pollb, 0);
			return;
		}
		batch_start(n);
		break;
	}
	backoff_ok(&pollb);
}

static void
poll_next(void)
{
	char	*body = NULL;
	long	 timeout = SEND_TIMEOUT;
	const char *m;

	if (tg_call_busy(pollc) || now_ms() < pollb.at ||
	    (phase == PH_POLL && nbatch > 0))
		return;
	switch (phase) {
	case PH_GETME:
		m = "getMe";
		body = strdup("{}");
		break;
	case PH_WEBHOOK:
		/* pending updates stay: they were not handled yet */
		m = "deleteWebhook";
		body = strdup("{\"drop_pending_updates\":false}");
		break;
	case PH_COMMANDS:
		m = "setMyCommands";
		body = menu_body(menu_step);
		break;
	default:
		m = "getUpdates";
		body = tg_build_getupdates(offset, conf.poll_timeout);
		/* the server holds the call up to poll_timeout */
		timeout = conf.poll_timeout + 10;
		break;
	}
	if (body == NULL || tg_call_start(pollc, m, body, timeout, poll_done,
	    NULL) == -1) {
		log_warnx("cannot start %s", m);
		backoff_fail(&pollb, 0);
	}
	free(body);
}

/* ms until the next thing this loop must do by itself */
static int
next_timeout(void)
{
	int64_t	now = now_ms(), t = now + 60000;
	size_t	i;

	if (!tg_call_busy(pollc) && !(phase == PH_POLL && nbatch > 0) &&
	    pollb.at < t)
		t = pollb.at;
	if (!tg_call_busy(sendc) && !TAILQ_EMPTY(&outq)) {
		int64_t	wait = 0, sd = sendb.at;

		/* the next send: after the back-off and the rate limit */
		if (send_pick(&wait) == NULL && wait >= 0 && now + wait > sd)
			sd = now + wait;
		if (sd < t)
			t = sd;
	}
	for (i = 0; i < nbatch; i++)
		if (pend[i].reqid != 0 && !pend[i].done && pend[i].deadline < t)
			t = pend[i].deadline;
	return t <= now ? 0 : (int)(t - now);
}

int
main(int argc, char *argv[])
{
	char	resolve[1024];
	int	ipresolve;
	short	rev;

	proc_start(proc_name(PROC_TELEGRAM), argc, argv);
#ifdef PKS_TESTHOOKS
	if ((rate_div = proc_test_env("PKS_TEST_RATE_DIV", 1, 1000)) != 0)
		log_info("test hook: per-chat pacing divided by %d", rate_div);
	else
		rate_div = 1;
#endif
	proc_read_conf(tg_conf);
	if (!have_conf || token[0] == '\0' || ca == NULL)
		fatalx("configuration incomplete: api-url, token and CA "
		    "bundle are all needed");
	/* no resolver, hosts file or CA path is reachable after chroot */
	if (tg_resolve(conf.api_url, resolve, sizeof(resolve),
	    &ipresolve) == -1)
		fatalx("cannot resolve the api-url host");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	if ((api = tg_api_new(conf.api_url, token, ca, calen, resolve,
	    ipresolve)) == NULL || (pollc = tg_call_new(api, "poll")) == NULL ||
	    (sendc = tg_call_new(api, "send")) == NULL)
		fatalx("cannot set up libcurl");
	proc_confine(NULL, 0, tg_sandbox_rules, tg_sandbox_nrules);

	for (;;) {
		batch_deadlines();
		poll_next();
		send_next();
		if (tg_api_wait(api, PROC_FD, POLLIN |
		    (imsgbuf_pending(proc_ibuf) ? POLLOUT : 0),
		    next_timeout(), &rev) == -1)
			fatalx("poll failed");
		if (rev & (POLLIN | POLLHUP | POLLERR))
			proc_dispatch(dispatch);
		tg_api_perform(api);
		if (imsgbuf_pending(proc_ibuf))
			proc_flush();
	}
	/* NOTREACHED */
}

/*
 * fuzz_imsg.c: libFuzzer target for the imsg framing (common/imsg.c) and
 * for what each receiver makes of the messages it is sent.
 *
 * The first input byte chooses the receiver (modulo R_MAX):
 *
 *   R_FRAMING, R_SNIFFER, R_FW, R_WORKER: the rest is the byte stream a
 *	peer writes.  It goes through a real socketpair, in pieces, and is
 *	read back with imsgbuf_read() and imsg_get() until EOF; every
 *	message is compared with an independent decoding of the same bytes.
 *	Then the receiver's own checks get each message:
 *	  sniffer  match_seq_check() and a live matcher: IMSG_SEQ_ADD,
 *		   IMSG_SEQ_DEL, and payloads typed IMSG_KNOCK_DONE fed to
 *		   it as packets (struct pkt, then 2 bytes of elapsed ms)
 *	  fw	   fw_check_service(), fw_check(), fw_check_allow()
 *	  worker   the IMSG_TG_SEND layout, then tg_build_send(), whose
 *		   JSON must give the text back unchanged
 *   R_MONITOR: the rest is records, [child][length, 2 bytes LE][bytes]:
 *	each record's bytes are written on that child's socketpair and
 *	the monitor's child_dispatch() reads them, with a configuration and
 *	live state (sequences, windows) carried from record to record.
 *	What the monitor sends back to its children is read and checked
 *	with the children's rules: anything a child would refuse aborts.
 *	The monitor is a fleet front; what a record sends as pks-fleet has
 *	its answers and notices signed with host web1's key (fleet_sign),
 *	so they get past the MAC check.
 *
 * It links nearly every library of the tree, so tests/fuzz/fuzz.mk builds
 * it (with all of them, instrumented, in build/fuzz/lib):
 *   make fuzz-build && build/fuzz/fuzz_imsg -max_len=40000 \
 *       tests/fuzz/corpus/imsg
 *   make fuzz-replay	(without libFuzzer: $(BUILD)/tests/fuzz_replay_imsg)
 *
 * The seeds are written by tests/fuzz/seeds_imsg.c, linked with this
 * file, so they follow common/pks.h:
 *   make TESTHOOKS=1 fuzz-seeds
 *
 * Nothing here touches the system: the monitor's children are a zombie
 * of ours (child_kill() signals it, harmlessly), its sockets are ours,
 * the firewall code is only asked to check, never to change, and the
 * state file that admin commands save is one no one can create (/proc).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "imsg.h"
#include "log.h"
#include "monitor.h"
#include "proc.h"
#include "fw.h"
#include "sniffer.h"
#include "telegram.h"
#include "fuzz_imsg.h"


#define MON_CONF \
	"user \"_pks\"\n" \
	"chroot \"/var/empty\"\n" \
	"interface \"lo\"\n" \
	"knock-ports 20000-20100\n" \
	"sequence-length 3\n" \
	"sequence-lifetime 300\n" \
	"knock-timeout 10\n" \
	"max-sources 64\n" \
	"state-file \"/proc/pks-fuzz/state\"\n" \
	"telegram {\n" \
	"\ttoken-file \"/nonexistent/token\"\n" \
	"\tapi-url \"https://localhost:8443\"\n" \
	"\tknock-host \"198.18.0.1\"\n" \
	"}\n" \
	"service ssh {\n\tport 22\n\tprotocol tcp\n\topen-for 30\n}\n" \
	"service dns {\n\tport 53\n\tprotocol udp\n\topen-for 5\n}\n" \
	"allow user 1 to { ssh dns }\n" \
	"allow chat -100 to { ssh }\n" \
	"admin user 7\n" \
	"fleet {\n\tbroker \"mqtts://localhost\"\n" \
	"\tca-file \"/nonexistent/ca\"\n" \
	"\tpassword-file \"/nonexistent/password\"\n" \
	"\tname front\n\trole front\n" \
	"\thost web1 secret-file \"/nonexistent/web1\"\n}\n"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct monitor	*env;		/* what pks-monitor.c defines */
static struct monitor	 menv;
static pid_t		 zombie = -1;

static void
quiet(int prio, const char *s, size_t len)
{
	(void)prio;
	(void)s;
	(void)len;
}

static void
init(void)
{
	static int	 done;
	FILE		*null;

	if (done)
		return;
	done = 1;
	log_init("fuzz_imsg", 1, 2);
	log_setsink(quiet);
	/* child_log() writes the children's lines on stdio's stderr; the
	 * sanitizers and libFuzzer keep writing on descriptor 2 */
	if ((null = fopen("/dev/null", "w")) != NULL)
		stderr = null;
	/* the pid child_kill() signals: a child of ours, dead, unreaped */
	if ((zombie = fork()) == -1)
		abort();
	if (zombie == 0)
		_exit(0);
	env = &menv;
	env->conf = conf_parse_buffer("fuzz.conf", MON_CONF,
	    strlen(MON_CONF));
	if (env->conf == NULL || env->conf->nfleet_hosts != 1)
		abort();
	/* web1's key (conf_load would read it): the harness signs what
	 * the fuzzer sends as web1 (fleet_sign), so the monitor gets past
	 * the MAC check to what it does with a host's words */
	memset(env->conf->fleet_hosts[0].key[CONF_KEY_NOW].key, 0x6b,
	    CONF_SECRET_MIN);
	env->conf->fleet_hosts[0].key[CONF_KEY_NOW].len = CONF_SECRET_MIN;
	env->log_stderr = 1;
	env->foreground = 1;
	env->verbose = 2;
}

/* ------------------------------------------------------------ framing */

/*
 * Write data into one end of a socketpair and read it from the other
 * with imsgbuf_read() and imsg_get() until EOF or a framing error,
 * checking each message against a decoding of the same bytes; fn gets
 * every message.
 */
static void
frame(const uint8_t *data, size_t size, size_t chunk,
    void (*fn)(struct imsg *, void *), void *arg)
{
	struct imsgbuf	*ib;
	struct imsg	 im;
	struct imsg_hdr	 hdr;
	size_t		 woff = 0, roff = 0;
	ssize_t		 n;
	int		 sv[2], r, eof = 0, shut = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	if ((ib = malloc(sizeof(*ib))) == NULL)
		abort();
	imsgbuf_init(ib, sv[1]);
	while (!eof) {
		if (woff < size) {
			size_t	k = size - woff < chunk ? size - woff : chunk;

			if ((n = send(sv[0], data + woff, k, MSG_NOSIGNAL)) > 0)
				woff += n;
			else if (n == -1 && errno != EAGAIN)
				abort();
		} else if (!shut) {
			shutdown(sv[0], SHUT_WR);
			shut = 1;
		}
		n = imsgbuf_read(ib);
		if (n == 0)
			eof = 1;
		else if (n == -1 && errno != EAGAIN)
			abort();
		while ((r = imsg_get(ib, &im)) == 1) {
			/* the same bytes, decoded here */
			if (roff + IMSG_HEADER_SIZE > woff)
				abort();
			memcpy(&hdr, data + roff, sizeof(hdr));
			if (im.hdr.type != hdr.type || im.hdr.len != hdr.len ||
			    im.hdr.pid != hdr.pid || im.fd != -1 ||
			    hdr.len < IMSG_HEADER_SIZE ||
			    hdr.len > IMSG_MAX_SIZE || roff + hdr.len > woff ||
			    im.len != hdr.len - IMSG_HEADER_SIZE ||
			    (im.len == 0) != (im.data == NULL) ||
			    hdr.type == IMSG_NONE || hdr.type >= IMSG_MAX)
				abort();
			/* no descriptor came, so none may be claimed */
			if (hdr.peerid & 0x80000000U)
				abort();
			if (im.len > 0 && memcmp(im.data,
			    data + roff + IMSG_HEADER_SIZE, im.len) != 0)
				abort();
			roff += hdr.len;
			fn(&im, arg);
			imsg_free(&im);
		}
		if (r == -1) {
			/* refused: the header at roff must be a bad one */
			if (errno != EBADMSG || roff + IMSG_HEADER_SIZE > woff)
				abort();
			memcpy(&hdr, data + roff, sizeof(hdr));
			if (hdr.len >= IMSG_HEADER_SIZE &&
			    hdr.len <= IMSG_MAX_SIZE &&
			    hdr.type != IMSG_NONE && hdr.type < IMSG_MAX &&
			    (!(hdr.peerid & 0x80000000U) ||
			    roff + hdr.len > woff))
				abort();
			break;
		}
	}
	if (eof) {
		/* what is left is an incomplete message, never a whole one */
		if (woff != size || roff > size)
			abort();
		if (size - roff >= IMSG_HEADER_SIZE) {
			memcpy(&hdr, data + roff, sizeof(hdr));
			if (hdr.len >= IMSG_HEADER_SIZE &&
			    hdr.len <= size - roff)
				abort();
		}
	}
	imsgbuf_clear(ib);
	free(ib);
	close(sv[0]);
	close(sv[1]);
}

static void
nothing(struct imsg *im, void *arg)
{
	(void)im;
	(void)arg;
}

/* ------------------------------------------------------------ sniffer */

struct sniff {
	struct match	*m;
	uint64_t	 now;
	uint32_t	 live[1024];	/* ids added and not deleted */
	size_t		 nlive;
};

static int
sniff_live(struct sniff *s, uint32_t id)
{
	size_t	i;

	for (i = 0; i < s->nlive; i++)
		if (s->live[i] == id)
			return (int)i;
	return -1;
}

static void
sniff_msg(struct imsg *im, void *arg)
{
	struct sniff	*s = arg;
	struct pks_seq	 q;
	struct pks_knock k;
	struct pkt	 p;
	const char	*why;
	uint16_t	*ports;
	uint32_t	 id;
	uint16_t	 dt;
	size_t		 np, nlast, i;
	int		 r, j;

	switch (im->hdr.type) {
	case IMSG_SEQ_ADD:
		if (im->len != sizeof(q))
			return;		/* pks-sniffer: fatalx */
		memcpy(&q, im->data, sizeof(q));
		why = match_seq_check(&q);
		r = match_seq_add(s->m, &q);
		if (why != NULL) {
			if (r != -1 || errno != EINVAL)
				abort();
			return;
		}
		if (r == -1) {
			if (errno != EEXIST || sniff_live(s, q.id) == -1)
				abort();
			return;
		}
		if (sniff_live(s, q.id) != -1 || s->nlive == 1024)
			abort();
		s->live[s->nlive++] = q.id;
		break;
	case IMSG_SEQ_DEL:
		if (im->len != sizeof(id))
			return;
		memcpy(&id, im->data, sizeof(id));
		r = match_seq_del(s->m, id);
		j = sniff_live(s, id);
		if ((r == 0) != (j != -1))
			abort();
		if (j != -1)
			s->live[j] = s->live[--s->nlive];
		break;
	case IMSG_KNOCK_DONE:
		/* a packet as parse_frame() would hand it over */
		if (im->len != sizeof(p) + sizeof(dt))
			return;
		memcpy(&p, im->data, sizeof(p));
		memcpy(&dt, (uint8_t *)im->data + sizeof(p), sizeof(dt));
		p.af = p.af & 1 ? AF_INET6 : AF_INET;
		p.proto = p.proto & 1 ? IPPROTO_UDP : IPPROTO_TCP;
		if (p.dport == 0)
			p.dport = 1;
		if (p.af == AF_INET)
			memset(p.src + 4, 0, 12);
		s->now += dt;
		match_expire(s->m, s->now);
		memset(&k, 0, sizeof(k));
		if (match_packet(s->m, &p, s->now, &k) == 1) {
			if (sniff_live(s, k.seq_id) == -1 || k.af != p.af ||
			    memcmp(k.addr, p.src, 16) != 0)
				abort();
		}
		if (match_nsources(s->m) > 64)
			abort();
		break;
	default:
		return;
	}
	if (match_nseqs(s->m) != s->nlive)
		abort();
	np = match_ports(s->m, &ports, &nlast);
	if (nlast > np)
		abort();
	for (i = 0; i < np; i++)
		if (ports[i] == 0)
			abort();
	free(ports);
}

/* ------------------------------------------------------------ pks-fw */

static void
fw_msg(struct imsg *im, void *arg)
{
	struct pks_fw_service	 fs;
	struct pks_window	 w;
	struct pks_fw_allow	 a;

	(void)arg;
	switch (im->hdr.type) {
	case IMSG_FW_ALLOW:
		if (im->len != sizeof(a))
			return;
		memcpy(&a, im->data, sizeof(a));
		/* no service is configured here: every pair is refused */
		if (fw_check_allow(&a) != EINVAL)
			abort();
		break;
	case IMSG_FW_SERVICE:
		if (im->len != sizeof(fs))
			return;
		memcpy(&fs, im->data, sizeof(fs));
		if (fw_check_service(&fs) == 0 && (fs.port == 0 ||
		    (fs.proto != IPPROTO_TCP && fs.proto != IPPROTO_UDP)))
			abort();
		break;
	case IMSG_FW_OPEN:
	case IMSG_FW_CLOSE:
		if (im->len != sizeof(w))
			return;
		memcpy(&w, im->data, sizeof(w));
		/* no service is configured here: every window is refused */
		if (fw_check(&w) != EINVAL)
			abort();
		break;
	}
}

/* ------------------------------------------------------------ worker */

/*
 * The rules of pks-telegram's recv_send() (static there): the layout
 * the monitor must keep and the worker relies on.
 */
static int
tg_send_ok(const void *data, size_t len, struct pks_tg_send *s)
{
	uint32_t	known = TG_SEND_HTML | TG_SEND_FALLBACK |
			    TG_SEND_KEYBOARD;

	if (len < sizeof(*s))
		return 0;
	memcpy(s, data, sizeof(*s));
	if (len != sizeof(*s) + s->textlen + s->fallbacklen ||
	    s->textlen == 0 || s->textlen > PKS_TEXT_MAX ||
	    s->fallbacklen > PKS_TEXT_MAX || (s->flags & ~known) != 0 ||
	    ((s->flags & TG_SEND_FALLBACK) && (s->flags & TG_SEND_KEYBOARD)) ||
	    ((s->flags & TG_SEND_FALLBACK) &&
	    (s->fallbacklen == 0 || s->fallback_chat == 0)) ||
	    (!(s->flags & (TG_SEND_FALLBACK | TG_SEND_KEYBOARD)) &&
	    s->fallbacklen != 0) || s->chat_id == 0)
		return 0;
	return 1;
}

static void
worker_msg(struct imsg *im, void *arg)
{
	struct pks_tg_send	 s;
	struct json_tokener	*tok;
	json_object		*o, *t;
	const char		*text, *kb;
	char			*body;

	(void)arg;
	if (im->hdr.type != IMSG_TG_SEND || !tg_send_ok(im->data, im->len, &s))
		return;
	text = (const char *)im->data + sizeof(s);
	kb = (s.flags & TG_SEND_KEYBOARD) ? text + s.textlen : NULL;
	body = tg_build_send(s.chat_id, s.thread_id, text, s.textlen,
	    (s.flags & TG_SEND_HTML) != 0, kb, s.fallbacklen);
	if (body == NULL)
		abort();
	/* the body is JSON whose text is the monitor's, byte for byte */
	if ((tok = json_tokener_new()) == NULL)
		abort();
	o = json_tokener_parse_ex(tok, body, (int)strlen(body));
	if (o == NULL || !json_object_object_get_ex(o, "text", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    (size_t)json_object_get_string_len(t) != s.textlen ||
	    memcmp(json_object_get_string(t), text, s.textlen) != 0)
		abort();
	json_object_put(o);
	json_tokener_free(tok);
	free(body);
}

/* ------------------------------------------------------------ monitor */

struct peer {
	int		 fd;		/* the child's end */
	struct imsgbuf	 ib;
};
static struct peer	 peers[PROC_MAX];

/* Read what the monitor sent child id and check it with its rules. */
static void
mon_drain(enum pks_proc id)
{
	struct peer		*p = &peers[id];
	struct imsg		 im;
	struct pks_seq		 q;
	struct pks_window	 w;
	struct pks_tg_send	 ts;
	struct pks_tg_edit	 te;
	struct pks_fw_service	 fs;
	ssize_t			 n;
	int			 r, ok;

	if (p->fd == -1)
		return;
	while ((n = imsgbuf_read(&p->ib)) > 0) {
		while ((r = imsg_get(&p->ib, &im)) == 1) {
			ok = im.fd == -1;
			switch (im.hdr.type) {
			case IMSG_SEQ_ADD:
				ok = ok && id == PROC_SNIFFER &&
				    im.len == sizeof(q);
				if (ok) {
					memcpy(&q, im.data, sizeof(q));
					ok = match_seq_check(&q) == NULL &&
					    q.len == env->conf->seq_len &&
					    q.ports[0] >= env->conf->knock_lo &&
					    q.ports[0] <= env->conf->knock_hi;
				}
				break;
			case IMSG_SEQ_DEL:
				ok = ok && id == PROC_SNIFFER &&
				    im.len == sizeof(uint32_t);
				break;
			case IMSG_SEQ_COMMIT:
			case IMSG_FW_CLOSE_ALL:
				ok = ok && im.len == 0 && id ==
				    (im.hdr.type == IMSG_SEQ_COMMIT ?
				    PROC_SNIFFER : PROC_FW);
				break;
			case IMSG_FW_OPEN:
			case IMSG_FW_CLOSE:
				ok = ok && id == PROC_FW && im.len == sizeof(w);
				if (ok) {
					memcpy(&w, im.data, sizeof(w));
					memset(&fs, 0, sizeof(fs));
					fs.proto = w.proto;
					fs.port = w.port;
					ok = w.id != 0 && (w.af == AF_INET ||
					    w.af == AF_INET6) &&
					    fw_check_service(&fs) == 0;
				}
				break;
			case IMSG_TG_SEND:
				ok = ok && id == PROC_TELEGRAM &&
				    tg_send_ok(im.data, im.len, &ts);
				break;
			case IMSG_TG_DONE:
				ok = ok && id == PROC_TELEGRAM &&
				    im.len == sizeof(uint32_t);
				break;
			case IMSG_TG_EDIT:
				/* pks-telegram's recv_edit() rules */
				ok = ok && id == PROC_TELEGRAM &&
				    im.len >= sizeof(te);
				if (ok) {
					memcpy(&te, im.data, sizeof(te));
					ok = im.len == sizeof(te) + te.textlen &&
					    te.textlen > 0 &&
					    te.textlen <= PKS_TEXT_MAX &&
					    te.chat_id != 0 &&
					    te.message_id > 0 &&
					    te.message_id <= INT32_MAX;
				}
				break;
			case IMSG_FLEET_REQ:
			case IMSG_FLEET_SENT:
				/* pks-fleet's rules on a front */
				ok = ok && id == PROC_FLEET && im.len ==
				    (im.hdr.type == IMSG_FLEET_REQ ?
				    sizeof(struct pks_fleet_req) :
				    sizeof(struct pks_fleet_sent)) &&
				    memchr((const char *)im.data +
				    (im.hdr.type == IMSG_FLEET_REQ ?
				    offsetof(struct pks_fleet_req, host) :
				    offsetof(struct pks_fleet_sent, host)), '\0',
				    PKS_NAME_MAX) != NULL;
				break;
			default:
				ok = 0;
			}
			if (!ok) {
				/* the child would refuse it and die */
				dprintf(2, "fuzz_imsg: the monitor sent %s a "
				    "message it refuses: type %u, %zu bytes\n",
				    proc_name(id), im.hdr.type, im.len);
				abort();
			}
			imsg_free(&im);
		}
		if (r == -1)
			abort();
	}
	if (n == 0) {
		imsgbuf_clear(&p->ib);
		close(p->fd);
		p->fd = -1;
	}
}

static void
mon_setup(void)
{
	struct child	*c;
	int		 i, sv[2];

	child_init_all();
	env->next_seq_id = env->next_win_id = 0;
	env->stopping = 0;
	/* a new sniffer: its commits count from 0 (child_start()) */
	env->sniff_gen++;
	env->sniff_commits = env->sniff_armed = 0;
	for (i = 1; i < PROC_MAX; i++) {
		c = &env->child[i];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv)
		    == -1)
			abort();
		c->pid = zombie;
		c->fd = sv[0];
		c->ready = 1;
		imsgbuf_init(&c->ibuf, sv[0]);
		peers[i].fd = sv[1];
		imsgbuf_init(&peers[i].ib, sv[1]);
	}
}

static void
mon_teardown(void)
{
	struct pks_fw_result	 r;
	int			 i;

	for (i = 1; i < PROC_MAX; i++) {
		struct child	*c = &env->child[i];

		if (c->fd != -1) {
			imsgbuf_clear(&c->ibuf);
			close(c->fd);
			c->fd = -1;
		}
		if (peers[i].fd != -1) {
			imsgbuf_clear(&peers[i].ib);
			close(peers[i].fd);
			peers[i].fd = -1;
		}
		c->pid = -1;
	}
	/* with every child gone, this state leaves no trace */
	env->nobserved = 0;
	while (env->seqs != NULL)
		seq_remove(env->seqs);
	memset(&r, 0, sizeof(r));
	r.type = IMSG_FW_CLOSE_ALL;
	win_fw_result(&r);
	request_origin_gone(&telegram_origin);
}

/*
 * The fuzzer cannot make a MAC: in what a record sends as pks-fleet,
 * each whole IMSG_FLEET_REPLY or NOTICE that the dispatch would take is
 * signed with its host's key (web1's is known), in a copy.
 */
static const uint8_t *
fleet_sign(const uint8_t *data, size_t len)
{
	static uint8_t		 buf[65536];
	struct imsg_hdr		 h;
	struct pks_fleet_reply	 r;
	char			 text[PKS_FLEET_TEXT_MAX], alt[PKS_TEXT_MAX];
	size_t			 off, n;

	if (len > sizeof(buf))
		return data;
	memcpy(buf, data, len);
	for (off = 0; off + sizeof(h) <= len; off += h.len) {
		memcpy(&h, buf + off, sizeof(h));
		if (h.len < sizeof(h) || h.len > len - off)
			break;
		n = h.len - sizeof(h);
		if ((h.type != IMSG_FLEET_REPLY && h.type != IMSG_FLEET_NOTICE) ||
		    n < sizeof(r))
			continue;
		memcpy(&r, buf + off + sizeof(h), sizeof(r));
		if (n != sizeof(r) + r.textlen + r.altlen ||
		    r.textlen >= PKS_FLEET_TEXT_MAX ||
		    r.altlen >= PKS_TEXT_MAX ||
		    memchr(r.host, '\0', sizeof(r.host)) == NULL)
			continue;
		memcpy(text, buf + off + sizeof(h) + sizeof(r), r.textlen);
		memcpy(alt, buf + off + sizeof(h) + sizeof(r) + r.textlen,
		    r.altlen);
		if (fleet_auth_sign_words(h.type, &r, text, alt) == 0)
			memcpy(buf + off + sizeof(h) + offsetof(struct
			    pks_fleet_reply, mac), r.mac, sizeof(r.mac));
	}
	return buf;
}

static void
monitor(const uint8_t *data, size_t size)
{
	const uint8_t	*bytes;
	struct child	*c;
	enum pks_proc	 id;
	size_t		 off = 0, len, w;
	ssize_t		 n;
	int		 i;

	mon_setup();
	while (off + 3 <= size) {
		id = 1 + data[off] % (PROC_MAX - 1);
		len = data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		c = &env->child[id];
		bytes = id == PROC_FLEET ? fleet_sign(data + off, len) :
		    data + off;
		for (w = 0; w < len && c->fd != -1; ) {
			n = send(peers[id].fd, bytes + w, len - w,
			    MSG_NOSIGNAL);
			if (n > 0)
				w += n;
			else if (n == -1 && errno != EAGAIN)
				break;
			monitor_dispatch_imsg(id, 1);
			child_flush_all();
			for (i = 1; i < PROC_MAX; i++)
				mon_drain(i);
		}
		off += len;
	}
	/* every child hangs up: the monitor reads the rest, then EOF */
	for (i = 1; i < PROC_MAX; i++) {
		int	tries;

		if (peers[i].fd != -1)
			shutdown(peers[i].fd, SHUT_WR);
		for (tries = 0; env->child[i].fd != -1 && tries < 64; tries++) {
			monitor_dispatch_imsg(i, 1);
			child_flush_all();
			for (w = 1; w < PROC_MAX; w++)
				mon_drain(w);
		}
	}
	mon_teardown();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sniff	*s;
	uint8_t		 key[16];
	size_t		 chunk;

	init();
	if (size < 1)
		return 0;
	/* pieces of varying size: messages split across reads */
	chunk = 1 + (size_t)(data[0] / R_MAX) * 331;
	switch (data[0] % R_MAX) {
	case R_FRAMING:
		frame(data + 1, size - 1, chunk, nothing, NULL);
		break;
	case R_SNIFFER:
		if ((s = calloc(1, sizeof(*s))) == NULL)
			abort();
		memset(key, 0x5a, sizeof(key));
		if ((s->m = match_new(64, 10, key)) == NULL)
			abort();
		s->now = 1000;
		frame(data + 1, size - 1, chunk, sniff_msg, s);
		match_free(s->m);
		free(s);
		break;
	case R_FW:
		frame(data + 1, size - 1, chunk, fw_msg, NULL);
		break;
	case R_WORKER:
		frame(data + 1, size - 1, chunk, worker_msg, NULL);
		break;
	case R_MONITOR:
		monitor(data + 1, size - 1);
		break;
	}
	return 0;
}


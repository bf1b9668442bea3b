/*
 * seeds_imsg.c: writes the seed corpus of fuzz_imsg (one file per
 * scenario, named for it) and runs each seed through the target as it
 * goes.  Built with fuzz_imsg.c by `make fuzz-seeds`, so the seeds follow
 * the structs of common/pks.h:
 *   make TESTHOOKS=1 fuzz-seeds	(rewrites tests/fuzz/corpus/imsg/)
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "pks.h"
#include "sniffer.h"
#include "fuzz_imsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t	seed[65536];
static size_t	slen;

static void
put(const void *p, size_t n)
{
	if (slen + n > sizeof(seed))
		abort();
	memcpy(seed + slen, p, n);
	slen += n;
}

/* one message: header (len forced if flen != 0) and payload */
static void
msg(uint32_t type, uint32_t peerid, const void *p, size_t n, uint32_t flen)
{
	struct imsg_hdr	h;

	h.type = type;
	h.len = flen ? flen : IMSG_HEADER_SIZE + n;
	h.peerid = peerid;
	h.pid = 4242;
	put(&h, sizeof(h));
	if (n > 0)
		put(p, n);
}

static void
logmsg(const char *text)
{
	uint8_t		b[1100];
	struct pks_log	l = { 6 };

	memcpy(b, &l, sizeof(l));
	memcpy(b + sizeof(l), text, strlen(text));
	msg(IMSG_LOG, 0, b, sizeof(l) + strlen(text), 0);
}

/* a monitor record: the bytes written since mark go to child id */
static size_t	rec_at;

static void
rec(enum pks_proc id)
{
	uint8_t	h[3] = { (uint8_t)(id - 1), 0, 0 };

	put(h, 3);
	rec_at = slen;
}

static void
rec_end(void)
{
	size_t	n = slen - rec_at;

	seed[rec_at - 2] = n & 0xff;
	seed[rec_at - 1] = n >> 8;
}

static void
save(const char *dir, const char *name)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fwrite(seed, 1, slen, f) !=
	    slen || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	/* every seed runs clean through the target */
	LLVMFuzzerTestOneInput(seed, slen);
	slen = 0;
}

static void
sel(int r)
{
	uint8_t	b = (uint8_t)r;

	slen = 0;
	put(&b, 1);
}

static struct pks_seq
mkseq(uint32_t id, uint16_t p0)
{
	struct pks_seq	q;

	memset(&q, 0, sizeof(q));
	q.id = id;
	q.len = 3;
	q.proto = IPPROTO_TCP;
	q.ports[0] = p0;
	q.ports[1] = p0 + 100;
	q.ports[2] = p0 + 200;
	return q;
}

static void
pkt(uint16_t port, uint8_t last, uint16_t dt)
{
	uint8_t		b[sizeof(struct pkt) + 2];
	struct pkt	p;

	memset(&p, 0, sizeof(p));
	p.af = 0;		/* even: AF_INET */
	p.proto = 0;		/* even: TCP */
	p.dport = port;
	p.src[0] = 198; p.src[1] = 18; p.src[2] = 0; p.src[3] = last;
	memcpy(b, &p, sizeof(p));
	memcpy(b + sizeof(p), &dt, 2);
	msg(IMSG_KNOCK_DONE, 0, b, sizeof(b), 0);
}

static void
tgsend(uint32_t flags, int64_t chat, const char *t, const char *t2,
    int64_t fb)
{
	uint8_t			b[sizeof(struct pks_tg_send) + 2 * 4096];
	struct pks_tg_send	s;

	memset(&s, 0, sizeof(s));
	s.reqid = 1;
	s.flags = flags;
	s.chat_id = chat;
	s.fallback_chat = fb;
	s.textlen = strlen(t);
	s.fallbacklen = t2 ? strlen(t2) : 0;
	memcpy(b, &s, sizeof(s));
	memcpy(b + sizeof(s), t, s.textlen);
	if (t2)
		memcpy(b + sizeof(s) + s.textlen, t2, s.fallbacklen);
	msg(IMSG_TG_SEND, 0, b, sizeof(s) + s.textlen + s.fallbacklen, 0);
}

static struct pks_tg_req
mkreq(uint32_t reqid, uint32_t cmd, int64_t user, int64_t chat,
    uint32_t type, const char *a1, const char *a2)
{
	struct pks_tg_req	r;

	memset(&r, 0, sizeof(r));
	r.reqid = reqid;
	r.cmd = cmd;
	r.chat_type = type;
	r.user_id = user;
	r.chat_id = chat;
	snprintf(r.user_name, sizeof(r.user_name), "Ada <&>");
	snprintf(r.arg1, sizeof(r.arg1), "%s", a1);
	snprintf(r.arg2, sizeof(r.arg2), "%s", a2);
	return r;
}

static void
req(struct pks_tg_req r)
{
	msg(IMSG_TG_REQUEST, 0, &r, sizeof(r), 0);
}

static void
knock(uint32_t id, int af, uint8_t last)
{
	struct pks_knock	k;

	memset(&k, 0, sizeof(k));
	k.seq_id = id;
	k.af = af;
	if (af == AF_INET6) {
		k.addr[0] = 0xfd;
		k.addr[15] = last;
	} else {
		k.addr[0] = 198; k.addr[1] = 18; k.addr[3] = last;
	}
	msg(IMSG_KNOCK_DONE, 0, &k, sizeof(k), 0);
}

static void
stats(uint64_t wrong, uint64_t refused, uint64_t lost)
{
	struct pks_sniff_stats	st = { wrong, refused, lost };

	msg(IMSG_SNIFF_STATS, 0, &st, sizeof(st), 0);
}

/* the sniffer applied n commits */
static void
armed(uint32_t n)
{
	msg(IMSG_SEQ_ARMED, 0, &n, sizeof(n), 0);
}

/* a count of mode observe, from 198.18.0.LAST (af 0: other sources) */
static void
observed(uint8_t af, uint16_t port, uint8_t last, uint64_t count)
{
	struct pks_fw_observed	o;

	memset(&o, 0, sizeof(o));
	o.af = af;
	o.proto = IPPROTO_TCP;
	o.port = port;
	if (af == AF_INET) {
		o.addr[0] = 198; o.addr[1] = 18; o.addr[3] = last;
	} else if (af == AF_INET6) {
		o.addr[0] = 0xfd;
		o.addr[15] = last;
	}
	o.count = count;
	msg(IMSG_FW_OBSERVED, 0, &o, sizeof(o), 0);
}

static void
fwres(uint32_t id, uint32_t type, int32_t err)
{
	struct pks_fw_result	r = { id, type, err };

	msg(IMSG_FW_RESULT, 0, &r, sizeof(r), 0);
}

int
main(int argc, char *argv[])
{
	static uint8_t		 big[IMSG_MAX_PAYLOAD + 1];
	const char		*d;
	struct pks_seq		 q;
	struct pks_fw_service	 fs;
	struct pks_window	 w;
	struct pks_tg_sent	 ts;
	struct pks_fw_allow	 al;
	struct pks_fw_mode	 fm;
	uint32_t		 u;

	if (argc != 2) {
		fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
		return 1;
	}
	d = argv[1];

	/* framing */
	sel(R_FRAMING);
	logmsg("hello");
	msg(IMSG_READY, 0, NULL, 0, 0);
	q = mkseq(1, 20000);
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	msg(IMSG_SEQ_COMMIT, 7, NULL, 0, 0);
	save(d, "framing-several");
	sel(R_FRAMING + R_MAX * 3);	/* small pieces */
	logmsg("split across reads");
	msg(IMSG_TG_DONE, 0, "\1\0\0\0", 4, 0);
	save(d, "framing-pieces");
	sel(R_FRAMING);
	msg(IMSG_READY, 0, NULL, 0, 0);
	put("\1\0\0\0\20\0", 6);
	save(d, "framing-cut-header");
	sel(R_FRAMING);
	msg(IMSG_LOG, 0, "abcd", 4, 100);
	save(d, "framing-cut-payload");
	sel(R_FRAMING);
	msg(IMSG_READY, 0, NULL, 0, 8);
	save(d, "framing-len-short");
	sel(R_FRAMING);
	msg(IMSG_READY, 0, NULL, 0, IMSG_MAX_SIZE + 1);
	save(d, "framing-len-long");
	sel(R_FRAMING);
	msg(IMSG_NONE, 0, NULL, 0, 0);
	save(d, "framing-type-none");
	sel(R_FRAMING);
	msg(IMSG_MAX, 0, NULL, 0, 0);
	save(d, "framing-type-max");
	sel(R_FRAMING);
	msg(IMSG_TG_TOKEN, 0x80000000U, NULL, 0, 0);
	save(d, "framing-fd-missing");
	sel(R_FRAMING + R_MAX * 50);
	memset(big, 'x', sizeof(big));
	msg(IMSG_LOG, 0, big, IMSG_MAX_PAYLOAD, 0);
	msg(IMSG_LOG, 0, big, 10, 0);
	save(d, "framing-max-payload");

	/* pks-sniffer */
	sel(R_SNIFFER);
	q = mkseq(1, 20000);
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	q = mkseq(2, 30000);
	q.proto = IPPROTO_UDP;
	q.bound_af = AF_INET;
	q.bound_addr[0] = 198; q.bound_addr[1] = 18; q.bound_addr[3] = 2;
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	msg(IMSG_SEQ_COMMIT, 0, NULL, 0, 0);
	pkt(20000, 2, 10);
	pkt(20005, 3, 10);
	pkt(20100, 2, 10);
	pkt(20200, 2, 10);
	u = 1;
	msg(IMSG_SEQ_DEL, 0, &u, 4, 0);
	u = 9;
	msg(IMSG_SEQ_DEL, 0, &u, 4, 0);
	save(d, "sniffer-add-knock-del");
	sel(R_SNIFFER);
	q = mkseq(5, 40000);
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);	/* already live */
	q = mkseq(0, 40000);
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	q = mkseq(6, 40000);
	q.ports[2] = q.ports[0];
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	q = mkseq(7, 40000);
	q.ports[1] = 0;
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	q = mkseq(8, 40000);
	q.len = PKS_SEQ_MAX + 1;
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	q = mkseq(9, 40000);
	q.proto = 1;
	q.bound_af = 3;
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q), 0);
	msg(IMSG_SEQ_ADD, 0, &q, sizeof(q) - 1, 0);
	save(d, "sniffer-refused");

	/* pks-fw */
	sel(R_FW);
	memset(&fs, 0, sizeof(fs));
	fs.proto = IPPROTO_TCP;
	fs.port = 22;
	msg(IMSG_FW_SERVICE, 0, &fs, sizeof(fs), 0);
	fs.proto = 1;
	msg(IMSG_FW_SERVICE, 0, &fs, sizeof(fs), 0);
	memset(&w, 0, sizeof(w));
	w.id = 1;
	w.af = AF_INET;
	w.proto = IPPROTO_TCP;
	w.port = 22;
	w.addr[0] = 198; w.addr[1] = 18; w.addr[3] = 2;
	msg(IMSG_FW_OPEN, 0, &w, sizeof(w), 0);
	w.addr[0] = 224;
	msg(IMSG_FW_OPEN, 0, &w, sizeof(w), 0);
	w.af = AF_INET6;
	w.addr[0] = 0xfd;
	w.addr[15] = 2;
	msg(IMSG_FW_CLOSE, 0, &w, sizeof(w), 0);
	msg(IMSG_FW_CLOSE_ALL, 0, NULL, 0, 0);
	save(d, "fw-requests");
	sel(R_FW);
	memset(&fm, 0, sizeof(fm));
	fm.mode = PKS_MODE_OBSERVE;
	fm.nflog_group = PKS_NFLOG_GROUP;
	msg(IMSG_FW_MODE, 0, &fm, sizeof(fm), 0);
	memset(&al, 0, sizeof(al));
	al.af = AF_INET;
	al.plen = 24;
	al.proto = IPPROTO_TCP;
	al.port = 22;
	al.addr[0] = 198; al.addr[1] = 18;
	msg(IMSG_FW_ALLOW, 0, &al, sizeof(al), 0);
	al.addr[3] = 1;			/* host bits */
	msg(IMSG_FW_ALLOW, 0, &al, sizeof(al), 0);
	msg(IMSG_FW_ALLOW, 0, &al, sizeof(al) - 1, 0);
	save(d, "fw-mode-allow");

	/* pks-telegram */
	sel(R_WORKER);
	tgsend(0, 1, "Your sequence: pks-knock 198.18.0.1 20001 20050 20099",
	    NULL, 0);
	tgsend(TG_SEND_HTML, 1, "<b>Ada &amp;</b>\n\xe2\x9c\x85 ok", NULL, 0);
	tgsend(TG_SEND_KEYBOARD, 1, "Which service?", "ssh dns", 0);
	tgsend(TG_SEND_FALLBACK | TG_SEND_HTML, 1, "in private",
	    "Open a private chat with me first.", -100);
	tgsend(0, 1, "with\0nul", NULL, 0);
	tgsend(TG_SEND_KEYBOARD, 1, "none", "", 0);
	save(d, "worker-send");

	/* the monitor: one user's /generate, knock, window, status */
	sel(R_MONITOR);
	rec(PROC_TELEGRAM);
	msg(IMSG_READY, 0, NULL, 0, 0);
	logmsg("polling");
	req(mkreq(1, TG_CMD_GENERATE, 1, 1, TG_CHAT_PRIVATE, "", ""));
	req(mkreq(2, TG_CMD_GENERATE, 1, 1, TG_CHAT_PRIVATE, "dns",
	    "198.18.0.2"));
	rec_end();
	rec(PROC_SNIFFER);
	knock(2, AF_INET, 2);
	knock(1, AF_INET, 2);
	knock(77, AF_INET6, 2);
	stats(0, 0, 0);
	stats(48210, 3, 0);
	rec_end();
	rec(PROC_FW);
	fwres(1, IMSG_FW_OPEN, 0);
	fwres(2, IMSG_FW_OPEN, 1);
	rec_end();
	rec(PROC_TELEGRAM);
	req(mkreq(3, TG_CMD_STATUS, 1, 1, TG_CHAT_PRIVATE, "", ""));
	req(mkreq(4, TG_CMD_WHOAMI, 5, 5, TG_CHAT_PRIVATE, "", ""));
	req(mkreq(5, TG_CMD_HELP, 1, 1, TG_CHAT_PRIVATE, "", ""));
	req(mkreq(6, TG_CMD_REVOKE, 1, 1, TG_CHAT_PRIVATE, "", ""));
	rec_end();
	rec(PROC_FW);
	fwres(1, IMSG_FW_CLOSE, 0);
	fwres(0, IMSG_FW_CLOSE_ALL, 0);
	rec_end();
	save(d, "monitor-generate-knock");

	/* a group /generate, delivered, and one that was not */
	sel(R_MONITOR);
	rec(PROC_TELEGRAM);
	req(mkreq(1, TG_CMD_GENERATE, 1, -100, TG_CHAT_SUPERGROUP, "ssh",
	    ""));
	memset(&ts, 0, sizeof(ts));
	ts.reqid = 1;
	ts.status = 200;
	ts.chat_id = 1;
	ts.message_id = 42;	/* edited when the sequence is gone */
	msg(IMSG_TG_SENT, 0, &ts, sizeof(ts), 0);
	req(mkreq(2, TG_CMD_GENERATE, 9, -100, TG_CHAT_GROUP, "", ""));
	req(mkreq(3, TG_CMD_GENERATE, 1, -100, TG_CHAT_GROUP, "", ""));
	ts.reqid = 3;
	ts.status = 403;
	ts.chat_id = -100;
	ts.message_id = 0;
	msg(IMSG_TG_SENT, 0, &ts, sizeof(ts), 0);
	req(mkreq(4, TG_CMD_UNKNOWN, 1, 1, TG_CHAT_PRIVATE, "", ""));
	req(mkreq(5, TG_CMD_GENERATE, 1, 1, TG_CHAT_PRIVATE, "nope",
	    "not-an-address"));
	req(mkreq(6, TG_CMD_REVOKE, 1, 1, TG_CHAT_PRIVATE, "", ""));
	rec_end();
	save(d, "monitor-group");

	/* answers wait for the sniffer to arm their sequence: one replaced
	 * before (a cancellation), a group's and a private one after */
	sel(R_MONITOR);
	rec(PROC_TELEGRAM);
	req(mkreq(1, TG_CMD_GENERATE, 1, 1, TG_CHAT_PRIVATE, "ssh", ""));
	req(mkreq(2, TG_CMD_GENERATE, 1, -100, TG_CHAT_SUPERGROUP, "dns",
	    ""));
	req(mkreq(3, TG_CMD_GENERATE, 1, 1, TG_CHAT_PRIVATE, "ssh", ""));
	rec_end();
	rec(PROC_SNIFFER);
	armed(1);		/* 1's sequence is gone: cancelled */
	armed(4);		/* 2's and 3's (3 replaced 1: commits 3, 4) */
	rec_end();
	rec(PROC_TELEGRAM);
	memset(&ts, 0, sizeof(ts));
	ts.reqid = 2;
	ts.status = 200;
	ts.chat_id = 1;
	ts.message_id = 43;
	msg(IMSG_TG_SENT, 0, &ts, sizeof(ts), 0);
	rec_end();
	save(d, "monitor-armed");
	/* what a sniffer may not confirm: a short count, one more than was
	 * committed, the same twice (each kills it: one seed each) */
	for (u = 0; u < 3; u++) {
		static const char *const name[] = { "monitor-armed-short",
		    "monitor-armed-ahead", "monitor-armed-again" };

		sel(R_MONITOR);
		rec(PROC_TELEGRAM);
		req(mkreq(1, TG_CMD_GENERATE, 1, 1, TG_CHAT_PRIVATE, "ssh",
		    ""));
		rec_end();
		rec(PROC_SNIFFER);
		if (u == 0)
			msg(IMSG_SEQ_ARMED, 0, "\1\0", 2, 0);
		else
			armed(u == 1 ? 2 : 1);
		if (u == 2)
			armed(1);
		rec_end();
		save(d, name[u]);
	}

	/* an admin grants, lists, locks down */
	sel(R_MONITOR);
	rec(PROC_TELEGRAM);
	{
		struct pks_tg_req	r;

		r = mkreq(1, TG_CMD_GRANT, 7, 7, TG_CHAT_PRIVATE, "", "");
		r.nargs = 3;
		snprintf(r.argv[0], sizeof(r.argv[0]), "5");
		snprintf(r.argv[1], sizeof(r.argv[1]), "ssh");
		snprintf(r.argv[2], sizeof(r.argv[2]), "3600");
		req(r);
		req(mkreq(2, TG_CMD_USERS, 7, 7, TG_CHAT_PRIVATE, "", ""));
		req(mkreq(3, TG_CMD_WINDOWS, 7, 7, TG_CHAT_PRIVATE, "", ""));
		req(mkreq(4, TG_CMD_LOCKDOWN, 7, 7, TG_CHAT_PRIVATE, "", ""));
		req(mkreq(5, TG_CMD_GENERATE, 5, 5, TG_CHAT_PRIVATE, "", ""));
		req(mkreq(6, TG_CMD_UNLOCK, 7, 7, TG_CHAT_PRIVATE, "", ""));
		r = mkreq(7, TG_CMD_CLOSE, 7, 7, TG_CHAT_PRIVATE, "", "");
		r.nargs = 1;
		snprintf(r.argv[0], sizeof(r.argv[0]), "198.18.0.2");
		req(r);
		r = mkreq(8, TG_CMD_UNGRANT, 7, -100, TG_CHAT_GROUP, "", "");
		r.nargs = 0;
		r.reply_user_id = 5;
		snprintf(r.reply_user_name, sizeof(r.reply_user_name), "Bob");
		req(r);
		req(mkreq(9, TG_CMD_GRANT, 1, 1, TG_CHAT_PRIVATE, "", ""));
	}
	rec_end();
	save(d, "monitor-admin");

	/* /recovery: issue (refused: the range is too narrow), list, revoke,
	   in a group, from a non-admin, words of no form */
	sel(R_MONITOR);
	rec(PROC_TELEGRAM);
	{
		static const char *const words[][3] = {
			{ "1", "ssh", "2" }, { "revoke", "all", "" },
			{ "revoke", "5", "" }, { "1", "nope", "" },
			{ "x", "ssh", "" }, { "1", "ssh", "11" },
		};
		struct pks_tg_req	r;
		uint32_t		i, k;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			r = mkreq(i + 1, TG_CMD_RECOVERY, 7, 7,
			    TG_CHAT_PRIVATE, "", "");
			for (k = 0; k < 3 && words[i][k][0] != '\0'; k++)
				snprintf(r.argv[k], sizeof(r.argv[k]), "%s",
				    words[i][k]);
			r.nargs = k;
			req(r);
		}
		req(mkreq(7, TG_CMD_RECOVERY, 7, 7, TG_CHAT_PRIVATE, "", ""));
		req(mkreq(8, TG_CMD_RECOVERY, 7, -100, TG_CHAT_GROUP, "",
		    ""));
		req(mkreq(9, TG_CMD_RECOVERY, 1, 1, TG_CHAT_PRIVATE, "", ""));
	}
	rec_end();
	save(d, "monitor-recovery");

	/* a fleet front: the link up, web1's hello, its notices (new, and
	   a rewrite of a message not sent for it), an answer to no request;
	   fuzz_imsg signs them with web1's key */
	sel(R_MONITOR);
	rec(PROC_FLEET);
	{
		struct pks_fleet_state	st = { .connected = 1 };
		struct pks_fleet_hello	h = { .at = 1800000000 };
		struct pks_fleet_reply	r;
		uint8_t			b[sizeof(r) + 8];
		int			i;

		msg(IMSG_FLEET_STATE, 0, &st, sizeof(st), 0);
		snprintf(h.host, sizeof(h.host), "web1");
		msg(IMSG_FLEET_HELLO, 0, &h, sizeof(h), 0);
		for (i = 0; i < 3; i++) {
			memset(&r, 0, sizeof(r));
			snprintf(r.host, sizeof(r.host), "web1");
			r.chat = 1;
			r.msg_id = i == 1 ? 5 : 0;
			r.id = i == 2 ? 3 : 0;
			r.user = i == 2 ? 1 : 0;
			r.textlen = 2;
			r.nmark = 1;
			r.mark[0].style = 1;
			memcpy(b, &r, sizeof(r));
			memcpy(b + sizeof(r), "hi", 2);
			msg(i == 2 ? IMSG_FLEET_REPLY : IMSG_FLEET_NOTICE, 0, b,
			    sizeof(r) + 2, 0);
		}
	}
	rec_end();
	save(d, "monitor-fleet");

	/* mode observe: counts from pks-fw, then ones it must not send */
	sel(R_MONITOR);
	rec(PROC_FW);
	observed(AF_INET, 22, 2, 1);
	observed(AF_INET, 22, 2, 3);
	observed(AF_INET6, 22, 2, 1);
	observed(0, 22, 0, 7);
	observed(AF_INET, 9, 2, 1);	/* not a service: left out */
	rec_end();
	rec(PROC_FW);
	observed(AF_INET, 22, 2, 2);	/* backwards */
	rec_end();
	rec(PROC_FW);
	observed(3, 22, 2, 1);	/* no such family */
	rec_end();
	save(d, "monitor-observed");

	/* what makes the monitor kill a child */
	sel(R_MONITOR);
	rec(PROC_TELEGRAM);
	req(mkreq(1, TG_CMD_GENERATE, 1, 2, TG_CHAT_PRIVATE, "", ""));
	rec_end();
	rec(PROC_SNIFFER);
	msg(IMSG_FW_RESULT, 0, "\0\0\0\0\0\0\0\0\0\0\0\0", 12, 0);
	rec_end();
	rec(PROC_FW);
	msg(IMSG_READY, 0, "x", 1, 0);
	rec_end();
	save(d, "monitor-malformed");
	sel(R_MONITOR);
	rec(PROC_SNIFFER);
	knock(1, 99, 2);
	rec_end();
	rec(PROC_SNIFFER);
	stats(10, 1, 0);
	stats(9, 1, 0);		/* backwards */
	rec_end();
	rec(PROC_FW);
	msg(IMSG_LOG, 0, "\3\0\0", 3, 0);
	rec_end();
	rec(PROC_TELEGRAM);
	msg(IMSG_READY, 0x80000000U, NULL, 0, 0);
	rec_end();
	/* a message id on a failed send, one outside Telegram's int32 */
	memset(&ts, 0, sizeof(ts));
	ts.reqid = 1;
	ts.status = 403;
	ts.chat_id = 1;
	ts.message_id = 7;
	rec(PROC_TELEGRAM);
	msg(IMSG_TG_SENT, 0, &ts, sizeof(ts), 0);
	rec_end();
	ts.status = 200;
	ts.message_id = -1;
	rec(PROC_TELEGRAM);
	msg(IMSG_TG_SENT, 0, &ts, sizeof(ts), 0);
	rec_end();
	save(d, "monitor-bad-fields");
	return 0;
}

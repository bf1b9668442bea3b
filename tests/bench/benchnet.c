/*
 * benchnet: the packet side of make bench.
 *
 *   benchnet probe SRVNS [SVCPORT]
 *	Knock and time.  Reads "SRC PORT... TIMEOUT_MS" lines on stdin.
 *	For each, sends one TCP SYN from SRC to every PORT, then SYNs to
 *	the protected port (SVCPORT, 2222 by default) until the server
 *	answers one with a SYN-ACK,
 *	and prints "ok NS PROBES" (NS: from the last knock SYN entering
 *	the server's interface to the SYN-ACK leaving it, both stamped by
 *	the kernel) or "timeout PROBES".  The capture runs in SRVNS.
 *
 *   benchnet flood SRVNS ports|spoof MAXPKTS MAXSECS [PORT...]
 *	A SYN flood, bounded by packet count and by time: "ports" sends
 *	from the client address to random ports (never a protected
 *	one), "spoof" from random addresses of 198.18.1.0-198.18.255.255
 *	to random ports of the list.  Prints "sent N SECS".
 *
 * Run it in the client namespace of tests/e2e/pkstest.py's layout:
 * interfaces veth-c and veth-s, 198.18.0.2 and 198.18.0.1.  Frames go
 * out on veth-c only, so every packet stays inside the two namespaces.
 */
#define _GNU_SOURCE		/* setns, ppoll, sendmmsg */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SRV_IF		"veth-s"
#define CLI_IF		"veth-c"
#define SRV_ADDR	"198.18.0.1"
#define CLI_ADDR	"198.18.0.2"
#define SVC_PORT	2222
#define SVC2_PORT	2223		/* the scale rows' second service */
#define FRAME_LEN	54		/* ethernet + ip + tcp, no options */
#define BATCH		64
#define KNOCKS_MAX	32
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_ACK		0x10

static uint8_t		 srv_mac[6], cli_mac[6];
static int		 txfd = -1;
static volatile sig_atomic_t stop;
static uint64_t		 rs = 0x9e3779b97f4a7c15ULL;
static uint16_t		 svc_port = SVC_PORT;	/* what a probe times */

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
rnd(void)
{
	/* xorshift64*: speed matters in the flood, secrecy does not */
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

static uint64_t
mono_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void
get_mac(const char *ifname, uint8_t *mac)
{
	struct ifreq	ifr;
	int		s;

	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFHWADDR, &ifr) == -1)
		err(1, "%s: SIOCGIFHWADDR", ifname);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
}

static void
enter_ns(int fd, const char *what)
{
	if (setns(fd, CLONE_NEWNET) == -1)
		err(1, "setns %s", what);
}

static int
open_ns(const char *name)
{
	char	path[PATH_MAX];
	int	fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	return fd;
}

/* the sending socket, on veth-c of the namespace we run in */
static void
open_tx(void)
{
	struct sockaddr_ll	sll;
	int			one = 1;

	if ((txfd = socket(AF_PACKET, SOCK_RAW, 0)) == -1)
		err(1, "socket AF_PACKET");
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = 0;		/* send only */
	if ((sll.sll_ifindex = if_nametoindex(CLI_IF)) == 0)
		err(1, "%s", CLI_IF);
	if (bind(txfd, (struct sockaddr *)&sll, sizeof(sll)) == -1)
		err(1, "bind %s", CLI_IF);
	/* veth has no queue anyway; this skips the qdisc lookup */
	(void)setsockopt(txfd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
	    sizeof(one));
	get_mac(CLI_IF, cli_mac);
}

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t	i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* one ethernet/IPv4/TCP frame, checksums included */
static void
frame(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport,
    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t		*ip = f + 14, *th = f + 34;
	uint32_t	 s;
	uint16_t	 c;

	memcpy(f, srv_mac, 6);
	memcpy(f + 6, cli_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[3] = 40;
	ip[4] = rnd() & 0xff;			/* id */
	ip[5] = rnd() & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = fold(sum16(ip, 20, 0));
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	th[0] = sport >> 8;
	th[1] = sport & 0xff;
	th[2] = dport >> 8;
	th[3] = dport & 0xff;
	th[4] = seq >> 24;
	th[5] = seq >> 16;
	th[6] = seq >> 8;
	th[7] = seq;
	th[8] = ack >> 24;
	th[9] = ack >> 16;
	th[10] = ack >> 8;
	th[11] = ack;
	th[12] = 5 << 4;
	th[13] = flags;
	th[14] = 0xfa;				/* window 64240 */
	th[15] = 0xf0;
	/* pseudo header: addresses, protocol, length */
	s = sum16(ip + 12, 8, IPPROTO_TCP + 20);
	c = fold(sum16(th, 20, s));
	th[16] = c >> 8;
	th[17] = c & 0xff;
}

static void
send1(const uint8_t *f)
{
	if (send(txfd, f, FRAME_LEN, 0) != FRAME_LEN)
		err(1, "send");
}

/* ---------------------------------------------------------------- probe */

struct seen {
	uint32_t	src;		/* the knocker */
	uint16_t	last;		/* its last knock port */
	int		have_knock, have_synack;
	uint64_t	t_knock, t_synack;	/* ns, kernel stamps */
	uint32_t	synack_ack;
	uint16_t	probe_sport;
};

static void
on_pkt(u_char *arg, const struct pcap_pkthdr *h, const u_char *b)
{
	struct seen	*w = (struct seen *)arg;
	const u_char	*ip, *th;
	uint32_t	 src, dst;
	uint64_t	 t;
	size_t		 hl;

	if (h->caplen < 14 + 20 || b[12] != 0x08 || b[13] != 0x00)
		return;
	ip = b + 14;
	hl = (ip[0] & 0xf) * 4;
	if (ip[9] != IPPROTO_TCP || h->caplen < 14 + hl + 20)
		return;
	th = ip + hl;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	/* nanosecond precision was asked for: tv_usec holds ns */
	t = (uint64_t)h->ts.tv_sec * 1000000000ULL + h->ts.tv_usec;
	if (src == w->src && (th[13] & (TH_SYN | TH_ACK)) == TH_SYN &&
	    (th[2] << 8 | th[3]) == w->last) {
		/* the last of them, if the knock was sent twice */
		w->t_knock = t;
		w->have_knock = 1;
	} else if (dst == w->src && !w->have_synack &&
	    (th[0] << 8 | th[1]) == svc_port &&
	    (th[13] & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) &&
	    (th[2] << 8 | th[3]) == w->probe_sport) {
		w->t_synack = t;
		w->have_synack = 1;
		w->synack_ack = (uint32_t)th[8] << 24 | th[9] << 16 |
		    th[10] << 8 | th[11];
	}
}

static pcap_t *
open_capture(void)
{
	char			 eb[PCAP_ERRBUF_SIZE];
	struct bpf_program	 prog;
	pcap_t			*p;
	char			 flt[256];

	/* knock SYNs from the knockers' range, SYN-ACKs of the service */
	(void)snprintf(flt, sizeof(flt), "tcp and ((src net 198.19.0.0/16 "
	    "and tcp[13] & 0x12 = 0x02 and not dst port %u) or "
	    "(src port %u and dst net 198.19.0.0/16 and "
	    "tcp[13] & 0x12 = 0x12))", svc_port, svc_port);

	if ((p = pcap_create(SRV_IF, eb)) == NULL)
		errx(1, "%s: %s", SRV_IF, eb);
	if (pcap_set_snaplen(p, 96) != 0 || pcap_set_immediate_mode(p, 1) ||
	    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) != 0 ||
	    pcap_set_buffer_size(p, 4 << 20) != 0)
		errx(1, "%s: capture options", SRV_IF);
	if (pcap_activate(p) < 0)
		errx(1, "%s: %s", SRV_IF, pcap_geterr(p));
	if (pcap_compile(p, &prog, flt, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
	    pcap_setfilter(p, &prog) != 0)
		errx(1, "filter: %s", pcap_geterr(p));
	pcap_freecode(&prog);
	if (pcap_setnonblock(p, 1, eb) != 0)
		errx(1, "%s", eb);
	return p;
}

/* the next probe after elapsed ns: dense at first, then sparser */
static uint64_t
probe_gap(uint64_t elapsed)
{
	if (elapsed < 5000000ULL)
		return 20000;		/* 20 us for 5 ms */
	if (elapsed < 100000000ULL)
		return 200000;		/* 0.2 ms up to 100 ms */
	return 2000000;			/* then 2 ms */
}

static void
knock_one(pcap_t *p, int pfd, uint32_t src, const uint16_t *ports, int n,
    uint64_t timeout_ns)
{
	uint8_t		 f[FRAME_LEN];
	struct seen	 w;
	struct pollfd	 pf;
	struct timespec	 ts;
	uint32_t	 dst, seq;
	uint64_t	 t0, now, next, gap;
	long		 probes = 0;
	int		 i;

	inet_pton(AF_INET, SRV_ADDR, &dst);
	/* forget what the capture holds from before */
	while (pcap_dispatch(p, -1, on_pkt, (u_char *)&(struct seen){0}) > 0)
		;
	memset(&w, 0, sizeof(w));
	w.src = src;
	w.last = ports[n - 1];
	w.probe_sport = 1024 + rnd() % 60000;
	for (i = 0; i < n; i++) {
		frame(f, src, dst, 1024 + rnd() % 60000, ports[i],
		    (uint32_t)rnd(), 0, TH_SYN);
		send1(f);
	}
	seq = (uint32_t)rnd();
	frame(f, src, dst, w.probe_sport, svc_port, seq, 0, TH_SYN);
	t0 = now = mono_ns();
	next = now;
	pf.fd = pfd;
	pf.events = POLLIN;
	while (!w.have_synack && now - t0 < timeout_ns && !stop) {
		if (now >= next) {
			send1(f);
			probes++;
			next = now + probe_gap(now - t0);
		}
		gap = next > now ? next - now : 0;
		ts.tv_sec = gap / 1000000000ULL;
		ts.tv_nsec = gap % 1000000000ULL;
		if (ppoll(&pf, 1, &ts, NULL) > 0)
			pcap_dispatch(p, -1, on_pkt, (u_char *)&w);
		now = mono_ns();
	}
	/* the knock SYN may still sit in the ring behind the SYN-ACK */
	pcap_dispatch(p, -1, on_pkt, (u_char *)&w);
	if (!w.have_synack) {
		printf("timeout %ld\n", probes);
	} else if (!w.have_knock || w.t_synack < w.t_knock) {
		printf("nostamp %ld\n", probes);
	} else {
		printf("ok %llu %ld\n",
		    (unsigned long long)(w.t_synack - w.t_knock), probes);
		/* leave no half-open connection on the server */
		frame(f, src, dst, w.probe_sport, svc_port, w.synack_ack, 0,
		    TH_RST);
		send1(f);
	}
	fflush(stdout);
}

static int
probe(const char *srvns)
{
	char		 line[1024], *tok, *ep;
	uint16_t	 ports[KNOCKS_MAX];
	uint32_t	 src;
	pcap_t		*p;
	long		 v;
	int		 self, srv, n, pfd;

	/* ns steps for timers: the probe gaps are tens of microseconds */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if ((self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "/proc/self/ns/net");
	srv = open_ns(srvns);
	enter_ns(srv, srvns);
	p = open_capture();
	get_mac(SRV_IF, srv_mac);
	enter_ns(self, "back");
	open_tx();
	if ((pfd = pcap_get_selectable_fd(p)) == -1)
		errx(1, "no selectable capture descriptor");
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL && !stop) {
		if ((tok = strtok(line, " \t\n")) == NULL)
			continue;
		if (inet_pton(AF_INET, tok, &src) != 1)
			errx(1, "bad source %s", tok);
		n = 0;
		v = 0;
		while ((tok = strtok(NULL, " \t\n")) != NULL) {
			v = strtol(tok, &ep, 10);
			if (*ep != '\0' || v < 1 || v > 65535 ||
			    n == KNOCKS_MAX)
				errx(1, "bad port or timeout %s", tok);
			ports[n++] = v;
		}
		/* the last number is the timeout, in ms */
		if (n < 2)
			errx(1, "a line needs ports and a timeout");
		n--;
		knock_one(p, pfd, src, ports, n, (uint64_t)v * 1000000ULL);
	}
	pcap_close(p);
	return 0;
}

/* ---------------------------------------------------------------- flood */

static int
flood(const char *srvns, const char *mode, long maxpkts, double maxsecs,
    const uint16_t *ports, int nports)
{
	static uint8_t	 fr[BATCH][FRAME_LEN];
	struct mmsghdr	 mm[BATCH];
	struct iovec	 iov[BATCH];
	uint32_t	 src, dst, cli;
	uint16_t	 dport;
	uint64_t	 t0, now, limit;
	long		 sent = 0;
	int		 self, srv, i, k, spoof, r;

	spoof = strcmp(mode, "spoof") == 0;
	if (!spoof && strcmp(mode, "ports") != 0)
		errx(1, "flood mode: ports or spoof");
	if (spoof && nports == 0)
		errx(1, "spoof needs target ports");
	if ((self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "/proc/self/ns/net");
	srv = open_ns(srvns);
	enter_ns(srv, srvns);
	get_mac(SRV_IF, srv_mac);
	enter_ns(self, "back");
	open_tx();
	rs ^= mono_ns();
	inet_pton(AF_INET, SRV_ADDR, &dst);
	inet_pton(AF_INET, CLI_ADDR, &cli);
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = fr[i];
		iov[i].iov_len = FRAME_LEN;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	printf("ready\n");
	fflush(stdout);
	t0 = now = mono_ns();
	limit = (uint64_t)(maxsecs * 1e9);
	while (sent < maxpkts && now - t0 < limit && !stop) {
		k = maxpkts - sent < BATCH ? (int)(maxpkts - sent) : BATCH;
		for (i = 0; i < k; i++) {
			uint64_t x = rnd();

			if (spoof) {
				/* 198.18.1.1 - 198.18.255.254 */
				src = htonl(0xc6120000U |
				    (1 + (x >> 8) % 255) << 8 |
				    (1 + (x >> 24) % 254));
				dport = ports[(x >> 40) % nports];
			} else {
				src = cli;
				do {
					dport = 1 + (x >> 40) % 65535;
					x = rnd();
				} while (dport == SVC_PORT ||
				    dport == SVC2_PORT);
			}
			frame(fr[i], src, dst, 1024 + x % 60000, dport,
			    (uint32_t)(x >> 16), 0, TH_SYN);
		}
		if ((r = sendmmsg(txfd, mm, k, 0)) == -1) {
			if (errno == ENOBUFS || errno == EAGAIN ||
			    errno == EINTR)
				continue;
			err(1, "sendmmsg");
		}
		sent += r;
		now = mono_ns();
	}
	printf("sent %ld %.6f\n", sent, (mono_ns() - t0) / 1e9);
	fflush(stdout);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: benchnet probe SRVNS [SVCPORT]\n"
	    "       benchnet flood SRVNS ports|spoof MAXPKTS MAXSECS "
	    "[PORT...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	uint16_t		 ports[KNOCKS_MAX];
	long			 v, maxpkts;
	double			 secs;
	char			*ep;
	int			 i, n = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "probe") == 0) {
		if (argc == 4) {
			v = strtol(argv[3], &ep, 10);
			if (*ep != '\0' || v < 1 || v > 65535)
				errx(1, "bad service port %s", argv[3]);
			svc_port = v;
		}
		return probe(argv[2]);
	}
	if (argc < 6 || strcmp(argv[1], "flood") != 0)
		usage();
	maxpkts = strtol(argv[4], &ep, 10);
	if (*ep != '\0' || maxpkts < 1 || maxpkts > 1000000000L)
		errx(1, "bad packet count %s", argv[4]);
	secs = strtod(argv[5], &ep);
	/* the network rule: every flood bounded, here to 10 minutes */
	if (*ep != '\0' || !(secs > 0 && secs <= 600))
		errx(1, "bad duration %s", argv[5]);
	for (i = 6; i < argc; i++) {
		v = strtol(argv[i], &ep, 10);
		if (*ep != '\0' || v < 1 || v > 65535 || n == KNOCKS_MAX)
			errx(1, "bad port %s", argv[i]);
		ports[n++] = v;
	}
	return flood(argv[2], argv[3], maxpkts, secs, ports, n);
}

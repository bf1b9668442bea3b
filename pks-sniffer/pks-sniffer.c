/*
 * pks-sniffer: watch for knocks, report completed sequences.
 *
 * Started by pks-monitor.  Opens libpcap on each configured interface
 * while still root, with a filter that lets nothing in, then drops to
 * the unprivileged user in a chroot under seccomp.  From then on it
 * only listens: to the monitor, which sends the live sequences, and to
 * the captured packets, which are hostile.  The kernel filters follow
 * the live set (attaching one needs no privilege), so what reaches
 * user space is already about the knock range.
 *
 * Each interface has three captures (filter.c says why): the wake one,
 * for the last ports of live sequences, wakes the loop; the read one,
 * for every knock port and the guards, and the range one, for the whole
 * knock range (wrong hits: a random-port flood lands there, and can
 * fill it without costing a knock), are only read, never waited on: in
 * full whenever the wake one is read, and on a timer that keeps their
 * rings from filling.  The frames of all three are judged together in
 * the order they were captured (drain()), each packet once whichever
 * captures caught it (the kernel stamps it once), so whatever came
 * before a last knock is judged before it, a knock whose ports are split
 * between captures is seen in its order, and a filter change never
 * loses a frame.  Each frame is judged at the time it was captured.
 * Where the range is judged in the kernel (range.c), its program passes
 * the knock ports and guards too: there is no read capture, and the
 * range one has both rings, so that each packet is read once.
 * Every knock the matcher refuses is said at -v (on_refusal()).
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ebpf.h"
#include "imsg.h"
#include "log.h"
#include "pks.h"
#include "proc.h"
#include "sniffer.h"

#define SNIFF_BATCH	256	/* wake frames per pcap_dispatch() */
#define WAKE_BATCHES	4	/* of them per pass, at most: more than
				 * the wake ring holds (768) */
#define READ_BATCH	16384	/* read frames per pcap_dispatch(): more
				 * than a 4 MB ring holds (12,288 frames
				 * of SNIFF_SNAPLEN); two for a range
				 * capture that reads alone (8 MB) */
#define TICK_MS		1000	/* source expiry */
/*
 * Capture buffers, bytes; the kernel maps them whole, so each counts in
 * the resident size from the start.  A frame of SNIFF_SNAPLEN takes 336
 * bytes (12 to a page).  The read and range rings hold what comes between
 * two reads, floods included: the spoofed flood of make bench (300,000
 * packets a second at live ports, every one passed) fills 8 MB in 80 ms,
 * and 2 MB lost a third of the knocks.  The wake ring only wakes: every
 * frame in it is also in the read or range ring (the last ports are in
 * every filter), so a frame it loses is judged all the same, at the pass
 * the full ring keeps waking.
 */
#define RING_WAKE	(256 * 1024)
#define RING_READ	(4 * 1024 * 1024)
#define RING_RANGE	(4 * 1024 * 1024)	/* the whole knock range */
#define READ_MIN_MS	5	/* timed reads of the read capture: how */
#define READ_MAX_MS	TICK_MS	/* long without a read, at most */
#define READ_TARGET	256	/* frames waiting at a timed read (a 4 MB
				 * ring holds 12,288) */
#define LOST_LOG_MS	60000	/* packets lost: said at most this often */
#define WRONG_LOG_MS	60000	/* wrong hits: the same */

struct iface {
	char		 name[sizeof(((struct pks_iface *)0)->name)];
	pcap_t		*p;		/* last ports, polled */
	pcap_t		*g;		/* every knock port and guards, read */
	pcap_t		*r;		/* the knock range, read */
	int		 fd;
	int		 dlt;
	int		 wake_ebpf;	/* p's filter: range.c's wake program */
	int		 failed;	/* closed at the end of the pass */
	int64_t		 last[3];	/* the stamp last read, per capture */
};

static struct iface		 ifaces[PKS_IFACES_MAX];
static int			 nifaces;
static struct pks_sniff_conf	 sconf;
static int			 have_conf;
static int			 ebpf_map = -1, ebpf_prog = -1;	/* range.c */
static int			 ebpf_wake = -1;
static struct match		*matcher;
static uint64_t			 mono_ms;	/* when the batch was read */
static uint64_t			 mono_ns;	/* the same, in ns */
static int64_t			 read_ns;	/* the same, by the wall clock */
static struct stamp_clock	 sclock;	/* stamps to monotonic time */
static unsigned int		 steps_said;
static int			 reading;	/* the capture dispatch() reads */
static int			 unordered;	/* a ring's stamps went back */
static unsigned long long	 unordered_n;	/* passes, for the log */
static uint64_t			 unordered_next;	/* ms */
#ifdef PKS_TESTHOOKS
/* SIGRTMAX with a value v (sigqueue): the wall clock, as the kernel's
 * stamps and this sniffer's readings have it, went back TEST_STEP_NS at
 * the last time before now whose wall-clock ms are v modulo 2^31 */
#define TEST_STEP_NS	1000000000LL
static volatile sig_atomic_t	 test_step_ms = -1;
static int64_t			 test_step_at;	/* wall ns; 0: none */
/* PKS_TEST_ARM_DELAY_MS=N (1..60000): the monitor's messages are left
 * unread N ms after they arrive, as by a sniffer too busy to read them:
 * a new live set reaches the matcher and the kernel filters only then */
static int			 test_arm_delay;	/* ms; 0: none */
static uint64_t			 test_hold_until;	/* ms; 0: none */
#endif
/* IMSG_SEQ_COMMITs received since start, and the count last confirmed to
 * the monitor (IMSG_SEQ_ARMED) */
static uint32_t			 commits_in, commits_armed;
/* frames judged lately, by capture time: the same packet caught by two
 * captures is judged once (the kernel stamps a packet once) */
#define SEEN_SLOTS	4096
static struct {
	int64_t		 ns;
	struct pkt	 pkt;
}				 seen[SEEN_SLOTS];
static uint64_t			 read_due;	/* next timed read, ms */
static uint64_t			 read_last;	/* the last read, ms */
static unsigned long long	 lost_wake, lost_read, lost_range;
static uint64_t			 lost_range_next;
static unsigned long long	 lost_resets;	/* knocks reset for them */
static uint64_t			 lost_next;	/* next report, ms */
static unsigned long long	 wrong_hits, wrong_kernel, wrong_limited;
static uint64_t			 wrong_since, wrong_next;	/* ms */
/* the counters since start, for pksctl status; sent once a second when
 * they changed, and once after start */
static struct pks_sniff_stats	 stats, stats_sent;
static int			 stats_said;
#ifdef PKS_TESTHOOKS
static volatile sig_atomic_t	 stats_forge;	/* SIGUSR1: a short one */
#endif

/* frames of one pass over both captures, judged in capture order */
struct frame {
	int64_t		 ns;		/* captured, by the wall clock */
	struct pkt	 pkt;
	uint8_t		 ifc;
};
static struct frame		*frames, *frames_tmp;
static size_t			 nframes, frames_cap;
static int64_t			 wake_newest;	/* of this pass, ns */

/* refusals said at -v, at most REFUSE_LOG_MAX a second */
#define REFUSE_LOG_MAX	50
static uint64_t			 refuse_sec;
static unsigned int		 refuse_logged;
static unsigned long long	 refuse_unsaid;

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* IMSG_SNIFF_CONF and IMSG_SNIFF_IFACE, before the drop */
static int
sniff_conf(struct imsg *im)
{
	struct pks_iface	 pi;
	uint8_t			 key[16];
	int			 i;

	switch (im->hdr.type) {
	case IMSG_SNIFF_EBPF_MAP:
	case IMSG_SNIFF_EBPF_PROG:
	case IMSG_SNIFF_EBPF_WAKE: {
		int	*fdp = im->hdr.type == IMSG_SNIFF_EBPF_MAP ? &ebpf_map :
			    im->hdr.type == IMSG_SNIFF_EBPF_PROG ? &ebpf_prog :
			    &ebpf_wake;

		if (im->fd == -1 || im->len != 0 || *fdp != -1) {
			log_warnx("range filter message: no descriptor, a "
			    "payload, or repeated");
			return (-1);
		}
		*fdp = im->fd;
		im->fd = -1;
		return (0);
	}
	}
	if (im->fd != -1) {
		log_warnx("configuration message with a descriptor");
		return (-1);
	}
	switch (im->hdr.type) {
	case IMSG_SNIFF_CONF:
		if (im->len != sizeof(sconf) || have_conf) {
			log_warnx("IMSG_SNIFF_CONF: bad length or repeated");
			return (-1);
		}
		memcpy(&sconf, im->data, sizeof(sconf));
		if (getrandom(key, sizeof(key), 0) != sizeof(key))
			fatal("getrandom");
		/* the one big allocation: every packet uses this table */
		if ((matcher = match_new(sconf.max_sources,
		    sconf.knock_timeout, key)) == NULL) {
			if (errno != EINVAL)
				fatal("source table");
			log_warnx("IMSG_SNIFF_CONF: max-sources %u (1..%u) or "
			    "knock-timeout %u (1..%u) out of range",
			    sconf.max_sources, SNIFF_SOURCES_MAX,
			    sconf.knock_timeout, SNIFF_TIMEOUT_MAX);
			return (-1);
		}
		explicit_bzero(key, sizeof(key));
		if (sconf.knock_lo == 0 || sconf.knock_lo > sconf.knock_hi) {
			log_warnx("IMSG_SNIFF_CONF: knock-ports %u-%u",
			    sconf.knock_lo, sconf.knock_hi);
			return (-1);
		}
		/* the map's buckets, if the monitor has one (0: none) */
		if (sconf.ebpf_buckets != 0 &&
		    !ebpf_buckets_ok(sconf.ebpf_buckets)) {
			log_warnx("IMSG_SNIFF_CONF: %u eBPF buckets",
			    sconf.ebpf_buckets);
			return (-1);
		}
		match_set_range(matcher, sconf.knock_lo, sconf.knock_hi);
		filter_set_range(sconf.knock_lo, sconf.knock_hi);
		have_conf = 1;
		return (0);
	case IMSG_SNIFF_IFACE:
		if (im->len != sizeof(pi)) {
			log_warnx("IMSG_SNIFF_IFACE: bad length");
			return (-1);
		}
		memcpy(&pi, im->data, sizeof(pi));
		if (pi.name[0] == '\0' ||
		    memchr(pi.name, '\0', sizeof(pi.name)) == NULL) {
			log_warnx("IMSG_SNIFF_IFACE: bad interface name");
			return (-1);
		}
		if (nifaces == PKS_IFACES_MAX) {
			log_warnx("IMSG_SNIFF_IFACE: more than %d interfaces",
			    PKS_IFACES_MAX);
			return (-1);
		}
		for (i = 0; i < nifaces; i++)
			if (strcmp(ifaces[i].name, pi.name) == 0) {
				log_warnx("IMSG_SNIFF_IFACE: %s twice",
				    pi.name);
				return (-1);
			}
		memcpy(ifaces[nifaces].name, pi.name, sizeof(pi.name));
		ifaces[nifaces].p = ifaces[nifaces].g = ifaces[nifaces].r =
		    NULL;
		ifaces[nifaces].failed = 0;
		ifaces[nifaces].wake_ebpf = 0;
		ifaces[nifaces].fd = -1;
		nifaces++;
		return (0);
	}
	return (-1);
}

/* privileged: one capture on an interface, letting nothing in yet */
static pcap_t *
capture_open(struct iface *ifc, int bufsize)
{
	char	 errbuf[PCAP_ERRBUF_SIZE];
	pcap_t	*p;
	int	 rv;

	if ((p = pcap_create(ifc->name, errbuf)) == NULL)
		fatalx("%s: %s", ifc->name, errbuf);
	/* immediate: each frame is readable as soon as it is captured */
	if (pcap_set_snaplen(p, SNIFF_SNAPLEN) != 0 ||
	    pcap_set_promisc(p, 0) != 0 ||
	    pcap_set_immediate_mode(p, 1) != 0 ||
	    pcap_set_buffer_size(p, bufsize) != 0 ||
	    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) != 0)
		fatalx("%s: cannot set capture options", ifc->name);
	rv = pcap_activate(p);
	if (rv < 0)
		fatalx("%s: %s: %s", ifc->name, pcap_statustostr(rv),
		    pcap_geterr(p));
	if (rv > 0)
		log_warnx("%s: %s: %s", ifc->name, pcap_statustostr(rv),
		    pcap_geterr(p));
	ifc->dlt = pcap_datalink(p);
	if (!parse_dlt_ok(ifc->dlt))
		fatalx("%s: link type %s not supported", ifc->name,
		    pcap_datalink_val_to_name(ifc->dlt));
	/* knocks come in; what this host sends is no knock */
	if (pcap_setdirection(p, PCAP_D_IN) != 0)
		fatalx("%s: %s", ifc->name, pcap_geterr(p));
	/* nothing comes in before the first live set */
	if (filter_none(p) != 0)
		fatal("%s: attach filter", ifc->name);
	if (pcap_setnonblock(p, 1, errbuf) != 0)
		fatalx("%s: %s", ifc->name, errbuf);
	return (p);
}

/* privileged: everything that needs root about an interface */
static void
iface_open(struct iface *ifc)
{
	int	 dlt;

	struct bpf_program	 prog;

	/*
	 * The range judged in the kernel: its program passes the live
	 * ports and guards too (range.c keeps them), so that one capture,
	 * with the read one's ring as well, is all the read side; each
	 * packet is read once.
	 */
	ifc->g = NULL;
	if (range_active()) {
		ifc->r = capture_open(ifc, RING_READ + RING_RANGE);
		if (range_attach(pcap_fileno(ifc->r), 0) == 0)
			log_debug("%s: range filter: eBPF", ifc->name);
		else {
			log_warn("%s: range filter: eBPF refused; the whole "
			    "knock range is read here", ifc->name);
			pcap_close(ifc->r);
			ifc->r = NULL;
		}
	}
	if (ifc->r == NULL) {
		ifc->g = capture_open(ifc, RING_READ);
		dlt = ifc->dlt;
		ifc->r = capture_open(ifc, RING_RANGE);
		if (ifc->dlt != dlt)
			fatalx("%s: link type changed while opening",
			    ifc->name);
		if (filter_compile(NULL, 0, 0, FILTER_RANGE, &prog) == -1 ||
		    filter_attach(pcap_fileno(ifc->r), &prog) == -1)
			fatal("%s: range filter", ifc->name);
		pcap_freecode(&prog);
	}
	dlt = ifc->dlt;
	ifc->p = capture_open(ifc, RING_WAKE);
	if (ifc->dlt != dlt)
		fatalx("%s: link type changed while opening", ifc->name);
	if ((ifc->fd = pcap_get_selectable_fd(ifc->p)) == -1)
		fatalx("%s: no selectable descriptor", ifc->name);
	/* the range program reads here: the last ports wake the sniffer
	 * unless their prefix is over the rate (range.c) */
	if (ifc->g == NULL) {
		if (range_attach(ifc->fd, 1) == 0) {
			ifc->wake_ebpf = 1;
			log_debug("%s: wake filter: eBPF", ifc->name);
		} else
			log_warn("%s: wake filter: eBPF refused; classic",
			    ifc->name);
	}
	log_debug("%s: capturing, link type %s", ifc->name,
	    pcap_datalink_val_to_name(ifc->dlt));
}

static void
iface_close(int i)
{
	size_t	 k;

	/* frames carried to the next pass keep naming their interface */
	for (k = 0; k < nframes; k++)
		if (frames[k].ifc > i)
			frames[k].ifc--;
	pcap_close(ifaces[i].p);
	if (ifaces[i].g != NULL)
		pcap_close(ifaces[i].g);
	pcap_close(ifaces[i].r);
	memmove(&ifaces[i], &ifaces[i + 1],
	    (nifaces - i - 1) * sizeof(ifaces[0]));
	if (--nifaces == 0)
		fatalx("no interface left to capture on");
}

static int	 refilter_due;

static int	 drain(void);

/*
 * The live set changed: new kernel filters on every interface.  The wake
 * filter goes first, then what the read capture holds is judged by the
 * old split, then the read filter and the new split: a port that becomes
 * a last port is in both filters meanwhile (the read one admits every
 * knock port), one that stops being one is still in the read filter.
 */
static void
refilter(void)
{
	struct bpf_program	 wake, rd;
	uint16_t		*ports;
	size_t			 n, nlast;
	int			 k, cwake = 0, cread = 0;

	refilter_due = 0;
	n = match_ports(matcher, &ports, &nlast);
	if (ports == NULL && match_nseqs(matcher) > 0)
		fatal("live ports");
	/* classic programs only for the interfaces that use them */
	for (k = 0; k < nifaces; k++) {
		cwake |= !ifaces[k].wake_ebpf;
		cread |= ifaces[k].g != NULL;
	}
	memset(&wake, 0, sizeof(wake));
	memset(&rd, 0, sizeof(rd));
	/* a port the read filter admits is live in the kernel first */
	range_ports(ports, n, 0);
	/* one program for every link type: offsets from the IP header */
	if ((cwake &&
	    filter_compile(ports, n, nlast, FILTER_WAKE, &wake) == -1) ||
	    (cread && filter_compile(ports, n, nlast, FILTER_READ, &rd) == -1))
		fatal("filter");
	/* the wake program's last ports: live ones already (above) */
	range_last(ports, nlast);
	for (k = 0; k < nifaces; k++)
		if (!ifaces[k].wake_ebpf &&
		    filter_attach(ifaces[k].fd, &wake) == -1)
			fatal("%s: attach filter", ifaces[k].name);
	(void)drain();
	for (k = 0; k < nifaces; k++)
		if (ifaces[k].g != NULL &&
		    filter_attach(pcap_fileno(ifaces[k].g), &rd) == -1)
			fatal("%s: attach filter", ifaces[k].name);
	range_ports(ports, n, 1);
	log_debug("filters for %zu knock ports, %u + %u instructions", n,
	    wake.bf_len, rd.bf_len);
	pcap_freecode(&wake);
	pcap_freecode(&rd);
	free(ports);
	/* the matcher and every filter hold the live set the monitor's
	 * commits made: its sequences can be knocked, it may hand them out */
	if (commits_armed != commits_in) {
		commits_armed = commits_in;
		proc_compose(IMSG_SEQ_ARMED, -1, &commits_armed,
		    sizeof(commits_armed));
	}
}

/* from the monitor; it is trusted, so anything odd is a bug: stop */
static int
dispatch_imsg(struct imsg *im)
{
	struct pks_seq	 s;
	const char	*why;
	uint32_t	 id;

	if (im->fd != -1)
		fatalx("message type %u with a descriptor", im->hdr.type);
	switch (im->hdr.type) {
	case IMSG_SEQ_ADD:
		if (im->len != sizeof(s))
			fatalx("IMSG_SEQ_ADD: bad length %zu", im->len);
		memcpy(&s, im->data, sizeof(s));
		if ((why = match_seq_check(&s)) != NULL)
			fatalx("IMSG_SEQ_ADD: %s", why);
		if (match_seq_add(matcher, &s) == -1) {
			if (errno == EEXIST)
				fatalx("IMSG_SEQ_ADD: sequence %u already "
				    "live", s.id);
			if (errno == ENOSPC)
				fatalx("IMSG_SEQ_ADD: more than %u live "
				    "sequences", SNIFF_SEQS_MAX);
			fatal("IMSG_SEQ_ADD");
		}
		break;
	case IMSG_SEQ_DEL:
		if (im->len != sizeof(id))
			fatalx("IMSG_SEQ_DEL: bad length %zu", im->len);
		memcpy(&id, im->data, sizeof(id));
		if (id == 0)
			fatalx("IMSG_SEQ_DEL: sequence id 0");
		/* nothing to undo: a stale id changes nothing */
		if (match_seq_del(matcher, id) == -1)
			log_warnx("IMSG_SEQ_DEL: no live sequence %u", id);
		break;
	case IMSG_SEQ_COMMIT:
		if (im->len != 0)
			fatalx("IMSG_SEQ_COMMIT: bad length %zu", im->len);
		/* once per loop pass, after the packets waiting are read;
		 * confirmed then (refilter()) */
		commits_in++;
		refilter_due = 1;
		break;
	default:
		fatalx("unexpected message type %u from monitor",
		    im->hdr.type);
	}
	return (0);
}

static const char *
src_str(const struct pkt *pkt, char *buf, size_t len)
{
	if (inet_ntop(pkt->af, pkt->src, buf, len) == NULL)
		(void)snprintf(buf, len, "?");
	return (buf);
}

/* match.c says why a knock failed: at -v, a line each, a few a second */
static void
on_refusal(const struct pkt *pkt, enum match_refusal why, uint32_t seq,
    unsigned int step)
{
	static const char *const what[] = {
		[REFUSE_RESET] = "reset: it advanced none of this source's "
		    "knocks",
		[REFUSE_TIMEOUT] = "dropped: knock-timeout passed",
		[REFUSE_EVICTED] = "dropped for newer knocks from this source",
		[REFUSE_COOLING] = "not started: its prefix is over the "
		    "wrong-hit rate",
		[REFUSE_BOUND] = "not started: bound to another address",
		[REFUSE_DROPPED] = "reset: the kernel saw a wrong hit of "
		    "its prefix into knock-ports since its last knock "
		    "(dropped there, or passed while a full ring lost frames)"
	};
	char	 addr[INET6_ADDRSTRLEN];
	int	 i, classic = 0;

	/* the classic filter: a range ring lost frames since its last
	 * step, any of them could have been a wrong hit of this source */
	for (i = 0; why == REFUSE_DROPPED && i < nifaces; i++)
		if (ifaces[i].g != NULL)
			classic = 1;
	if (classic)
		lost_resets++;
	if (log_getverbose() < 1)
		return;
	if (mono_ms / 1000 != refuse_sec) {
		if (refuse_unsaid > 0)
			log_debug("%llu more refused knocks not logged",
			    refuse_unsaid);
		refuse_sec = mono_ms / 1000;
		refuse_logged = 0;
		refuse_unsaid = 0;
	}
	if (refuse_logged++ >= REFUSE_LOG_MAX) {
		refuse_unsaid++;
		return;
	}
	log_debug("sequence %u from %s, %u of its ports knocked, then port "
	    "%u: %s", seq, src_str(pkt, addr, sizeof(addr)), step, pkt->dport,
	    !classic ? what[why] : range_active() ? "reset: a range "
	    "capture, full, lost packets since its last knock, or the kernel "
	    "saw a wrong hit of its prefix" : "reset: the range capture, "
	    "full, lost packets since its last knock");
}

/* a frame in capture order: feed it to the matcher, report what it
 * completes */
static void
judge(const struct frame *f)
{
	struct pks_knock	 k;
	char			 addr[INET6_ADDRSTRLEN];
	uint64_t		 kns;

	/* when the kernel had it (range_dropped()); 0: not known, and
	 * judged at the time of the read */
	kns = stamp_mono(&sclock, f->ns);
	if (match_packet_at(matcher, &f->pkt, kns != 0 ? kns / 1000000 :
	    mono_ms, kns, &k) == 0)
		return;
	proc_compose(IMSG_KNOCK_DONE, -1, &k, sizeof(k));
	log_info("sequence %u knocked from %s on %s", k.seq_id,
	    src_str(&f->pkt, addr, sizeof(addr)),
	    f->ifc < nifaces ? ifaces[f->ifc].name : "?");
}

static void
collect(const struct iface *ifc, const struct pcap_pkthdr *h,
    const struct pkt *pkt)
{
	struct frame	*f;

	if (nframes == frames_cap)
		return;		/* cannot be: room for two passes */
	f = &frames[nframes++];
	/* nanoseconds: PCAP_TSTAMP_PRECISION_NANO */
	f->ns = (int64_t)h->ts.tv_sec * 1000000000 + h->ts.tv_usec;
#ifdef PKS_TESTHOOKS
	if (test_step_at != 0 && f->ns >= test_step_at)
		f->ns -= TEST_STEP_NS;
#endif
	/* a ring holds frames in the order they came: a stamp that went
	 * back is a backward step of the wall clock, and sorting by stamp
	 * will put what came after it before what came before */
	if (f->ns < ifaces[ifc - ifaces].last[reading] - STAMP_UNORDER_NS)
		unordered = 1;
	ifaces[ifc - ifaces].last[reading] = f->ns;
	f->pkt = *pkt;
	f->ifc = ifc - ifaces;
}

/* a frame of any capture: the wake one (last ports), the read one
 * (knock ports and guards), the range one (the knock range) */
static void
on_frame(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
	const struct iface	*ifc = (const struct iface *)arg;
	struct pkt		 pkt;

	memset(&pkt, 0, sizeof(pkt));	/* compared whole: seen_before() */
	if (parse_frame(ifc->dlt, bytes, h->caplen, &pkt) == 0)
		collect(ifc, h, &pkt);
}

/* the wake capture's: the newest of them bounds what is judged */
static void
on_wake(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
	size_t	 n = nframes;

	on_frame(arg, h, bytes);
	if (nframes > n && frames[n].ns > wake_newest)
		wake_newest = frames[n].ns;
}

/* 1 if this packet was judged already, from another capture */
static int
seen_before(const struct frame *f)
{
	size_t	 i;

	i = ((uint64_t)f->ns * 0x9e3779b97f4a7c15ULL >> 52) % SEEN_SLOTS;
	if (seen[i].ns == f->ns &&
	    memcmp(&seen[i].pkt, &f->pkt, sizeof(f->pkt)) == 0)
		return (1);
	seen[i].ns = f->ns;
	seen[i].pkt = f->pkt;
	return (0);
}

static void
batch_clock(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	mono_ns = (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	mono_ms = mono_ns / 1000000;
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		fatal("clock_gettime");
	read_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#ifdef PKS_TESTHOOKS
	if (test_step_ms >= 0) {
		int64_t	 ms = read_ns / 1000000;

		ms -= (ms - test_step_ms) & 0x7fffffff;
		test_step_at = ms * 1000000;
		test_step_ms = -1;
	}
	if (test_step_at != 0 && read_ns >= test_step_at)
		read_ns -= TEST_STEP_NS;
#endif
	stamp_read(&sclock, mono_ns, read_ns);
	if (sclock.steps != steps_said) {
		steps_said = sclock.steps;
		log_debug("the wall clock went back %lld us: frames stamped "
		    "before are judged as if older, for %llu s",
		    (long long)(sclock.back / 1000),
		    STAMP_HOLD_NS / 1000000000ULL);
	}
}

/*
 * Frames read from interface i, or -1 if it failed: it is closed at the
 * end of the loop pass (a callback of its other capture may be running).
 */
static int
dispatch(int i, int which)
{
	static pcap_handler const cb[] = { on_wake, on_frame, on_frame };
	pcap_t	*h;
	int	 n;

	if (ifaces[i].failed)
		return (-1);
	h = which == FILTER_WAKE ? ifaces[i].p : which == FILTER_READ ?
	    ifaces[i].g : ifaces[i].r;
	if (h == NULL)
		return (0);	/* no read capture: the range one reads */
	reading = which;
	n = pcap_dispatch(h, which == FILTER_WAKE ? SNIFF_BATCH : READ_BATCH,
	    cb[which], (u_char *)&ifaces[i]);
	if (n == PCAP_ERROR) {
		log_warnx("%s: %s; no longer capturing there", ifaces[i].name,
		    pcap_geterr(h));
		ifaces[i].failed = 1;
		return (-1);
	}
	return (n);
}

/* stable merge sort of frames by capture time (no qsort(3): see
 * filter.c); the runs are short and mostly in order.  tmp holds the
 * first half only (n / 2): merged back in place, the next frame written
 * never passes the next one of the second half still to read */
static void
frames_sort(struct frame *a, struct frame *tmp, size_t n)
{
	size_t	 m = n / 2, i = 0, j = m, k = 0;

	if (n < 2)
		return;
	frames_sort(a, tmp, m);
	frames_sort(a + m, tmp, n - m);
	if (a[m - 1].ns <= a[m].ns)
		return;
	memcpy(tmp, a, m * sizeof(*a));
	while (i < m && j < n)
		a[k++] = a[j].ns < tmp[i].ns ? a[j++] : tmp[i++];
	while (i < m)
		a[k++] = tmp[i++];
}

/* frames the kernel dropped, its ring full, since the last call */
static unsigned int
ring_drops(int fd)
{
	struct tpacket_stats	 st;
	socklen_t		 len = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == -1)
		return (0);
	return (st.tp_drops);
}

/*
 * The range rings' losses, before a pass is judged: a wrong hit the
 * kernel passed may be among them, so range_dropped() then counts the
 * passed ones it recorded (counted for lost_report() too).  With the
 * classic filter, any wrong hit may be among them: range_dropped() then
 * counts the loss against every knock in progress.
 */
static void
range_losses(void)
{
	struct timespec	 ts;
	unsigned int	 n;
	int		 i, lost = 0, classic = 0;

	for (i = 0; i < nifaces; i++) {
		if (ifaces[i].failed)
			continue;
		if ((n = ring_drops(pcap_fileno(ifaces[i].r))) > 0) {
			/* alone, it is the read capture too: knocks */
			if (ifaces[i].g == NULL)
				lost_read += n;
			else {
				lost_range += n;
				classic = 1;
			}
			stats.lost += n;
			lost = 1;
		}
	}
	if (!lost)
		return;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	range_lost((uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, classic);
}

/*
 * One pass over every capture, its frames judged in the order they were
 * captured, whichever capture holds them: a knock's ports are split
 * between the two, and judged out of order they would refuse it (issue
 * 14's silent losses).  The wake captures are read first, then the read
 * ones, so every read frame older than a wake frame read is there (one
 * source's packets reach both in order).  A read frame newer than the
 * clock before the pass and than every wake frame read waits for the
 * next pass: a wake frame older than it may still be coming.  Returns
 * the number of read frames.
 */
static int
drain(void)
{
	int64_t		 cut;
	size_t		 i, k;
	int		 n, full = 0, total = 0;

	batch_clock();
	/* now, by the highest wall-clock difference of late: a frame
	 * stamped before a backward step is not newer than now */
	cut = (int64_t)mono_ns + sclock.hi;
	wake_newest = INT64_MIN;
	/* the wake rings first, all of it unless a flood keeps them full */
	for (i = 0; i < (size_t)nifaces; i++)
		for (k = 0; k < WAKE_BATCHES; k++) {
			if (dispatch(i, FILTER_WAKE) != SNIFF_BATCH)
				break;
			if (k == WAKE_BATCHES - 1)
				full = 1;
		}
	for (i = 0; i < (size_t)nifaces; i++) {
		if ((n = dispatch(i, FILTER_READ)) > 0)
			total += n;
		/* alone, the range capture may read the read one's share */
		for (k = 0; k < (ifaces[i].g == NULL ? 2U : 1U); k++) {
			if ((n = dispatch(i, FILTER_RANGE)) > 0)
				total += n;
			if (n < READ_BATCH)
				break;
		}
	}
	/* wake frames left in a full ring: nothing newer than those read;
	 * but what waits never outgrows a pass (frames_cap): judged */
	if (full || wake_newest > cut)
		cut = wake_newest;
	if (nframes >= frames_cap / 2)
		cut = INT64_MAX;
	range_losses();
	/* a backward step of the wall clock between two frames of a ring:
	 * their order by stamp is not the order they came in, and a wrong
	 * hit may be judged before the knock it followed.  No knock steps
	 * through this pass: as if a classic range ring had lost frames */
	if (unordered) {
		unordered = 0;
		unordered_n++;
		range_lost(mono_ns, 1);
		if (mono_ms >= unordered_next) {
			log_warnx("the wall clock went back between two packets "
			    "(%llu times): knocks in progress then are reset",
			    unordered_n);
			unordered_next = mono_ms + LOST_LOG_MS;
		}
	}
	frames_sort(frames, frames_tmp, nframes);
	for (i = 0; i < nframes && frames[i].ns <= cut; i++)
		if (!seen_before(&frames[i]))
			judge(&frames[i]);
	for (k = 0; i < nframes; )
		frames[k++] = frames[i++];
	nframes = k;
	if (nframes > 0 && read_due > mono_ms + READ_MIN_MS)
		read_due = mono_ms + READ_MIN_MS;
	return (total);
}

/* once a second: count what a flood made the captures lose, and say
 * so, once a minute at most */
static void
lost_report(uint64_t now)
{
	unsigned long long	 n;
	int			 i;

	/* the range rings: what they lost since the last pass counts
	 * for the next one too */
	range_losses();
	for (i = 0; i < nifaces; i++) {
		lost_wake += n = ring_drops(ifaces[i].fd);
		stats.lost += n;
		if (ifaces[i].g != NULL) {
			lost_read += n = ring_drops(pcap_fileno(ifaces[i].g));
			stats.lost += n;
		}
	}
	/* the classic filter's range rings (the eBPF one's count above);
	 * the resets come after the loss: said with the next line, or
	 * alone */
	if (lost_range + lost_resets > 0 && now >= lost_range_next) {
		log_warnx("range capture full: %llu packets lost; every knock "
		    "in progress meanwhile is reset: %llu were", lost_range,
		    lost_resets);
		lost_range = 0;
		lost_resets = 0;
		lost_range_next = now + LOST_LOG_MS;
	}
	if (lost_wake + lost_read == 0 || now < lost_next)
		return;
	log_warnx("capture full: %llu packets lost (%llu on last knock "
	    "ports); knocks may fail", lost_wake + lost_read, lost_wake);
	lost_wake = lost_read = 0;
	lost_next = now + LOST_LOG_MS;
}

/* once a second: count the wrong hits (a brute force shows here), and
 * say so once a minute at most */
static void
wrong_report(uint64_t now)
{
	unsigned long long	 w, l, k;

	match_counters(matcher, &w, &l);
	k = range_misses();
	w += k;
	if (wrong_hits + wrong_limited == 0)
		wrong_since = now;
	wrong_hits += w;
	wrong_kernel += k;
	wrong_limited += l;
	stats.wrong += w;
	stats.refused += l;
	if (wrong_hits + wrong_limited == 0 || now < wrong_next)
		return;
	log_info("%llu wrong hits in %llu s (packets into knock-ports that "
	    "advanced no knock; %llu of them dropped in the kernel); %llu "
	    "knock starts refused to prefixes over %u wrong hits a second",
	    wrong_hits, (unsigned long long)(now - wrong_since + 999) / 1000,
	    wrong_kernel, wrong_limited, SNIFF_WRONG_RATE);
	wrong_hits = wrong_kernel = wrong_limited = 0;
	wrong_next = now + WRONG_LOG_MS;
}

/* once a second: the counters to the monitor, if they changed */
static void
stats_report(void)
{
#ifdef PKS_TESTHOOKS
	if (stats_forge) {
		/* test builds: a malformed one, the monitor must kill us */
		stats_forge = 0;
		proc_compose(IMSG_SNIFF_STATS, -1, &stats, sizeof(stats) - 1);
		return;
	}
#endif
	if (stats_said && memcmp(&stats, &stats_sent, sizeof(stats)) == 0)
		return;
	proc_compose(IMSG_SNIFF_STATS, -1, &stats, sizeof(stats));
	stats_sent = stats;
	stats_said = 1;
}

#ifdef PKS_TESTHOOKS
static void
stats_forge_sig(int sig)
{
	(void)sig;
	stats_forge = 1;
}

static void
test_step_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == SI_QUEUE && si->si_value.sival_int >= 0)
		test_step_ms = si->si_value.sival_int;
}
#endif

/*
 * After every read, timed or before a wake batch, n frames in all: the
 * next timed read comes when about READ_TARGET frames should be waiting
 * at the rate they came since the last read.  While wake batches read
 * often enough, no timed read is due at all.
 */
static void
read_plan(int n)
{
	uint64_t	 dt, ms = READ_MAX_MS;

	dt = mono_ms > read_last ? mono_ms - read_last : 1;
	if (n > 0 && dt * READ_TARGET / (uint64_t)n < ms)
		ms = dt * READ_TARGET / (uint64_t)n;
	if (ms < READ_MIN_MS)
		ms = READ_MIN_MS;
	read_last = mono_ms;
	read_due = mono_ms + ms;
}

#ifdef PKS_TESTHOOKS
/*
 * PKS_TEST_ARM_DELAY_MS: -1 while the monitor's messages are held, 1
 * when a hold ends (read them now), else 0.  A hold starts when they
 * come (revents) and ends test_arm_delay ms later; the next ones start
 * the next hold.  A socket closed or failed (POLLHUP, POLLERR, which
 * poll() reports even while nothing is asked) ends it at once: there is
 * no monitor left to hold off, and the read says so (exit).
 */
static int
test_hold(short revents)
{
	uint64_t	 now = now_ms();

	if (revents & (POLLHUP | POLLERR)) {
		test_hold_until = 0;
		return 1;
	}
	if (test_hold_until != 0 && now >= test_hold_until) {
		log_debug("test hook: the monitor's messages held %d ms",
		    test_arm_delay);
		test_hold_until = 0;
		return 1;
	}
	if (test_hold_until == 0 && (revents & POLLIN))
		test_hold_until = now + test_arm_delay;
	return test_hold_until != 0 ? -1 : 0;
}
#endif

static void
sniff_loop(void)
{
	struct pollfd	 pfd[1 + PKS_IFACES_MAX];
	uint64_t	 now, tick, wake;
	int		 i, n, timeout, knocks;

	tick = now_ms() + TICK_MS;
	read_due = tick;
	for (;;) {
		pfd[0].fd = proc_ibuf->fd;
		pfd[0].events = POLLIN;
#ifdef PKS_TESTHOOKS
		if (test_hold_until != 0)
			pfd[0].events = 0;	/* left unread meanwhile */
#endif
		if (imsgbuf_pending(proc_ibuf))
			pfd[0].events |= POLLOUT;
		for (i = 0; i < nifaces; i++) {
			pfd[1 + i].fd = ifaces[i].fd;
			pfd[1 + i].events = POLLIN;
		}
		now = now_ms();
		wake = tick < read_due ? tick : read_due;
#ifdef PKS_TESTHOOKS
		if (test_hold_until != 0 && test_hold_until < wake)
			wake = test_hold_until;
#endif
		timeout = wake > now ? (int)(wake - now) : 0;
		if ((n = poll(pfd, 1 + nifaces, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
#ifdef PKS_TESTHOOKS
		if (test_arm_delay > 0) {
			if ((i = test_hold(pfd[0].revents)) == 1)
				pfd[0].revents |= POLLIN;
			else if (i == -1)
				pfd[0].revents &= ~(POLLIN | POLLHUP | POLLERR);
		}
#endif
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			proc_dispatch(dispatch_imsg);
		for (knocks = 0, i = 0; i < nifaces; i++)
			if (pfd[1 + i].revents & (POLLIN | POLLERR | POLLHUP))
				knocks = 1;
		/* what came before a last knock is judged before it */
		if (knocks)
			read_plan(drain());
		for (i = nifaces - 1; i >= 0; i--)
			if (ifaces[i].failed)
				iface_close(i);
		if (refilter_due)
			refilter();
		if (imsgbuf_pending(proc_ibuf))
			proc_flush();
		now = now_ms();
		if (now >= read_due)
			read_plan(drain());
		if (now >= tick) {
			match_expire(matcher, now);
			lost_report(now);
			wrong_report(now);
			stats_report();
			tick = now + TICK_MS;
		}
	}
}

int
main(int argc, char *argv[])
{
	int	 i;

	proc_start("pks-sniffer", argc, argv);
	proc_read_conf(sniff_conf);
	if (!have_conf)
		fatalx("no IMSG_SNIFF_CONF in the configuration");
	if (nifaces == 0)
		fatalx("no interface to capture on");
	(void)range_setup(ebpf_map, ebpf_prog, ebpf_wake, sconf.ebpf_buckets,
	    sconf.knock_lo, sconf.knock_hi, sconf.knock_timeout);
	/* judged here or in the kernel, a full range ring resets */
	match_on_drop(matcher, range_dropped);
	for (i = 0; i < nifaces; i++)
		iface_open(&ifaces[i]);
	/* a pass, and what an earlier one carried over */
	frames_cap = 2 * (size_t)nifaces * (2 * READ_BATCH +
	    WAKE_BATCHES * SNIFF_BATCH);
	if ((frames = calloc(frames_cap, sizeof(*frames))) == NULL ||
	    (frames_tmp = calloc(frames_cap / 2, sizeof(*frames))) == NULL)
		fatal("frames");
	match_on_refusal(matcher, on_refusal);
#ifdef PKS_TESTHOOKS
	test_arm_delay = proc_test_env("PKS_TEST_ARM_DELAY_MS", 1, 60000);
	signal(SIGUSR1, stats_forge_sig);
	{
		struct sigaction	 sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = test_step_sig;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		if (sigaction(SIGRTMAX, &sa, NULL) == -1)
			fatal("sigaction");
	}
#endif
	proc_confine(NULL, 0, sniffer_rules, sniffer_nrules);
	log_info("capturing on %d interface%s, up to %u sources; knock range "
	    "judged %s", nifaces, nifaces > 1 ? "s" : "", sconf.max_sources,
	    range_active() ? "in the kernel (eBPF)" : "here (classic BPF)");
	sniff_loop();
	return (0);
}

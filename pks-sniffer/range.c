/*
 * range.c: the range capture judged in the kernel, the sniffer's side of
 * common/ebpf.c.
 *
 * pks-monitor sends the map and program it made at start.  Before the
 * drop, the sniffer maps the map's value (struct ebpf_shared) and
 * attaches the program to each range capture in place of the classic
 * range filter; after it, everything goes through that memory: the live
 * ports and guards (written before the read filter admits a new one,
 * cleared after it stops), the range and window, the count of packets
 * dropped, and, for match.c, whether a prefix had a packet dropped since
 * a candidate's last step (range_dropped()).  Without them (an old
 * kernel, no CAP_BPF, the test hook), or if mapping fails, the classic
 * filter reads the whole range and match.c judges every packet.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ebpf.h"
#include "log.h"
#include "sniffer.h"

static struct ebpf_shared	*sh;
static uint32_t			 nb;		/* its buckets */
static int			 prog = -1, wprog = -1;
static uint64_t			 misses_seen;
static uint64_t			 lost_ns;	/* a range ring last lost */
static uint64_t			 lost_all_ns;	/* one with the classic filter */

/* privileged, after the configuration: map the monitor's map of
 * nbuckets (IMSG_SNIFF_CONF, checked there), keep its programs; 0, or -1
 * (logged: the classic filter it is) */
int
range_setup(int mapfd, int progfd, int wakefd, uint32_t nbuckets,
    uint16_t lo, uint16_t hi, uint32_t timeout)
{
	void	*p;

	if (mapfd == -1 || progfd == -1 || wakefd == -1 ||
	    !ebpf_buckets_ok(nbuckets)) {
		if (mapfd != -1)
			close(mapfd);
		if (progfd != -1)
			close(progfd);
		if (wakefd != -1)
			close(wakefd);
		return (-1);
	}
	p = mmap(NULL, ebpf_size(nbuckets), PROT_READ | PROT_WRITE,
	    MAP_SHARED, mapfd, 0);
	close(mapfd);	/* the mapping keeps the map */
	if (p == MAP_FAILED) {
		log_warn("range filter: mmap; judging the whole knock range "
		    "here");
		close(progfd);
		close(wakefd);
		return (-1);
	}
	sh = p;
	nb = nbuckets;
	prog = progfd;
	wprog = wakefd;
	/* nothing of the sniffer before this one is trusted: it may have
	 * been killed for misbehaving, and chosen the key (collisions at
	 * will) or left every bucket over the rate or dropped for ever.
	 * No candidate of this sniffer exists yet, so a new key and clean
	 * buckets hide nothing. */
	memset(sh->b, 0, (size_t)nb * sizeof(sh->b[0]));
	if (getrandom(sh->key, sizeof(sh->key), 0) != sizeof(sh->key)) {
		log_warn("range filter: getrandom; judging the whole knock "
		    "range here");
		munmap(p, ebpf_size(nb));
		sh = NULL;
		prog = wprog = -1;
		close(progfd);
		close(wakefd);
		return (-1);
	}
	__atomic_store_n(&sh->window, ((uint64_t)timeout + 1) * 1000000000ULL,
	    __ATOMIC_RELAXED);
	/* the live ports come with the first live set */
	memset(sh->ports, 0, sizeof(sh->ports));
	memset(sh->last, 0, sizeof(sh->last));
	__atomic_store_n(&sh->range, (uint32_t)lo | (uint32_t)hi << 16,
	    __ATOMIC_RELEASE);
	misses_seen = __atomic_load_n(&sh->misses, __ATOMIC_RELAXED);
	return (0);
}

int
range_active(void)
{
	return (sh != NULL);
}

/* privileged: the range program on a range capture, or (wake) the wake
 * one on the wake capture of an interface that has it; -1: keep the
 * classic */
int
range_attach(int fd, int wake)
{
	if (sh == NULL)
		return (-1);
	return (setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, wake ? &wprog :
	    &prog, sizeof(prog)));
}

/* the last ports of live sequences, ports[0..n), for the wake program:
 * exactly these (each one is live already: range_ports()) */
void
range_last(const uint16_t *ports, size_t n)
{
	uint64_t	 on[NPORTS / 64];
	size_t		 i;

	if (sh == NULL)
		return;
	memset(on, 0, sizeof(on));
	for (i = 0; i < n; i++)
		BIT_SET(on, ports[i]);
	for (i = 0; i < NPORTS / 64; i++)
		__atomic_store_n(&sh->last[i], on[i], __ATOMIC_RELEASE);
}

/*
 * The live ports and their guards.  exact 0: only add (before the read
 * filter changes: a port it admits is never a miss here, or a knock on
 * it would be reset); 1: exactly these (after).
 */
void
range_ports(const uint16_t *ports, size_t n, int exact)
{
	uint64_t		 on[NPORTS / 64];
	struct filter_range	*r;
	size_t			 nr, i;
	long			 p;

	if (sh == NULL)
		return;
	memset(on, 0, sizeof(on));
	nr = filter_ranges(ports, n, 0, FILTER_READ, &r);
	if (nr == (size_t)-1) {
		/* no memory: every port live, the range read whole */
		memset(on, 0xff, sizeof(on));
		nr = 0;
	}
	for (i = 0; i < nr; i++)
		for (p = r[i].lo; p <= r[i].hi; p++)
			BIT_SET(on, p);
	free(r);
	for (i = 0; i < NPORTS / 64; i++) {
		if (exact)
			__atomic_store_n(&sh->ports[i], on[i],
			    __ATOMIC_RELEASE);
		else if (on[i] & ~__atomic_load_n(&sh->ports[i],
		    __ATOMIC_RELAXED))
			__atomic_fetch_or(&sh->ports[i], on[i],
			    __ATOMIC_RELEASE);
	}
}

/* packets dropped in the kernel since the last call */
uint64_t
range_misses(void)
{
	uint64_t	 m, d;

	if (sh == NULL)
		return (0);
	m = __atomic_load_n(&sh->misses, __ATOMIC_RELAXED);
	d = m - misses_seen;
	misses_seen = m;
	return (d);
}

/* pks-sniffer.c: a range ring lost frames, found at now (CLOCK_MONOTONIC
 * ns, read before the frames judged next): wrong hits the kernel passed
 * may be among them; classic: the ring had the classic filter (no eBPF,
 * or refused on its interface), whose losses nothing records per prefix */
void
range_lost(uint64_t now, int classic)
{
	lost_ns = now;
	if (classic)
		lost_all_ns = now;
}

/*
 * match.c, before a candidate advances: 1 if the kernel dropped a packet
 * of pkt's prefix and protocol at or after since (the candidate's last
 * step, kernel ns; 0 unknown: any drop counts), EBPF_SLACK_NS for the
 * clocks, or passed one there and a range ring has lost frames since.
 * Such a packet would have reset it.  With the classic filter nothing
 * says whose packets a full ring lost: any loss of such a ring since
 * counts.
 */
int
range_dropped(const struct pkt *pkt, uint64_t since)
{
	uint64_t	 d, v;
	uint32_t	 b;

	since = since > EBPF_SLACK_NS ? since - EBPF_SLACK_NS : 0;
	if (lost_all_ns != 0 && lost_all_ns >= since)
		return (1);
	if (sh == NULL)
		return (0);
	b = ebpf_bucket(sh->key, nb, pkt->af, pkt->src, pkt->proto);
	d = __atomic_load_n(&sh->b[b].dropped, __ATOMIC_ACQUIRE);
	v = __atomic_load_n(&sh->b[b].passed, __ATOMIC_ACQUIRE);
	return ((d != 0 && d >= since) ||
	    (v != 0 && v >= since && lost_ns != 0 && lost_ns >= since));
}

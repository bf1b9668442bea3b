/*
 * match.c: the live sequences and, per source address, the knocks in
 * progress.
 *
 * A source is the full address and its family.  Each source holds up
 * to SNIFF_CANDS candidates: the ports it knocked so far, held as one
 * live sequence they begin and how far it got.  A candidate stands for
 * every live sequence those ports begin (with thousands live, several
 * share a first port), and moves to another of them when the next
 * packet follows that one.  A packet advances a candidate whose next
 * port it hits, is ignored by one whose last port it repeats (a SYN
 * retransmit), and kills any other candidate of its protocol.  A packet
 * on the first port of a live sequence starts one candidate.  A packet of the knock protocol into the
 * knock range (match_set_range()), or to a guard port, that neither
 * advanced, repeated nor started anything is a wrong hit: it has reset
 * the source's progress, so blind guessing costs the full entropy, about
 * R^L / (live sequences) packets (issue 13, H1), whatever ports the
 * guesser picks.  Where the kernel judges the range (range.c), it drops
 * the wrong hits of prefixes with no knock in progress (or over the
 * rate) and says so: a candidate whose prefix had one dropped since its
 * last step is reset before it takes the next (match_on_drop()).
 * Wrong hits are also counted per prefix (an IPv4
 * address, an IPv6 /64) and protocol: past SNIFF_WRONG_BURST at once or
 * SNIFF_WRONG_RATE a second, that prefix starts nothing for that
 * protocol until it slows down.  One wrong hit blocks nothing, so a
 * spoofer who knows a victim's address must hit the gap between two of
 * their knocks, or outpace the rate (M4).
 *
 * Memory is fixed once match_new() returns, except for the sequence
 * table, which grows on IMSG_SEQ_ADD only: no packet allocates.  The
 * source table (sources and IPv6 prefixes) holds at most max_sources
 * entries, handed out in order (untouched ones cost no memory) and then
 * evicted least recently seen first; the hash is keyed with a secret so
 * a spoofed flood cannot aim at one bucket.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniffer.h"

#define SEQ_BUCKETS	65536
#define NONE		0	/* indexes below are index + 1; 0 is none */
#define KIND_PREFIX	0x80	/* in src.af: the entry of an IPv6 /64 */
#define WRONG_US	(1000000 / SNIFF_WRONG_RATE)	/* one wrong hit */
#define BURST_US	((uint64_t)SNIFF_WRONG_BURST * WRONG_US)

struct mseq {
	struct pks_seq	 s;
	uint32_t	 gen;		/* bumped when the slot is freed */
	uint32_t	 next_first;	/* same first port */
	uint32_t	 next_id;	/* same id bucket, or free list */
	uint8_t		 used;
	uint8_t		 done;		/* reported, waiting for SEQ_DEL */
};

struct cand {
	uint64_t	 last;		/* ms of the last progress */
	uint64_t	 kns;		/* the same, the kernel's ns (range.c) */
	uint32_t	 slot;		/* index in seqs */
	uint32_t	 gen;		/* of that slot when started */
	uint8_t		 pos;		/* ports matched so far */
};

struct src {
	uint64_t	 seen;		/* ms of the last packet */
	uint64_t	 tat[2];	/* wrong hits, TCP and UDP: when the
					 * prefix's budget is whole again, us */
	uint32_t	 hnext;		/* hash chain, or free list */
	uint32_t	 lprev;		/* towards more recent */
	uint32_t	 lnext;		/* towards less recent */
	uint8_t		 af;		/* | KIND_PREFIX for an IPv6 /64 */
	uint8_t		 ncand;
	uint8_t		 addr[16];
	struct cand	 cand[SNIFF_CANDS];
};

struct match {
	uint64_t	 timeout;	/* ms */
	uint64_t	 idle;		/* ms after which a source is freed */
	uint64_t	 key[2];
	struct src	*srcs;
	uint32_t	*buckets;
	uint32_t	 nbuckets;	/* power of two */
	uint32_t	 max;
	uint32_t	 nsrc;
	uint32_t	 sused;		/* entries ever handed out */
	uint32_t	 sfree;
	uint32_t	 lru_head;	/* most recently seen */
	uint32_t	 lru_tail;

	struct mseq	*seqs;
	uint32_t	 nslots;	/* slots ever used */
	uint32_t	 capslots;
	uint32_t	 qfree;
	uint32_t	 nseqs;
	/* by port, together: a packet costs one cache line here */
	struct {
		uint32_t first;		/* sequences starting on it */
		uint16_t watch;		/* live ports and guards covering */
	}		 port[NPORTS];
	uint32_t	 byid[SEQ_BUCKETS];
	match_refused_fn refused;	/* told why a knock failed, or NULL */
	match_dropped_fn dropped;	/* asked before a step, or NULL */
	uint16_t	 lo, hi;	/* the knock range; 0 0: none */
	unsigned long long wrong;	/* wrong hits */
	unsigned long long limited;	/* starts refused over the rate */
};

static uint64_t
rotl(uint64_t x, int b)
{
	return ((x << b) | (x >> (64 - b)));
}

#define SIPROUND do {							\
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);	\
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);	\
} while (0)

/* SipHash-2-4 of the source key: the table's bucket must not be
 * predictable by whoever chooses spoofed addresses */
static uint64_t
src_hash(const struct match *m, uint8_t af, const uint8_t *addr)
{
	uint64_t	 v0, v1, v2, v3, w[3];
	int		 i, j, r;

	v0 = m->key[0] ^ 0x736f6d6570736575ULL;
	v1 = m->key[1] ^ 0x646f72616e646f6dULL;
	v2 = m->key[0] ^ 0x6c7967656e657261ULL;
	v3 = m->key[1] ^ 0x7465646279746573ULL;
	/* 17 bytes, little-endian words; the last holds the length */
	w[0] = w[1] = 0;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 8; j++)
			w[i] |= (uint64_t)addr[i * 8 + j] << (8 * j);
	w[2] = (uint64_t)af | (uint64_t)17 << 56;
	for (i = 0; i < 3; i++) {
		v3 ^= w[i];
		for (r = 0; r < 2; r++)
			SIPROUND;
		v0 ^= w[i];
	}
	v2 ^= 0xff;
	for (r = 0; r < 4; r++)
		SIPROUND;
	return (v0 ^ v1 ^ v2 ^ v3);
}

static uint32_t
id_bucket(uint32_t id)
{
	return ((id * 2654435761U) >> 16);
}

struct match *
match_new(uint32_t max_sources, uint32_t knock_timeout, const uint8_t *key)
{
	struct match	*m;

	if (max_sources < 1 || max_sources > SNIFF_SOURCES_MAX ||
	    knock_timeout < 1 || knock_timeout > SNIFF_TIMEOUT_MAX) {
		errno = EINVAL;
		return (NULL);
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return (NULL);
	m->max = max_sources;
	m->timeout = (uint64_t)knock_timeout * 1000;
	m->idle = m->timeout > BURST_US / 1000 ? m->timeout :
	    BURST_US / 1000 + 1;
	memcpy(m->key, key, sizeof(m->key));
	for (m->nbuckets = 16; m->nbuckets < max_sources; m->nbuckets *= 2)
		;
	/* zeroed pages from the kernel: an entry costs memory only once
	 * a source first uses it, so the cap bounds memory, not sets it */
	m->srcs = calloc(max_sources, sizeof(*m->srcs));
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->srcs == NULL || m->buckets == NULL) {
		match_free(m);
		return (NULL);
	}
	return (m);
}

void
match_free(struct match *m)
{
	if (m == NULL)
		return;
	free(m->srcs);
	free(m->buckets);
	free(m->seqs);
	free(m);
}

size_t
match_nsources(const struct match *m)
{
	return (m->nsrc);
}

size_t
match_nseqs(const struct match *m)
{
	return (m->nseqs);
}

/* every packet of the knock protocol into lo..hi counts (H1) */
void
match_set_range(struct match *m, uint16_t lo, uint16_t hi)
{
	m->lo = lo;
	m->hi = hi;
}

/* wrong hits, and knock starts refused to prefixes over the rate, since
 * the last call */
void
match_counters(struct match *m, unsigned long long *wrong,
    unsigned long long *limited)
{
	*wrong = m->wrong;
	*limited = m->limited;
	m->wrong = m->limited = 0;
}

/* NULL if the sequence can be used, else why not */
const char *
match_seq_check(const struct pks_seq *s)
{
	int	 i, j;

	if (s->id == 0)
		return ("sequence id 0");
	if (s->len < PKS_SEQ_MIN || s->len > PKS_SEQ_MAX)
		return ("sequence length out of range");
	if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
		return ("sequence protocol neither tcp nor udp");
	if (s->bound_af != 0 && s->bound_af != AF_INET &&
	    s->bound_af != AF_INET6)
		return ("bad bound address family");
	for (i = 0; i < s->len; i++) {
		if (s->ports[i] == 0)
			return ("knock port 0");
		for (j = 0; j < i; j++)
			if (abs(s->ports[i] - s->ports[j]) <= 2 * PKS_GUARD + 1)
				return ("knock ports within each other's guards");
	}
	return (NULL);
}

static struct mseq *
seq_find(struct match *m, uint32_t id, uint32_t **linkp)
{
	uint32_t	*link;
	struct mseq	*q;

	for (link = &m->byid[id_bucket(id)]; *link != NONE;
	    link = &q->next_id) {
		q = &m->seqs[*link - 1];
		if (q->s.id == id) {
			if (linkp != NULL)
				*linkp = link;
			return (q);
		}
	}
	return (NULL);
}

static void
watch_ports(struct match *m, const struct pks_seq *s, int delta)
{
	int	 i, lo, hi, p;

	for (i = 0; i < s->len; i++) {
		lo = s->ports[i] > PKS_GUARD ? s->ports[i] - PKS_GUARD : 1;
		hi = s->ports[i] + PKS_GUARD < NPORTS ?
		    s->ports[i] + PKS_GUARD : NPORTS - 1;
		for (p = lo; p <= hi; p++)
			m->port[p].watch += delta;
	}
}

/* 0, or -1 with errno: EINVAL bad sequence, EEXIST id live, ENOSPC full */
int
match_seq_add(struct match *m, const struct pks_seq *s)
{
	struct mseq	*q, *n;
	uint32_t	 slot, cap;

	if (match_seq_check(s) != NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (seq_find(m, s->id, NULL) != NULL) {
		errno = EEXIST;
		return (-1);
	}
	if (m->qfree != NONE) {
		slot = m->qfree - 1;
		m->qfree = m->seqs[slot].next_id;
	} else {
		if (m->nslots == SNIFF_SEQS_MAX) {
			errno = ENOSPC;
			return (-1);
		}
		if (m->nslots == m->capslots) {
			cap = m->capslots ? m->capslots * 2 : 64;
			if ((n = reallocarray(m->seqs, cap, sizeof(*n))) ==
			    NULL)
				return (-1);
			m->seqs = n;
			m->capslots = cap;
		}
		slot = m->nslots++;
		m->seqs[slot].gen = 0;
	}
	q = &m->seqs[slot];
	q->s = *s;
	q->used = 1;
	q->done = 0;
	q->next_first = m->port[s->ports[0]].first;
	m->port[s->ports[0]].first = slot + 1;
	q->next_id = m->byid[id_bucket(s->id)];
	m->byid[id_bucket(s->id)] = slot + 1;
	watch_ports(m, s, 1);
	m->nseqs++;
	return (0);
}

/* 0, or -1 if no live sequence has that id */
int
match_seq_del(struct match *m, uint32_t id)
{
	struct mseq	*q;
	uint32_t	*link, slot;

	if (id == 0 || (q = seq_find(m, id, &link)) == NULL)
		return (-1);
	slot = q - m->seqs;
	*link = q->next_id;
	for (link = &m->port[q->s.ports[0]].first; *link != slot + 1;
	    link = &m->seqs[*link - 1].next_first)
		;
	*link = q->next_first;
	watch_ports(m, &q->s, -1);
	/* candidates on this slot see the new generation and die */
	q->gen++;
	q->used = 0;
	q->next_id = m->qfree;
	m->qfree = slot + 1;
	m->nseqs--;
	return (0);
}

/*
 * Every port of every sequence still to be knocked: the last ports
 * first (*nlastp of them), then the others.  *portsp is allocated (NULL
 * if none), the caller frees it.
 */
size_t
match_ports(const struct match *m, uint16_t **portsp, size_t *nlastp)
{
	const struct pks_seq	*s;
	uint16_t		*ports;
	size_t			 n, nlast = 0;
	uint32_t		 i;
	int			 j;

	*portsp = NULL;
	*nlastp = 0;
	if (m->nseqs == 0)
		return (0);
	if ((ports = calloc((size_t)m->nseqs * PKS_SEQ_MAX,
	    sizeof(*ports))) == NULL)
		return (0);
	for (i = 0; i < m->nslots; i++)
		if (m->seqs[i].used && !m->seqs[i].done)
			ports[nlast++] = m->seqs[i].s.ports[m->seqs[i].s.len - 1];
	for (n = nlast, i = 0; i < m->nslots; i++) {
		if (!m->seqs[i].used || m->seqs[i].done)
			continue;
		s = &m->seqs[i].s;
		for (j = 0; j < s->len - 1; j++)
			ports[n++] = s->ports[j];
	}
	*portsp = ports;
	*nlastp = nlast;
	return (n);
}

static void
lru_unlink(struct match *m, uint32_t i)
{
	struct src	*s = &m->srcs[i - 1];

	if (s->lprev != NONE)
		m->srcs[s->lprev - 1].lnext = s->lnext;
	else
		m->lru_head = s->lnext;
	if (s->lnext != NONE)
		m->srcs[s->lnext - 1].lprev = s->lprev;
	else
		m->lru_tail = s->lprev;
	s->lprev = s->lnext = NONE;
}

static void
lru_push(struct match *m, uint32_t i)
{
	struct src	*s = &m->srcs[i - 1];

	s->lprev = NONE;
	s->lnext = m->lru_head;
	if (m->lru_head != NONE)
		m->srcs[m->lru_head - 1].lprev = i;
	else
		m->lru_tail = i;
	m->lru_head = i;
}

static void
src_free(struct match *m, uint32_t i)
{
	struct src	*s = &m->srcs[i - 1];
	uint32_t	*link;

	link = &m->buckets[src_hash(m, s->af, s->addr) & (m->nbuckets - 1)];
	while (*link != i)
		link = &m->srcs[*link - 1].hnext;
	*link = s->hnext;
	lru_unlink(m, i);
	memset(s, 0, sizeof(*s));
	s->hnext = m->sfree;
	m->sfree = i;
	m->nsrc--;
}

/* the entry of a source (or prefix), made most recent; NULL if not
 * tracked */
static struct src *
src_find(struct match *m, uint8_t af, const uint8_t *addr)
{
	uint32_t	 i;
	struct src	*s;

	/* a burst from one source needs no hash: it is the most recent */
	if ((i = m->lru_head) != NONE) {
		s = &m->srcs[i - 1];
		if (s->af == af && memcmp(s->addr, addr, 16) == 0)
			return (s);
	}
	i = m->buckets[src_hash(m, af, addr) & (m->nbuckets - 1)];
	for (; i != NONE; i = s->hnext) {
		s = &m->srcs[i - 1];
		if (s->af == af && memcmp(s->addr, addr, 16) == 0) {
			lru_unlink(m, i);
			lru_push(m, i);
			return (s);
		}
	}
	return (NULL);
}

/* a new entry; at the cap the least recently seen source makes room */
static struct src *
src_new(struct match *m, uint8_t af, const uint8_t *addr)
{
	struct src	*s;
	uint32_t	 i, *b;

	if (m->sfree == NONE && m->sused < m->max)
		i = ++m->sused;
	else {
		if (m->sfree == NONE)
			src_free(m, m->lru_tail);
		i = m->sfree;
		m->sfree = m->srcs[i - 1].hnext;
	}
	s = &m->srcs[i - 1];
	memset(s, 0, sizeof(*s));
	s->af = af;
	memcpy(s->addr, addr, 16);
	b = &m->buckets[src_hash(m, af, addr) & (m->nbuckets - 1)];
	s->hnext = *b;
	*b = i;
	lru_push(m, i);
	m->nsrc++;
	return (s);
}

/*
 * The entry that counts the wrong hits of pkt's prefix: the source's
 * own for IPv4 (s, which may be NULL), one per /64 for IPv6 (made if
 * create).  Making it never evicts s: s was just made most recent.
 */
static struct src *
prefix_of(struct match *m, const struct pkt *pkt, struct src *s, int create)
{
	uint8_t		 key[16];
	struct src	*p;

	if (pkt->af != AF_INET6 || m->max < 2)
		return (s);
	memcpy(key, pkt->src, 8);
	memset(key + 8, 0, 8);
	p = src_find(m, AF_INET6 | KIND_PREFIX, key);
	if (p == NULL && create)
		p = src_new(m, AF_INET6 | KIND_PREFIX, key);
	return (p);
}

/* past its burst of wrong hits, or its rate: the prefix starts nothing */
static int
over_rate(const struct src *p, int proto, uint64_t now)
{
	return (p != NULL &&
	    p->tat[proto == IPPROTO_UDP] > now * 1000 + BURST_US);
}

/* who to tell why a knock failed (so that a refusal is never silent) */
void
match_on_refusal(struct match *m, match_refused_fn fn)
{
	m->refused = fn;
}

/* who says whether the kernel dropped a packet that would have reset a
 * candidate (range.c): asked before each step */
void
match_on_drop(struct match *m, match_dropped_fn fn)
{
	m->dropped = fn;
}

static void
refuse(const struct match *m, const struct pkt *pkt, enum match_refusal why,
    const struct mseq *q, unsigned int step)
{
	if (m->refused != NULL)
		m->refused(pkt, why, q->s.id, step);
}

static void
cand_drop(struct src *s, int i)
{
	s->cand[i] = s->cand[--s->ncand];
}

static int
bound_ok(const struct pks_seq *q, const struct pkt *pkt)
{
	if (q->bound_af == 0)
		return (1);
	if (q->bound_af != pkt->af)
		return (0);
	return (memcmp(q->bound_addr, pkt->src,
	    pkt->af == AF_INET ? 4 : 16) == 0);
}

/*
 * A live sequence of protocol proto other than q, open to pkt's source,
 * that begins with q's first pos ports and goes on with next (0: with
 * any port); NULL if none.  q may be gone or done: its ports stay in
 * its slot until the slot is used again.
 */
static struct mseq *
prefix_mate(struct match *m, const struct mseq *q, int pos, int proto,
    const struct pkt *pkt, uint16_t next)
{
	struct mseq	*o;
	uint32_t	 i;

	for (i = m->port[q->s.ports[0]].first; i != NONE; i = o->next_first) {
		o = &m->seqs[i - 1];
		if (o == q || o->done || o->s.proto != proto ||
		    o->s.len <= pos || !bound_ok(&o->s, pkt) ||
		    memcmp(o->s.ports, q->s.ports,
		    pos * sizeof(o->s.ports[0])) != 0)
			continue;
		if (next == 0 || o->s.ports[pos] == next)
			return (o);
	}
	return (NULL);
}

static void
cand_move(struct match *m, struct cand *c, const struct mseq *o)
{
	c->slot = o - m->seqs;
	c->gen = o->gen;
}

/*
 * The sequence candidate c stands for, NULL if none is left: when the
 * one it held was used (by another source), revoked or expired, another
 * that its knocked ports begin takes over.  A slot used again holds
 * other ports: the knock in progress is void.
 */
static struct mseq *
cand_seq(struct match *m, struct cand *c, const struct pkt *pkt)
{
	struct mseq	*q = &m->seqs[c->slot], *o;

	if (q->used && q->gen == c->gen && !q->done)
		return (q);
	if (q->used && q->gen != c->gen)
		return (NULL);
	if ((o = prefix_mate(m, q, c->pos, q->s.proto, pkt, 0)) == NULL)
		return (NULL);
	cand_move(m, c, o);
	return (o);
}

/* start a candidate for the sequences whose first port this is: one
 * stands for them all */
static int
start(struct match *m, struct src **sp, const struct pkt *pkt,
    uint64_t now, uint64_t kns)
{
	struct src	*s = *sp;
	struct mseq	*q, *o;
	struct cand	*c;
	uint32_t	 i;
	int		 k, oldest, started = 0, over = -1;

	for (i = m->port[pkt->dport].first; i != NONE; i = q->next_first) {
		q = &m->seqs[i - 1];
		if (q->done || q->s.proto != pkt->proto)
			continue;
		if (!bound_ok(&q->s, pkt)) {
			refuse(m, pkt, REFUSE_BOUND, q, 0);
			continue;
		}
		if (over == -1)
			over = over_rate(prefix_of(m, pkt, s, 0), pkt->proto,
			    now);
		if (over) {
			m->limited++;
			refuse(m, pkt, REFUSE_COOLING, q, 0);
			continue;
		}
		if (started)
			continue;
		if (s != NULL) {
			/* a retransmit of the first port: it stands */
			for (k = 0; k < s->ncand; k++) {
				o = &m->seqs[s->cand[k].slot];
				if (s->cand[k].pos == 1 &&
				    o->s.ports[0] == pkt->dport &&
				    o->s.proto == pkt->proto)
					break;
			}
			if (k < s->ncand) {
				started = -1;
				continue;
			}
		} else
			s = *sp = src_new(m, pkt->af, pkt->src);
		if (s->ncand < SNIFF_CANDS)
			c = &s->cand[s->ncand++];
		else {
			/* full: the one that progressed least recently goes */
			for (oldest = 0, k = 1; k < s->ncand; k++)
				if (s->cand[k].last < s->cand[oldest].last)
					oldest = k;
			c = &s->cand[oldest];
			refuse(m, pkt, REFUSE_EVICTED, &m->seqs[c->slot],
			    c->pos);
		}
		cand_move(m, c, q);
		c->pos = 1;
		c->last = now;
		c->kns = kns;
		started = 1;
	}
	return (started == 1);
}

/*
 * Feed one packet seen at now (ms, monotonic).  Returns 1 and fills *k
 * when it completes a sequence, else 0.  A completed sequence is never
 * reported again: it waits for its IMSG_SEQ_DEL.
 */
int
match_packet(struct match *m, const struct pkt *pkt, uint64_t now,
    struct pks_knock *k)
{
	return (match_packet_at(m, pkt, now, 0, k));
}

/* the same, kns when the kernel had it (CLOCK_MONOTONIC ns, 0 unknown:
 * match_on_drop()'s function is asked from then on) */
int
match_packet_at(struct match *m, const struct pkt *pkt, uint64_t now,
    uint64_t kns, struct pks_knock *k)
{
	struct src	*s, *p;
	struct cand	*c;
	struct mseq	*q, *o;
	uint64_t	*tat;
	struct {
		uint32_t slot;
		uint8_t	 pos;
	}		 victims[SNIFF_CANDS];
	int		 i, hit = 0, nvictims = 0;

	/* what the kernel filter is meant to keep out, whatever the
	 * filter let through after widening */
	if (m->port[pkt->dport].watch == 0 &&
	    (pkt->dport < m->lo || pkt->dport > m->hi))
		return (0);
	s = src_find(m, pkt->af, pkt->src);
	for (i = 0; s != NULL && i < s->ncand; ) {
		c = &s->cand[i];
		if ((q = cand_seq(m, c, pkt)) == NULL) {
			cand_drop(s, i);
			continue;
		}
		if (c->last + m->timeout < now) {
			refuse(m, pkt, REFUSE_TIMEOUT, q, c->pos);
			cand_drop(s, i);
			continue;
		}
		if (q->s.proto != pkt->proto) {
			i++;
			continue;
		}
		/* the knocked ports begin another sequence, which this
		 * packet follows */
		if (pkt->dport != q->s.ports[c->pos] &&
		    pkt->dport != q->s.ports[c->pos - 1] &&
		    (o = prefix_mate(m, q, c->pos, q->s.proto, pkt,
		    pkt->dport)) != NULL) {
			cand_move(m, c, o);
			q = o;
		}
		if (pkt->dport == q->s.ports[c->pos] && m->dropped != NULL &&
		    m->dropped(pkt, c->kns)) {
			/* a wrong hit since its last step, dropped in the
			 * kernel: it reset this one there */
			refuse(m, pkt, REFUSE_DROPPED, q, c->pos);
			cand_drop(s, i);
			continue;
		}
		if (pkt->dport == q->s.ports[c->pos]) {
			hit = 1;
			c->last = now;
			c->kns = kns;
			if (++c->pos < q->s.len) {
				i++;
				continue;
			}
			memset(k, 0, sizeof(*k));
			k->seq_id = q->s.id;
			k->af = pkt->af;
			memcpy(k->addr, pkt->src, 16);
			q->done = 1;
			s->ncand = 0;
			s->seen = now;
			return (1);
		}
		if (pkt->dport == q->s.ports[c->pos - 1]) {
			/* the same knock again: a SYN retransmit */
			hit = 1;
			i++;
			continue;
		}
		victims[nvictims].slot = c->slot;
		victims[nvictims++].pos = c->pos;
		cand_drop(s, i);
	}
	/* a candidate dies of a packet that advanced none of this source's
	 * (a new start too: it is another sequence's); a retransmit of one
	 * of them keeps the source's knock going, and is no reset */
	for (i = 0; !hit && i < nvictims; i++)
		refuse(m, pkt, REFUSE_RESET, &m->seqs[victims[i].slot],
		    victims[i].pos);
	if (start(m, &s, pkt, now, kns))
		hit = 1;
	if (!hit) {
		/* a wrong hit: counted against the prefix */
		if (s == NULL)
			s = src_new(m, pkt->af, pkt->src);
		p = prefix_of(m, pkt, s, 1);
		/* the debt stops growing at the limit: a flood that ends
		 * leaves its prefix free again within BURST_US */
		tat = &p->tat[pkt->proto == IPPROTO_UDP];
		*tat = (*tat > now * 1000 ? *tat : now * 1000) + WRONG_US;
		if (*tat > now * 1000 + BURST_US + WRONG_US)
			*tat = now * 1000 + BURST_US + WRONG_US;
		p->seen = now;
		m->wrong++;
	}
	s->seen = now;
	return (0);
}

/* how far the source of pkt got, in its protocol: the most ports of a
 * live sequence it knocked in order (0: none in progress) */
int
match_progress(struct match *m, const struct pkt *pkt)
{
	struct src	*s;
	struct mseq	*q;
	int		 i, best = 0;

	if ((s = src_find(m, pkt->af, pkt->src)) == NULL)
		return (0);
	for (i = 0; i < s->ncand; i++) {
		q = &m->seqs[s->cand[i].slot];
		if (q->used && q->gen == s->cand[i].gen && !q->done &&
		    q->s.proto == pkt->proto && s->cand[i].pos > best)
			best = s->cand[i].pos;
	}
	return (best);
}

/* called every second: forget the sources that went quiet */
void
match_expire(struct match *m, uint64_t now)
{
	while (m->lru_tail != NONE &&
	    m->srcs[m->lru_tail - 1].seen + m->idle < now)
		src_free(m, m->lru_tail);
}

/*
 * filter.c: the kernel filters, so that packets which cannot be a knock
 * never reach user space.
 *
 * Each interface has three capture sockets.  The wake socket's filter
 * admits an unfragmented IPv4 TCP SYN without ACK, or UDP datagram, to
 * the last port of a live sequence, the only knock that can complete
 * one; IPv6 TCP and UDP to the same ports, whatever their flags (parse.c
 * checks them), behind up to three extension headers (hop-by-hop,
 * routing, destination options), which the filter follows.  It wakes the
 * sniffer at once.  The read socket's filter admits the same packets to
 * every knock port and to the guard ports (PKS_GUARD either side of each
 * knock port).  The range socket's admits them to the whole knock range
 * (every packet of the knock protocol there that advances no knock
 * resets the source: match.c); it carries a random-port flood, and a
 * flood that fills it costs wrong hits unseen, never a knock.  None of
 * those but the last ports has to be judged before the next last knock,
 * so those sockets are read, in full, with each wake batch and now and
 * then, but never waited on: a flood over random ports costs the sniffer
 * a wake-up only when it hits the last port of a sequence.  The last
 * ports are in every filter so that a port that becomes a last port is
 * never in none while the filters change; pks-sniffer.c judges each
 * packet once, whichever sockets caught it.  Where the kernel judges
 * the range (common/ebpf.c), the wake and range sockets get its eBPF
 * programs instead, and there is no read socket: these are for the
 * interfaces without.
 *
 * Classic BPF stops at 4096 instructions and each port range costs a
 * few.  When the live set is too large, the ranges closest to each
 * other are merged until the program fits: the filter then lets in a
 * little more than it must, which match.c ignores, and it always loads.
 */
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <linux/filter.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "sniffer.h"

static uint16_t	 span_lo, span_hi;	/* the knock range, read whole */

/* the range filter admits every port of lo..hi: a guess anywhere in it
 * is a wrong hit (match.c) */
void
filter_set_range(uint16_t lo, uint16_t hi)
{
	span_lo = lo;
	span_hi = hi;
}

/* the first port from p on whose bit is v, or NPORTS */
static long
next_bit(const uint64_t *b, long p, int v)
{
	uint64_t	 w;

	while (p < NPORTS) {
		w = v ? b[p >> 6] : ~b[p >> 6];
		w &= ~0ULL << (p & 63);
		if (w != 0)
			return ((p & ~63L) + __builtin_ctzll(w));
		p = (p & ~63L) + 64;
	}
	return (NPORTS);
}

/* the runs of set bits, into r if not NULL; how many (a word at a time:
 * a change of the live set must stay cheap) */
static size_t
runs(const uint64_t *b, struct filter_range *r)
{
	size_t	 nr = 0;
	long	 lo, hi = -1;

	while ((lo = next_bit(b, hi + 1, 1)) < NPORTS) {
		hi = next_bit(b, lo, 0) - 1;
		if (r != NULL) {
			r[nr].lo = lo;
			r[nr].hi = hi;
		}
		nr++;
	}
	return (nr);
}

/*
 * The sorted, merged ranges of the wake filter (FILTER_WAKE: the last
 * ports, ports[0..nlast)) or of the read filter (FILTER_READ: every
 * knock port and the guards around them).  *rp is allocated (NULL if
 * there is no range); returns the number of ranges, or (size_t)-1 if
 * out of memory.
 */
size_t
filter_ranges(const uint16_t *ports, size_t n, size_t nlast, int which,
    struct filter_range **rp)
{
	uint64_t		 on[NPORTS / 64];
	struct filter_range	*r;
	size_t			 i, nr;
	long			 p, lo, hi;

	*rp = NULL;
	memset(on, 0, sizeof(on));
	for (i = 0; i < n && which == FILTER_READ; i++) {
		if (ports[i] == 0)
			continue;
		lo = ports[i] > PKS_GUARD ? ports[i] - PKS_GUARD : 1;
		hi = ports[i] + PKS_GUARD < NPORTS ? ports[i] + PKS_GUARD :
		    NPORTS - 1;
		for (p = lo; p <= hi; p++)
			BIT_SET(on, p);
	}
	for (p = span_lo; span_hi != 0 && p <= span_hi && which == FILTER_RANGE;
	    p++)
		BIT_SET(on, p);
	for (i = 0; i < nlast && i < n && which == FILTER_WAKE; i++)
		BIT_SET(on, ports[i]);
	BIT_CLR(on, 0);
	if ((nr = runs(on, NULL)) == 0)
		return (0);
	if ((r = calloc(nr, sizeof(*r))) == NULL)
		return ((size_t)-1);
	(void)runs(on, r);
	*rp = r;
	return (nr);
}

/*
 * Merge sorted ranges in place, closing the narrowest gaps first (the
 * leftmost of equal ones first), until at most target remain (target
 * >= 1).  Returns the new count.  A gap is 2..65535 ports wide, so a
 * count per width finds the widest gap to close without sorting: no
 * qsort(3), whose glibc version calls sysinfo(2) for large arrays and
 * would need it in the sandbox.
 */
size_t
filter_merge(struct filter_range *r, size_t n, size_t target)
{
	uint32_t	*count;
	size_t		 i, out, below, tie;
	long		 w, cut, prev;

	if (target < 1)
		target = 1;
	if (n <= target)
		return (n);
	if ((count = calloc(NPORTS, sizeof(*count))) == NULL) {
		/* no memory to choose: one range over everything */
		r[0].hi = r[n - 1].hi;
		return (1);
	}
	for (i = 0; i + 1 < n; i++)
		count[r[i + 1].lo - r[i].hi]++;
	/* gaps narrower than cut all close, and tie of those at cut */
	for (below = 0, cut = 0; cut < NPORTS; cut++) {
		if (below + count[cut] >= n - target)
			break;
		below += count[cut];
	}
	tie = n - target - below;
	free(count);
	for (prev = r[0].hi, out = 1, i = 1; i < n; i++) {
		w = (long)r[i].lo - prev;
		prev = r[i].hi;
		if (w < cut || (w == cut && tie > 0)) {
			if (w == cut)
				tie--;
			r[out - 1].hi = r[i].hi;
		} else
			r[out++] = r[i];
	}
	return (out);
}

/*
 * The program, built here rather than by pcap_compile(), whose optimiser
 * costs tens of milliseconds for a few hundred ranges on every change.
 * Offsets are from the IP header, as for DLT_RAW.  Both families end
 * with the destination port in A and share one search over the ranges:
 * a balanced binary tree, so a packet costs O(log n) comparisons.
 */
#define ACCEPT		SNIFF_SNAPLEN
#define V6_EXT_WALK	3	/* IPv6 extension headers followed here */
#define V6		15	/* where the IPv6 part starts */
#define ROUND(r)	(17 + 13 * (r))	/* each header followed */
#define FINAL		ROUND(V6_EXT_WALK)
#define PORT		(FINAL + 2)
#define L_REJECT	(PORT + 2)
#define PROLOGUE	(L_REJECT + 1)	/* instructions before the search */
#define JMAX		255	/* farthest jt/jf reach */

struct emit {
	struct bpf_insn	*i;
	size_t		 n;
};

static void
put(struct emit *e, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	e->i[e->n].code = code;
	e->i[e->n].jt = jt;
	e->i[e->n].jf = jf;
	e->i[e->n].k = k;
	e->n++;
}

/*
 * Instructions for the search over k ranges: a node whose right subtree
 * is near enough jumps to its left subtree directly, otherwise through
 * a ja, whose offset has 32 bits.  An empty subtree is one ret #0.
 */
static size_t
tree_len(size_t k)
{
	size_t	 l, r;

	if (k == 0)
		return (1);
	l = tree_len(k / 2);
	r = tree_len(k - k / 2 - 1);
	return ((r + 2 <= JMAX ? 3 : 4) + r + l);
}

/* the search over r[0..k-1], A holding the port */
static void
tree(struct emit *e, const struct filter_range *r, size_t k)
{
	size_t	 m = k / 2, rl;

	if (k == 0) {
		put(e, BPF_RET | BPF_K, 0, 0, 0);
		return;
	}
	rl = tree_len(k - m - 1);
	if (rl + 2 <= JMAX) {
		/* below lo: past the accept and the right subtree */
		put(e, BPF_JMP | BPF_JGE | BPF_K, 0, rl + 2, r[m].lo);
	} else {
		put(e, BPF_JMP | BPF_JGE | BPF_K, 1, 0, r[m].lo);
		put(e, BPF_JMP | BPF_JA, 0, 0, rl + 2);
	}
	put(e, BPF_JMP | BPF_JGT | BPF_K, 1, 0, r[m].hi);
	put(e, BPF_RET | BPF_K, 0, 0, ACCEPT);
	tree(e, r + m + 1, k - m - 1);
	tree(e, r, m);
}

/* a jump from where the next instruction goes to label to, as jt/jf */
#define TO(e, to)	((to) - (e)->n - 1)

/*
 * The whole program for these ranges (n >= 1), PROLOGUE + tree_len(n).
 * IPv6 extension headers (hop-by-hop, routing, destination options)
 * are followed, up to V6_EXT_WALK of them, to the port: a packet with
 * more is dropped (issue 13, L3: they used to wake the sniffer whatever
 * their port).  Both filters share it: only the ranges differ.
 */
static struct bpf_insn *
build(const struct filter_range *r, size_t n, size_t len)
{
	struct emit	 e;
	int		 k;

	if ((e.i = calloc(len, sizeof(*e.i))) == NULL)
		return (NULL);
	e.n = 0;
	/* 0: the IP version */
	put(&e, BPF_LD | BPF_B | BPF_ABS, 0, 0, 0);
	put(&e, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0xf0);
	put(&e, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0x40);
	put(&e, BPF_JMP | BPF_JEQ | BPF_K, TO(&e, V6), TO(&e, L_REJECT),
	    0x60);
	/* 4: IPv4, not a fragment (offset or MF) */
	put(&e, BPF_LD | BPF_H | BPF_ABS, 0, 0, 6);
	put(&e, BPF_JMP | BPF_JSET | BPF_K, TO(&e, L_REJECT), 0, 0x3fff);
	put(&e, BPF_LDX | BPF_B | BPF_MSH, 0, 0, 0);
	put(&e, BPF_LD | BPF_B | BPF_ABS, 0, 0, 9);
	put(&e, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, IPPROTO_TCP);
	/* 9: a SYN without ACK */
	put(&e, BPF_LD | BPF_B | BPF_IND, 0, 0, 13);
	put(&e, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0x12);
	put(&e, BPF_JMP | BPF_JEQ | BPF_K, 1, TO(&e, L_REJECT), 0x02);
	/* 12: or UDP */
	put(&e, BPF_JMP | BPF_JEQ | BPF_K, 0, TO(&e, L_REJECT), IPPROTO_UDP);
	put(&e, BPF_LD | BPF_H | BPF_IND, 0, 0, 2);
	put(&e, BPF_JMP | BPF_JA, 0, 0, TO(&e, PROLOGUE));
	/* 15: IPv6: A the next header, X where it starts */
	put(&e, BPF_LD | BPF_B | BPF_ABS, 0, 0, 6);
	put(&e, BPF_LDX | BPF_W | BPF_IMM, 0, 0, 40);
	for (k = 0; k < V6_EXT_WALK; k++) {
		put(&e, BPF_JMP | BPF_JEQ | BPF_K, TO(&e, PORT), 0,
		    IPPROTO_TCP);
		put(&e, BPF_JMP | BPF_JEQ | BPF_K, TO(&e, PORT), 0,
		    IPPROTO_UDP);
		put(&e, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, IPPROTO_HOPOPTS);
		put(&e, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, IPPROTO_ROUTING);
		put(&e, BPF_JMP | BPF_JEQ | BPF_K, 0, TO(&e, L_REJECT),
		    IPPROTO_DSTOPTS);
		/* the header's own next header, kept; X past it:
		 * (length + 1) * 8 bytes */
		put(&e, BPF_LD | BPF_B | BPF_IND, 0, 0, 0);
		put(&e, BPF_ST, 0, 0, 0);
		put(&e, BPF_LD | BPF_B | BPF_IND, 0, 0, 1);
		put(&e, BPF_ALU | BPF_ADD | BPF_K, 0, 0, 1);
		put(&e, BPF_ALU | BPF_LSH | BPF_K, 0, 0, 3);
		put(&e, BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0);
		put(&e, BPF_MISC | BPF_TAX, 0, 0, 0);
		put(&e, BPF_LD | BPF_MEM, 0, 0, 0);
	}
	/* FINAL: past V6_EXT_WALK headers, TCP or UDP or nothing */
	put(&e, BPF_JMP | BPF_JEQ | BPF_K, TO(&e, PORT), 0, IPPROTO_TCP);
	put(&e, BPF_JMP | BPF_JEQ | BPF_K, 0, TO(&e, L_REJECT), IPPROTO_UDP);
	/* PORT: the destination port, then the search */
	put(&e, BPF_LD | BPF_H | BPF_IND, 0, 0, 2);
	put(&e, BPF_JMP | BPF_JA, 0, 0, TO(&e, PROLOGUE));
	put(&e, BPF_RET | BPF_K, 0, 0, 0);
	/* PROLOGUE: the search */
	tree(&e, r, n);
	return (e.i);
}

/* a program that admits nothing */
static int
reject_all(struct bpf_program *prog)
{
	if ((prog->bf_insns = calloc(1, sizeof(*prog->bf_insns))) == NULL)
		return (-1);
	prog->bf_insns[0].code = BPF_RET | BPF_K;
	prog->bf_insns[0].k = 0;
	prog->bf_len = 1;
	return (0);
}

/*
 * Build the wake or the read filter (FILTER_WAKE, FILTER_READ) for these
 * live ports, the last ports first (filter_ranges()), into *prog, for
 * DLT_RAW (offsets from the IP header), under FILTER_INSNS_MAX
 * instructions.  0, or -1 with errno set.  Free with pcap_freecode().
 */
int
filter_compile(const uint16_t *ports, size_t n, size_t nlast, int which,
    struct bpf_program *prog)
{
	struct filter_range	*r;
	size_t			 nr, len, target;

	memset(prog, 0, sizeof(*prog));
	nr = filter_ranges(ports, n, nlast, which, &r);
	if (nr == (size_t)-1)
		return (-1);
	if (nr == 0)
		return (reject_all(prog));
	/* each range costs 4 or 5 instructions: aim under, then check */
	target = nr;
	for (;;) {
		nr = filter_merge(r, nr, target);
		len = PROLOGUE + tree_len(nr);
		if (len < FILTER_INSNS_MAX || nr == 1)
			break;
		target = nr * (FILTER_INSNS_MAX - PROLOGUE - 1) / len;
		if (target >= nr)
			target = nr - 1;
	}
	prog->bf_insns = build(r, nr, len);
	free(r);
	if (prog->bf_insns == NULL)
		return (-1);
	prog->bf_len = len;
	return (0);
}

/*
 * Attach prog, compiled for DLT_RAW (offsets from the IP header), to a
 * capture socket.  Its loads are moved to the kernel's network-header
 * base (SKF_NET_OFF), which the kernel finds on every link type, and
 * SO_ATTACH_FILTER swaps programs in one step.  pcap_setfilter() cannot
 * be used here: on Linux it first drains the socket through a reject-all
 * program, and a knock that arrives meanwhile is lost.
 */
int
filter_attach(int fd, const struct bpf_program *prog)
{
	struct sock_filter	*f;
	struct sock_fprog	 fp;
	unsigned int		 i, cls, mode;
	int			 rv;

	if (prog->bf_len == 0 || prog->bf_len > BPF_MAXINSNS) {
		errno = EINVAL;
		return (-1);
	}
	if ((f = calloc(prog->bf_len, sizeof(*f))) == NULL)
		return (-1);
	for (i = 0; i < prog->bf_len; i++) {
		f[i].code = prog->bf_insns[i].code;
		f[i].jt = prog->bf_insns[i].jt;
		f[i].jf = prog->bf_insns[i].jf;
		f[i].k = prog->bf_insns[i].k;
		cls = BPF_CLASS(f[i].code);
		mode = BPF_MODE(f[i].code);
		if (cls != BPF_LD && cls != BPF_LDX)
			continue;
		if (mode == BPF_ABS || mode == BPF_IND || mode == BPF_MSH)
			f[i].k += (uint32_t)SKF_NET_OFF;
		else if (mode == BPF_LEN) {
			/* the length would count the link header */
			free(f);
			errno = EINVAL;
			return (-1);
		}
	}
	fp.len = prog->bf_len;
	fp.filter = f;
	rv = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp));
	free(f);
	return (rv);
}

/*
 * Before the first live set: let nothing in.  Attached like every other
 * program, never with pcap_setfilter(): libpcap would keep it as its own
 * user-space filter and apply it to the first ring block after the next
 * change, dropping the first knock.
 */
int
filter_none(pcap_t *p)
{
	struct bpf_program	 prog;
	int			 rv;

	if (reject_all(&prog) == -1)
		return (-1);
	rv = filter_attach(pcap_fileno(p), &prog);
	pcap_freecode(&prog);
	return (rv);
}

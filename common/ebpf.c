/*
 * ebpf.c: the range filter as an eBPF socket filter, written as
 * instructions here (as filter.c writes the classic ones), and the map
 * it shares with pks-sniffer.
 *
 * H1 wants every packet of the knock protocol into the knock range that
 * advances no knock to reset its source.  Only a source with a knock in
 * progress can be reset, and a packet to a port that is neither a live
 * knock port nor a guard can never advance one: the kernel can drop it
 * if nothing it would have reset can complete.  Per prefix and protocol
 * (an IPv4 address, an IPv6 /64; hashed with a secret into one of
 * ebpf_buckets(), a collision only makes two prefixes share), the program
 * keeps:
 *
 *   touch    when it last hit a live port or guard, while under the
 *            wrong-hit rate: its other packets in the range are passed
 *            to the sniffer for window (knock-timeout and a margin)
 *            after, so a prefix knocking is judged in user space whole;
 *   tat      its wrong hits, counted like match.c's (SNIFF_WRONG_RATE a
 *            second, SNIFF_WRONG_BURST at once): a prefix over that rate
 *            gets no touch, and its packets are dropped, touched or not,
 *            those to live ports and guards too (a single-source
 *            random-port flood costs nothing);
 *   dropped  when a packet of it was last dropped;
 *   passed   when it last sent one elsewhere in the range (a wrong hit)
 *            that was passed (and recorded as dropped too if dropped):
 *            a passed one is lost if the range ring is full.
 *
 * Everything else in the range is dropped and counted (misses).  A
 * wrong hit is recorded by its own run, so no ordering between packets,
 * CPUs or captures can hide it: before a candidate advances, match.c
 * asks (range_dropped() in pks-sniffer) whether its bucket had a drop
 * since the candidate's last step, or, if the range ring lost frames
 * since then, a passed one, and resets it if so.  So a
 * sequence never completes across a packet that would have reset it,
 * whichever side saw that packet; a hash collision can only pass more
 * packets or reset more knocks, never hide a wrong hit.
 *
 * Live ports and guards pass, those outside the range too, so that the
 * range capture is the sniffer's only read capture (each packet read
 * once; pks-sniffer.c): unless their prefix is over the rate.  Then the
 * packet would start nothing in match.c (a prefix over the rate is
 * refused a start) and advance nothing: the prefix was under the rate
 * at the candidate's last step (passed) and is over it now, so a wrong
 * hit came in between, passed (and judged first) or dropped (recorded).
 * It is dropped, recorded and counted like a wrong hit, which in
 * match.c's terms it is.  Nothing else outside the range, and nothing
 * of another protocol, passes.
 *
 * The wake captures get a program of their own from the same code, for
 * the last ports only: a single-source flood over the rate wakes the
 * sniffer no more than it is read.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_packet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ebpf.h"

#define C1		0x9e3779b97f4a7c15ULL
#define C2		0xbf58476d1ce4e5b9ULL
#define NET		((int32_t)SKF_NET_OFF)
#define PASS_LEN	256		/* SNIFF_SNAPLEN: headers only */
#define INSNS_MAX	160
#define V6_EXT_WALK	3		/* as filter.c */

/* where the fields are, for the program */
#define O_MISSES	offsetof(struct ebpf_shared, misses)
#define O_WINDOW	offsetof(struct ebpf_shared, window)
#define O_KEY0		offsetof(struct ebpf_shared, key[0])
#define O_KEY1		offsetof(struct ebpf_shared, key[1])
#define O_RANGE		offsetof(struct ebpf_shared, range)
#define O_PORTS		offsetof(struct ebpf_shared, ports)
#define O_LAST		offsetof(struct ebpf_shared, last)
#define O_B		offsetof(struct ebpf_shared, b)
#define O_TOUCH		offsetof(struct ebpf_bucket, touch)
#define O_TAT		offsetof(struct ebpf_bucket, tat)
#define O_DROPPED	offsetof(struct ebpf_bucket, dropped)
#define O_PASSED	offsetof(struct ebpf_bucket, passed)

/* stack slots */
#define S_PREFIX	(-8)
#define S_NOW		(-16)
#define S_KEY		(-20)

enum label {
	L_DROP, L_PASS, L_V6, L_L4, L_TCP, L_PORT, L_LIVE, L_MISS, L_DROPREC,
	L_EXT, L_NLABELS = L_EXT + V6_EXT_WALK
};

struct prog {
	struct bpf_insn	 i[INSNS_MAX];
	int		 n;
	int		 at[L_NLABELS];
	struct {
		int	 insn;
		int	 label;
	}		 fix[64];
	int		 nfix;
};

static void
ins(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off,
    int32_t imm)
{
	struct bpf_insn	*i;

	if (p->n == INSNS_MAX)
		return;		/* ebpf_make() refuses it */
	i = &p->i[p->n++];
	memset(i, 0, sizeof(*i));
	i->code = code;
	i->dst_reg = dst;
	i->src_reg = src;
	i->off = off;
	i->imm = imm;
}

/* a conditional (or, op BPF_JA, plain) jump to a label */
static void
jmp(struct prog *p, uint8_t op, uint8_t dst, uint8_t src, int32_t imm,
    enum label l)
{
	if (p->nfix < (int)(sizeof(p->fix) / sizeof(p->fix[0]))) {
		p->fix[p->nfix].insn = p->n;
		p->fix[p->nfix++].label = l;
	}
	ins(p, BPF_JMP | op, dst, src, 0, imm);
}

static void
mark(struct prog *p, enum label l)
{
	p->at[l] = p->n;
}

static void
imm64(struct prog *p, uint8_t dst, uint8_t src, uint64_t v)
{
	ins(p, BPF_LD | BPF_DW | BPF_IMM, dst, src, 0, (int32_t)v);
	ins(p, 0, 0, 0, 0, (int32_t)(v >> 32));
}

#define ALU(p, op, d, k)	ins(p, BPF_ALU64 | (op) | BPF_K, d, 0, 0, k)
#define ALUX(p, op, d, s)	ins(p, BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define MOV(p, d, s)		ALUX(p, BPF_MOV, d, s)
#define LDX(p, sz, d, s, o)	ins(p, BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(p, sz, d, s, o)	ins(p, BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define LDABS(p, sz, k)		ins(p, BPF_LD | BPF_ABS | (sz), 0, 0, 0, NET + (k))
#define LDIND(p, sz, x, k)	ins(p, BPF_LD | BPF_IND | (sz), 0, x, 0, NET + (k))
#define CALL(p, fn)		ins(p, BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define EXIT(p)			ins(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* r1 *= c; r1 ^= r1 >> 32 (r2 used) */
static void
mix(struct prog *p, uint64_t c)
{
	imm64(p, BPF_REG_2, 0, c);
	ALUX(p, BPF_MUL, BPF_REG_1, BPF_REG_2);
	MOV(p, BPF_REG_2, BPF_REG_1);
	ALU(p, BPF_RSH, BPF_REG_2, 32);
	ALUX(p, BPF_XOR, BPF_REG_1, BPF_REG_2);
}

/*
 * The range program's verdict on a packet of the bucket at r2 (r3 now,
 * r4 its debt, r5 the most it may be and not be over, r8 the shared
 * value, r9 whether the port is live); on to L_PASS or L_DROP.
 */
static void
judge(struct prog *p)
{
	jmp(p, BPF_JEQ | BPF_K, BPF_REG_9, 0, 0, L_MISS);
	/* a live port or guard: over the rate, a wrong hit or a start
	 * match.c would refuse, dropped and recorded; else a touch */
	jmp(p, BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_5, 0, L_DROPREC);
	STX(p, BPF_DW, BPF_REG_2, BPF_REG_3, O_TOUCH);
	jmp(p, BPF_JA, 0, 0, 0, L_PASS);
	/* elsewhere in the range: a wrong hit for the debt */
	mark(p, L_MISS);
	MOV(p, BPF_REG_1, BPF_REG_4);
	ins(p, BPF_JMP | BPF_JGE | BPF_X, BPF_REG_1, BPF_REG_3, 1, 0);
	MOV(p, BPF_REG_1, BPF_REG_3);
	ALU(p, BPF_ADD, BPF_REG_1, EBPF_WRONG_NS);
	MOV(p, BPF_REG_0, BPF_REG_5);
	ALU(p, BPF_ADD, BPF_REG_0, EBPF_WRONG_NS);
	ins(p, BPF_JMP | BPF_JLE | BPF_X, BPF_REG_1, BPF_REG_0, 1, 0);
	MOV(p, BPF_REG_1, BPF_REG_0);
	STX(p, BPF_DW, BPF_REG_2, BPF_REG_1, O_TAT);
	/* recorded as passed (a passed one can still be lost, the range
	 * ring full); a drop overwrites nothing of it */
	STX(p, BPF_DW, BPF_REG_2, BPF_REG_3, O_PASSED);
	/* passed if touched lately and under the rate */
	jmp(p, BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_5, 0, L_DROPREC);
	LDX(p, BPF_DW, BPF_REG_1, BPF_REG_2, O_TOUCH);
	MOV(p, BPF_REG_0, BPF_REG_3);
	ALUX(p, BPF_SUB, BPF_REG_0, BPF_REG_1);
	LDX(p, BPF_DW, BPF_REG_1, BPF_REG_8, O_WINDOW);
	jmp(p, BPF_JLE | BPF_X, BPF_REG_0, BPF_REG_1, 0, L_PASS);
	mark(p, L_DROPREC);
	STX(p, BPF_DW, BPF_REG_2, BPF_REG_3, O_DROPPED);
	ins(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1);
	ins(p, BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_8, BPF_REG_1, O_MISSES,
	    BPF_ADD);
}

/*
 * The range program (wake 0) or the wake one, for the map mapfd.  The
 * wake captures' passes a last port of a live sequence (the map's last)
 * unless its prefix is over the rate, and records nothing: the range
 * program sees the same packet and keeps the records, once.  Registers
 * kept across the loads
 * (which clobber r0-r5): r6 the packet, r7 its protocol, r8 the
 * transport header's offset and then the shared value, r9 the port and
 * then whether it is live.
 */
static int
build(struct prog *p, int mapfd, uint32_t nbuckets, int wake)
{
	int	 k, j;

	memset(p, 0, sizeof(*p));
	MOV(p, BPF_REG_6, BPF_REG_1);
	/* what this host sends is no knock */
	LDX(p, BPF_W, BPF_REG_0, BPF_REG_6,
	    offsetof(struct __sk_buff, pkt_type));
	jmp(p, BPF_JEQ | BPF_K, BPF_REG_0, 0, PACKET_OUTGOING, L_DROP);
	LDABS(p, BPF_B, 0);
	ALU(p, BPF_AND, BPF_REG_0, 0xf0);
	jmp(p, BPF_JEQ | BPF_K, BPF_REG_0, 0, 0x60, L_V6);
	jmp(p, BPF_JNE | BPF_K, BPF_REG_0, 0, 0x40, L_DROP);
	/* IPv4, not a fragment; the address is the prefix */
	LDABS(p, BPF_H, 6);
	jmp(p, BPF_JSET | BPF_K, BPF_REG_0, 0, 0x3fff, L_DROP);
	LDABS(p, BPF_B, 0);
	ALU(p, BPF_AND, BPF_REG_0, 0xf);
	ALU(p, BPF_LSH, BPF_REG_0, 2);
	MOV(p, BPF_REG_8, BPF_REG_0);
	LDABS(p, BPF_W, 12);
	STX(p, BPF_DW, BPF_REG_10, BPF_REG_0, S_PREFIX);
	LDABS(p, BPF_B, 9);
	jmp(p, BPF_JA, 0, 0, 0, L_L4);
	/* IPv6: the /64, then up to V6_EXT_WALK extension headers */
	mark(p, L_V6);
	LDABS(p, BPF_W, 8);
	ALU(p, BPF_LSH, BPF_REG_0, 32);
	STX(p, BPF_DW, BPF_REG_10, BPF_REG_0, S_PREFIX);
	LDABS(p, BPF_W, 12);
	LDX(p, BPF_DW, BPF_REG_1, BPF_REG_10, S_PREFIX);
	ALUX(p, BPF_OR, BPF_REG_0, BPF_REG_1);
	STX(p, BPF_DW, BPF_REG_10, BPF_REG_0, S_PREFIX);
	ins(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_8, 0, 0, 40);
	LDABS(p, BPF_B, 6);
	for (k = 0; k < V6_EXT_WALK; k++) {
		jmp(p, BPF_JEQ | BPF_K, BPF_REG_0, 0, IPPROTO_TCP, L_L4);
		jmp(p, BPF_JEQ | BPF_K, BPF_REG_0, 0, IPPROTO_UDP, L_L4);
		jmp(p, BPF_JEQ | BPF_K, BPF_REG_0, 0, IPPROTO_HOPOPTS,
		    L_EXT + k);
		jmp(p, BPF_JEQ | BPF_K, BPF_REG_0, 0, IPPROTO_ROUTING,
		    L_EXT + k);
		jmp(p, BPF_JNE | BPF_K, BPF_REG_0, 0, IPPROTO_DSTOPTS, L_DROP);
		mark(p, L_EXT + k);
		/* its next header; past it: (length + 1) * 8 bytes */
		LDIND(p, BPF_B, BPF_REG_8, 0);
		MOV(p, BPF_REG_7, BPF_REG_0);
		LDIND(p, BPF_B, BPF_REG_8, 1);
		ALU(p, BPF_ADD, BPF_REG_0, 1);
		ALU(p, BPF_LSH, BPF_REG_0, 3);
		ALUX(p, BPF_ADD, BPF_REG_8, BPF_REG_0);
		MOV(p, BPF_REG_0, BPF_REG_7);
	}
	/* TCP (a SYN without ACK) or UDP */
	mark(p, L_L4);
	MOV(p, BPF_REG_7, BPF_REG_0);
	jmp(p, BPF_JEQ | BPF_K, BPF_REG_7, 0, IPPROTO_TCP, L_TCP);
	jmp(p, BPF_JEQ | BPF_K, BPF_REG_7, 0, IPPROTO_UDP, L_PORT);
	jmp(p, BPF_JA, 0, 0, 0, L_DROP);
	mark(p, L_TCP);
	LDIND(p, BPF_B, BPF_REG_8, 13);
	ALU(p, BPF_AND, BPF_REG_0, 0x12);
	jmp(p, BPF_JNE | BPF_K, BPF_REG_0, 0, 0x02, L_DROP);
	mark(p, L_PORT);
	LDIND(p, BPF_H, BPF_REG_8, 2);
	ALU(p, BPF_AND, BPF_REG_0, 0xffff);
	MOV(p, BPF_REG_9, BPF_REG_0);
	/* the time, and the shared value (none: pass, as the classic
	 * filter would) */
	CALL(p, BPF_FUNC_ktime_get_ns);
	STX(p, BPF_DW, BPF_REG_10, BPF_REG_0, S_NOW);
	ins(p, BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, S_KEY, 0);
	imm64(p, BPF_REG_1, BPF_PSEUDO_MAP_FD, (uint32_t)mapfd);
	MOV(p, BPF_REG_2, BPF_REG_10);
	ALU(p, BPF_ADD, BPF_REG_2, S_KEY);
	CALL(p, BPF_FUNC_map_lookup_elem);
	jmp(p, BPF_JEQ | BPF_K, BPF_REG_0, 0, 0, L_PASS);
	MOV(p, BPF_REG_8, BPF_REG_0);
	/* r2: a live port or guard, in the knock range or not */
	MOV(p, BPF_REG_1, BPF_REG_9);
	ALU(p, BPF_RSH, BPF_REG_1, 6);
	ALU(p, BPF_LSH, BPF_REG_1, 3);
	MOV(p, BPF_REG_2, BPF_REG_8);
	ALUX(p, BPF_ADD, BPF_REG_2, BPF_REG_1);
	LDX(p, BPF_DW, BPF_REG_2, BPF_REG_2, wake ? O_LAST : O_PORTS);
	MOV(p, BPF_REG_1, BPF_REG_9);
	ALU(p, BPF_AND, BPF_REG_1, 63);
	ALUX(p, BPF_RSH, BPF_REG_2, BPF_REG_1);
	ALU(p, BPF_AND, BPF_REG_2, 1);
	if (wake)	/* a last port, or nothing */
		jmp(p, BPF_JEQ | BPF_K, BPF_REG_2, 0, 0, L_DROP);
	else {
		/* any other port: in the knock range, or nothing */
		jmp(p, BPF_JNE | BPF_K, BPF_REG_2, 0, 0, L_LIVE);
		LDX(p, BPF_W, BPF_REG_1, BPF_REG_8, O_RANGE);
		MOV(p, BPF_REG_3, BPF_REG_1);
		ALU(p, BPF_AND, BPF_REG_3, 0xffff);
		ALU(p, BPF_RSH, BPF_REG_1, 16);
		jmp(p, BPF_JLT | BPF_X, BPF_REG_9, BPF_REG_3, 0, L_DROP);
		jmp(p, BPF_JGT | BPF_X, BPF_REG_9, BPF_REG_1, 0, L_DROP);
	}
	mark(p, L_LIVE);
	MOV(p, BPF_REG_9, BPF_REG_2);
	/* r2: the bucket (ebpf_bucket() is the same in C) */
	LDX(p, BPF_DW, BPF_REG_1, BPF_REG_10, S_PREFIX);
	LDX(p, BPF_DW, BPF_REG_2, BPF_REG_8, O_KEY0);
	ALUX(p, BPF_XOR, BPF_REG_1, BPF_REG_2);
	mix(p, C1);
	LDX(p, BPF_DW, BPF_REG_2, BPF_REG_8, O_KEY1);
	ALUX(p, BPF_XOR, BPF_REG_2, BPF_REG_7);
	ALUX(p, BPF_XOR, BPF_REG_1, BPF_REG_2);
	mix(p, C2);
	ALU(p, BPF_AND, BPF_REG_1, (int32_t)(nbuckets - 1));
	ALU(p, BPF_MUL, BPF_REG_1, sizeof(struct ebpf_bucket));
	MOV(p, BPF_REG_2, BPF_REG_8);
	ALUX(p, BPF_ADD, BPF_REG_2, BPF_REG_1);
	ALU(p, BPF_ADD, BPF_REG_2, O_B);
	/* r3 now, r4 the debt, r5 the most it may be and not be over */
	LDX(p, BPF_DW, BPF_REG_3, BPF_REG_10, S_NOW);
	LDX(p, BPF_DW, BPF_REG_4, BPF_REG_2, O_TAT);
	MOV(p, BPF_REG_5, BPF_REG_3);
	ALU(p, BPF_ADD, BPF_REG_5, EBPF_BURST_NS);
	if (wake) {
		/* over the rate: the range program drops it too, and
		 * records it; else it wakes the sniffer */
		jmp(p, BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_5, 0, L_DROP);
		jmp(p, BPF_JA, 0, 0, 0, L_PASS);
	} else
		judge(p);
	mark(p, L_DROP);
	ins(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	EXIT(p);
	mark(p, L_PASS);
	ins(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, PASS_LEN);
	EXIT(p);
	if (p->n == INSNS_MAX)
		return (-1);
	for (j = 0; j < p->nfix; j++) {
		k = p->fix[j].insn;
		p->i[k].off = p->at[p->fix[j].label] - k - 1;
	}
	return (0);
}

static int
sys_bpf(int cmd, union bpf_attr *a)
{
	return (syscall(__NR_bpf, cmd, a, sizeof(*a)));
}

/*
 * The buckets for max-sources: two a source, a power of two within
 * EBPF_BUCKETS_MIN..EBPF_BUCKETS_MAX.  The map is mapped whole by every
 * sniffer (32 bytes a bucket: 4 MB at the most, 1 MB for 16,384
 * sources), and a sniffer tracks no more sources than that in user space
 * either; a collision only passes more or resets more.
 */
uint32_t
ebpf_buckets(uint32_t max_sources)
{
	uint32_t	 n = EBPF_BUCKETS_MIN;

	while (n < EBPF_BUCKETS_MAX && n / 2 < max_sources)
		n *= 2;
	return (n);
}

/* 1 if n is a bucket count ebpf_buckets() can return */
int
ebpf_buckets_ok(uint32_t n)
{
	return (n >= EBPF_BUCKETS_MIN && n <= EBPF_BUCKETS_MAX &&
	    (n & (n - 1)) == 0);
}

/* the map's value with n buckets, in whole pages (what mmap maps) */
size_t
ebpf_size(uint32_t n)
{
	long	 pg = sysconf(_SC_PAGESIZE);
	size_t	 sz = sizeof(struct ebpf_shared) +
		    (size_t)n * sizeof(struct ebpf_bucket);

	if (pg <= 0)
		pg = 4096;
	return ((sz + (size_t)pg - 1) / (size_t)pg * (size_t)pg);
}

/* the range program (wake 0) or the wake one for the map m: its
 * descriptor, or -1 with why in errbuf */
static int
load(int m, uint32_t nbuckets, int wake, char *errbuf, size_t len)
{
	static struct prog	 p;
	static char		 log[4096];
	union bpf_attr		 a;
	char			*nl;
	int			 fd, e;

	if (build(&p, m, nbuckets, wake) == -1) {
		snprintf(errbuf, len, "program: more than %d instructions",
		    INSNS_MAX);
		return (-1);
	}
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)p.i;
	a.insn_cnt = p.n;
	a.license = (uintptr_t)"GPL";
	if ((fd = sys_bpf(BPF_PROG_LOAD, &a)) != -1)
		return (fd);
	/* again, for the verifier's verdict: its last line (a log too
	 * long for the buffer fails with ENOSPC by itself) */
	e = errno;
	log[0] = '\0';
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	(void)sys_bpf(BPF_PROG_LOAD, &a);
	while ((nl = strrchr(log, '\n')) != NULL && nl[1] == '\0')
		*nl = '\0';
	nl = strrchr(log, '\n');
	snprintf(errbuf, len, "%sprogram: %s%s%s", wake ? "wake " : "",
	    strerror(e), log[0] != '\0' ? ": " : "", nl != NULL ? nl + 1 : log);
	return (-1);
}

/*
 * The map with nbuckets (ebpf_buckets(); its secret key set), the
 * range program and the wake one, as
 * close-on-exec descriptors in *mapfd, *progfd and *wakefd: 0, or -1
 * with why in errbuf (no bpf(2), not allowed, the verifier's first
 * complaint).
 */
int
ebpf_make(uint32_t nbuckets, int *mapfd, int *progfd, int *wakefd,
    char *errbuf, size_t len)
{
	union bpf_attr		 a;
	struct ebpf_shared	*sh;
	int			 m, e;

	*mapfd = *progfd = *wakefd = -1;
	if (!ebpf_buckets_ok(nbuckets)) {
		snprintf(errbuf, len, "map: %u buckets", nbuckets);
		return (-1);
	}
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = sizeof(uint32_t);
	a.value_size = sizeof(struct ebpf_shared) +
	    nbuckets * sizeof(struct ebpf_bucket);
	a.max_entries = 1;
	a.map_flags = BPF_F_MMAPABLE;
	if ((m = sys_bpf(BPF_MAP_CREATE, &a)) == -1) {
		snprintf(errbuf, len, "map: %s", strerror(errno));
		return (-1);
	}
	sh = mmap(NULL, ebpf_size(nbuckets), PROT_READ | PROT_WRITE, MAP_SHARED,
	    m, 0);
	if (sh == MAP_FAILED) {
		snprintf(errbuf, len, "map: mmap: %s", strerror(errno));
		close(m);
		return (-1);
	}
	e = getrandom(sh->key, sizeof(sh->key), 0) != sizeof(sh->key);
	munmap(sh, ebpf_size(nbuckets));
	if (e) {
		snprintf(errbuf, len, "getrandom: %s", strerror(errno));
		close(m);
		return (-1);
	}
	if ((*progfd = load(m, nbuckets, 0, errbuf, len)) == -1 ||
	    (*wakefd = load(m, nbuckets, 1, errbuf, len)) == -1) {
		if (*progfd != -1)
			close(*progfd);
		*progfd = -1;
		close(m);
		return (-1);
	}
	*mapfd = m;
	return (0);
}

/* the bucket of a prefix (an IPv4 address, an IPv6 /64) and protocol,
 * among nbuckets, as the program finds it; addr in network order */
uint32_t
ebpf_bucket(const uint64_t *key, uint32_t nbuckets, int af,
    const uint8_t *addr, int proto)
{
	uint32_t	 w[2];
	uint64_t	 h;

	memcpy(w, addr, sizeof(w));
	if (af == AF_INET)
		h = ntohl(w[0]);
	else
		h = (uint64_t)ntohl(w[0]) << 32 | ntohl(w[1]);
	h = (h ^ key[0]) * C1;
	h ^= h >> 32;
	h ^= key[1] ^ (uint64_t)proto;
	h *= C2;
	h ^= h >> 32;
	return (h & (nbuckets - 1));
}

/*
 * ebpf.h: the knock range judged in the kernel (issue 13, H1).
 *
 * pks-monitor makes two eBPF socket filters and one array map at start,
 * before its own seccomp filter (no bpf(2) after that), and hands them
 * to every pks-sniffer it starts.  The sniffer attaches the programs to
 * its range and wake captures and maps the map's one value, struct
 * ebpf_shared: from then on the two sides talk through that memory
 * only.  The layout
 * is here so that both sides, and the program's offsets, agree.
 */
#ifndef PKS_EBPF_H
#define PKS_EBPF_H

#include <stddef.h>
#include <stdint.h>

#define EBPF_BUCKETS_MIN (1U << 12)	/* per prefix and protocol, hashed: */
#define EBPF_BUCKETS_MAX (1U << 17)	/* 2 per max-sources, in these bounds
					 * (ebpf_buckets()) */
#define EBPF_WRONG_NS	2000000ULL	/* a wrong hit: 1 s / SNIFF_WRONG_RATE */
#define EBPF_BURST_NS	(256 * EBPF_WRONG_NS)	/* SNIFF_WRONG_BURST of them */
#define EBPF_SLACK_NS	1000000ULL	/* the sniffer's clock against the
					 * kernel's, at most (ebpf_dropped()) */

/* a prefix (an IPv4 address, an IPv6 /64) and protocol, by its hash */
struct ebpf_bucket {
	uint64_t	touch;		/* a live port or guard, under the rate */
	uint64_t	tat;		/* wrong hits: when the debt is paid */
	uint64_t	dropped;	/* the last packet dropped here */
	uint64_t	passed;		/* the last wrong hit passed */
};

/* times are the kernel's CLOCK_MONOTONIC, in ns */
struct ebpf_shared {
	uint64_t	misses;		/* kernel: packets dropped, in all */
	uint64_t	window;		/* sniffer: how long a touch lets the
					 * bucket's other packets in */
	uint64_t	key[2];		/* monitor, then each sniffer at its
					 * start: the hash's secret */
	uint32_t	range;		/* sniffer: lo | hi << 16; 0: none */
	uint32_t	pad;
	uint64_t	ports[65536 / 64];	/* sniffer: live ports, guards */
	uint64_t	last[65536 / 64];	/* sniffer: last ports (wake) */
	struct ebpf_bucket b[];		/* ebpf_buckets() of them */
};

/* ebpf.c */
uint32_t	 ebpf_buckets(uint32_t);
int		 ebpf_buckets_ok(uint32_t);
int		 ebpf_make(uint32_t, int *, int *, int *, char *, size_t);
uint32_t	 ebpf_bucket(const uint64_t *, uint32_t, int, const uint8_t *,
		    int);
size_t		 ebpf_size(uint32_t);

#endif /* PKS_EBPF_H */

/*
 * sniffer.h: the parts of pks-sniffer, one group per file.
 *
 * parse.c turns a captured frame into a struct pkt (or refuses it),
 * match.c keeps the live sequences and the per-source knock state,
 * filter.c builds the two kernel filters (wake, read) from the live ports,
 * stamp.c turns a capture's wall-clock stamps into monotonic time,
 * sandbox.c holds the seccomp allow-list.
 */
#ifndef PKS_SNIFFER_H
#define PKS_SNIFFER_H

#include <stddef.h>
#include <stdint.h>

#include "pks.h"
#include "sandbox.h"

#define SNIFF_SNAPLEN		256	/* headers only: enough for a knock */
#define SNIFF_V6_EXT_MAX	8	/* extension headers walked, at most */
#define SNIFF_CANDS		4	/* knocks in progress per source */
#define SNIFF_WRONG_RATE	500	/* wrong hits a second per prefix and
					 * protocol, sustained ... */
#define SNIFF_WRONG_BURST	256	/* ... and at once; past either, the
					 * prefix starts no knock */
#define SNIFF_SOURCES_MAX	(1U << 20)	/* highest max-sources accepted */
#define SNIFF_TIMEOUT_MAX	3600	/* highest knock-timeout accepted */
#define SNIFF_SEQS_MAX		65536	/* live sequences, at most: more than a
					 * restarted sniffer can be sent
					 * (IMSG_MAX_QUEUED), and the size
					 * test_sniffer_sandbox runs at */
#define NPORTS			65536	/* TCP and UDP ports: 0 to 65535 */
#define FILTER_INSNS_MAX	4096	/* classic BPF: BPF_MAXINSNS */
_Static_assert(PKS_SEQUENCES_MAX + PKS_RECOVERY_MAX <= SNIFF_SEQS_MAX,
    "max-sequences must fit in the sniffer's table");

/* what a frame that may be a knock boils down to */
struct pkt {
	uint8_t		af;		/* AF_INET or AF_INET6 */
	uint8_t		proto;		/* IPPROTO_TCP (SYN, no ACK) or _UDP */
	uint16_t	dport;		/* host order, never 0 */
	uint8_t		src[16];	/* network order; v4 in first 4 */
	uint8_t		ext;		/* IPv6 extension headers walked */
};

/* parse.c */
int	parse_frame(int, const uint8_t *, size_t, struct pkt *);
int	parse_dlt_ok(int);

/* match.c */
struct match;
/* why a knock in progress, or one about to start, was refused */
enum match_refusal {
	REFUSE_RESET,		/* a packet that advanced nothing reset it */
	REFUSE_TIMEOUT,		/* knock-timeout passed since its last knock */
	REFUSE_EVICTED,		/* SNIFF_CANDS newer knocks pushed it out */
	REFUSE_COOLING,		/* a first port, its prefix over the rate */
	REFUSE_BOUND,		/* a first port, bound to another address */
	REFUSE_DROPPED		/* the kernel saw a packet that would
				 * have reset it (range.c) */
};
typedef void	(*match_refused_fn)(const struct pkt *, enum match_refusal,
		    uint32_t, unsigned int);
typedef int	(*match_dropped_fn)(const struct pkt *, uint64_t);
struct match	*match_new(uint32_t, uint32_t, const uint8_t *);
void		 match_free(struct match *);
const char	*match_seq_check(const struct pks_seq *);
int		 match_seq_add(struct match *, const struct pks_seq *);
int		 match_seq_del(struct match *, uint32_t);
int		 match_packet(struct match *, const struct pkt *, uint64_t,
		    struct pks_knock *);
int		 match_packet_at(struct match *, const struct pkt *, uint64_t,
		    uint64_t, struct pks_knock *);
void		 match_expire(struct match *, uint64_t);
void		 match_on_refusal(struct match *, match_refused_fn);
void		 match_on_drop(struct match *, match_dropped_fn);
void		 match_set_range(struct match *, uint16_t, uint16_t);
int		 match_progress(struct match *, const struct pkt *);
void		 match_counters(struct match *, unsigned long long *,
		    unsigned long long *);
size_t		 match_nsources(const struct match *);
size_t		 match_nseqs(const struct match *);
size_t		 match_ports(const struct match *, uint16_t **, size_t *);

/* port bitmaps: uint64_t[65536 / 64] */
#define BIT_SET(b, p)	((b)[(p) >> 6] |= 1ULL << ((p) & 63))
#define BIT_CLR(b, p)	((b)[(p) >> 6] &= ~(1ULL << ((p) & 63)))
#define BIT_ISSET(b, p)	(((b)[(p) >> 6] >> ((p) & 63)) & 1)

/* filter.c */
struct bpf_program;
typedef struct pcap pcap_t;
struct filter_range {
	uint16_t	lo;
	uint16_t	hi;
};
#define FILTER_WAKE	0	/* the last ports of live sequences */
#define FILTER_READ	1	/* the other knock ports, and the guards */
#define FILTER_RANGE	2	/* the whole knock range (wrong hits) */
size_t	filter_ranges(const uint16_t *, size_t, size_t, int,
	    struct filter_range **);
size_t	filter_merge(struct filter_range *, size_t, size_t);
int	filter_compile(const uint16_t *, size_t, size_t, int,
	    struct bpf_program *);
int	filter_none(pcap_t *);
int	filter_attach(int, const struct bpf_program *);
void	filter_set_range(uint16_t, uint16_t);

/* range.c */
int		 range_setup(int, int, int, uint32_t, uint16_t, uint16_t,
		    uint32_t);
int		 range_active(void);
int		 range_attach(int, int);
void		 range_ports(const uint16_t *, size_t, int);
void		 range_last(const uint16_t *, size_t);
uint64_t	 range_misses(void);
int		 range_dropped(const struct pkt *, uint64_t);
void		 range_lost(uint64_t, int);

/* stamp.c */
#define STAMP_AGE_MAX_NS	5000000000ULL	/* a frame older: no time */
#define STAMP_HOLD_NS		10000000000ULL	/* a backward step: the
						 * old difference kept */
#define STAMP_UNORDER_NS	100000000LL	/* a ring's stamps going
						 * back more: a step (not
						 * CPUs' backlogs; NTP
						 * slews smaller offsets) */
struct stamp_clock {
	int64_t		level;		/* wall - monotonic, ns, now */
	int64_t		hi;		/* the one frames are read by */
	uint64_t	hold;		/* hi kept until then (monotonic) */
	uint64_t	mono;		/* the last reading */
	int64_t		back;		/* the last backward step, ns */
	unsigned int	steps;		/* backward steps seen */
	int		init;
};
void		 stamp_read(struct stamp_clock *, uint64_t, int64_t);
uint64_t	 stamp_mono(const struct stamp_clock *, int64_t);

/* sandbox.c */
extern const struct sandbox_rule	sniffer_rules[];
extern const size_t			sniffer_nrules;

#endif /* PKS_SNIFFER_H */

/*
 * filter.c: the kernel filter, so that packets which cannot be a knock
 * never reach user space.
 *
 * It admits an unfragmented IPv4 TCP SYN without ACK, or UDP datagram,
 * to a live knock port or a guard port (PKS_GUARD either side of each
 * knock port: a sweep must be seen to be refused); IPv6 TCP and UDP to
 * the same ports, whatever their flags (parse.c checks them); and IPv6
 * packets whose first next header is hop-by-hop, routing or destination
 * options, which only user space can walk.
 *
 * Classic BPF stops at 4096 instructions and each port range costs a
 * few.  When the live set is too large, the ranges closest to each
 * other are merged until the program fits: the filter then lets in a
 * little more than it must, which match.c ignores, and it always loads.
 */
#include <errno.h>
#include <sys/socket.h>

#include <linux/filter.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sniffer.h"

#define NPORTS		65536

/* the IPv4 destination port, after options */
#define DPORT4		"ip[((ip[0] & 0xf) << 2) + 2:2]"
/* the IPv6 destination port, with no extension header */
#define DPORT6		"ip6[42:2]"

/*
 * The sorted, merged ranges that cover each port and its guards.
 * *rp is allocated (NULL if n is 0); returns the number of ranges, or
 * (size_t)-1 if out of memory.
 */
size_t
filter_ranges(const uint16_t *ports, size_t n, struct filter_range **rp)
{
	struct filter_range	*r;
	uint8_t			*on;
	size_t			 i, nr = 0;
	long			 p, lo, hi;

	*rp = NULL;
	if ((on = calloc(NPORTS, 1)) == NULL)
		return ((size_t)-1);
	for (i = 0; i < n; i++) {
		if (ports[i] == 0)
			continue;
		lo = ports[i] > PKS_GUARD ? ports[i] - PKS_GUARD : 1;
		hi = ports[i] + PKS_GUARD < NPORTS ? ports[i] + PKS_GUARD :
		    NPORTS - 1;
		for (p = lo; p <= hi; p++)
			on[p] = 1;
	}
	for (p = 1; p < NPORTS; p++)
		if (on[p] && !on[p - 1])
			nr++;
	if (nr == 0) {
		free(on);
		return (0);
	}
	if ((r = calloc(nr, sizeof(*r))) == NULL) {
		free(on);
		return ((size_t)-1);
	}
	for (nr = 0, p = 1; p < NPORTS; p++) {
		if (on[p] && !on[p - 1])
			r[nr].lo = p;
		if (on[p] && (p == NPORTS - 1 || !on[p + 1]))
			r[nr++].hi = p;
	}
	free(on);
	*rp = r;
	return (nr);
}

static const struct filter_range	*gap_base;

/* order gap indexes by the width of the gap after range i */
static int
gap_cmp(const void *a, const void *b)
{
	size_t	 i = *(const size_t *)a, j = *(const size_t *)b;
	long	 gi, gj;

	gi = (long)gap_base[i + 1].lo - gap_base[i].hi;
	gj = (long)gap_base[j + 1].lo - gap_base[j].hi;
	if (gi != gj)
		return (gi < gj ? -1 : 1);
	return (i < j ? -1 : i > j);
}

/*
 * Merge sorted ranges in place, closing the narrowest gaps first,
 * until at most target remain (target >= 1).  Returns the new count.
 */
size_t
filter_merge(struct filter_range *r, size_t n, size_t target)
{
	size_t	*gaps, i, out;
	uint8_t	*shut;

	if (target < 1)
		target = 1;
	if (n <= target)
		return (n);
	gaps = calloc(n - 1, sizeof(*gaps));
	shut = calloc(n - 1, 1);
	if (gaps == NULL || shut == NULL) {
		/* no memory to choose: one range over everything */
		free(gaps);
		free(shut);
		r[0].hi = r[n - 1].hi;
		return (1);
	}
	for (i = 0; i < n - 1; i++)
		gaps[i] = i;
	gap_base = r;
	qsort(gaps, n - 1, sizeof(*gaps), gap_cmp);
	for (i = 0; i < n - target; i++)
		shut[gaps[i]] = 1;
	for (out = 0, i = 0; i < n; i++) {
		if (i > 0 && shut[i - 1])
			r[out - 1].hi = r[i].hi;
		else
			r[out++] = r[i];
	}
	free(gaps);
	free(shut);
	return (out);
}

static int
add_ranges(char *buf, size_t len, size_t *off, const char *load,
    const struct filter_range *r, size_t n)
{
	size_t	 i;
	int	 w;

	for (i = 0; i < n; i++) {
		w = snprintf(buf + *off, len - *off,
		    "%s(%s >= %u and %s <= %u)", i ? " or " : "", load,
		    r[i].lo, load, r[i].hi);
		if (w < 0 || (size_t)w >= len - *off)
			return (-1);
		*off += w;
	}
	return (0);
}

/* the pcap-filter(7) expression for these ranges (n >= 1), allocated */
char *
filter_expr(const struct filter_range *r, size_t n)
{
	char	*buf;
	size_t	 len, off = 0;
	int	 w;

	len = 512 + n * 2 * (2 * sizeof(DPORT4) + 32);
	if ((buf = malloc(len)) == NULL)
		return (NULL);
	w = snprintf(buf, len, "(ip and ip[6:2] & 0x3fff == 0 and "
	    "((ip[9] == 6 and ip[((ip[0] & 0xf) << 2) + 13] & 0x12 == 0x02)"
	    " or ip[9] == 17) and (");
	off = w;
	if (add_ranges(buf, len, &off, DPORT4, r, n) == -1)
		goto fail;
	w = snprintf(buf + off, len - off,
	    ")) or (ip6 and (ip6[6] == 6 or ip6[6] == 17) and (");
	if (w < 0 || (size_t)w >= len - off)
		goto fail;
	off += w;
	if (add_ranges(buf, len, &off, DPORT6, r, n) == -1)
		goto fail;
	w = snprintf(buf + off, len - off, ")) or (ip6 and (ip6[6] == 0 or "
	    "ip6[6] == 43 or ip6[6] == 60))");
	if (w < 0 || (size_t)w >= len - off)
		goto fail;
	return (buf);
 fail:
	free(buf);
	return (NULL);
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
 * Compile the filter for these live ports on p's link type into *prog,
 * under FILTER_INSNS_MAX instructions.  0, or -1: the pcap error (or
 * errno, if pcap_geterr() is empty) says why.  Free with pcap_freecode().
 */
int
filter_compile(pcap_t *p, const uint16_t *ports, size_t n,
    struct bpf_program *prog)
{
	struct filter_range	*r;
	size_t			 nr, target;
	char			*expr;
	int			 rv;

	memset(prog, 0, sizeof(*prog));
	nr = filter_ranges(ports, n, &r);
	if (nr == (size_t)-1)
		return (-1);
	if (nr == 0)
		return (reject_all(prog));
	target = nr < FILTER_RANGES_MAX ? nr : FILTER_RANGES_MAX;
	for (;;) {
		nr = filter_merge(r, nr, target);
		if ((expr = filter_expr(r, nr)) == NULL) {
			free(r);
			return (-1);
		}
		rv = pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
		free(expr);
		if (rv == PCAP_ERROR) {
			free(r);
			return (-1);
		}
		if (prog->bf_len < FILTER_INSNS_MAX || nr == 1)
			break;
		/* cost is close to linear in the ranges: aim under it */
		target = nr * (FILTER_INSNS_MAX - 256) / prog->bf_len;
		if (target >= nr)
			target = nr - 1;
		pcap_freecode(prog);
	}
	free(r);
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

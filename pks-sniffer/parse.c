/*
 * parse.c: from a captured frame to a struct pkt.
 *
 * Everything here is hostile input.  Each layer checks that what it
 * reads lies inside the captured bytes (caplen) and inside the length
 * the layer below claims, and refuses the frame otherwise.  Only what
 * can be a knock comes out: an unfragmented IPv4 or IPv6 packet that
 * carries a TCP SYN without ACK, or a UDP datagram, to a non-zero port.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pcap/dlt.h>
#include <stdint.h>
#include <string.h>

#include "sniffer.h"

#define ETH_HLEN	14
#define VLAN_HLEN	4
#define VLAN_DEPTH	2	/* 802.1Q, or QinQ: outer and inner tag */
#define SLL_HLEN	16
#define SLL2_HLEN	20
#define SLL_OUTGOING	4	/* sll_pkttype: sent by this host */
#define IP4_HLEN	20
#define IP6_HLEN	40
#define TCP_HLEN	20
#define UDP_HLEN	8

#define ET_IP4		0x0800
#define ET_IP6		0x86dd
#define ET_8021Q	0x8100
#define ET_8021AD	0x88a8
#define ET_QINQ_OLD	0x9100

#define TH_SYN		0x02
#define TH_ACK		0x10

#define IP4_MF		0x2000
#define IP4_OFFMASK	0x1fff

static int	parse_ether(const uint8_t *, size_t, struct pkt *);
static int	parse_ethertype(unsigned int, const uint8_t *, size_t,
		    struct pkt *);
static int	parse_ip4(const uint8_t *, size_t, struct pkt *);
static int	parse_ip6(const uint8_t *, size_t, struct pkt *);
static int	parse_l4(int, const uint8_t *, size_t, struct pkt *);

static unsigned int
get16(const uint8_t *p)
{
	return ((unsigned int)p[0] << 8 | p[1]);
}

int
parse_dlt_ok(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return (1);
	}
	return (0);
}

/*
 * Returns 0 and fills *pkt if the frame may be a knock, -1 otherwise.
 * *pkt is written only on success.
 */
int
parse_frame(int dlt, const uint8_t *p, size_t caplen, struct pkt *pkt)
{
	struct pkt	 tmp;
	int		 rv;

	memset(&tmp, 0, sizeof(tmp));
	switch (dlt) {
	case DLT_EN10MB:
		rv = parse_ether(p, caplen, &tmp);
		break;
	case DLT_LINUX_SLL:
		/* pkttype(2) hatype(2) halen(2) addr(8) protocol(2) */
		if (caplen < SLL_HLEN || get16(p) == SLL_OUTGOING)
			return (-1);
		rv = parse_ethertype(get16(p + 14), p + SLL_HLEN,
		    caplen - SLL_HLEN, &tmp);
		break;
	case DLT_LINUX_SLL2:
		/* protocol(2) mbz(2) ifindex(4) hatype(2) pkttype(1)
		 * halen(1) addr(8) */
		if (caplen < SLL2_HLEN || p[10] == SLL_OUTGOING)
			return (-1);
		rv = parse_ethertype(get16(p), p + SLL2_HLEN,
		    caplen - SLL2_HLEN, &tmp);
		break;
	case DLT_RAW:
		if (caplen < 1)
			return (-1);
		if (p[0] >> 4 == 4)
			rv = parse_ip4(p, caplen, &tmp);
		else if (p[0] >> 4 == 6)
			rv = parse_ip6(p, caplen, &tmp);
		else
			rv = -1;
		break;
	case DLT_IPV4:
		rv = parse_ip4(p, caplen, &tmp);
		break;
	case DLT_IPV6:
		rv = parse_ip6(p, caplen, &tmp);
		break;
	default:
		rv = -1;
		break;
	}
	if (rv == 0)
		*pkt = tmp;
	return (rv);
}

static int
parse_ether(const uint8_t *p, size_t caplen, struct pkt *pkt)
{
	if (caplen < ETH_HLEN)
		return (-1);
	return (parse_ethertype(get16(p + 12), p + ETH_HLEN,
	    caplen - ETH_HLEN, pkt));
}

/* p points past the ethertype; VLAN tags are skipped, at most two */
static int
parse_ethertype(unsigned int et, const uint8_t *p, size_t caplen,
    struct pkt *pkt)
{
	int	 depth;

	for (depth = 0; et == ET_8021Q || et == ET_8021AD ||
	    et == ET_QINQ_OLD; depth++) {
		/* tag: TCI(2) then the next ethertype(2) */
		if (depth == VLAN_DEPTH || caplen < VLAN_HLEN)
			return (-1);
		et = get16(p + 2);
		p += VLAN_HLEN;
		caplen -= VLAN_HLEN;
	}
	if (et == ET_IP4)
		return (parse_ip4(p, caplen, pkt));
	if (et == ET_IP6)
		return (parse_ip6(p, caplen, pkt));
	return (-1);
}

static int
parse_ip4(const uint8_t *p, size_t caplen, struct pkt *pkt)
{
	size_t		 hlen, tlen;

	if (caplen < IP4_HLEN || p[0] >> 4 != 4)
		return (-1);
	hlen = (size_t)(p[0] & 0x0f) * 4;
	tlen = get16(p + 2);
	if (hlen < IP4_HLEN || tlen < hlen || hlen > caplen)
		return (-1);
	/* a fragment cannot be matched on its own: drop all of them */
	if (get16(p + 6) & (IP4_MF | IP4_OFFMASK))
		return (-1);
	/* the transport header must be both captured and sent */
	if (tlen < caplen)
		caplen = tlen;
	pkt->af = AF_INET;
	memcpy(pkt->src, p + 12, 4);
	pkt->ext = 0;
	return (parse_l4(p[9], p + hlen, caplen - hlen, pkt));
}

static int
parse_ip6(const uint8_t *p, size_t caplen, struct pkt *pkt)
{
	size_t		 plen, elen;
	int		 nxt, n;

	if (caplen < IP6_HLEN || p[0] >> 4 != 6)
		return (-1);
	plen = get16(p + 4);
	/* payload length 0 is a jumbogram or a lie: neither is a knock */
	if (plen == 0)
		return (-1);
	nxt = p[6];
	pkt->af = AF_INET6;
	memcpy(pkt->src, p + 8, 16);
	caplen -= IP6_HLEN;
	if (plen < caplen)
		caplen = plen;
	p += IP6_HLEN;

	for (n = 0; ; n++) {
		switch (nxt) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
			pkt->ext = n > 0;
			return (parse_l4(nxt, p, caplen, pkt));
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			/* next header(1), length in 8-octet units - 1 */
			if (n == SNIFF_V6_EXT_MAX || caplen < 2)
				return (-1);
			elen = ((size_t)p[1] + 1) * 8;
			if (elen > caplen)
				return (-1);
			nxt = p[0];
			p += elen;
			caplen -= elen;
			break;
		default:
			/* fragment, ESP, AH, no next header, ... */
			return (-1);
		}
	}
}

static int
parse_l4(int proto, const uint8_t *p, size_t caplen, struct pkt *pkt)
{
	unsigned int	 dport;

	if (proto == IPPROTO_TCP) {
		if (caplen < TCP_HLEN || (p[12] >> 4) < 5)
			return (-1);
		if ((p[13] & (TH_SYN | TH_ACK)) != TH_SYN)
			return (-1);
	} else if (proto == IPPROTO_UDP) {
		if (caplen < UDP_HLEN || get16(p + 4) < UDP_HLEN)
			return (-1);
	} else
		return (-1);
	dport = get16(p + 2);
	if (dport == 0)
		return (-1);
	pkt->proto = proto;
	pkt->dport = dport;
	return (0);
}

/*
 * fuzz_packet: libFuzzer target for pks-sniffer's frame parser.
 *
 * Input: one byte choosing the link type (modulo the table below), then
 * the captured bytes.  The seed corpus, tests/fuzz/corpus/packet/, holds
 * real frames of each kind, whole and truncated.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       -Ipks-sniffer -o build/fuzz/fuzz_packet tests/fuzz/fuzz_packet.c \
 *       pks-sniffer/parse.c
 *   build/fuzz/fuzz_packet -max_len=512 tests/fuzz/corpus/packet
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pcap/dlt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniffer.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int	 dlts[] = {
	DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4, DLT_IPV6
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt	 pkt, before;
	int		 dlt;

	if (size < 1)
		return (0);
	dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	memset(&pkt, 0xa5, sizeof(pkt));
	before = pkt;
	if (parse_frame(dlt, data + 1, size - 1, &pkt) == -1) {
		/* a refused frame leaves the output alone */
		if (memcmp(&pkt, &before, sizeof(pkt)) != 0)
			abort();
		return (0);
	}
	/* what comes out is always something the matcher can take */
	if (pkt.af != AF_INET && pkt.af != AF_INET6)
		abort();
	if (pkt.proto != IPPROTO_TCP && pkt.proto != IPPROTO_UDP)
		abort();
	if (pkt.dport == 0)
		abort();
	if (pkt.af == AF_INET && memcmp(pkt.src + 4,
	    "\0\0\0\0\0\0\0\0\0\0\0\0", 12) != 0)
		abort();
	return (0);
}

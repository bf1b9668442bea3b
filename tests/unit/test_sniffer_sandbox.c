/*
 * test_sniffer_sandbox: pks-sniffer's seccomp allow-list holds at the
 * largest workload the configuration allows, not only the usual one
 * (issue 14: past ~1,000 live sequences the filter merge's qsort(3)
 * called sysinfo(2) and the kernel killed the sniffer).  The real
 * matching and filter code runs in a child under the real allow-list:
 * SNIFF_SEQS_MAX live sequences (each filter merged down to its
 * instruction cap), the source table at SNIFF_SOURCES_MAX and past it
 * (eviction), every sequence deleted and the set rebuilt (free list,
 * a restart's push), and log lines at their longest.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "sniffer.h"
#include "sandboxrun.h"

static struct match	*m;
static uint32_t		 rnd = 12345;

static uint32_t
next_rnd(void)
{
	rnd = rnd * 1103515245 + 12345;
	return (rnd >> 8);
}

static void
fill(uint32_t n, uint32_t id0, uint8_t len)
{
	struct pks_seq	 s;
	uint32_t	 i, span = 40000 / len;
	int		 k;

	for (i = 0; i < n; i++) {
		memset(&s, 0, sizeof(s));
		s.id = id0 + i;
		s.len = len;
		s.proto = IPPROTO_TCP;
		for (k = 0; k < len; k++)
			s.ports[k] = 20000 + k * span +
			    next_rnd() % (span - 2 * PKS_GUARD - 8);
		SBR_CHECK(match_seq_add(m, &s) == 0);
	}
}

/* both filters for the live set, under the cap, as refilter() does */
static void
filters(void)
{
	struct bpf_program	 prog;
	uint16_t		*ports;
	size_t			 n, nlast;
	int			 which;

	n = match_ports(m, &ports, &nlast);
	SBR_CHECK(ports != NULL && nlast == match_nseqs(m));
	for (which = FILTER_WAKE; which <= FILTER_READ; which++) {
		SBR_CHECK(filter_compile(ports, n, nlast, which, &prog) == 0);
		SBR_CHECK(prog.bf_len > 1 && prog.bf_len <= FILTER_INSNS_MAX);
		pcap_freecode(&prog);
	}
	free(ports);
}

static void
before(void)
{
	uint8_t	 key[16] = { 1, 2, 3 };

	/* as in the sniffer: the source table exists before the drop */
	log_init("pks-sniffer", 1, 2);
	m = match_new(SNIFF_SOURCES_MAX, SNIFF_TIMEOUT_MAX, key);
	SBR_CHECK(m != NULL);
}

static void
largest(void)
{
	struct pks_knock	 k;
	struct pkt		 pkt;
	char			 line[4 * 1024];
	uint32_t		 i;

	/* the live set at its cap; longest sequences in part of it */
	fill(SNIFF_SEQS_MAX - 4096, 1, 3);
	fill(4096, SNIFF_SEQS_MAX - 4095, PKS_SEQ_MAX);
	SBR_CHECK(match_nseqs(m) == SNIFF_SEQS_MAX);
	filters();
	/* more sources than the table holds: every entry, then eviction */
	memset(&pkt, 0, sizeof(pkt));
	pkt.af = AF_INET6;
	pkt.proto = IPPROTO_TCP;
	pkt.src[0] = 0xfd;
	for (i = 0; i < SNIFF_SOURCES_MAX + 4096; i++) {
		memcpy(pkt.src + 8, &i, sizeof(i));
		pkt.dport = 20000 + next_rnd() % 40000;
		(void)match_packet(m, &pkt, 1000 + i / 1024, &k);
	}
	SBR_CHECK(match_nsources(m) == SNIFF_SOURCES_MAX);
	match_expire(m, (uint64_t)SNIFF_TIMEOUT_MAX * 1000 * 4);
	SBR_CHECK(match_nsources(m) == 0);
	/* every sequence gone, then the set again (a restart's push) */
	for (i = 1; i <= SNIFF_SEQS_MAX; i++)
		SBR_CHECK(match_seq_del(m, i) == 0);
	fill(SNIFF_SEQS_MAX, 1, 3);
	filters();
	/* the longest log line, as stderr in the foreground */
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	log_warnx("%s", line);
	match_free(m);
}

static void
sandbox_holds_at_largest_workload(void **state)
{
	(void)state;
	assert_int_equal(sandbox_run(sniffer_rules, sniffer_nrules, before,
	    largest), 0);
}

/* each forbidden call kills: a call the list lacks, write() past
 * stderr, sendmsg() past the socketpair, executable memory, SO_LINGER
 * (issue 13, M3) */
static void
forbidden_calls_are_killed(void **state)
{
	(void)state;
	assert_int_equal(sandbox_run_tries(sniffer_rules, sniffer_nrules), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sandbox_holds_at_largest_workload),
		cmocka_unit_test(forbidden_calls_are_killed),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

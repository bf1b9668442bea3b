#!/usr/bin/env python3
"""The knock range judged in the kernel (issue 13, H1; common/ebpf.c), and
without it (the test hook PKS_TEST_NO_EBPF: the classic filter reads the
whole range, as on a kernel that refuses eBPF).  On both paths:

- a fresh source's packets into the knock range away from every live port
  are wrong hits, counted in pksctl status and the aggregate log line; in
  the kernel they are dropped there ("N of them dropped in the kernel"),
  without it they are read and judged;
- a knock with a wrong port in the middle (p1, X, p2, p3; X in the range,
  no live port or guard) opens nothing: p1 lets its prefix's packets in,
  so X reaches the sniffer and resets it;
- a real knock still opens.

In the kernel only: a source over the wrong-hit rate (a burst of SYNs)
gets nothing let in, so its misses after p1 are dropped in the kernel;
its knock is reset all the same, the log says the kernel saw a wrong
hit since its last knock, and nothing opens."""
import os
import re
import sys

import pkstest
from pkstest import tap, SRV4, SRV6, CLI4, ADA

FRESH = "198.18.0.4"	# misses only
WRONG = "198.18.0.5"	# p1, X, p2, p3
BURST = "198.18.0.6"	# over the rate, then knocks amid misses
BURST6 = "fd00::6"	# the same over IPv6 (its /64)

# SYNs from one source, back to back, in the client namespace
SYNS = r"""
import sys
sys.path.insert(0, %r)
import netutil
for p in sys.argv[3:]:
    netutil.syn(sys.argv[2], int(p), sys.argv[1])
""" % os.path.dirname(os.path.abspath(__file__))


def away(live, n, start=20100):
    """n ports of the knock range more than a guard from every live port"""
    out, p = [], start
    while len(out) < n:
        if all(abs(p - q) > 40 for q in live):
            out.append(p)
        p += 7
    return out


def syns(s, src, ports, host=SRV4):
    return pkstest.run(["python3", "-c", SYNS, src, host] +
                       [str(p) for p in ports], ns=s.net.cli,
                       check=False).returncode


def wrong_hits(s):
    r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "status")
    m = re.search(r"^wrong hits (\d+) ", r.stdout, re.M)
    return int(m.group(1)) if m else None


def run(kernel):
    how = "kernel" if kernel else "classic"
    with pkstest.running(barrier=True) as s:
        log = s.monitor.log
        tap.ok(log.has(r"pks-sniffer: capturing on .* knock range judged "
                       + (r"in the kernel \(eBPF\)" if kernel else
                          r"here \(classic BPF\)"), 5),
               "%s: the sniffer says where the range is judged" % how,
               "\n".join(log.grep("judged|range filter")))
        pkstest.add_client_addrs(s.net, [FRESH, WRONG, BURST, BURST6])

        # a fresh source's misses: counted, dropped in the kernel
        # (the first aggregate line comes within a second of the first
        # wrong hit: it may hold only some of them)
        syns(s, FRESH, away([], 50))
        m = log.wait(r"pks-sniffer: (\d+) wrong hits in \d+ s \(.*; (\d+) "
                     r"of them dropped in the kernel\)", 10)
        line = log.lines[m] if m is not None else ""
        got = re.search(r"(\d+) wrong hits .*; (\d+) of them", line)
        total, kern = (int(got.group(1)), int(got.group(2))) if got else \
            (0, -1)
        tap.ok(total > 0 and kern == (total if kernel else 0),
               "%s: misses from a fresh source are wrong hits, %s" %
               (how, "all dropped in the kernel" if kernel else
                "judged here"), line or log.text()[-1500:])
        tap.ok(pkstest.wait_for(lambda: (wrong_hits(s) or 0) >= 50, 5),
               "%s: pksctl status counts them" % how,
               "got %r" % wrong_hits(s))

        done = r"knock completed from %s:"
        ports, _ = s.generate(ADA)
        x = away(ports, 1, 30000)[0]
        start = log.mark()
        s.knock([ports[0], x] + ports[1:], src=WRONG, client=False)
        end = s.barrier()
        tap.ok(log.lacks(done % WRONG, start, until=end) and
               not s.windows(WRONG),
               "%s: p1, a wrong port in the range, p2, p3 opens nothing"
               % how)
        tap.ok(log.has(r"from %s, 1 of its ports knocked, then port %d: "
                       r"reset" % (re.escape(WRONG), x), 5, start),
               "%s: the wrong port reset it" % how,
               "\n".join(log.grep(re.escape(WRONG))))

        # (the program's hash and range.c's must agree, for each family)
        for src, host in ((BURST, SRV4), (BURST6, SRV6)) if kernel else ():
            ports, _ = s.generate(ADA)
            miss = away(ports, 400, 20100)
            start = log.mark()
            syns(s, src, miss[:300] + [ports[0]] + miss[300:] + ports[1:],
                 host)
            end = s.barrier()
            tap.ok(log.lacks(done % re.escape(src), start, until=end) and
                   not s.windows(src),
                   "kernel, %s: over the rate, p1, misses dropped in the "
                   "kernel, p2, p3 opens nothing" % src)
            tap.ok(log.has(r"from %s, 1 of its ports knocked, then port "
                           r"%d: reset: the kernel saw" %
                           (re.escape(src), ports[1]), 5, start),
                   "kernel, %s: the log says a dropped packet reset it" % src,
                   "\n".join(log.grep(re.escape(src))))

        ports, _ = s.generate(ADA)
        s.knock(ports)
        tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 5),
               "%s: a real knock opens" % how)


def main():
    run(True)
    os.environ["PKS_TEST_NO_EBPF"] = "1"
    run(False)
    tap.done()


if __name__ == "__main__":
    sys.exit(main())

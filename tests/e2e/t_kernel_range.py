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
gets nothing let in, its knock ports neither (they would start or
advance nothing: match.c refuses a start to a prefix over the rate, and
a wrong hit came since any step it took), so nothing opens.  An IPv6
address knocks p1, then another of its /64 sends a burst of misses:
those past the rate are dropped in the kernel, and once the prefix is
under the rate again its p2 reaches the sniffer, which resets the knock
for the drops (the program's hash and range.c's agree on the /64; the
unit test test_common_ebpf checks IPv4's); the log says so and nothing
opens.

In the kernel only, the wall clock stepped back (the test hook: SIGRTMAX
with a value steps it back 1 s for the sniffer's readings and the
capture stamps alike) between p1 and a wrong hit X right after it, the
sniffer stopped meanwhile and p2, p3 sent more than 1 s after p1: by
stamp X sorts before p1 and p2 after it, but the range ring holds them
in the order they came, so the sniffer sees the stamps go back and
lets no knock step through that read: nothing opens (before, it did).

Classic only: the range capture's ring full (the sniffer stopped, a
burst of datagrams into the range from another source), p1, X, p2, p3:
X is lost with the ring, nothing says whose it was, so the knock in
progress is reset at p2 (before, it opened), and the log says so."""
import ctypes
import os
import re
import signal
import sys
import time

import pkstest
from pkstest import tap, SRV4, SRV6, CLI4, ADA

FRESH = "198.18.0.4"	# misses only
WRONG = "198.18.0.5"	# p1, X, p2, p3
BURST = "198.18.0.6"	# over the rate, then knocks amid misses
BURST6 = "fd00::6"	# knocks, while ...
BURST6B = "fd00::7"	# ... another address of its /64 goes over the rate
LOST = "198.18.0.7"	# p1, X lost with the full range ring, p2, p3
STEP = "198.18.0.8"	# p1, the clock back 1 s, X, then p2, p3
STEP_S = 1		# pks-sniffer.c TEST_STEP_NS
FLOOD = 20000		# datagrams: a range ring holds about 1,500

# SYNs from one source, back to back from one raw socket, in the client
# namespace: a socket and a connect() per SYN spread them out too much on
# a loaded machine for a burst to put a prefix over the rate


def away(live, n, start=20100):
    """n ports of the knock range more than a guard from every live port"""
    out, p = [], start
    while len(out) < n:
        if all(abs(p - q) > 40 for q in live):
            out.append(p)
        p += 7
    return out


def syns(s, src, ports, host=SRV4):
    return pkstest.run(["python3", s.NETUTIL, "rawsyns", src, host] +
                       [str(p) for p in ports], ns=s.net.cli,
                       check=False).returncode


def wrong_hits(s):
    r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "status")
    m = re.search(r"^wrong hits (\d+) ", r.stdout, re.M)
    return int(m.group(1)) if m else None


# p1, a wall-clock ms after it and before X, X: from one process
STEP_SYNS = r"""
import sys
import time
sys.path.insert(0, %r)
import netutil
netutil.rawsyns(sys.argv[1], sys.argv[2], [int(sys.argv[3])])
at = time.time_ns() // 1000000 + 1
while time.time_ns() < (at + 1) * 1000000:
    time.sleep(0.001)
print(at, flush=True)
netutil.rawsyns(sys.argv[1], sys.argv[2], [int(sys.argv[4])])
""" % os.path.dirname(os.path.abspath(__file__))


def opens_nothing(s, log, src, start, end, name, also=True):
    """a check: also, and no knock completed from src between start and
    end, and it has no window"""
    tap.ok(also and log.lacks(r"knock completed from %s:" % re.escape(src),
                              start, until=end) and not s.windows(src),
           name)


def reset_at(log, src, port, reason, start, name):
    """a check: src's knock, one port in, was reset at port for reason
    (a regex)"""
    tap.ok(log.has(r"from %s, 1 of its ports knocked, then port %d: "
                   r"reset%s" % (re.escape(src), port, reason), 5, start),
           name, "\n".join(log.grep(re.escape(src))))


def stop(pid):
    os.kill(pid, signal.SIGSTOP)
    tap.ok(pkstest.wait_for(lambda: pkstest.proc_state(pid) == "T", 5),
           "the sniffer stopped")


def step_back(s, log):
    """kernel: a backward step of the wall clock between p1 and X"""
    ports, _ = s.generate(ADA)
    x = away(ports, 1, 32000)[0]
    s.barrier()		# the sniffer's filters have these ports now
    pid = s.monitor.child_pid("pks-sniffer")
    start = log.mark()
    try:
        stop(pid)
        # p1, the time of the step, X: back to back, one process
        r = pkstest.run(["python3", "-c", STEP_SYNS, STEP, SRV4,
                         str(ports[0]), str(x)], ns=s.net.cli, check=False)
        at = int(r.stdout.split()[0])
        # p2, p3 more than the step after p1: sorted after it
        time.sleep(max(0, at / 1000 + STEP_S + 0.5 - time.time()))
        syns(s, STEP, ports[1:])
        libc = ctypes.CDLL(None, use_errno=True)
        libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int,
                                  ctypes.c_void_p]
        tap.ok(libc.sigqueue(pid, signal.SIGRTMAX, at % 2**31) == 0,
               "kernel: the sniffer's wall clock goes back %d s between "
               "p1 and X" % STEP_S)
    finally:
        os.kill(pid, signal.SIGCONT)
    # knocks through the next second after that read are reset as well
    # (their times come out up to the step earlier): a second barrier
    # if the first was
    try:
        end = s.barrier()
    except RuntimeError:
        end = s.barrier()
    opens_nothing(s, log, STEP, start, end,
                  "kernel: p1, the clock back, X, p2, p3 opens nothing")
    tap.ok(log.has(r"pks-sniffer: the wall clock went back between two "
                   r"packets", 5, start),
           "kernel: the log says the clock went back",
           "\n".join(log.grep("clock|%s" % re.escape(STEP))))


def lost_wrong_hit(s, log):
    """classic: a wrong hit lost in a full range ring resets the knock"""
    ports, _ = s.generate(ADA)
    x = away(ports, 1, 31000)[0]
    flood = away(ports + [x], 40, 21000)
    s.barrier()		# the sniffer's filters have these ports now
    pid = s.monitor.child_pid("pks-sniffer")
    start = log.mark()
    try:
        stop(pid)
        syns(s, LOST, ports[:1])
        r = pkstest.run(["python3", s.NETUTIL, "burst", SRV4, str(FLOOD)] +
                        [str(p) for p in flood], ns=s.net.cli, check=False,
                        timeout=60)
        syns(s, LOST, [x] + ports[1:])
    finally:
        os.kill(pid, signal.SIGCONT)
    tap.ok(r.returncode == 0 and log.has(
        r"pks-sniffer: range capture full: \d+ packets lost; every knock "
        r"in progress meanwhile is reset: \d+ were", 5, start),
        "classic: %d datagrams into the range fill its ring, the log says "
        "knocks in progress are reset" % FLOOD,
        "\n".join(log.grep("capture full")))
    end = s.barrier()
    opens_nothing(s, log, LOST, start, end, "classic: p1, a wrong port "
                  "lost with the ring, p2, p3 opens nothing")
    reset_at(log, LOST, ports[1], ": the range capture, full, lost packets",
             start, "classic: the log says the loss reset it")


def run(kernel):
    how = "kernel" if kernel else "classic"
    with pkstest.running(barrier=True) as s:
        log = s.monitor.log
        tap.ok(log.has(r"pks-sniffer: capturing on .* knock range judged "
                       + (r"in the kernel \(eBPF\)" if kernel else
                          r"here \(classic BPF\)"), 5),
               "%s: the sniffer says where the range is judged" % how,
               "\n".join(log.grep("judged|range filter")))
        pkstest.add_client_addrs(s.net, [FRESH, WRONG, BURST, BURST6,
                                         BURST6B, LOST, STEP])

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

        ports, _ = s.generate(ADA)
        x = away(ports, 1, 30000)[0]
        start = log.mark()
        s.knock([ports[0], x] + ports[1:], src=WRONG, client=False)
        end = s.barrier()
        opens_nothing(s, log, WRONG, start, end, "%s: p1, a wrong port in "
                      "the range, p2, p3 opens nothing" % how)
        reset_at(log, WRONG, x, "", start, "%s: the wrong port reset it"
                 % how)

        if kernel:
            ports, _ = s.generate(ADA)
            miss = away(ports, 400, 20100)
            start = log.mark()
            syns(s, BURST, miss[:300] + [ports[0]] + miss[300:] + ports[1:])
            end = s.barrier()
            opens_nothing(s, log, BURST, start, end, "kernel: over the "
                          "rate, p1, misses, p2, p3 opens nothing")

            # (the program's hash and range.c's agree on an IPv6 /64)
            ports, _ = s.generate(ADA)
            # each miss adds 2 ms of debt (500 a second), over the rate
            # past 512 ms of it (the burst, 256): 1,500 misses put the /64
            # over unless they come more than 1.6 ms apart
            miss = away(ports, 300, 20100) * 5
            start = log.mark()
            before = wrong_hits(s) or 0
            syns(s, BURST6, ports[:1], SRV6)
            syns(s, BURST6B, miss, SRV6)
            # counted: the sniffer has read or been told of them all,
            # and the /64 has been under the rate since (a second)
            counted = pkstest.wait_for(
                lambda: (wrong_hits(s) or 0) >= before + len(miss), 10)
            syns(s, BURST6, ports[1:], SRV6)
            end = s.barrier()
            opens_nothing(s, log, BURST6, start, end, "kernel: p1, its /64 "
                          "over the rate, p2, p3 opens nothing", counted)
            reset_at(log, BURST6, ports[1], ": the kernel saw", start,
                     "kernel: the log says a packet dropped there reset it")

        if kernel:
            step_back(s, log)
        else:
            lost_wrong_hit(s, log)

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

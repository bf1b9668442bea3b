#!/usr/bin/env python3
"""Full port sweeps, ascending and descending over 1-65535, from one source,
never complete a sequence (the guard ranges around each live port trip a
reset): knockd's kernel filter lets an ascending sweep open an ascending
sequence.  The "aligned" sweep is the luckiest one: it meets the live
sequence's ports in their own order, each amid its neighbours; only the
guard hits (read from the sniffer's guard capture) can stop it.

The sweeps' wrong hits show in `pksctl status` (0 before them), and the
total survives a sniffer killed for a malformed IMSG_SNIFF_STATS (a test
build sends one, a byte short, on SIGUSR1)."""
import os
import re
import signal
import time

import pkstest
import pksimsg
from pkstest import tap, SRV4, CLI4, ADA


def sweep(s, order):
    return pkstest.run(["python3", s.NETUTIL, "sweep", SRV4, order, "1",
                        "65535"], ns=s.net.cli, check=False,
                       timeout=180).returncode


def wrong_hits(s):
    """pksctl status's wrong-hit total, or None."""
    r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "status")
    m = re.search(r"^wrong hits (\d+) \(refused starts (\d+), "
                  r"capture lost (\d+)\)$", r.stdout, re.M)
    return int(m.group(1)) if m else None


def main():
    with pkstest.running(barrier=True) as s:
        n = wrong_hits(s)
        tap.ok(n == 0, "pksctl status: no wrong hit before the sweeps",
               "got %r" % n)
        for order in ("asc", "desc", "random", "aligned"):
            ports, _ = s.generate(ADA)
            tap.diag("%s sweep against %s" % (order, ports))
            if order == "aligned":
                order += ":" + ",".join(map(str, ports))
            start = s.monitor.log.mark()
            rc = sweep(s, order)
            end = s.barrier()
            tap.ok(rc == 0, "the %s sweep ran to its end" % order)
            tap.ok(not s.windows(CLI4),
                   "a full %s sweep opens nothing" % order)
            tap.ok(s.monitor.log.lacks(r"knock completed from %s:" % CLI4,
                                       start, until=end),
                   "and completes no sequence")
            if order == "asc":
                tap.ok(pkstest.wait_for(lambda: (wrong_hits(s) or 0) > 0,
                                        5, 0.2),
                       "pksctl status counts its wrong hits",
                       "got %r" % wrong_hits(s))
        # the sequences still work for their owner afterwards
        ports, _ = s.generate(ADA)
        time.sleep(2.5)		# past the sweep's cooldown
        s.knock(ports)
        tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 5),
               "a real knock still works after the sweeps")
        # stable: the last report is in (the sniffer sends once a second)
        before = wrong_hits(s)
        pkstest.wait_for(lambda: wrong_hits(s) != before, 2.5, 0.2)
        before = wrong_hits(s)
        log = s.monitor.log
        start = log.mark()
        pid = s.monitor.child_pid("pks-sniffer")
        pkstest.wait_for(lambda: s.monitor.child_ready("pks-sniffer", pid),
                         20)
        os.kill(pid, signal.SIGUSR1)
        tap.ok(log.wait(r"pks-sniffer: malformed message \(type %d, %d "
                        r"bytes\)" % (pksimsg.IMSG_SNIFF_STATS,
                                       pksimsg.S["pks_sniff_stats"].size - 1),
                        10, start) is not None and
               log.wait(r"pks-sniffer: compromised: killing it", 5, start)
               is not None,
               "a short IMSG_SNIFF_STATS: the sniffer is killed",
               log.text()[-1500:])
        tap.ok(pkstest.wait_for(lambda: s.monitor.child_pid("pks-sniffer")
                                not in (None, pid), 10),
               "and restarted")
        after = wrong_hits(s)
        tap.ok(after is not None and after >= before > 0,
               "the wrong-hit total survives the restart",
               "before %r, after %r" % (before, after))
    tap.done()


if __name__ == "__main__":
    main()

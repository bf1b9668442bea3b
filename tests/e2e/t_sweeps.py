#!/usr/bin/env python3
"""Full port sweeps, ascending and descending over 1-65535, from one source,
never complete a sequence (the guard ranges around each live port trip a
reset): knockd's kernel filter lets an ascending sweep open an ascending
sequence.  The "aligned" sweep is the luckiest one: it meets the live
sequence's ports in their own order, each amid its neighbours; only the
guard hits (read from the sniffer's guard capture) can stop it."""
import time

import pkstest
from pkstest import tap, SRV4, CLI4, ADA


def sweep(s, order):
    return pkstest.run(["python3", s.NETUTIL, "sweep", SRV4, order, "1",
                        "65535"], ns=s.net.cli, check=False,
                       timeout=180).returncode


def main():
    with pkstest.running(barrier=True) as s:
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
        # the sequences still work for their owner afterwards
        ports, _ = s.generate(ADA)
        time.sleep(2.5)		# past the sweep's cooldown
        s.knock(ports)
        tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 5),
               "a real knock still works after the sweeps")
    tap.done()


if __name__ == "__main__":
    main()

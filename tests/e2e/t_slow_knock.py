#!/usr/bin/env python3
"""Knocks judged at the time they were captured, not when read: the
sniffer reads all but the last knock port of a sequence (and the guard
ports) only before each last knock and on a timer of up to a second, so
a knock read late must neither miss its sequence nor get more time than
knock-timeout allows.

- knocks 1.5 s apart (a timed read falls between each two) open the port;
- a gap longer than knock-timeout (2 s here) opens nothing, even though
  the late knock and the one before it are read in the same batch;
- knocks back to back still open it, and a guard hit just before the
  first knock, read in the same batch as the last, still refuses it."""
import time

import pkstest
from pkstest import tap, SRV4, CLI4, ADA


def knock_gap(s, ports, ms):
    return pkstest.run([pkstest.binpath("pks-knock"), "-d", str(ms), SRV4] +
                       [str(p) for p in ports], ns=s.net.cli,
                       check=False).returncode


def main():
    with pkstest.running(barrier=True, settings={"knock-timeout": 2}) as s:
        ports, _ = s.generate(ADA)
        tap.ok(knock_gap(s, ports, 1500) == 0, "pks-knock ran, 1.5 s gaps")
        tap.ok(pkstest.wait_for(s.windows, 5),
               "knocks 1.5 s apart open the port")
        tap.ok(s.can_connect(), "and it accepts the knocker")

        log = s.monitor.log
        done = r"knock completed from %s:" % CLI4
        ports, _ = s.generate(ADA)
        start = log.mark()
        tap.ok(knock_gap(s, ports, 2600) == 0, "pks-knock ran, 2.6 s gaps")
        end = s.barrier()
        tap.ok(log.lacks(done, start, until=end),
               "gaps over knock-timeout complete nothing")

        # the same sequence, now in time: the late one did not use it up
        time.sleep(2.5)		# past the cooldown its late knocks set
        start = log.mark()
        s.knock(ports)
        tap.ok(log.has(done, 5, start),
               "the same sequence then opens when knocked in time")

        # a guard hit amid the knocks, all at once: one read sees them
        # all, in order
        ports, _ = s.generate(ADA)
        time.sleep(1)
        start = log.mark()
        s.knock([ports[0], ports[0] + 1] + ports[1:], client=False)
        end = s.barrier()
        tap.ok(log.lacks(done, start, until=end),
               "a guard hit amid the knocks refuses them")
    tap.done()


if __name__ == "__main__":
    main()

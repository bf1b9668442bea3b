#!/usr/bin/env python3
"""A knock that completes while its window's close is in flight opens the
window again once the close is done (issue 13, L7).  pks-fw is stopped
(SIGSTOP) so that the close of an expiring window stays in flight; the
same address knocks a fresh sequence meanwhile; once pks-fw runs again
the close is done and the window opens again.  Before, the close result
freed the window the second knock had extended: the sequence was used
up and nothing opened."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap, CLI4  # noqa: E402

ADA = 6123456789
SERVICE = "service ssh {\n\tport 2222\n\tprotocol tcp\n\topen-for 3\n}"


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, services=SERVICE,
                          extra="allow user %d to { ssh }\n" % ADA).start()
        s.echod()
        log = s.monitor.log
        sock = os.path.join(s.dir, "pks.sock")
        ports, msg = s.generate(ADA)
        s.knock(ports)
        tap.ok(pkstest.wait_for(s.windows, 15), "a window opens")
        fw = s.monitor.child_pid("pks-fw")
        os.kill(fw, signal.SIGSTOP)
        try:
            closing = pkstest.wait_for(
                lambda: "closing" in pkstest.pksctl(sock, "windows").stdout,
                8)
            tap.ok(closing, "pks-fw stopped: the expired window's close "
                   "is in flight")
            ports, msg = s.generate(ADA)
            s.knock(ports)
            tap.ok(pkstest.wait_for(lambda: len(log.grep(
                r"knock completed from %s" % CLI4)) == 2, 5),
                "the same address knocks a fresh sequence meanwhile")
        finally:
            os.kill(fw, signal.SIGCONT)
        tap.ok(log.wait(r"window closed: ssh for %s" % CLI4, 5) is not None,
               "pks-fw runs again: the close is done")
        tap.ok(pkstest.wait_for(lambda: len(log.grep(
            r"window opened: ssh for %s" % CLI4)) == 2, 5),
            "and the window opens again", log.text())
        tap.ok(pkstest.wait_for(s.windows, 15) and s.can_connect(),
               "the knocker gets in")
        tap.ok(pkstest.wait_for(lambda: not s.windows(), 8),
               "and the window closes on time")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A deadline weeks away does not stop the monitor's supervision: with a
grant that ends in 30 days as the only thing that waits (its distance in
milliseconds does not fit an int), a killed pks-telegram is still
restarted.  Before, the poll timeout overflowed to a negative number and
the monitor slept until something else woke it (issue 13, M2)."""
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap  # noqa: E402

ADA, BOB = 6123456789, 6123456791


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    d = tempfile.mkdtemp(prefix="pks-far-")
    state = os.path.join(d, "state")
    now = int(time.time())
    for days in (30,):
        with open(state, "w") as f:
            f.write("pks-state 1\nlockdown 0\n"
                    "grant %d ssh %d %d %d Bob\nend 1\n" %
                    (BOB, now + days * 86400, ADA, now - 10))
        os.chmod(state, 0o600)
        with pkstest.Net() as net:
            s = pkstest.Suite(net, extra="admin user %d\nstate-file \"%s\"\n"
                              % (ADA, state)).start()
            log = s.monitor.log
            old = s.monitor.child_pid("pks-telegram")
            tap.ok(old is not None, "%d days: pks-telegram runs" % days)
            # nothing else waits: no sequence, no window, no pksctl
            os.kill(old, signal.SIGKILL)
            tap.ok(log.wait(r"pks-telegram: restarting in", 5) is not None,
                   "%d days: its death is noticed" % days, log.text())
            new = [None]

            def restarted():
                new[0] = s.monitor.child_pid("pks-telegram")
                return new[0] not in (None, old)
            tap.ok(pkstest.wait_for(restarted, 10),
                   "%d days: and it is restarted" % days, log.text())
            tap.ok(s.monitor.proc.poll() is None,
                   "%d days: the monitor runs on" % days)
            s.stop()
    tap.done()


if __name__ == "__main__":
    main()

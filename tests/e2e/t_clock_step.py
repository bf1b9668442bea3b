#!/usr/bin/env python3
"""Expiries run on CLOCK_MONOTONIC: a step of the wall clock neither keeps
a window open nor ends a sequence or a grant early (issue 13, M5).

The monitor runs with fakeclock.c preloaded, which adds the number of
seconds a file holds to every reading of the wall clock of that process
only (the monotonic clock is left alone, as a real step leaves it):
  - back by a day while a 4 s window is open: it still closes on time
    (before, it stayed open for the size of the step);
  - forward by two days: a sequence issued before (300 s) still opens,
    and a grant made for one hour is still in force (before, both were
    gone at once);
  - the date a message shows follows the wall clock."""
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap, CLI4  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ADA, BOB = 6123456789, 6123456791
SERVICE = "service ssh {\n\tport 2222\n\tprotocol tcp\n\topen-for 4\n}"


def preload(so):
    """so for LD_PRELOAD; under AddressSanitizer its runtime comes first."""
    r = pkstest.run(["ldd", pkstest.binpath("pks-monitor")], check=False)
    asan = re.search(r"(\S*libasan\.so\S*) => (\S+)", r.stdout)
    return asan.group(2) + ":" + so if asan else so


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    tmp = tempfile.mkdtemp(prefix="pks-clock-")
    so = os.path.join(tmp, "fakeclock.so")
    r = pkstest.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra",
                     "-o", so, os.path.join(HERE, "fakeclock.c")],
                    check=False)
    tap.ok(r.returncode == 0 and not r.stderr.strip(),
           "fakeclock.c builds without a warning", r.stderr)
    step = os.path.join(tmp, "step")
    state = os.path.join(tmp, "state")
    now = int(time.time())
    with open(state, "w") as f:
        f.write("pks-state 1\nlockdown 0\ngrant %d ssh %d %d %d Bob\n"
                "end 1\n" % (BOB, now + 3600, ADA, now - 10))
    os.chmod(state, 0o600)

    def set_step(seconds):
        with open(step + ".tmp", "w") as f:
            f.write("%d\n" % seconds)
        os.rename(step + ".tmp", step)

    with pkstest.Net() as net:
        s = pkstest.Suite(net, services=SERVICE,
                          extra="allow user %d to { ssh }\nadmin user %d\n"
                          "state-file \"%s\"\n" % (ADA, ADA, state))
        s.bot.start()
        saved = dict(os.environ)
        os.environ.update(LD_PRELOAD=preload(so), FAKECLOCK_FILE=step)
        try:
            s.monitor = pkstest.Monitor(net, s.conf_text).start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        with open("/proc/%d/maps" % s.monitor.proc.pid) as f:
            tap.ok("fakeclock.so" in f.read(), "the monitor runs with the "
                   "shim preloaded")
        s.echod()
        log = s.monitor.log

        # a window open, then the wall clock goes back a day
        ports, msg = s.generate(ADA)
        tap.ok(ports, "a sequence is issued", msg)
        s.knock(ports)
        tap.ok(pkstest.wait_for(s.window_rules, 5), "the window opens")
        set_step(-86400)
        t0 = time.monotonic()
        closed = pkstest.wait_for(lambda: not s.window_rules(), 12)
        took = time.monotonic() - t0
        tap.ok(closed and took < 8, "back by a day: the 4 s window still "
               "closes on time (%.1f s after the step)" % took, log.text())

        # forward by two days: a live sequence and a 1 h grant stay
        set_step(0)
        ports, msg = s.generate(ADA)
        tap.ok(ports, "a second sequence is issued", msg)
        set_step(2 * 86400)
        time.sleep(1.5)		# a few rounds of the monitor's loop
        tap.ok(not log.grep(r"sequence \d+ of \S+ expired"),
               "forward by two days: the sequence did not expire",
               log.text())
        tap.ok(not log.grep(r"grant of ssh to %d .*expired" % BOB),
               "nor did the grant of an hour", log.text())
        s.knock(ports)
        tap.ok(pkstest.wait_for(s.window_rules, 5) and
               s.can_connect(), "the sequence still opens", log.text())
        ports, msg = s.generate(BOB, first_name="Bob")
        tap.ok(ports, "the grant is still in force", msg)
        # dates in messages follow the wall clock the admin sees
        shown = time.strftime("%Y-%m-%d", time.gmtime(
            time.time() + 2 * 86400))
        m = re.search(r"(\d{4}-\d\d-\d\d) \d\d:\d\d:\d\d",
                      pkstest.ask(s, ADA, "/users", expect="Granted") or "")
        tap.ok(m and m.group(1) >= shown, "/users shows the grant's end "
               "as a date after the step", m and m.group(0))
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

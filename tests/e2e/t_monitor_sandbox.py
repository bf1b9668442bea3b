#!/usr/bin/env python3
"""pks-monitor confines itself once started (pks-monitor/sandbox.c), as
the unit runs it: root without CAP_KILL (the unit's bounding set).  Its
/proc status shows the seccomp filter and no_new_privs; under it, and its
children under it and their own, a knock opens, pksctl answers, a good
reload restarts every child (signalled as their user, without CAP_KILL),
a broken reload is refused, a killed child is restarted, SIGTERM stops
everything cleanly.  A forbidden call kills the monitor (SIGSYS), and its
children go with it.
"""
import os
import signal

import pkstest
from pkstest import tap

CAP_KILL = 5
CHILDREN = ("pks-telegram", "pks-sniffer", "pks-fw")
NO_KILL = ["setpriv", "--bounding-set", "-kill", "--"]


def pids(mon):
    return {n: mon.child_pid(n) for n in CHILDREN}


def main():
    pkstest.require_root()
    pkstest.ensure_user("_pks")
    with pkstest.Net() as net:
        suite = pkstest.Suite(net, extra=pkstest.allow(pkstest.ADA))
        suite.start(wrap=NO_KILL)
        mon = suite.monitor
        sock = os.path.join(os.path.dirname(suite.chroot), "pks.sock")
        st = pkstest.proc_status(mon.proc.pid) or {}
        tap.ok(st.get("Seccomp") == "2", "the monitor runs under a seccomp "
               "filter (Seccomp 2)", st.get("Seccomp"))
        tap.ok(st.get("NoNewPrivs") == "1", "the monitor has no_new_privs")
        eff = int(st.get("CapEff", "0"), 16)
        tap.ok(eff != 0 and not eff & (1 << CAP_KILL),
               "the monitor runs as root without CAP_KILL, as under the "
               "unit", "CapEff %#x" % eff)
        before = pids(mon)
        tap.ok(all(before.values()), "every child runs", before)

        echo = suite.echod()
        ports, wins = suite.open_window(pkstest.ADA)
        tap.ok(ports and wins, "a knock opens a window", ports)
        tap.ok(suite.can_connect(), "the protected port answers")
        r = pkstest.pksctl(sock, "status")
        tap.ok(r.returncode == 0 and "pks-sniffer" in r.stdout,
               "pksctl status answers", r.stdout + r.stderr)
        tap.ok(pkstest.ctl_windows(sock), "pksctl windows lists the window")
        echo.kill()

        # a refused file changes nothing; a good one restarts every child
        pkstest.write_config(mon.conf, suite.conf_text + "\nservice {\n")
        start = len(mon.log.lines)
        mon.proc.send_signal(signal.SIGHUP)
        tap.ok(mon.log.wait(r"has errors: keeping the running one", 10,
                            start) is not None, "a broken reload is refused")
        pkstest.write_config(mon.conf, suite.conf_text.replace(
            "open-for 30", "open-for 40"))
        start = len(mon.log.lines)
        mon.proc.send_signal(signal.SIGHUP)
        tap.ok(mon.log.wait(r"configuration reloaded", 10, start)
               is not None, "a good reload is done")
        after = pkstest.wait_for(
            lambda: (lambda p: all(p[n] not in (None, before[n])
                                   for n in CHILDREN) and p)(pids(mon)), 15)
        tap.ok(after, "every child is restarted by the reload (signalled "
               "without CAP_KILL)", "%s -> %s" % (before, pids(mon)))
        tap.ok(mon.log.wait(r"all children ready", 15, start) is not None,
               "all children ready after the reload")

        # a child killed from outside: restarted
        sn = pids(mon)["pks-sniffer"]
        start = len(mon.log.lines)
        os.kill(sn, signal.SIGKILL)
        tap.ok(pkstest.wait_for(lambda: mon.child_pid("pks-sniffer") not in
                                (None, sn), 15), "a killed child is restarted")
        tap.ok(mon.log.wait(r"all children ready", 15, start) is not None,
               "and gets ready again")

        rc = mon.stop(timeout=20)
        tap.ok(rc == 0, "SIGTERM: clean exit (status %s)" % rc)
        tap.ok(mon.log.has(r"pks-monitor: stopped"), "the stop is logged")
        tap.ok(mon.log.lacks(r"sandbox violation|killed by signal 31|"
                             r"kill: Operation not permitted|did not confirm"),
               "no process hit the monitor's filter, every signal went "
               "through", mon.log.text())

        # a forbidden call kills the monitor; its children go with it
        m2 = pkstest.Monitor(net, suite.conf_text)
        m2.start()
        kids = [p for p in pids(m2).values() if p]
        m2.proc.send_signal(signal.SIGUSR2)
        try:
            rc = m2.proc.wait(timeout=10)
        except Exception:
            rc = None
        tap.ok(rc == -signal.SIGSYS, "a forbidden call kills the monitor "
               "with SIGSYS", "status %s" % rc)
        tap.ok(pkstest.wait_for(
            lambda: all(pkstest.proc_status(p) is None or
                        pkstest.proc_status(p).get("State", "")
                        .startswith("Z") for p in kids), 10),
            "its children exit with it")
        m2.stop()
        suite.stop()
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The real pks-monitor, as root in a fresh network namespace: each child
runs as the unprivileged user, chrooted, with no_new_privs, under seccomp,
with no capability beyond design.md's; each dies of SIGSYS when it makes a
forbidden call and the monitor says so; kill -9 of a child gets it
restarted; kill -9 of the monitor takes every child down within a second.
"""
import os
import pwd
import signal
import time

import pkstest
from pkstest import tap

CAP_NET_ADMIN, CAP_NET_RAW = 12, 13
CHILDREN = ("pks-telegram", "pks-sniffer", "pks-fw")


def main():
    pkstest.require_root()
    pkstest.ensure_user("_pks")
    pw = pwd.getpwnam("_pks")
    with pkstest.Net() as net:
        suite = pkstest.Suite(net).start()
        mon = suite.monitor
        pids = {}
        for name in CHILDREN:
            pids[name] = pkstest.wait_for(lambda: mon.child_pid(name), 10)
            tap.ok(pids[name], "%s is running" % name)

        for name in CHILDREN:
            pid = pids[name]
            st = pkstest.proc_status(pid) or {}
            uids = st.get("Uid", "").split()
            gids = st.get("Gid", "").split()
            tap.ok(uids == [str(pw.pw_uid)] * 4,
                   "%s runs as _pks (uid %s)" % (name, " ".join(uids)))
            tap.ok(gids == [str(pw.pw_gid)] * 4,
                   "%s has the gid of _pks" % name)
            tap.ok(st.get("Groups", "").split() in ([], [str(pw.pw_gid)]),
                   "%s has no supplementary groups" % name,
                   st.get("Groups"))
            tap.ok(st.get("NoNewPrivs") == "1", "%s: NoNewPrivs 1" % name)
            tap.ok(st.get("Seccomp") == "2", "%s: Seccomp 2 (filter)" % name)
            want = 0
            if name == "pks-fw":	# CAP_NET_RAW: libiptc's raw socket
                want = (1 << CAP_NET_ADMIN) | (
                    (1 << CAP_NET_RAW) if pkstest.FIREWALL == "iptables"
                    else 0)
            for k in ("CapEff", "CapPrm", "CapBnd"):
                v = int(st.get(k, "f" * 16), 16)
                tap.ok(v == want, "%s: %s is %#x" % (name, k, want),
                       "%s = %#x" % (k, v))
            for k in ("CapInh", "CapAmb"):
                tap.ok(int(st.get(k, "1"), 16) == 0, "%s: %s empty" %
                       (name, k))
            root = os.readlink("/proc/%d/root" % pid)
            tap.ok(root == suite.chroot, "%s is chrooted in %s" %
                   (name, suite.chroot), "root is " + root)

        # each sandbox is in force: a forbidden call kills the child
        for name in CHILDREN:
            pid = pids[name]
            start = len(mon.log.lines)
            os.kill(pid, signal.SIGUSR2)
            i = mon.log.wait(r"%s: sandbox violation" % name, 10, start)
            tap.ok(i is not None, "%s: a forbidden syscall kills it and "
                   "the monitor logs the violation" % name,
                   "\n".join(mon.log.lines[start:]))
            new = pkstest.wait_for(
                lambda: (mon.child_pid(name) not in (None, pid)) and
                mon.child_pid(name), 15)
            tap.ok(new, "%s is restarted after the violation" % name)
            pids[name] = new

        # kill -9 of each child: restarted
        for name in CHILDREN:
            pid = pids[name]
            start = len(mon.log.lines)
            os.kill(pid, signal.SIGKILL)
            tap.ok(mon.log.wait(r"%s: killed by signal 9" % name, 10, start)
                   is not None, "%s: kill -9 is logged" % name)
            new = pkstest.wait_for(
                lambda: (mon.child_pid(name) not in (None, pid)) and
                mon.child_pid(name), 15)
            tap.ok(new, "%s is restarted after kill -9" % name)
            pids[name] = new
        tap.ok(pkstest.wait_for(lambda: mon.log.wait(
            r"all children ready", 0, start) is not None, 15),
            "all children ready again")

        # kill -9 of the monitor: every child goes within a second
        alive = [pids[n] for n in CHILDREN]
        mon.proc.kill()
        mon.proc.wait()
        t0 = time.time()
        gone = pkstest.wait_for(
            lambda: all(pkstest.proc_status(p) is None or
                        pkstest.proc_status(p).get("State", "")
                        .startswith("Z") for p in alive), 1.0, 0.02)
        tap.ok(gone, "kill -9 of the monitor takes every child down within "
               "a second (%.2f s)" % (time.time() - t0))
        suite.stop()
    tap.done()


if __name__ == "__main__":
    main()

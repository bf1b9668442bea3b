#!/usr/bin/env python3
"""A local unprivileged user cannot steer or block which ports are drawn
(issue 13, H2).

As uid 65534, in the server's namespace, UDP sockets on every 33rd port
of the knock range leave free (beyond the guard of 16 ports either side)
only three small gaps of the user's choice: before, every port drawn came
from them (or no sequence could be drawn at all).  Now only root's
sockets, the protected ports and knock-exclude count: draws spread over
the whole range.  Root's own sockets and knock-exclude are still
avoided, and exclusions covering more than a quarter of the range refuse
the draw with a log line rather than bias it.

The monitor sees /proc as pks.service gives it (ProcSubset=pid,
ProtectProc=invisible: no /proc/net, only /proc/self/net): root's
sockets must still be found there."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap, ask  # noqa: E402

ADA = 6123456789
GAPS = (30000, 40000, 50000)		# the user leaves 33 ports near each free
ROOT_LO, ROOT_HI = 53001, 58999		# root's sockets, one every 33
# /proc as pks.service mounts it for the monitor
UNIT_PROC = ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount -t proc -o subset=pid,hidepid=invisible proc /proc && '
             'exec "$@"', "sh"]
EXCL_LO, EXCL_HI = 20000, 22999		# knock-exclude
BINDER = r"""
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for p in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", p))
    socks.append(s)
print("ready %d" % len(socks), flush=True)
sys.stdin.read()
"""


def binder(ns, ports, uid):
    argv = ["python3", "-c", BINDER] + [str(p) for p in ports]
    if uid:
        argv = ["setpriv", "--reuid", str(uid), "--regid", str(uid),
                "--clear-groups"] + argv
    p = pkstest.spawn(argv, ns=ns, stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, text=True)
    return p, p.stdout.readline().strip()


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n"
                          "knock-exclude %d-%d\n" %
                          (ADA, EXCL_LO, EXCL_HI)).start(wrap=UNIT_PROC)
        root = "/proc/%d/root/proc/" % s.monitor.proc.pid
        tap.ok(not os.path.exists(root + "net") and
               os.path.exists(root + "self/net/udp"), "the monitor's /proc "
               "is the unit's: no /proc/net, /proc/self/net")
        # the user's sockets: centred every 33 ports from 20016, but for
        # the gaps
        mine = [p for p in range(20016, 60001, 33)
                if not any(g <= p - 16 <= g + 32 for g in GAPS)]
        covered = set()
        for q in mine:
            covered.update(range(q - 16, q + 17))
        free = set(range(20000, 60001)) - covered
        users, ready = binder(net.srv, mine, 65534)
        tap.ok(ready == "ready %d" % len(mine), "uid 65534 holds %d UDP "
               "sockets across the range" % len(mine), ready)
        roots, ready = binder(net.srv, range(ROOT_LO + 16, ROOT_HI, 33),
                              0)
        tap.ok(ready.startswith("ready"), "root holds some too", ready)

        drawn, fails = [], 0
        for _ in range(12):
            ports, msg = s.generate(ADA)
            if ports:
                drawn += ports
            else:
                fails += 1
        tap.ok(fails == 0, "every /generate gets a sequence (%d failed)" %
               fails, s.monitor.log.text())
        gap = [p for p in drawn if p in free]
        tap.ok(len(drawn) >= 30 and len(gap) <= len(drawn) // 4,
               "the user's %d free ports do not steer the draw: %d of %d "
               "drawn there" % (len(free), len(gap), len(drawn)), drawn)
        near_user = [p for p in drawn if any(abs(p - q) <= 16
                                             for q in mine)]
        tap.ok(len(near_user) >= len(drawn) // 2, "most ports drawn are "
               "next to the user's sockets (%d of %d)" %
               (len(near_user), len(drawn)))
        bad = [p for p in drawn if ROOT_LO - 16 <= p <= ROOT_HI + 16 or
               EXCL_LO - 16 <= p <= EXCL_HI + 16]
        tap.ok(not bad, "none near root's sockets or in knock-exclude",
               bad)
        users.stdin.close()
        users.wait(timeout=10)
        roots.stdin.close()
        roots.wait(timeout=10)
        s.stop()

    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n"
                          "knock-exclude 20000-31000\n" % ADA).start()
        t = ask(s, ADA, "/generate", expect=r"pks-knock|No sequence")
        tap.ok(t and "No sequence could be made" in t, "exclusions over a "
               "quarter of the range: /generate is refused", t)
        tap.ok(s.monitor.log.wait(r"knock-ports 20000-60000: \d+ of its "
                                  r"40001 ports are excluded", 5) is not None,
               "and the log says why")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

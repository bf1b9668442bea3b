#!/usr/bin/env python3
"""The captured interface goes down, and later away, under the sniffer.

Down: libpcap's error path (it asks the socket for its interface and the
interface for its flags) stays inside the seccomp list; the sniffer keeps
its captures, does not spin, and once the link is up again a knock opens
the port, with no restart.  Away (deleted): the sniffer says so, closes
the capture inside its sandbox, and exits for the monitor to restart."""
import time

import pkstest
from pkstest import tap, ADA


def cpu_s(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0]) / 1e9


def main():
    with pkstest.running() as s:
        net = s.net
        pid = s.monitor.child_pid("pks-sniffer")
        ports, _ = s.generate(ADA)

        pkstest.run(["ip", "link", "set", "veth-s", "down"], ns=net.srv)
        time.sleep(0.5)
        c0 = cpu_s(pid)
        time.sleep(2)
        c1 = cpu_s(pid)
        for line in s.monitor.log.grep(r"sandbox|pks-sniffer.*veth-s"):
            tap.diag(line)
        tap.ok(s.monitor.child_pid("pks-sniffer") == pid,
               "the sniffer keeps running")
        tap.ok(c1 - c0 < 0.2, "and does not spin (%.3f s of CPU in 2 s)" %
               (c1 - c0))

        pkstest.run(["ip", "link", "set", "veth-s", "up"], ns=net.srv)
        time.sleep(2)		# the link and its addresses come back
        tap.ok(s.open_window(ADA, timeout=10)[1],
               "link up again: a knock opens the port, no restart needed")
        tap.ok(s.monitor.child_pid("pks-sniffer") == pid,
               "same sniffer")

        pkstest.run(["ip", "link", "del", "veth-s"], ns=net.srv)
        tap.ok(pkstest.wait_for(lambda: s.monitor.log.grep(
            r"pks-sniffer.*veth-s: .*no longer capturing there"), 10),
            "interface deleted: the sniffer says it stopped capturing there")
        time.sleep(1)
        for line in s.monitor.log.grep(r"sandbox|pks-sniffer"):
            tap.diag(line)
        s.stop()
        tap.ok(s.monitor.log.lacks(r"sandbox violation"),
               "link down, up and deleted: libpcap's error paths and "
               "closing the capture stay inside the sandbox")
    tap.done()


if __name__ == "__main__":
    main()

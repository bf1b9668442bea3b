#!/usr/bin/env python3
"""pks-fw alone, both backends: the time from IMSG_FW_OPEN to its
IMSG_FW_RESULT (the kernel holds the window then) with 1, 100 and 1,000
windows already open, each from its own source address.  This is the
part of knock-to-open latency that grows with the windows open: libiptc
replaces the whole table on each change, nftables adds one element.
Run as root: PKS_BUILD=build sudo -E python3 tests/bench/fw_windows.py
Prints a table; figures only, no pass or fail."""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import pkstest as T  # noqa: E402
import t_fw_traffic as F  # noqa: E402

OPEN = [1, 100, 1000]
PROBES = 60


def addr(i):
    return "198.19.%d.%d" % (i // 250, 1 + i % 250)


def measure(backend):
    T.FIREWALL = backend
    uid = int(T.run(["id", "-u", "_pks"]).stdout)
    gid = int(T.run(["id", "-g", "_pks"]).stdout)
    out = {}
    with T.Net(tag="fwb%d%s" % (os.getpid(), backend[0])) as net:
        mon = F.FakeMonitor(net, T.empty_dir(), uid, gid)
        t, _ = mon.recv()
        if t != F.IM["IMSG_READY"]:
            raise RuntimeError(mon.log.text())
        n = 0
        for target in OPEN:
            while n < target - 1:
                if mon.window("IMSG_FW_OPEN", 10 + n, addr(n),
                              timeout=3600)[2] != 0:
                    raise RuntimeError("open %d failed" % n)
                n += 1
            lat = []
            for k in range(PROBES):
                t0 = time.perf_counter()
                r = mon.window("IMSG_FW_OPEN", 100000 + k, "198.18.77.7",
                               timeout=3600)
                lat.append((time.perf_counter() - t0) * 1000)
                if r[2] != 0 or mon.window("IMSG_FW_CLOSE", 100000 + k,
                                           "198.18.77.7")[2] != 0:
                    raise RuntimeError("probe failed")
            out[target] = statistics.median(lat)
        mon.proc.terminate()
        mon.proc.wait(timeout=20)
    return out


def main():
    T.require_root()
    T.ensure_user()
    res = {b: measure(b) for b in ("iptables", "nftables")}
    print("pks-fw: IMSG_FW_OPEN to its result, median of %d, ms" % PROBES)
    print("%-10s %s  %s" % ("backend", "  ".join("%6d open" % n
                                                   for n in OPEN), "1000/1"))
    for b, r in res.items():
        print("%-10s %s  %5.2fx" % (b, "  ".join("%11.3f" % r[n]
                                                  for n in OPEN),
                                     r[1000] / r[1]))


if __name__ == "__main__":
    main()

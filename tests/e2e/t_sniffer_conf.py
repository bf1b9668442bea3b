#!/usr/bin/env python3
"""t_sniffer_conf: pks-sniffer alone, this test playing the monitor, is
sent IMSG_SNIFF_CONF with the eBPF map's bucket count (issue 13: the map
is sized from max-sources).  A count the monitor cannot have made (not a
power of two, or out of bounds) is refused with a clear line before
anything is opened; 0 (no map) and a good count are taken, and the
sniffer goes on to want an interface.
"""
import subprocess

import pkstest
import pksimsg as pm
from pkstest import tap

MIN, MAX = 1 << 12, 1 << 17	# EBPF_BUCKETS_MIN, EBPF_BUCKETS_MAX


def conf(buckets):
    return pm.S["pks_sniff_conf"].pack(10, 16384, 20000, 60000, buckets)


def run(buckets):
    c = pkstest.LoneChild("pks-sniffer")
    c.configure(pkstest.empty_dir(), [(pm.IMSG_SNIFF_CONF, conf(buckets))],
                refusal=True)
    try:
        c.proc.wait(15)
    except subprocess.TimeoutExpired:
        pass			# stop() kills it, and the checks fail
    rc = c.stop()
    return rc, c.log


def main():
    for bad in (3000, MIN // 2, MAX * 2, MIN * 3):
        rc, log = run(bad)
        tap.ok(rc != 0 and log.has(r"IMSG_SNIFF_CONF: %d eBPF buckets" % bad,
                                   timeout=1),
               "%d buckets: refused, said, exit %s" % (bad, rc),
               log.text())
    for good in (0, MIN, 1 << 15, MAX):
        rc, log = run(good)
        tap.ok(rc != 0 and log.has(r"no interface to capture on", timeout=1)
               and log.lacks(r"eBPF buckets"),
               "%d buckets: taken (then no interface, exit %s)" % (good, rc),
               log.text())
    tap.done()


if __name__ == "__main__":
    main()

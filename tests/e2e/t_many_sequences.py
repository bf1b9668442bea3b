#!/usr/bin/env python3
"""Scale (issue 14): 10,000 live sequences, issued at start through the
monitor's own seq_generate() by a test hook (PKS_TEST_SEQS), since the
fake Bot API would test the bot, not the scale.  Then 250 users knock,
each from an address of their own (150 IPv4, 100 IPv6), several at a
time, as an organization would: every knock opens its window, no child
is restarted or killed by its sandbox, every refusal the sniffer makes
leaves a reason in the log, and a sweep of the whole knock range from
one more source opens nothing."""
import os
import re
import time

import pkstest
from pkstest import tap, SRV4, SRV6, CLI4, CLI4_B

NSEQ = 10000
V4 = ["198.18.0.%d" % i for i in range(10, 160)]
V6 = ["fd00::7:%x" % i for i in range(1, 101)]
WRONG = "198.18.0.200"
PARALLEL = 5

# one knocker process per PARALLEL share, in the client namespace: three
# SYNs back to back per source, sources one after the other
KNOCKER = r"""
import sys
sys.path.insert(0, %r)
import netutil
for line in sys.stdin:
    src, *ports = line.split()
    host = %r if ":" in src else %r
    netutil.knock(host, "tcp", src, ports, delay=0.001)
print("done", flush=True)
"""


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    pkstest.set_deadline(300)
    with pkstest.Net() as net:
        s = pkstest.Suite(net, telegram=False)
        s.conf_text = (s.conf_text
                       .replace("sequence-lifetime 300",
                                "sequence-lifetime 3600")
                       .replace("max-sources 1024", "max-sources 65536")
                       .replace("open-for 30", "open-for 3600"))
        seqfile = os.path.join(s.dir, "seqs")
        os.environ["PKS_TEST_SEQS"] = "%d:%s" % (NSEQ, seqfile)
        t0 = time.time()
        s.monitor = pkstest.Monitor(net, s.conf_text)
        s.monitor.start(wait_ready=False)
        ready = s.monitor.log.wait(r"pks-monitor: all children ready", 60)
        del os.environ["PKS_TEST_SEQS"]
        tap.ok(ready is not None, "the suite starts with %d live sequences"
               " (%.1f s)" % (NSEQ, time.time() - t0),
               None if ready else s.monitor.log.text()[-3000:])
        if ready is None:
            tap.done()
            return
        with open(seqfile) as f:
            seqs = [[int(x) for x in l.split()] for l in f]
        tap.ok(len(seqs) == NSEQ and all(len(q) == 4 for q in seqs),
               "the hook issued %d sequences of 3 ports" % NSEQ)
        sniffer = s.monitor.child_pid("pks-sniffer")
        fw = s.monitor.child_pid("pks-fw")
        # the sniffer must have them all before anyone knocks
        tap.ok(pkstest.wait_for(lambda: s.monitor.log.grep(
            r"pks-sniffer: filters for %d knock ports" % (3 * NSEQ)), 30),
            "the sniffer filters all %d knock ports" % (3 * NSEQ))
        m = s.monitor.log.grep(r"filters for %d knock ports, (\d+) \+ "
                               r"(\d+) instructions" % (3 * NSEQ))
        if m:
            tap.diag(m[-1])

        pkstest.add_client_addrs(net, V4 + V6 + [WRONG])
        time.sleep(1)
        srcs = V4 + V6
        # every 40th sequence, so their ports spread over the range
        chosen = {src: seqs[i * 40] for i, src in enumerate(srcs)}
        procs = []
        for k in range(PARALLEL):
            p = pkstest.spawn(["python3", "-c", KNOCKER % (
                os.path.dirname(s.NETUTIL), SRV6, SRV4)], ns=net.cli,
                stdin=pkstest.subprocess.PIPE,
                stdout=pkstest.subprocess.PIPE, text=True)
            procs.append(p)
        for i, src in enumerate(srcs):
            procs[i % PARALLEL].stdin.write(
                "%s %s\n" % (src, " ".join(map(str, chosen[src][1:]))))
        for p in procs:
            p.stdin.close()
        for p in procs:
            p.stdout.readline()
            p.wait(timeout=60)

        def opened():
            keys = pkstest.window_keys(net) or set()
            return {a for (a, port) in keys if port == 2222}
        pkstest.wait_for(lambda: len(opened()) == len(srcs), 20)
        got = opened()
        missing = [src for src in srcs if src not in got]
        tap.ok(not missing, "all %d knocks from distinct sources open "
               "(%d did)" % (len(srcs), len(srcs) - len(missing)),
               "\n".join("%s seq %d %s" % (m, chosen[m][0], chosen[m][1:])
                         for m in missing[:20]))
        for src in missing[:20]:
            q = chosen[src]
            lines = [l for l in s.monitor.log.text().split("\n")
                     if src in l or re.search(r"sequence %d\b" % q[0], l)]
            tap.diag("log for %s: %s" % (src, lines[-5:]))
        tap.ok(all(s.monitor.log.grep(r"sequence %d knocked from %s " %
                                      (chosen[x][0], re.escape(x)))
                   for x in srcs if x in got),
               "the sniffer reported each of them")

        # refused knocks say why at -v: out of order (the second port
        # first, a wrong hit; the first starts, the third resets it), and
        # a wrong port in the middle
        q1, q2 = seqs[1], seqs[2]
        s.knock([q1[2], q1[1], q1[3]], src=CLI4_B)
        s.knock([q2[1], q2[2] + 1, q2[3]], src=WRONG)
        time.sleep(1)
        for q, src, how in ((q1, CLI4_B, "out of order"),
                            (q2, WRONG, "with a wrong port")):
            tap.ok(s.monitor.log.wait(
                r"sequence %d from %s, \d+ of its ports knocked, then port "
                r"\d+: (reset|not started|dropped)" % (q[0], re.escape(src)),
                15), "a knock %s is refused, and the log says why" % how,
                "\n".join(s.monitor.log.grep(re.escape(src))))
        tap.ok(not {CLI4_B, WRONG} & opened(), "neither opened")

        # a sweep of the whole knock range, from a source not knocking
        rc = pkstest.run(["python3", s.NETUTIL, "sweep", SRV4, "asc",
                          "20000", "60000"], ns=net.cli, check=False,
                         timeout=180).returncode
        time.sleep(1)
        tap.ok(rc == 0 and CLI4 not in opened(),
               "a sweep of the knock range opens nothing (rc %d)" % rc)

        same = s.monitor.child_pid("pks-sniffer") == sniffer and \
            s.monitor.child_pid("pks-fw") == fw
        s.stop()
        # absences on the whole log up to the stop, once it has ended
        tap.ok(same and s.monitor.log.lacks(r"restart|exited|killed by",
                                            until=r"pks-monitor: stopping"),
               "no child restarted",
               "\n".join(s.monitor.log.grep(r"restart|exited|killed by")))
        tap.ok(s.monitor.log.lacks(r"sandbox|SIGSYS|signal 31"),
               "no sandbox violation")
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A burst that overflows the sniffer's read capture (the ring for the
first knock ports and the guards, read on a timer of up to a second):
the kernel drops packets there, the sniffer keeps running in its sandbox,
says how many it lost, and a real knock afterwards still opens the port.
"""
import time

import pkstest
from pkstest import tap, SRV4, ADA

BURST = 60000		# datagrams: more than the read ring holds (8 MB
			# where the range capture reads alone, 4 MB else)
BURSTS = 4		# bursts at most, until one overflows it
GUARD = 16		# PKS_GUARD


def main():
    with pkstest.running() as s:
        net = s.net
        pid = s.monitor.child_pid("pks-sniffer")
        ports, _ = s.generate(ADA)
        guards = [ports[0] + d for d in range(1, GUARD + 1)]
        # on a loaded machine one burst may come slowly enough for the
        # sniffer to keep up: a few more, until it overflows (bounded)
        sent, m = [], None
        for _ in range(BURSTS):
            r = pkstest.run(["python3", s.NETUTIL, "burst", SRV4,
                             str(BURST)] + [str(p) for p in guards],
                            ns=net.cli, check=False, timeout=60)
            sent.append(r.returncode)
            m = pkstest.wait_for(lambda: s.monitor.log.grep(
                r"pks-sniffer.*capture full: (\d+) packets lost \(0 on "
                r"last knock ports\)"), 5)
            if m or r.returncode != 0:
                break
        tap.ok(sent and all(rc == 0 for rc in sent),
               "%d datagrams sent to guard ports, %d time(s)" %
               (BURST, len(sent)))
        tap.ok(m, "the sniffer says it lost packets on the read capture",
               "\n".join(s.monitor.log.lines[-20:]))
        tap.ok(s.monitor.child_pid("pks-sniffer") == pid,
               "and goes on without a restart")
        time.sleep(2.5)		# past the cooldown the guard hits set
        s.knock(ports)
        tap.ok(pkstest.wait_for(s.windows, 5),
               "a real knock afterwards opens the port")
        s.stop()
        tap.ok(s.monitor.log.lacks(r"sandbox violation|pks-sniffer.*"
                                   r"(exited|killed)"),
               "the sniffer stayed in its sandbox all along")
    tap.done()


if __name__ == "__main__":
    main()

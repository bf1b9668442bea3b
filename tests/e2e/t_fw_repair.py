#!/usr/bin/env python3
"""Issue 13, L5: on iptables, someone else changes PKS's rules while PKS
runs and no window changes (iptables-legacy -F PKS, the jump from INPUT
deleted, a rule inserted above the jump, the IPv6 chain flushed): pks-fw
notices within its periodic check (5 s; 0.25 s after one that found the
xtables lock held, as other tests on the machine may hold it), logs it and puts its chain and
its one jump back, windows included.  (On nftables the kernel refuses
such changes while pks-fw runs: t_nft.py.)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap, CLI4  # noqa: E402

ADA = 6123456789
SERVICE = "service ssh {\n\tport 2222\n\tprotocol tcp\n\topen-for 120\n}"
CLOSED = {("tcp", 2222)}
CHECK = 5	# FW_CHECK_MS


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    pkstest.set_deadline(180)
    if pkstest.fw_backend() != "iptables":
        tap.skip_all("iptables only (nftables: the owner flag, t_nft.py)")
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n" % ADA,
                          services=SERVICE).start()
        s.echod()
        ports, msg = s.generate(ADA)
        s.knock(ports)
        want = pkstest.FwState({(CLI4, "tcp", 2222)}, CLOSED, True)
        tap.ok(pkstest.wait_for(lambda: net.fw.read() == want, 5),
               "a window is open", net.fw.dump())
        for what, v6, args in (
                ("the chain flushed", False, ["-F", "PKS"]),
                ("the jump deleted", False, ["-D", "INPUT", "-j", "PKS"]),
                ("a rule inserted above the jump", False,
                 ["-I", "INPUT", "1", "-p", "tcp", "--dport", "2222", "-j",
                  "ACCEPT"]),
                ("the IPv6 chain flushed", True, ["-F", "PKS"])):
            start = len(s.monitor.log.lines)
            r = net.iptables(*args, v6=v6)
            # pks-fw's periodic check may repair it before we look: then
            # its notice below shows the change was there
            changed = net.fw.read() != want
            i = s.monitor.log.wait(r"pks-fw: IPv%d filter table: chain PKS "
                                   r"or its jump from INPUT was changed by "
                                   r"someone else: rebuilding it" %
                                   (6 if v6 else 4), CHECK * 4 + 10, start)
            tap.ok(r.returncode == 0 and (changed or i is not None),
                   "%s by someone else" % what, r.stderr)
            tap.ok(i is not None, "%s: pks-fw notices and says so" % what)
            # the notice comes before the rebuild: wait for its end
            if what.startswith("a rule inserted"):
                # the foreign rule stays, below PKS's jump
                def jump_first():
                    st = net.fw.read()
                    inp = net.iptables("-S", "INPUT").stdout.splitlines()
                    return (inp[1:2] == ["-A INPUT -j PKS"] and
                            st.windows == want.windows and
                            st.services == CLOSED)
                tap.ok(pkstest.wait_for(jump_first, 5),
                       "%s: the jump is first again, the foreign rule "
                       "kept" % what, net.iptables("-S", "INPUT").stdout)
                net.iptables("-D", "INPUT", "-p", "tcp", "--dport", "2222",
                             "-j", "ACCEPT")
            else:
                tap.ok(pkstest.wait_for(lambda: net.fw.read() == want, 5),
                       "%s: the chain is back, window included" % what,
                       net.fw.dump())
        tap.ok(s.can_connect(), "the knocker still connects")
        tap.ok(not s.can_connect(src=pkstest.CLI4_B),
               "another address still does not")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

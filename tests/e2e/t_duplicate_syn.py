#!/usr/bin/env python3
"""Each knock sent twice (SYN retransmits, clients that double their SYNs)
still opens the port: knockd fails this."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap  # noqa: E402

ADA = 6123456789


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n" % ADA)
        s.start()
        s.echod()
        ports, _ = s.generate(ADA)
        doubled = [p for p in ports for _ in (0, 1)]
        s.knock(doubled, client=False)
        tap.ok(pkstest.wait_for(s.windows, 5),
               "every knock sent twice: the port opens")
        tap.ok(s.can_connect(), "and accepts the knocker")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

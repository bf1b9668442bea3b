#!/usr/bin/env python3
"""A sequence is one-time: replaying the same knock, from the same address
or from another, opens nothing."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap, CLI4, CLI4_B  # noqa: E402

ADA = 6123456789
SERVICE = "service ssh {\n\tport 2222\n\tprotocol tcp\n\topen-for 2\n}"


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n" % ADA,
                          services=SERVICE, barrier=True).start()
        s.echod()
        ports, msg = s.generate(ADA)
        s.knock(ports)
        tap.ok(pkstest.wait_for(s.windows, 5), "the first knock opens")
        tap.ok(pkstest.wait_for(lambda: not s.windows(), 8),
               "the window closes")
        s.knock(ports)
        s.barrier()
        tap.ok(not s.windows(CLI4) and not s.can_connect(),
               "the same knock replayed from the same address opens "
               "nothing")
        s.knock(ports, src=CLI4_B)
        s.barrier()
        tap.ok(not s.windows(CLI4_B) and
               not s.can_connect(src=CLI4_B),
               "replayed from another address, nothing either")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

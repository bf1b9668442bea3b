#!/usr/bin/env python3
"""A sequence is one-time: replaying the same knock, from the same address
or from another, opens nothing."""

import pkstest
from pkstest import tap, CLI4, CLI4_B, ADA

SERVICE = pkstest.service("ssh", 2222, open_for=2)


def main():
    with pkstest.running(services=SERVICE, barrier=True) as s:
        ports, opened = s.open_window(ADA)
        tap.ok(opened, "the first knock opens")
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
    tap.done()


if __name__ == "__main__":
    main()

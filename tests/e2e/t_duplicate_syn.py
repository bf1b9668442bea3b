#!/usr/bin/env python3
"""Each knock sent twice (SYN retransmits, clients that double their SYNs)
still opens the port: knockd fails this."""

import pkstest
from pkstest import tap, ADA


def main():
    with pkstest.running() as s:
        ports, _ = s.generate(ADA)
        doubled = [p for p in ports for _ in (0, 1)]
        s.knock(doubled, client=False)
        tap.ok(pkstest.wait_for(s.windows, 5),
               "every knock sent twice: the port opens")
        tap.ok(s.can_connect(), "and accepts the knocker")
    tap.done()


if __name__ == "__main__":
    main()

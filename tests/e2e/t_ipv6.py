#!/usr/bin/env python3
"""IPv6 end to end: a knock over IPv6 opens an ip6tables window for that
address only."""

import pkstest
from pkstest import tap, SRV6, CLI6, ADA


def main():
    with pkstest.running(echod=False) as s:
        s.echod(v6=True)
        tap.ok(not s.can_connect(host=SRV6), "closed over IPv6 at first")
        ports, _ = s.generate(ADA)
        tap.ok(s.knock(ports, host=SRV6) == 0, "pks-knock knocks over IPv6")
        opened = pkstest.wait_for(lambda: s.windows(), 5)
        tap.ok((CLI6, "tcp", 2222) in (opened or ()),
               "an IPv6 window for that address appears", opened)
        tap.ok(opened == {(CLI6, "tcp", 2222)}, "and no IPv4 one", opened)
        tap.ok(s.can_connect(host=SRV6), "the port accepts over IPv6")
        s.stop()
        tap.ok(not s.windows(), "SIGTERM closes it")
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Two users with their own sequences knock at the same time, from two
addresses: both get in; neither's /generate disturbs the other's."""
import threading

import pkstest
from pkstest import tap, CLI4, CLI4_B

ADA, BOB = 6123456789, 7000000001


def main():
    with pkstest.running(allowed=(ADA, BOB)) as s:
        pa, _ = s.generate(ADA)
        pb, _ = s.generate(BOB, first_name="Bob")
        tap.ok(pa and pb and pa != pb, "each user has their own sequence")
        ts = [threading.Thread(target=s.knock, args=(pa,),
                               kwargs={"src": CLI4}),
              threading.Thread(target=s.knock, args=(pb,),
                               kwargs={"src": CLI4_B})]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        rules = pkstest.wait_for(lambda: len(s.windows()) == 2 and
                                 s.windows(), 5)
        tap.ok(rules == {(CLI4, "tcp", 2222), (CLI4_B, "tcp", 2222)},
               "both windows open", s.windows())
        tap.ok(s.can_connect(src=CLI4) and s.can_connect(src=CLI4_B),
               "both users connect")
    tap.done()


if __name__ == "__main__":
    main()

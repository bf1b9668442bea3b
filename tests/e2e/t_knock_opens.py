#!/usr/bin/env python3
"""An allowed user gets a sequence from the bot, knocks it with pks-knock
from the client namespace, and the protected port accepts that address (and
no other) within the window; the user is told the window opened."""

import pkstest
from pkstest import tap, SRV4, CLI4, CLI4_B, ADA


def main():
    with pkstest.running() as s:
        tap.ok(not s.can_connect(), "the protected port is closed at first")
        tap.ok(s.windows() == set(), "no window rule at first")

        ports, msg = s.generate(ADA)
        tap.ok(ports is not None and len(ports) == 3,
               "the bot sends a 3-port sequence", msg)
        tap.ok(len(set(ports or [])) == 3, "its ports are distinct")
        tap.ok(all(20000 <= p <= 60000 for p in ports or []),
               "its ports are in knock-ports")
        tap.ok(s.knock(ports) == 0, "pks-knock sends it (exit 0)")
        opened = pkstest.wait_for(lambda: s.windows(), 5)
        tap.ok(opened == {(CLI4, "tcp", 2222)},
               "one window for that address and port appears", opened)
        tap.ok(s.can_connect(), "the protected port accepts the knocker")
        tap.ok(not s.can_connect(src=CLI4_B),
               "it still refuses another address")
        rec = s.bot.wait_sent(chat_id=ADA, text=r"ssh open for " + CLI4,
                              timeout=15)
        tap.ok(rec is not None, "the user is told the window opened")
        tap.ok(s.monitor.log.has(r"knock completed from " + CLI4, 15),
               "the monitor logs the completed knock")
        tap.ok(s.monitor.log.has(r"window opened: ssh for " + CLI4, 5),
               "and the window")
        s.stop()
        tap.ok(s.monitor.log.lacks(r"\b%d\b.*\b%d\b" % (ports[0],
                                                         ports[1])),
               "no port of the sequence is logged at the default level")
        tap.ok(s.windows() == set(), "SIGTERM closes every window")
        tap.ok(s.fw.services() == {("tcp", 2222)},
               "and the port stays closed (fail-closed)", s.fw.dump())
    tap.done()


if __name__ == "__main__":
    main()

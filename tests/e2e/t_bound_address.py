#!/usr/bin/env python3
"""A sequence bound to an address fails from any other, works from it."""

import pkstest
from pkstest import tap, CLI4, CLI4_B, ADA


def main():
    with pkstest.running(barrier=True) as s:
        ports, msg = s.generate(ADA, text="/generate ssh " + CLI4_B)
        tap.ok(ports and ("from %s only" % CLI4_B) in msg,
               "the bot confirms the bound address", msg)
        s.knock(ports, src=CLI4)
        s.barrier()
        tap.ok(not s.windows(CLI4), "knocked from another "
               "address: nothing opens")
        s.knock(ports, src=CLI4_B)
        rules = pkstest.wait_for(lambda: s.windows(CLI4_B), 15)
        tap.ok(rules == {(CLI4_B, "tcp", 2222)},
               "knocked from the bound address: it opens for that address")
        # the "open for" notice may follow the element into the kernel
        s.bot.wait_sent(chat_id=ADA, text=r"open for", timeout=15)
        since = s.bot.sent()[-1]["seq"]
        s.bot.push_message(user_id=ADA, text="/generate ssh 1.2.3")
        rec = s.bot.wait_sent(chat_id=ADA, since=since, text=r".",
                              timeout=15)
        msg = rec["params"]["text"] if rec else ""
        tap.ok("Not an IPv4 or IPv6 address" in msg and
               "pks-knock" not in msg, "a malformed address is refused",
               msg)
    tap.done()


if __name__ == "__main__":
    main()

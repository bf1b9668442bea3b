#!/usr/bin/env python3
"""A sequence bound to an address fails from any other, works from it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap, CLI4, CLI4_B  # noqa: E402

ADA = 6123456789


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n" % ADA,
                          barrier=True)
        s.start()
        s.echod()
        ports, msg = s.generate(ADA, text="/generate ssh " + CLI4_B)
        tap.ok(ports and ("from %s only" % CLI4_B) in msg,
               "the bot confirms the bound address", msg)
        s.knock(ports, src=CLI4)
        s.barrier()
        tap.ok(not s.windows(CLI4), "knocked from another "
               "address: nothing opens")
        s.knock(ports, src=CLI4_B)
        rules = pkstest.wait_for(lambda: s.windows(CLI4_B), 5)
        tap.ok(rules == {(CLI4_B, "tcp", 2222)},
               "knocked from the bound address: it opens for that address")
        # the "open for" notice may follow the element into the kernel
        s.bot.wait_sent(chat_id=ADA, text=r"open for", timeout=5)
        since = s.bot.sent()[-1]["seq"]
        s.bot.push_message(user_id=ADA, text="/generate ssh 1.2.3")
        rec = s.bot.wait_sent(chat_id=ADA, since=since, text=r".",
                              timeout=5)
        msg = rec["params"]["text"] if rec else ""
        tap.ok("Not an IPv4 or IPv6 address" in msg and
               "pks-knock" not in msg, "a malformed address is refused",
               msg)
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

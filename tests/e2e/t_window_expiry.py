#!/usr/bin/env python3
"""After the window, new connections fail while the connection made inside
it still exchanges data; the user is told the window closed."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap  # noqa: E402

ADA = 6123456789
SERVICE = "service ssh {\n\tport 2222\n\tprotocol tcp\n\topen-for 3\n}"


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n" % ADA,
                          services=SERVICE).start()
        s.echod()
        ports, msg = s.generate(ADA)
        tap.ok(ports, "sequence issued", msg)
        s.knock(ports)
        tap.ok(pkstest.wait_for(s.windows, 5), "window opened")
        sess, ok = s.session()
        tap.ok(ok, "a connection is made inside the window")
        time.sleep(1)
        tap.ok(pkstest.wait_for(lambda: not s.windows(), 8),
               "the window rule goes when the window ends")
        tap.ok(not s.can_connect(), "a new connection after the window "
               "fails")
        sess.stdin.write("still here\n")
        sess.stdin.flush()
        tap.ok(sess.stdout.readline().strip() == "echo still here",
               "the connection made inside still exchanges data")
        sess.stdin.close()
        tap.ok(s.bot.wait_sent(chat_id=ADA, text=r"ssh closed for",
                               timeout=5) is not None,
               "the user is told the window closed")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

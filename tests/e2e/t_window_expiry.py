#!/usr/bin/env python3
"""After the window, new connections fail while the connection made inside
it still exchanges data; the user is told the window closed."""
import time

import pkstest
from pkstest import tap, ADA

SERVICE = pkstest.service("ssh", 2222, open_for=3)


def main():
    with pkstest.running(services=SERVICE) as s:
        ports, opened = s.open_window(ADA)
        tap.ok(ports, "sequence issued")
        tap.ok(opened, "window opened")
        sess, ok = s.session()
        tap.ok(ok, "a connection is made inside the window")
        time.sleep(1)
        tap.ok(pkstest.wait_for(lambda: not s.windows(), 8),
               "the window rule goes when the window ends")
        tap.ok(not s.can_connect(), "a new connection after the window "
               "fails")
        try:		# a session that never connected has exited
            sess.stdin.write("still here\n")
            sess.stdin.flush()
            echo = sess.stdout.readline().strip()
            sess.stdin.close()
        except (BrokenPipeError, OSError) as e:
            echo = "the session is gone: %s" % e
        tap.ok(echo == "echo still here",
               "the connection made inside still exchanges data", echo)
        tap.ok(s.bot.wait_sent(chat_id=ADA, text=r"ssh closed for",
                               timeout=15) is not None,
               "the user is told the window closed")
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Deny by default: a Telegram user or chat not in the configuration gets a
polite refusal and a log line, never a sequence; a user allowed one service
cannot get another."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap  # noqa: E402

ADA, EVE, GROUP = 6123456789, 666, -1001234567890
SERVICES = """service ssh {
	port 2222
	protocol tcp
	open-for 30
}
service web {
	port 8080
	protocol tcp
}"""


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n"
                          "allow chat %d to web\n" % (ADA, GROUP),
                          services=SERVICES).start()
        ports, msg = s.generate(EVE, first_name="Eve")
        tap.ok(ports is None and msg and "not allowed" in msg,
               "an unknown user is refused", msg)
        tap.ok(s.monitor.log.wait(r"refused /generate.*user %d" % EVE, 5)
               is not None, "the refusal is logged")
        ports, msg = s.generate(ADA, text="/generate web")
        tap.ok(ports is None and "may not open that service" in (msg or ""),
               "a user cannot get a service they were not granted", msg)
        ports, msg = s.generate(ADA, text="/generate nosuch")
        tap.ok(ports is None, "nor a service that does not exist")
        s.stop()
        tap.ok(s.monitor.log.lacks(r"sequence \d+ issued"),
               "no sequence was issued at all")
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Deny by default: a Telegram user or chat not in the configuration gets a
polite refusal and a log line, never a sequence; a user allowed one service
cannot get another."""

import pkstest
from pkstest import tap

ADA, EVE, GROUP = 6123456789, 666, -1001234567890
SERVICES = pkstest.SSH + "\n" + pkstest.WEB


def main():
    with pkstest.running(extra="allow chat %d to web\n" % GROUP,
                         services=SERVICES, echod=False) as s:
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

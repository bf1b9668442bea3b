#!/usr/bin/env python3
"""Names from Telegram reach a terminal without control characters
(issue 13, L8): a user whose first name holds a C1 control (CSI, which
some terminals take as ESC [) and C0 controls (BEL, ESC) gets a
sequence; pksctl sequences and windows show the name with each control
replaced, and the monitor's log lines carry none either."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap  # noqa: E402

ADA = 6123456789
NAME = "Ev\u009b31m\u0007e\u001b[2J"
CONTROLS = [chr(c) for c in range(0x20) if c != 0x0a] + ["\x7f"] + \
    [chr(c) for c in range(0x80, 0xa0)]


def clean(text):
    return not any(c in text for c in CONTROLS)


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="allow user %d to { ssh }\n" %
                          ADA).start()
        s.echod()
        sock = os.path.join(s.dir, "pks.sock")
        ports, msg = s.generate(ADA, first_name=NAME)
        tap.ok(ports, "a user with controls in their name gets a sequence",
               msg)
        r = pkstest.pksctl(sock, "sequences")
        tap.ok(r.returncode == 0 and "Ev?31m?e?[2J" in r.stdout,
               "pksctl sequences shows the name, controls replaced",
               repr(r.stdout))
        tap.ok(clean(r.stdout), "and no control character at all",
               repr(r.stdout))
        s.knock(ports)
        pkstest.wait_for(s.window_rules, 5)
        r = pkstest.pksctl(sock, "windows")
        tap.ok("Ev?31m?e?[2J" in r.stdout and clean(r.stdout),
               "pksctl windows too", repr(r.stdout))
        bad = [l for l in s.monitor.log.text().splitlines() if not clean(l)]
        tap.ok(not bad, "no log line carries a control character",
               "\n".join(repr(l) for l in bad))
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

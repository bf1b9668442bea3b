#!/usr/bin/env python3
"""The monitor decides, whatever the worker says.  A test build of
pks-telegram turns "/forge_grant WORDS" into a TG_CMD_GRANT request with
the words copied unchecked, as a compromised worker could send it: for a
non-admin it is refused by the monitor (no grant, a log line), and from an
admin, words the real worker would never pass (an undefined service, a
duration out of range, markup, a negative id) are refused too."""
import os

import pkstest
import pksimsg
from pkstest import tap, ask, ADA, EVE



def main():
    state = pkstest.state_file()
    with pkstest.running(allowed=None, extra=pkstest.admin(ADA, state),
                         echod=False) as s:
        log = s.monitor.log
        # the worker passes the forged request on: proven by its debug line
        t = ask(s, EVE, "/forge_grant %d ssh" % EVE, first_name="Eve")
        tap.ok(t and "administrators only" in t,
               "a forged grant for a non-admin is refused", t)
        tap.ok(log.wait(r"refused /grant from Eve \(user %d.*not an admin"
                        % EVE, 5), "and logged by the monitor")
        tap.ok(log.has(r"pks-telegram: update \d+: request \d+, command "
                       r"%d\b" % pksimsg.TG_CMD["TG_CMD_GRANT"]),
               "the worker did send a TG_CMD_GRANT")
        ports, msg = s.generate(EVE, first_name="Eve")
        tap.ok(ports is None, "the non-admin got no right", msg)
        tap.ok(not os.path.exists(state), "no state file was written")

        for words, want in (("777 nosuch", "defines no service"),
                            ("777 ssh 99999d", "Not a duration"),
                            ("777 ssh 1x", "Not a duration"),
                            ("777 <b>ssh</b>", "defines no service "
                             "\"&lt;b&gt;ssh&lt;/b&gt;\""),
                            ("-5 ssh", "Usage"),
                            ("0 ssh", "Usage"),
                            ("9007199254740993 ssh", "Usage"),
                            ("777 ssh 1h 2h", "Usage")):
            t = ask(s, ADA, "/forge_grant " + words, first_name="Ada")
            tap.ok(t and want in t, "forged \"%s\" refused" % words, t)
        tap.ok(not os.path.exists(state), "still no state file")
        # the reply with markup was delivered, so it was escaped
        tap.ok(not [r for r in s.bot.sent(chat_id=ADA)
                    if r["status"] != 200], "every reply was delivered")
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The monitor decides, whatever the worker says.  A test build of
pks-telegram turns "/forge_grant WORDS" into a TG_CMD_GRANT request with
the words copied unchecked, as a compromised worker could send it: for a
non-admin it is refused by the monitor (no grant, a log line), and from an
admin, words the real worker would never pass (an undefined service, a
duration out of range, markup, a negative id) are refused too.  The same
build forges an IMSG_TG_SENT on "/forge_sent STATUS ID": a message id out
of Telegram's range, or one with a failed delivery, gets the worker killed
as compromised (and restarted); a well-formed one does not."""
import os

import pkstest
import pksimsg
from pkstest import tap, ask, ADA, EVE



def forged_sent(s):
    """The forged IMSG_TG_SENT goes once its update is confirmed, i.e.
    when the next update (the /whoami) arrives: that one is answered by
    the same worker (well-formed) or by its restarted successor."""
    log = s.monitor.log
    for status, mid, bad in ((200, 5, False), (200, -1, True),
                             (200, 2 ** 31, True), (403, 7, True)):
        pid = s.monitor.child_pid("pks-telegram")
        mark = log.mark()
        uid = s.bot.push_message(user_id=ADA, first_name="Ada",
                                 text="/forge_sent %d %d" %
                                 (status, mid))["update_id"]
        # the /whoami in a later batch than the forge: with both in one,
        # the forge waited for the next poll's end (up to 50 s)
        pkstest.wait_for(lambda: s.bot.state()["offset"] > uid, 30)
        t = ask(s, ADA, "/whoami", timeout=30)
        forged = log.has(r"test hook: a forged IMSG_TG_SENT", 5, mark)
        what = "IMSG_TG_SENT with status %d, message id %d" % (status, mid)
        # the monitor reads the forged message before the /whoami: the
        # answer came from the same worker only if it was not killed
        if bad:
            tap.ok(t and forged and log.has(
                r"pks-telegram: malformed message \(type %d, 24 bytes\)"
                % pksimsg.IMSG_TG_SENT, 5, mark) and
                s.monitor.child_pid("pks-telegram") != pid,
                "%s: the monitor kills the worker as compromised, it "
                "comes back" % what, log.text()[-1500:])
        else:
            tap.ok(t and forged and
                   s.monitor.child_pid("pks-telegram") == pid,
                   "%s: taken" % what, log.text()[-1500:])


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
        forged_sent(s)
    tap.done()


if __name__ == "__main__":
    main()

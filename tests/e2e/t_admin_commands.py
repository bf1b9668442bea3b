#!/usr/bin/env python3
"""The admin commands, end to end: each one refused to a non-admin (with a
log line), a usage line for bad arguments, and each one doing its job for
an admin: grant (by id and as a reply in a group), then the user knocks
through; /windows and /close; ungrant kills the live sequence; /revoke;
/users answered in private even when asked in a group; /lockdown closes
windows, revokes sequences and refuses /generate until /unlock; notify
users hear of windows and admin actions; each action is logged."""
import os
import re
import tempfile

import pkstest
from pkstest import tap, ask, CLI4

ADA, BOB, EVE, NOTE = 6123456789, 6123456791, 666, 5550001
GROUP = -1001234567890
BOTNAME = "PksTestBot"
REFUSED = r"for administrators only"
ADMIN_CMDS = ["/grant %d ssh" % BOB, "/ungrant %d ssh" % BOB, "/users",
              "/windows", "/close 198.18.0.2", "/revoke all",
              "/revoke %d" % BOB, "/lockdown", "/unlock"]


def barrier(s):
    """Suite.barrier(), then its window closed: the window counts below
    are Bob's."""
    end = s.barrier()
    pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "close",
                   pkstest.BARRIER_SRC)
    pkstest.wait_for(lambda: not s.windows(pkstest.BARRIER_SRC), 5)
    return end


def gen(s, user, name):
    return s.generate(user, first_name=name)


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    d = tempfile.mkdtemp(prefix="pks-admin-")
    state = os.path.join(d, "state", "state")
    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="admin user %d\nnotify user %d\n"
                          "state-file \"%s\"\n" % (ADA, NOTE, state),
                          barrier=True).start()
        s.echod()
        log = s.monitor.log
        # Bob's knocks come from CLI4; a knock that opens nothing is
        # proved by the barrier: no completion before it
        knocked = r"knock completed from %s:" % re.escape(CLI4)

        # ---- a non-admin gets a refusal and a log line for each
        for c in ADMIN_CMDS:
            t = ask(s, EVE, c, REFUSED + "|.", first_name="Eve")
            tap.ok(t is not None and "administrators only" in t,
                   "non-admin: %s refused" % c, t)
            name = c.split()[0][1:]
            tap.ok(log.wait(r"refused /%s from Eve \(user %d.*not an admin"
                            % (name, EVE), 5),
                   "non-admin: %s logged" % c)
        tap.ok(not os.path.exists(state),
               "no state file was written for a non-admin")
        ports, msg = gen(s, BOB, "Bob")
        tap.ok(ports is None, "Bob has no right yet", msg)

        # ---- usage lines
        for c in ["/grant", "/grant abc", "/grant %d" % BOB,
                  "/grant %d ssh 1h extra" % BOB, "/ungrant %d" % BOB,
                  "/ungrant", "/close", "/revoke all extra", "/lockdown now",
                  "/unlock please", "/grant %d ssh<b>" % BOB,
                  "/windows now", "/users all"]:
            t = ask(s, ADA, c, r"Usage|.", first_name="Ada")
            tap.ok(t is not None and t.startswith("Usage: /") and
                   "HOST" not in t, "admin: \"%s\" gets a usage line (no "
                   "host form: no fleet here)" % c, t)
        t = ask(s, ADA, "/grant %d nosuch" % BOB, first_name="Ada")
        tap.ok(t and "defines no service" in t and "ssh" in t,
               "a grant of an undefined service is refused", t)
        for dur in ("2x", "400d", "0h"):
            t = ask(s, ADA, "/grant %d ssh %s" % (BOB, dur), first_name="Ada")
            tap.ok(t and "Not a duration" in t,
                   "duration %s is refused" % dur, t)
        t = ask(s, ADA, "/close 198.18.0.999", first_name="Ada")
        tap.ok(t and "Not an IPv4 or IPv6 address" in t,
               "/close of a bad address is refused", t)
        tap.ok(not os.path.exists(state), "still no state file")

        # ---- grant, then the user knocks through
        since = pkstest.last_sent_seq(s)
        t = ask(s, ADA, "/grant %d ssh" % BOB, first_name="Ada")
        tap.ok(t and "Granted ssh to %d until ungranted" % BOB in t,
               "admin: /grant by id", t)
        tap.ok(log.wait(r"admin Ada \(%d\) granted ssh to %d" % (ADA, BOB),
                        5), "the grant is logged with who did it")
        rec = s.bot.wait_sent(chat_id=NOTE, since=since,
                              text=r"granted ssh to %d" % BOB)
        tap.ok(rec is not None, "a notify user hears of the grant")
        st = pkstest.read_state(state)
        tap.ok(st["grants"].get((BOB, "ssh")) == 0,
               "the grant is in the state file", st)
        tap.ok(oct(os.stat(state).st_mode & 0o777) == "0o600" and
               oct(os.stat(os.path.dirname(state)).st_mode & 0o777) ==
               "0o700", "state file 0600 in a directory made 0700")
        ports, msg = gen(s, BOB, "Bob")
        tap.ok(ports, "Bob gets a sequence now", msg)
        since = pkstest.last_sent_seq(s)
        s.knock(ports)
        ok = pkstest.wait_for(lambda: s.windows(), 5)
        tap.ok(ok and s.can_connect(), "and knocks through")
        rec = s.bot.wait_sent(chat_id=NOTE, since=since,
                              text=r"Bob opened ssh from 198\.18\.0\.2")
        tap.ok(rec is not None, "a notify user hears of the window")

        # ---- /windows and /close
        t = ask(s, ADA, "/windows", first_name="Ada")
        tap.ok(t and "198.18.0.2" in t and "ssh" in t and "Bob" in t,
               "admin: /windows lists the window", t)
        t = ask(s, ADA, "/close 198.18.0.2", first_name="Ada")
        tap.ok(t and "Closing 1 window" in t, "admin: /close", t)
        tap.ok(pkstest.wait_for(lambda: not s.windows(), 5),
               "the window is closed")
        tap.ok(log.wait(r"admin Ada \(%d\) closed 1 window" % ADA, 5),
               "/close is logged")

        # ---- ungrant kills the live sequence
        ports, msg = gen(s, BOB, "Bob")
        tap.ok(ports, "Bob has a live sequence", msg)
        t = ask(s, ADA, "/ungrant %d ssh" % BOB, first_name="Ada")
        tap.ok(t and "Ungranted ssh" in t and "1 live sequence revoked" in t,
               "admin: /ungrant revokes the live sequence", t)
        mark = log.mark()
        s.knock(ports)
        end = barrier(s)
        tap.ok(not s.windows(CLI4) and log.lacks(knocked, mark, end),
               "the revoked sequence opens nothing", s.windows(CLI4))
        p2, msg = gen(s, BOB, "Bob")
        tap.ok(p2 is None, "Bob has no right any more", msg)
        tap.ok((BOB, "ssh") not in pkstest.read_state(state)["grants"],
               "the state file has no grant")
        t = ask(s, ADA, "/ungrant %d ssh" % BOB, first_name="Ada")
        tap.ok(t and "has no grant" in t, "a second /ungrant says so", t)

        # ---- grant as a reply to Bob's message in a group
        up = s.bot.push_message(user_id=BOB, first_name="Bob",
                                chat_id=GROUP, chat_type="group",
                                text="may I get in?")
        mid = up["message"]["message_id"]
        t = ask(s, ADA, "/grant@%s ssh 2h" % BOTNAME, chat_id=GROUP,
                chat_type="group", first_name="Ada",
                reply_to_message_id=mid)
        tap.ok(t and "Granted ssh to Bob (%d)" % BOB in t,
               "admin: /grant as a reply, in a group", t)
        tap.ok(0 < pkstest.read_state(state)["grants"].get((BOB, "ssh"), 0),
               "the grant has an end")
        ports, msg = gen(s, BOB, "Bob")
        tap.ok(ports, "Bob may generate again", msg)

        # ---- /users: in private, even when asked in a group
        since = pkstest.last_sent_seq(s)
        t = ask(s, ADA, "/users@%s" % BOTNAME, chat_id=GROUP,
                chat_type="group", reply_chat=ADA, first_name="Ada")
        tap.ok(t and "Granted by an admin" in t and str(BOB) in t and
               "by %d" % ADA in t, "admin: /users answered in private", t)
        leaked = [r for r in s.bot.sent(chat_id=GROUP, since=since)
                  if str(BOB) in r["params"].get("text", "")]
        tap.ok(not leaked, "nothing about users went to the group", leaked)

        # ---- /revoke USER_ID and all
        t = ask(s, ADA, "/revoke %d" % BOB, first_name="Ada")
        tap.ok(t and "Revoked 1 live sequence of %d" % BOB in t,
               "admin: /revoke USER_ID", t)
        gen(s, BOB, "Bob")
        t = ask(s, ADA, "/revoke all", first_name="Ada")
        tap.ok(t and "Revoked 1 live sequence of everyone" in t,
               "admin: /revoke all", t)

        # ---- lockdown
        ports, msg = gen(s, BOB, "Bob")
        s.knock(ports)
        tap.ok(pkstest.wait_for(lambda: s.windows(), 5),
               "a window is open before the lockdown")
        live, msg = gen(s, BOB, "Bob")
        since = pkstest.last_sent_seq(s)
        t = ask(s, ADA, "/lockdown", first_name="Ada")
        tap.ok(t and "Locked down: 1 live sequence revoked, 1 window "
               "closing" in t, "admin: /lockdown", t)
        tap.ok(pkstest.wait_for(lambda: not s.windows(), 5),
               "every window is closed")
        tap.ok(log.wait(r"admin Ada \(%d\) locked everything down" % ADA, 5),
               "the lockdown is logged")
        tap.ok(s.bot.wait_sent(chat_id=NOTE, since=since,
                               text="locked everything down") is not None,
               "a notify user hears of the lockdown")
        tap.ok(pkstest.read_state(state)["lockdown"] == 1,
               "the lockdown is in the state file")
        mark = log.mark()
        s.knock(live)		# judged before the barrier after /unlock
        t = ask(s, BOB, "/generate", r"locked|pks-knock", first_name="Bob")
        tap.ok(t and "locked everything down" in t,
               "no sequence is issued while locked down", t)
        tap.ok(log.wait(r"refused /generate from Bob .*locked down", 5),
               "and the refusal is logged")
        t = ask(s, ADA, "/lockdown", first_name="Ada")
        tap.ok(t and "Already locked down" in t, "a second /lockdown", t)
        t = ask(s, ADA, "/unlock", first_name="Ada")
        tap.ok(t and "Lockdown lifted" in t, "admin: /unlock", t)
        tap.ok(pkstest.read_state(state)["lockdown"] == 0,
               "the state file says so")
        ports, msg = gen(s, BOB, "Bob")
        tap.ok(ports, "sequences are issued again", msg)
        end = barrier(s)
        tap.ok(not s.windows(CLI4) and log.lacks(knocked, mark, end),
               "a sequence issued before the lockdown, knocked in it, "
               "opens nothing", s.windows(CLI4))
        t = ask(s, ADA, "/unlock", first_name="Ada")
        tap.ok(t and "Not locked down" in t, "a second /unlock", t)

        # ---- /help shows the admin commands to admins only
        t = ask(s, ADA, "/help", first_name="Ada")
        tap.ok(t and "You are an administrator" in t and "/lockdown" in t,
               "/help lists the admin commands for an admin", t)
        t = ask(s, BOB, "/help", first_name="Bob")
        tap.ok(t and "administrator:" not in t and "/lockdown" not in t,
               "and not for anyone else", t)
        # /revoke without an argument stays everyone's own
        t = ask(s, BOB, "/revoke", first_name="Bob")
        tap.ok(t and t.startswith("Revoked"), "/revoke alone still works "
               "for a user", t)
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

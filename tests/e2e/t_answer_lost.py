#!/usr/bin/env python3
"""An answer handed to pks-telegram and lost with it revokes its sequence.

Ada's /generate is answered (the sniffer armed the sequence) and the
answer handed to the worker, whose sendMessage hangs at the Bot API; the
worker is killed then.  The delivery will never be known: the monitor
revokes the sequence as it reaps the worker (logged), rather than keep it
live without anyone having seen it.  The restarted worker, which had not
confirmed that update (it confirms a batch only once each message for it
finished), gets it again: Ada gets a fresh sequence, and its knock opens.
"""
import os
import re
import signal

import pkstest
from pkstest import tap, ADA


def live_ids(s):
    """The ids of the live sequences (pksctl sequences), or None."""
    r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "sequences")
    if r.returncode != 0:
        return None
    return set(int(l.split()[0]) for l in r.stdout.splitlines()[1:]
               if l.strip())


def main():
    with pkstest.running() as s:
        log = s.monitor.log
        s.bot.wait_polling(timeout=10)
        start = log.mark()
        since = pkstest.last_sent_seq(s)
        # the answer reaches the Bot API and hangs there
        s.bot.fail(method="sendMessage", kind="hang", seconds=30, count=1,
                   chat_id=ADA)
        s.bot.push_message(user_id=ADA, text="/generate", chat_id=ADA,
                           chat_type="private", first_name="Ada")
        said = log.wait(r"pks-monitor: sequence \d+ armed by pks-sniffer: "
                        r"answered", 10, start)
        hung = s.bot.wait_log(method="sendMessage", since=since, status=0,
                              timeout=10)
        seq = int(re.search(r"sequence (\d+) armed", log.lines[said])
                  .group(1)) if said is not None else None
        before = live_ids(s)
        tap.ok(hung is not None and seq is not None and before is not None
               and seq in before, "the answer is made, handed on, and "
               "hangs at the Bot API; sequence %s live" % seq,
               log.text()[-1500:])
        # the restarted worker's first call hangs a while: the sequence is
        # looked at before the update comes again
        s.bot.fail(method="getMe", kind="hang", seconds=5, count=1)
        os.kill(s.monitor.child_pid("pks-telegram"), signal.SIGKILL)
        down = log.wait(r"pks-monitor: pks-telegram: restarting in", 10,
                        start)
        rev = log.wait(r"pks-monitor: sequence %s of Ada revoked: telegram "
                       r"restarted before its answer was delivered" % seq,
                       5, start)
        live = live_ids(s)
        tap.ok(None not in (down, rev) and live is not None and
               seq not in live, "the worker killed before the delivery is "
               "known: the sequence is revoked as it is reaped, logged",
               "%s\n%s" % (live, "\n".join(log.grep(r"sequence|telegram")
                                          [-8:])))
        # the update comes again: a fresh answer, a fresh sequence
        rec = s.bot.wait_sent(chat_id=ADA, since=since, text=r"pks-knock",
                              timeout=40)
        m = re.search(r"pks-knock \S+((?: \d+)+)",
                      rec["params"].get("text", "") if rec else "")
        ports = [int(p) for p in m.group(1).split()] if m else None
        again = log.wait(r"pks-monitor: sequence (\d+) armed by "
                         r"pks-sniffer: answered", 5, (down or start) + 1)
        tap.ok(ports and again is not None and
               "sequence %s armed" % seq not in log.lines[again],
               "the restarted worker gets the update again: Ada gets a "
               "fresh sequence", rec)
        s.knock(ports or [1])
        tap.ok(pkstest.wait_for(s.windows, 10), "its knock opens")
    tap.done()


if __name__ == "__main__":
    main()

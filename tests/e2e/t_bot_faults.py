#!/usr/bin/env python3
"""The real pks-telegram under the real monitor, its api-url naming the
host "localhost" (so name resolution under confinement is exercised),
against every fault class of the Bot API: after each, the worker is still
the same process or has been restarted, and the next command is answered.
A restart of the worker mid-stream loses no update.  Answers go out at
Telegram's pace: about one a second in a private chat, one every three
seconds in a group.  The token appears in no log line."""
import os
import signal
import time

import pkstest
from pkstest import tap, ADA

# the real pacing: this test checks it (pkstest shortens it for the
# others)
os.environ.pop("PKS_TEST_RATE_DIV", None)
GROUP = -1001234567890

FAULTS = [
    ("getUpdates", {"kind": "500"}),
    ("getUpdates", {"kind": "502"}),
    ("getUpdates", {"kind": "429", "retry_after": 1}),
    ("getUpdates", {"kind": "409"}),
    ("getUpdates", {"kind": "badjson"}),
    ("getUpdates", {"kind": "notjson"}),
    ("getUpdates", {"kind": "close"}),
    ("getUpdates", {"kind": "hang", "seconds": 3}),
    ("sendMessage", {"kind": "500"}),
    ("sendMessage", {"kind": "429", "retry_after": 2}),
    ("sendMessage", {"kind": "close"}),
    ("sendMessage", {"kind": "badjson"}),
]


def answered(s, user, since, timeout=20):
    return s.bot.wait_sent(chat_id=user, since=since, text=r"Your user id",
                           timeout=timeout)


def main():
    with pkstest.running(echod=False) as s:
        tap.ok("https://localhost:" in s.conf_text,
               "the worker is pointed at the API by host name")
        s.bot.wait_polling(timeout=10)
        worker = s.monitor.child_pid("pks-telegram")
        for method, fault in FAULTS:
            since = s.bot.sent()[-1]["seq"] if s.bot.sent() else 0
            s.bot.fail(method=method, count=1, **fault)
            s.bot.push_message(user_id=ADA, text="/whoami")
            rec = answered(s, ADA, since)
            tap.ok(rec is not None, "%s answered %s: the next command is "
                   "still answered" % (method, fault["kind"]))
        tap.ok(s.monitor.child_pid("pks-telegram") == worker,
               "the worker rode out every fault without dying")

        # sending rate: about one message a second in one chat
        since = s.bot.sent()[-1]["seq"]
        for _ in range(4):
            s.bot.push_message(user_id=ADA, text="/whoami")
        pkstest.wait_for(lambda: len([r for r in s.bot.sent(chat_id=ADA)
                                      if r["seq"] > since]) >= 4, 15)
        times = [r["time"] for r in s.bot.sent(chat_id=ADA)
                 if r["seq"] > since]
        gaps = [b - a for a, b in zip(times, times[1:])]
        tap.ok(len(times) == 4 and min(gaps) >= 0.9,
               "answers to one chat go out about a second apart", gaps)
        # and in a group, one every three seconds (20 a minute)
        since = s.bot.sent()[-1]["seq"]
        for _ in range(3):
            s.bot.push_message(user_id=ADA, chat_id=GROUP,
                               chat_type="supergroup",
                               text="/whoami@PksTestBot")
        pkstest.wait_for(lambda: len(s.bot.sent(chat_id=GROUP,
                                                since=since)) >= 3, 15)
        times = [r["time"] for r in s.bot.sent(chat_id=GROUP, since=since)]
        gaps = [b - a for a, b in zip(times, times[1:])]
        tap.ok(len(times) == 3 and min(gaps) >= 2.9,
               "answers to one group go out about three seconds apart",
               gaps)

        # a restart mid-stream: nothing lost
        s.bot.fail(method="sendMessage", kind="hang", seconds=30, count=1)
        since = s.bot.sent()[-1]["seq"]
        users = [7000000100 + i for i in range(5)]
        for u in users:
            s.bot.push_message(user_id=u, text="/whoami", first_name="U")
        time.sleep(2)
        mark = s.monitor.log.mark()
        os.kill(s.monitor.child_pid("pks-telegram"), signal.SIGKILL)
        # the monitor logs this kill after any crash that came before
        killed = s.monitor.log.wait(r"pks-telegram: killed by signal 9",
                                    10, mark)
        tap.ok(killed is not None and
               s.monitor.log.lacks(r"pks-telegram: (sandbox|killed|exited)",
                                   until=killed),
               "nothing crashed before that kill")
        s.bot.clear_failures()
        got = {u: answered(s, u, since, 30) is not None for u in users}
        tap.ok(all(got.values()), "a worker killed mid-stream: after its "
               "restart every pending command is answered", got)
        counts = {u: len([r for r in s.bot.sent(chat_id=u)
                          if r["status"] == 200]) for u in users}
        tap.ok(all(c >= 1 for c in counts.values()), "none lost", counts)

        s.stop()
        logs = s.monitor.log.final_text()
        botlog = os.path.join(s.dir, "bot", "fakebot.log")
        if os.path.exists(botlog):
            logs += open(botlog).read()
        tap.ok(pkstest.TOKEN not in logs and
               pkstest.TOKEN.split(":")[1] not in logs,
               "the token appears in no log line")
    tap.done()


if __name__ == "__main__":
    main()

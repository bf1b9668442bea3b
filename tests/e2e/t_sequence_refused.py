#!/usr/bin/env python3
"""Expired, revoked and wrong-order sequences open nothing."""
import time

import pkstest
from pkstest import tap, CLI4, ADA


def main():
    with pkstest.running(barrier=True,
                         settings={"sequence-lifetime": 10}) as s:
        ports, _ = s.generate(ADA)
        s.knock([ports[1], ports[0], ports[2]])
        s.knock([ports[0], ports[2], ports[1]])
        s.barrier()
        tap.ok(not s.windows(CLI4), "wrong orders open nothing")
        time.sleep(3)		# wrong hits start a 2 s cooldown
        s.knock(ports)
        tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 5),
               "the same sequence in the right order still works")
        s.fw.flush()		# start clean for the next case
        s.monitor.stop()
        s.monitor.start()

        ports, _ = s.generate(ADA)
        s.bot.push_message(user_id=ADA, text="/revoke")
        tap.ok(s.bot.wait_sent(chat_id=ADA, text=r"Revoked 1 live",
                               timeout=15) is not None, "/revoke answers")
        time.sleep(0.5)
        s.knock(ports)
        s.barrier()
        tap.ok(not s.windows(CLI4),
               "a revoked sequence opens nothing")

        since = max([x["seq"] for x in s.bot.sent()] or [0])
        ports, _ = s.generate(ADA)
        tap.ok(s.monitor.log.wait(r"sequence \d+ of Ada expired", 15)
               is not None, "the sequence expires after its lifetime")
        ed = s.bot.wait_sent(chat_id=ADA, method="editMessageText",
                             since=since, timeout=10)
        txt = ed and ed["params"].get("text", "")
        tap.ok(ed and "expired at" in txt and "unused" in txt and
               not any(str(p) in txt for p in ports),
               "its message then says it expired, without its ports", ed)
        s.knock(ports)
        s.barrier()
        tap.ok(not s.windows(CLI4),
               "an expired sequence opens nothing")

        old = int(time.time()) - 600
        s.bot.push_message(user_id=ADA, text="/generate", date=old)
        tap.ok(s.bot.wait_sent(chat_id=ADA, text=r"expired: ask again",
                               timeout=15) is not None,
               "a command sent long ago gets 'expired, ask again'")
    tap.done()


if __name__ == "__main__":
    main()

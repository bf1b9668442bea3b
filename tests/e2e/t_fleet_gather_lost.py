#!/usr/bin/env python3
"""Fleet mode: the front's pks-telegram dies while a /status is being
gathered from the hosts.  The restarted worker gets the update again and
the front gathers it anew; the first gathering, which ends later (web1
answers it once the new worker runs), is not sent: Ada gets one /status,
not two, and the new worker no message for a request it never made.

A front and web1 around a real mosquitto broker (fleetnet.py), with a
fleet timeout long enough that web1's answer to the first gathering
comes after the new worker is up: web1's monitor is stopped until then.
"""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetnet  # noqa: E402
import pkstest  # noqa: E402
from t_fleet import answer_of, ask, last_seq, push  # noqa: E402
from pkstest import tap, ADA  # noqa: E402

TIMEOUT = 20			# the front's fleet timeout: web1's answer
				# to the first gathering comes well within it
STATUS = r"<b>web1</b>: "	# web1's part of Ada's /status


def run_test(fleet):
    front, web1 = fleet.suites["front"], fleet.suites["web1"]
    fleet.connected()
    msg = ask(front, ADA, "/generate web1 ssh", answer_of("web1"))
    tap.ok(msg is not None, "Ada has a sequence on web1", msg)
    flog = front.monitor.log
    pid = web1.monitor._monitor_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        since = last_seq(front)
        mark = flog.mark()
        push(front, ADA, "/status")
        # /status names no word: no stray space in the line
        first = flog.wait(r"fleet: command \d+ from user \d+ sent to web1",
                          10, mark)
        os.kill(front.monitor.child_pid("pks-telegram"), signal.SIGKILL)
        down = flog.wait(r"pks-monitor: pks-telegram: restarting in", 10,
                         mark)
        # the update again, from the new worker: gathered anew
        again = flog.wait(r"fleet: command .* sent to web1", 30,
                          (first or mark) + 1)
        tap.ok(None not in (first, down, again), "the worker killed while "
               "/status is gathered; the new one asks it again",
               flog.text()[-2000:])
    finally:
        os.kill(pid, signal.SIGCONT)
    # web1 answers both gatherings now; the first one is not sent
    answered = pkstest.wait_for(lambda: len(web1.monitor.log.grep(
        r"fleet: request \d+ from the front: status")) >= 2, 15)
    rec = front.bot.wait_sent(chat_id=ADA, since=since, text=STATUS,
                              timeout=30)
    tap.ok(answered and rec is not None, "web1 answered both; Ada has her "
           "/status", web1.monitor.log.text()[-1500:])
    tap.ok(flog.wait(r"fleet: gathered answer to request \d+ not "
                     r"delivered: pks-telegram restarted since it was "
                     r"asked", 10, mark) is not None,
           "the front drops the first one, and says why",
           flog.text()[-2000:])
    sent = [r for r in front.bot.sent(chat_id=ADA, since=since)
            if re.search(STATUS, r["params"].get("text", ""))]
    tap.ok(len(sent) == 1, "one /status for one update, not two",
           [r["params"].get("text") for r in sent])
    tap.ok(not flog.grep(r"message for request \d+, which is not "
                         r"pending"), "the new worker got no message for a request "
           "of the old one", flog.text()[-2000:])

def main():
    fleetnet.require()
    pkstest.set_deadline(150)
    fleet = fleetnet.Fleet(("web1",), {"front": pkstest.allow(ADA),
                                       "web1": pkstest.allow(ADA)},
                           timeout=TIMEOUT, tag="fg%d" % os.getpid())
    try:
        fleet.start()
        run_test(fleet)
    finally:
        fleet.stop()
    tap.done()


if __name__ == "__main__":
    main()

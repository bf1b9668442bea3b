#!/usr/bin/env python3
"""Kernel filter changes lose no knock, on interface "any" (Linux cooked
capture): while another user's /generate and knocks change the live set
over and over, every one of Ada's knocks completes.  (pcap_setfilter()
drains the socket through a reject-all filter on each change; a knock
arriving meanwhile was lost.)"""
import threading
import time

import pkstest
from pkstest import tap

ADA, BOB = 6123456789, 7000000001
ROUNDS = 15


def main():
    with pkstest.running(allowed=(ADA, BOB), iface="any",
                         echod=False) as s:
        tap.ok(s.monitor.log.wait(r"any: capturing, link type LINUX_SLL",
                                  5) is not None,
               "capturing on any, in Linux cooked mode")
        stop = threading.Event()

        def bob():
            s.bot.push_message(user_id=BOB, text="/generate ssh",
                               first_name="Bob")

        def churn():
            # Bob's sequences come and go: each one changes the filter
            while not stop.is_set():
                bob()
                time.sleep(0.15)
        t = threading.Thread(target=churn, daemon=True)
        t.start()
        done = 0
        for i in range(ROUNDS):
            ports, _ = s.generate(ADA)
            if not ports:
                continue
            start = len(s.monitor.log.lines)
            # and one more as Ada knocks, however fast the rounds go
            bob()
            s.knock(ports)
            if s.monitor.log.wait(r"knock completed from .* of Ada", 5,
                                  start) is not None:
                done += 1
        stop.set()
        t.join()
        issued = len(pkstest.wait_for(lambda: len(s.monitor.log.grep(
            r"issued to Bob")) >= ROUNDS and s.monitor.log.grep(
            r"issued to Bob"), 5) or s.monitor.log.grep(r"issued to Bob"))
        tap.diag("%d filter changes from Bob's sequences" % issued)
        tap.ok(issued >= ROUNDS, "the live set changed all along")
        tap.ok(done == ROUNDS, "every knock completed: %d of %d" %
               (done, ROUNDS))
        tap.ok(pkstest.wait_for(s.windows, 5),
               "and opened the port")
    tap.done()


if __name__ == "__main__":
    main()

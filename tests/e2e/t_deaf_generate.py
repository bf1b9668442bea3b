#!/usr/bin/env python3
"""While pks-sniffer is not capturing, /generate issues nothing.

The captured interface is deleted: the sniffer exits and cannot start
again.  /generate then answers that knocks cannot be heard right now and
no sequence goes live (pksctl status); the "notify" user is told once,
however often the sniffer is restarted meanwhile.  Once the interface is
back and the sniffer captures, the notify user hears so and /generate
issues a sequence that opens the port again.
"""
import os
import re
import time

import pkstest
from pkstest import tap, ADA

NOTE = 6123456790
DEAF = r"cannot be heard"


def ask(s, text=r"pks-knock|%s" % DEAF):
    since = pkstest.last_sent_seq(s)
    s.bot.push_message(user_id=ADA, text="/generate", chat_id=ADA,
                       chat_type="private", first_name="Ada")
    rec = s.bot.wait_sent(chat_id=ADA, since=since, text=text, timeout=10)
    return rec["params"].get("text", "") if rec else None


def live_sequences(s):
    sock = os.path.join(s.dir, "pks.sock")
    r = pkstest.pksctl(sock, "status")
    m = re.search(r"sequences (\d+),", r.stdout or "")
    return int(m.group(1)) if m else None


def relink(net):
    """The veth pair again, as pkstest.Net made it."""
    pkstest.run(["ip", "link", "add", "veth-s", "netns", net.srv, "type",
                 "veth", "peer", "name", "veth-c", "netns", net.cli])
    for ns, dev, a4, a6 in ((net.srv, "veth-s", pkstest.SRV4, pkstest.SRV6),
                            (net.cli, "veth-c", pkstest.CLI4,
                             pkstest.CLI6)):
        pkstest.run(["ip", "addr", "add", a4 + "/24", "dev", dev], ns=ns)
        pkstest.run(["ip", "-6", "addr", "add", a6 + "/64", "dev", dev,
                     "nodad"], ns=ns)
        pkstest.run(["ip", "link", "set", dev, "up"], ns=ns)


def told(s, text):
    return [m for m in s.bot.sent()
            if m["params"].get("chat_id") in (NOTE, str(NOTE)) and
            re.search(text, m["params"].get("text", ""))]


def main():
    with pkstest.running(extra="notify user %d\n" % NOTE) as s:
        net = s.net
        t = ask(s)
        tap.ok(t and "pks-knock" in t, "capturing: /generate issues", t)
        before = live_sequences(s)

        pkstest.run(["ip", "link", "del", "veth-s"], ns=net.srv)
        tap.ok(pkstest.wait_for(lambda: told(s, DEAF), 15),
               "the interface is gone: the notify user is told knocks "
               "cannot be heard")
        t = ask(s)
        tap.ok(t and re.search(DEAF, t) and "pks-knock" not in t,
               "/generate answers that knocks cannot be heard right now", t)
        tap.ok(before is not None and live_sequences(s) == before,
               "and no sequence went live (%s before, %s after)" %
               (before, live_sequences(s)))
        tap.ok(s.monitor.log.wait(r"refused /generate .*cannot be heard",
                                  5) is not None, "the refusal is logged")
        # let the monitor restart the sniffer at least twice
        pkstest.wait_for(lambda: len(s.monitor.log.grep(
            r"pks-sniffer: exited|pks-sniffer.*No such device")) >= 2, 15)
        tap.ok(len(told(s, DEAF)) == 1,
               "the notify user is told once, not per restart (%d)" %
               len(told(s, DEAF)))

        relink(net)
        tap.ok(pkstest.wait_for(lambda: told(s, r"heard again"), 40),
               "the interface is back: the notify user hears knocks can "
               "be heard again")
        t = ask(s)
        ports = [int(p) for p in re.findall(r"\b(\d{4,5})\b",
                 (t or "").split("pks-knock", 1)[-1])][:3]
        tap.ok(t and "pks-knock" in t, "and /generate issues again", t)
        s.knock(ports or [1])
        tap.ok(pkstest.wait_for(s.window_rules, 10),
               "its knock opens the port")
    tap.done()


if __name__ == "__main__":
    main()

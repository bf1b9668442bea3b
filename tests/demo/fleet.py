#!/usr/bin/env python3
"""Fleet mode in one command: sudo make demo-fleet.

One Telegram bot for several servers.  Everything runs on this machine:
a mosquitto broker (TLS certificates made for the demo, the ACL of
doc/fleet.md) in a namespace of its own, a front (the fake Bot API in
front of it) and two hosts, web1 and web2, each a full PKS in its own
namespaces.  Ada asks the front for web2; web2's own monitor decides and
answers; Ada knocks at web2 and gets in; web1 stays shut.  Bob, with no
host named, picks one from the bot's buttons: the hosts that say he may
open something there.  Everything the demo
creates is removed at the end, also on Ctrl-C.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import fleetnet  # noqa: E402
import pkstest  # noqa: E402
sys.path.insert(0, HERE)
from demo import BOLD, OFF, heading, plain, say, show  # noqa: E402
from pkstest import CLI4  # noqa: E402

ADA = 6123456789
BOB = 6123456790


def ask(front, user, text, rx):
    since = front.bot.sent()[-1]["seq"] if front.bot.sent() else 0
    say("\n%s%s asks the bot:%s %s" % (BOLD, "Ada" if user == ADA else
                                      "Bob", OFF, text))
    front.bot.push_message(user_id=user, text=text, chat_id=user,
                           chat_type="private", first_name="Ada")
    rec = front.bot.wait_sent(chat_id=user, since=since, text=rx,
                              timeout=15)
    msg = plain(rec["params"]["text"]) if rec else "(no answer)"
    say("The bot answers:")
    show(msg.splitlines())
    return msg


def buttons(rec):
    """A message's buttons, as [label] [label]."""
    kb = rec["params"].get("reply_markup") if rec else None
    if isinstance(kb, str):
        kb = json.loads(kb)
    return " ".join("[%s]" % b["text"] for row in
                    (kb or {}).get("inline_keyboard", []) for b in row)


def main():
    if os.geteuid() != 0:
        sys.exit("demo-fleet: run as root (sudo make demo-fleet)")
    for tool in ("mosquitto", "openssl", "ip"):
        if subprocess.run(["sh", "-c", "command -v " + tool],
                          stdout=subprocess.DEVNULL).returncode != 0:
            sys.exit("demo-fleet: %s is missing: run sudo sh "
                     "tests/setup.sh" % tool)
    pkstest.ensure_user()
    fleet = fleetnet.Fleet(("web1", "web2"), {
        "front": pkstest.allow(ADA),
        "web1": pkstest.allow([ADA, BOB]),
        "web2": pkstest.allow(ADA)}, timeout=5)
    try:
        heading(1, "The stage")
        say("A broker (mosquitto, MQTT 5 over TLS, %s:%d), a front that "
            "runs the\nbot, and two hosts, web1 and web2: each a full PKS "
            "in namespaces of\nits own.  web1 lets Ada and Bob in, web2 "
            "only Ada." % (fleetnet.BROKER, fleetnet.PORT))
        fleet.start()
        front = fleet.suites["front"]
        for h in ("web1", "web2"):
            front.monitor.log.wait(r"fleet: host %s is there" % h, 20)
        say("\nThe fleet block of web2 (pks.conf(5)):")
        conf = fleet.suites["web2"].conf_text
        show(re.search(r"fleet \{.*?\}", conf, re.S).group(0).splitlines())
        say("\nThe broker's ACL (doc/fleet.md):")
        show(fleetnet.doc_acl().strip().splitlines())
        r = pkstest.run([pkstest.binpath("pksctl"), "-s",
                         os.path.join(os.path.dirname(front.chroot),
                                      "pks.sock"), "fleet"],
                        ns=front.net.srv, check=False)
        say("\npksctl fleet, on the front:")
        show(r.stdout.splitlines())

        heading(2, "One bot, the host you name")
        msg = ask(front, ADA, "/generate web2 ssh",
                  r"<b>web2</b>: (One-time|Sorry)")
        m = re.search(r"pks-knock \S+((?: \d+)+)", msg)
        web2 = fleet.suites["web2"]
        if m:
            ports = [int(p) for p in m.group(1).split()]
            say("\nAda knocks at web2 (pks-knock %s) ..." %
                " ".join(map(str, ports)))
            web2.knock(ports)
            ok = pkstest.wait_for(lambda: web2.windows(CLI4), 10)
            say("web2 opened port 2222 for %s: %s" % (CLI4, "yes" if ok
                                                      else "NO"))
            say("web1 opened anything: %s" %
                ("yes" if fleet.suites["web1"].windows() else "no"))
            rec = front.bot.wait_sent(chat_id=ADA, text=r"open for",
                                      timeout=10)
            if rec:
                say("The bot tells Ada (web2's notice, sent by the "
                    "front):")
                show([plain(rec["params"]["text"])])

        heading(3, "Each host decides with its own rules")
        ask(front, BOB, "/generate web1 ssh", r"<b>web1</b>: ")
        ask(front, BOB, "/generate web2 ssh", r"<b>web2</b>: ")

        heading(4, "Or no host named: a picker of the hosts he may open")
        since = front.bot.sent()[-1]["seq"]
        ask(front, BOB, "/generate", r"Which host")
        rec = front.bot.wait_sent(chat_id=BOB, since=since,
                                  text=r"Which host", timeout=5)
        say("with the buttons %s (each host was asked what Bob may open "
            "there: not the front\nnor web2)" % buttons(rec))
        if rec:
            since = front.bot.sent()[-1]["seq"]
            say("\n%sBob presses%s [web1]: web1 is asked, and decides"
                % (BOLD, OFF))
            front.bot.push_callback(user_id=BOB, chat_id=BOB, data="@web1",
                                    message_id=rec["result"]["message_id"])
            rec = front.bot.wait_sent(chat_id=BOB, since=since,
                                      text=r"<b>web1</b>: ", timeout=15)
            say("The bot answers:")
            show(plain(rec["params"]["text"]).splitlines() if rec else
                 ["(no answer)"])

        heading(5, "A host that does not answer")
        pid = fleet.suites["web1"].monitor.child_pid("pks-fleet")
        say("(web1's pks-fleet is stopped with SIGSTOP)")
        os.kill(pid, 19)
        try:
            ask(front, ADA, "/generate web1 ssh",
                r"web1 did not answer|<b>web1</b>: ")
        finally:
            os.kill(pid, 18)
        say("\nThe end: everything the demo made is removed.")
    finally:
        fleet.stop()


if __name__ == "__main__":
    main()

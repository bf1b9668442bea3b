#!/usr/bin/env python3
"""Caps on the live set (issue 13 M6, issue 14 point 3): past
max-sequences-per-chat, a group's /generate is refused politely and the
admin reads why in the log; past max-sequences, everyone's is; a person's
new sequence replaces their own even at a cap; the keywords' ranges are
checked (the highest keeps the live set pushed to a restarted sniffer
within the monitor's queue)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap, ask  # noqa: E402

ADA, BOB, CAROL, DAN, EVE = (6123456789, 6123456790, 6123456791,
                             6123456792, 6123456793)
GROUP = -1001234567890
CMD = "/generate@PksTestBot"


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    d = tempfile.mkdtemp(prefix="pks-cap-")
    chroot = os.path.join(d, "empty")
    os.mkdir(chroot, 0o755)
    for value, ok in (("max-sequences 50000", True),
                      ("max-sequences 50001", False),
                      ("max-sequences 0", False),
                      ("max-sequences-per-chat 0", False)):
        conf = os.path.join(d, "c.conf")
        pkstest.write_config(conf, pkstest.base_config(chroot, value + "\n"))
        r = subprocess.run([pkstest.binpath("pks-monitor"), "-n", "-f",
                            conf], stderr=subprocess.PIPE, text=True,
                           timeout=20)
        tap.ok((r.returncode == 0) == ok, "\"%s\" is %s" %
               (value, "accepted" if ok else "refused"), r.stderr)

    with pkstest.Net() as net:
        s = pkstest.Suite(net, extra="max-sequences 3\n"
                          "max-sequences-per-chat 2\n"
                          "allow chat %d to { ssh }\n"
                          "allow user { %d %d } to { ssh }\n" %
                          (GROUP, DAN, EVE)).start()
        s.bot.set_started(users=[ADA, BOB, CAROL, DAN, EVE])
        log = s.monitor.log
        sock = os.path.join(s.dir, "pks.sock")

        def group(user, name):
            return s.generate(user, text=CMD, chat_id=GROUP,
                              chat_type="supergroup", first_name=name)
        ports, msg = group(ADA, "Ada")
        tap.ok(ports, "Ada gets a sequence in the group", msg)
        ports, msg = group(BOB, "Bob")
        tap.ok(ports, "Bob too: two asked in the group", msg)
        t = ask(s, CAROL, CMD, expect=r"Too many|pks-knock", chat_id=GROUP,
                chat_type="supergroup", first_name="Carol")
        tap.ok(t and "Too many sequences asked for in this chat" in t,
               "Carol, third in the group, is refused politely", t)
        tap.ok(log.wait(r"sequence refused to %d: 2 live asked in chat %d, "
                        r"the max-sequences-per-chat cap" % (CAROL, GROUP),
                        5) is not None, "and the log says why")
        ports, msg = group(ADA, "Ada")
        tap.ok(ports, "Ada's new sequence replaces hers, even at the cap",
               msg)

        ports, msg = s.generate(DAN, first_name="Dan")
        tap.ok(ports, "Dan, in private, gets the third live sequence", msg)
        t = ask(s, EVE, "/generate", expect=r"Too many|pks-knock",
                first_name="Eve")
        tap.ok(t and "Too many sequences are live" in t,
               "Eve, fourth, is refused politely", t)
        tap.ok(log.wait(r"sequence refused to %d: 3 live, the max-sequences "
                        r"cap" % EVE, 5) is not None, "and the log says why")
        r = pkstest.pksctl(sock, "status")
        tap.ok("sequences 3," in r.stdout, "three sequences are live",
               r.stdout)
        t = ask(s, DAN, "/revoke", expect="Revoked")
        ports, msg = s.generate(EVE, first_name="Eve")
        tap.ok(ports, "once one is revoked, Eve gets hers", msg)
        tap.ok(s.monitor.proc.poll() is None, "the monitor runs on")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

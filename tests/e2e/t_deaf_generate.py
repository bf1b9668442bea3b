#!/usr/bin/env python3
"""While pks-sniffer is not capturing, /generate issues nothing.

The captured interface is deleted: the sniffer exits and cannot start
again.  /generate then answers that knocks cannot be heard right now and
no sequence goes live (pksctl status); the "notify" user is told once,
however often the sniffer is restarted meanwhile.  Once the interface is
back and the sniffer captures, the notify user hears so and /generate
issues a sequence that opens the port again.

Then a sniffer slow to take new sequences in (the test hook
PKS_TEST_ARM_DELAY_MS leaves the monitor's messages unread for a while,
as under load): the answer to /generate comes only once the sniffer has
the sequence armed, so a knock sent the moment it arrives opens; the
same across a sniffer killed before it armed it (the restarted one gets
the live set); and a sniffer that never arms it (stopped) makes the
answer "knocks cannot be heard" after the bounded wait, the sequence
revoked, and nothing kills the sniffer when it comes back; two /generate
waiting at once, the second replacing the first, are answered
"cancelled" first and the new ports last; a sequence whose lifetime
(sequence-lifetime 10, as long as the wait) ends before a sniffer still
holding it arms it is answered as expired, neither "cancelled" nor
"cannot be heard".  Last, the hook itself: a
pks-sniffer holding the monitor's messages whose monitor goes away
(this test playing it, its socket closed) exits at once, not at the end
of the hold.
"""
import os
import re
import signal
import subprocess
import time

import pkstest
import pksimsg as pm
from pkstest import tap, ADA

NOTE = 6123456790
DEAF = r"cannot be heard"


def ask(s, text=r"pks-knock|%s" % DEAF, timeout=10):
    since = pkstest.last_sent_seq(s)
    s.bot.push_message(user_id=ADA, text="/generate", chat_id=ADA,
                       chat_type="private", first_name="Ada")
    rec = s.bot.wait_sent(chat_id=ADA, since=since, text=text,
                          timeout=timeout)
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


ARM_DELAY_MS = 2000     # the sniffer's hold (test hook)
ARM_WAIT = 10           # pks-monitor/request.c


def armed_first():
    """The answer waits for the sniffer to arm the sequence."""
    os.environ["PKS_TEST_ARM_DELAY_MS"] = str(ARM_DELAY_MS)
    with pkstest.running() as s:
        del os.environ["PKS_TEST_ARM_DELAY_MS"]
        log = s.monitor.log
        answered = r"pks-monitor: sequence \d+ armed by pks-sniffer: answered"
        completed = r"pks-monitor: knock completed from %s" % re.escape(
            pkstest.CLI4)

        start = log.mark()
        t = ask(s, timeout=ARM_WAIT + 10)
        ports = knock_ports(t)
        tap.ok(ports, "a slow sniffer: /generate still answers with a "
               "sequence", t)
        s.knock(ports or [1])       # at once, as a script would
        tap.ok(log.wait(completed, 10, start) is not None,
               "a knock sent the moment the answer arrives opens")
        held = log.wait(r"pks-sniffer: test hook: the monitor's messages "
                        r"held", 5, start)
        armed = log.wait(r"pks-sniffer: filters for \d+ knock ports", 5,
                         held or start)
        said = log.wait(answered, 5, start)
        tap.ok(None not in (held, armed, said) and held < armed < said,
               "the answer went out after the sniffer read the sequence "
               "and set its filters (lines %s, %s, %s)" % (held, armed,
                                                          said),
               log.text()[-3000:])

        # killed before it armed it: the restarted sniffer gets the live
        # set, arms it, and the answer goes out then (stopped first, so
        # that it cannot arm it however long the test takes to kill it)
        start = log.mark()
        since = pkstest.last_sent_seq(s)
        sniffer = s.monitor.child_pid("pks-sniffer")
        os.kill(sniffer, signal.SIGSTOP)
        s.bot.push_message(user_id=ADA, text="/generate", chat_id=ADA,
                           chat_type="private", first_name="Ada")
        issued = log.wait(r"pks-monitor: sequence \d+ issued to Ada", 10,
                          start)
        os.kill(sniffer, signal.SIGKILL)
        rec = s.bot.wait_sent(chat_id=ADA, since=since,
                              text=r"pks-knock|%s" % DEAF,
                              timeout=ARM_WAIT + 10)
        t = rec["params"].get("text", "") if rec else None
        ports = knock_ports(t)
        restarted = log.wait(r"pks-monitor: pks-sniffer: restarting$", 5,
                             start)
        said = log.wait(answered, 5, start)
        tap.ok(ports and None not in (issued, restarted, said) and
               issued < restarted < said, "the sniffer killed before it "
               "armed a sequence: the answer comes once the restarted one "
               "has it", "%s\n%s" % (t, log.text()[-3000:]))
        s.knock(ports or [1])
        tap.ok(log.wait(completed, 10, start) is not None,
               "and a knock sent at once completes")
        # it died with the monitor's messages unread (ECONNRESET, not
        # EOF): its death is what the log says, not distrust
        died = log.wait(r"pks-sniffer: killed by signal 9", 5, start)
        tap.ok(died is not None and
               log.lacks(r"pks-sniffer: (read: |unreadable socket|"
                         r".*killing it)", start, died),
               "the killed sniffer's unread messages are not taken for "
               "an unreadable socket", log.text()[-2000:])

        # a sniffer that never arms it: a bounded wait, then a clear no;
        # meanwhile Ada asks twice more, in the worker's next batch: the
        # first of those is cancelled (the second replaces it), and said
        # so before the second's ports, never after them
        sniffer = s.monitor.child_pid("pks-sniffer")
        before = live_sequences(s)
        start = log.mark()
        issued = r"pks-monitor: sequence \d+ issued to Ada"
        os.kill(sniffer, signal.SIGSTOP)
        try:
            since = pkstest.last_sent_seq(s)
            s.bot.push_message(user_id=ADA, text="/generate", chat_id=ADA,
                               chat_type="private", first_name="Ada")
            first = log.wait(issued, 10, start)
            for _ in range(2):
                s.bot.push_message(user_id=ADA, text="/generate",
                                   chat_id=ADA, chat_type="private",
                                   first_name="Ada")
            rec = s.bot.wait_sent(chat_id=ADA, since=since,
                                  text=r"pks-knock|%s" % DEAF,
                                  timeout=ARM_WAIT + 15)
            t = rec["params"].get("text", "") if rec else None
            tap.ok(first is not None and t and re.search(DEAF, t) and
                   "pks-knock" not in t,
                   "a sniffer that never arms it: after the bounded wait, "
                   "knocks cannot be heard, no port shown", t)
            tap.ok(log.wait(r"pks-monitor: sequence \d+ of Ada revoked: "
                            r"pks-sniffer did not arm it within %d s" %
                            ARM_WAIT, 5, start) is not None,
                   "the revocation is logged")
            # the next two, issued while it is still stopped
            two = first is not None and log.wait(issued, 10, first + 1)
            two = two not in (None, False) and log.wait(issued, 10,
                                                        two + 1)
            tap.ok(two not in (None, False) and before is not None and
                   live_sequences(s) == before + 1,
                   "and the sequence is not live, nor the one replaced "
                   "(%s before, %s with the next one)" %
                   (before, live_sequences(s)))
        finally:
            os.kill(sniffer, signal.SIGCONT)
        got = []
        since = rec["seq"] if rec else since
        while len(got) < 2:
            rec = s.bot.wait_sent(chat_id=ADA, since=since,
                                  text=r"pks-knock|cancelled",
                                  timeout=ARM_WAIT + 10)
            if rec is None:
                break
            got.append(rec["params"].get("text", ""))
            since = rec["seq"]
        tap.ok(len(got) == 2 and "cancelled" in got[0] and
               knock_ports(got[1]), "asked twice before the sniffer armed "
               "either: \"cancelled\" first, the new ports last", repr(got))
        tap.ok(s.monitor.child_pid("pks-sniffer") == sniffer,
               "back, the same sniffer confirms what it missed")
        s.knock(knock_ports(got[-1] if got else None) or [1])
        end = log.wait(completed, 10, start)
        tap.ok(end is not None, "and the ports shown last open")
        tap.ok(end is not None and log.lacks(
            r"pks-monitor: pks-sniffer: (killed|exited|.*killing it)",
            start, end), "the late confirmations are no offence",
            "\n".join(log.grep(r"pks-sniffer")))

def expired_before_armed():
    """The sequence's lifetime ends before the sniffer arms it."""
    lifetime = 10
    os.environ["PKS_TEST_ARM_DELAY_MS"] = str((lifetime + 5) * 1000)
    with pkstest.running(settings={"sequence-lifetime": lifetime}) as s:
        del os.environ["PKS_TEST_ARM_DELAY_MS"]
        log = s.monitor.log
        before = live_sequences(s)
        start = log.mark()
        t0 = time.monotonic()
        t = ask(s, text=r"pks-knock|%s|cancelled|expired" % DEAF,
                timeout=lifetime + 10)
        took = time.monotonic() - t0
        tap.ok(t and "expired before it could be armed" in t and
               "pks-knock" not in t and "cancelled" not in t and
               not re.search(DEAF, t) and took < lifetime + 4,
               "a sequence that expires before the sniffer arms it is "
               "answered as expired (after %.1f s)" % took, t)
        tap.ok(log.wait(r"pks-monitor: sequence \d+ of Ada expired "
                        r"\(sequence-lifetime %d s\) before pks-sniffer "
                        r"armed it" % lifetime, 5, start) is not None and
               live_sequences(s) == before,
               "logged so, and nothing is live (%s before, %s after)" %
               (before, live_sequences(s)), log.text()[-2000:])


def hold_ends_with_monitor():
    """The hold ends when the monitor's socket closes: the sniffer
    exits then, not a minute later (nor spinning on POLLHUP meanwhile)."""
    hold = 60000
    os.environ["PKS_TEST_ARM_DELAY_MS"] = str(hold)
    with pkstest.Net() as net:
        try:
            c = pkstest.LoneChild("pks-sniffer", ns=net.srv)
        finally:
            del os.environ["PKS_TEST_ARM_DELAY_MS"]
        c.configure(pkstest.empty_dir(), [
            (pm.IMSG_SNIFF_CONF, pm.S["pks_sniff_conf"].pack(
                10, 16384, 20000, 60000, 0)),
            (pm.IMSG_SNIFF_IFACE, pm.S["pks_iface"].pack(b"veth-s"))])
        ready = c.ch.recv(15, type=pm.IMSG_READY) is not None
        # its first statistics (the next only if they change: nothing
        # else would be written to the closed socket, and fail)
        ready = ready and c.ch.recv(15, type=pm.IMSG_SNIFF_STATS) \
            is not None
        # a commit starts a hold; the socket closed during it
        c.ch.send(pm.IMSG_SEQ_COMMIT)
        c.ch.recv(0.2, type=-1)
        c.ch.sock.close()
        t0 = time.monotonic()
        try:
            c.proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - t0
        rc = c.proc.returncode
        c.stop()
        tap.ok(ready and rc is not None and took < 15,
               "a sniffer holding the monitor's messages (%d ms) exits "
               "once its socket closes (ready %s, exit %s after %.1f s)" %
               (hold, ready, rc, took), c.log.text())


def knock_ports(t):
    m = re.search(r"pks-knock \S+((?: \d+)+)", t or "")
    return [int(x) for x in m.group(1).split()] if m else None


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
        tap.ok(pkstest.wait_for(s.windows, 10),
               "its knock opens the port")
    armed_first()
    expired_before_armed()
    hold_ends_with_monitor()
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Recovery (break-glass) sequences, end to end, with one set-up.  pksctl
issues them (shown once: longer than a normal sequence, kept in the state
file, mode 0600), lists them without their ports, and pksctl sequences
never shows them; a knock with one opens its own service, once: a second
knock of it opens nothing, the use is logged and told to the admins;
a use the state file cannot record still opens, is told, and is written
once the file can be (it does not come back at a restart).
They survive a restart of the monitor; a revoked one, and one whose time
is up (at start or while running), opens nothing.  They are bound to a
user allowed the service by user id: refused to others, gone when the
right goes.  The console's lockdown (pksctl lockdown on|off, for when
Telegram is away) is logged, told to the admins, kept in the state file
over a restart; it keeps them but refuses a knock of one, which uses it
up, and a sequence from before it opens nothing.  Malformed pksctl
requests get a clear error and change nothing.
/recovery works for an admin in a private chat only.  pks-monitor -n warns
when knock-ports cannot hold them."""
import os
import re
import signal
import socket
import time

import pkstest
from pkstest import tap, ask

ADA, BOB, CAROL, NOTE = 6123456789, 6123456791, 6123456792, 5550001
GROUP = -1001234567890
CLI4 = pkstest.CLI4
KNOCK_LINE = re.compile(r"(?m)^(\d+): (?:<code>)?pks-knock 198\.18\.0\.1"
                        r"((?: \d+)+)")
# kept by the test in the file before the start: one already ended, one
# that ends while the monitor runs
OLD = (900, [30000, 31000, 32000, 33000])
ENDING = (901, [40000, 41000, 42000, 43000])
ENDING_IN = 20		# seconds: more than a start takes on a loaded host


def shows_port(text, seqs):
    """Does text name a port of seqs ({id: ports}) as a word?"""
    return any(re.search(r"\b%d\b" % p, text) for ps in seqs.values()
               for p in ps)


def ctl(s, *args):
    return pkstest.pksctl(os.path.join(s.dir, "pks.sock"), *args)


def issued(out):
    """{id: ports} of what pksctl recovery USER SERVICE printed."""
    return {int(m.group(1)): [int(p) for p in m.group(2).split()]
            for m in KNOCK_LINE.finditer(out)}


def listed(s):
    r = ctl(s, "recovery")
    return r, {int(l.split()[0]): l.split() for l in
               r.stdout.splitlines()[1:] if l.strip()}


def window_gone(s, src=CLI4):
    ctl(s, "close", src)
    return pkstest.wait_for(lambda: not s.windows(src), 10)


def knocks_nothing(s, ports, name):
    """Knock ports from CLI4; after a barrier, CLI4 has no window.
    Returns the barrier's line in the log."""
    s.knock(ports)
    i = s.barrier()
    tap.ok(not s.windows(CLI4), name, s.windows(CLI4))
    return i


def raw_request(s, data):
    """The monitor's answer to data on the control socket, past pksctl's
    own checks."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect(os.path.join(s.dir, "pks.sock"))
    c.sendall(data)
    out = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        out += b
    c.close()
    return out.decode(errors="replace")


def write_state(path):
    now = int(time.time())
    with open(path, "w") as f:
        f.write("pks-state 1\nlockdown 0\n")
        for (i, ports), until in ((OLD, now - 10), (ENDING, now + ENDING_IN)):
            f.write("recovery %d %d ssh %d 0 %d tcp %s\n" % (
                i, ADA, until, now - 100, " ".join(map(str, ports))))
        f.write("end 0 2\n")
    os.chmod(path, 0o600)


def check_warns():
    """pks-monitor -n says when recovery sequences cannot be drawn."""
    conf = os.path.join(os.path.dirname(pkstest.state_file()), "pks.conf")
    for rng, warns in (("20000-20100", True), ("20000-21000", False)):
        with open(conf, "w") as f:
            f.write("knock-ports %s\nrecovery-valid 365d\n%s\n" %
                    (rng, pkstest.SSH))
        r = pkstest.run([pkstest.binpath("pks-monitor"), "-n", "-f", conf],
                        check=False)
        tap.ok(r.returncode == 0 and bool(re.search(
            r"knock-ports is too narrow for recovery sequences .*\(6 ports\)"
            r": pksctl recovery will refuse", r.stderr)) == warns,
            "pks-monitor -n %s about recovery sequences with knock-ports %s"
            % ("warns" if warns else "is quiet", rng), r.stderr)


def too_long(s):
    """Reloaded with a knock-host of 255 bytes and sequences of 16 UDP
    ports (sequence-length 15), 10 recovery sequences make about 4.3 kB:
    refused whole, nothing issued; 8 fit and are shown whole."""
    log = s.monitor.log
    with open(s.monitor.conf) as f:
        text = f.read()
    host = ("knock-" + "k" * 62 + ".") * 3 + "example.org"
    host += "x" * (255 - len(host))
    text = re.sub(r'knock-host "[^"]*"', 'knock-host "%s"' % host, text)
    text = re.sub(r"(?m)^sequence-length .*$", "sequence-length 15", text)
    text = text.replace("\tport 2222\n",
                        "\tport 2222\n\tknock-protocol udp\n")
    with open(s.monitor.conf, "w") as f:
        f.write(text)
    mark = log.mark()
    s.monitor.proc.send_signal(signal.SIGHUP)
    tap.ok(log.wait(r"configuration reloaded", 10, mark) is not None,
           "reloaded with a knock-host of 255 bytes and 16-port UDP "
           "recovery sequences", log.text()[-1500:])
    before = set(listed(s)[1])
    r = ctl(s, "recovery", str(ADA), "ssh", "10")
    tap.ok(r.returncode != 0 and "No recovery sequence issued: 10 "
           "sequences of 16 ports do not fit in one message" in
           r.stdout + r.stderr and "pks-knock" not in r.stdout and
           set(listed(s)[1]) == before and
           not log.grep(r"recovery: 10 sequence\(s\)"),
           "10 that would not fit in one message: refused, none issued",
           r.stdout + r.stderr)
    r = ctl(s, "recovery", str(ADA), "ssh", "8")
    got = re.findall(r"(?m)^\d+: pks-knock %s((?: \d+:udp)+)$" %
                     re.escape(host), r.stdout)
    tap.ok(r.returncode == 0 and len(got) == 8 and
           all(len(p.split()) == 16 for p in got) and
           "more line" not in r.stdout, "8 fit: issued and shown whole "
           "(%d bytes)" % len(r.stdout), r.stdout[-600:] + r.stderr)


def main():
    check_warns()
    state = pkstest.state_file()
    write_state(state)
    services = pkstest.SSH + "\n" + pkstest.WEB
    extra = (pkstest.admin(ADA, state) + "notify user %d\n" % NOTE +
             pkstest.allow(ADA, ("ssh", "web")))
    with pkstest.running(allowed=None, extra=extra, services=services,
                         barrier=True) as s:
        log = s.monitor.log
        tap.ok(log.wait(r"recovery sequence 900 of %d for ssh dropped: it "
                        r"expired" % ADA, 10) is not None,
               "a recovery sequence that ended while down is dropped at "
               "start", log.text()[:3000])

        # ---- issue, list without ports
        r = ctl(s, "recovery", str(ADA), "ssh", "3")
        seqs = issued(r.stdout)
        tap.ok(r.returncode == 0 and len(seqs) == 3 and
               "shown only now" in r.stdout,
               "pksctl recovery USER SERVICE 3 issues three", r.stdout +
               r.stderr)
        tap.ok(seqs and all(len(p) == 4 for p in seqs.values()),
               "a recovery sequence is one port longer than "
               "sequence-length 3 (R=40001 >= 90d/300s)", seqs)
        if len(seqs) != 3:
            tap.done()
        a, b, c = sorted(seqs)
        tap.ok(log.wait(r"recovery: 3 sequence\(s\) of %d for ssh issued by "
                        r"pksctl" % ADA, 5) is not None, "the issue is logged")
        tap.ok(not shows_port("\n".join(l for l in log.text().splitlines()
                                        if "recovery" in l), seqs),
               "no port of them in the log lines about them")
        st = pkstest.read_state(state)["recovery"]
        tap.ok(all(st.get(i, (0, "", 0, []))[::3] == (ADA, ps) and
                   st[i][1] == "ssh" for i, ps in seqs.items()) and
               (os.stat(state).st_mode & 0o777) == 0o600,
               "they are in the state file, mode 0600", st)
        r, rows = listed(s)
        tap.ok(r.returncode == 0 and r.stdout.split("\n")[0].split() ==
               ["ID", "USER-ID", "SERVICE", "PORTS", "LEFT", "ISSUED", "BY"]
               and {a, b, c} <= set(rows) <= {a, b, c, ENDING[0]} and
               rows[a][1:4] == [str(ADA), "ssh", "4"] and
               rows[a][-1] == "pksctl",
               "pksctl recovery lists them", r.stdout + r.stderr)
        tap.ok(not shows_port(r.stdout, seqs), "the list shows no port",
               r.stdout)
        tap.ok(s.bot.wait_sent(chat_id=NOTE, timeout=10, text=r"pksctl "
                               r"\(root\) issued 3 recovery sequences of %d "
                               r"for ssh" % ADA), "the admins are told of it")
        r = ctl(s, "status")
        tap.ok(re.search(r"(?m)^recovery sequences [34] \(4 ports, valid "
                         r"90d00h when issued\)$", r.stdout),
               "pksctl status counts them", r.stdout)
        r = ctl(s, "sequences", "-v")
        tap.ok(r.returncode == 0 and not shows_port(r.stdout, seqs),
               "pksctl sequences -v does not show them", r.stdout)

        # ---- a knock opens, once; the admins are told
        since = pkstest.last_sent_seq(s)
        s.knock(seqs[a])
        tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 10) ==
               {(CLI4, "tcp", 2222)}, "a knock with one opens ssh",
               s.windows(CLI4))
        tap.ok(log.wait(r"recovery sequence %d of %d for ssh knocked from "
                        r"%s .*opening" % (a, ADA, CLI4), 5) is not None,
               "the use is logged")
        rec = s.bot.wait_sent(chat_id=NOTE, since=since, timeout=10,
                              text=r"Recovery sequence %d of %d for ssh was "
                              r"knocked from %s; \d+ left" % (a, ADA, CLI4))
        tap.ok(rec, "the admins are told of the use")
        tap.ok(not re.search(r"(?m)^recovery %d " % a, open(state).read()),
               "the used one is gone from the state file")
        tap.ok(window_gone(s), "the window closed with pksctl close")
        mark = log.mark()
        end = knocks_nothing(s, seqs[a], "a second knock of the same one "
                             "opens nothing")
        tap.ok(log.lacks(r"recovery sequence %d " % a, mark, end),
               "and the monitor never hears of it again")

        # ---- revoke
        r = ctl(s, "recovery", "revoke", str(b))
        tap.ok(r.returncode == 0 and "Revoked 1 recovery sequence" in
               r.stdout, "pksctl recovery revoke ID", r.stdout + r.stderr)
        knocks_nothing(s, seqs[b], "a revoked one opens nothing")

        # ---- malformed requests: clear errors, nothing changes
        before = open(state).read()
        for args, err in (
                (("abc", "ssh"), r"error: recovery: \"abc\" is not a user "
                 r"id"),
                ((str(ADA), "nosuch"), r"error: No service \"nosuch\""),
                ((str(ADA), "ssh", "0"), r"COUNT \"0\" is not a positive"),
                ((str(ADA), "ssh", "11"), r"COUNT must be 1 to 10"),
                ((str(ADA), "ssh", "x"), r"COUNT \"x\" is not a positive"),
                ((str(ADA),), r"error: recovery \[USER-ID SERVICE"),
                (("revoke",), r"error: recovery revoke ID\|all"),
                (("revoke", "x"), r"error: recovery revoke ID\|all"),
                (("revoke", "99999"), r"error: No recovery sequence 99999"),
                ((str(CAROL), "ssh"), r"error: No recovery sequence issued: "
                 r"the user may not open that service"),
                ((str(ADA), "ssh", "1", "more"), r"usage: pksctl"),
                ((str(ADA), "ssh", ""), r"usage: pksctl")):
            r = ctl(s, "recovery", *args)
            tap.ok(r.returncode == 1 and re.search(err, r.stderr) and
                   not r.stdout, "pksctl recovery %s: a clear error"
                   % " ".join(args), r.stdout + r.stderr)
        tap.ok(open(state).read() == before and
               set(listed(s)[1]) - {ENDING[0]} == {c}, "and nothing changed")

        # ---- bound to the service
        r = ctl(s, "recovery", str(ADA), "web")
        web = issued(r.stdout)
        s.knock(list(web.values())[0] if web else [1, 2, 3])
        tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 10) ==
               {(CLI4, "tcp", 8080)}, "a recovery sequence for web opens "
               "web only", s.windows(CLI4))
        window_gone(s)

        # ---- a use the state file cannot record (a full disk, say: here
        # a directory where its temporary file goes, which stops root
        # too): the window opens all the same (break-glass), the admins
        # are told, and the write is tried again until it works, so the
        # used one does not come back at a restart (checked below)
        e = issued(ctl(s, "recovery", str(ADA), "ssh").stdout)
        eid = min(e) if e else 0
        blocker = state + ".tmp"
        since = pkstest.last_sent_seq(s)
        os.mkdir(blocker)
        try:
            s.knock(e.get(eid, [1, 2, 3]))
            tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 10) ==
                   {(CLI4, "tcp", 2222)}, "a recovery sequence opens though "
                   "its use cannot be written", s.windows(CLI4))
            tap.ok(s.bot.wait_sent(chat_id=NOTE, since=since, timeout=10,
                                   text=r"Recovery sequence %d .*The state "
                                   r"file cannot be written: it is tried "
                                   r"again" % eid),
                   "the admins are told it is not recorded yet")
            tap.ok(log.wait(r"state file %s: cannot write it: .*\.tmp: Is a "
                            r"directory" % re.escape(state), 5) and
                   re.search(r"(?m)^recovery %d " % eid, open(state).read()),
                   "the failure is logged; the old file still holds it")
        finally:
            os.rmdir(blocker)
        tap.ok(log.wait(r"state file %s written again" % re.escape(state),
                        15) is not None and
               not re.search(r"(?m)^recovery %d " % eid, open(state).read()),
               "once it can be written, the retry records the use")
        window_gone(s)

        # ---- Telegram: /recovery for an admin in a private chat only
        n = len(listed(s)[1])
        t = ask(s, ADA, "/recovery %d ssh" % ADA, chat_id=GROUP,
                chat_type="supergroup", first_name="Ada")
        tap.ok(t and "only in a private chat" in t and "pks-knock" not in t,
               "/recovery in a group is refused", t)
        t = ask(s, BOB, "/recovery %d ssh" % BOB, "administrators|.",
                first_name="Bob")
        tap.ok(t and "for administrators only" in t,
               "/recovery from a non-admin is refused", t)
        tap.ok(len(listed(s)[1]) == n, "neither issued anything")
        ask(s, ADA, "/grant %d ssh" % BOB, "Granted", first_name="Ada")
        t = ask(s, ADA, "/recovery %d ssh 2" % BOB,
                r"recovery sequence|Usage", first_name="Ada")
        tg = issued(t or "")
        tap.ok(len(tg) == 2, "an admin's /recovery in private issues", t)
        rows = listed(s)[1]
        tap.ok(all(rows.get(i, [""])[1] == str(BOB) and
                   rows[i][-1] == str(ADA) for i in tg),
               "listed as issued by the admin", rows)
        t = ask(s, ADA, "/recovery", r"ports, until|No recovery",
                first_name="Ada")
        tap.ok(t and all("%d: %d, ssh, 4 ports" % (i, BOB) in t for i in tg)
               and not shows_port(t, tg), "/recovery lists them without "
               "ports", t)
        first, second = sorted(tg) if len(tg) == 2 else (0, 0)
        t = ask(s, ADA, "/recovery revoke %d" % first, "Revoked|No|Usage",
                first_name="Ada")
        tap.ok(t and "Revoked 1 recovery sequence" in t and
               first not in listed(s)[1], "/recovery revoke ID", t)
        ask(s, ADA, "/ungrant %d ssh" % BOB, "Ungranted", first_name="Ada")
        tap.ok(log.wait(r"recovery sequence %d of %d revoked: no longer "
                        r"allowed ssh" % (second, BOB), 5) is not None and
               not set(tg) & set(listed(s)[1]),
               "bound to the user: gone with the right")

        # ---- one that ends while the monitor runs
        tap.ok(log.wait(r"recovery sequence %d of %d for ssh expired" %
                        (ENDING[0], ADA), ENDING_IN + 10) is not None,
               "a recovery sequence expires while the monitor runs")
        knocks_nothing(s, ENDING[1], "an expired one opens nothing")

        # ---- the console's lockdown (pksctl lockdown), for when Telegram
        # is not there: malformed requests change nothing
        r = ctl(s, "lockdown")
        tap.ok(r.returncode == 0 and r.stdout == "lockdown off\n",
               "pksctl lockdown shows it off", r.stdout + r.stderr)
        before = open(state).read()
        for args, err in ((("maybe",), r"error: lockdown: \"maybe\" is "
                           r"neither on nor off"),
                          (("ON",), r"\"ON\" is neither on nor off"),
                          (("on", "now"), r"usage: pksctl"),
                          (("",), r"usage: pksctl")):
            r = ctl(s, "lockdown", *args)
            tap.ok(r.returncode == 1 and re.search(err, r.stderr) and
                   not r.stdout, "pksctl lockdown %s: a clear error" %
                   " ".join(args), r.stdout + r.stderr)
        out = raw_request(s, b"lockdown on now\n")
        tap.ok(out == "error: lockdown [on|off]\n", "a raw request with "
               "a word too many: an error", out)
        tap.ok(open(state).read() == before and
               ctl(s, "lockdown").stdout == "lockdown off\n",
               "and nothing changed")

        # ---- it keeps recovery sequences, refuses a knock of one and
        # uses it up; a sequence from before it stays dead
        norm, msg = s.generate(ADA, "/generate ssh", first_name="Ada")
        tap.ok(norm, "a sequence issued before the lockdown", msg)
        d = issued(ctl(s, "recovery", str(ADA), "ssh").stdout)
        since = pkstest.last_sent_seq(s)
        r = ctl(s, "lockdown", "on")
        tap.ok(r.returncode == 0 and r.stdout.startswith("Locked down: ") and
               "pksctl lockdown off" in r.stdout, "pksctl lockdown on",
               r.stdout + r.stderr)
        tap.ok(log.wait(r"pksctl locked everything down: [1-9]\d* "
                        r"sequence\(s\) revoked", 5) is not None,
               "the console's lockdown is logged", log.grep("locked"))
        tap.ok(s.bot.wait_sent(chat_id=NOTE, since=since, timeout=10,
                               text=r"^pksctl \(root\) locked everything "
                               r"down$"), "the admins are told of it")
        tap.ok(re.search(r"(?m)^lockdown 1 0 \d+$", open(state).read()),
               "it is in the state file, set by pksctl (0)")
        r = ctl(s, "lockdown")
        tap.ok(re.match(r"lockdown ON for \S+, by pksctl\n$", r.stdout),
               "pksctl lockdown shows it on, by pksctl", r.stdout)
        r = ctl(s, "lockdown", "on")
        tap.ok(r.returncode == 0 and "Already locked down" in r.stdout and
               "by pksctl" in r.stdout, "a second pksctl lockdown on",
               r.stdout + r.stderr)
        t = ask(s, ADA, "/users", "Lockdown", first_name="Ada")
        tap.ok(t and re.search(r"Lockdown</b>: ON since .*, by pksctl", t),
               "/users names the console", t)
        t = ask(s, ADA, "/generate", r"locked|pks-knock", first_name="Ada")
        tap.ok(t and "locked everything down" in t, "/generate is refused",
               t)
        tap.ok({c} | set(d) <= set(listed(s)[1]), "a lockdown revokes no "
               "recovery sequence")
        since = pkstest.last_sent_seq(s)
        for i, ports in d.items():
            s.knock(ports)
            tap.ok(log.wait(r"recovery sequence %d of %d for ssh knocked "
                            r"from %s .*refused: locked down" %
                            (i, ADA, CLI4), 10) is not None and
                   not s.windows(CLI4), "in a lockdown a knock of one is "
                   "refused", s.windows(CLI4))
            tap.ok(s.bot.wait_sent(chat_id=NOTE, since=since, timeout=10,
                                   text=r"Recovery sequence %d .* refused: "
                                   r"locked down" % i),
                   "and the admins are told")

        # ---- a restart keeps the lockdown and the rest (not the one
        # knocked in the lockdown); the console lifts it
        s.monitor.stop(signal.SIGTERM)
        s.monitor.start()
        log = s.monitor.log
        tap.ok(log.wait(r"state file %s: \d+ grant\(s\), lockdown ON" %
                        state, 10) is not None and
               re.match(r"lockdown ON for \S+, by pksctl\n$",
                        ctl(s, "lockdown").stdout),
               "after a restart the console's lockdown holds")
        tap.ok(log.wait(r"1 recovery sequence\(s\) read", 10)
               is not None and set(listed(s)[1]) == {c},
               "after a restart the unused ones are back (not the one used "
               "while the file could not be written)", listed(s)[0].stdout)
        mark = log.mark()
        s.knock(norm or [1, 2, 3])
        since = pkstest.last_sent_seq(s)
        r = ctl(s, "lockdown", "off")
        tap.ok(r.returncode == 0 and r.stdout == "Lockdown lifted: sequences "
               "are issued again.\n", "pksctl lockdown off", r.stdout +
               r.stderr)
        tap.ok(log.wait(r"pksctl lifted the lockdown", 5) is not None,
               "the console's unlock is logged")
        tap.ok(s.bot.wait_sent(chat_id=NOTE, since=since, timeout=10,
                               text=r"^pksctl \(root\) lifted the "
                               r"lockdown$"), "the admins are told of it")
        tap.ok(pkstest.read_state(state)["lockdown"] == 0 and
               ctl(s, "lockdown").stdout == "lockdown off\n",
               "it is off in the state file and for pksctl")
        r = ctl(s, "lockdown", "off")
        tap.ok(r.returncode == 0 and r.stdout == "Not locked down.\n",
               "a second pksctl lockdown off", r.stdout + r.stderr)
        end = s.barrier()
        tap.ok(not s.windows(CLI4) and
               log.lacks(r"knock completed from %s" % re.escape(CLI4), mark,
                         end), "a sequence from before the lockdown, knocked "
               "in it, opened nothing", s.windows(CLI4))
        s.knock(seqs[c])
        tap.ok(pkstest.wait_for(lambda: s.windows(CLI4), 10) ==
               {(CLI4, "tcp", 2222)}, "one issued before the restart opens",
               s.windows(CLI4))

        # ---- an answer too long for one message: nothing issued
        too_long(s)
    tap.done()


main()

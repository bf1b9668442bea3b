#!/usr/bin/env python3
"""mode observe and allow-always, on the backend under test.

In mode observe nothing is dropped: a connection nobody knocked for goes
through, and pksctl status counts it for its source and service; a source
of an allow-always prefix passes without a knock and is not counted.
Malformed mode and allow-always lines are file:line errors of
pks-monitor -n, and a reload with one changes nothing.  A reload to mode
enforce closes the port to everyone but windows and the allow-always
prefix; a connection made before it goes on; a knock still opens a
window.  A reload without the prefix closes the port to it too.  A
reload in mode observe keeps the counts: the new pks-fw goes on from
them; so does a monitor restart, from the state file, which skips a
malformed count line with a log line and reads the rest (the monitor
reaps slowly here, PKS_TEST_REAP_PAUSE_MS: pks-fw's last counts at a
reload must not be lost while the other children's exits are handled
first).  Counts that moved reach the state file while the monitor runs
(after 2 s here, PKS_TEST_OBSERVED_SAVE_S; a minute in use).  pks-fw alone refuses a malformed mode, allow-always or count message and
changes nothing."""
import os
import re
import signal
import socket
import threading

import pkstest
from pkstest import tap, run, binpath, CLI4, CLI4_B, CLI6, SRV6, ADA

SSH = ("tcp", 2222)
GROUP = 7162
ALWAYS = ("allow-always %s to { ssh }\nallow-always fd00:0:0:9::/64 to ssh\n"
          % CLI4_B)
BAD = [
    ("allow-always 198.18.0.5/24 to { ssh }",
     "allow-always: 198.18.0.5/24 has host bits set beyond /24"),
    ("allow-always 198.18.0.0/24 to { ssh nosuch }",
     "allow-always: service \"nosuch\" is not defined"),
    ("allow-always 0.0.0.0/0 to { ssh }",
     "allow-always: 0.0.0.0/0 would let every address in"),
    ("allow-always fd00::/129 to { ssh }",
     "allow-always: 129 is out of range (1..128)"),
    ("allow-always mgmt to { ssh }",
     "allow-always: \"mgmt\" is not an IPv4 or IPv6 address or prefix"),
    ("mode enforcing", "mode: \"enforcing\" is not observe or enforce"),
]


def together(*fns):
    """Run the calls at once (connections that must fail wait for
    their timeout); their results in order."""
    out = [None] * len(fns)

    def one(i):
        out[i] = fns[i]()

    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def text_of(path):
    """A file's text, "" while it does not exist (yet)."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def status(s):
    return pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "status").stdout


def count_line(src, n):
    return re.compile(r"^%s\s+ssh\s+%d$" % (re.escape(src), n), re.M)


def reload(s, text, mode):
    """Write the configuration, pksctl reload, wait for the new pks-fw.
    Returns whether it worked, and every state of the firewall read
    meanwhile (one read after another, from before the reload to after
    the new pks-fw's set-up)."""
    seen, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            seen.append(s.fw.read())

    t = threading.Thread(target=sample)
    t.start()
    pkstest.write_config(s.monitor.conf, text)
    start = s.monitor.log.mark()
    r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "reload")
    ready = s.monitor.log.wait(r"pks-fw: (chain PKS|table inet pks) ready, "
                               r".* mode %s" % mode, 15, start)
    stop.set()
    t.join()
    seen.append(s.fw.read())
    return r.stdout.strip() == "reloaded" and ready is not None, seen


# iptables commits IPv4 and IPv6 one after the other (two tables), each
# at once: for a moment one family may be in the new mode, the other in
# the old
ONE_FAMILY_SWITCHED = ("closed for one family only: %s %d" % SSH,
                       "observed for one family only: %s %d" % SSH)


def never_open(seen):
    """Each state read during a reload protects ssh in each family:
    closed, or counted in mode observe; no table without it, nothing
    half-built."""
    bad = [x for x in seen if x is None or (x.other and x.other !=
                                            ONE_FAMILY_SWITCHED) or
           (SSH not in x.services and SSH not in x.observed and
            x.other != ONE_FAMILY_SWITCHED)]
    return not bad, bad[:3]


def allow_msg(addr, plen, port=2222, af=socket.AF_INET, pad=0):
    import pksimsg as pm
    return pm.S["pks_fw_allow"].pack(af, plen, socket.IPPROTO_TCP, pad,
                                     port, 0, socket.inet_pton(af, addr))


def lone_refusals(s):
    """pks-fw alone, configured with one bad mode or allow-always
    message each: it refuses its configuration, says why, and the
    firewall is as it was."""
    import pksimsg as pm
    svc = (pm.IMSG_FW_SERVICE, pm.S["pks_fw_service"].pack(
        socket.IPPROTO_TCP, 2222))
    bad = [
        ("IMSG_FW_ALLOW: bad prefix", allow_msg("198.18.0.5", 24)),
        ("IMSG_FW_ALLOW: bad prefix", allow_msg("0.0.0.0", 0)),
        ("IMSG_FW_ALLOW: bad prefix", allow_msg("198.18.0.0", 24,
                                                port=22)),
        ("IMSG_FW_ALLOW: bad prefix", allow_msg("fd00::", 64,
                                                af=socket.AF_INET6, pad=1)),
        ("IMSG_FW_ALLOW: wrong length", allow_msg("198.18.0.0", 24)[:-1]),
    ]
    parts = [[(pm.IMSG_FW_ALLOW, p)] for _, p in bad]
    # a count to go on from, but mode enforce (no IMSG_FW_MODE)
    seed = pm.S["pks_fw_observed"].pack(socket.AF_INET, socket.IPPROTO_TCP,
                                        2222, 0, socket.inet_pton(
                                            socket.AF_INET, CLI4), 3)
    bad += [("IMSG_FW_MODE: unknown mode 2", b""),
            ("IMSG_FW_MODE: unknown mode 1 or NFLOG group 65536", b""),
            ("IMSG_FW_OBSERVED: bad count", b"")]
    parts += [[(pm.IMSG_FW_MODE, pm.S["pks_fw_mode"].pack(2, GROUP))],
              [(pm.IMSG_FW_MODE, pm.S["pks_fw_mode"].pack(1, 65536))],
              [(pm.IMSG_FW_OBSERVED, seed)]]
    before = s.fw.read()

    def refused(extra):
        c = pkstest.LoneChild("pks-fw", ns=s.net.srv)
        c.configure(s.chroot, [svc] + extra, refusal=True)
        try:
            c.proc.wait(10)
        except pkstest.subprocess.TimeoutExpired:
            pass
        return c.stop(signal.SIGKILL), c.log.text()

    got = together(*[lambda x=x: refused(x) for x in parts])
    for (why, _), (rc, log) in zip(bad, got):
        tap.ok(rc not in (0, -signal.SIGKILL) and why in log,
               "pks-fw alone refuses %s (exit %s)" % (why, rc), log)
    tap.ok(s.fw.read() == before, "and the firewall is as it was",
           s.fw.dump())


def main():
    # not the default group (pks.conf's nflog-group): the rules, pks-fw's
    # bind and its reading all follow it
    pkstest.NFLOG_GROUP = GROUP
    # the monitor inherits it: a pause before each waitpid() is where a
    # reaped child's unread last words were once closed away
    os.environ["PKS_TEST_REAP_PAUSE_MS"] = "50"
    os.environ["PKS_TEST_OBSERVED_SAVE_S"] = "2"
    with pkstest.running(extra="mode observe\nnflog-group %d\n" % GROUP +
                         ALWAYS, echod=False) as s:
        conf = s.conf_text
        st = s.fw.read()
        tap.ok(st is not None and st.observed == {SSH} and
               st.services == set() and st.hooked and st.other == (),
               "mode observe: the service is logged, not dropped", st)
        tap.ok(s.monitor.log.grep(r"pks-fw: mode observe: the protected "
                                  r"ports are not closed"),
               "pks-fw warns that nothing is closed")
        tap.ok(st is not None and st.always == {
            (CLI4_B + "/32",) + SSH, ("fd00:0:0:9::/64",) + SSH},
            "each allow-always prefix has its rule", st)

        echo = s.echod(v6=True)		# both families
        tap.ok(s.can_connect(host=SRV6),
               "without a knock, a connection goes through (IPv6)")
        ok = together(s.can_connect, s.can_connect,
                      lambda: s.can_connect(src=CLI4_B))
        tap.ok(ok[0] and ok[1], "and twice over IPv4")
        tap.ok(ok[2], "and one from the allow-always address")
        out = pkstest.wait_for(
            lambda: (lambda t: t if count_line(CLI4, 2).search(t) and
                     count_line(CLI6, 1).search(t) else None)(status(s)),
            10) or status(s)
        tap.ok(count_line(CLI4, 2).search(out),
               "pksctl status counts the source's new connections to ssh",
               out)
        tap.ok(count_line(CLI6, 1).search(out), "and the IPv6 one's", out)
        tap.ok(count_line(CLI4, 2).search(out) and count_line(
            CLI4, 2).search(out).start() < count_line(CLI6, 1).search(
                out).start() if count_line(CLI6, 1).search(out) else False,
            "most first", out)
        tap.ok(re.search(r"^mode observe: nothing dropped, 3 new "
                         r"connections mode enforce would drop since ",
                         out, re.M), "and their total", out)
        tap.ok(CLI4_B not in out.split("allow-always")[0],
               "the allow-always address is not counted", out)
        tap.ok("allow-always %s/32 to ssh\n" % CLI4_B in out and
               "allow-always fd00:0:0:9::/64 to ssh\n" in out,
               "pksctl status lists the allow-always prefixes", out)

        sess, up = s.session()
        tap.ok(up, "a session is opened in mode observe")
        # a reload in mode observe: the counts go on
        ok, _ = reload(s, conf, "observe")
        out = status(s)
        tap.ok(ok and count_line(CLI4, 3).search(out) and
               count_line(CLI6, 1).search(out) and
               re.search(r"^mode observe: .* since \d{4}-\d\d-\d\d "
                         r"\d\d:\d\d UTC$", out, re.M),
               "a reload in mode observe keeps the counts, and since when",
               out)
        tap.ok(s.can_connect(), "one more connection")
        out = pkstest.wait_for(
            lambda: (lambda t: t if count_line(CLI4, 4).search(t) else
                     None)(status(s)), 10) or status(s)
        tap.ok(count_line(CLI4, 4).search(out) and
               not s.monitor.log.grep(r"pks-fw.*(malformed|killed|"
                                      r"refuse)"),
               "the new pks-fw counts on from them", out)

        # counts that moved are written while the monitor runs, a while
        # after the last write (OBSERVED_SAVE_S, 2 s here)
        since = re.search(r" since (.*)$", out, re.M)
        state = re.search(r'^state-file "(.*)"$', conf, re.M).group(1)
        saved = re.compile(r"^observed \d+ %s tcp 2222 4$" % re.escape(CLI4),
                           re.M)
        tap.ok(pkstest.wait_for(lambda: saved.search(text_of(state)), 15),
               "the moved counts reach the state file while running",
               text_of(state))

        # a monitor restart: the counts come back from the state file
        s.monitor.stop()
        text = open(state).read()
        tap.ok(re.search(r"^observed \d+ %s tcp 2222 4$" % re.escape(CLI4),
                         text, re.M) and
               re.search(r"^observed \d+ %s tcp 2222 1$" % re.escape(CLI6),
                         text, re.M), "SIGTERM writes the counts to the "
               "state file", text)
        s.monitor.start()
        tap.ok(s.monitor.log.grep(r"state file .*: 2 count\(s\) of mode "
                                  r"observe read"), "the monitor reads them")
        tap.ok(s.can_connect(), "one more connection after the restart")
        out = pkstest.wait_for(
            lambda: (lambda t: t if count_line(CLI4, 5).search(t) else
                     None)(status(s)), 10) or status(s)
        tap.ok(count_line(CLI4, 5).search(out) and
               count_line(CLI6, 1).search(out) and since and
               re.search(r" since %s$" % re.escape(since.group(1)), out,
                         re.M), "counts go on from the saved figures, "
               "since the same date", out)
        s.monitor.stop()
        text = open(state).read()
        bad = "observed 1 %s tcp 2222 x\n" % CLI4_B
        with open(state, "w") as f:
            f.write(text.replace("\nend ", "\n" + bad + "end ", 1))
        s.monitor.start()
        n = (text.split("\nend ")[0] + "\n").count("\n") + 1
        tap.ok(s.monitor.log.grep(r"state file %s: 1 count line\(s\) of mode "
                                  r"observe skipped, first line %d: bad "
                                  r"count" % (re.escape(state), n)) and
               not s.monitor.log.grep(r"state file .* refused"),
               "a malformed count line is skipped, named",
               s.monitor.log.text())
        out = status(s)
        tap.ok(count_line(CLI4, 5).search(out) and
               count_line(CLI6, 1).search(out) and CLI4_B not in
               out.split("allow-always")[0], "and the rest is read", out)

        # malformed lines: file:line from -n, and a reload keeps the rules
        for line, msg in BAD:
            text = conf.replace("mode observe\n", "") + line + "\n"
            n = text.count("\n")
            path = os.path.join(s.dir, "bad.conf")
            pkstest.write_config(path, text)
            r = run([binpath("pks-monitor"), "-n", "-f", path], check=False)
            tap.ok(r.returncode != 0 and "%s:%d: %s" % (path, n, msg) in
                   r.stderr, "pks-monitor -n refuses '%s' at its line" %
                   line, r.stderr)
        pkstest.write_config(s.monitor.conf, conf + BAD[0][0] + "\n")
        r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "reload")
        now = s.fw.read()
        tap.ok(r.returncode != 0 and r.stderr.startswith("error:") and
               now == st and
               "mode observe" in status(s),
               "a reload with a malformed line changes nothing",
               "%s\n%s\n%s" % (r.stderr, now, st))

        # mode enforce, same prefixes
        enforce = conf.replace("mode observe\n", "mode enforce\n")
        ok, seen = reload(s, enforce, "enforce")
        tap.ok(ok, "reload to mode enforce")
        ok, bad = never_open(seen)
        tap.ok(ok, "each of %d reads during it: the old rules or the new "
               "(per family)" % len(seen), bad)
        tap.ok([x.always for x in seen] == [seen[0].always] * len(seen),
               "and the allow-always rules throughout")
        st = s.fw.read()
        tap.ok(st is not None and st.services == {SSH} and
               st.observed == set() and st.other == () and
               len(st.always) == 2, "mode enforce: the service is closed, "
               "the prefixes stay", st)
        ok = together(s.can_connect, lambda: s.can_connect(src=CLI4_B))
        tap.ok(not ok[0], "without a knock, no connection")
        tap.ok(ok[1], "the allow-always address needs no knock")
        sess.stdin.write("still\n")
        sess.stdin.flush()
        tap.ok(sess.stdout.readline().strip() == "echo still",
               "the session opened in mode observe goes on")
        sess.kill()
        sess.wait()
        out = status(s)
        tap.ok(re.search(r"^mode enforce$", out, re.M) and
               "WOULD-DROP" not in out, "pksctl status: mode enforce, "
               "no counts", out)
        ports, opened = s.open_window(ADA)
        tap.ok(opened == {(CLI4,) + SSH} and s.can_connect(),
               "a knock opens a window beside the allow-always rules",
               opened)

        # the prefixes removed
        plain = enforce.replace(ALWAYS, "")
        ok, seen = reload(s, plain, "enforce")
        tap.ok(ok, "reload without allow-always")
        tap.ok(all(x and x.services == {SSH} and x.windows <= {(CLI4,) + SSH}
                   and x.other == () for x in seen),
               "each of %d reads during it: ssh closed, nothing else "
               "open" % len(seen), [x for x in seen if not x or
                                    x.services != {SSH}][:3])
        st = s.fw.read()
        tap.ok(st is not None and st.always == set() and
               st.services == {SSH} and st.other == (),
               "no allow-always rule is left", st)
        ok = together(lambda: s.can_connect(src=CLI4_B), lambda: (
            pkstest.wait_for(lambda: s.windows(CLI4), 5) and
            s.can_connect()))
        tap.ok(not ok[0], "the address is refused without a knock")
        tap.ok(ok[1], "the window came back with the new pks-fw")
        tap.ok("allow-always" not in status(s),
               "pksctl status lists no prefix")
        echo.kill()
        echo.wait()
        lone_refusals(s)
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Grants and the lockdown survive a restart of the monitor (SIGTERM and
kill -9).  A corrupt or truncated state file, or one others may write, is
refused with a clear log line: the configuration's rights stay in force
and nothing the file says is (no grant, no lockdown); the file is not
written over until an admin changes something, and then it is kept aside
as .corrupt."""
import os
import signal

import pkstest
from pkstest import tap, ask

ADA, BOB, EVE = 6123456789, 6123456791, 666


def restart(s, sig=signal.SIGTERM):
    s.monitor.stop(sig)
    s.monitor.start()
    return s.monitor.log


def main():
    state = pkstest.state_file()
    # Ada may open ssh by the configuration; Bob and Eve only by grant
    with pkstest.running(extra=pkstest.admin(ADA, state), echod=False) as s:
        t = ask(s, ADA, "/grant %d ssh" % BOB, first_name="Ada")
        tap.ok(t and "Granted" in t, "a grant", t)
        t = ask(s, ADA, "/lockdown", first_name="Ada")
        tap.ok(t and "Locked down" in t, "a lockdown", t)

        for sig, how in ((signal.SIGTERM, "SIGTERM"),
                         (signal.SIGKILL, "kill -9")):
            log = restart(s, sig)
            tap.ok(log.has(r"state file %s: 1 grant\(s\), lockdown ON"
                           % state), "after %s: state read back" % how)
            t = ask(s, BOB, "/generate", r"locked|pks-knock",
                    first_name="Bob")
            tap.ok(t and "locked everything down" in t,
                   "after %s: the lockdown holds" % how, t)
        t = ask(s, ADA, "/unlock", first_name="Ada")
        log = restart(s, signal.SIGKILL)
        ports, msg = s.generate(BOB, first_name="Bob")
        tap.ok(ports, "the grant survived the restarts", msg)
        good = open(state).read()

        # ---- corrupt, truncated and unsafe files: refused, nothing widened
        cut = good[:good.index("end ")]
        bad_files = (
            ("corrupt", good.replace("grant %d" % BOB, "grant %dx" % BOB)
             .replace("lockdown 0", "lockdown 1 %d 5" % ADA)
             + "", "line \\d+: bad user id"),
            ("truncated", cut.replace("lockdown 0", "lockdown 1 %d 5" % ADA)
             + "grant %d ssh 0 %d 1\n" % (EVE, ADA), "no end line"),
            ("cut in a line", good[:-3], "not terminated"),
            ("empty", "", "empty file"),
            ("writable by others", good.replace(
                "end 1", "grant %d ssh 0 %d 1\nend 2" % (EVE, ADA)),
             "writable by it only"),
        )
        for name, text, why in bad_files:
            s.monitor.stop()
            with open(state, "w") as f:
                f.write(text)
            os.chmod(state, 0o666 if name == "writable by others" else 0o600)
            log = restart(s)
            tap.ok(log.has(r"state file %s refused: .*%s.*running with the "
                           r"configuration's rights only" % (state, why)),
                   "%s: refused with a clear log line" % name,
                   "\n".join(log.grep("state file")))
            ports, msg = s.generate(ADA, first_name="Ada")
            tap.ok(ports, "%s: the configuration's rights stay" % name, msg)
            for u, who in ((BOB, "Bob"), (EVE, "Eve")):
                ports, msg = s.generate(u, first_name=who)
                tap.ok(ports is None, "%s: %s gets nothing from the file"
                       % (name, who), msg)
            tap.ok(open(state).read() == text,
                   "%s: the file is left as it was" % name)

        # ---- an admin change moves the refused file aside
        t = ask(s, ADA, "/grant %d ssh 1h" % EVE, first_name="Ada")
        tap.ok(t and "Granted" in t, "an admin grants after a refusal", t)
        tap.ok(os.path.exists(state + ".corrupt") and
               open(state + ".corrupt").read() == bad_files[-1][1],
               "the refused file is kept as .corrupt")
        st = pkstest.read_state(state)
        tap.ok(set(st["grants"]) == {(EVE, "ssh")} and st["lockdown"] == 0,
               "the new file holds only the new grant", st)
        tap.ok(oct(os.stat(state).st_mode & 0o777) == "0o600",
               "and has mode 0600")
        tap.ok(log.has(r"the refused file is kept as %s\.corrupt" % state),
               "which is logged")

        # ---- SIGHUP reads the file again; a refused one keeps what runs
        with open(state, "w") as f:
            f.write("pks-state 1\nlockdown 0\ngrant %d ssh 0 %d 1\nend 1\n"
                    % (BOB, ADA))
        n = len(log.lines)
        s.monitor.proc.send_signal(signal.SIGHUP)
        tap.ok(log.wait(r"state file %s: 1 grant\(s\), lockdown off" % state,
                        10, start=n), "SIGHUP reads the state file again")
        pkstest.wait_for(lambda: log.wait(r"all children ready", 0.1,
                                          start=n), 10)
        ports, msg = s.generate(BOB, first_name="Bob")
        tap.ok(ports, "its grant is in force", msg)
        with open(state, "a") as f:
            f.write("garbage\n")
        n = len(log.lines)
        s.monitor.proc.send_signal(signal.SIGHUP)
        tap.ok(log.wait(r"state file %s refused: .*the running state is "
                        r"kept" % state, 10, start=n),
               "a refused file at SIGHUP keeps the running state")
        pkstest.wait_for(lambda: log.wait(r"all children ready", 0.1,
                                          start=n), 10)
        ports, msg = s.generate(BOB, first_name="Bob")
        tap.ok(ports, "Bob's grant still runs", msg)
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A grant with a duration disappears on time, running or not: one that
ended while the monitor was down is gone at start (and from the file); one
that ends while it runs is removed then, and the live sequence it allowed
is revoked.  A grant of a service the configuration no longer defines is
not in force.  pksctl shows the grants and the lockdown state."""
import os
import time

import pkstest
from pkstest import tap, ask

ADA, BOB, CAROL, DAN = 6123456789, 6123456791, 6123456792, 6123456793


def pksctl(s, *args):
    return pkstest.run([pkstest.binpath("pksctl"), "-s",
                        os.path.join(s.dir, "pks.sock")] + list(args),
                       check=False)


def main():
    state = pkstest.state_file()
    now = int(time.time())
    with open(state, "w") as f:
        f.write("pks-state 1\nlockdown 0\n"
                "grant %d ssh %d %d %d Bob\n"
                "grant %d ssh 0 %d %d Carol\n"
                "grant %d gone 0 %d %d\n"
                "end 3\n" % (BOB, now - 100, ADA, now - 1000,
                             CAROL, ADA, now - 1000, DAN, ADA, now - 1000))
    os.chmod(state, 0o600)
    with pkstest.running(allowed=None, extra=pkstest.admin(ADA, state),
                         echod=False, barrier=True) as s:
        log = s.monitor.log
        tap.ok(log.wait(r"grant of ssh to %d \(by %d\) expired" % (BOB, ADA),
                        5), "a grant that ended while down is removed at "
               "start")
        tap.ok(log.has(r"grant of gone to %d: the configuration defines no "
                       r"such service, it is not in force" % DAN),
               "a grant of an undefined service is not in force")
        st = pkstest.read_state(state)
        tap.ok(set(st["grants"]) == {(CAROL, "ssh"), (DAN, "gone")},
               "the file no longer holds the ended grant", st)
        ports, msg = s.generate(BOB, first_name="Bob")
        tap.ok(ports is None, "Bob's ended grant gives nothing", msg)
        ports, msg = s.generate(CAROL, first_name="Carol")
        tap.ok(ports, "Carol's grant is in force", msg)

        r = pksctl(s, "grants")
        lines = r.stdout.splitlines()
        tap.ok(r.returncode == 0 and lines[0].split() ==
               ["USER-ID", "NAME", "SERVICE", "BY", "LEFT"] and
               any(l.split()[:3] == [str(CAROL), "Carol", "ssh"]
                   for l in lines) and
               any(l.startswith(str(DAN)) and "no such service" in l
                   for l in lines), "pksctl grants", r.stdout + r.stderr)
        r = pksctl(s, "status")
        tap.ok("lockdown off" in r.stdout and "grants 2, state file %s"
               % state in r.stdout, "pksctl status shows lockdown and "
               "grants", r.stdout)

        # marked before the grant: under load, its 4 s may be over
        # before Bob's /generate below is answered
        mark = log.mark()
        t = ask(s, ADA, "/grant %d ssh 4s" % BOB, first_name="Ada")
        t0 = time.time()	# granted before the answer came
        tap.ok(t and "Granted ssh to %d until" % BOB in t, "a 4 s grant", t)
        ports, msg = s.generate(BOB, first_name="Bob")
        tap.ok(ports, "Bob gets a sequence", msg)
        i = log.wait(r"grant of ssh to %d \(by %d\) expired" % (BOB, ADA),
                     10, mark)
        tap.ok(i is not None and time.time() - t0 < 7,
               "the grant expires on time while running (%.1f s after "
               "it was answered)" % (time.time() - t0))
        tap.ok(log.wait(r"sequence \d+ of Bob revoked: no longer allowed "
                        r"ssh", 3), "Bob's live sequence is revoked")
        s.knock(ports)
        s.barrier()
        tap.ok(not s.windows(pkstest.CLI4), "and opens nothing")
        p2, msg = s.generate(BOB, first_name="Bob")
        tap.ok(p2 is None, "Bob may not generate any more", msg)
        tap.ok((BOB, "ssh") not in pkstest.read_state(state)["grants"],
               "the state file no longer has it")
        t = ask(s, ADA, "/lockdown", first_name="Ada")
        r = pksctl(s, "status")
        tap.ok(t and "lockdown ON for" in r.stdout and
               "by %d" % ADA in r.stdout, "pksctl status shows a lockdown",
               r.stdout)
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

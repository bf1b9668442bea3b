#!/usr/bin/env python3
"""kill -9 of the monitor in the middle of a state file write never leaves
a half-written file.  A test build of pks-monitor, given
PKS_TEST_STATE_DELAY_MS, pauses halfway through writing its temporary
file: killed then, the temporary file holds half the new text while the
state file still holds the whole old one, and the next start reads it.
Then grants arrive while the monitor is killed at random moments: after
each kill the file is a complete old or new version."""
import os
import random
import time

import pkstest
from pkstest import tap, ask, ADA

USERS = 7000001

# the monitor reads the state file before it logs this line
STARTED = r"^pks-monitor: starting, configuration "

def main():
    state = pkstest.state_file()
    tmp = state + ".tmp"
    os.environ["PKS_TEST_STATE_DELAY_MS"] = "3000"
    with pkstest.running(allowed=None, extra=pkstest.admin(ADA, state),
                         echod=False) as s:
        t = ask(s, ADA, "/grant %d ssh" % USERS, timeout=15)
        tap.ok(t and "Granted" in t, "a first grant is written", t)
        old = open(state).read()

        for i in range(1, 4):
            s.bot.push_message(user_id=ADA, text="/grant %d ssh"
                               % (USERS + i))
            mid = pkstest.wait_for(lambda: os.path.exists(tmp) and
                                   os.path.getsize(tmp) > 0, 10)
            tap.ok(mid, "round %d: the monitor is in the middle of a write"
                   % i)
            s.monitor.proc.kill()
            s.monitor.proc.wait()
            tap.ok(not pkstest.state_ok(tmp),
                   "round %d: the temporary file is half-written" % i)
            tap.ok(open(state).read() == old,
                   "round %d: the state file is the whole old one" % i)
            s.monitor.start()
            log = s.monitor.log
            # the file as it was at the restart (the restarted monitor
            # may already have written the re-delivered grant)
            tap.ok(log.has(r"state file %s: %d grant\(s\)" %
                           (state, len(pkstest.parse_state(old.encode())
                                       ["grants"]))) and
                   log.lacks("refused", until=STARTED),
                   "round %d: the next start reads it" % i)
            # the restarted worker gets the grant again (never confirmed)
            # and the monitor writes it, slowly: wait for it
            pkstest.wait_for(lambda: (USERS + i, "ssh") in
                             pkstest.read_state(state)["grants"], 15)
            old = open(state).read()
            tap.ok((USERS + i, "ssh") in pkstest.read_state(state)["grants"],
                   "round %d: the unconfirmed grant was done after the "
                   "restart" % i)

        # random moments, no pause: the file always parses
        s.monitor.stop()
        del os.environ["PKS_TEST_STATE_DELAY_MS"]
        rnd = random.Random(8)
        bad = []
        n = 100
        for i in range(6):
            s.monitor.start()
            for k in range(10):
                n += 1
                s.bot.push_message(user_id=ADA, text="/grant %d ssh 1h"
                                   % (USERS + n))
            time.sleep(rnd.uniform(0, 0.4))
            s.monitor.proc.kill()
            s.monitor.proc.wait()
            if not pkstest.state_ok(state):
                bad.append(open(state, "rb").read())
        tap.ok(not bad, "after 6 kills at random moments the file is always "
               "complete", bad)
        s.monitor.start()
        tap.ok(s.monitor.log.lacks("refused", until=STARTED),
               "and the monitor reads it")
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""kill -9 of each child and of the monitor at random moments while windows
are open, many times over.

Every round opens three short windows (3, 6 or 10 s) for three users from
distinct client addresses (IPv4 and IPv6), waits a random time, kills one
process with SIGKILL, and reads the PKS chains of both families in a loop
meanwhile.  Whatever was killed:
  - no window rule outlives its window by more than GRACE seconds, and no
    rule shows up that no knock asked for;
  - pks-fw: the monitor restarts it, the new one rebuilds the chain with
    the windows still open and the knocker gets in while its window lasts;
  - pks-sniffer: restarted, it knows the sequences issued before (a
    sequence issued before the kill is knocked after it and opens);
  - pks-telegram: restarted, /generate works again;
  - the monitor: its children exit and pks-fw closes every window
    promptly; the next monitor starts from a chain without window rules;
  - the monitor and pks-fw together (nobody left to close): the rules stay,
    and the next monitor start removes them.
PKS_FAULT_CYCLES (default 5) sets the number of cycles; PKS_FAULT_SEED
replays a run.  The kill count is in the output."""
import os
import random
import time

import pkstest
from pkstest import tap, SRV4, SRV6

check = pkstest.tap_ok

ADA, BOB, CAROL, DAN = 6123456789, 6123456790, 6123456791, 6123456792
USERS = (ADA, BOB, CAROL)
SERVICES = (pkstest.service("ssh", 2222, open_for=6) + "\n" +
            pkstest.service("web", 8080, open_for=3) + "\n" +
            pkstest.service("long", 2223, open_for=10))
PORT = {"ssh": 2222, "web": 8080, "long": 2223}
OPEN_FOR = {"ssh": 6, "web": 3, "long": 10}
GRACE = 1.5		# a rule may outlive its window by this much
EARLY = 1.1		# the monitor counts whole seconds: a window may end
			# up to 1 s before open-for after the knock
MORE4 = ["198.18.0.4", "198.18.0.5"]
MORE6 = ["fd00::3"]
SOURCES = ["198.18.0.2", "198.18.0.3", "fd00::2"] + MORE4 + MORE6
CHILDREN = ("pks-fw", "pks-sniffer", "pks-telegram")

# Bugs this test found, now fixed; the checks that showed them count: a
# restarted child left the state sent after its configuration unread
# (proc_read_conf), pks-fw was restarted with back-off while windows
# waited for it (child_gone).
TODO_REBUILD = ""
TODO_BACKOFF = ""


def host_of(src):
    return SRV6 if ":" in src else SRV4


class Round:
    def __init__(self, s, watch, n, victim):
        self.s = s
        self.watch = watch
        self.n = n
        self.victim = victim
        self.ends = {}		# (addr, port) -> end of its window
        self.problems = []
        self.limit = {}		# (addr, port) -> latest allowed removal
        self.earliest = {}	# (addr, port) -> earliest allowed removal

    def log_since(self, i, rx, timeout=10):
        return self.s.monitor.log.wait(rx, timeout, start=i)

    def open_windows(self, triples):
        """Generate and knock each (user, service, source)."""
        seqs = []
        for user, svc, src in triples:
            ports, msg = self.s.generate(user, text="/generate " + svc)
            if ports is None:
                self.problems.append("no sequence for %d/%s: %s" %
                                     (user, svc, msg))
                continue
            seqs.append((svc, src, ports))
        knocked = {}
        for svc, src, ports in seqs:
            t = time.time()
            self.s.knock(ports, host=host_of(src), src=src)
            key = (src, PORT[svc])
            knocked[key] = t
            # the monitor counts from its own second of the knock
            self.earliest[key] = t + OPEN_FOR[svc] - EARLY
            self.ends[key] = time.time() + OPEN_FOR[svc]

        # each rule seen since its knock: on a loaded machine a 3 s
        # window can be over before the last knock's opens
        def unseen():
            self.watch.now()	# a read begun after this one's start
            return set(k for k, t in knocked.items()
                       if k not in self.watch.seen_between(t, time.time()))
        got = pkstest.wait_for(lambda: not unseen(), 3)
        if not got:
            self.problems.append("windows did not open: %s" %
                                 sorted(unseen()))
        return got

    def check_rules(self, t0):
        """Every rule gone by its limit; no rule nobody asked for."""
        worst = None
        for key, end in sorted(self.ends.items()):
            limit = self.limit.get(key, end + GRACE)
            gone = self.watch.gone_at(key, t0)
            late = self.watch.seen_after(key, limit)
            if gone is None or late is not None:
                self.problems.append(
                    "rule %s/%d still there %s after its limit" %
                    (key[0], key[1], "%.2f s" % (late - limit) if gone
                     else "now"))
            elif worst is None or gone - end > worst:
                worst = gone - end
        extra = self.watch.seen_between(t0, time.time()) - set(self.ends)
        if extra:
            self.problems.append("rules nobody knocked for: %s" %
                                 sorted(extra))
        return worst


def stale_free(s):
    """The firewall holds the services closed, hooked, and nothing
    else."""
    return s.fw.clean(set(("tcp", p) for p in PORT.values()))


def gone(pid):
    st = pkstest.proc_status(pid)
    return st is None or st.get("State", "").startswith("Z")


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    cycles = int(os.environ.get("PKS_FAULT_CYCLES", "5"))
    seed = int(os.environ.get("PKS_FAULT_SEED", str(int(time.time()))))
    rnd = random.Random(seed)
    # a bail-out, not a check: 119 s for 3 cycles on a quiet 2-CPU
    # machine, 180-262 s at load 10-12
    pkstest.set_deadline(120 + cycles * 90)
    tap.diag("seed %d (PKS_FAULT_SEED replays it)" % seed)
    victims = []
    for c in range(cycles):
        victims += ["pks-fw", "pks-sniffer", "pks-telegram", "pks-monitor"]
        if c % 2 == 1:
            victims.append("pks-monitor+pks-fw")
    kills = dict.fromkeys(CHILDREN + ("pks-monitor",), 0)
    worst = 0.0
    windows = 0
    with pkstest.Net() as net:
        pkstest.add_client_addrs(net, MORE4 + MORE6)
        allow = "allow user { %d %d %d %d } to { ssh web long }\n" % (
            ADA, BOB, CAROL, DAN)
        s = pkstest.Suite(net, extra=allow, services=SERVICES).start()
        s.echod(2222, v6=True)		# "::" takes IPv4 too
        s.echod(8080, v6=True)
        s.echod(2223, v6=True)
        watch = pkstest.ChainWatch(net).start()
        oldlogs = []

        for n, victim in enumerate(victims, 1):
            r = Round(s, watch, n, victim)
            t0 = time.time()
            srcs = rnd.sample(SOURCES, 4)
            svcs = ["ssh"] + [rnd.choice(("ssh", "web")) for _ in range(2)]
            if victim == "pks-fw":
                # 10 s windows: on a loaded machine (load 10) the
                # restart and the connects outlasted even 6 s windows,
                # leaving nothing to put back
                svcs = ["long"] * 3
            spare = None
            if victim == "pks-sniffer":
                spare, _ = s.generate(DAN, text="/generate ssh")
            if not r.open_windows(list(zip(USERS, svcs, srcs))):
                check(False, "round %d: windows open" % n,
                       "\n".join(r.problems))
                continue
            windows += len(r.ends)
            delay = rnd.uniform(0.05, 1.0 if victim == "pks-fw" else 1.5)
            time.sleep(delay)
            li = len(s.monitor.log.lines)
            extra = ""

            if victim in CHILDREN:
                pid = s.monitor.child_pid(victim)
                os.kill(pid, 9)
                kills[victim] += 1
                short = victim[4:]
                ok = r.log_since(li, r"started %s, pid" % victim, 10)
                ok = ok is not None and r.log_since(
                    ok, r"pks-monitor: %s: ready" % victim, 10)
                newpid = s.monitor.child_pid(victim)
                check(ok is not None and newpid and newpid != pid,
                       "round %d: kill -9 %s at +%.2f s: the monitor "
                       "restarts it" % (n, victim, delay),
                       s.monitor.log.text()[-2000:])
                if victim == "pks-fw":
                    left = [(k, e) for k, e in r.ends.items()
                            if e - time.time() > 1.8]
                    keys = set(k for k, _ in left)
                    ok = bool(left) and pkstest.wait_for(
                        lambda: keys <= watch.now(),
                        max(0.1, min(e for _, e in left) - time.time() -
                            1.5))
                    # each knocker connects while its window still has
                    # time left (the monitor counts whole seconds, so a
                    # window may close up to EARLY before its end): one
                    # connect takes a while on a loaded machine, so the
                    # time left is read again before each, the longest
                    # first, and a try its window ended is not judged
                    tried = 0
                    for key, end in sorted(left, key=lambda x: -x[1]):
                        if not ok or end - time.time() < EARLY + 0.2:
                            continue
                        got = watch.connect(s, key, host_of(key[0]),
                                            r.earliest[key])
                        if got is not None:
                            tried += 1
                            ok = got
                    ok = ok and tried > 0
                    check(ok, "round %d: the new pks-fw puts back the %d "
                           "windows still open and their knockers connect"
                           " (%d tried)" % (n, len(left), tried) +
                           ("" if left else " (none left: kill was late)")
                           + TODO_REBUILD)
                elif victim == "pks-sniffer":
                    src = srcs[3]
                    s.knock(spare or [], host=host_of(src), src=src)
                    r.ends[(src, 2222)] = time.time() + OPEN_FOR["ssh"]
                    ok = spare and pkstest.wait_for(
                        lambda: (src, 2222) in watch.now(), 2.5)
                    check(ok, "round %d: a sequence issued before the "
                           "kill opens when knocked after the restart" % n
                           + TODO_REBUILD)
                else:
                    ports, msg = s.generate(BOB, text="/generate web")
                    check(ports is not None, "round %d: /generate works "
                           "after the restart" % n, msg)
                extra = short
            else:
                mon = s.monitor.proc.pid
                pids = {c: s.monitor.child_pid(c) for c in CHILDREN}
                if victim == "pks-monitor+pks-fw":
                    os.kill(pids["pks-fw"], 9)
                    kills["pks-fw"] += 1
                os.kill(mon, 9)
                tk = time.time()
                kills["pks-monitor"] += 1
                s.monitor.proc.wait(5)
                alive = [c for c, p in pids.items()
                         if p and not pkstest.wait_for(
                             lambda: gone(p), 3)]
                oldlogs.append(s.monitor.log)
                check(not alive, "round %d: kill -9 %s at +%.2f s: the "
                       "children exit" % (n, victim, delay),
                       "still running: %s" % alive)
                if victim == "pks-monitor":
                    for k in r.ends:
                        r.limit[k] = min(r.ends[k] + GRACE, tk + GRACE)
                    empty = pkstest.wait_for(
                        lambda: not (set(r.ends) & watch.now()), GRACE)
                    check(empty, "round %d: pks-fw closes every window "
                           "within %.1f s" % (n, GRACE))
                else:
                    time.sleep(0.5)
                    left = set(r.ends) & watch.now()
                    extra = "%d stale" % len(left)
                s.monitor.start()
                ready = time.time()
                for k in r.ends:
                    r.limit[k] = min(r.limit.get(k, r.ends[k] + GRACE),
                                     ready + 0.5) \
                        if victim == "pks-monitor" else ready + 0.5
                check(pkstest.wait_for(lambda: stale_free(s), 0.5),
                       "round %d: the next monitor starts with no window "
                       "rule left (%s)" % (n, extra or "none stale"),
                       s.fw.dump())

            # every window's end, then the grace
            end = max(r.limit.get(k, e + GRACE) for k, e in r.ends.items())
            while time.time() < end + 0.2:
                time.sleep(0.1)
            w = r.check_rules(t0)
            if w is not None and w > worst:
                worst = w
            check(not r.problems, "round %d (%s): %d windows, no rule "
                   "outlives its window by more than %.1f s, none unasked"
                   % (n, victim, len(r.ends), GRACE),
                   "\n".join(r.problems))

        # pks-fw killed again as soon as it is back, four times: windows
        # opened before the last kill wait for a pks-fw to take their
        # rules out, so its restart must not back off
        n = len(victims) + 1
        r = Round(s, watch, n, "pks-fw x4")
        for i in range(3):
            li = len(s.monitor.log.lines)
            os.kill(s.monitor.child_pid("pks-fw"), 9)
            kills["pks-fw"] += 1
            if r.log_since(li, r"pks-monitor: pks-fw: ready", 15) is None:
                r.problems.append("pks-fw not restarted")
        t0 = time.time()
        srcs = rnd.sample(SOURCES, 3)
        if r.open_windows(list(zip(USERS, ("ssh", "web", "web"), srcs))):
            windows += len(r.ends)
            time.sleep(rnd.uniform(0.05, 0.5))
            li = len(s.monitor.log.lines)
            os.kill(s.monitor.child_pid("pks-fw"), 9)
            kills["pks-fw"] += 1
            end = max(r.ends.values()) + GRACE
            while time.time() < end + 0.2:
                time.sleep(0.1)
            r.check_rules(t0)
            # pks-fw is never made to wait longer than a second
            r.problems += s.monitor.log.grep(
                r"pks-fw: restarting in ([2-9]|\d\d+) s")
        check(not r.problems, "round %d: kill -9 pks-fw four times within "
               "a minute: no rule outlives its window by more than %.1f s" %
               (n, GRACE) + TODO_BACKOFF, "\n".join(r.problems))
        check(r.log_since(li, r"pks-monitor: pks-fw: ready", 12) is not
               None and pkstest.wait_for(lambda: stale_free(s), 1),
               "round %d: the restarted pks-fw removes the rules left "
               "behind" % n)

        watch.stop()
        total = sum(kills.values())
        check(total >= 4 * cycles, "%d kill -9 in %d rounds (%s), %d "
               "windows; a rule outlived its window's end by at most %.2f s" %
               (total, len(victims) + 1, ", ".join(
                   "%s %d" % kv for kv in sorted(kills.items())), windows,
                worst))
        s.stop()
        check(all(log.lacks(r"sandbox violation")
                  for log in oldlogs + [s.monitor.log]),
               "no child died of its sandbox meanwhile")
        check(stale_free(s), "SIGTERM leaves no window rule")
        if tap.failed and os.environ.get("PKS_TEST_VERBOSE"):
            tap.diag("\n".join(log.text() for log in
                               oldlogs + [s.monitor.log]))
    tap.done()


if __name__ == "__main__":
    main()

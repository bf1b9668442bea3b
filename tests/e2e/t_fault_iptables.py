#!/usr/bin/env python3
"""iptables(8) edits the filter table in a loop (with -w, as admins' scripts
do) while windows open and close through the real suite, in IPv4 and IPv6:
foreign rules are added to and removed from INPUT (anywhere in it, also
before the jump to PKS), from a foreign chain, and short-lived foreign
chains come and go.  No PKS rule is lost (each window's rule is there for
its whole window and its knocker connects) or left behind (each goes with
its window), and no foreign rule is damaged: every rule the editor added
is found again and deleted, and the foreign rules are the same, in the
same order, before and after.  The edits go on for EDIT_SECONDS, and
until MIN_OPS commands ran (a loaded machine runs them slower), never
past EDIT_MAX seconds or MAX_OPS commands."""
import os
import random
import re
import threading
import time

import pkstest
from pkstest import tap, run, SRV4, SRV6

check = pkstest.tap_ok

ADA, BOB, CAROL = 6123456789, 6123456790, 6123456791
OPEN_FOR = 5
SERVICE = pkstest.service("ssh", 2222, open_for=OPEN_FOR)
GRACE = 1.5
EARLY = 1.1		# the monitor counts whole seconds: a window may end
			# up to 1 s before open-for after the knock
EDIT_SECONDS = 30
EDIT_MAX = 90
MIN_OPS = 200
MAX_OPS = 3000
MORE = ["198.18.0.4", "198.18.0.5", "fd00::3"]
SOURCES = ["198.18.0.2", "198.18.0.3", "fd00::2"] + MORE

# foreign rules set up before the edits (TEST-NET addresses: nothing here
# ever matches the test's own traffic)
FOREIGN = {
    False: [["-N", "FOREIGN"],
            ["-A", "FOREIGN", "-s", "203.0.113.7/32", "-j", "DROP"],
            ["-A", "FOREIGN", "-p", "udp", "--dport", "5353", "-j",
             "ACCEPT"],
            ["-A", "FOREIGN", "-j", "RETURN"],
            ["-I", "INPUT", "1", "-i", "lo", "-j", "ACCEPT"],
            ["-A", "INPUT", "-p", "udp", "--dport", "9999", "-j",
             "FOREIGN"],
            ["-A", "INPUT", "-s", "203.0.113.0/24", "-p", "tcp",
             "--dport", "25", "-j", "DROP"],
            ["-A", "OUTPUT", "-d", "203.0.113.9/32", "-j", "DROP"]],
    True: [["-N", "FOREIGN"],
           ["-A", "FOREIGN", "-s", "2001:db8::7/128", "-j", "DROP"],
           ["-A", "FOREIGN", "-p", "udp", "--dport", "5353", "-j",
            "ACCEPT"],
           ["-A", "FOREIGN", "-j", "RETURN"],
           ["-I", "INPUT", "1", "-i", "lo", "-j", "ACCEPT"],
           ["-A", "INPUT", "-p", "udp", "--dport", "9999", "-j", "FOREIGN"],
           ["-A", "INPUT", "-s", "2001:db8::/64", "-p", "tcp", "--dport",
            "25", "-j", "DROP"],
           ["-A", "OUTPUT", "-d", "2001:db8::9/128", "-j", "DROP"]],
}


def foreign_rules(net, v6):
    """The filter table without PKS's chain and jump."""
    r = net.iptables("-S", v6=v6)
    return [l for l in r.stdout.splitlines()
            if "PKS" not in l.split()[1:2] and not l.endswith("-j PKS")]


class Editor:
    """Adds and removes foreign rules and chains, checking each one it
    added is still there when it takes it out."""

    def __init__(self, net, rnd):
        self.net = net
        self.rnd = rnd
        self.ops = 0
        self.fails = []
        self.live = []		# (v6, chain, spec)
        self.next = 1
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._loop, daemon=True)

    def ipt(self, v6, *args):
        self.ops += 1
        return self.net.iptables(*args, v6=v6)

    def spec(self, v6):
        k = self.next
        self.next += 1
        src = ("2001:db8:1::%x/128" % k) if v6 else \
            ("203.0.113.%d/32" % (k % 250 + 1))
        return ["-s", src, "-p", "tcp", "--dport", str(1000 + k), "-j",
                "DROP"]

    def add(self, v6, chain):
        spec = self.spec(v6)
        n = len(self.net.iptables("-S", chain, v6=v6).stdout.splitlines())
        if self.rnd.random() < 0.5 or n < 2:
            r = self.ipt(v6, "-A", chain, *spec)
        else:
            # anywhere, also before the jump to PKS
            r = self.ipt(v6, "-I", chain, str(self.rnd.randint(1, n - 1)),
                         *spec)
        if r.returncode != 0:
            self.fails.append("add %s: %s" % (spec, r.stderr.strip()))
        else:
            self.live.append((v6, chain, spec))

    def remove(self, i):
        v6, chain, spec = self.live.pop(i)
        if self.ipt(v6, "-C", chain, *spec).returncode != 0:
            self.fails.append("lost: -A %s %s (%s)" % (
                chain, " ".join(spec), "v6" if v6 else "v4"))
        elif self.ipt(v6, "-D", chain, *spec).returncode != 0:
            self.fails.append("cannot delete: %s" % " ".join(spec))

    def scratch_chain(self, v6):
        name = "TMP%d" % self.next
        self.next += 1
        spec = self.spec(v6)
        for args in (["-N", name], ["-A", name] + spec,
                     ["-A", "INPUT", "-p", "udp", "--dport", "7", "-j",
                      name]):
            if self.ipt(v6, *args).returncode != 0:
                self.fails.append("scratch chain %s: %s" % (name, args))
        for args in (["-D", "INPUT", "-p", "udp", "--dport", "7", "-j",
                      name], ["-F", name], ["-X", name]):
            if self.ipt(v6, *args).returncode != 0:
                self.fails.append("scratch chain %s: %s" % (name, args))

    def _loop(self):
        end = time.time() + EDIT_MAX + 30
        while not self.stop.is_set() and self.ops < MAX_OPS and \
                time.time() < end:
            v6 = self.rnd.random() < 0.5
            x = self.rnd.random()
            if x < 0.1:
                self.scratch_chain(v6)
            elif x < 0.55 or len(self.live) < 4:
                self.add(v6, "INPUT" if self.rnd.random() < 0.7 else
                         "FOREIGN")
            else:
                self.remove(self.rnd.randrange(len(self.live)))
        self.done = True

    def finish(self):
        self.stop.set()
        self.t.join(60)
        while self.live:
            self.remove(0)


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    pkstest.set_deadline(EDIT_MAX + 120)
    seed = int(os.environ.get("PKS_FAULT_SEED", str(int(time.time()))))
    rnd = random.Random(seed)
    tap.diag("seed %d (PKS_FAULT_SEED replays it)" % seed)
    with pkstest.Net() as net:
        pkstest.add_client_addrs(net, MORE)
        s = pkstest.Suite(net, services=SERVICE, extra=(
            "allow user { %d %d %d } to { ssh }\n" % (ADA, BOB, CAROL)))
        s.start()
        s.echod(2222, v6=True)
        for v6 in (False, True):
            for args in FOREIGN[v6]:
                net.iptables(*args, v6=v6)
        before = {v6: foreign_rules(net, v6) for v6 in (False, True)}
        check(len(before[False]) >= 10 and len(before[True]) >= 10,
               "foreign rules and a foreign chain in place, v4 and v6")

        watch = pkstest.ChainWatch(net).start()
        ed = Editor(net, random.Random(seed + 1))
        ed.t.start()
        t_start = time.time()
        rounds = windows = connected = unjudged = 0
        problems = []
        while time.time() - t_start < EDIT_SECONDS or \
                (ed.ops < MIN_OPS and time.time() - t_start < EDIT_MAX):
            rounds += 1
            t0 = time.time()
            ends = {}
            opened = {}
            # when each window may end at the soonest: the monitor counts
            # whole seconds from its own second of the knock
            earliest = {}
            judged = False
            srcs = rnd.sample(SOURCES, 3)
            # each window is checked while it lasts: under load the next
            # /generate can take longer than a whole window
            for user, src in zip((ADA, BOB, CAROL), srcs):
                ports, msg = s.generate(user)
                if ports is None:
                    problems.append("round %d: no sequence: %s" %
                                    (rounds, msg))
                    continue
                host = SRV6 if ":" in src else SRV4
                t_knock = time.time()
                s.knock(ports, host=host, src=src)
                key = (src, 2222)
                ends[key] = time.time() + OPEN_FOR
                earliest[key] = t_knock + OPEN_FOR - EARLY
                # pks-fw waits for the xtables lock the editor keeps taking
                if not pkstest.wait_for(lambda: key in watch.now(), 6):
                    problems.append("round %d: window of %s not opened" %
                                    (rounds, src))
                    continue
                opened[key] = time.time()
                if judged:
                    continue
                # the first window whose knocker's try can be judged
                # (the next one if this one ended during the try)
                got = watch.connect(s, key, host, earliest[key])
                if got is None:
                    continue
                judged = True
                if got:
                    connected += 1
                else:
                    problems.append("round %d: %s cannot connect in its "
                                    "window (seen %.2f s after the knock)"
                                    "\n%s" % (rounds, src,
                                               opened[key] - t_knock,
                                               "\n".join(s.monitor.log.grep(
                                                   re.escape(src))[-6:])))
            if not judged:
                unjudged += 1
                tap.diag("round %d: every try to connect came after its "
                         "window" % rounds)
            windows += len(ends)
            want = set(ends)
            while time.time() < max(ends.values() or [0]) + GRACE + 0.2:
                time.sleep(0.1)
            for key, end in ends.items():
                holes = watch.absent_between(key, opened.get(key, end),
                                             earliest[key])
                if holes:
                    problems.append("round %d: rule %s missing for a "
                                    "while in its window (%.2f s after "
                                    "the knock)" % (rounds, key[0],
                                                    holes[0][0] - end +
                                                    OPEN_FOR))
                g = watch.gone_at(key, t0)
                late = watch.seen_after(key, end + GRACE)
                if g is None or late is not None:
                    problems.append("round %d: rule %s outlived its "
                                    "window (%s)\n%s" % (
                                        rounds, key[0],
                                        "still there" if g is None else
                                        "%.2f s" % (late - end),
                                        "\n".join(s.monitor.log.grep(
                                            re.escape(key[0]) +
                                            "|xtables")[-6:])))
            extra = watch.seen_between(t0, time.time()) - want
            if extra:
                problems.append("round %d: rules nobody asked for: %s" %
                                (rounds, sorted(extra)))
        ed.finish()
        watch.stop()
        check(not problems, "%d rounds, %d windows opened and closed "
               "during %d iptables(8) runs: no PKS rule lost or left "
               "behind" % (rounds, windows, ed.ops), "\n".join(problems))
        check(connected == rounds - unjudged and connected > 0,
               "a knocker connected in every round (%d/%d, %d too late "
               "to judge)" % (connected, rounds, unjudged))
        check(ed.ops >= MIN_OPS, "the editor ran %d iptables(8) commands "
               "(%.0f/s)" % (ed.ops, ed.ops / (time.time() - t_start)))
        check(not ed.fails, "every foreign rule the editor added was still "
               "there when it removed it (%d added)" % (ed.next - 1),
               "\n".join(ed.fails[:20]))
        for v6 in (False, True):
            fam = "IPv6" if v6 else "IPv4"
            after = foreign_rules(net, v6)
            check(after == before[v6], "%s: the foreign rules are the same "
                   "as before, in the same order" % fam,
                   "before:\n%s\nafter:\n%s" % ("\n".join(before[v6]),
                                                "\n".join(after)))
            inp = net.iptables("-S", "INPUT", v6=v6).stdout.splitlines()
            check(sum(1 for l in inp if l.endswith("-j PKS")) == 1,
                   "%s: INPUT jumps to PKS exactly once" % fam,
                   "\n".join(inp))
            check((net.chain(v6) or []) and
                   not [r for r in net.chain(v6) if " -s " in r] and
                   len(net.chain(v6)) == 2,
                   "%s: PKS holds its two service rules and no window" % fam,
                   "\n".join(net.chain(v6) or []))
        # a last window after the storm, and pks-fw puts the jump back
        # first on its next commit
        check(s.open_window(ADA, timeout=15)[1] and s.can_connect(),
               "a knock after the edits opens as usual")
        inp = net.iptables("-S", "INPUT").stdout.splitlines()
        check(inp[1:2] == ["-A INPUT -j PKS"],
               "the jump to PKS is INPUT's first rule again", "\n".join(inp))
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Forced failures leave the suite consistent.

a) Allocation: pks-monitor (the one process not sandboxed, so LD_PRELOAD
   reaches it; it gives its children a clean environment) runs with
   failmalloc.c preloaded.  While a trigger file exists, every N-th
   malloc/calloc/realloc fails; /generate and knocks are played meanwhile,
   for several N.  The monitor does not die, logs the failures, and once
   they stop its windows and the chain agree again and everything works.
b) Firewall commit: pks-fw waits at most 5 s for the xtables lock.  The
   monitor runs in a private mount namespace whose /run/xtables.lock is a
   file of this test (so holding it disturbs nobody else), and the test
   holds it across a knock (the open fails: logged, nobody told, no rule,
   a later knock works) and across a window's end (the close fails: the
   rule must still go, and the owner must not be told it closed while it
   is open)."""
import fcntl
import os
import re
import subprocess
import tempfile
import time

import pkstest
from pkstest import tap, run, binpath, CLI4_B

check = pkstest.tap_ok

ADA, BOB = 6123456789, 6123456790
HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE = pkstest.service("ssh", 2222, open_for=3)
ALLOW = "allow user { %d %d } to { ssh }\n" % (ADA, BOB)
MORE = ["198.18.0.4", "198.18.0.5", "198.18.0.6"]
SOURCES = ["198.18.0.2", CLI4_B] + MORE

# Bugs this test found, now fixed; the checks that showed them count:
# a failed allocation in imsg_get taken for a malformed message
# (child_dispatch), a failed getpwnam() at a child's restart being fatal
# (child_send_conf), a refused close forgotten (win_fw_result).
TODO_NOMEM = ""
TODO_FATAL = ""
TODO_CLOSE = ""


def asan_build():
    r = run(["ldd", binpath("pks-monitor")], check=False)
    return "libasan" in r.stdout


def chain_addrs(net):
    keys = pkstest.window_keys(net)
    return None if keys is None else set(a for a, p in keys)


def consistent(s):
    """The monitor's windows are exactly the chain's window rules."""
    mon = pkstest.ctl_windows(os.path.join(s.dir, "pks.sock"))
    return mon is not None and mon == chain_addrs(s.net)


def state(s):
    return "monitor: %s\nchain: %s" % (
        pkstest.ctl_windows(os.path.join(s.dir, "pks.sock")),
        chain_addrs(s.net))


def settle(s, timeout=75):
    """Wait for every child to be up and the state to agree.  A child the
    monitor killed in every phase is restarted after a back-off that
    doubles up to 60 s (pks-monitor/child.c, BACKOFF_MAX): by the fifth
    phase 32 s."""
    def ok():
        return all(s.monitor.child_pid(c) for c in
                   ("pks-fw", "pks-sniffer", "pks-telegram")) and \
            consistent(s)
    return pkstest.wait_for(ok, timeout, 0.2)


def works(s, user, src):
    """A full knock: sequence, window, connection."""
    ports, msg = s.generate(user)
    if ports is None:
        tap.diag("no sequence for %s: %s" % (user, msg))
        return False
    s.knock(ports, src=src)
    if not pkstest.wait_for(
            lambda: (src, 2222) in (pkstest.window_keys(s.net) or ()), 3):
        tap.diag("no window for %s from %s" % (user, src))
        return False
    return s.can_connect(src=src)


# ---------------------------------------------------------------- a)

def alloc_part(net, tmp):
    so = os.path.join(tmp, "failmalloc.so")
    r = run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", so,
             os.path.join(HERE, "failmalloc.c")], check=False)
    check(r.returncode == 0 and not r.stderr.strip(),
           "failmalloc.c builds without a warning", r.stderr)
    trigger = os.path.join(tmp, "fail")
    faillog = os.path.join(tmp, "failmalloc.log")

    s = pkstest.Suite(net, extra=ALLOW, services=SERVICE)
    s.bot.start()
    logs = []

    def start_monitor():
        saved = dict(os.environ)
        os.environ.update(LD_PRELOAD=so, FAILMALLOC_TRIGGER=trigger,
                          FAILMALLOC_LOG=faillog)
        try:
            s.monitor = pkstest.Monitor(net, s.conf_text).start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        logs.append(s.monitor.log)

    start_monitor()
    mon = s.monitor.proc.pid
    with open("/proc/%d/maps" % mon) as f:
        check("failmalloc.so" in f.read(), "the monitor runs with the "
               "shim preloaded")
    leaked = []
    for c in ("pks-fw", "pks-sniffer", "pks-telegram"):
        with open("/proc/%d/environ" % s.monitor.child_pid(c), "rb") as f:
            if b"LD_PRELOAD" in f.read():
                leaked.append(c)
    check(not leaked, "the children do not get it", leaked)

    phases = (1, 2, 3, 5, 8)
    injected = 0
    for i, every in enumerate(phases):
        src, src2 = SOURCES[i % len(SOURCES)], SOURCES[(i + 1) %
                                                       len(SOURCES)]
        ports, _ = s.generate(ADA)		# before the failures
        li = len(s.monitor.log.lines)
        with open(trigger, "w") as f:
            f.write("%d\n" % every)
        # during: a knock of a sequence issued before, a /generate, and
        # a knock of what it gives (if anything)
        if ports:
            s.knock(ports, src=src)
        time.sleep(0.3)
        more, _ = s.generate(BOB, timeout=2)
        if more:
            s.knock(more, src=src2)
        time.sleep(1.0)
        os.unlink(trigger)
        n = 0
        if os.path.exists(faillog):
            with open(faillog) as f:
                n = len(f.readlines())
        alive = s.monitor.proc.poll() is None
        if not alive:
            s.monitor.log.wait_end()	# all it said before it died
        why = s.monitor.log.grep(r"fatal|Cannot allocate memory")
        known = [l for l in why if re.search(
            r'user "_pks" \(create it.*Cannot allocate memory', l)]
        check(alive, "every %d%s allocation fails (%d failed): the monitor "
               "is alive" % (every, {1: "st", 2: "nd", 3: "rd"}.get(
                   every, "th"), n - injected) +
               (TODO_FATAL if not alive and known else ""),
               "\n".join(s.monitor.log.lines[li:]))
        injected = n
        if not alive:
            s.monitor.stop()
            start_monitor()
            li = 0
        killed = s.monitor.log.grep(r"killing it|killed by signal")
        good = settle(s)
        check(good, "after them, its children are up and its windows are "
               "the chain's" + (TODO_REBUILD_A if not good and killed
                                else ""), state(s) + "\n" +
              "\n".join(s.monitor.log.lines[li:]))
    check(injected > 0, "%d allocations failed in all" % injected)
    alllog = "\n".join(w.text() for w in logs)
    check(re.search(r"Cannot allocate memory", alllog),
           "the monitor logs the failures")
    wrong = re.findall(r".*(?:compromised|malformed message framing).*",
                       alllog)
    check(not wrong, "it does not take them for a compromised child" +
           (TODO_NOMEM if wrong else ""), "\n".join(wrong))
    settle(s)
    check(works(s, ADA, SOURCES[0]) and works(s, BOB, SOURCES[1]),
           "afterwards, /generate, knock and connect work")
    check(pkstest.wait_for(lambda: chain_addrs(net) == set() and
                            consistent(s), 6),
           "and the windows end, rules and state together", state(s))
    s.stop()


# the rebuild bug of t_fault_kill.py shows here when the monitor kills a
# child it could not queue a message for
TODO_REBUILD_A = ""	# fixed: proc_read_conf reads no byte past CONF_END


# ---------------------------------------------------------------- b)

class LockedMonitor(pkstest.Monitor):
    """The monitor in a mount namespace of its own, where
    /run/xtables.lock is the file lock."""

    def __init__(self, net, conf_text, lock):
        super().__init__(net, conf_text)
        self.lockfile = lock

    def start(self, wait_ready=True):
        script = ('mount --bind "$0" /run/xtables.lock && '
                  'exec ip netns exec "$1" "$2" -d -v -f "$3"')
        self.proc = pkstest.spawn(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             script, self.lockfile, self.net.srv, binpath("pks-monitor"),
             self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.log = pkstest.LogWatch(self.proc.stderr)
        if wait_ready and self.log.wait(r"all children ready", 20) is None:
            raise RuntimeError("monitor did not start:\n" + self.log.text())
        return self


def commit_part(net, tmp):
    lock = os.path.join(tmp, "xtables.lock")
    open(lock, "w").close()
    if not os.path.exists("/run/xtables.lock"):
        open("/run/xtables.lock", "a").close()	# iptables(8) makes it too
    s = pkstest.Suite(net, extra=ALLOW, services=SERVICE)
    s.bot.start()
    s.monitor = LockedMonitor(net, s.conf_text, lock).start()
    s.echod(2222)
    fd = os.open(lock, os.O_RDWR)

    # the open: the lock held across the knock, longer than pks-fw waits
    ports, _ = s.generate(ADA)
    li = len(s.monitor.log.lines)
    fcntl.flock(fd, fcntl.LOCK_EX)
    s.knock(ports)
    t = time.time()
    refused = s.monitor.log.wait(r"pks-fw could not open window \d+: "
                                 r"Connection timed out", 8, li)
    waited = time.time() - t
    rule_meanwhile = chain_addrs(net)
    fcntl.flock(fd, fcntl.LOCK_UN)
    check(refused is not None, "lock held: the open fails after %.1f s "
           "and the monitor logs it" % waited,
           "\n".join(s.monitor.log.lines[li:]))
    check(s.monitor.log.has(r"pks-fw: xtables lock held by another "
                             r"process for \d+ ms, giving up"),
           "pks-fw logs why")
    check(rule_meanwhile == set(), "no rule was added", rule_meanwhile)
    time.sleep(0.5)
    check(s.bot.wait_sent(chat_id=ADA, text=r"ssh open for",
                           timeout=0.1) is None,
           "nobody is told a window opened")
    check(consistent(s) and chain_addrs(net) == set(),
           "the monitor keeps no window for it", state(s))
    check(works(s, ADA, pkstest.CLI4), "a later knock opens and connects")
    check(pkstest.wait_for(lambda: chain_addrs(net) == set(), 5),
           "and its window ends")

    # the close: the lock held across the window's end
    ports, _ = s.generate(BOB)
    s.knock(ports, src=CLI4_B)
    opened = pkstest.wait_for(lambda: chain_addrs(net) == {CLI4_B}, 3)
    li = len(s.monitor.log.lines)
    fcntl.flock(fd, fcntl.LOCK_EX)
    refused = s.monitor.log.wait(r"pks-fw could not close window \d+: "
                                 r"Connection timed out", 12, li)
    fcntl.flock(fd, fcntl.LOCK_UN)
    t_free = time.time()
    check(opened and refused is not None, "lock held across the window's "
           "end: the close fails and the monitor logs it",
           "\n".join(s.monitor.log.lines[li:]))
    check(pkstest.wait_for(lambda: chain_addrs(net) == set(), 6),
           "once the lock is free, the rule goes (%s after)" %
           ("%.1f s" % (time.time() - t_free)
            if chain_addrs(net) == set() else "not 6 s")
           + TODO_CLOSE, state(s))
    told = s.bot.wait_sent(chat_id=BOB, text=r"ssh closed for", timeout=0.1)
    check(told is None or chain_addrs(net) == set(),
           "the owner is not told it closed while its rule is there"
           + TODO_CLOSE)
    check(works(s, ADA, SOURCES[2]), "a later knock works")
    s.stop()
    check(chain_addrs(net) == set(), "SIGTERM leaves no window rule")
    os.close(fd)


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    pkstest.set_deadline(420)
    tmp = tempfile.mkdtemp(prefix="pks-fault-")
    import atexit
    import shutil
    atexit.register(shutil.rmtree, tmp, True)
    with pkstest.Net() as net:
        pkstest.add_client_addrs(net, MORE)
        spawn_echo = pkstest.spawn(["python3", pkstest.Suite.NETUTIL,
                                    "echod", "2222"], ns=net.srv,
                                   stdout=subprocess.PIPE, text=True)
        spawn_echo.stdout.readline()
        if asan_build():
            for _ in range(18):
                check(True, "# SKIP LD_PRELOAD of a malloc shim does not "
                       "mix with AddressSanitizer")
        else:
            alloc_part(net, tmp)
        spawn_echo.kill()
        spawn_echo.wait()
        if pkstest.fw_backend() == "iptables":
            commit_part(net, tmp)	# the xtables lock: iptables only
        else:
            tap.diag("part b (the xtables lock) is for iptables only")
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make bench: PKS against knockd, measured in network namespaces.

For each daemon (PKS on its iptables backend, PKS on its nftables
backend, knockd), in a fresh pair of namespaces (tests/e2e/pkstest.py's
layout: veth-s 198.18.0.1 in the server, veth-c 198.18.0.2 in the client),
one runner does:

  a. idle: knocks from fresh source addresses (198.19.0.0/16), each timed
     from its last SYN entering veth-s to the first SYN-ACK of the
     protected port leaving it (kernel stamps, tests/bench/benchnet.c);
  b. the same during a SYN flood from 198.18.0.2 to random ports, and the
     CPU the sniffer spends on it;
  c. the same during a spoofed-source SYN flood (198.18.1.0-198.18.255.255)
     at live sequence ports, and the sniffer's peak memory.

Then the scale rows, PKS only, on each backend: knock latency with 10,
1,000 and 10,000 live sequences; a random-port flood with 10,000 live; 1,000
users drawing a sequence through the fake Bot API and each holding a window
(knock latency as windows grow to 1,000, the memory of every process); and
pks-fw alone opening a window with 1, 100 and 1,000 open
(tests/bench/fw_windows.py).

PKS runs from the release build (PKS_BUILD, default build/); the scale rows
run the test build (PKS_BENCH_HOOKS, make bench: build/test; the same -O2,
plus the test hook that issues N sequences at start, PKS_TEST_SEQS).  Its
sequences are drawn through the fake Bot API; knockd (Debian's package) runs
a 3-port sequence whose start command inserts an iptables rule.  Prints the
tables and writes doc/benchmarks.md and doc/benchmarks-latency.png.
PKS_BENCH_QUICK=1: fewer knocks, shorter floods, 200 users; prints, writes
no doc.  PKS_BENCH_ONLY=iptables|nftables|knockd|scale: that part only,
printed, no doc.  The raw results go to $PKS_BUILD/bench-results.pickle;
PKS_BENCH_REPORT=that file prints and writes them again without running.

Network rule: packets go out on veth-c only; every flood is bounded in
count and time; the namespaces, and every process in them, are removed at
the end, on Ctrl-C and on SIGTERM too.
"""
import atexit
import datetime
import math
import os
import pickle
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("PKS_BUILD", os.path.join(TOP, "build"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import pkstest  # noqa: E402
import fw_windows  # noqa: E402

# the real pacing of pks-telegram, not the tests' shorter one
os.environ.pop("PKS_TEST_RATE_DIV", None)

DOC = os.environ.get("PKS_BENCH_DOC", os.path.join(TOP, "doc"))
QUICK = os.environ.get("PKS_BENCH_QUICK") == "1"
ONLY = os.environ.get("PKS_BENCH_ONLY")	# one part, printed, no doc
REPORT = os.environ.get("PKS_BENCH_REPORT")	# a SAVE of an earlier run
HOOKS = os.environ.get("PKS_BENCH_HOOKS") or os.path.join(TOP, "build",
                                                            "test")
N_IDLE = int(os.environ.get("PKS_BENCH_KNOCKS", "50" if QUICK else "200"))
FLOOD_SECS = float(os.environ.get("PKS_BENCH_FLOOD_SECS",
                                  "5" if QUICK else "20"))
FLOOD0_SECS = 5 if QUICK else 10	# the flood alone, for its CPU cost
					# (PKS: ~0.2 s of CPU per 1e6 packets)
FLOOD_MAX = 40000000		# packets: the count bound of every flood
TIMEOUT_MS = 2000		# a knock that opens nothing by then failed
OPEN_FOR = 5			# window (PKS) and Cmd_Timeout (knockd), s
MAX_SOURCES = 16384		# PKS's cap; the spoofed flood uses ~65000
USERS = 25			# Telegram users drawing sequences at once
DECOYS = 5			# live sequences the spoofed flood aims at
KNOCKD_SEQ = (23456, 34567, 45678)	# the door knocked on
# knockd watches as many sequences as PKS has live when the floods start
# (the DECOYS): the same ports to watch, the same traffic let in
KNOCKD_DOORS = [KNOCKD_SEQ] + [(10000 + 211 * i, 50000 - 307 * i,
                                30000 + 401 * i) for i in range(1, DECOYS)]
USER0 = 7000000001
BACKENDS = ("iptables", "nftables")

# the scale rows (PKS only): issue 14's capacity, issue 12's windows
LIVE = (10, 1000, 10000)	# live sequences (the test hook issues them)
SCALE_KNOCKS = 30 if QUICK else 100	# timed knocks per live-set size
SCALE_BATCH = 5			# of sequences drawn through the bot at once
SCALE_GAP = 0.1			# s before each of those knocks: every draw
				# and knock changes the kernel filters, and
				# back to back a knock waits for the last
SCALE_FLOOD_SECS = 5 if QUICK else 15	# each flood with 10,000 live
N_USERS = 200 if QUICK else 1000	# draw, knock, hold a window each
WIN_BAND = 25			# knocks timed around each count of windows
SHORT_FOR = 3			# ssh's windows in the scale runs, s
DESK_PORT = 2223		# the service the N_USERS hold windows of
DESK_FOR = 3600
SETTLE = 3			# s after a burst of /generate
PROBE0 = 7100000001		# SCALE_BATCH users allowed ssh
FILL0 = 7200000001		# N_USERS users allowed desk
PROCS = ("pks-monitor", "pks-sniffer", "pks-fw", "pks-telegram")

SAVE = os.path.join(pkstest.BUILD, "bench-results.pickle")
WORK = tempfile.mkdtemp(prefix="pks-bench-")
atexit.register(shutil.rmtree, WORK, True)


def log(msg):
    print("bench: " + msg, flush=True)


# ---------------------------------------------------------------- tools

def build_benchnet():
    out = os.path.join(WORK, "benchnet")
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=gnu11", "-O2", "-Wall", "-Wextra", "-o", out,
                    os.path.join(HERE, "benchnet.c"), "-lpcap"], check=True)
    return out


def ns_kill_all(ns):
    """Kill every process left in a namespace this bench created."""
    r = subprocess.run(["ip", "netns", "pids", ns], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), 9)
        except (OSError, ValueError):
            pass


def cpu_secs(pid):
    """CPU time of the process's (only) thread, s: the scheduler's own
    nanosecond count, where utime + stime would have 10 ms ticks."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, TypeError, ValueError, IndexError):
        return None


def mem_kb(pid, key):
    st = pkstest.proc_status(pid) if pid else None
    if not st or key not in st:
        return None
    return int(st[key].split()[0])


def rx_packets(net):
    r = pkstest.run(["cat", "/sys/class/net/veth-s/statistics/rx_packets"],
                    ns=net.srv, check=False)
    try:
        return int(r.stdout.strip())
    except ValueError:
        return 0


class Sources:
    """Fresh knocker addresses, 198.19.0.1 upwards: one per knock."""

    def __init__(self):
        self.n = 0

    def next(self):
        self.n += 1
        while self.n & 0xff in (0, 255):
            self.n += 1
        if self.n >= 0xff00:
            raise RuntimeError("out of knocker addresses")
        return "198.19.%d.%d" % (self.n >> 8, self.n & 0xff)


class Probe:
    """benchnet probe: knocks and times them."""

    def __init__(self, exe, net, port=2222):
        self.p = pkstest.spawn([exe, "probe", net.srv, str(port)],
                               ns=net.cli,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
        if self.p.stdout.readline().strip() != "ready":
            raise RuntimeError("benchnet probe did not start")

    def knock(self, src, ports):
        self.p.stdin.write("%s %s %d\n" % (src, " ".join(map(str, ports)),
                                           TIMEOUT_MS))
        self.p.stdin.flush()
        w = self.p.stdout.readline().split()
        if not w:
            raise RuntimeError("benchnet probe died")
        self.last = w[0]			# ok, timeout or nostamp
        if w[0] == "ok":
            return int(w[1]) / 1e6		# ms
        return None


class Flood:
    def __init__(self, exe, net, mode, ports, secs):
        self.net = net
        self.rx0 = rx_packets(net)
        self.p = pkstest.spawn([exe, "flood", net.srv, mode, str(FLOOD_MAX),
                                str(secs)] + [str(p) for p in ports],
                               ns=net.cli, stdout=subprocess.PIPE, text=True)
        if self.p.stdout.readline().strip() != "ready":
            raise RuntimeError("benchnet flood did not start")

    def running(self):
        return self.p.poll() is None

    def finish(self):
        w = self.p.stdout.readline().split()
        self.p.wait(timeout=FLOOD_SECS + 30)
        rx = rx_packets(self.net) - self.rx0
        if len(w) != 3 or w[0] != "sent":
            raise RuntimeError("benchnet flood: no report")
        self.sent, self.secs = int(w[1]), float(w[2])
        self.pps = self.sent / self.secs
        self.rx = rx
        return self


# ---------------------------------------------------------------- daemons

def common_net_setup(net):
    # the knockers and the spoofed sources live behind the client
    pkstest.run(["ip", "route", "add", "198.18.0.0/15", "via",
                 pkstest.CLI4, "dev", "veth-s"], ns=net.srv)
    # floods to closed ports need no connection tracking; only the
    # protected ports' traffic is tracked (their ESTABLISHED rules need it)
    ports = "2222,%d" % DESK_PORT
    for chain, match in (("PREROUTING", "--dports"),
                         ("OUTPUT", "--sports")):
        r = net.iptables("-t", "raw", "-A", chain, "-p", "tcp", "-m",
                         "multiport", "!", match, ports, "-j", "CT",
                         "--notrack")
        if r.returncode != 0:
            raise RuntimeError("raw table: " + r.stderr)


def allow_users(first, n, svc):
    return "".join("allow user %d to { %s }\n" % (first + i, svc)
                   for i in range(n))


class Pks:
    """PKS on one firewall backend: the suite (fake Bot API, monitor)
    with the bench's services and users; settings are pks.conf lines
    of the base configuration to change, more is lines to add."""

    def __init__(self, net, backend, services=None, allowed=None,
                 settings=None, more="", hook_seqs=0):
        self.name = "PKS " + backend
        self.backend = backend
        self.net = net
        if services is None:
            services = pkstest.service("ssh", 2222, open_for=OPEN_FOR)
        if allowed is None:
            allowed = allow_users(USER0, USERS + DECOYS, "ssh")
        st = {"firewall": backend, "max-sources": MAX_SOURCES}
        st.update(settings or {})
        self.s = pkstest.Suite(net, extra=allowed, services=services,
                               settings=st)
        if more:
            self.s.conf_text = re.sub(r"(?m)^(max-sources .*\n)",
                                      lambda m: m.group(1) + more,
                                      self.s.conf_text)
        self.hook_seqs = hook_seqs
        self.probe_users = [USER0 + i for i in range(USERS)]
        self.decoy_users = [USER0 + USERS + i for i in range(DECOYS)]
        self.since = 0

    def start(self, echod=(2222,)):
        """Start PKS, and echo servers on the ports of echod (the
        namespace keeps them for the next PKS it runs)."""
        pkstest.ensure_user()
        build = pkstest.BUILD
        if self.hook_seqs:
            # the test hook: the monitor issues them at start
            pkstest.BUILD = HOOKS
            os.environ["PKS_TEST_SEQS"] = "%d:%s" % (
                self.hook_seqs, os.path.join(self.s.dir, "seqs"))
        try:
            self.s.start()
        finally:
            pkstest.BUILD = build
            os.environ.pop("PKS_TEST_SEQS", None)
        for port in echod:
            self.s.echod(port)
        self.pid = self.s.monitor.child_pid("pks-sniffer")
        return self

    def _since(self):
        sent = self.s.bot.sent(since=self.since)
        if sent:
            self.since = sent[-1]["seq"]

    def generate(self, users):
        """One sequence per user, drawn at once; a list of port lists."""
        got, secs = self.draw(users, timeout=20)
        if len(got) != len(users):
            raise RuntimeError("no sequence for users %s" % sorted(
                set(users) - set(got))[:5])
        return [got[u] for u in users]

    def draw(self, users, timeout):
        """Every user sends /generate at once; returns ({user: ports} of
        the sequences that came back within timeout, seconds until the
        last of them came)."""
        bot = self.s.bot
        self._since()
        since, want = self.since, set(users)
        t0 = time.monotonic()
        for u in users:
            bot.push_message(user_id=u, text="/generate", chat_id=u,
                             chat_type="private", first_name="Bench")
        got, last = {}, t0
        while len(got) < len(want) and time.monotonic() - t0 < timeout:
            for rec in bot.sent(method="sendMessage", since=since):
                since = max(since, rec["seq"])
                try:
                    u = int(rec["params"].get("chat_id"))
                except (TypeError, ValueError):
                    continue
                m = re.search(r"pks-knock \S+((?: \d+)+)",
                              rec["params"].get("text", ""))
                if u in want and m and u not in got:
                    got[u] = [int(x) for x in m.group(1).split()]
                    last = time.monotonic()
            if len(got) < len(want):
                time.sleep(0.01 if len(want) <= SCALE_BATCH else 0.2)
        self.since = since
        return got, last - t0

    def sequences(self, n):
        return self.generate(self.probe_users[:n])

    def decoy_ports(self):
        return [p for s in self.generate(self.decoy_users) for p in s]

    def cap(self):
        return "max-sources %d" % MAX_SOURCES

    def pids(self):
        out = {"pks-monitor": self.s.monitor.proc.pid}
        for name in PROCS[1:]:
            out[name] = self.s.monitor.child_pid(name)
        return out

    def status(self):
        """pksctl status: live sequences, open windows, child restarts."""
        r = pkstest.pksctl(os.path.join(self.s.dir, "pks.sock"), "status")
        m = re.search(r"sequences (\d+), windows (\d+)", r.stdout)
        restarts = sum(int(x) for x in re.findall(
            r"(?m)^pks-\S+\s+\d+\s+\S+\s+(\d+)", r.stdout))
        if not m:
            raise RuntimeError("pksctl status: " + r.stdout + r.stderr)
        return {"seqs": int(m.group(1)), "windows": int(m.group(2)),
                "restarts": restarts}

    def alive(self):
        return cpu_secs(self.pid) is not None and \
            self.s.monitor.child_pid("pks-sniffer") == self.pid

    def why(self, src, status):
        """Where a failed knock got lost, from the monitor's log."""
        lg = self.s.monitor.log
        pat = re.escape(src) + r"\b"
        if status == "nostamp":
            return "%s: the port opened, the knock SYN was not captured" \
                % src
        if not lg.grep(r"knock completed from " + pat):
            return "%s: the sniffer never reported it" % src
        if not lg.grep(r"window opened: \S+ for " + pat):
            return "%s: reported, but no window opened" % src
        return "%s: the window opened after %d ms" % (src, TIMEOUT_MS)

    def stop(self):
        self.s.stop()


class Knockd:
    name = "knockd"
    backend = None

    def __init__(self, net):
        self.net = net
        self.dir = os.path.join(WORK, "knockd")
        os.makedirs(self.dir, exist_ok=True)
        rule = "-s %IP% -p tcp --dport 2222 -j ACCEPT"
        self.conf = os.path.join(self.dir, "knockd.conf")
        with open(self.conf, "w") as f:
            f.write("[options]\n\tLogFile = %s/knockd.log\n" % self.dir)
            for i, door in enumerate(KNOCKD_DOORS):
                f.write("\n[bench%d]\n\tSequence = %s\n\tSeq_Timeout = 10\n"
                        "\tTCPFlags = syn\n"
                        "\tStart_Command = iptables-legacy -w -I INPUT %s\n"
                        "\tCmd_Timeout = %d\n"
                        "\tStop_Command = iptables-legacy -w -D INPUT %s\n"
                        % (i, ",".join(map(str, door)), rule, OPEN_FOR,
                           rule))

    def start(self):
        # the protected port: closed but to established traffic
        for args in (("-A", "INPUT", "-p", "tcp", "--dport", "2222", "-m",
                      "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j",
                      "ACCEPT"),
                     ("-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j",
                      "DROP")):
            r = self.net.iptables(*args)
            if r.returncode != 0:
                raise RuntimeError("iptables: " + r.stderr)
        self.suite = pkstest.Suite(self.net, telegram=False)
        self.suite.echod()
        self.p = pkstest.spawn(["knockd", "-i", "veth-s", "-c", self.conf,
                                "-p", os.path.join(self.dir, "knockd.pid")],
                               ns=self.net.srv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        log_path = os.path.join(self.dir, "knockd.log")
        if not pkstest.wait_for(lambda: os.path.exists(log_path) and
                                "listening" in open(log_path).read(), 10):
            raise RuntimeError("knockd did not start")
        self.pid = self.p.pid
        return self

    def sequences(self, n):
        return [list(KNOCKD_SEQ)] * n

    def decoy_ports(self):
        return [p for door in KNOCKD_DOORS for p in door]

    def cap(self):
        return "none"

    def alive(self):
        return cpu_secs(self.pid) is not None

    def why(self, src, status):
        try:
            with open(os.path.join(self.dir, "knockd.log")) as f:
                text = f.read()
        except OSError:
            text = ""
        if re.search(re.escape(src) + r": bench0: OPEN SESAME", text):
            return "%s: knockd ran its command too late" % src
        return "%s: knockd never matched it (%s)" % (src, status)

    def stop(self):
        ns_kill_all(self.net.srv)


# the daemons of the main table, in its column order: knockd last
DAEMONS = [("PKS " + b, lambda net, b=b: Pks(net, b)) for b in BACKENDS] + \
    [("knockd", Knockd)]


# ---------------------------------------------------------------- phases

def knock_batch(probe, srcs, seqs, lat, tried, failed):
    for ports in seqs:
        src = srcs.next()
        ms = probe.knock(src, ports)
        tried.append(ms)
        if ms is not None:
            lat.append(ms)
        else:
            failed.append((src, probe.last))


def knocks(d, probe, srcs, n, batch, gap=0):
    """n timed knocks of sequences d draws batch at a time (gap s after
    each draw and each knock); and the sniffer's CPU across them."""
    lat, tried, failed = [], [], []
    c0 = cpu_secs(d.pid)
    while len(tried) < n:
        seqs = d.sequences(min(batch, n - len(tried)))
        for ports in seqs:
            time.sleep(gap)
            knock_batch(probe, srcs, [ports], lat, tried, failed)
    c1 = cpu_secs(d.pid)
    return {"lat": lat, "tried": len(tried), "failed": failed,
            "cpu": c1 - c0 if None not in (c0, c1) else None}


def flood_phase(d, exe, net, probe, srcs, label, mode, secs, batch):
    """A flood of secs; with batch, knocks of batch sequences at a time
    meanwhile.  The sniffer's CPU and peak memory across it."""
    ports = d.decoy_ports() if mode == "spoof" else ()
    hwm = mem_kb(d.pid, "VmHWM")
    c0 = cpu_secs(d.pid)
    log("%s: (%s) %s flood, %g s%s" % (d.name, label, mode, secs,
        ", knocking meanwhile" if batch else ""))
    fl = Flood(exe, net, mode, ports, secs)
    lat, tried, failed = [], [], []
    while fl.running():
        if not batch:
            time.sleep(0.1)
            continue
        seqs = d.sequences(batch)
        if not fl.running():
            # used, not timed: the live set stays what it was
            knock_batch(probe, srcs, seqs, [], [], [])
            break
        knock_batch(probe, srcs, seqs, lat, tried, failed)
    fl.finish()
    c1 = cpu_secs(d.pid)
    log("%s: (%s) %d pkt at %.0f pkt/s, %d/%d knocks opened" %
        (d.name, label, fl.sent, fl.pps, len(lat), len(tried)))
    return {"lat": lat, "tried": len(tried), "failed": failed,
            "pps": fl.pps, "sent": fl.sent, "rx": fl.rx, "secs": fl.secs,
            "cpu": c1 - c0 if None not in (c0, c1) else None,
            "hwm_before": hwm, "hwm_after": mem_kb(d.pid, "VmHWM"),
            "rss_after": mem_kb(d.pid, "VmRSS")}


def explain(d, res, keys):
    for key in keys:
        res[key]["why"] = [d.why(src, st) for src, st in
                           res[key]["failed"]]
        for w in res[key]["why"]:
            log("%s: (%s) a knock failed: %s" % (d.name, key, w))


def bench_net(tag):
    """The namespaces of one run, every process in them killed at exit."""
    net = pkstest.Net(tag="b%d%s" % (os.getpid(), tag))
    atexit.register(ns_kill_all, net.cli)
    atexit.register(ns_kill_all, net.srv)
    return net


def run_daemon(name, make, exe):
    """The main table's phases for one daemon (PKS on a backend, knockd)."""
    res = {"name": name}
    with bench_net(name.split()[-1][:2]) as net:
        common_net_setup(net)
        d = make(net).start()
        res["backend"] = d.backend
        probe = Probe(exe, net)
        srcs = Sources()
        res["hwm0"] = mem_kb(d.pid, "VmHWM")

        log("%s: (a) %d knocks, idle" % (name, N_IDLE))
        res["a"] = knocks(d, probe, srcs, N_IDLE,
                          USERS if isinstance(d, Pks) else 1)
        # let the windows of (a) close, as they would between bursts
        time.sleep(OPEN_FOR + 1)

        # b0: the flood alone, with DECOYS live sequences and no knock,
        # so that its CPU is the flood's; b and c: knocks during a flood
        if isinstance(d, Pks):
            d.decoy_ports()
        for key, mode, secs, knocking in (
                ("b0", "ports", FLOOD0_SECS, False),
                ("b", "ports", FLOOD_SECS, True),
                ("c", "spoof", FLOOD_SECS, True)):
            res[key] = flood_phase(d, exe, net, probe, srcs, key, mode, secs,
                                   (10 if isinstance(d, Pks) else 1)
                                   if knocking else 0)
            if knocking:
                time.sleep(OPEN_FOR + 1)
        explain(d, res, ("a", "b0", "b", "c"))
        res["alive"] = d.alive()
        res["cap"] = d.cap()
        d.stop()
    return res


# ---------------------------------------------------------------- scale

def scale_pks(net, backend, live):
    """PKS with live sequences issued at start (the test hook), ssh for
    the timed knocks (short windows) and desk for the N_USERS' windows."""
    svcs = "%s\n%s" % (pkstest.service("ssh", 2222, open_for=SHORT_FOR),
                       pkstest.service("desk", DESK_PORT, open_for=DESK_FOR))
    allowed = allow_users(PROBE0, SCALE_BATCH, "ssh") + \
        allow_users(FILL0, N_USERS, "desk")
    d = Pks(net, backend, services=svcs, allowed=allowed,
            settings={"sequence-lifetime": 3600},
            more="max-sequences %d\n" % (live + N_USERS + 100),
            hook_seqs=live)
    d.probe_users = [PROBE0 + i for i in range(SCALE_BATCH)]
    return d


def band(lat, level):
    """The knocks of a growing count of windows that made it about
    level: the WIN_BAND up to the one that opened the level-th (the
    first WIN_BAND for a level below it); (knocks, first, last)."""
    hi = max(level, WIN_BAND)
    return [v for v in lat[hi - WIN_BAND:hi] if v is not None], \
        hi - WIN_BAND + 1, hi


def run_scale(backend, exe):
    """The scale rows of one backend."""
    res = {"name": "PKS " + backend, "backend": backend, "live": {}}
    with bench_net("s" + backend[0]) as net:
        common_net_setup(net)
        probe = Probe(exe, net)
        desk = Probe(exe, net, DESK_PORT)
        srcs = Sources()
        for live in LIVE:
            d = scale_pks(net, backend, live).start(
                echod=(2222, DESK_PORT) if live == LIVE[0] else ())
            st = d.status()
            log("%s: %d live sequences, %d timed knocks" % (
                d.name, st["seqs"], SCALE_KNOCKS))
            ph = knocks(d, probe, srcs, SCALE_KNOCKS, SCALE_BATCH,
                        SCALE_GAP)
            ph["seqs"] = st["seqs"]
            res["live"][live] = ph
            if live == LIVE[-1]:
                scale_load(d, exe, net, probe, desk, srcs, res)
            explain(d, res["live"], (live,))
            st = d.status()
            res["live"][live]["restarts"] = st["restarts"]
            d.stop()
    log("%s: pks-fw alone, %s windows open" % (
        res["name"], "/".join(map(str, fw_windows.OPEN))))
    saved = pkstest.FIREWALL
    try:
        res["fw"] = fw_windows.measure(backend)
    finally:
        pkstest.FIREWALL = saved
    return res


def scale_load(d, exe, net, probe, desk, srcs, res):
    """With the most live sequences: floods, then N_USERS draw through
    the bot and knock, each holding a window; the memory of each process."""
    for key, secs, batch in (("f0", SCALE_FLOOD_SECS, 0),
                             ("f", SCALE_FLOOD_SECS, SCALE_BATCH)):
        res[key] = flood_phase(d, exe, net, probe, srcs, key, "ports", secs,
                               batch)
    explain(d, res, ("f0", "f"))
    time.sleep(SHORT_FOR + 1)		# ssh's windows close: 0 open
    users = [FILL0 + i for i in range(N_USERS)]
    log("%s: %d users /generate at once" % (d.name, N_USERS))
    got, secs = d.draw(users, timeout=600)
    res["users"] = {"n": N_USERS, "got": len(got), "secs": secs}
    log("%s: %d/%d sequences in %.1f s; knocking each" % (
        d.name, len(got), N_USERS, secs))
    # the burst's sends and filter changes are over: knocks time the
    # windows, not the backlog
    time.sleep(SETTLE)
    win = {"lat": [], "tried": 0, "failed": []}
    timed = set()
    for level in win_levels():		# the knocks the table shows
        hi = max(level, WIN_BAND)
        timed.update(range(hi - WIN_BAND, hi))
    for u in users:
        if u not in got:
            continue
        if win["tried"] in timed:
            time.sleep(SCALE_GAP)	# as the live-set rows: alone
        src = srcs.next()
        ms = desk.knock(src, got[u])
        win["lat"].append(ms)		# in order: None if it failed
        win["tried"] += 1
        if ms is None:
            win["failed"].append((src, desk.last))
    res["win"] = win
    explain(d, res, ("win",))
    st = d.status()
    res["rss"] = {"status": st}
    for name, pid in d.pids().items():
        res["rss"][name] = mem_kb(pid, "VmHWM")
    log("%s: %d live sequences, %d windows: VmHWM %s" % (
        d.name, st["seqs"], st["windows"],
        ", ".join("%s %s kB" % (n, res["rss"][n]) for n in PROCS)))


# ---------------------------------------------------------------- report

def pct(v, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(v)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def fms(v):
    if v is None:
        return "-"
    return "%.3f" % v if v < 10 else "%.1f" % v


def fnum(f):
    return lambda v: "-" if v is None else f % v


def lat_stats(ph):
    l = ph["lat"]
    if not l:
        return None, None, None
    return pct(l, 50), pct(l, 99), max(l)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.3g" % (a / b)


def per_m(ph):
    """Sniffer CPU s per million flood packets sent."""
    if ph.get("cpu") is None or not ph.get("sent"):
        return None
    return ph["cpu"] / (ph["sent"] / 1e6)


def opened(ph):
    # the windows row keeps a None in lat for each knock that failed
    return "%d/%d" % (len(ph["lat"]) - ph["lat"].count(None), ph["tried"])


def okrate(ph):
    return (len(ph["lat"]) - ph["lat"].count(None)) / ph["tried"] \
        if ph["tried"] else None


def rows(rs):
    """The main table: rs are the results of DAEMONS, knockd last; each
    row is (label, one text per daemon..., PKS/knockd, PKS ahead)."""
    pks = rs[:-1]
    out = []

    def add(label, get, fmt, lower_better=True, show_ratio=True,
            text=None, compare=True):
        vals = [get(r) for r in rs]
        ahead = []
        for v in vals[:-1]:
            if vals[-1] is None or v is None:
                ahead.append(None)
            else:
                ahead.append(v == vals[-1] or
                             (v < vals[-1] if lower_better else
                              v > vals[-1]))
        if not compare or None in ahead:
            a = "-"
        elif all(ahead):
            a = "yes"
        elif not any(ahead):
            a = "no"
        else:
            a = "on " + ", ".join(r["backend"] for r, x in zip(pks, ahead)
                                  if x) + " only"
        rt = " / ".join(ratio(v, vals[-1]) for v in vals[:-1]) \
            if show_ratio else "-"
        out.append((label,) + tuple(text(r) if text else fmt(v)
                                    for r, v in zip(rs, vals)) + (rt, a))

    for key, title in (("a", "idle"), ("b", "random-port flood"),
                       ("c", "spoofed flood at sequence ports")):
        add("(%s) %s: knocks opened" % (key, title),
            lambda r: okrate(r[key]), None, lower_better=False,
            text=lambda r: opened(r[key]))
        for i, nm in enumerate(("median", "p99", "max")):
            add("(%s) latency %s, ms" % (key, nm),
                lambda r: lat_stats(r[key])[i], fms)
        if key == "a":
            add("(a) sniffer CPU per knock, ms",
                lambda r: 1000 * r["a"]["cpu"] / r["a"]["tried"]
                if r["a"]["cpu"] is not None else None, fnum("%.2f"))
            continue
        add("(%s) flood sent, pkt/s" % key, lambda r: r[key]["pps"],
            fnum("%.0f"), show_ratio=False, compare=False)
        if key == "b":
            for sub, label in (("b0", "flood alone"),
                               ("b", "with knocks")):
                add("(b) sniffer CPU s per 1e6 flood pkt, " + label,
                    lambda r: per_m(r[sub]), fnum("%.5f"))
            continue
        add("(c) sniffer CPU s per 1e6 flood pkt",
            lambda r: per_m(r["c"]), fnum("%.5f"))
        add("(c) sniffer VmHWM before flood, kB",
            lambda r: r["c"]["hwm_before"], fnum("%d"))
        add("(c) sniffer VmHWM after flood, kB",
            lambda r: r["c"]["hwm_after"], fnum("%d"))
        add("(c) sniffer VmHWM growth, kB",
            lambda r: r["c"]["hwm_after"] - r["c"]["hwm_before"]
            if None not in (r["c"]["hwm_after"], r["c"]["hwm_before"])
            else None, fnum("%d"), show_ratio=False)
    out.append(("(c) source cap",) + tuple(r["cap"] for r in rs) +
               ("-", "-"))
    return out


def win_levels():
    return (1, 100, N_USERS) if N_USERS > 100 else (1, N_USERS)


def scale_rows(ss):
    """The scale table: one column per backend, then the goal."""
    out = []

    def add(label, get, fmt, goal="-"):
        vals = []
        for s in ss:
            try:
                vals.append(get(s))
            except (KeyError, TypeError, ZeroDivisionError):
                vals.append(None)
        out.append((label,) + tuple(
            "-" if v is None else v if isinstance(v, str) else fmt(v)
            for v in vals) + (goal,))

    def med(l):
        l = [v for v in l if v is not None]
        return pct(l, 50) if l else None

    lo, hi = LIVE[0], LIVE[-1]
    for live in LIVE:
        add("%s live sequences: knocks opened" % "{:,}".format(live),
            lambda s: opened(s["live"][live]), None, "all")
        for i, nm in ((0, "median"), (1, "p99")):
            add("%s live: latency %s, ms" % ("{:,}".format(live), nm),
                lambda s: lat_stats(s["live"][live])[i], fms,
                "< 1" if (live, i) == (lo, 0) else "-")
        add("%s live: sniffer CPU per knock, ms" % "{:,}".format(live),
            lambda s: 1000 * s["live"][live]["cpu"] /
            s["live"][live]["tried"], fnum("%.2f"))
    for i, nm in ((0, "median"), (1, "p99")):
        add("%s live vs %s: latency %s" % ("{:,}".format(hi),
                                           "{:,}".format(lo), nm),
            lambda s: lat_stats(s["live"][hi])[i] /
            lat_stats(s["live"][lo])[i], fnum("%.2fx"), "< 2x")
    add("%s live, random-port flood: pkt/s" % "{:,}".format(hi),
        lambda s: s["f0"]["pps"], fnum("%.0f"))
    add("%s live: sniffer CPU s per 1e6 flood pkt, flood alone"
        % "{:,}".format(hi), lambda s: per_m(s["f0"]), fnum("%.5f"))
    add("%s live: sniffer CPU s per 1e6 flood pkt, with knocks"
        % "{:,}".format(hi), lambda s: per_m(s["f"]), fnum("%.5f"))
    add("%s live: knocks opened during the flood" % "{:,}".format(hi),
        lambda s: opened(s["f"]), None, "all")
    add("%s users /generate at once: sequences received"
        % "{:,}".format(N_USERS),
        lambda s: "%d/%d" % (s["users"]["got"], s["users"]["n"]), None,
        "all")
    add("%s users: seconds until the last sequence"
        % "{:,}".format(N_USERS), lambda s: s["users"]["secs"],
        fnum("%.1f"), "Telegram allows ~30/s")
    add("%s users: sequences per second" % "{:,}".format(N_USERS),
        lambda s: s["users"]["got"] / s["users"]["secs"], fnum("%.1f"))
    add("%s users knock, each keeps a window: opened"
        % "{:,}".format(N_USERS), lambda s: opened(s["win"]), None, "all")
    lv = win_levels()
    for n in lv:
        add("knock-to-open median, ms, windows open %d-%d" % band([], n)[1:],
            lambda s: med(band(s["win"]["lat"], n)[0]), fms)
    add("knock-to-open median, %d vs 1 window open" % lv[-1],
        lambda s: med(band(s["win"]["lat"], lv[-1])[0]) /
        med(band(s["win"]["lat"], lv[0])[0]), fnum("%.2fx"),
        "< 1.2x (nftables)")
    for n in fw_windows.OPEN:
        add("pks-fw alone: a window opened with %s open, median ms"
            % "{:,}".format(n), lambda s: s["fw"][n], fnum("%.3f"))
    add("pks-fw alone: %s vs 1 open" %
        "{:,}".format(fw_windows.OPEN[-1]),
        lambda s: s["fw"][fw_windows.OPEN[-1]] / s["fw"][1],
        fnum("%.2fx"), "< 1.2x (nftables)")
    add("at the end: live sequences, windows open",
        lambda s: "%d, %d" % (s["rss"]["status"]["seqs"],
                              s["rss"]["status"]["windows"]), None)
    for name in PROCS:
        add("%s VmHWM, kB" % name, lambda s: s["rss"][name], fnum("%d"))
    add("children restarted", lambda s: "%d" % sum(
        s["live"][l]["restarts"] for l in LIVE), None, "0")
    return out


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(),
            "cpu": model, "load": loadavg()}


def loadavg():
    """The 1-minute load average: other work skews every figure."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def table_text(head, rs):
    w = [max(len(r[i]) for r in rs + [head]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(head))]
    lines.append("  ".join("-" * x for x in w))
    for r in rs:
        lines.append("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    return "\n".join(lines)


def table_md(head, rs, align):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rs:
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def main_head(rs):
    return ("measure",) + tuple(r["name"] for r in rs) + \
        ("PKS/knockd", "PKS ahead")


SCALE_HEAD = ("measure",) + tuple("PKS " + b for b in BACKENDS) + ("goal",)


def plot(rs, png):
    series = []
    dash = {"PKS iptables": "1", "PKS nftables": "4", "knockd": "2"}
    for res in rs:
        d = res["name"]
        for key, title in (("a", "idle"), ("b", "random-port flood"),
                           ("c", "spoofed flood")):
            l = sorted(res[key]["lat"])
            if not l:
                continue
            path = os.path.join(WORK, "%s-%s.dat" % (d.replace(" ", "-"),
                                                     key))
            with open(path, "w") as f:
                for i, v in enumerate(l):
                    f.write("%.6f %.6f\n" % (max(v, 0.001),
                                             (i + 1) / len(l)))
            series.append((path, "%s, %s (%d)" % (d, title, len(l)),
                           dash.get(d, "3"), key))
    if not series or shutil.which("gnuplot") is None:
        return False
    color = {"a": "#1b9e77", "b": "#d95f02", "c": "#7570b3"}
    cmds = ['set terminal pngcairo size 1000,600 font "sans,11"',
            'set output "%s"' % png,
            'set title "Last knock SYN to the protected port\'s first '
            'SYN-ACK (CDF of the knocks that opened)"',
            "set logscale x", "set xrange [0.01:%d]" % TIMEOUT_MS,
            'set xlabel "latency, ms (log scale)"',
            'set ylabel "fraction of knocks"', "set yrange [0:1.02]",
            "set grid", "set key bottom right"]
    plots = []
    for path, title, dt, key in series:
        plots.append('"%s" using 1:2 with steps lw 2 dt %s lc rgb "%s" '
                     'title "%s"' % (path, dt, color[key], title))
    cmds.append("plot " + ", \\\n     ".join(plots))
    subprocess.run(["gnuplot"], input="\n".join(cmds) + "\n", text=True,
                   check=True)
    return True


def notes_main(rs):
    notes = []
    for r in rs[:-1]:
        pa = lat_stats(r["a"])
        notes.append("- %s: targets (a) median < 1 ms: %s; p99 < 5 ms: %s."
                     % (r["name"],
                        "met" if pa[0] is not None and pa[0] < 1
                        else "MISSED",
                        "met" if pa[1] is not None and pa[1] < 5
                        else "MISSED"))
        for key in ("b", "c"):
            ok = r[key]["tried"] and len(r[key]["lat"]) == r[key]["tried"]
            notes.append("- %s (%s): every real knock opened during the "
                         "flood: %s (%s)." % (r["name"], key,
                                              "yes" if ok else "NO",
                                              opened(r[key])))
    for r in rs:
        for key in ("a", "b", "c"):
            notes += why_notes(r["name"], key, r[key])
    for r in rs[:-1]:
        notes.append("- %s's sniffer ran all along (same pid, not "
                     "restarted): %s." % (r["name"],
                                          "yes" if r["alive"] else "NO"))
    k = rs[-1]
    for r in rs[:-1]:
        behind = [lab for lab, sub in (("flood alone", "b0"),
                                       ("with knocks", "b"))
                  if None not in (per_m(r[sub]), per_m(k[sub])) and
                  per_m(r[sub]) > per_m(k[sub])]
        if behind:
            notes.append("- %s's sniffer spends more CPU than knockd per "
                         "million random-port flood packets (%s): with "
                         "the flooding source over the wrong-hit rate the "
                         "kernel drops all its packets (issue 13 H1, eBPF "
                         "filters), so what is left is the sniffer's own "
                         "timers (a tick a second) and, with knocks, the "
                         "knocks; per million packets that depends on the "
                         "flood rate each daemon got. Without eBPF the "
                         "sniffer reads the whole knock range." % (
                             r["name"], ", ".join(behind)))
    kc = k["c"]
    more = ["%s %s and %s" % (r["backend"], r["c"]["hwm_before"],
                              r["c"]["hwm_after"]) for r in rs[:-1]
            if None not in (r["c"]["hwm_before"], r["c"]["hwm_after"],
                            kc["hwm_before"], kc["hwm_after"]) and (
                r["c"]["hwm_before"] > kc["hwm_before"] or
                r["c"]["hwm_after"] > kc["hwm_after"])]
    if more:
        notes.append(
            "- PKS's sniffer holds more memory than knockd (VmHWM before "
            "and after (c), kB: %s; knockd %s and %s). What it buys "
            "(pks-sniffer(8), Memory): the range capture's buffer, 8 MB, "
            "mapped whole from the start: 24,576 frames, 80 ms of the "
            "spoofed flood (c), whose every packet the kernel passes (they "
            "go to live ports and may start a knock), so that the real "
            "knocks still open (%s; on the same machine under other work, "
            "2 MB let 3 of 10 fail); a 256 KB wake buffer; the eBPF map, "
            "64 bytes a source of max-sources (1 MB here); the source "
            "table, 184 bytes a source as they come (3 MB at max-sources "
            "%d: most of the growth); the frames of one read pass; and the "
            "libraries, about 3 MB, shared." % (
                "; ".join(more), kc["hwm_before"], kc["hwm_after"],
                ", ".join(opened(r["c"]) for r in rs[:-1]), MAX_SOURCES))
    return notes


def why_notes(name, key, ph):
    out = []
    why = {}
    for w in ph.get("why", []):
        src, _, reason = w.partition(": ")
        why.setdefault(reason, []).append(src)
    for reason, srcs in why.items():
        out.append("- %s (%s): %d knock%s failed (%s): %s." % (
            name, key, len(srcs), "s" if len(srcs) > 1 else "",
            ", ".join(srcs[:3]) + (", ..." if len(srcs) > 3 else ""),
            reason))
    return out


def notes_scale(ss):
    notes = []
    for s in ss:
        for live in LIVE:
            notes += why_notes(s["name"], "%s live" % "{:,}".format(live),
                               s["live"][live])
        for key, what in (("f", "during the flood"),
                          ("win", "holding windows")):
            notes += why_notes(s["name"], what, s[key])
        notes.append("- %s: live sequences when the timed knocks began: "
                     "%s." % (s["name"], ", ".join(
                         "%d" % s["live"][l]["seqs"] for l in LIVE)))
    return notes


DOC_TEXT = """\
# Benchmarks: PKS against knockd

Generated by `make bench` (tests/bench/bench.py) on %(when)s; do not edit by
hand.

Machine: %(nproc)s CPUs (%(cpu)s), Linux %(kernel)s; 1-minute load
average %(load0)s before the run and %(load1)s after it (the bench's own
floods add about 1; more means other work shared the CPUs and the figures
are pessimistic for every daemon).  The run took %(mins).0f minutes.

## Method

Each daemon runs in its own pair of network namespaces joined by a veth
pair (server 198.18.0.1, client 198.18.0.2), with an echo server on the
protected port 2222, which is closed to new connections until a knock opens
it: PKS (release build) on each of its firewall backends, `firewall
iptables` (its own `PKS` chain, through libiptc) and `firewall nftables`
(its table `inet pks`, a window one set element), and knockd (Debian's
%(kver)s) from a DROP rule in INPUT that its start command
(`iptables-legacy -w -I INPUT -s %%IP%% -p tcp --dport 2222 -j ACCEPT`)
goes before. Windows last %(open_for)d s in all three (PKS `open-for`,
knockd `Cmd_Timeout` with the matching stop command). One runner does the
same phases for each daemon.

- **Knocks.** `tests/bench/benchnet.c` sends the 3 knock SYNs back to back
  from a fresh source address (198.19.0.0/16) each time, then SYNs to port
  2222 every 20 µs (0.2 ms after 5 ms, 2 ms after 100 ms) until one is
  answered. The latency is the time from the last knock SYN entering the
  server's interface to the first SYN-ACK of port 2222 leaving it, both
  stamped by the kernel in a capture on the server's veth; it is exact to
  within one probe interval. A knock that opens nothing within %(tmo)d ms has
  failed. PKS's sequences are drawn through the fake Telegram Bot API by
  %(users)d users at a time (one live sequence per user); knockd's sequence
  is static (%(kseq)s), one of its %(decoys)d doors: it watches as many
  sequences as PKS has live when the floods start.
- **(b)** A SYN flood from the client address 198.18.0.2 to random ports
  (never 2222), as fast as one sender on `AF_PACKET` with `sendmmsg` goes,
  for %(fsecs)g s, while knocks run; before it, the same flood alone for
  %(f0secs)g s with %(decoys)d live sequences and no knock, so that its
  CPU cost is the flood's own. CPU is the sniffer's run time from
  `/proc/PID/schedstat` (nanoseconds; PKS: `pks-sniffer`; knockd: its only
  process), per million flood packets sent. "Sniffer CPU per knock" is the
  same counter over (a), divided by the knocks (for PKS it includes the
  kernel-filter recompiles that every new and every used sequence causes).
  Since issue 13 (H1) every packet into PKS's knock range (20000-60000
  here, 61 %% of all ports) that advances nothing is a wrong hit for its
  source, so that blind guessing costs the full entropy of a sequence. The
  range is judged by an eBPF socket filter in the kernel, which passes
  the packets to live knock ports and their guards and drops the rest of
  the packets of sources with no knock in progress, and every packet of a
  source over the wrong-hit rate (this flood), live ports too, and lets
  the sniffer know (pks-sniffer(8)); a second one on the wake capture
  keeps such a source's hits on last ports from waking the sniffer.
  knockd's kernel filter passes only its doors' ports.
- **(c)** A SYN flood from random spoofed sources in
  198.18.1.0-198.18.255.255 (about 65,000 addresses) at the ports of live
  sequences: %(decoys)d sequences of other users for PKS (a real user's
  sequence is secret), the ports of knockd's %(decoys)d doors (they are
  static). Memory is the sniffer's `VmHWM` from `/proc/PID/status`.
- Floods to closed ports are not connection-tracked in the server
  namespace (a `raw` table `NOTRACK` rule for every port but the protected
  ones), so the conntrack table cannot fill and drop the protected port's
  packets; the same holds for every daemon.

## Results

%(table)s

%(notes)s

%(plotline)s

## Scale (PKS only, each backend)

Same namespaces and knocks, PKS's test build (the release build's `-O2`,
plus the test hook `PKS_TEST_SEQS`, which makes the monitor issue N
sequences at start through the same code as `/generate`). Two services:
`ssh` (port 2222, `open-for %(short)d`) for the timed knocks, `desk` (port
%(desk)d, `open-for %(deskfor)d`) for the windows users keep.

- **Live sequences.** For each of %(live)s live sequences, a fresh monitor
  with that many issued at start (`max-sequences` raised above them,
  `sequence-lifetime 3600`), then %(sknocks)d timed knocks of sequences
  drawn through the fake Bot API %(sbatch)d at a time (so the live set is
  that size plus at most %(sbatch)d), each knock %(gap)g s after the one
  before. Each new and each used sequence makes the sniffer compile new
  kernel filters, whose size grows with the live set: its CPU per knock
  shows that cost; back to back (as in the main rows) a knock would wait
  for the filters of the one before.
- **Flood with %(hi)s live.** The random-port flood of (b), %(sfsecs)g s
  alone, then %(sfsecs)g s with knocks; with %(hi)s live sequences their
  guard ranges cover most of the knock range, and a quarter of it is last
  ports, whose packets wake the sniffer at once, one pass each (the
  immediate mode that makes a knock register in microseconds): under this
  flood most of the sniffer's CPU goes to those wake-ups (profiled with
  perf(1): half of its time in the switch back from poll(2)).
- **%(nusers)s users.** Then, in the same monitor, %(nusers)s users (each
  allowed `desk`) send `/generate` at once; the time is until the fake Bot
  API has the last sequence. Each then knocks from an address of its own
  and keeps its window (`open-for %(deskfor)d`): the knock-to-open latency
  is shown for the first %(band)d windows and the %(band)d up to the 100th and the
  %(nusers)s-th (each of these %(gap)g s after the knock before; the others
  back to back). Then the peak memory (`VmHWM`) of every process, with
  %(hi)s live sequences and %(nusers)s windows.
- **pks-fw alone.** `tests/bench/fw_windows.py` (also `make bench-fw`):
  pks-fw on a socketpair, the time from `IMSG_FW_OPEN` to its result (the
  kernel holds the window then), median of %(fwprobes)d, with 1, 100 and
  1,000 windows open, each from its own address.

%(scale)s

%(snotes)s
"""


def write_doc(rs, ss, when, mach, plotted, mins):
    text = DOC_TEXT % {
        "when": when, "nproc": mach["nproc"], "cpu": mach["cpu"],
        "kernel": mach["kernel"], "kver": knockd_version(),
        "load0": mach["load0"], "load1": mach["load"], "mins": mins,
        "open_for": OPEN_FOR, "tmo": TIMEOUT_MS, "users": USERS,
        "kseq": ",".join(map(str, KNOCKD_SEQ)), "fsecs": FLOOD_SECS,
        "f0secs": FLOOD0_SECS, "decoys": DECOYS,
        "table": table_md(main_head(rs), rows(rs),
                          ["---"] + ["--:"] * len(rs) + ["--:", ":-:"]),
        "notes": "\n".join(notes_main(rs)),
        "plotline": "![latency distributions](benchmarks-latency.png)"
        if plotted else "(gnuplot was not found: no plot)",
        "short": SHORT_FOR, "desk": DESK_PORT, "deskfor": DESK_FOR,
        "live": ", ".join("{:,}".format(l) for l in LIVE),
        "sknocks": SCALE_KNOCKS, "sbatch": SCALE_BATCH, "gap": SCALE_GAP,
        "hi": "{:,}".format(LIVE[-1]), "sfsecs": SCALE_FLOOD_SECS,
        "nusers": "{:,}".format(N_USERS), "band": WIN_BAND,
        "fwprobes": fw_windows.PROBES,
        "scale": table_md(SCALE_HEAD, scale_rows(ss),
                          ["---"] + ["--:"] * len(ss) + [":-:"]),
        "snotes": "\n".join(notes_scale(ss))}
    path = os.path.join(DOC, "benchmarks.md")
    # the fleet section is tests/bench/fleet.py's (make bench-fleet)
    old = open(path).read() if os.path.exists(path) else ""
    m = re.search(r"<!-- fleet:.*?<!-- /fleet -->", old, re.S)
    if m:
        text = text.rstrip() + "\n\n" + m.group(0) + "\n"
    with open(path, "w") as f:
        f.write(text)


def knockd_version():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "knockd"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return "knockd " + (r.stdout.strip() or "?")


def checks():
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, netfilter)")
    if shutil.which("knockd") is None:
        sys.exit("bench: knockd not found (apt-get install knockd)")
    for d, b in [(pkstest.BUILD, b) for b in PROCS] + [(HOOKS, "pks-monitor")]:
        if not os.access(os.path.join(d, b), os.X_OK):
            sys.exit("bench: %s not built (make all; make TESTHOOKS=1 all "
                     "for %s)" % (os.path.join(d, b), HOOKS))
    if ONLY not in (None, "scale", "knockd") + BACKENDS:
        sys.exit("bench: PKS_BENCH_ONLY: iptables, nftables, knockd or "
                 "scale")


def main():
    checks()
    exe = build_benchnet()
    load0 = loadavg()
    if REPORT:
        pass
    elif load0 is not None and load0 > 0.5:
        log("load average %.2f: other work is running; figures will "
            "suffer" % load0)
    when = datetime.datetime.now().astimezone().strftime(
        "%Y-%m-%d %H:%M %Z")
    t0 = time.monotonic()
    if REPORT:
        # the figures of an earlier run (its raw results), reported again
        with open(REPORT, "rb") as f:
            saved = pickle.load(f)
        rs, ss, when, mach, mins = (saved[k] for k in (
            "rs", "ss", "when", "mach", "mins"))
    else:
        daemons = [(n, m) for n, m in DAEMONS
                   if ONLY in (None, n.split()[-1])]
        rs = [run_daemon(n, m, exe) for n, m in daemons] \
            if ONLY != "scale" else []
        ss = [run_scale(b, exe) for b in BACKENDS
              if ONLY in (None, "scale")]
        mach = machine()
        mach["load0"] = load0
        mins = (time.monotonic() - t0) / 60
        with open(SAVE, "wb") as f:
            pickle.dump({"rs": rs, "ss": ss, "when": when, "mach": mach,
                         "mins": mins}, f)
        log("raw results in %s (PKS_BENCH_REPORT=%s: report them again)"
            % (SAVE, SAVE))
    print()
    print("PKS (%s, %s) against %s, %s, %d CPUs, Linux %s, load %s -> %s"
          % (pkstest.BUILD, HOOKS, knockd_version(), mach["cpu"],
             mach["nproc"], mach["kernel"], load0, mach["load"]))
    if len(rs) == len(DAEMONS):
        print(table_text(main_head(rs), rows(rs)))
        print("\n".join(notes_main(rs)))
    for r in rs:
        for key in ("b0", "b", "c"):
            ph = r[key]
            log("%s (%s): %d pkt, cpu %s s, %s s per 1e6, hwm %s -> %s kB"
                % (r["name"], key, ph["sent"], ph["cpu"], per_m(ph),
                   ph["hwm_before"], ph["hwm_after"]))
    if ss:
        print()
        print(table_text(SCALE_HEAD, scale_rows(ss)))
        print("\n".join(notes_scale(ss)))
    if ONLY or QUICK:
        log("%s: no doc written, %.1f min" % (
            "quick" if QUICK else ONLY, mins))
        return
    os.makedirs(DOC, exist_ok=True)
    plotted = plot(rs, os.path.join(DOC, "benchmarks-latency.png"))
    write_doc(rs, ss, when, mach, plotted, mins)
    log("wrote %s/benchmarks.md%s in %.1f min" % (
        DOC, " and benchmarks-latency.png" if plotted else "", mins))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make bench: PKS against knockd, measured in network namespaces.

For each daemon, in a fresh pair of namespaces (tests/e2e/pkstest.py's
layout: veth-s 198.18.0.1 in the server, veth-c 198.18.0.2 in the client):

  a. idle: knocks from fresh source addresses (198.19.0.0/16), each timed
     from its last SYN entering veth-s to the first SYN-ACK of the
     protected port leaving it (kernel stamps, tests/bench/benchnet.c);
  b. the same during a SYN flood from 198.18.0.2 to random ports, and the
     CPU the sniffer spends on it;
  c. the same during a spoofed-source SYN flood (198.18.1.0-198.18.255.255)
     at live sequence ports, and the sniffer's peak memory.

PKS runs from the release build (PKS_BUILD, default build/), its sequences
drawn through the fake Bot API by several users; knockd (Debian's package)
runs a 3-port sequence whose start command inserts the same iptables rule.
Prints a table and writes doc/benchmarks.md and doc/benchmarks-latency.png.

Network rule: packets go out on veth-c only; every flood is bounded in
count and time; both namespaces, and every process in them, are removed at
the end, on Ctrl-C and on SIGTERM too.
"""
import atexit
import datetime
import math
import os
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

DOC = os.environ.get("PKS_BENCH_DOC", os.path.join(TOP, "doc"))
N_IDLE = int(os.environ.get("PKS_BENCH_KNOCKS", "200"))
FLOOD_SECS = float(os.environ.get("PKS_BENCH_FLOOD_SECS", "20"))
FLOOD0_SECS = 20		# the flood alone, for its CPU cost: ~0.03 s of
				# CPU, too noisy to compare over 8 s
FLOOD_MAX = 40000000		# packets: the count bound of every flood
TIMEOUT_MS = 2000		# a knock that opens nothing by then failed
OPEN_FOR = 10			# window (PKS) and Cmd_Timeout (knockd), s
MAX_SOURCES = 16384		# PKS's cap; the spoofed flood uses ~65000
USERS = 25			# Telegram users drawing sequences at once
DECOYS = 5			# live sequences the spoofed flood aims at
KNOCKD_SEQ = (23456, 34567, 45678)	# the door knocked on
# knockd watches as many sequences as PKS has live when the floods start
# (the DECOYS): the same ports to watch, the same traffic let in
KNOCKD_DOORS = [KNOCKD_SEQ] + [(10000 + 211 * i, 50000 - 307 * i,
                                30000 + 401 * i) for i in range(1, DECOYS)]
ONLY = os.environ.get("PKS_BENCH_ONLY")	# PKS or knockd: one, no doc
USER0 = 7000000001

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

    def __init__(self, exe, net):
        self.p = pkstest.spawn([exe, "probe", net.srv], ns=net.cli,
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
    # protected port's traffic is tracked (its ESTABLISHED rule needs it)
    for chain, match in (("PREROUTING", "--dport"), ("OUTPUT", "--sport")):
        r = net.iptables("-t", "raw", "-A", chain, "-p", "tcp", "!", match,
                         "2222", "-j", "CT", "--notrack")
        if r.returncode != 0:
            raise RuntimeError("raw table: " + r.stderr)


class Pks:
    name = "PKS"

    def __init__(self, net):
        self.net = net
        allow = "".join("allow user %d to { ssh }\n" % (USER0 + i)
                        for i in range(USERS + DECOYS))
        svc = ("service ssh {\n\tport 2222\n\tprotocol tcp\n"
               "\topen-for %d\n}" % OPEN_FOR)
        self.s = pkstest.Suite(net, extra=allow, services=svc)
        self.s.conf_text = self.s.conf_text.replace(
            "max-sources 1024", "max-sources %d" % MAX_SOURCES)
        self.since = 0

    def start(self):
        pkstest.ensure_user()
        self.s.start()
        self.s.echod()
        self.pid = self.s.monitor.child_pid("pks-sniffer")
        return self

    def generate(self, users):
        """One sequence per user, drawn at once; a list of port lists."""
        bot = self.s.bot
        sent = bot.sent(since=self.since)
        if sent:
            self.since = sent[-1]["seq"]
        for u in users:
            bot.push_message(user_id=u, text="/generate", chat_id=u,
                             chat_type="private", first_name="Bench")
        out = []
        for u in users:
            rec = bot.wait_sent(chat_id=u, since=self.since,
                                text=r"pks-knock", timeout=20)
            if rec is None:
                raise RuntimeError("no sequence for user %d" % u)
            m = re.search(r"pks-knock \S+((?: \d+)+)",
                          rec["params"].get("text", ""))
            out.append([int(x) for x in m.group(1).split()])
        return out

    def sequences(self, n):
        return self.generate([USER0 + i for i in range(min(n, USERS))])

    def decoy_ports(self):
        seqs = self.generate([USER0 + USERS + i for i in range(DECOYS)])
        return [p for s in seqs for p in s]

    def cap(self):
        return "max-sources %d" % MAX_SOURCES

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


def run_daemon(cls, exe):
    res = {"name": cls.name}
    with pkstest.Net(tag="b%d%s" % (os.getpid(), cls.name[0])) as net:
        atexit.register(ns_kill_all, net.cli)
        atexit.register(ns_kill_all, net.srv)
        common_net_setup(net)
        d = cls(net).start()
        probe = Probe(exe, net)
        srcs = Sources()
        res["rss0"] = mem_kb(d.pid, "VmRSS")
        res["hwm0"] = mem_kb(d.pid, "VmHWM")

        log("%s: (a) %d knocks, idle" % (cls.name, N_IDLE))
        lat, tried, failed = [], [], []
        c0 = cpu_secs(d.pid)
        while len(tried) < N_IDLE:
            knock_batch(probe, srcs, d.sequences(N_IDLE - len(tried)), lat,
                        tried, failed)
        c1 = cpu_secs(d.pid)
        res["a"] = {"lat": lat, "tried": len(tried), "failed": failed,
                    "cpu": c1 - c0 if None not in (c0, c1) else None}
        # let the windows of (a) close, as they would between bursts
        time.sleep(OPEN_FOR + 1)

        # b0: the flood alone, with DECOYS live sequences and no knock,
        # so that its CPU is the flood's; b and c: knocks during a flood
        for key, mode, secs, knocking in (
                ("b0", "ports", FLOOD0_SECS, False),
                ("b", "ports", FLOOD_SECS, True),
                ("c", "spoof", FLOOD_SECS, True)):
            ports = d.decoy_ports()
            hwm = mem_kb(d.pid, "VmHWM")
            c0 = cpu_secs(d.pid)
            log("%s: (%s) %s flood, %g s%s" % (cls.name, key, mode, secs,
                ", knocking meanwhile" if knocking else ""))
            fl = Flood(exe, net, mode, ports if mode == "spoof" else (),
                       secs)
            lat, tried, failed = [], [], []
            while fl.running():
                if not knocking:
                    time.sleep(0.1)
                    continue
                seqs = d.sequences(10 if cls is Pks else 1)
                if not fl.running():
                    break
                knock_batch(probe, srcs, seqs, lat, tried, failed)
            fl.finish()
            c1 = cpu_secs(d.pid)
            res[key] = {"lat": lat, "tried": len(tried), "failed": failed,
                        "pps": fl.pps,
                        "sent": fl.sent, "rx": fl.rx, "secs": fl.secs,
                        "cpu": c1 - c0 if None not in (c0, c1) else None,
                        "hwm_before": hwm,
                        "hwm_after": mem_kb(d.pid, "VmHWM"),
                        "rss_after": mem_kb(d.pid, "VmRSS")}
            log("%s: (%s) %d pkt at %.0f pkt/s, %d/%d knocks opened" %
                (cls.name, key, fl.sent, fl.pps, len(lat), len(tried)))
            if knocking:
                time.sleep(OPEN_FOR + 1)
        for key in ("a", "b0", "b", "c"):
            res[key]["why"] = [d.why(src, st) for src, st in
                               res[key]["failed"]]
            for w in res[key]["why"]:
                log("%s: (%s) a knock failed: %s" % (cls.name, key, w))
        res["alive"] = cpu_secs(d.pid) is not None
        if cls is Pks:
            res["alive"] = res["alive"] and \
                d.s.monitor.child_pid("pks-sniffer") == d.pid
        res["cap"] = d.cap()
        d.stop()
    return res


# ---------------------------------------------------------------- report

def pct(v, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(v)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def fms(v):
    if v is None:
        return "-"
    return "%.3f" % v if v < 10 else "%.1f" % v


def lat_stats(ph):
    l = ph["lat"]
    if not l:
        return None, None, None
    return pct(l, 50), pct(l, 99), max(l)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.3g" % (a / b)


def rows(p, k):
    """(label, PKS text, knockd text, ratio text, PKS ahead?)."""
    out = []

    def add(label, a, b, fmt, lower_better=True, show_ratio=True):
        ahead = "-"
        if a is not None and b is not None:
            ahead = "yes" if (a < b if lower_better else a > b) or a == b \
                else "no"
        out.append((label, fmt(a), fmt(b),
                    ratio(a, b) if show_ratio else "-", ahead))

    def okrate(ph):
        return 100.0 * len(ph["lat"]) / ph["tried"] if ph["tried"] else None

    def fnum(f):
        return lambda v: "-" if v is None else f % v

    def per_m(ph):
        if ph["cpu"] is None or not ph.get("sent"):
            return None
        return ph["cpu"] / (ph["sent"] / 1e6)

    def fcpu(ph):
        v = per_m(ph)
        return "-" if v is None else "%.5f" % v

    for key, title in (("a", "idle"), ("b", "random-port flood"),
                       ("c", "spoofed flood at sequence ports")):
        pa, ka = lat_stats(p[key]), lat_stats(k[key])
        add("(%s) %s: knocks opened" % (key, title), okrate(p[key]),
            okrate(k[key]), fnum("%.1f %%"), lower_better=False)
        out[-1] = (out[-1][0],
                   "%d/%d" % (len(p[key]["lat"]), p[key]["tried"]),
                   "%d/%d" % (len(k[key]["lat"]), k[key]["tried"]),
                   out[-1][3], out[-1][4])
        for i, nm in enumerate(("median", "p99", "max")):
            add("(%s) latency %s, ms" % (key, nm), pa[i], ka[i], fms)
        if key == "a":
            add("(a) sniffer CPU per knock, ms",
                1000 * p["a"]["cpu"] / p["a"]["tried"],
                1000 * k["a"]["cpu"] / k["a"]["tried"], fnum("%.2f"))
            continue
        out.append(("(%s) flood sent, pkt/s" % key, "%.0f" % p[key]["pps"],
                    "%.0f" % k[key]["pps"], "-", "-"))
        if key == "b":
            for sub, label in (("b0", "flood alone"),
                               ("b", "with knocks")):
                add("(b) sniffer CPU s per 1e6 flood pkt, " + label,
                    per_m(p[sub]), per_m(k[sub]), fnum("%.4f"))
                out[-1] = (out[-1][0], fcpu(p[sub]), fcpu(k[sub]),
                           out[-1][3], out[-1][4])
        else:
            add("(c) sniffer CPU s per 1e6 flood pkt", per_m(p["c"]),
                per_m(k["c"]), fnum("%.3f"))
            out[-1] = (out[-1][0], fcpu(p["c"]), fcpu(k["c"]), out[-1][3],
                       out[-1][4])
            add("(c) sniffer VmHWM before flood, kB", p["c"]["hwm_before"],
                k["c"]["hwm_before"], fnum("%d"))
            add("(c) sniffer VmHWM after flood, kB", p["c"]["hwm_after"],
                k["c"]["hwm_after"], fnum("%d"))
            g = [ph["c"]["hwm_after"] - ph["c"]["hwm_before"]
                 if None not in (ph["c"]["hwm_after"],
                                 ph["c"]["hwm_before"]) else None
                 for ph in (p, k)]
            add("(c) sniffer VmHWM growth, kB", g[0], g[1], fnum("%d"),
                show_ratio=False)
            out.append(("(c) source cap", p["cap"], k["cap"], "-", "-"))
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


def table_text(rs):
    head = ("measure", "PKS", "knockd", "PKS/knockd", "PKS ahead")
    w = [max(len(r[i]) for r in rs + [head]) for i in range(5)]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(head))]
    lines.append("  ".join("-" * x for x in w))
    for r in rs:
        lines.append("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    return "\n".join(lines)


def table_md(rs):
    lines = ["| measure | PKS | knockd | PKS/knockd | PKS ahead |",
             "|---|--:|--:|--:|:-:|"]
    for r in rs:
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def plot(p, k, png):
    series = []
    for d, res in (("PKS", p), ("knockd", k)):
        for key, title in (("a", "idle"), ("b", "random-port flood"),
                           ("c", "spoofed flood")):
            l = sorted(res[key]["lat"])
            if not l:
                continue
            path = os.path.join(WORK, "%s-%s.dat" % (d, key))
            with open(path, "w") as f:
                for i, v in enumerate(l):
                    f.write("%.6f %.6f\n" % (max(v, 0.001),
                                             (i + 1) / len(l)))
            series.append((path, "%s, %s (%d)" % (d, title, len(l)),
                           d == "PKS", key))
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
    for path, title, pks, key in series:
        plots.append('"%s" using 1:2 with steps lw 2 dt %s lc rgb "%s" '
                     'title "%s"' % (path, "1" if pks else "2", color[key],
                                     title))
    cmds.append("plot " + ", \\\n     ".join(plots))
    subprocess.run(["gnuplot"], input="\n".join(cmds) + "\n", text=True,
                   check=True)
    return True


def write_doc(p, k, rs, when, mach, plotted):
    def knocks(ph):
        return ph["tried"]

    notes = []
    pa = lat_stats(p["a"])
    notes.append("- Targets: (a) median < 1 ms: %s; p99 < 5 ms: %s." % (
        "met" if pa[0] is not None and pa[0] < 1 else "MISSED",
        "met" if pa[1] is not None and pa[1] < 5 else "MISSED"))
    for key in ("b", "c"):
        ok = p[key]["tried"] and len(p[key]["lat"]) == p[key]["tried"]
        notes.append("- (%s) every real knock opened during the flood: %s "
                     "(%d/%d)." % (key, "yes" if ok else "NO",
                                   len(p[key]["lat"]), p[key]["tried"]))
    for d, res in (("PKS", p), ("knockd", k)):
        for key in ("a", "b", "c"):
            why = {}
            for w in res[key].get("why", []):
                src, _, reason = w.partition(": ")
                why.setdefault(reason, []).append(src)
            for reason, srcs in why.items():
                notes.append("- %s (%s): %d knock%s failed (%s): %s." % (
                    d, key, len(srcs), "s" if len(srcs) > 1 else "",
                    ", ".join(srcs[:3]) + (", ..." if len(srcs) > 3
                                           else ""), reason))
    notes.append("- PKS's sniffer ran all along (same pid, not restarted): "
                 "%s." % ("yes" if p["alive"] else "NO"))
    text = """\
# Benchmarks: PKS against knockd

Generated by `make bench` (tests/bench/bench.py) on %(when)s; do not edit by
hand.

Machine: %(nproc)s CPUs (%(cpu)s), Linux %(kernel)s; 1-minute load
average %(load0)s before the run and %(load1)s after it (the bench's own
floods add about 1; more means other work shared the CPUs and the figures
are pessimistic for both daemons).

## Method

Each daemon runs in its own pair of network namespaces joined by a veth
pair (server 198.18.0.1, client 198.18.0.2), with an echo server on the
protected port 2222, which is closed to new connections until a knock opens
it: PKS (release build) from its own `PKS` chain, knockd (Debian's %(kver)s)
from a DROP rule in INPUT that its start command
(`iptables-legacy -w -I INPUT -s %%IP%% -p tcp --dport 2222 -j ACCEPT`)
goes before. Windows last %(open_for)d s in both (PKS `open-for`, knockd
`Cmd_Timeout` with the matching stop command).

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
  `/proc/PID/schedstat` (nanoseconds; PKS: `pks-sniffer`; knockd: its only process), per
  million flood packets sent. "Sniffer CPU per knock" is the same counter
  over (a), divided by the knocks (for PKS it includes the kernel-filter
  recompiles that every new and every used sequence causes).
- **(c)** A SYN flood from random spoofed sources in
  198.18.1.0-198.18.255.255 (about 65,000 addresses) at the ports of live
  sequences: %(decoys)d sequences of other users for PKS (a real user's
  sequence is secret), the ports of knockd's %(decoys)d doors (they are
  static). Memory is the
  sniffer's `VmHWM` from `/proc/PID/status`.
- Floods to closed ports are not connection-tracked in the server
  namespace (a `raw` table `NOTRACK` rule for every port but 2222), so the
  conntrack table cannot fill and drop the protected port's packets; the
  same holds for both daemons.

## Results

%(table)s

%(notes)s

%(plotline)s
""" % {"when": when, "nproc": mach["nproc"], "cpu": mach["cpu"],
       "kernel": mach["kernel"], "kver": knockd_version(),
       "load0": mach["load0"], "load1": mach["load"],
       "open_for": OPEN_FOR, "tmo": TIMEOUT_MS, "users": USERS,
       "kseq": ",".join(map(str, KNOCKD_SEQ)), "fsecs": FLOOD_SECS,
       "f0secs": FLOOD0_SECS,
       "decoys": DECOYS, "table": table_md(rs), "notes": "\n".join(notes),
       "plotline": "![latency distributions](benchmarks-latency.png)"
       if plotted else "(gnuplot was not found: no plot)"}
    with open(os.path.join(DOC, "benchmarks.md"), "w") as f:
        f.write(text)


def knockd_version():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "knockd"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return "knockd " + (r.stdout.strip() or "?")


def main():
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, netfilter)")
    if shutil.which("knockd") is None:
        sys.exit("bench: knockd not found (apt-get install knockd)")
    for b in ("pks-monitor", "pks-sniffer", "pks-fw", "pks-telegram"):
        if not os.access(pkstest.binpath(b), os.X_OK):
            sys.exit("bench: %s not built (make all)" % pkstest.binpath(b))
    exe = build_benchnet()
    load0 = loadavg()
    if load0 is not None and load0 > 0.5:
        log("load average %.2f: other work is running; figures will "
            "suffer" % load0)
    when = datetime.datetime.now().astimezone().strftime(
        "%Y-%m-%d %H:%M %Z")
    t0 = time.monotonic()
    if ONLY:
        # a quick look at one daemon: its figures, no table, no doc
        r = run_daemon({"PKS": Pks, "knockd": Knockd}[ONLY], exe)
        for key in ("b0", "b", "c"):
            ph = r[key]
            log("%s (%s): %d pkt, cpu %s s, %.4f s per 1e6, hwm %s -> %s kB"
                % (ONLY, key, ph["sent"], ph["cpu"],
                   (ph["cpu"] or 0) / (ph["sent"] / 1e6), ph["hwm_before"],
                   ph["hwm_after"]))
        return
    p = run_daemon(Pks, exe)
    k = run_daemon(Knockd, exe)
    rs = rows(p, k)
    mach = machine()
    mach["load0"] = load0
    print()
    print("PKS (%s) against %s, %s, %d CPUs, Linux %s, load %s -> %s" % (
        pkstest.BUILD, knockd_version(), mach["cpu"], mach["nproc"],
        mach["kernel"], load0, mach["load"]))
    print(table_text(rs))
    os.makedirs(DOC, exist_ok=True)
    plotted = plot(p, k, os.path.join(DOC, "benchmarks-latency.png"))
    write_doc(p, k, rs, when, mach, plotted)
    log("wrote %s/benchmarks.md%s in %.0f s" % (
        DOC, " and benchmarks-latency.png" if plotted else "",
        time.monotonic() - t0))


if __name__ == "__main__":
    main()

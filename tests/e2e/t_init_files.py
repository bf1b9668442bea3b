#!/usr/bin/env python3
"""doc/pks.service and doc/pks.init: valid, and they run the suite.

The unit passes systemd-analyze verify (paths substituted as make install
does); its CapabilityBoundingSet and NoNewPrivileges, applied with
setpriv(1), still let the whole suite start, open a window, reload and
stop fail-closed.  The sysv script passes sh -n and runs a copy of the
monitor through start, status, reload and stop.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

import pkstest
from pkstest import tap, TOP, ADA

DOC = os.path.join(TOP, "doc")

def skip(name, why):
    tap.ok(True, "%s # SKIP %s" % (name, why))


def substitute(text, sbindir, sysconfdir):
    """What make install does to the unit and the script."""
    return text.replace("@SBINDIR@", sbindir).replace("@SYSCONFDIR@",
                                                      sysconfdir)


def have_analyze():
    if shutil.which("systemd-analyze"):
        return True
    subprocess.run(["apt-get", "install", "-y", "-q", "systemd"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return shutil.which("systemd-analyze") is not None


def verify(path, manpath):
    r = subprocess.run(["systemd-analyze", "verify", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60,
                       env=dict(os.environ, MANPATH=manpath))
    return r.returncode, r.stdout.strip()


def unit_tests(tmp):
    unit = open(os.path.join(DOC, "pks.service")).read()
    text = substitute(unit, pkstest.BUILD, "/etc")
    tap.ok(not re.search(r"@[A-Z_]+@", text),
           "only @SBINDIR@ and @SYSCONFDIR@ are placeholders in the unit")
    for want in (r"^Type=notify$", r"^NotifyAccess=main$",
                 r"^ExecStart=\S+/pks-monitor -d\b",
                 r"^Restart=on-failure$", r"^RestartPreventExitStatus=78$",
                 r"^Wants=network-online.target$",
                 r"^After=network-online.target$",
                 r"^ExecCondition=/bin/sh -c 'test -e /etc/pks/pks.conf "
                 r"\|\| \{ echo .*does not exist.*exit 1; \}'$",
                 r"^ExecStartPre=-\+/sbin/modprobe -q -a nf_tables "
                 r"ip_tables ip6_tables nfnetlink_log$",
                 r"^SystemCallFilter=@system-service chroot seccomp bpf$",
                 r"^ProtectProc=invisible$", r"^ProcSubset=pid$",
                 r"^ExecReload=/bin/sh -c 'kill -HUP \"\$MAINPID\"'$",
                 r"^ProtectSystem=strict$", r"^ProtectHome=yes$",
                 r"^PrivateTmp=yes$", r"^RuntimeDirectory=pks$",
                 r"^StateDirectory=pks pks/empty$", r"^KillMode=mixed$"):
        tap.ok(re.search(want, text, re.M), "the unit has %s" % want)
    path = os.path.join(tmp, "pks.service")
    with open(path, "w") as f:
        f.write(text)
    # Documentation= is checked with man(1): give it our pages
    man = os.path.join(tmp, "man")
    for sec in "158":
        os.makedirs(os.path.join(man, "man" + sec))
    for p in os.listdir(DOC):
        if re.search(r"\.[158]$", p):
            shutil.copy(os.path.join(DOC, p),
                        os.path.join(man, "man" + p[-1]))
    name = "systemd-analyze verify accepts pks.service"
    if not have_analyze():
        skip(name, "systemd-analyze is missing and apt-get could not "
             "install the systemd package")
        return
    probe = os.path.join(tmp, "probe.service")
    with open(probe, "w") as f:
        f.write("[Service]\nExecStart=/bin/true\n")
    rc, out = verify(probe, man)
    if rc != 0 or out:
        skip(name, "systemd-analyze verify cannot run here: %s" %
             (out.splitlines() or ["exit %d" % rc])[0])
        return
    rc, out = verify(path, man)
    tap.ok(rc == 0 and out == "", name, out)
    bad = os.path.join(tmp, "bad.service")
    with open(bad, "w") as f:
        f.write(text.replace("[Service]\n", "[Service]\nBogusKey=1\n"))
    rc, out = verify(bad, man)
    tap.ok(out != "", "and it does see a wrong key", out)
    exec_condition(text, tmp)
    security(path)


# the bound the unit meets, and the figure written in its comment; the
# bound with the IP allow list the unit's comment shows as a drop-in
SECURITY_MAX = 2.6
SECURITY_DROPIN_MAX = 2.5


def analyze_security(path):
    """systemd-analyze security's figure for the unit file at path (99 if
    none), its output; None if it cannot run offline here."""
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--no-pager", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    if m is None and "--offline" in r.stdout:
        return None, r.stdout
    return (float(m.group(1)) if m else 99), r.stdout


def exposure_shares(path):
    """{name: its share of the figure, "0.36"} from systemd-analyze's
    weights (SYSTEMD_ANALYZE_DEBUG gives them in the JSON), computed as
    systemd does; {} where it cannot tell."""
    env = dict(os.environ, SYSTEMD_ANALYZE_DEBUG="1")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        "--no-pager", "--json=short", path],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=60, env=env)
    try:
        items = [i for i in json.loads(r.stdout)
                 if isinstance(i.get("badness"), int) and
                 i["badness"] <= i.get("range", 0)]
    except (ValueError, AttributeError):
        return {}
    part = {i["name"]: -(-i["badness"] * i["weight"] // i["range"])
            for i in items}
    total = sum(i["weight"] for i in items)
    return {n: "%.2f" % (10.0 * v / total) for n, v in part.items() if v}


def security(path):
    score, out = analyze_security(path)
    if score is None:
        skip("systemd-analyze security", "no --offline here")
        return
    tap.ok(score <= SECURITY_MAX, "systemd-analyze security: %.1f, at most "
           "%.1f" % (score, SECURITY_MAX), out[-3000:])
    unit = open(path).read()
    tap.ok("systemd-analyze security: %.1f" % score in unit,
           "the unit's comment gives that figure")
    # every exposure left ("✗", by its name there) has its entry in the
    # unit's comment, with its share of the figure and its reason
    shares = exposure_shares(path)
    marked = re.findall(u"^\u2717 (\\S+)", out, re.M)
    tap.ok(marked, "systemd-analyze lists the exposures left", out)
    for name in marked:
        m = re.search(r"^# - %s \((\d\.\d\d)\):\s+(?:#\s+)?\w" %
                      re.escape(name), unit, re.M)
        want = shares.get(name)
        tap.ok(m and (want is None or m.group(1) == want),
               "exposure %s is explained in the unit (share %s)" %
               (name, want), m.group(0) if m else None)
    listed = re.findall(r"^# - (\S+) \(\d\.\d\d\):", unit, re.M)
    tap.ok(sorted(listed) == sorted(marked), "and the unit explains no "
           "exposure that is not there", sorted(set(listed) ^ set(marked)))
    # the drop-in the comment shows, added to the unit, meets the lower
    # bound: the lines indented under "#\t[Service]"
    m = re.search(r"^#\t\[Service\]\n((?:#\t.*\n)+)", unit, re.M)
    tap.ok(m, "the unit's comment shows the IP allow list drop-in")
    if m:
        lines = "".join(x[2:] + "\n" for x in m.group(1).splitlines())
        dropin = os.path.join(os.path.dirname(path), "dropin",
                              "pks.service")
        os.makedirs(os.path.dirname(dropin), exist_ok=True)
        with open(dropin, "w") as f:
            f.write(unit.replace("\n[Install]\n", "\n" + lines +
                                 "\n[Install]\n"))
        score2, out2 = analyze_security(dropin)
        tap.ok(score2 is not None and score2 <= SECURITY_DROPIN_MAX,
               "with it, systemd-analyze security: %s, at most %.1f" %
               (score2, SECURITY_DROPIN_MAX), out2[-2000:])


def exec_condition(text, tmp):
    """The ExecCondition= line, run as systemd would: exit 1 and one
    clear line without the file, exit 0 with it."""
    m = re.search(r"^ExecCondition=/bin/sh -c '(.*)'$", text, re.M)
    if not m:
        tap.ok(False, "ExecCondition runs")
        return
    etc = os.path.join(tmp, "cond-etc")
    cmd = m.group(1).replace("/etc/", etc + "/")
    r = subprocess.run(["/bin/sh", "-c", cmd], stderr=subprocess.PIPE,
                       text=True)
    tap.ok(r.returncode == 1 and "%s/pks/pks.conf does not exist" % etc
           in r.stderr, "no pks.conf: the start is skipped (exit 1) "
           "with a clear line", r.stderr)
    os.makedirs(os.path.join(etc, "pks"))
    open(os.path.join(etc, "pks", "pks.conf"), "w").close()
    r = subprocess.run(["/bin/sh", "-c", cmd], stderr=subprocess.PIPE,
                       text=True)
    tap.ok(r.returncode == 0 and r.stderr == "",
           "with it, the start goes on", r.stderr)


class CappedMonitor(pkstest.Monitor):
    """The monitor as the unit runs it: bounding set and no_new_privs."""

    def __init__(self, net, conf_text, caps, nnp):
        super().__init__(net, conf_text)
        self.caps = caps
        self.nnp = nnp

    def start(self, wait_ready=True):
        argv = ["setpriv", "--bounding-set",
                "-all," + ",".join("+" + c for c in self.caps)]
        if self.nnp:
            argv.append("--no-new-privs")
        argv += [pkstest.binpath("pks-monitor"), "-d", "-f", self.conf]
        self.proc = pkstest.spawn(argv, ns=self.net.srv,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        self.log = pkstest.LogWatch(self.proc.stderr)
        return self




def capability_tests(net):
    unit = open(os.path.join(DOC, "pks.service")).read()
    m = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M)
    caps = [c.lower()[4:] for c in m.group(1).split()] if m else []
    nnp = re.search(r"^NoNewPrivileges=yes$", unit, re.M) is not None
    tap.ok(caps, "the unit limits the capability bounding set: %s" %
           " ".join(caps))
    s = pkstest.Suite(net, extra=pkstest.allow(ADA))
    s.bot.start()
    s.monitor = CappedMonitor(net, s.conf_text, caps, nnp).start()
    ready = s.monitor.log.wait(r"all children ready", 20)
    tap.ok(ready is not None, "with only those, every child starts",
           s.monitor.log.text())
    tap.ok(s.monitor.log.has(r"knock range judged in the kernel \(eBPF\)",
                             5),
           "and the sniffer's range filter is in the kernel (CAP_BPF)",
           "\n".join(s.monitor.log.grep(r"range|judged")))
    want = sum(1 << n for n in cap_numbers(caps))
    st = pkstest.proc_status(s.monitor.proc.pid) or {}
    tap.ok(int(st.get("CapBnd", "0"), 16) == want and
           (st.get("NoNewPrivs") == "1") == nnp,
           "the monitor runs with that bounding set", st.get("CapBnd"))
    s.echod()
    tap.ok(s.open_window(ADA)[1], "a knock opens a window")
    tap.ok(s.can_connect(), "and the service is reachable")
    s.monitor.proc.send_signal(signal.SIGHUP)
    tap.ok(s.monitor.log.wait(r"configuration reloaded", 5) is not None and
           s.monitor.log.wait(r"all children ready", 10, ready + 1),
           "SIGHUP reloads and the children come back")
    rc = s.monitor.stop()
    tap.ok(rc == 0, "SIGTERM stops it cleanly (exit %s)" % rc)
    tap.ok(not s.windows() and s.fw.services() == {("tcp", 2222)},
           "fail-closed: the window is gone, the port stays closed",
           s.fw.dump())
    s.bot.stop()


def cap_numbers(names):
    hdr = "/usr/include/linux/capability.h"
    nums = {}
    if os.path.exists(hdr):
        for m in re.finditer(r"#define CAP_(\w+)\s+(\d+)", open(hdr).read()):
            nums[m.group(1).lower()] = int(m.group(2))
    return [nums[n] for n in names if n in nums]


def gone(pid):
    """No such process, or a zombie nobody reaped yet."""
    return pkstest.proc_state(pid) in (None, "Z")


def sysv_tests(net, tmp):
    script = open(os.path.join(DOC, "pks.init")).read()
    tap.ok(script.startswith("#!/bin/sh\n### BEGIN INIT INFO"),
           "pks.init has an LSB header")
    r = subprocess.run(["sh", "-n", os.path.join(DOC, "pks.init")],
                       stderr=subprocess.PIPE, text=True)
    tap.ok(r.returncode == 0, "sh -n pks.init", r.stderr)

    # a private copy of the monitor, so that --exec matches no other
    # pks-monitor running on this host (other tests, say)
    sbin = os.path.join(tmp, "sbin")
    etc = os.path.join(tmp, "etc")
    os.makedirs(sbin)
    os.makedirs(os.path.join(etc, "pks"))
    os.makedirs(os.path.join(etc, "default"))
    shutil.copy(pkstest.binpath("pks-monitor"), sbin)
    for c in ("pks-telegram", "pks-sniffer", "pks-fw"):
        os.symlink(pkstest.binpath(c), os.path.join(sbin, c))
    init = os.path.join(tmp, "pks.init")
    with open(init, "w") as f:
        f.write(substitute(script, sbin, etc))
    os.chmod(init, 0o755)

    def sysv(cmd):
        return pkstest.run(["sh", init, cmd], ns=net.srv, check=False,
                           timeout=60)

    r = sysv("status")
    tap.ok(r.returncode == 3, "status with nothing running exits 3 (%d)" %
           r.returncode, r.stdout + r.stderr)
    r = sysv("reload")
    tap.ok(r.returncode == 7, "reload with nothing running exits 7 (%d)" %
           r.returncode)
    r = sysv("stop")
    tap.ok(r.returncode == 0, "stop with nothing running exits 0")

    s = pkstest.Suite(net, extra=pkstest.allow(ADA))
    conf = os.path.join(etc, "pks", "pks.conf")
    pkstest.write_config(conf, "bogus-keyword 1\n" + s.conf_text)
    with open(os.path.join(etc, "default", "pks"), "w") as f:
        f.write("CHROOT=%s\n" % s.chroot)
    r = sysv("start")
    tap.ok(r.returncode == 6 and "bogus-keyword" in r.stderr,
           "start with a bad configuration fails (6) and says why",
           r.stdout + r.stderr)
    pkstest.write_config(conf, s.conf_text)
    s.bot.start()
    sock = os.path.join(s.dir, "pks.sock")
    mpid = None
    try:
        r = sysv("start")
        tap.ok(r.returncode == 0, "start", r.stdout + r.stderr)

        def ctl(*a):
            return pkstest.run([pkstest.binpath("pksctl"), "-s", sock] +
                               list(a), check=False)

        def all_ready():
            out = ctl("status").stdout
            return out.count(" ready") == 3 and out
        out = pkstest.wait_for(all_ready, 20)
        tap.ok(out, "the monitor runs as a daemon, its children ready",
               ctl("status").stdout)
        m = re.search(r"^pks-monitor\s+(\d+)", out or "", re.M)
        mpid = int(m.group(1)) if m else None
        r = sysv("status")
        tap.ok(r.returncode == 0, "status exits 0 while it runs")
        s.echod()
        tap.ok(s.open_window(ADA)[1], "a knock opens a window")
        def child_pids():
            return set(re.findall(r"^pks-(?:telegram|sniffer|fw)\s+(\d+)",
                                  ctl("status").stdout, re.M))
        before = child_pids()
        r = sysv("reload")
        tap.ok(r.returncode == 0, "reload", r.stdout + r.stderr)
        tap.ok(pkstest.wait_for(lambda: all_ready() and
                                not (child_pids() & before), 20),
               "the children are restarted with the new configuration")
        r = sysv("stop")
        tap.ok(r.returncode == 0, "stop", r.stdout + r.stderr)
        tap.ok(mpid is not None and gone(mpid), "the monitor is gone")
        tap.ok(not s.windows() and s.fw.services() == {("tcp", 2222)},
               "fail-closed: the window is gone, the port stays closed",
               s.fw.dump())
        r = sysv("status")
        tap.ok(r.returncode == 3, "status exits 3 again")
    finally:
        if mpid and not gone(mpid):
            os.kill(mpid, signal.SIGKILL)
        s.bot.stop()


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    tmp = tempfile.mkdtemp(prefix="pks-init-")
    try:
        unit_tests(tmp)
        with pkstest.Net() as net:
            capability_tests(net)
        with pkstest.Net() as net:
            sysv_tests(net, tmp)
    finally:
        shutil.rmtree(tmp, True)
    tap.done()


if __name__ == "__main__":
    main()

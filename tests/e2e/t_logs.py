#!/usr/bin/env python3
"""The log lines an admin cares about, once each, under the right name.

Foreground (-d, default level): sequence issued (to whom, for which
service, no port), refusal (who, why), knock completed (address), window
opened and closed, a child killed and restarted (why), configuration
reloaded and refused; every line carries its process's name and none
holds the bot token.  Daemon mode: the same names reach syslog, through a
/dev/log the test provides in a private mount namespace (the host's /dev
is not touched), and a restart of the syslog daemon does not silence it.
"""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pkstest
from pkstest import tap, CLI4, TOKEN

ADA, EVE = 6123456789, 4242
NAMES = ("pks-monitor", "pks-telegram", "pks-sniffer", "pks-fw")
SERVICES = pkstest.service("ssh", 2222, open_for=3)


class QuietMonitor(pkstest.Monitor):
    """pks-monitor -d at the default level (pkstest's adds -v)."""

    def __init__(self, net, conf_text, argv):
        super().__init__(net, conf_text)
        self.argv = argv

    def start(self, wait_ready=True):
        self.proc = pkstest.spawn(self.argv + ["-f", self.conf],
                                  ns=self.net.srv, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        self.log = pkstest.LogWatch(self.proc.stderr)
        if wait_ready and self.log.wait(r"all children ready", 20) is None:
            raise RuntimeError("monitor did not start:\n" + self.log.text())
        return self


class Once:
    """Lines that must each appear exactly once for the event that causes
    them.  event() marks where an event's lines start (call it before
    causing the event); expect() waits for a line; check(), once the
    stream has ended, counts each expected line in its event's span (up
    to the next event's mark), so a line logged twice for one event
    fails however late the second one comes."""

    def __init__(self, log):
        self.log = log
        self.marks = []
        self.want = []

    def event(self):
        self.marks.append(self.log.mark())

    def expect(self, name, rx, what, timeout=10):
        full = r"^%s: %s" % (re.escape(name), rx)
        self.log.wait(full, timeout, self.marks[-1])
        self.want.append((len(self.marks) - 1, full, name, rx, what))

    def check(self):
        lines = self.log.complete()
        ends = self.marks[1:] + [len(lines)]
        for k, full, name, rx, what in self.want:
            n = self.log.count(full, self.marks[k], ends[k])
            tap.ok(n == 1, "%s: %s (%d line%s)" % (name, what, n,
                                                   "" if n == 1 else "s"),
                   "\n".join(l for l in lines[self.marks[k]:ends[k]]
                             if re.search(rx, l)) or "\n".join(lines[-40:]))


def foreground(net):
    s = pkstest.Suite(net, extra="allow user %d to ssh\n" % ADA,
                      services=SERVICES)
    s.bot.start()
    s.monitor = QuietMonitor(net, s.conf_text,
                             [pkstest.binpath("pks-monitor"), "-d"]).start()
    log = s.monitor.log
    once = Once(log)
    s.echod()

    once.event()
    ports, _ = s.generate(ADA, first_name="Ada")
    tap.ok(ports, "Ada gets a sequence")
    once.expect("pks-monitor", r"sequence \d+ issued to Ada \(%d\) for ssh$" %
                ADA, "sequence issued, to whom, for which service")
    once.event()
    s.generate(EVE, first_name="Eve")
    once.expect("pks-monitor", r"refused /generate from Eve \(user %d, chat "
                r"%d\): not allowed$" % (EVE, EVE), "refusal, who and why")

    once.event()
    s.knock(ports or [1])
    once.expect("pks-sniffer", r"sequence \d+ knocked from %s " %
                re.escape(CLI4), "knock seen, from which address")
    once.expect("pks-monitor", r"knock completed from %s: sequence \d+ of "
                r"Ada for ssh$" % re.escape(CLI4), "knock completed")
    once.expect("pks-fw", r"window \d+: opened %s tcp/2222$" %
                re.escape(CLI4), "rule added")
    once.expect("pks-monitor", r"window opened: ssh for %s \(Ada\) until "
                r"\d\d:\d\d:\d\d UTC$" % re.escape(CLI4), "window opened")
    once.expect("pks-fw", r"window \d+: closed %s tcp/2222$" %
                re.escape(CLI4), "rule removed", timeout=10)
    once.expect("pks-monitor", r"window closed: ssh for %s \(Ada\)$" %
                re.escape(CLI4), "window closed")

    pid = s.monitor.child_pid("pks-sniffer")
    once.event()
    os.kill(pid, signal.SIGKILL)
    once.expect("pks-monitor", r"pks-sniffer: killed by signal 9 \(Killed\)$",
                "child died, and why")
    once.expect("pks-monitor", r"pks-sniffer: restarting in 1 s$",
                "child restart scheduled")
    once.expect("pks-monitor", r"pks-sniffer: restarting$", "child restarted")

    once.event()
    s.monitor.proc.send_signal(signal.SIGHUP)
    once.expect("pks-monitor", r"configuration reloaded$",
                "configuration reloaded")
    with open(s.monitor.conf, "a") as f:
        f.write("no-such-keyword 1\n")
    once.event()
    s.monitor.proc.send_signal(signal.SIGHUP)
    once.expect("pks-monitor", r"configuration \S+ has errors: keeping the "
                r"running one$", "configuration refused")
    once.expect("pks-monitor", r"\S+pks\.conf:\d+: unknown keyword "
                r"\"no-such-keyword\"$", "the error, with file and line")
    once.event()
    rc = s.monitor.stop()
    once.expect("pks-monitor", r"stopped$", "stopped")
    once.check()
    tap.ok(rc == 0, "exit 0")
    s.bot.stop()

    lines = log.complete()
    bad = [l for l in lines if not re.match(r"(%s): \S" % "|".join(NAMES), l)]
    tap.ok(not bad, "every line starts with a process name", "\n".join(bad))
    secret = TOKEN.split(":", 1)[1]
    tap.ok(not [l for l in lines if TOKEN in l or secret in l],
           "the bot token appears in no line")
    leaked = [l for l in lines for p in (ports or [])
              if re.search(r"\b%d\b" % p, l)]
    tap.ok(not leaked, "no knock port at the default level",
           "\n".join(leaked))
    dbg = [l for l in lines if re.search(r": started pks-|: ready$", l)]
    tap.ok(not dbg, "no debug line at the default level", "\n".join(dbg))


# ---------------------------------------------------------------- syslog

class Syslog:
    """A syslog daemon's /dev/log: an AF_UNIX datagram socket."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self.senders = {}	# line -> pid of the process that sent it
        self.cv = threading.Condition()
        self.sock = None
        self.open()

    def open(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # the sender's credentials, as journald reads them (_PID)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        threading.Thread(target=self._pump, args=(self.sock,),
                         daemon=True).start()

    def restart(self):
        self.sock.close()
        self.open()

    def _pump(self, sock):
        while True:
            try:
                data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except OSError:
                return
            sender = None
            for level, kind, cred in anc:
                if (level == socket.SOL_SOCKET and
                        kind == socket.SCM_CREDENTIALS and len(cred) >= 4):
                    sender = struct.unpack("i", cred[:4])[0]
            with self.cv:
                line = data.decode("utf-8", "replace")
                self.lines.append(line)
                self.senders[line] = sender
                self.cv.notify_all()

    def wait(self, tag, rx, timeout=10):
        """The first line from tag[pid] whose message matches rx."""
        pat = re.compile(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d "
                         r"%s\[(\d+)\]: (.*)$" % re.escape(tag))
        end = time.time() + timeout
        with self.cv:
            while True:
                for l in self.lines:
                    m = pat.match(l)
                    if m and re.search(rx, m.group(3)):
                        return m
                if time.time() >= end:
                    return None
                self.cv.wait(0.2)


def netns_inode(name):
    return os.stat("/run/netns/" + name).st_ino


def ours(net):
    """pks-monitor processes inside our own server namespace."""
    ino, pids = netns_inode(net.srv), []
    mon = os.path.realpath(pkstest.binpath("pks-monitor"))
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if (os.stat("/proc/%s/ns/net" % d).st_ino == ino and
                    os.readlink("/proc/%s/exe" % d) == mon):
                pids.append(int(d))
        except OSError:
            pass
    return pids


def daemon_mode(net):
    tmp = tempfile.mkdtemp(prefix="pks-syslog-")
    log = Syslog(os.path.join(tmp, "log"))
    s = pkstest.Suite(net, extra="allow user %d to ssh\n" % ADA,
                      services=SERVICES)
    conf = os.path.join(s.dir, "pks.conf")
    pkstest.write_config(conf, s.conf_text)
    s.bot.start()
    # a private mount namespace whose /dev is a tmpfs holding only
    # null and log -> our socket; the host's /dev is not touched
    script = """set -e
: > {t}/null
mount --bind /dev/null {t}/null
mount -t tmpfs -o mode=0755,size=64k pks-dev /dev
: > /dev/null
mount --bind {t}/null /dev/null
ln -s {t}/log /dev/log
exec ip netns exec {ns} {mon} -f {conf}
""".format(t=tmp, ns=net.srv, mon=pkstest.binpath("pks-monitor"),
           conf=conf)
    try:
        r = pkstest.run(["unshare", "--mount", "--propagation", "private",
                         "sh", "-c", script], check=False, timeout=30)
        if r.returncode != 0:
            tap.ok(True, "daemon mode logs to syslog # SKIP cannot set up "
                   "a private /dev/log: %s" % r.stderr.strip()[:200])
            return
        m = log.wait("pks-monitor", r"^all children ready$", 20)
        tap.ok(m, "daemon mode: the monitor logs to syslog",
               "\n".join(log.lines))
        mpid = int(m.group(2)) if m else None
        tap.ok(m and int(m.group(1)) == (3 << 3) | 6,
               "with the daemon facility, level info")
        st = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "status")
        pids = dict((n, int(p)) for n, p in
                    re.findall(r"^(pks-\w+)\s+(\d+)", st.stdout, re.M))
        for name, rx in (("pks-fw",
                          r"^(?:chain PKS|table inet pks) ready"),
                         ("pks-sniffer", r"^capturing on 1 interface"),
                         ("pks-telegram", r"^polling for updates")):
            c = log.wait(name, rx, 10)
            tap.ok(c and int(c.group(2)) != mpid and
                   int(c.group(2)) == pids.get(name),
                   "%s logs under its own name and pid" % name,
                   "%s, pksctl status: %s" % (c and c.group(0), pids))
            sender = log.senders.get(c.group(0)) if c else None
            tap.ok(sender == pids.get(name),
                   "and sends it itself, as journald sees it (%s)" % sender)
        log.restart()
        s.echod()
        ports, _ = s.generate(ADA, first_name="Ada")
        tap.ok(log.wait("pks-monitor", r"^sequence \d+ issued to Ada", 10),
               "after a restart of the syslog daemon, lines still arrive")
        s.knock(ports or [1])
        tap.ok(log.wait("pks-sniffer", r"knocked from %s " %
                        re.escape(CLI4), 10), "knock seen, in syslog")
        tap.ok(log.wait("pks-monitor", r"^window opened: ssh for %s" %
                        re.escape(CLI4), 10), "window opened, in syslog")
        if mpid:
            os.kill(mpid, signal.SIGTERM)
        tap.ok(log.wait("pks-monitor", r"^stopped$", 15),
               "SIGTERM: stopped, in syslog")
        secret = TOKEN.split(":", 1)[1]
        tap.ok(not [l for l in log.lines if secret in l],
               "the bot token appears in no syslog line")
    finally:
        for pid in ours(net):
            os.kill(pid, signal.SIGKILL)
        s.bot.stop()
        shutil.rmtree(tmp, True)


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        foreground(net)
    with pkstest.Net() as net:
        daemon_mode(net)
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""t_fw_traffic: pks-fw alone, driven by a stand-in monitor, with real
traffic between the client and server namespaces.

Proves: the protected port is closed until a window opens, a window
admits its source address only, a connection made in a window survives
its end, malformed requests are refused and change nothing, pks-fw runs
confined (seccomp, two capabilities, not root), and SIGTERM closes every
window before exit while the service stays closed.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pkstest as T
import pksimsg as pm

PORT = 2222
CLOSED = {("tcp", PORT)}		# the service pks-fw is given


IM = pm.IMSG
HDR = pm.HDR				# type, len, peerid, pid
WINDOW = struct.Struct("=IBBH16sI")	# struct pks_window
SERVICE = struct.Struct("=BBH")		# struct pks_fw_service
RESULT = struct.Struct("=IIi")		# struct pks_fw_result


class FakeMonitor(T.LoneChild):
    """pks-fw on the end of a socketpair, as pks-monitor starts it."""

    def __init__(self, net, chroot, uid=None, gid=None):
        T.LoneChild.__init__(self, "pks-fw", ns=net.srv,
                             wrap=os.environ.get("PKS_FW_WRAP", "").split())
        self.backend = None	# what IMSG_FW_BACKEND said
        self.configure(chroot, uid=uid, gid=gid, parts=[
            (IM["IMSG_FW_CONF"], struct.pack("=I", {
                "nftables": 1, "iptables": 2}[T.FIREWALL])),
            (IM["IMSG_FW_SERVICE"], SERVICE.pack(socket.IPPROTO_TCP, 0,
                                                 PORT))])

    def send(self, type_, payload=b""):
        t = IM[type_] if isinstance(type_, str) else type_
        try:
            self.ch.send(t, payload)
        except OSError:
            pass	# pks-fw died: the next result() says so

    def recv(self, timeout=10):
        """Next message other than a log line or IMSG_FW_BACKEND (kept in
        self.backend): (type, payload)."""
        end = time.time() + timeout
        while True:
            try:
                m = self.ch.recv(max(0, end - time.time()))
            except OSError:
                return None, None
            if m is None:
                return None, None
            if m.type == IM["IMSG_FW_BACKEND"]:
                self.backend = struct.unpack("=I", m.data)[0]
            elif m.type != IM["IMSG_LOG"]:
                return m.type, m.data

    def result(self):
        t, p = self.recv()
        if t != IM["IMSG_FW_RESULT"] or len(p) != RESULT.size:
            return None
        return RESULT.unpack(p)

    def window(self, type_, wid, addr, port=PORT, proto=socket.IPPROTO_TCP,
               timeout=60):
        af = socket.AF_INET6 if ":" in addr else socket.AF_INET
        a = socket.inet_pton(af, addr).ljust(16, b"\0")
        self.send(type_, WINDOW.pack(wid, af, proto, port, a, timeout))
        return self.result()


SERVER = r"""
import socket, sys, threading
def serve(s):
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()
def echo(c):
    while True:
        d = c.recv(4096)
        if not d:
            return
        c.sendall(d)
socks = []
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, %d))
    s.listen(16)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("listening", flush=True)
sys.stdin.read()
""" % PORT

CLIENT = r"""
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(1.5)
s.bind((src, 0))
try:
    s.connect((dst, port))
    s.sendall(b"ping")
    print("OK" if s.recv(16) == b"ping" else "BAD")
except OSError as e:
    print("FAIL", e)
"""

# a session that stays up across the end of its window
SESSION = r"""
import socket, sys
s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=3,
                             source_address=(sys.argv[1], 0))
print("connected", flush=True)
for line in sys.stdin:
    s.sendall(line.encode())
    try:
        print("echo " + s.recv(4096).decode().strip(), flush=True)
    except OSError as e:
        print("FAIL", e, flush=True)
"""


def connects(net, src, dst):
    r = T.run([sys.executable, "-c", CLIENT, src, dst, str(PORT)],
              ns=net.cli, check=False, timeout=20)
    return r.stdout.strip() == "OK"


def load(tap, net, mon):
    """Big tables, many windows, a lock held by someone else (iptables):
    the sandbox must allow what libiptc (or libnftnl) and malloc do
    then."""
    ipt = T.FIREWALL == "iptables"
    if ipt:
        rules = "".join("-A INPUT -s 198.19.%d.%d/32 -j ACCEPT\n" %
                        (i // 250, 1 + i % 250) for i in range(3000))
        r = T.run(["iptables-legacy-restore", "-w", "--noflush"],
                  ns=net.srv, input="*filter\n" + rules + "COMMIT\n",
                  check=False)
    else:
        rules = "".join("add rule inet foreign input ip saddr "
                        "198.19.%d.%d accept\n" % (i // 250, 1 + i % 250)
                        for i in range(3000))
        r = T.run(["nft", "-f", "-"], ns=net.srv, check=False, input=(
            "add table inet foreign\nadd chain inet foreign input { type "
            "filter hook input priority 0; }\n" + rules))
    tap.ok(r.returncode == 0, "3000 foreign rules loaded", r.stderr)
    ok = True
    for i in range(300):
        ok &= mon.window("IMSG_FW_OPEN", 1000 + i, "198.18.%d.%d" %
                         (100 + i // 200, 1 + i % 200)) == \
            (1000 + i, IM["IMSG_FW_OPEN"], 0)
    # and the IPv6 window still open from before
    want = set(("198.18.%d.%d" % (100 + i // 200, 1 + i % 200), "tcp", PORT)
               for i in range(300)) | {(T.CLI6, "tcp", PORT)}
    st = net.fw.read()
    tap.ok(ok and st == T.FwState(want, CLOSED, True), "300 windows opened",
           "%s\n%s" % (st and st.windows ^ want, mon.log.text()[-2000:]))
    if ipt:
        # hold the xtables lock for a while, as a slow iptables(8) would
        holder = T.spawn(["flock", "/run/xtables.lock", "sleep", "0.5"])
        time.sleep(0.1)
    res = mon.window("IMSG_FW_OPEN", 999, "198.18.99.1")
    if ipt:
        holder.wait()
    tap.ok(res == (999, IM["IMSG_FW_OPEN"], 0),
           "a window opens once the xtables lock is free" if ipt else
           "one more window opens", res)
    mon.send("IMSG_FW_CLOSE_ALL")
    tap.ok(mon.result() == (0, IM["IMSG_FW_CLOSE_ALL"], 0) and
           net.fw.clean(CLOSED), "IMSG_FW_CLOSE_ALL closed them all")
    if ipt:
        T.run(["iptables-legacy", "-w", "-F", "INPUT"], ns=net.srv)
        T.run(["iptables-legacy", "-w", "-I", "INPUT", "-j", "PKS"],
              ns=net.srv)
    else:
        T.run(["nft", "delete", "table", "inet", "foreign"], ns=net.srv)


def main():
    tap = T.tap
    T.require_root()
    if not os.path.exists(T.binpath("pks-fw")):
        tap.skip_all("no %s (make TESTHOOKS=1 all)" % T.binpath("pks-fw"))
    if subprocess.run(["which", "iptables-legacy"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        tap.skip_all("no iptables-legacy")
    T.ensure_user("_pks")
    uid = int(T.run(["id", "-u", "_pks"]).stdout)
    chroot = T.empty_dir()

    with T.Net() as net:
        srv = T.spawn([sys.executable, "-c", SERVER], ns=net.srv,
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      text=True)
        tap.ok(srv.stdout.readline().strip() == "listening",
               "echo server listens in the server namespace")
        tap.ok(connects(net, T.CLI4, T.SRV4),
               "without pks-fw the port is reachable (test sanity)")

        mon = FakeMonitor(net, chroot)
        t, _ = mon.recv()
        if not tap.ok(t == IM["IMSG_READY"], "pks-fw says IMSG_READY",
                      mon.log.text()):
            tap.done()
        tap.ok(mon.backend == {"nftables": 1, "iptables": 2}[T.FIREWALL],
               "pks-fw reports its backend (%s)" % T.FIREWALL, mon.backend)
        st = T.proc_status(mon.proc.pid) or {}
        tap.ok(st.get("Seccomp") == "2", "pks-fw runs under seccomp",
               st.get("Seccomp"))
        caps = "%016x" % ((1 << 12) | ((1 << 13) if T.FIREWALL ==
                                       "iptables" else 0))
        tap.ok(st.get("CapEff") == caps and st.get("CapPrm") == caps and
               st.get("CapBnd") == caps, "pks-fw keeps CAP_NET_ADMIN%s only"
               % (" and CAP_NET_RAW" if T.FIREWALL == "iptables" else ""),
               "%s %s %s" % (st.get("CapEff"), st.get("CapPrm"),
                             st.get("CapBnd")))
        tap.ok(st.get("Uid", "0").split()[0] == str(uid),
               "pks-fw runs as _pks", st.get("Uid"))
        tap.ok(net.fw.clean(CLOSED), "the firewall holds the service "
               "closed, and nothing else", net.fw.dump())

        tap.ok(not connects(net, T.CLI4, T.SRV4),
               "protected port closed without a window")
        tap.ok(mon.window("IMSG_FW_OPEN", 1, T.CLI4) ==
               (1, IM["IMSG_FW_OPEN"], 0), "window 1 opened")
        tap.ok(connects(net, T.CLI4, T.SRV4), "the window's address gets in")
        tap.ok(not connects(net, T.CLI4_B, T.SRV4),
               "another address stays out")
        sess = T.spawn([sys.executable, "-c", SESSION, T.CLI4, T.SRV4,
                        str(PORT)], ns=net.cli, stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, text=True)
        tap.ok(sess.stdout.readline().strip() == "connected",
               "a session opens in the window")

        tap.ok(not connects(net, T.CLI6, T.SRV6), "IPv6: closed")
        tap.ok(mon.window("IMSG_FW_OPEN", 2, T.CLI6) ==
               (2, IM["IMSG_FW_OPEN"], 0), "IPv6 window opened")
        tap.ok(connects(net, T.CLI6, T.SRV6), "IPv6: the window's address "
               "gets in")

        tap.ok(mon.window("IMSG_FW_CLOSE", 1, T.CLI4) ==
               (1, IM["IMSG_FW_CLOSE"], 0), "window 1 closed")
        tap.ok(not connects(net, T.CLI4, T.SRV4),
               "after the window, new connections are dropped")
        sess.stdin.write("still here\n")
        sess.stdin.flush()
        tap.ok(sess.stdout.readline().strip() == "echo still here",
               "the session opened in the window survives its end")

        before = net.fw.read()
        mon.send("IMSG_FW_OPEN", b"\1\2\3\4\5")
        tap.ok(mon.result() == (0, IM["IMSG_FW_OPEN"], 22),
               "short IMSG_FW_OPEN refused with EINVAL")
        tap.ok(mon.window("IMSG_FW_OPEN", 3, T.CLI4, port=22) ==
               (3, IM["IMSG_FW_OPEN"], 22), "window on an unprotected "
               "port refused with EINVAL")
        tap.ok(mon.window("IMSG_FW_OPEN", 4, "224.0.0.1") ==
               (4, IM["IMSG_FW_OPEN"], 22), "multicast source refused")
        mon.send("IMSG_FW_CLOSE_ALL", b"x")
        tap.ok(mon.result() == (0, IM["IMSG_FW_CLOSE_ALL"], 22),
               "IMSG_FW_CLOSE_ALL with a payload refused")
        mon.send("IMSG_SEQ_ADD", b"\0" * 56)
        tap.ok(mon.result() == (0, IM["IMSG_SEQ_ADD"], 22),
               "a message meant for another process refused")
        tap.ok(net.fw.read() == before and
               mon.proc.poll() is None,
               "malformed requests changed nothing, pks-fw still runs")

        load(tap, net, mon)

        mon.proc.send_signal(signal.SIGTERM)
        try:
            rc = mon.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        tap.ok(rc == 0, "SIGTERM: pks-fw exits 0", rc)
        tap.ok(net.fw.clean(CLOSED),
               "SIGTERM closed every window, the service stays closed",
               net.fw.dump())
        tap.ok(not connects(net, T.CLI6, T.SRV6),
               "IPv6 window gone after exit: fail-closed")
        tap.ok(mon.log.lacks("sandbox violation"), "no sandbox "
               "violation logged", mon.log.text())
        sess.stdin.close()
        srv.stdin.close()

        # broken framing: no way to answer, so close everything and go
        mon = FakeMonitor(net, chroot)
        t, _ = mon.recv()
        tap.ok(t == IM["IMSG_READY"] and
               mon.window("IMSG_FW_OPEN", 5, T.CLI4)[2] == 0,
               "restarted pks-fw opens a window")
        mon.ch.sock.sendall(b"\0" * HDR.size)
        try:
            rc = mon.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        tap.ok(rc is not None and net.fw.clean(CLOSED),
               "garbage framing: pks-fw closes its windows and exits", rc)

        # test builds: SIGUSR2 makes a forbidden call
        mon = FakeMonitor(net, chroot)
        t, _ = mon.recv()
        mon.proc.send_signal(signal.SIGUSR2)
        try:
            rc = mon.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        tap.ok(rc == -signal.SIGSYS, "a forbidden syscall kills pks-fw "
               "(SIGSYS)", rc)
    tap.done()


if __name__ == "__main__":
    main()

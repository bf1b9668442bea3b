#!/usr/bin/env python3
"""pks-fw's nftables backend (firewall nftables) in a namespace of its own,
read back with nft -j: one table inet pks, one chain, two sets, a window is
one element with a timeout.  kill -9 of pks-fw and every other PKS process
while a window is open: the table stays (owner + persist), the window still
closes on time in the kernel and the port stays closed to every other
address.  nft flush ruleset and foreign edits of the table are refused by
the kernel while PKS runs.  A restart adopts the table: nothing doubled,
stale elements gone.  firewall auto picks iptables where the legacy filter
table holds rules, nftables where it does not; pksctl status says which."""
import json
import os
import signal
import time

import pkstest
from pkstest import tap, run, CLI4, CLI4_B, ADA

OPEN_FOR = 20		# long enough for the checks below on a loaded machine
SERVICE = ("service ssh {\n\tport 2222\n\tprotocol tcp\n\topen-for %d\n}\n"
           "service dns {\n\tport 5353\n\tprotocol udp\n\topen-for %d\n}"
           % (OPEN_FOR, OPEN_FOR))
ALLOW = "allow user %d to { ssh dns }\n" % ADA


def nft(net, *args):
    return run(["nft"] + list(args), ns=net.srv, check=False)


def table(net):
    """nft -j list table inet pks: {"table", "chains", "sets", "rules"}, or
    None when there is no such table."""
    r = nft(net, "-j", "list", "table", "inet", "pks")
    if r.returncode != 0:
        return None
    d = {"table": [], "chains": [], "sets": [], "rules": []}
    for o in json.loads(r.stdout)["nftables"]:
        for k, key in (("table", "table"), ("chain", "chains"),
                       ("set", "sets"), ("rule", "rules")):
            if k in o:
                d[key].append(o[k])
    return d


def elements(net, what="timeout"):
    """Window elements of both sets: {(address, proto, port): timeout}
    (or "expires", the seconds left)."""
    t = table(net)
    out = {}
    for s in (t or {}).get("sets", []):
        for e in s.get("elem", []):
            v = e["elem"]["val"]["concat"]
            out[(v[0], v[1], v[2])] = e["elem"].get(what)
    return out


def tables_named_pks(net):
    r = nft(net, "-j", "list", "tables")
    if r.returncode != 0:
        return -1
    return sum(1 for o in json.loads(r.stdout)["nftables"]
               if "table" in o and o["table"]["name"] == "pks")


def layout_ok(t, nsvc):
    """One table, one input chain, win4 and win6, 2 + 2 per service rules."""
    return (t is not None and len(t["table"]) == 1 and
            len(t["chains"]) == 1 and t["chains"][0]["name"] == "input" and
            t["chains"][0].get("hook") == "input" and
            t["chains"][0].get("prio") == -10 and
            t["chains"][0].get("policy") == "accept" and
            sorted(s["name"] for s in t["sets"]) == ["win4", "win6"] and
            len(t["rules"]) == 2 + 2 * nsvc)


def open_window(s, src=None):
    ports, msg = s.generate(ADA, text="/generate ssh")
    if not ports:
        return False
    s.knock(ports, src=src)
    return True


def start(net, fw="nftables"):
    conf = pkstest.Suite(net, extra=ALLOW, services=SERVICE)
    conf.conf_text = conf.conf_text.replace("firewall %s" % pkstest.FIREWALL,
                                            "firewall %s" % fw)
    return conf.start()


def status(s):
    r = run([pkstest.binpath("pksctl"), "-s",
             os.path.join(s.dir, "pks.sock"), "status"], check=False)
    return r.stdout


def kill_everything(s):
    """kill -9: pks-fw first (so no parent-death SIGTERM reaches it), the
    other children, then the monitor."""
    pids = [s.monitor.child_pid(n) for n in
            ("pks-fw", "pks-sniffer", "pks-telegram")]
    for pid in pids:
        if pid:
            os.kill(pid, signal.SIGKILL)
    os.kill(s.monitor.proc.pid, signal.SIGKILL)
    s.monitor.proc.wait(timeout=10)
    s.monitor = None
    return all(pids)


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    pkstest.set_deadline(240)
    with pkstest.Net() as net:
        if nft(net, "list", "ruleset").returncode != 0:
            tap.skip_all("no nft(8) or no nf_tables")
        s = start(net)
        s.echod()
        t = table(net)
        tap.ok(layout_ok(t, 2), "table inet pks: one chain at priority -10, "
               "two sets, 2 + 2 per service rules", json.dumps(t))
        tap.ok(t and "owner" in (t["table"][0].get("flags") or []),
               "the table is flagged owner", json.dumps(t and t["table"]))
        tap.ok(s.monitor.log.wait(r"firewall nftables: as configured", 5),
               "the choice is logged")
        tap.ok("firewall nftables" in status(s), "pksctl status shows the "
               "backend", status(s))
        tap.ok(not s.can_connect(), "the port is closed before a knock")

        # a window: one element, with a timeout; only its address gets in
        tap.ok(open_window(s), "a sequence is knocked")
        el = pkstest.wait_for(lambda: elements(net), 5)
        tap.ok(el and list(el) == [(CLI4, "tcp", 2222)] and
               0 < el[(CLI4, "tcp", 2222)] <= OPEN_FOR,
               "the window is one element of win4 with its timeout", el)
        tap.ok(s.can_connect(), "the knocker connects")
        tap.ok(not s.can_connect(src=CLI4_B), "another address does not")

        # foreign changes while PKS runs: refused by the kernel
        r = nft(net, "flush", "ruleset")
        tap.ok(layout_ok(table(net), 2) and elements(net),
               "nft flush ruleset leaves the table and the window",
               r.stderr)
        tap.ok(not s.can_connect(src=CLI4_B), "after the flush another "
               "address still cannot connect")
        for cmd in (["add", "rule", "inet", "pks", "input", "accept"],
                    ["delete", "table", "inet", "pks"],
                    ["flush", "chain", "inet", "pks", "input"],
                    ["add", "element", "inet", "pks", "win4",
                     "{ %s . tcp . 2222 }" % CLI4_B],
                    ["flush", "set", "inet", "pks", "win4"]):
            r = nft(net, *cmd)
            tap.ok(r.returncode != 0 and "Operation not permitted" in
                   r.stderr, "nft %s is refused" % " ".join(cmd[:3]),
                   r.stderr)
        tap.ok(layout_ok(table(net), 2) and
               list(elements(net)) == [(CLI4, "tcp", 2222)],
               "the table is as PKS left it", json.dumps(table(net)))

        # the same address knocks again: the element's end moves
        left = elements(net, "expires").get((CLI4, "tcp", 2222), 0)
        tap.ok(open_window(s) and pkstest.wait_for(
            lambda: elements(net, "expires").get((CLI4, "tcp", 2222), 0) >
            left, 5) and len(elements(net)) == 1,
            "a second knock extends the window: the same element, a later "
            "end", elements(net, "expires"))

        # kill -9 of everything while the window is open
        before = elements(net)
        tap.ok(kill_everything(s), "kill -9 pks-fw, pks-sniffer, "
               "pks-telegram and pks-monitor")
        t = table(net)
        tap.ok(layout_ok(t, 2) and elements(net),
               "the table and its window outlive PKS (persist)",
               json.dumps(t))
        tap.ok(not s.can_connect(src=CLI4_B), "another address still "
               "cannot connect")
        gone = pkstest.wait_for(lambda: not elements(net), OPEN_FOR + 3)
        tap.ok(gone, "the kernel removes the element at its timeout",
               before)
        tap.ok(not s.can_connect(), "the knocker's new connections fail "
               "after the window")
        tap.ok(not s.can_connect(src=CLI4_B), "so do the others'")
        tap.ok(layout_ok(table(net), 2), "the drop stays: fail closed")

        # a stale element of an orphaned table, then a restart
        r = nft(net, "add", "element", "inet", "pks", "win4",
                "{ %s . tcp . 2222 timeout 1h }" % CLI4_B)
        tap.ok(r.returncode == 0, "the orphaned table can be edited (the "
               "owner is gone): a stale element", r.stderr)
        s.bot.stop()
        s = start(net)
        tap.ok(s.monitor.log.wait(r"replacing table inet pks left by a "
                                  r"previous run", 5),
               "the restart adopts the table left behind")
        tap.ok(tables_named_pks(net) == 1 and layout_ok(table(net), 2),
               "one table, nothing doubled", json.dumps(table(net)))
        tap.ok(not elements(net), "the stale element is gone")
        tap.ok(not s.can_connect(src=CLI4_B), "its address cannot connect")
        r = nft(net, "add", "rule", "inet", "pks", "input", "accept")
        tap.ok(r.returncode != 0, "the new pks-fw owns the table again")
        tap.ok(open_window(s) and pkstest.wait_for(
            lambda: list(elements(net)) == [(CLI4, "tcp", 2222)], 5),
            "a window opens after the restart")
        s.stop()
        tap.ok(layout_ok(table(net), 2) and not elements(net),
               "SIGTERM closes every window, the table stays")
        nft(net, "delete", "table", "inet", "pks")

        # firewall auto
        s = start(net, "auto")
        tap.ok(s.monitor.log.wait(r"firewall auto: nftables, the legacy "
                                  r"filter table holds no rule", 5) and
               "firewall nftables" in status(s),
               "auto without legacy rules: nftables", status(s))
        s.stop()
        nft(net, "delete", "table", "inet", "pks")
        r = net.iptables("-A", "INPUT", "-s", "203.0.113.9", "-j", "DROP")
        s = start(net, "auto")
        tap.ok(s.monitor.log.wait(r"firewall auto: iptables, the legacy "
                                  r"filter table holds \d+ rules?", 5) and
               "firewall iptables" in status(s) and table(net) is None,
               "auto with legacy rules: iptables, no nftables table",
               status(s))
        s.stop()
        s.bot.stop()
        net.iptables("-F")
        malformed(net)
    tap.done()


def malformed(net):
    """pks-fw alone on nftables, the test playing the monitor: every
    malformed request is refused (EINVAL) and changes nothing."""
    import t_fw_traffic as F
    pkstest.FIREWALL = "nftables"
    uid = int(run(["id", "-u", "_pks"]).stdout)
    gid = int(run(["id", "-g", "_pks"]).stdout)
    mon = F.FakeMonitor(net, pkstest.empty_dir(), uid, gid)
    t, _ = mon.recv()
    tap.ok(t == F.IM["IMSG_READY"] and mon.backend == 1,
           "pks-fw alone: ready on nftables", mon.log.text())
    st = pkstest.proc_status(mon.proc.pid) or {}
    tap.ok(st.get("CapEff") == "0000000000001000" and
           st.get("CapBnd") == "0000000000001000" and
           st.get("Seccomp") == "2",
           "pks-fw keeps CAP_NET_ADMIN only, under seccomp", st)
    OPEN, CLOSE = "IMSG_FW_OPEN", "IMSG_FW_CLOSE"
    tap.ok(mon.window(OPEN, 1, CLI4)[2] == 0, "a window opens")
    ref = elements(net)
    EINVAL = 22
    for what, type_, args in (
            ("short", OPEN, None),
            ("an unprotected port", OPEN, dict(wid=2, addr=CLI4, port=22)),
            ("udp on a tcp service", OPEN,
             dict(wid=2, addr=CLI4, proto=17)),
            ("multicast", OPEN, dict(wid=2, addr="224.0.0.1")),
            ("ff02::1", OPEN, dict(wid=2, addr="ff02::1")),
            ("id 0", OPEN, dict(wid=0, addr=CLI4_B)),
            ("timeout 0", OPEN, dict(wid=2, addr=CLI4_B, timeout=0)),
            ("timeout past a day", OPEN,
             dict(wid=2, addr=CLI4_B, timeout=86401)),
            ("another key for an open id", CLOSE,
             dict(wid=1, addr=CLI4_B))):
        if args is None:
            mon.send(OPEN, b"\1\2\3")
            res = mon.result()
        else:
            res = mon.window(type_, **args)
        tap.ok(res is not None and res[2] == EINVAL and
               elements(net) == ref, "%s %s: EINVAL, nothing changes" %
               (type_, what), res)
    mon.send("IMSG_FW_CLOSE_ALL", b"x")
    tap.ok(mon.result()[2] == EINVAL and elements(net) == ref,
           "IMSG_FW_CLOSE_ALL with a payload: EINVAL")
    mon.send("IMSG_SEQ_ADD", b"\0" * 56)
    res = mon.result()
    tap.ok(res and res[2] == EINVAL and elements(net) == ref,
           "a message meant for another child: EINVAL", mon.log.text())
    tap.ok(mon.window(CLOSE, 1, CLI4)[2] == 0 and not elements(net),
           "the window closes")
    tap.ok(mon.window(CLOSE, 1, CLI4)[2] == 2, "closing it again: ENOENT")
    mon.proc.send_signal(signal.SIGUSR2)
    try:
        rc = mon.proc.wait(timeout=10)
    except Exception:
        rc = None
    tap.ok(rc == -signal.SIGSYS or rc == 128 + signal.SIGSYS or
           (rc is not None and rc != 0), "a forbidden syscall kills "
           "pks-fw on nftables too", rc)
    tap.ok(layout_ok(table(net), 1), "the table outlives it")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""t_knock_client: pks-knock sends exactly the knocks it is asked for.

A raw AF_PACKET socket in the server namespace records every TCP SYN and
UDP datagram that reaches the server; pks-knock runs in the client
namespace.  Checked: one SYN per TCP knock and in order (no retransmit),
UDP knocks, IPv6, the prompt, the exit statuses, running the command
after "--", and the Windows build under wine when wine is there.
"""

import os
import shutil
import subprocess
import tempfile
import time

from pkstest import (tap, require_root, binpath, spawn, run, Net, LogWatch,
                     SRV4, SRV6, CLI4, CLI6)

# Runs in the server namespace: one line per knock that arrives there.
SNIFF = r"""
import select, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
mine = {socket.inet_pton(socket.AF_INET, sys.argv[2]),
        socket.inet_pton(socket.AF_INET6, sys.argv[3])}
print("ready", flush=True)
end = time.time() + 600
while time.time() < end:
    r = select.select([s, sys.stdin], [], [], 1)[0]
    if sys.stdin in r and not sys.stdin.readline():
        break
    if s not in r:
        continue
    pkt, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    et, p = struct.unpack("!H", pkt[12:14])[0], pkt[14:]
    if et == 0x0800:
        fam, proto, src, dst = socket.AF_INET, p[9], p[12:16], p[16:20]
        l4 = p[(p[0] & 15) * 4:]
    elif et == 0x86dd:
        fam, proto, src, dst = socket.AF_INET6, p[6], p[8:24], p[24:40]
        l4 = p[40:]
    else:
        continue
    if dst not in mine or len(l4) < 8:
        continue
    port = struct.unpack("!H", l4[2:4])[0]
    who = socket.inet_ntop(fam, src)
    if proto == 6 and len(l4) >= 20 and l4[13] & 0x12 == 0x02:	# SYN, no ACK
        print("tcp", who, port, flush=True)
    elif proto == 17:
        print("udp", who, port, flush=True)
"""

KNOCK = binpath("pks-knock")
EXE = binpath("pks-knock.exe")
PORTS = ["41233", "9120", "60111"]


def pkts(proto, src, ports):
    return ["%s %s %s" % (proto, src, p) for p in ports]


class Sniffer:
    def __init__(self, net):
        self.p = spawn(["python3", "-c", SNIFF, "veth-s", SRV4, SRV6],
                       ns=net.srv, stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, text=True)
        self.log = LogWatch(self.p.stdout)
        if self.log.wait("^ready$", 10) is None:
            raise RuntimeError("sniffer did not start")

    def mark(self):
        return len(self.log.lines)

    def since(self, mark, want=0, settle=0.3):
        """Knocks seen after mark: wait for want of them, then settle."""
        end = time.time() + 10
        while len(self.log.lines) - mark < want and time.time() < end:
            time.sleep(0.02)
        time.sleep(settle)
        return self.log.lines[mark:]


def knock(net, args, stdin="", timeout=30, prog=None, env=None):
    return run((prog or [KNOCK]) + args, ns=net.cli, check=False,
               input=stdin, timeout=timeout, env=env)


def expect(net, sn, name, args, want, stdin="", settle=0.3, **kw):
    """pks-knock exits 0 and exactly want arrives, in order."""
    m = sn.mark()
    r = knock(net, args, stdin, **kw)
    got = sn.since(m, len(want), settle)
    tap.ok(r.returncode == 0 and got == want, name,
           "exit %d, stderr %r\nwant %r\ngot  %r" %
           (r.returncode, r.stderr, want, got))
    return r


def status(net, sn, name, args, code, msg=None, stdin=""):
    """pks-knock exits code, says msg, and sends nothing."""
    m = sn.mark()
    r = knock(net, args, stdin)
    got = sn.since(m, 0, 0.1)
    tap.ok(r.returncode == code and got == [] and
           (msg is None or msg in r.stderr), name,
           "exit %d (want %d), stderr %r, sent %r" %
           (r.returncode, code, r.stderr, got))


def isolated(net):
    """The client namespace can reach nothing but the server."""
    links = run(["ip", "-o", "link", "show"], ns=net.cli).stdout
    names = sorted(l.split(":")[1].strip().split("@")[0]
                   for l in links.splitlines())
    routes = (run(["ip", "-4", "route", "show", "default"], ns=net.cli).stdout +
              run(["ip", "-6", "route", "show", "default"], ns=net.cli).stdout)
    return names == ["lo", "veth-c"] and routes.strip() == ""


def test_linux(net, sn):
    r = expect(net, sn, "three_tcp_knocks_three_syns_in_order",
               ["-v", SRV4] + PORTS, pkts("tcp", CLI4, PORTS), settle=1.5)
    tap.ok(r.stderr.count("pks-knock: knock ") == 3 and
           "knock 1/3: 198.18.0.1 tcp/41233" in r.stderr,
           "verbose_prints_each_knock", r.stderr)
    expect(net, sn, "udp_for_all_with_u", ["-u", SRV4] + PORTS,
           pkts("udp", CLI4, PORTS))
    expect(net, sn, "per_port_protocol",
           [SRV4, "41233:udp", "9120", "60111:udp"],
           ["udp %s 41233" % CLI4, "tcp %s 9120" % CLI4,
            "udp %s 60111" % CLI4])
    expect(net, sn, "ipv6_with_6", ["-6", SRV6] + PORTS,
           pkts("tcp", CLI6, PORTS))
    expect(net, sn, "ipv6_udp", ["-u", SRV6, "5000"],
           pkts("udp", CLI6, ["5000"]))
    t0 = time.time()
    expect(net, sn, "delay_option", ["-d", "200", SRV4] + PORTS,
           pkts("tcp", CLI4, PORTS))
    tap.ok(time.time() - t0 >= 0.4, "delay_is_waited")

    expect(net, sn, "prompt_takes_pasted_command", [SRV4],
           pkts("tcp", CLI4, PORTS),
           stdin="pks-knock 198.18.0.1 41233, 9120 60111\n")
    expect(net, sn, "prompt_takes_plain_list", ["-u", SRV4],
           pkts("udp", CLI4, PORTS), stdin="41233 9120 60111")
    r = expect(net, sn, "prompt_other_host_warns", [SRV4],
               pkts("tcp", CLI4, ["7"]), stdin="pks-knock elsewhere 7\n")
    tap.ok("warning: the pasted command names elsewhere" in r.stderr,
           "prompt_other_host_warning_text", r.stderr)

    status(net, sn, "no_arguments_64", [], 64, "usage:")
    status(net, sn, "unknown_option_64", ["-x", SRV4, "1"], 64, "usage:")
    status(net, sn, "bad_delay_64", ["-d", "60001", SRV4, "1"], 64,
           "pks-knock: -d 60001: delay must be 0..60000 ms")
    status(net, sn, "port_out_of_range_64", [SRV4, "1", "70000"], 64,
           "pks-knock: 70000: port out of range")
    status(net, sn, "port_zero_64", [SRV4, "0"], 64,
           "pks-knock: 0: port out of range")
    status(net, sn, "junk_port_64", [SRV4, "12x"], 64,
           "pks-knock: 12x: not a port")
    status(net, sn, "bad_protocol_64", [SRV4, "1:icmp"], 64,
           "pks-knock: 1:icmp: unknown protocol (tcp or udp)")
    status(net, sn, "too_many_ports_64",
           [SRV4] + [str(i) for i in range(1, 18)], 64,
           "pks-knock: too many ports (at most 16)")
    status(net, sn, "empty_prompt_64", [SRV4], 64,
           "pks-knock: no ports given")
    status(net, sn, "junk_prompt_64", [SRV4], 64,
           "pks-knock: hello: not a port", stdin="hello 1 2\n")
    status(net, sn, "dashdash_without_command_64", [SRV4, "1", "--"], 64,
           "usage:")

    tap.ok(isolated(net), "client_namespace_reaches_only_the_server")
    status(net, sn, "unknown_host_68", ["no-such-host.invalid", "1"], 68,
           "pks-knock: no-such-host.invalid: ")
    status(net, sn, "v4_address_with_6_68", ["-6", SRV4, "1"], 68)
    status(net, sn, "v6_address_with_4_68", ["-4", SRV6, "1"], 68)
    # 198.19.0.1 has no route in the client namespace: nothing leaves
    status(net, sn, "unreachable_69", ["198.19.0.1", "1"], 69,
           "pks-knock: 198.19.0.1 tcp/1: connect: Network is unreachable")

    m = sn.mark()
    r = knock(net, [SRV4, "41233", "--", "/bin/sh", "-c", "exit 7"])
    got = sn.since(m, 1)
    tap.ok(r.returncode == 7 and got == pkts("tcp", CLI4, ["41233"]),
           "command_runs_after_knocks_its_status_7",
           "exit %d, sent %r" % (r.returncode, got))
    r = knock(net, [SRV4, "--", "/bin/sh", "-c", 'read x; echo "[$x]"'],
              stdin="41233\nleft for the command\n")
    tap.ok(r.returncode == 0 and r.stdout == "[left for the command]\n",
           "prompt_leaves_rest_of_stdin_to_command",
           "exit %d, stdout %r" % (r.returncode, r.stdout))
    r = knock(net, [SRV4, "41233", "--", "/nonexistent/cmd"])
    tap.ok(r.returncode == 127 and "/nonexistent/cmd" in r.stderr,
           "missing_command_127", "exit %d %r" % (r.returncode, r.stderr))


def skip(name, why):
    tap.ok(True, "%s # SKIP %s" % (name, why))


def test_wine(net, sn):
    wine = shutil.which("wine64") or shutil.which("wine")
    if not wine:
        skip("wine_knocks", "wine is not installed (apt-get install wine)")
        return
    if not os.path.exists(EXE):
        skip("wine_knocks", "%s not built (make TESTHOOKS=1 client-windows)"
             % EXE)
        return
    prefix = tempfile.mkdtemp(prefix="pks-wine-")
    env = dict(os.environ, WINEPREFIX=prefix, WINEDEBUG="-all",
               WINEDLLOVERRIDES="mscoree,mshtml=")
    try:
        # the first run builds the prefix: slow
        try:
            r = knock(net, [], timeout=120, prog=[wine, EXE], env=env)
            why = "exit %d: %s" % (r.returncode,
                                   (r.stderr.strip().splitlines() or
                                    ["no output"])[-1])
            ok = r.returncode == 64 and "usage:" in r.stderr
        except subprocess.TimeoutExpired:
            ok, why = False, "wine did not finish within 120 s"
        if not ok:
            skip("wine_knocks", "wine cannot run pks-knock.exe here: " + why)
            return
        expect(net, sn, "wine_tcp_and_udp_knocks",
               [SRV4, "41233", "9120:udp", "60111"],
               ["tcp %s 41233" % CLI4, "udp %s 9120" % CLI4,
                "tcp %s 60111" % CLI4], settle=1.5, timeout=120,
               prog=[wine, EXE], env=env)
        expect(net, sn, "wine_prompt", [SRV4], pkts("tcp", CLI4, PORTS),
               stdin="pks-knock 198.18.0.1 41233, 9120 60111\n",
               timeout=120, prog=[wine, EXE], env=env)
        r = knock(net, [SRV4, "1", "--", "cmd", "/c", "exit 7"],
                  timeout=120, prog=[wine, EXE], env=env)
        tap.ok(r.returncode == 7, "wine_command_status_7",
               "exit %d %r" % (r.returncode, r.stderr))
        r = knock(net, ["no-such-host.invalid", "1"], timeout=120,
                  prog=[wine, EXE], env=env)
        tap.ok(r.returncode == 68, "wine_unknown_host_68",
               "exit %d %r" % (r.returncode, r.stderr))
    finally:
        subprocess.run(["wineserver", "-k"], env=env,
                       stderr=subprocess.DEVNULL, timeout=30)
        shutil.rmtree(prefix, True)


def main():
    require_root()
    if not tap.ok(os.access(KNOCK, os.X_OK), "pks-knock_is_built", KNOCK):
        tap.done()
    with Net() as net:
        sn = Sniffer(net)
        test_linux(net, sn)
        test_wine(net, sn)
        sn.p.stdin.close()
    tap.done()


if __name__ == "__main__":
    main()

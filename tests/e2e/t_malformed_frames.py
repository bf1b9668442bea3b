#!/usr/bin/env python3
"""A corpus of malformed frames sent on the wire at the sniffer, many aimed
at live knock ports: truncated headers at every layer, bad lengths, IPv4
fragments, IPv6 extension-header chains that run past the end, VLAN tags,
random junk.  Nothing crashes, nothing opens, and a real knock still works
afterwards."""
import random
import socket
import struct
import subprocess
import time

import pkstest
from pkstest import tap, ADA

SRC4, DST4 = bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1])
SRC6 = socket.inet_pton(socket.AF_INET6, "fd00::2")
DST6 = socket.inet_pton(socket.AF_INET6, "fd00::1")


def tcp(dport, flags=0x02, off=5, extra=b""):
    return struct.pack("!HHIIBBHHH", 40000, dport, 1, 0, off << 4, flags,
                       1024, 0, 0) + extra


def ip4(payload, proto=6, ihl=5, tot=None, frag=0):
    tot = tot if tot is not None else 20 + len(payload)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot & 0xffff, 1,
                       frag, 64, proto, 0, SRC4, DST4) + payload


def ip6(payload, nh=6, plen=None):
    plen = plen if plen is not None else len(payload)
    return struct.pack("!IHBB16s16s", 0x60000000, plen & 0xffff, nh, 64,
                       SRC6, DST6) + payload


def ext(nh, body_len8=0):
    return struct.pack("!BB", nh, body_len8) + b"\x01\x04" + b"\0" * (4 + 8
                                                                   * body_len8)


def frames(dst_mac, src_mac, ports):
    eth4 = dst_mac + src_mac + b"\x08\x00"
    eth6 = dst_mac + src_mac + b"\x86\xdd"
    p = ports[0]
    out = []
    good4 = ip4(tcp(p))
    # every truncation of a valid IPv4 SYN to a live port
    for n in range(0, len(good4)):
        out.append(eth4 + good4[:n])
    out.append(eth4 + ip4(tcp(p), ihl=4))                  # IHL too small
    out.append(eth4 + ip4(tcp(p), ihl=15))                 # IHL past end
    out.append(eth4 + ip4(tcp(p), tot=2000))               # length lies
    out.append(eth4 + ip4(tcp(p), tot=10))
    out.append(eth4 + ip4(tcp(p, off=2)))                  # TCP offset < 5
    out.append(eth4 + ip4(tcp(p, off=15)))                 # offset past end
    out.append(eth4 + ip4(tcp(p), frag=0x2000))            # more fragments
    out.append(eth4 + ip4(tcp(p), frag=0x0010))            # offset != 0
    out.append(eth4 + ip4(b"\x00" * 3, proto=17))          # short UDP
    # IPv6: long chains, chains past the end, fragments
    chain = b""
    nh = 6
    for _ in range(40):
        chain = ext(nh) + chain
        nh = 0
    out.append(eth6 + ip6(chain + tcp(p), nh=0))
    out.append(eth6 + ip6(ext(6, 200) + tcp(p), nh=0))     # ext too long
    out.append(eth6 + ip6(struct.pack("!BBHI", 6, 0, 1, 7) + tcp(p), nh=44))
    out.append(eth6 + ip6(tcp(p), plen=3000))
    good6 = ip6(ext(60) + ext(6) + tcp(p), nh=0)
    for n in range(0, len(good6)):
        out.append(eth6 + good6[:n])
    # VLAN tags: one, nested, truncated
    vlan = dst_mac + src_mac + b"\x81\x00\x00\x05"
    out.append(vlan + b"\x08\x00" + good4)
    out.append(dst_mac + src_mac + b"\x88\xa8\x00\x05\x81\x00\x00\x06"
               b"\x08\x00" + good4)
    for n in range(12, 20):
        out.append((vlan + b"\x08\x00" + good4)[:n])
    out.append(dst_mac + src_mac + b"\x81\x00" * 30)
    # junk, bounded
    rnd = random.Random(1)
    for _ in range(2000):
        hdr = eth4 if rnd.random() < 0.5 else eth6
        out.append(hdr + bytes(rnd.getrandbits(8)
                               for _ in range(rnd.randrange(0, 120))))
    return out


def mac(ns, dev):
    r = pkstest.run(["cat", "/sys/class/net/%s/address" % dev], ns=ns)
    return bytes.fromhex(r.stdout.strip().replace(":", ""))


SENDER = r"""
import socket, sys, pickle
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("veth-c", 0))
n = 0
for f in pickle.load(sys.stdin.buffer):
    if len(f) < 14:
        f = f + b"\0" * (14 - len(f))
    try:
        s.send(f)
        n += 1
    except OSError:
        pass
print(n)
"""


def main():
    import pickle
    with pkstest.running(barrier=True) as s:
        net = s.net
        pids = {n: s.monitor.child_pid(n) for n in
                ("pks-sniffer", "pks-fw", "pks-telegram")}
        ports, _ = s.generate(ADA)
        corpus = frames(mac(net.srv, "veth-s"), mac(net.cli, "veth-c"),
                        ports)
        r = subprocess.run(["ip", "netns", "exec", net.cli, "python3", "-c",
                            SENDER], input=pickle.dumps(corpus),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        tap.ok(r.returncode == 0, "%d malformed frames sent" % len(corpus),
               r.stderr)
        # the barrier's knock, sent after the corpus, opens once the
        # sniffer has judged every frame of it (or once a new one runs)
        s.barrier()
        tap.ok(all(s.monitor.child_pid(n) == pid for n, pid in
                   pids.items()), "every process is still the same one")
        tap.ok(not [r for r in s.windows() if r not in
                s.windows(pkstest.BARRIER_SRC)], "nothing opened")
        time.sleep(2.5)		# past any cooldown the corpus caused
        s.knock(ports)
        tap.ok(pkstest.wait_for(lambda: s.windows(pkstest.CLI4),
                                5), "a real knock still works afterwards")
        s.stop()
        tap.ok(s.monitor.log.lacks(r"killed by signal|sandbox "
                                   r"violation|exited"),
               "nothing died", s.monitor.log.text())
    tap.done()


if __name__ == "__main__":
    main()

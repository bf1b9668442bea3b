#!/usr/bin/env python3
"""Small network tools the end-to-end tests run inside their namespaces.

  netutil.py echod PORT [v6]          echo server (stands for sshd)
  netutil.py connect HOST PORT [SRC]  exit 0 if a TCP connection is made
  netutil.py session HOST PORT        connect, then echo stdin lines through
  netutil.py knock HOST PROTO SRC P.. one SYN (or datagram) per port
  netutil.py burst HOST COUNT P...     COUNT UDP datagrams, as fast as one
                                      socket goes, over ports P...
  netutil.py rawsyns SRC HOST P...    one bare TCP SYN per port, back to
                                      back from one raw socket (no
                                      connection made)
  netutil.py sweep HOST ORDER LO HI   one SYN per port, in ORDER
                                      (asc, desc, random, or
                                      aligned:P1,P2,...: each Pi's
                                      neighbourhood ascending, in
                                      that order, then the rest)

Only ever run inside a test's own network namespace.
"""
import errno
import random
import select
import socket
import struct
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def echod(port, v6=False):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if v6 else "0.0.0.0", port))
    s.listen(64)
    print("listening", flush=True)
    conns = []
    while True:
        r, _, _ = select.select([s] + conns, [], [])
        for c in r:
            if c is s:
                n, _ = s.accept()
                conns.append(n)
                continue
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            if not data:
                conns.remove(c)
                c.close()
            else:
                c.sendall(data)


def connect(host, port, src=None, timeout=1.5):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.sendall(b"ping\n")
        ok = s.recv(16) == b"ping\n"
    except OSError:
        ok = False
    s.close()
    return 0 if ok else 1


def session(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
    except OSError as e:
        print("failed %s" % e, flush=True)
        return 1
    print("connected", flush=True)
    for line in sys.stdin:
        try:
            s.sendall(line.encode())
            got = s.recv(4096).decode()
            print("echo " + got.strip(), flush=True)
        except OSError as e:
            print("error %s" % e, flush=True)
    return 0


def syn(host, port, src=None, proto="tcp"):
    fam = family(host)
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if src:
            s.bind((src, 0))
        try:
            s.sendto(b"k", (host, port))
        except OSError:
            pass
        s.close()
        return
    s = socket.socket(fam, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.setblocking(False)
    try:
        s.connect((host, port))
    except OSError as e:
        if e.errno not in (errno.EINPROGRESS, errno.ECONNREFUSED):
            raise
    s.close()


def _sum16(data):
    if len(data) % 2:
        data += b"\0"
    t = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


def rawsyns(src, host, ports):
    """A SYN per port from src, as fast as one raw socket sends them (a
    socket and a connect() per SYN take far longer: a loaded machine
    spreads those out)."""
    fam = family(host)
    s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.bind((src, 0))
    if fam == socket.AF_INET6:
        # the kernel fills in the TCP checksum at offset 16
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 16)
    pseudo = socket.inet_pton(fam, src) + socket.inet_pton(fam, host)
    sport = random.randint(32768, 60999)
    for p in ports[:100000]:
        tcp = struct.pack("!HHIIBBHHH", sport, int(p), random.getrandbits(32),
                          0, 5 << 4, 0x02, 64240, 0, 0)
        if fam == socket.AF_INET:
            c = _sum16(pseudo + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
            tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        s.sendto(tcp, (host, 0))
    s.close()
    return 0


def knock(host, proto, src, ports, delay=0.005):
    for p in ports:
        syn(host, int(p), None if src == "-" else src, proto)
        time.sleep(delay)
    return 0


def sweep(host, order, lo, hi):
    ports = list(range(lo, hi + 1))
    if order == "desc":
        ports.reverse()
    elif order == "random":
        random.shuffle(ports)
    elif order.startswith("aligned:"):
        # the luckiest sweep: it meets the sequence's ports in their
        # order, each with its neighbours, so only guards can stop it
        first, seen = [], set()
        for k in order[8:].split(","):
            for p in range(int(k) - 64, int(k) + 65):
                if lo <= p <= hi and p not in seen:
                    first.append(p)
                    seen.add(p)
        ports = first + [p for p in ports if p not in seen]
    end = time.time() + 120		# bounded in time as well as count
    for i, p in enumerate(ports):
        syn(host, p)
        if i % 2000 == 0:
            time.sleep(0.01)	# let the sniffer keep up, as a scan would
        if time.time() > end:
            return 2
    return 0


def burst(host, count, ports):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    end = time.time() + 30		# bounded in time as well as count
    for i in range(min(count, 1000000)):
        try:
            s.sendto(b"k", (host, ports[i % len(ports)]))
        except OSError:
            pass
        if i % 1000 == 0 and time.time() > end:
            return 2
    s.close()
    return 0


def main(argv):
    cmd = argv[1]
    if cmd == "echod":
        echod(int(argv[2]), len(argv) > 3)
    elif cmd == "connect":
        return connect(argv[2], int(argv[3]),
                       argv[4] if len(argv) > 4 else None)
    elif cmd == "session":
        return session(argv[2], int(argv[3]))
    elif cmd == "knock":
        return knock(argv[2], argv[3], argv[4], argv[5:])
    elif cmd == "rawsyns":
        return rawsyns(argv[2], argv[3], argv[4:])
    elif cmd == "burst":
        return burst(argv[2], int(argv[3]), [int(p) for p in argv[4:]])
    elif cmd == "sweep":
        return sweep(argv[2], argv[3], int(argv[4]), int(argv[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

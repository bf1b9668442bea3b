"""fleetnet: a fleet of PKS suites around a real mosquitto broker, for
tests/e2e/t_fleet.py, the fleet demo and the fleet benchmark.

A broker namespace with a bridge; each fleet member a pkstest.Suite (its
own server and client namespaces) with a leg to the bridge.  TLS
certificates are made here with openssl; the broker's ACL is the block
of doc/fleet.md, as an admin copies it.
"""
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile

import pkstest
from pkstest import run, spawn

BROKER = "198.19.0.1"
BROKER_NAME = "broker.pks.test"	# its name, for the hosts that use one
PORT = 8883			# client certificates
PW_PORT = 8884			# password-file (the same ACL)


def openssl(*args, cwd):
    run(["openssl"] + list(args), cwd=cwd)


def make_pki(d, names):
    """A CA, the broker's certificate (its address and BROKER_NAME as its
    names) and one client certificate per fleet member, CN = its name."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=PKS fleet test CA", "-keyout", "ca.key",
            "-out", "ca.pem", cwd=d)

    def leaf(name, ext=None):
        openssl("req", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-subj",
                "/CN=%s" % name, "-keyout", name + ".key", "-out",
                name + ".csr", cwd=d)
        extra = []
        if ext:
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write(ext)
            extra = ["-extfile", name + ".ext"]
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-out", name + ".pem", *extra, cwd=d)
        os.chmod(os.path.join(d, name + ".key"), 0o600)

    leaf("broker", "subjectAltName=IP:%s,DNS:%s\n" % (BROKER, BROKER_NAME))
    for n in names:
        leaf(n)
    # mosquitto runs as the mosquitto user when started as root
    os.chmod(d, 0o755)
    shutil.chown(os.path.join(d, "broker.key"), "mosquitto")


def doc_acl():
    """The ACL file of doc/fleet.md, as an admin copies it."""
    text = open(os.path.join(pkstest.TOP, "doc", "fleet.md")).read()
    m = re.search(r"```\n(# pks-fleet ACL.*?)```", text, re.S)
    return m.group(1)


def doc_conf(d):
    """mosquitto's configuration of doc/fleet.md, as an admin copies it:
    the certificate listener (PORT), then the password one (PW_PORT),
    its files in d instead of /etc/mosquitto/pks."""
    text = open(os.path.join(pkstest.TOP, "doc", "fleet.md")).read()
    main = re.search(r"`/etc/mosquitto/conf\.d/pks\.conf`[^`]*:\n\n"
                     r"```\n(.*?)```", text, re.S)
    pw = re.search(r"```\n(listener %d\n.*?)```" % PW_PORT, text, re.S)
    if (main is None or pw is None or
            not re.search(r"(?m)^listener %d$" % PORT, main.group(1))):
        raise RuntimeError("doc/fleet.md: no mosquitto configuration with "
                           "listeners %d and %d" % (PORT, PW_PORT))
    return (main.group(1) + pw.group(1)).replace("/etc/mosquitto/pks/",
                                                 d + "/")


class Broker:
    """mosquitto in its own namespace, a bridge to every server ns."""

    def __init__(self, d, tag):
        self.d = d
        self.ns = "pks-brk-" + tag
        self.proc = None
        self.log = None
        self.nlinks = 0
        run(["ip", "netns", "add", self.ns])
        run(["ip", "link", "set", "lo", "up"], ns=self.ns)
        run(["ip", "link", "add", "br0", "type", "bridge"], ns=self.ns)
        run(["ip", "addr", "add", BROKER + "/24", "dev", "br0"], ns=self.ns)
        run(["ip", "link", "set", "br0", "up"], ns=self.ns)
        with open(os.path.join(d, "acl"), "w") as f:
            f.write(doc_acl())
        with open(os.path.join(d, "mosquitto.conf"), "w") as f:
            # the tests' own: nothing kept, the log on stderr; then the
            # configuration of doc/fleet.md (the namespace holds only
            # the broker: its listeners take every address of it)
            f.write("persistence false\n"
                    "log_dest stderr\n"
                    "log_type error\nlog_type warning\nlog_type notice\n"
                    "log_type information\n" + doc_conf(d))

    def link(self, srv_ns):
        """A leg from a server namespace to the bridge."""
        self.nlinks += 1
        a = "veth-b%d" % self.nlinks
        run(["ip", "link", "add", "veth-b", "netns", srv_ns, "type",
             "veth", "peer", "name", a, "netns", self.ns])
        run(["ip", "link", "set", a, "master", "br0"], ns=self.ns)
        run(["ip", "link", "set", a, "up"], ns=self.ns)
        run(["ip", "addr", "add", "198.19.0.%d/24" % (10 + self.nlinks),
             "dev", "veth-b"], ns=srv_ns)
        run(["ip", "link", "set", "veth-b", "up"], ns=srv_ns)

    def start(self):
        self.proc = spawn(["mosquitto", "-c",
                           os.path.join(self.d, "mosquitto.conf")],
                          ns=self.ns, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
        self.log = pkstest.LogWatch(self.proc.stderr)
        if self.log.wait(r"Opening ipv4 listen socket", 10) is None:
            raise RuntimeError("mosquitto did not start:\n" +
                               self.log.text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pub(self, who, topic, payload, qos=1):
        """mosquitto_pub with who's certificate; its result.  A list of
        payloads goes as one message per line, over one connection."""
        args = ["mosquitto_pub", "-V", "mqttv5", "-h", BROKER, "-p",
                str(PORT), "--cafile", os.path.join(self.d, "ca.pem"),
                "--cert", os.path.join(self.d, who + ".pem"),
                "--key", os.path.join(self.d, who + ".key"),
                "-i", "test-" + who, "-q", str(qos), "-t", topic]
        if isinstance(payload, list):
            return run(args + ["-l"], ns=self.ns, check=False, timeout=20,
                       input="".join(p + "\n" for p in payload))
        return run(args + ["-m", payload], ns=self.ns, check=False,
                   timeout=20)

    def destroy(self):
        self.stop()
        subprocess.run(["ip", "netns", "del", self.ns],
                       stderr=subprocess.DEVNULL)


def require():
    """Root, the test user, and the broker's tools: else skip."""
    pkstest.require_root()
    pkstest.ensure_user()
    for tool in ("mosquitto", "mosquitto_pub", "openssl"):
        if shutil.which(tool) is None:
            pkstest.tap.skip_all("%s is not installed (tests/packages.txt)"
                                 % tool)


def make_secret(d, name):
    """The key a host shares with the front: 32 random bytes in hex (what
    doc/fleet.md tells an admin to make), root-owned, mode 0600."""
    path = os.path.join(d, name + ".secret")
    with open(path, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    return path


def secret_of(d, name):
    with open(os.path.join(d, name + ".secret"), "rb") as f:
        return f.read().rstrip(b"\r\n\t ")


# The MAC of fleet messages (doc/fleet.md, pks-monitor/fleetauth.c),
# written again here from the documentation: HMAC-SHA256 with the shared
# key over a label, then the fields, big-endian, strings after a 32-bit
# length.
def _s(v):
    b = v.encode() if isinstance(v, str) else v
    return struct.pack(">I", len(b)) + b


CMDS = {"generate": 1, "status": 2, "windows": 3, "users": 4,
        "lockdown": 5, "unlock": 6, "close": 7, "grant": 8, "ungrant": 9,
        "revoke-user": 10, "revoke": 11,
        "recovery": 12, "services": 13}


def mac(key, host, o):
    """The hex MAC of the message o (a dict as it goes on the wire) of
    host's topics."""
    t = o["type"]
    # an answer's label names its version (2: bound to its request)
    m = _s("pks-fleet reply 2" if t == "reply" else "pks-fleet " + t)
    if t == "req":
        m += struct.pack(">Qqq", o["id"], o["at"], o["exp"])
        m += _s(host) + struct.pack(">III", CMDS[o["cmd"]],
                                    int(o["private"]), o["age"])
        m += struct.pack(">qq", o["user"], o["chat"]) + _s(o["name"])
        m += struct.pack(">I", len(o["args"]))
        m += b"".join(_s(a) for a in o["args"])
    elif t == "sent":
        m += struct.pack(">Q", o["id"]) + _s(host)
        m += struct.pack(">iiqq", int(o["ok"]), o["status"], o["where"],
                         o["msg"])
    else:
        m += _s(host)
        m += (struct.pack(">Qqq", o["id"], o["user"], o["chat"]) +
              _s(bytes.fromhex(o["req"])) + struct.pack(">I", o["to"])
              if t == "reply" else
              struct.pack(">qqq", o["chat"], o["msg"], o["at"]))
        m += _s(o["text"]) + _s(o["alt"]) + struct.pack(">I",
                                                        len(o["marks"]))
        m += b"".join(struct.pack(">II", off, st) for off, st in o["marks"])
    return hmac.new(key, m, hashlib.sha256).hexdigest()


def signed(key, host, o):
    """o as JSON, with its MAC."""
    o = dict(o)
    o["mac"] = mac(key, host, o)
    return json.dumps(o)


def fleet_block(d, name, role, timeout, password=False, hosts=(),
                broker=BROKER):
    """A fleet block: name logs in with its certificate, or with a
    password (made here, in the broker's password file too); a host
    names its secret-file, the front every host's.  broker: the broker's
    address, or a name (see Fleet.named)."""
    if password:
        pw = os.path.join(d, name + ".password")
        with open(pw, "w") as f:
            f.write("pw-of-%s-%d\n" % (name, os.getpid()))
        os.chmod(pw, 0o600)
        run(["mosquitto_passwd", "-b", os.path.join(d, "passwd"), name,
             "pw-of-%s-%d" % (name, os.getpid())])
        shutil.chown(os.path.join(d, "passwd"), "mosquitto")
        login, port = '\tpassword-file "%s"\n' % pw, PW_PORT
    else:
        login = '\tcert-file "%s/%s.pem"\n\tkey-file "%s/%s.key"\n' % (
            d, name, d, name)
        port = PORT
    if role == "front":
        keys = "".join('\thost %s secret-file "%s/%s.secret"\n' % (h, d, h)
                       for h in hosts)
    else:
        keys = '\tsecret-file "%s/%s.secret"\n' % (d, name)
    return ('fleet {\n\tbroker "mqtts://%s:%d"\n\tca-file "%s/ca.pem"\n'
            '%s\tname %s\n\trole %s\n\ttimeout %d\n%s}\n' %
            (broker, port, d, login, name, role, timeout, keys))


def name_broker(ns, names):
    """names resolve to the broker in namespace ns: the hosts file that
    ip netns exec puts over /etc/hosts for that namespace's processes
    (a directory of /etc/netns named after ns, removed by unname())."""
    d = os.path.join("/etc/netns", ns)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hosts"), "w") as f:
        f.write("127.0.0.1 localhost\n::1 localhost\n" +
                "".join("%s %s\n" % (BROKER, n) for n in names))


def unname(ns):
    shutil.rmtree(os.path.join("/etc/netns", ns), True)




class Fleet:
    """A broker, a front (with the fake Bot API) and hosts; rights maps a
    member's name to its allow lines.  start() brings everything up side
    by side, stop() takes it all down, whatever state it is in."""

    def __init__(self, hosts, rights, timeout=5, tag=None, password=(),
                 named=()):
        self.tag = tag or "%d" % os.getpid()
        # members that name the broker (BROKER_NAME) rather than give
        # its address: their server namespace resolves it
        self.named = named
        self.names = ("front",) + tuple(hosts)
        self.d = tempfile.mkdtemp(prefix="pks-fleet-")
        self.rights = rights
        self.timeout = timeout
        self.password = password	# hosts that log in with a password
        self.broker = None
        self.nets = []
        self.suites = {}

    def start(self):
        make_pki(self.d, self.names)
        # the broker's password file, before it starts (one dummy entry)
        run(["mosquitto_passwd", "-c", "-b", os.path.join(self.d, "passwd"),
             "nobody-%s" % self.tag, "x"])
        shutil.chown(os.path.join(self.d, "passwd"), "mosquitto")
        for n in self.names[1:]:
            make_secret(self.d, n)
        blocks = {n: fleet_block(self.d, n, "front" if n == "front" else
                                 "host", self.timeout, n in self.password,
                                 self.names[1:], BROKER_NAME if n in
                                 self.named else BROKER)
                  for n in self.names}
        self.broker = Broker(self.d, self.tag)
        self.broker.start()
        for name in self.names:
            net = pkstest.Net(tag="%s-%s" % (self.tag, name))
            net.create()
            self.nets.append(net)
            self.broker.link(net.srv)
            if name in self.named:
                name_broker(net.srv, (BROKER_NAME,))
            self.suites[name] = pkstest.Suite(
                net, telegram=(name == "front"),
                extra=self.rights.get(name, "") + blocks[name])
        for name in self.names:
            self.suites[name].start(wait_ready=False)
        for name in self.names:
            log = self.suites[name].monitor.log
            if log.wait(r"pks-monitor: all children ready", 60) is None:
                raise RuntimeError("%s did not start:\n%s" %
                                   (name, log.text()))
            self.suites[name].echod()
        return self

    def connected(self):
        """tap: each member's pks-fleet connects to the broker; the front
        hears of each host."""
        for name in self.names:
            log = self.suites[name].monitor.log
            pkstest.tap.ok(log.wait(r"pks-fleet: connected to the broker",
                                    15) is not None,
                           "%s is connected" % name, log.text()[-1500:])
        for name in self.names[1:]:
            self.suites["front"].monitor.log.wait(
                r"fleet: host %s is there" % name, 10)

    def stop(self):
        # every monitor closes its windows at once, then each is waited
        for s in self.suites.values():
            if s.monitor and s.monitor.proc.poll() is None:
                s.monitor.proc.send_signal(signal.SIGTERM)
        for s in self.suites.values():
            if s.monitor:
                try:
                    s.monitor.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        for s in self.suites.values():
            try:
                s.stop()
            except Exception as e:		# noqa: BLE001
                pkstest.tap.diag("stop: %s" % e)
        if self.broker:
            self.broker.destroy()
        for net in self.nets:
            unname(net.srv)
            net.destroy()
        shutil.rmtree(self.d, True)

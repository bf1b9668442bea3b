"""tlsca: a throwaway certificate authority for the fake Bot API server.

make_ca(dir) runs openssl(1) to make a CA and a server certificate for
127.0.0.1, ::1 and localhost, signed by it.  Tests hand ca.pem to the
client, so the client's certificate checks run for real.
"""

import os
import subprocess

SAN = ("IP:127.0.0.1", "IP:::1", "DNS:localhost")


def _openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (args[0], r.stderr.strip()))


def paths(d):
    return {k: os.path.join(d, f) for k, f in
            (("ca", "ca.pem"), ("ca_key", "ca.key"), ("server", "server.pem"),
             ("server_key", "server.key"))}


def make_ca(d, extra_san=()):
    """Write ca.pem, ca.key, server.pem, server.key in d; return paths."""
    for s in extra_san:
        if not (s.startswith("IP:") or s.startswith("DNS:")):
            raise ValueError("bad subjectAltName %r (IP:x or DNS:x)" % s)
    os.makedirs(d, exist_ok=True)
    p = paths(d)
    old = os.umask(0o077)
    try:
        _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                  "-subj", "/CN=PKS fakebot test CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                  "-keyout", "ca.key", "-out", "ca.pem"], d)
        _openssl(["req", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes",
                  "-subj", "/CN=localhost", "-keyout", "server.key",
                  "-out", "server.csr"], d)
        ext = os.path.join(d, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=%s\n" % ",".join(SAN + tuple(extra_san)))
        _openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
                  "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                  "-extfile", "server.ext", "-out", "server.pem"], d)
    finally:
        os.umask(old)
    for junk in ("server.csr", "server.ext", "ca.srl"):
        try:
            os.unlink(os.path.join(d, junk))
        except OSError:
            pass
    # the CA certificate is public: let an unprivileged client read it
    os.chmod(p["ca"], 0o644)
    return p


def ensure_ca(d, extra_san=()):
    """Make the certificates in d unless they are all there already."""
    p = paths(d)
    if all(os.path.exists(v) for v in p.values()):
        return p
    return make_ca(d, extra_san)

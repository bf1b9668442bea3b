#!/usr/bin/env python3
"""pksctl against a running suite: every command, bad arguments, and the
socket refusing anyone but root."""
import os
import re
import signal
import subprocess

import pkstest
from pkstest import tap, CLI4, ADA


def main():
    with pkstest.running() as s:
        sock = os.path.join(s.dir, "pks.sock")

        def ctl(*args):
            return subprocess.run([pkstest.binpath("pksctl"), "-s", sock] +
                                  list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  timeout=10)

        st = os.stat(sock)
        tap.ok(st.st_uid == 0 and (st.st_mode & 0o777) == 0o600,
               "the control socket is root's, mode 0600")
        r = ctl("status")
        tap.ok(r.returncode == 0, "status works", r.stderr)
        for name in ("pks-monitor", "pks-telegram", "pks-sniffer", "pks-fw"):
            pid = s.monitor.child_pid(name) if name != "pks-monitor" else \
                s.monitor.proc.pid
            tap.ok(re.search(r"^%s\s+%d\s" % (name, pid), r.stdout, re.M),
                   "status shows %s with its pid" % name, r.stdout)

        ports, _ = s.generate(ADA)
        r = ctl("sequences")
        tap.ok(r.returncode == 0 and "Ada" in r.stdout and "ssh" in
               r.stdout and str(ADA) in r.stdout,
               "sequences shows owner and service", r.stdout)
        tap.ok(not any(re.search(r"\b%d\b" % p, r.stdout) for p in ports),
               "but not the ports")
        r = ctl("sequences", "-v")
        tap.ok(all(str(p) in r.stdout for p in ports),
               "sequences -v shows the ports")

        s.knock(ports)
        pkstest.wait_for(s.windows, 5)
        r = ctl("windows")
        tap.ok(CLI4 in r.stdout and "ssh" in r.stdout,
               "windows shows the open window", r.stdout)
        r = ctl("close", CLI4)
        tap.ok(r.returncode == 0 and "closing 1 window" in r.stdout,
               "close ADDRESS closes it", r.stdout)
        tap.ok(pkstest.wait_for(lambda: not s.windows(), 5),
               "and its rule goes")

        s.generate(ADA)
        r = ctl("revoke", str(ADA))
        tap.ok("revoked 1 sequence" in r.stdout, "revoke USER", r.stdout)
        s.generate(ADA)
        r = ctl("revoke", "all")
        tap.ok("revoked 1 sequence" in r.stdout, "revoke all")
        r = ctl("sequences")
        tap.ok(str(ADA) not in r.stdout, "nothing left live")
        # the children restart.  The old sniffer held stopped, its exit
        # comes last: until the new one is ready the monitor must not
        # say "all children ready" (it once did, counting the old one
        # on its way out, and a /generate then was refused: "knocks
        # cannot be heard right now")
        log = s.monitor.log
        sniffer = s.monitor.child_pid("pks-sniffer")
        os.kill(sniffer, signal.SIGSTOP)
        start = log.mark()
        r = ctl("reload")
        up = [log.wait(r"pks-monitor: %s: ready$" % n, 30, start)
              for n in ("pks-telegram", "pks-fw")]
        st = ctl("status").stdout
        # a log line of the monitor's after both, an end marker
        ctl("revoke", str(ADA))
        end = log.wait(r"pksctl: revoked \d+ sequence", 10, max(up) + 1
                       if None not in up else start)
        tap.ok(r.returncode == 0 and "reloaded" in r.stdout and
               None not in up, "reload: the new pks-telegram and pks-fw "
               "are ready", r.stdout + r.stderr + log.text()[-1500:])
        tap.ok(end is not None and log.lacks(r"all children ready", start,
                                             until=end),
               "while the old pks-sniffer is still on its way out: not "
               "'all children ready'", "\n".join(log.lines[start:]))
        tap.ok(re.search(r"^pks-sniffer\s+%d\s.*restarting$" % sniffer,
                         st, re.M), "pksctl status: pks-sniffer "
               "restarting", st)
        os.kill(sniffer, signal.SIGCONT)
        tap.ok(log.wait(r"pks-monitor: all children ready", 30, start)
               is not None and s.monitor.child_pid("pks-sniffer") not in
               (None, sniffer), "once the new one is ready, it is said",
               log.text()[-1500:])

        for bad in (["bogus"], ["revoke"], ["revoke", "12x"],
                    ["close", "not-an-address"], ["sequences", "-x"],
                    ["status", "extra"], []):
            r = ctl(*bad)
            tap.ok(r.returncode != 0 and ("usage:" in r.stderr or
                                          "error:" in r.stderr),
                   "bad arguments %s: an error, status %d" %
                   (bad, r.returncode), r.stdout + r.stderr)
        # the socket itself, past pksctl's own checks: malformed
        # requests get an error and change nothing
        import socket as so

        def raw(data):
            c = so.socket(so.AF_UNIX, so.SOCK_STREAM)
            c.settimeout(5)
            c.connect(sock)
            c.sendall(data)
            out = b""
            try:
                while True:
                    b = c.recv(4096)
                    if not b:
                        break
                    out += b
            except OSError:
                pass
            c.close()
            return out.decode(errors="replace")
        ports, msg = s.generate(ADA)
        for req, want in ((b"bogus\n", "error: unknown request"),
                          (b"\n", "error: empty request"),
                          (b"revoke 12x\n", "error: 12x: not a user id"),
                          (b"close 1.2.3\n", "error: 1.2.3: not an IPv4"),
                          (b"x" * 300, "error: request too long")):
            out = raw(req)
            tap.ok(out.startswith(want), "raw request %r: %s" %
                   (req[:20], want), out)
        r = ctl("sequences")
        tap.ok(ports and str(ADA) in r.stdout,
               "and none of them changed anything",
               "/generate: %r\nsequences: %s" % (msg, r.stdout))

        r = subprocess.run(["setpriv", "--reuid=_pks", "--regid=_pks",
                            "--clear-groups", pkstest.binpath("pksctl"),
                            "-s", sock, "status"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        tap.ok(r.returncode != 0 and "Permission denied" in r.stderr,
               "a user other than root is refused", r.stderr)
    tap.done()


if __name__ == "__main__":
    main()

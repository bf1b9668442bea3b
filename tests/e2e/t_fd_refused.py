#!/usr/bin/env python3
"""A child cannot freeze the monitor with a descriptor (issue 13, M1).

A stand-in for pks-telegram (a script in place of the binary, beside a
copy of the monitor) makes a TCP connection whose peer never reads, fills
it, sets SO_LINGER to 30 s and passes it to the monitor with SCM_RIGHTS.
Before, the monitor's close() of that descriptor was the last one and
blocked for the linger time: no window closed, pksctl got no answer.
Now the monitor's end of each socketpair refuses descriptors
(SO_PASSRIGHTS), and one that got through anyway is reset, not
lingered on: the monitor answers at once."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = r"""#!/usr/bin/python3
import os, socket, struct, sys, time
sys.path.insert(0, %(here)r)
import pksimsg
out = open(%(marker)r + ".tmp", "w")
ch = pksimsg.Channel(socket.socket(fileno=3))
ch.send(pksimsg.IMSG["IMSG_READY"])
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(1)
c = socket.create_connection(lst.getsockname())
c.setblocking(False)
n = 0
try:
    while True:
        n += c.send(b"x" * 65536)
except BlockingIOError:
    pass
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 30))
fd = c.detach()
try:
    ch.send(pksimsg.IMSG["IMSG_LOG"], struct.pack("<i", 6) + b"a socket",
            fd=fd)
    # ours at once: the monitor's close is then the last one
    os.close(fd)
    out.write("sent %%d\n" %% n)
except OSError as e:
    out.write("refused %%s\n" %% e.errno)
out.close()
os.rename(%(marker)r + ".tmp", %(marker)r)
time.sleep(600)
"""


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    d = tempfile.mkdtemp(prefix="pks-fd-")
    os.chmod(d, 0o755)
    bindir = os.path.join(d, "bin")
    os.mkdir(bindir)
    for b in ("pks-monitor", "pks-sniffer", "pks-fw", "pksctl"):
        shutil.copy2(pkstest.binpath(b), bindir)
    marker = os.path.join(d, "marker")
    fake = os.path.join(bindir, "pks-telegram")
    with open(fake, "w") as f:
        f.write(FAKE % {"here": HERE, "marker": marker})
    os.chmod(fake, 0o755)
    pkstest.BUILD = bindir
    with pkstest.Net() as net:
        # the stand-in is Python, whose start needs calls no PKS child
        # makes (gettid...), and the monitor's own filter bounds every
        # child: left out here (test builds only); what this test looks
        # at is the monitor's socket handling, not its filter
        s = pkstest.Suite(net).start(
            wrap=["env", "PKS_TEST_NO_MONITOR_SANDBOX=1"])
        tap.ok(pkstest.wait_for(lambda: os.path.exists(marker), 10),
               "the stand-in tried to pass a socket")
        what = open(marker).read().strip() if os.path.exists(marker) \
            else ""
        tap.diag("stand-in: " + what)
        time.sleep(1)
        t0 = time.monotonic()
        try:
            r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "status")
            answered = r.returncode == 0 and "pks-sniffer" in r.stdout
        except subprocess.TimeoutExpired:
            answered = False
        took = time.monotonic() - t0
        tap.ok(answered and took < 5, "the monitor answers pksctl at once "
               "(%.1f s)" % took)
        if what.startswith("refused"):
            tap.ok(what == "refused 1", "the kernel refused the descriptor "
                   "(EPERM)", what)
        else:
            tap.ok(s.monitor.log.wait(r"sent a file descriptor: killing",
                                      5) is not None, "the descriptor "
                   "was reset and the stand-in killed", s.monitor.log.text())
        tap.ok(s.monitor.proc.poll() is None, "the monitor runs on")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

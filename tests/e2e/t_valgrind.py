#!/usr/bin/env python3
"""No invalid memory access and no definite leak, under valgrind.

- every cmocka unit test binary ($PKS_BUILD/tests/test_*);
- pks-monitor, in the server namespace with the fake Bot API, through a
  /generate, a knock and the window it opens, then SIGTERM (its children
  run natively: under valgrind their seccomp filters would kill them);
- pks-knock, knocking that sequence from the client namespace.
valgrind exits with VALGRIND_ERROR when it found an error; its report is
shown on failure.
"""

import concurrent.futures
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pkstest
from pkstest import tap, BUILD, SRV4, CLI4, ADA

DEADLINE = 300		# seconds: bail out rather than hang make check


def reports(pattern):
    """The non-empty valgrind logs a run left (one per process); that
    valgrind ran at all is checked too: it always leaves its file."""
    files = sorted(glob.glob(pattern))
    if not files:
        return "no valgrind log %s: did valgrind run?" % pattern
    out = []
    for f in files:
        with open(f) as fh:
            text = fh.read().strip()
        if text:
            out.append("%s:\n%s" % (os.path.basename(f), text))
    return "\n".join(out)


def unit_test(tmp, env, t):
    """One unit test binary under valgrind: (exit status, output)."""
    log = os.path.join(tmp, os.path.basename(t) + ".%p")
    try:
        r = subprocess.run(pkstest.valgrind_argv(log) + [t],
                           stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           env=env, timeout=180)
        return r.returncode, r.stdout
    except subprocess.TimeoutExpired:
        return "timeout", ""


def unit_tests(tmp):
    # PKS_VALGRIND: tests of resident memory skip (valgrind's calloc
    # writes what the system's leaves untouched)
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP", PKS_VALGRIND="1")
    tests = sorted(glob.glob(os.path.join(BUILD, "tests", "test_*")))
    # a seccomp filter under valgrind would judge valgrind's own system
    # calls, not the process's: those run without it
    run = [t for t in tests if not t.endswith("_sandbox")]
    # one valgrind at a time leaves a CPU idle: each test binary keeps
    # to itself (its own network namespace, files named by its pid)
    with concurrent.futures.ThreadPoolExecutor(
            max(1, min(4, os.cpu_count() or 1))) as pool:
        done = dict(zip(run, pool.map(lambda t: unit_test(tmp, env, t),
                                      run)))
    for t in tests:
        name = os.path.basename(t)
        if t not in done:
            tap.ok(True, "%s: not under valgrind # SKIP it loads a "
                   "seccomp filter" % name)
            continue
        rc, out = done[t]
        rep = reports(os.path.join(tmp, name + ".*"))
        tap.ok(rc == 0 and not rep, "%s under valgrind: passes, no error, "
               "no definite leak" % name,
               "exit %s\n%s\n%s" % (rc, rep, "\n".join(
                   out.splitlines()[-15:]) if rc != 0 else ""))


def suite_run(tmp):
    with pkstest.Net() as net:
        mlog = os.path.join(tmp, "monitor.%p")
        s = pkstest.ValgrindSuite(net, mlog,
                                  extra=pkstest.allow(ADA))
        s.start()
        s.echod()
        ports, msg = s.generate(ADA, timeout=30)
        tap.ok(ports is not None and len(ports) == 3,
               "the monitor under valgrind hands out a sequence", msg)

        klog = os.path.join(tmp, "knock.%p")
        r = pkstest.run(pkstest.valgrind_argv(klog) +
                        [pkstest.binpath("pks-knock"), "-d", "5", SRV4] +
                        [str(p) for p in ports or [20000, 20001, 20002]],
                        ns=net.cli, check=False, timeout=60)
        rep = reports(os.path.join(tmp, "knock.*"))
        tap.ok(r.returncode == 0 and not rep,
               "pks-knock under valgrind: knocks, no error, no definite "
               "leak", "exit %d\n%s\n%s" % (r.returncode, rep, r.stderr))

        opened = pkstest.wait_for(lambda: s.windows(), 15)
        tap.ok(opened == {(CLI4, "tcp", 2222)},
               "the knock opens the window", opened)
        tap.ok(s.can_connect(), "and the protected port accepts")

        rc = s.monitor.stop(signal.SIGTERM, timeout=120)
        if s.bot:
            s.bot.stop()
        rep = reports(os.path.join(tmp, "monitor.*"))
        tap.ok(rc == 0 and not rep,
               "pks-monitor under valgrind, after SIGTERM: exit 0, no error, "
               "no definite leak",
               "exit %s (valgrind's error status is %d)\n%s\n%s" %
               (rc, pkstest.VALGRIND_ERROR, rep,
                "\n".join(s.monitor.log.lines[-20:])))
        tap.ok(s.windows() == set(), "and it closed the window on the way "
               "out")


def main():
    pkstest.require_root()
    if shutil.which("valgrind") is None:
        tap.skip_all("valgrind missing (apt-get install valgrind)")
    try:
        with open(os.path.join(BUILD, ".flags")) as f:
            if "-fsanitize=" in f.read():
                tap.skip_all("sanitizer build: valgrind cannot run it")
    except OSError:
        pass
    pkstest.ensure_user()

    def expired(*a):
        print("Bail out! still running after %d s" % DEADLINE, flush=True)
        sys.exit(1)
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(DEADLINE)

    tmp = tempfile.mkdtemp(prefix="pks-valgrind-")
    try:
        unit_tests(tmp)
        suite_run(tmp)
    finally:
        shutil.rmtree(tmp, True)
    tap.done()


if __name__ == "__main__":
    main()

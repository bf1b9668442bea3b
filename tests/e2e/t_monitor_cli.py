#!/usr/bin/env python3
"""pks-monitor's command line and life cycle: -n checks the configuration
(0, or 1 with file:line), bad flags give usage, a test hook's bad number
is fatal at start, SIGHUP reloads and a broken file keeps the running
configuration, SIGTERM stops everything cleanly.
"""
import os
import re
import signal
import subprocess
import tempfile

import pkstest
from pkstest import tap


def monitor(*args):
    return subprocess.run([pkstest.binpath("pks-monitor")] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=20)


def monitor_journal(*args):
    """As under systemd: stderr is the stream JOURNAL_STREAM names."""
    with tempfile.TemporaryFile("w+") as err:
        st = os.fstat(err.fileno())
        env = dict(os.environ,
                   JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        r = subprocess.run([pkstest.binpath("pks-monitor")] + list(args),
                           stdout=subprocess.DEVNULL, stderr=err, env=env,
                           timeout=20)
        err.seek(0)
        return r.returncode, err.read()


# the monitor's own test hooks (pks-monitor/testhook.c): name, highest
HOOKS = (("PKS_TEST_REAP_PAUSE_MS", 1000), ("PKS_TEST_OBSERVED_SAVE_S", 60),
         ("PKS_TEST_STATE_DELAY_MS", 10000), ("PKS_TEST_HELLO_S", 3600))


def hooks(nouser):
    """A test hook's number that is not a whole one in range is fatal at
    start, as in a child (common/proc.c proc_test_env()), before the
    configuration (nouser's is refused with status 78: so a taken value
    goes on to that refusal, and nothing starts either way)."""
    for name, hi in HOOKS:
        for v in ("", "x", "5x", "0", "-1", str(hi + 1)):
            r = monitor_env({name: v}, "-d", "-f", nouser)
            tap.ok(r.returncode == 1 and
                   "%s: 1 to %d" % (name, hi) in r.stderr and
                   "no_such_user_pks" not in r.stderr,
                   "%s=%r is refused at start" % (name, v), r.stderr)
        for v in ("1", str(hi)):
            r = monitor_env({name: v}, "-d", "-f", nouser)
            tap.ok(r.returncode == 78 and name not in r.stderr,
                   "%s=%s is taken" % (name, v), r.stderr)


def fleet(d, chroot):
    """-n checks a fleet { } block (pks.conf(5)): a good one passes, a
    bad word or a missing file is named with its file:line."""
    files = {}
    for n in ("ca.pem", "web1.pem", "web1.key", "secret"):
        files[n] = os.path.join(d, "fleet-" + n)
        with open(files[n], "w") as f:
            f.write("x" * 40 + "\n")
        os.chmod(files[n], 0o600)

    def block(role="host", ca=files["ca.pem"]):
        return ('\nfleet {\n\tbroker "mqtts://broker.example:8883"\n'
                '\tca-file "%s"\n\tcert-file "%s"\n\tkey-file "%s"\n'
                '\tsecret-file "%s"\n\tname web1\n\trole %s\n}\n' %
                (ca, files["web1.pem"], files["web1.key"], files["secret"],
                 role))
    base = pkstest.base_config(chroot)
    good = os.path.join(d, "fleet-good.conf")
    pkstest.write_config(good, base + block())
    r = monitor("-n", "-f", good)
    tap.ok(r.returncode == 0, "-n accepts a fleet block", r.stderr)
    at = len((base + block()).splitlines()) - 1	# the role line
    for name, text, line, why in (
            ("role", base + block(role="boss"), at, r"role"),
            ("ca", base + block(ca=os.path.join(d, "no-such-ca.pem")),
             at - 5, r"fleet ca-file \S+ not found")):
        conf = os.path.join(d, "fleet-%s.conf" % name)
        pkstest.write_config(conf, text)
        r = monitor("-n", "-f", conf)
        tap.ok(r.returncode == 1 and re.search(
            r"%s:%d: .*%s" % (re.escape(conf), line, why), r.stderr),
            "-n refuses a fleet block's bad %s, naming %s:%d" %
            (name, os.path.basename(conf), line), r.stderr)


def monitor_env(env, *args):
    return subprocess.run([pkstest.binpath("pks-monitor")] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=20, env=dict(os.environ, **env))


def main():
    pkstest.require_root()
    pkstest.ensure_user("_pks")
    d = tempfile.mkdtemp(prefix="pks-cli-")
    chroot = os.path.join(d, "empty")
    os.mkdir(chroot, 0o755)
    good = os.path.join(d, "good.conf")
    pkstest.write_config(good, pkstest.base_config(chroot))
    bad = os.path.join(d, "bad.conf")
    pkstest.write_config(bad, pkstest.base_config(chroot) +
                         "\nbogus-keyword 3\n")

    r = monitor("-n", "-f", good)
    tap.ok(r.returncode == 0, "-n accepts a good configuration", r.stderr)
    r = monitor("-n", "-f", bad)
    lines = len(open(bad).read().splitlines())
    tap.ok(r.returncode == 1, "-n refuses a bad one with status 1")
    tap.ok(("%s:%d:" % (bad, lines)) in r.stderr,
           "the error names file:line", r.stderr)
    r = monitor("-n", "-f", os.path.join(d, "missing.conf"))
    tap.ok(r.returncode == 1 and "missing.conf" in r.stderr,
           "a missing file is a clear error", r.stderr)
    r = monitor("-x")
    tap.ok(r.returncode == 1 and "usage: pks-monitor" in r.stderr,
           "an unknown flag prints usage")
    r = monitor("-n", "-f", good, "extra")
    tap.ok(r.returncode == 1 and "usage:" in r.stderr,
           "a stray argument prints usage")

    nouser = os.path.join(d, "nouser.conf")
    pkstest.write_config(nouser, pkstest.base_config(chroot).replace(
        'user "_pks"', 'user "no_such_user_pks"'))
    r = monitor("-d", "-f", nouser)
    tap.ok(r.returncode == 78 and 'user "no_such_user_pks" does not exist'
           in r.stderr, "a missing user is a clear error at start, "
           "status 78 (a refused configuration)", r.stderr)
    hooks(nouser)
    r = monitor("-d", "-f", bad)
    tap.ok(r.returncode == 78 and ("%s:%d:" % (bad, lines)) in r.stderr,
           "a configuration with errors is refused at start with status "
           "78", r.stderr)
    ro = os.path.join(d, "ro.conf")
    pkstest.write_config(ro, pkstest.base_config("/proc/pks-no-such"))
    r = monitor("-d", "-f", ro)
    tap.ok(r.returncode == 78 and "cannot create it" in r.stderr,
           "a chroot that cannot be created is refused with status 78",
           r.stderr)
    noif = os.path.join(d, "noif.conf")
    pkstest.write_config(noif, re.sub(
        r'interface "[^"]*"', 'interface "pksnoif0"',
        pkstest.base_config(chroot)))
    r = monitor("-n", "-f", noif)
    tap.ok(r.returncode == 0 and re.search(
        r'interface "pksnoif0" does not exist', r.stderr) and
        "configuration OK" in r.stderr,
        "-n warns about an interface that does not exist", r.stderr)
    lo = os.path.join(d, "lo.conf")
    pkstest.write_config(lo, re.sub(
        r'interface "[^"]*"', 'interface "lo"', pkstest.base_config(chroot)))
    r = monitor("-n", "-f", lo)
    tap.ok(r.returncode == 0 and "does not exist" not in r.stderr,
           "and not about one that does", r.stderr)
    fleet(d, chroot)
    rc, err = monitor_journal("-n", "-f", bad)
    tap.ok(rc == 1 and "pks-monitor: " not in err,
           "under the journal, -n does not prefix its own name (the "
           "journal names it)", err)
    loose = os.path.join(d, "loose")
    os.mkdir(loose, 0o777)
    os.chmod(loose, 0o777)
    looseconf = os.path.join(d, "loose.conf")
    pkstest.write_config(looseconf, pkstest.base_config(loose))
    r = monitor("-d", "-f", looseconf)
    tap.ok(r.returncode == 1 and "writable by root only" in r.stderr,
           "a chroot others can write to is refused", r.stderr)

    with pkstest.Net() as net:
        fresh = os.path.join(d, "fresh-empty")
        m = pkstest.Monitor(net, pkstest.base_config(fresh))
        m.start()
        tap.ok(m.log.has(r"all children ready"), "the suite starts")
        tap.ok(os.path.isdir(fresh) and m.log.has(r"created the chroot"),
               "a missing chroot directory is created")
        pidfile = os.path.join(d, "pks-monitor.pid")
        tap.ok(os.path.exists(pidfile) and
               open(pidfile).read().strip() == str(m.proc.pid),
               "the pid file holds the monitor's pid")
        sniffer = m.child_pid("pks-sniffer")

        # a broken file on SIGHUP: logged, the old one stays
        pkstest.write_config(m.conf, pkstest.base_config(chroot) +
                             "\nservice {\n")
        start = len(m.log.lines)
        m.proc.send_signal(signal.SIGHUP)
        i = m.log.wait(r"has errors: keeping the running one", 10, start)
        tap.ok(i is not None, "SIGHUP with a broken file keeps the running "
               "configuration", m.log.text())
        tap.ok(m.log.wait(r"pks\.conf:\d+:", 0, start) is not None,
               "the reload error names file:line")
        tap.ok(m.proc.poll() is None and m.child_pid("pks-sniffer") ==
               sniffer, "the suite runs on untouched")

        # a good file: reloaded, children restarted with it
        pkstest.write_config(m.conf, pkstest.base_config(chroot).replace(
            "open-for 30", "open-for 40"))
        start = len(m.log.lines)
        m.proc.send_signal(signal.SIGHUP)
        tap.ok(m.log.wait(r"configuration reloaded", 10, start) is not None,
               "SIGHUP with a good file reloads")
        tap.ok(pkstest.wait_for(lambda: m.child_pid("pks-sniffer") not in
                                (None, sniffer), 10),
               "children are restarted with the new configuration")

        rc = m.stop()
        tap.ok(rc == 0, "SIGTERM: clean exit (status %s)" % rc)
        tap.ok(not os.path.exists(pidfile), "the pid file is removed")
        tap.ok(m.log.has(r"pks-monitor: stopped"), "the stop is logged")
        tap.ok(m.log.lacks(r"sandbox violation|killed by signal"),
               "no child died badly on the way", m.log.text())
    tap.done()


if __name__ == "__main__":
    main()

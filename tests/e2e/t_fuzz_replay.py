#!/usr/bin/env python3
"""Every fuzz target replays its seed corpus and every past crash.

tests/fuzz/fuzz_<name>.c, built without libFuzzer into
$PKS_BUILD/tests/fuzz_replay_<name> (make fuzz-replay), runs each file of
tests/fuzz/corpus/<name>/ and of tests/fuzz/regressions/<name>/ once: a
crash, an abort() of the target's checks or a sanitizer report fails the
test, and the output names the input being replayed.
"""

import glob
import os
import subprocess

import pkstest                                        
from pkstest import tap, TOP, BUILD                   

FUZZ = os.path.join(TOP, "tests", "fuzz")


def inputs(d):
    if not os.path.isdir(d):
        return []
    return [f for f in sorted(os.listdir(d))
            if not f.startswith((".", "README"))
            and os.path.isfile(os.path.join(d, f))]


def replay(binary, d):
    r = subprocess.run([binary, d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    return r.returncode, r.stdout


def main():
    names = sorted(os.path.basename(p)[len("fuzz_"):-len(".c")]
                   for p in glob.glob(os.path.join(FUZZ, "fuzz_*.c")))
    tap.plan(3 * len(names))
    for n in names:
        binary = os.path.join(BUILD, "tests", "fuzz_replay_" + n)
        corpus = os.path.join(FUZZ, "corpus", n)
        regress = os.path.join(FUZZ, "regressions", n)
        built = os.access(binary, os.X_OK)
        tap.ok(built and len(inputs(corpus)) > 0 and os.path.isdir(regress),
               "fuzz_%s: replay binary, seeds and regressions directory "
               "present" % n,
               "need %s (make fuzz-replay), seeds in %s, and %s" %
               (binary, corpus, regress))
        for what, d in (("seed corpus", corpus), ("past crashes", regress)):
            files = inputs(d)
            if not built:
                tap.ok(False, "fuzz_%s: %s replayed" % (n, what),
                       "%s not built" % binary)
                continue
            if not files:
                tap.ok(os.path.isdir(d), "fuzz_%s: %s replayed (none)" %
                       (n, what), "%s missing" % d)
                continue
            rc, out = replay(binary, d)
            # the last input named is the one that failed
            lines = out.splitlines()
            tap.ok(rc == 0 and ("%d input" % len(files)) in out,
                   "fuzz_%s: %s replayed (%d input%s)" %
                   (n, what, len(files), "" if len(files) == 1 else "s"),
                   "exit %d\n%s" % (rc, "\n".join(lines[-40:])))
    tap.done()


if __name__ == "__main__":
    main()

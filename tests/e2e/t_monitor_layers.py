#!/usr/bin/env python3
"""pks-monitor's files call downward only: monitor.h lists them from the
top (the main loop) to the bottom (pure helpers), and no object of the
monitor may use a symbol defined by a file above it, or by itself through
another file (no two files call each other).  Read from the built objects
with nm(1), so it checks what the compiler made of the code.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkstest  # noqa: E402
from pkstest import tap  # noqa: E402


def layer_order():
    """The files as monitor.h lists them, top first."""
    text = open(os.path.join(pkstest.TOP, "pks-monitor", "monitor.h")).read()
    head = text.split("#ifndef", 1)[0]
    return re.findall(r"^ \*\t(\S+\.c)\t", head, re.M)


def symbols(obj):
    out = subprocess.run(["nm", "-g", obj], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] == "T":
            defined.add(parts[2])   # functions: the monitor's state
                                    # (env) is data, shared by all
    return defined, used


def main():
    objdir = os.path.join(pkstest.BUILD, "obj", "pks-monitor")
    order = layer_order()
    srcs = sorted(f for f in os.listdir(os.path.join(pkstest.TOP,
                                                     "pks-monitor"))
                  if f.endswith(".c") and f != "pksctl.c")
    tap.ok(sorted(order) == srcs, "monitor.h lists every file of the "
           "monitor once", "listed %s, files %s" % (order, srcs))
    rank = {f: i for i, f in enumerate(order)}
    defs, uses = {}, {}
    for f in srcs:
        obj = os.path.join(objdir, f[:-2] + ".o")
        if not os.path.exists(obj):
            tap.ok(False, "%s is built" % obj)
            tap.done()
        defs[f], uses[f] = symbols(obj)
    owner = {s: f for f in srcs for s in defs[f]}
    edges = set()
    for f in srcs:
        for s in uses[f]:
            g = owner.get(s)
            if g is not None and g != f:
                edges.add((f, g, s))
    up = sorted(e for e in edges if rank.get(e[1], -1) <= rank.get(e[0], -1))
    tap.ok(not up, "every call goes down the list in monitor.h",
           "\n".join("%s calls %s (%s), which is above it" % e for e in up))
    pairs = {(a, b) for a, b, _ in edges}
    mutual = sorted((a, b) for a, b in pairs if (b, a) in pairs and a < b)
    tap.ok(not mutual, "no two files call each other",
           "\n".join("%s <-> %s" % p for p in mutual))
    tap.ok(len(edges) > 20, "the check saw the calls (%d)" % len(edges))
    tap.done()


main()

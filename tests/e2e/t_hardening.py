#!/usr/bin/env python3
"""The built programs are hardened, the build is quiet, cppcheck is clean.

For each of the six programs in $PKS_BUILD (build/test under make check)
and, when it was built, in build/ (the release flavour), read with
readelf(1):
  pie            ELF type DYN and DT_FLAGS_1 has PIE
  relro          a PT_GNU_RELRO segment
  bindnow        DT_FLAGS has BIND_NOW (or DT_FLAGS_1 NOW): with relro,
                 full RELRO, the GOT read-only after start
  stack-protector  __stack_chk_fail imported.  Every one of the six has
                 arrays on its stack (paths, log lines, addresses), so
                 -fstack-protector-strong must have guarded some
                 function of each: its absence means the flag was lost.
  fortify        some __*_chk function imported (_FORTIFY_SOURCE=2 at
                 -O2); not asked of sanitizer builds, which build
                 without it (see SANITIZE in the GNUmakefile)
  nx-stack       PT_GNU_STACK present and not executable
  no-textrel     no DT_TEXTREL
Then: the release flavour, rebuilt from scratch into a temporary
directory, prints no compiler or linker warning; and cppcheck finds
nothing.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pkstest                                        
from pkstest import tap, TOP, BUILD                   

PROGS = ["pks-monitor", "pksctl", "pks-telegram", "pks-sniffer", "pks-fw",
         "pks-fleet", "pks-knock"]
PROPS = ["pie", "relro", "bindnow", "stack-protector", "fortify",
         "nx-stack", "no-textrel"]


def readelf(*args):
    r = subprocess.run(["readelf", "-W"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("readelf %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def properties(path):
    """Property -> (ok, detail) for one binary."""
    hdr = readelf("-h", path)
    dyn = readelf("-d", path)
    seg = readelf("-l", path)
    syms = readelf("--dyn-syms", path)

    m = re.search(r"^\s*Type:\s+(\S+)", hdr, re.M)
    etype = m.group(1) if m else "?"
    flags = " ".join(re.findall(r"\((?:FLAGS|FLAGS_1)\)\s+(?:Flags:)?\s*(.*)",
                                dyn)).split()
    imported = set(re.findall(r"\bUND\s+([^\s@]+)", syms))
    chk = sorted(s for s in imported
                 if re.match(r"^__\w+_chk$", s) and s != "__stack_chk_fail")
    stack = re.search(r"^\s*GNU_STACK\s+.*?\s([RWE ]{3})\s+0x", seg, re.M)
    return {
        "pie": (etype == "DYN" and "PIE" in flags,
                "type %s, flags %s" % (etype, " ".join(flags) or "none")),
        "relro": ("GNU_RELRO" in seg, "no PT_GNU_RELRO segment"),
        "bindnow": ("BIND_NOW" in flags or "NOW" in flags,
                    "flags %s" % (" ".join(flags) or "none")),
        "stack-protector": ("__stack_chk_fail" in imported,
                            "__stack_chk_fail not imported"),
        "fortify": (len(chk) > 0, "no __*_chk function imported"),
        "nx-stack": (stack is not None and "E" not in stack.group(1),
                     "PT_GNU_STACK %s" %
                     (repr(stack.group(1)) if stack else "missing")),
        "no-textrel": ("TEXTREL" not in dyn, "DT_TEXTREL present"),
    }


def build_flags(d):
    try:
        with open(os.path.join(d, ".flags")) as f:
            return f.read()
    except OSError:
        return ""


def check_dir(d, label):
    sanitized = "-fsanitize=" in build_flags(d)
    for p in PROGS:
        path = os.path.join(d, p)
        if not os.path.isfile(path):
            tap.ok(False, "%s/%s: built" % (label, p), "%s missing" % path)
            continue
        props = properties(path)
        bad = []
        for name in PROPS:
            ok, detail = props[name]
            if name == "fortify" and sanitized:
                continue
            if not ok:
                bad.append("%s: %s" % (name, detail))
        tap.ok(not bad, "%s/%s: %s" % (label, p,
               ", ".join(n for n in PROPS
                         if not (n == "fortify" and sanitized))),
               "%s lacks:\n%s" % (path, "\n".join(bad)))


def quiet_build():
    """Rebuild the release flavour in a temporary directory."""
    tmp = tempfile.mkdtemp(prefix="pks-build-", dir=os.path.join(TOP,
                                                                 "build"))
    try:
        env = dict(os.environ)
        # a clean, release build: nothing of an outer make leaks in
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                  "CFLAGS", "LDFLAGS", "CC", "BUILD", "TESTHOOKS",
                  "SANITIZE"):
            env.pop(k, None)
        r = subprocess.run(["make", "-C", TOP, "-j%d" % (os.cpu_count() or 1),
                            "BUILD=" + tmp, "TESTHOOKS=0", "SANITIZE=0",
                            "all"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env, timeout=900)
        out = r.stdout
        warnings = [l for l in out.splitlines()
                    if re.search(r"\bwarning\b", l, re.I)]
        tap.ok(r.returncode == 0, "release build from scratch succeeds",
               "\n".join(out.splitlines()[-30:]))
        tap.ok(r.returncode == 0 and not warnings,
               "release build prints no warning",
               "\n".join(warnings[:40]))
        if r.returncode == 0:
            check_dir(tmp, "fresh release build")
    finally:
        shutil.rmtree(tmp, True)


def cppcheck():
    if shutil.which("cppcheck") is None:
        tap.ok(False, "cppcheck finds nothing",
               "cppcheck missing: apt-get install cppcheck")
        return
    dirs = ["common"] + sorted(d for d in os.listdir(TOP)
                               if d.startswith("pks-") and
                               os.path.isdir(os.path.join(TOP, d))) + \
        ["client"]
    r = subprocess.run(["cppcheck", "--enable=warning,portability,performance",
                        "--error-exitcode=1", "--inline-suppr", "-q",
                        "-I", "common"] + dirs, cwd=TOP,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    tap.ok(r.returncode == 0 and not r.stdout.strip(),
           "cppcheck --enable=warning,portability,performance finds nothing",
           r.stdout)


def main():
    if shutil.which("readelf") is None:
        tap.skip_all("readelf (binutils) missing")
    check_dir(BUILD, os.path.relpath(BUILD, TOP))
    release = os.path.join(TOP, "build")
    if os.path.realpath(release) != os.path.realpath(BUILD) and \
            os.path.isfile(os.path.join(release, "pks-monitor")):
        check_dir(release, "build")
    quiet_build()
    cppcheck()
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The manual pages: mandoc -Tlint clean, and complete against the sources.

Every configuration keyword the parser accepts (read from the tables and
string compares of common/parse*.c) must be documented in pks.conf(5),
with its range and default where the parser has one, and used in
doc/pks.conf.example, which must pass pks-monitor -n.  Every flag of
every getopt(3) string must have its ".It Fl x" entry in the binary's
page, and every pksctl command its ".It Cm name" entry in pksctl(8).  So
a new keyword, flag or command without documentation fails here.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile

import pkstest
from pkstest import tap, TOP

DOC = os.path.join(TOP, "doc")
PAGES = ["pks-monitor.8", "pks.conf.5", "pksctl.8", "pks-telegram.8",
         "pks-sniffer.8", "pks-fw.8", "pks-fleet.8", "pks-knock.1"]
# binary: (source holding its getopt string, its page)
BINARIES = {
    "pks-monitor": ("pks-monitor/pks-monitor.c", "pks-monitor.8"),
    "pksctl": ("pks-monitor/pksctl.c", "pksctl.8"),
    "pks-knock": ("client/pks-knock.c", "pks-knock.1"),
}


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def ensure_mandoc():
    if shutil.which("mandoc"):
        return True
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "mandoc"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ,
                                DEBIAN_FRONTEND="noninteractive"))
    return shutil.which("mandoc") is not None


# ---------------------------------------------------------------- sources

def c_defines():
    """#define NAME number, from the shared headers."""
    d = {}
    for h in glob.glob(os.path.join(TOP, "common", "*.h")):
        for m in re.finditer(r"^#define\s+(\w+)\s+\(?(-?\d+)\)?",
                             read(h), re.M):
            d[m.group(1)] = int(m.group(2))
    return d


def c_number(tok, defs):
    tok = tok.strip()
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    return defs.get(tok)


def parser_keywords():
    """(keywords, settings) of the parser.

    settings maps a keyword to (struct field, type, lo, hi) for the
    "keyword value" tables; keywords also holds the handled statements
    and the words compared inside statements (allow user ... to ...)."""
    src = "".join(read(p) for p in
                  sorted(glob.glob(os.path.join(TOP, "common", "parse*.c"))))
    defs = c_defines()
    kws, settings = set(), {}
    # { "keyword", V_TYPE, CF(field), lo, hi }
    for m in re.finditer(r'\{\s*"([a-z][a-z0-9-]*)",\s*(V_\w+),\s*'
                         r'[CS]F\((\w+)\),\s*([\w-]+),\s*([\w-]+)\s*\}', src):
        kws.add(m.group(1))
        settings[m.group(1)] = (m.group(3), m.group(2),
                                c_number(m.group(4), defs),
                                c_number(m.group(5), defs))
    # { "keyword", parse_handler }
    for m in re.finditer(r'\{\s*"([a-z][a-z0-9-]*)",\s*parse_\w+\s*\}', src):
        kws.add(m.group(1))
    # words inside statements: strcmp(t.s, "to"), strcmp(t->s, "host")
    for m in re.finditer(r'strcmp\((?:t\.|t->|kw\.)s,\s*'
                         r'"([a-z][a-z0-9-]*)"\)', src):
        kws.add(m.group(1))
    # defaults: c->field = N; s.field = N; snprintf(c->field, ..., "v")
    defaults = {}
    for m in re.finditer(r'\b(?:c->|s\.)(\w+)\s*=\s*(\d+);', src):
        defaults[m.group(1)] = m.group(2)
    for m in re.finditer(r'snprintf\(c->(\w+),[^;]*?"([^"%]+)"\);', src,
                         re.S):
        defaults[m.group(1)] = m.group(2)
    return kws, settings, defaults


def getopt_flags(path):
    m = re.search(r'getopt\(\s*argc,\s*argv,\s*"([^"]*)"\)', read(path))
    if not m:
        return None
    return [c for c in m.group(1) if c not in "+-:"]


def pksctl_commands():
    cmds = set()
    for f in ("pksctl.c", "control.c"):
        src = read(os.path.join(TOP, "pks-monitor", f))
        cmds |= set(re.findall(r'strcmp\((?:cmd|argv\[0\]),\s*"(\w+)"\)',
                               src))
    return cmds


# ---------------------------------------------------------------- pages

MACRO = re.compile(r"^[A-Z][a-z][a-z]?$|^%[A-Z]$")


def ic_words(page):
    """Every word given to an Ic macro, up to the next macro."""
    words = set()
    for line in page.splitlines():
        if not line.startswith("."):
            continue
        toks = line[1:].split()
        inic = False
        for t in toks:
            if t == "Ic":
                inic = True
            elif MACRO.match(t) or t in ("|",):
                inic = t == "|" and inic
            elif inic:
                words.add(t.strip('",;'))
    return words


def entry(page, head):
    """The text of the list entry whose .It line matches head."""
    out, on = [], False
    for line in page.splitlines():
        if line.startswith(".It "):
            on = re.match(head, line) is not None
        elif line.startswith(".El"):
            on = False
        if on:
            out.append(line)
    text = "\n".join(out)
    return re.sub(r"\\\(en|\\-", "-", text)


def main():
    have_mandoc = ensure_mandoc()
    tap.ok(have_mandoc, "mandoc is installed",
           "apt-get install mandoc")
    for p in PAGES:
        path = os.path.join(DOC, p)
        if not os.path.exists(path):
            tap.ok(False, "%s exists" % p, "doc/%s is missing" % p)
            continue
        if not have_mandoc:
            tap.ok(False, "%s is lint-clean (no mandoc)" % p)
            continue
        r = subprocess.run(["mandoc", "-Tlint", "-W", "warning", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        tap.ok(r.returncode == 0 and not r.stdout.strip(),
               "%s: mandoc -Tlint -W warning is clean" % p, r.stdout)

    # pks.conf(5) against the parser
    kws, settings, defaults = parser_keywords()
    tap.ok(len(kws) >= 15 and {"service", "allow", "telegram", "to"} <= kws,
           "the keyword tables of common/parse*.c were found (%d)" %
           len(kws), sorted(kws))
    conf5 = read(os.path.join(DOC, "pks.conf.5"))
    documented = ic_words(conf5)
    for kw in sorted(kws):
        tap.ok(kw in documented, "pks.conf(5) documents \"%s\"" % kw)
    for kw, (field, vtype, lo, hi) in sorted(settings.items()):
        text = entry(conf5, r"\.It Ic %s\b" % re.escape(kw))
        if vtype == "V_NUM" and lo is not None and hi is not None:
            tap.ok(re.search(r"\b%d-%d\b" % (lo, hi), text),
                   "pks.conf(5) gives the range of %s (%d-%d)" %
                   (kw, lo, hi), text)
        if field in defaults:
            tap.ok(defaults[field] in text,
                   "pks.conf(5) gives the default of %s (%s)" %
                   (kw, defaults[field]), text)

    # the example: every keyword, and valid
    ex = read(os.path.join(DOC, "pks.conf.example"))
    code = "\n".join(re.sub(r"#.*", "", l) for l in ex.splitlines())
    for kw in sorted(kws):
        tap.ok(re.search(r"(^|\s)%s(\s|$)" % re.escape(kw), code, re.M),
               "pks.conf.example uses \"%s\"" % kw)
    check_example(ex)

    # flags
    for prog, (src, page) in sorted(BINARIES.items()):
        flags = getopt_flags(os.path.join(TOP, src))
        tap.ok(flags, "%s: getopt string found in %s" % (prog, src))
        path = os.path.join(DOC, page)
        text = read(path) if os.path.exists(path) else ""
        for c in flags or []:
            tap.ok(re.search(r"^\.It Fl %s\b" % re.escape(c), text, re.M),
                   "%s documents %s -%s" % (page, prog, c))

    # pksctl commands
    cmds = pksctl_commands()
    tap.ok({"status", "reload"} <= cmds, "pksctl commands found: %s" %
           " ".join(sorted(cmds)))
    ctl8 = read(os.path.join(DOC, "pksctl.8"))
    for c in sorted(cmds):
        tap.ok(re.search(r"^\.It Cm %s\b" % c, ctl8, re.M),
               "pksctl.8 documents \"%s\"" % c)
    tap.done()


def check_example(ex):
    """pks-monitor -n on the example, its token file made real."""
    mon = pkstest.binpath("pks-monitor")
    if not os.path.exists(mon):
        tap.ok(False, "pks-monitor -n accepts pks.conf.example",
               "%s is not built" % mon)
        return
    d = tempfile.mkdtemp(prefix="pks-doc-")
    try:
        tok = os.path.join(d, "token")
        with open(tok, "w") as f:
            f.write(pkstest.TOKEN + "\n")
        os.chmod(tok, 0o600)
        conf = os.path.join(d, "pks.conf")
        text = ex.replace('"/etc/pks/token"', '"%s"' % tok)
        tap.ok(text != ex, "the example names /etc/pks/token")
        # the fleet block's secrets, made real the same way
        # (web2's new key and the one it replaces differ)
        for name in ("fleet.key", "fleet-password", "fleet/web1.secret",
                     "fleet/web2.secret", "fleet/web2.new"):
            path = os.path.join(d, name.replace("/", "-"))
            with open(path, "w") as f:
                f.write("secret-of-the-example-%s-0123456789abcdef\n" %
                        name)
            os.chmod(path, 0o600)
            text = text.replace('"/etc/pks/%s"' % name, '"%s"' % path)
        # and its certificates, which -n checks are files
        for name in ("fleet-ca.pem", "fleet.pem"):
            path = os.path.join(d, name)
            with open(path, "w") as f:
                f.write("a certificate of the example\n")
            text = text.replace('"/etc/pks/%s"' % name, '"%s"' % path)
        with open(conf, "w") as f:
            f.write(text)
        r = subprocess.run([mon, "-n", "-f", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        tap.ok(r.returncode == 0 and "configuration OK" in r.stdout,
               "pks-monitor -n accepts pks.conf.example", r.stdout)
        if os.geteuid() == 0:
            # and the same file with a token nobody may read is refused,
            # so the test above did check the token file
            os.chmod(tok, 0o644)
            r = subprocess.run([mon, "-n", "-f", conf],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=30)
            tap.ok(r.returncode == 1 and "telegram token-file" in r.stdout,
                   "a readable token file makes it fail", r.stdout)
        # a missing fleet CA: said with its file and line
        os.chmod(tok, 0o600)
        ca = os.path.join(d, "fleet-ca.pem")
        os.unlink(ca)
        line = text[:text.index('"%s"' % ca)].count("\n") + 1
        r = subprocess.run([mon, "-n", "-f", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        tap.ok(r.returncode == 1 and "%s:%d: fleet ca-file %s not found" %
               (conf, line, ca) in r.stdout, "pks-monitor -n: a missing "
               "fleet ca-file refused with file:line", r.stdout)
    finally:
        shutil.rmtree(d, True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The README's two opening commands work as root on a machine without sudo.

A minimal Debian 12 installed with a root password has no sudo: the two
commands must not need it.  They are "sh tests/setup.sh && make demo"
and "... && make check"; tests/setup.sh must run as root with a PATH on
which sudo fails, and both make targets must exist.
"""
import os
import re
import subprocess
import tempfile

from pkstest import tap, TOP


def opening_commands():
    text = open(os.path.join(TOP, "README.md")).read()
    m = re.search(r"```sh\n(.*?)```", text, re.S)
    if not m:
        return []
    return [re.sub(r"\s+#.*", "", line).strip()
            for line in m.group(1).splitlines() if line.strip()]


def main():
    if os.geteuid() != 0:
        tap.skip_all("needs root (tests/setup.sh refuses otherwise)")
    cmds = opening_commands()
    tap.ok(len(cmds) == 2, "the README opens with two commands", cmds)
    tap.ok(cmds and all(not re.search(r"\bsudo\b", c) for c in cmds),
           "neither starts with or calls sudo", cmds)
    tap.ok(cmds and cmds[-1].endswith("make check"),
           "the test command is make check", cmds)
    targets = [re.search(r"make (\w[\w-]*)$", c) for c in cmds]
    tap.ok(all(t and subprocess.run(
        ["make", "-n", "-C", TOP, t.group(1)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0 for t in targets),
        "their make targets exist", cmds)
    with tempfile.TemporaryDirectory() as tmp:
        # a sudo that fails loudly, first on PATH
        sudo = os.path.join(tmp, "sudo")
        with open(sudo, "w") as f:
            f.write("#!/bin/sh\necho 'sudo: command not found' >&2\n"
                    "exit 127\n")
        os.chmod(sudo, 0o755)
        env = dict(os.environ, PATH=tmp + ":" + os.environ["PATH"])
        for first in sorted({c.split("&&")[0].strip() for c in cmds}):
            r = subprocess.run(first, shell=True, cwd=TOP, env=env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=600)
            tap.ok(r.returncode == 0 and "sudo" not in r.stdout,
                   "%r succeeds as root without sudo" % first, r.stdout)
    tap.done()


if __name__ == "__main__":
    main()

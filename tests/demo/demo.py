#!/usr/bin/env python3
"""PKS in one command: sudo make demo.

Everything runs on this machine, inside two network namespaces made for
the demo (a server and a client joined by a virtual cable, 198.18.0.0/24),
with a local fake of the Telegram Bot API: no bot token, no Internet, no
change to the host's own firewall.  Everything the demo creates is
removed at the end, also on Ctrl-C.
"""
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import pkstest  # noqa: E402
from pkstest import SRV4, CLI4  # noqa: E402

USER_ID = 6123456789
OPEN_FOR = 5
SERVICES = ("service ssh {\n\tport 2222\n\tprotocol tcp\n\topen-for %d\n}"
            % OPEN_FOR)
BOLD = "\033[1m" if sys.stdout.isatty() else ""
DIM = "\033[2m" if sys.stdout.isatty() else ""
OFF = "\033[0m" if sys.stdout.isatty() else ""

# what an admin would look for in the log
INTERESTING = (r"firewall auto", r"all children ready", r"sequence \d+ issued",
               r"knocked from", r"knock completed", r"window \d+: opened",
               r"window opened", r"window \d+: closed", r"window closed",
               r"not live", r"refused", r"stopping", r"all windows closed",
               r"^pks-monitor: stopped$")


def heading(n, text):
    print("\n%s== %d. %s%s" % (BOLD, n, text, OFF), flush=True)


def say(text):
    print(text, flush=True)


def show(lines, indent="    "):
    for l in lines:
        print(indent + DIM + l + OFF, flush=True)


def plain(html):
    """The bot's HTML message as a person reads it in Telegram."""
    t = re.sub(r"<[^>]+>", "", html)
    return t.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


backend = "iptables"	# what pks-fw chose (firewall auto): pksctl status


def chain(s):
    """What pks-fw holds in the kernel, as an admin would list it."""
    if backend == "nftables":
        r = pkstest.run(["nft", "list", "table", "inet", "pks"],
                        ns=s.net.srv, check=False)
        return [l for l in r.stdout.splitlines() if l.strip()] \
            if r.returncode == 0 else \
            ["(no table inet pks: %s)" % r.stderr.strip()]
    r = s.net.iptables("-S", "PKS")
    return r.stdout.splitlines() if r.returncode == 0 else \
        ["(no PKS chain: %s)" % r.stderr.strip()]


def window_open(s):
    if backend == "nftables":
        r = pkstest.run(["nft", "-j", "list", "set", "inet", "pks", "win4"],
                        ns=s.net.srv, check=False)
        return r.returncode == 0 and '"elem"' in r.stdout
    return bool(s.window_rules())


def bot_says(s, since, rx, timeout=10):
    rec = s.bot.wait_sent(chat_id=USER_ID, since=since, text=rx,
                          timeout=timeout)
    return plain(rec["params"]["text"]) if rec else None


def last_seq(s):
    sent = s.bot.sent()
    return sent[-1]["seq"] if sent else 0


def check_setup():
    if os.geteuid() != 0:
        sys.exit("demo: run as root (sudo make demo): it creates network "
                 "namespaces and firewall rules inside them")
    missing = [b for b in ("pks-monitor", "pks-telegram", "pks-sniffer",
                           "pks-fw", "pks-knock", "pksctl")
               if not os.access(pkstest.binpath(b), os.X_OK)]
    if missing:
        sys.exit("demo: not built in %s: %s (run make demo, which builds "
                 "them)" % (pkstest.BUILD, " ".join(missing)))
    for tool in ("ip", "iptables-legacy", "nft", "openssl"):
        if subprocess.run(["sh", "-c", "command -v " + tool],
                          stdout=subprocess.DEVNULL).returncode != 0:
            sys.exit("demo: %s is missing: run sudo sh tests/setup.sh" %
                     tool)


suite = None


def demo(net):
    global suite
    heading(1, "The stage")
    say("Two network namespaces: the server (%s), where PKS protects a\n"
        "service on TCP port 2222 (an echo server stands for sshd), and a\n"
        "client (%s).  A local fake of the Telegram Bot API plays the\n"
        "bot's side; the windows last %d seconds in this demo (30 by\n"
        "default)." % (SRV4, CLI4, OPEN_FOR))
    pkstest.ensure_user()
    s = suite = pkstest.Suite(net, extra="allow user %d to ssh\n" % USER_ID,
                              services=SERVICES)
    # as shipped: pks-fw picks nftables unless the host uses legacy tables
    s.conf_text = s.conf_text.replace("firewall %s" % pkstest.FIREWALL,
                                      "firewall auto")
    say("\nThe configuration (pks.conf(5)):")
    show([l for l in s.conf_text.splitlines() if l.strip()])
    s.start()
    s.echod()
    say("\npks-monitor is running with its three children:")
    r = pkstest.run([pkstest.binpath("pksctl"), "-s",
                     os.path.join(s.dir, "pks.sock"), "status"],
                    check=False)
    show(r.stdout.splitlines())
    global backend
    m = re.search(r"^firewall (\w+)", r.stdout, re.M)
    backend = m.group(1) if m else "iptables"
    say("(firewall auto: %s, as the server namespace has no legacy "
        "rules of its own.)" % backend if backend == "nftables" else
        "(firewall auto: %s.)" % backend)

    heading(2, "Before: the service is closed")
    if backend == "nftables":
        say("pks-fw's table in the server (nft list table inet pks):")
    else:
        say("pks-fw's chain in the server's filter table (iptables-legacy "
            "-S PKS):")
    show(chain(s))
    say("Established traffic is accepted, new connections to port 2222 "
        "dropped.")
    ok = s.can_connect()
    say("Connecting from the client: %s" % ("CONNECTED (unexpected!)" if ok
                                            else "refused (timed out)"))

    heading(3, "Ada asks the bot for a sequence")
    say("Ada (Telegram user %d) sends /generate to the bot.  The bot "
        "answers:" % USER_ID)
    ports, msg = s.generate(USER_ID, first_name="Ada")
    if not ports:
        raise RuntimeError("no sequence from the bot: %s" % msg)
    show(plain(msg).splitlines())
    say("The ports are random and valid once, for 5 minutes at most.")

    heading(4, "Ada knocks")
    cmd = [pkstest.binpath("pks-knock"), "-v", SRV4] + \
        [str(p) for p in ports]
    say("From the client: pks-knock -v %s %s" %
        (SRV4, " ".join(str(p) for p in ports)))
    since = last_seq(s)
    r = pkstest.run(cmd, ns=net.cli, check=False)
    show((r.stdout + r.stderr).splitlines() or ["(exit %d)" % r.returncode])
    if not pkstest.wait_for(lambda: window_open(s), 5):
        raise RuntimeError("no window opened")
    note = bot_says(s, since, r"open for")
    if note:
        say("The bot tells Ada: " + note)

    heading(5, "During the window")
    show(chain(s))
    if backend == "nftables":
        say("One element in win4, for Ada's address only, with the time "
            "the window has left:\nthe kernel removes it then, even if PKS "
            "were killed.")
    else:
        say("One ACCEPT rule, for Ada's address only, before the DROP.")
    ok = s.can_connect()
    say("Connecting from the client: %s" % ("connected" if ok else
                                            "FAILED (unexpected!)"))
    sess, ok = s.session()
    say("Ada opens a connection and keeps it: %s" %
        ("connected" if ok else "FAILED (unexpected!)"))

    heading(6, "The window closes")
    say("Waiting for the %d seconds to pass..." % OPEN_FOR)
    pkstest.wait_for(lambda: not window_open(s), OPEN_FOR + 10, 0.2)
    note = bot_says(s, since, r"closed for")
    if note:
        say("The bot tells Ada: " + note)
    show(chain(s))
    ok = s.can_connect()
    say("A new connection from the client: %s" %
        ("CONNECTED (unexpected!)" if ok else "refused (timed out)"))
    if sess:
        sess.stdin.write("still here\n")
        sess.stdin.flush()
        echo = sess.stdout.readline().strip()
        say("Ada's connection made in the window still works: %s" %
            ("yes (echo: %s)" % echo if echo else "NO (unexpected!)"))
        sess.stdin.close()

    heading(7, "A replayed sequence is worthless")
    say("Someone who saw Ada's knocks replays them:")
    s.knock(ports)
    time.sleep(1)
    say("Window opened: %s" % ("YES (unexpected!)" if window_open(s)
                               else "no: the sequence was used once and "
                               "is gone"))

    heading(8, "What the log says")
    say("Each process logs under its own name (here on stderr, pks-monitor "
        "-d;\nsyslog in production).  The lines an admin cares about:")
    rx = re.compile("|".join(INTERESTING))
    s.monitor.stop()
    show([l for l in s.monitor.log.lines if rx.search(l)])
    s.stop()
    say("\nOn stop the windows go and the per-service drop stays:")
    show(chain(s))


def main():
    check_setup()
    print("%sPKS demo%s: one-time port knocking with a Telegram bot, "
          "run locally." % (BOLD, OFF))
    rc = 0
    net = pkstest.Net()
    try:
        net.create()
        demo(net)
        print("\n%sDone.%s Namespaces, processes and rules are being "
              "removed." % (BOLD, OFF))
    except SystemExit:
        print("\nInterrupted: cleaning up.")
        rc = 1
    except KeyboardInterrupt:
        print("\nInterrupted: cleaning up.")
        rc = 1
    except Exception as e:  # show it, then still clean up
        print("\ndemo failed: %s" % e)
        rc = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if suite is not None:
            try:
                suite.stop()	# SIGTERM: windows closed, children stopped
            except Exception:
                pass
        net.destroy()
    sys.exit(rc)


if __name__ == "__main__":
    main()

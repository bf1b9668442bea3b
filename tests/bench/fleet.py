#!/usr/bin/env python3
"""Fleet mode figures (issue 17): make bench-fleet.

A real mosquitto broker (TLS, the ACL of doc/fleet.md), a front with the
fake Bot API and N hosts, each a full PKS in its own namespaces
(tests/e2e/fleetnet.py).  Measured from the fake Bot API: the time from
a /generate HOST ssh update being offered to getUpdates to the host's
answer arriving as sendMessage, through front, broker and host, and
back.

  (a) request to reply, 1 host and 20 hosts: p50, p99, max;
  (b) 100 users asking at once, spread over 20 hosts: the time until
      every answer is in, and that none is lost.

Writes the section between the fleet markers of doc/benchmarks.md
(tests/bench/bench.py keeps it when it rewrites the rest).
"""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import fleetnet  # noqa: E402
import pkstest  # noqa: E402

# the real pacing of pks-telegram, not the tests' shorter one
os.environ.pop("PKS_TEST_RATE_DIV", None)

DOC = os.path.join(HERE, "..", "..", "doc", "benchmarks.md")
BEGIN = "<!-- fleet: written by tests/bench/fleet.py (make bench-fleet) -->"
END = "<!-- /fleet -->"
N_HOSTS = int(os.environ.get("FLEET_HOSTS", "20"))
ROUNDS = int(os.environ.get("FLEET_ROUNDS", "40"))
USERS = 100
USER0 = 7000000000		# the burst's users, then the rounds' ones
next_user = USER0 + USERS


def log(msg):
    print("bench-fleet: %s" % msg, file=sys.stderr, flush=True)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def answer_re(host):
    return r"<b>%s</b>: (One-time|Sorry|You may)" % host


def one(front, user, host):
    """One /generate, its latency in ms (None: no answer)."""
    since = front.bot.sent()[-1]["seq"] if front.bot.sent() else 0
    t0 = time.monotonic()
    front.bot.push_message(user_id=user, text="/generate %s ssh" % host,
                           chat_id=user, chat_type="private",
                           first_name="U")
    rec = front.bot.wait_sent(chat_id=user, since=since,
                              text=answer_re(host), timeout=15)
    return (time.monotonic() - t0) * 1000 if rec else None


def latency(front, hosts, rounds):
    global next_user
    lat, lost = [], 0
    for i in range(rounds):
        # a user of its own per round: the bot paces each chat
        next_user += 1
        ms = one(front, next_user, hosts[i % len(hosts)])
        if ms is None:
            lost += 1
        else:
            lat.append(ms)
    return lat, lost


def burst(front, hosts):
    """USERS users ask at once, each a host in turn."""
    since = front.bot.sent()[-1]["seq"] if front.bot.sent() else 0
    t0 = time.monotonic()
    for i in range(USERS):
        front.bot.push_message(user_id=USER0 + i, chat_id=USER0 + i,
                               text="/generate %s ssh" %
                               hosts[i % len(hosts)], chat_type="private",
                               first_name="U")
    got = set()
    end = time.monotonic() + 120
    while len(got) < USERS and time.monotonic() < end:
        for r in front.bot.sent():
            if r["seq"] <= since:
                continue
            p = r["params"]
            if re.search(r"pks-knock \S+ \d+", p.get("text", "")):
                got.add(p.get("chat_id"))
        if len(got) < USERS:
            time.sleep(0.1)
    return (time.monotonic() - t0), len(got)


def ms(v):
    return "%.1f" % v


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    hosts = tuple("h%02d" % i for i in range(1, N_HOSTS + 1))
    users = pkstest.allow(list(range(USER0, USER0 + USERS + 2 * ROUNDS +
                                     2)))
    fleet = fleetnet.Fleet(hosts, {h: users for h in hosts}, timeout=10,
                           tag="b%d" % os.getpid())
    res = {"load0": os.getloadavg()[0]}
    try:
        t0 = time.monotonic()
        log("starting a broker, a front and %d hosts" % N_HOSTS)
        fleet.start()
        front = fleet.suites["front"]
        for h in hosts:
            if front.monitor.log.wait(r"fleet: host %s is there" % h,
                                      60) is None:
                raise RuntimeError("the front never saw %s" % h)
        res["start"] = time.monotonic() - t0
        log("up in %.1f s" % res["start"])
        one(front, next_user, hosts[0])		# warm up
        res["1"] = latency(front, hosts[:1], ROUNDS)
        log("1 host: p50 %.1f ms" % pct(res["1"][0], 50))
        res["n"] = latency(front, hosts, ROUNDS)
        log("%d hosts: p50 %.1f ms" % (N_HOSTS, pct(res["n"][0], 50)))
        res["burst"] = burst(front, hosts)
        log("%d users: %.1f s, %d answered" % ((USERS,) + res["burst"]))
    finally:
        fleet.stop()
    res["load1"] = os.getloadavg()[0]
    write(res, hosts)


def write(res, hosts):
    rows = []
    for key, label in (("1", "1 host"), ("n", "%d hosts" % len(hosts))):
        lat, lost = res[key]
        rows.append("| %s | %d | %s | %s | %s | %d |" % (
            label, len(lat), ms(pct(lat, 50)), ms(pct(lat, 99)),
            ms(max(lat)), lost))
    secs, got = res["burst"]
    text = """%s
## Fleet mode (make bench-fleet)

Measured %s on this machine (%d CPUs, shared; 1-minute load
average %.2f before the run and %.2f after it), a real mosquitto
broker (%s) over TLS with the configuration and ACL of doc/fleet.md, a
front and %d hosts, each a full PKS in its own namespaces
(tests/bench/fleet.py).  Latency: from
the fake Bot API offering a `/generate HOST ssh` update to the front's
long poll, to the host's answer arriving as `sendMessage`: the front's
bot, monitor and pks-fleet, the broker, the host's pks-fleet and
monitor (a sequence drawn), and back.  Users ask one after the other.

| hosts asked | requests | p50 ms | p99 ms | max ms | lost |
|---|--:|--:|--:|--:|--:|
%s

%d users asking at once, spread over the %d hosts: all answers in after
%.1f s, %d of %d answered (none lost: %s).  The front's Telegram worker
paces its messages (about 30 a second in all, as the Bot API asks), so
the burst is bounded by that, not by the broker or the hosts.
The fleet (broker, front and %d hosts) was up in %.1f s.
%s
""" % (BEGIN, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
       os.cpu_count(), res["load0"], res["load1"], mosquitto_version(),
       len(hosts), "\n".join(rows),
       USERS, len(hosts), secs, got, USERS,
       "yes" if got == USERS else "NO", len(hosts), res["start"], END)
    old = open(DOC).read() if os.path.exists(DOC) else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text.strip() + \
            old[old.index(END) + len(END):]
    else:
        new = old.rstrip() + "\n\n" + text
    with open(DOC, "w") as f:
        f.write(new)
    log("wrote the fleet section of %s" % DOC)


def mosquitto_version():
    r = pkstest.run(["dpkg-query", "-W", "-f", "${Version}", "mosquitto"],
                    check=False)
    return r.stdout.strip() or "?"


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fleet mode: a host's key rotated with no outage (doc/fleet.md, "Changing
a host's key").

A front and one host, web1, around a real mosquitto broker
(fleetnet.py).  The rotation is done in the documented order, each step a
reload of one side:

1. web1: secret-file NEW, previous-secret-file OLD;
2. the front: host web1 secret-file NEW previous-secret-file OLD;
3. web1: secret-file NEW alone;
4. the front: host web1 secret-file NEW alone.

Before the first and after each step, /generate web1 ssh is answered and
the window its knock opens is told to Ada (a host's notice): nothing
fails in between.  After step 3 a request MACed with OLD is refused by
web1, after step 4 a notice MACed with OLD by the front; before them, a
step refused (a previous-secret-file that is not root's 0600, or holds
the new key) is said with file:line by pks-monitor -n and by the reload,
and changes nothing.  No key is ever logged.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetnet  # noqa: E402
import pkstest  # noqa: E402
import t_fleet  # noqa: E402
from t_fleet import answer_of, last_seq, ports_of  # noqa: E402
from pkstest import tap, run, ADA  # noqa: E402


def ask(front, text, pattern):
    return t_fleet.ask(front, ADA, text, pattern)


# web1's services: one a check, so that each knock opens a window of
# its own (a knock on an open one extends it, and says nothing)
SERVICES = ["k%d" % i for i in range(1, 8)]
CHECKS = []


def works(suites, step):
    """/generate web1 SERVICE answered by web1, and its knock's window
    told to Ada through the front (a notice)."""
    front, web1 = suites["front"], suites["web1"]
    svc = SERVICES[len(CHECKS)]
    CHECKS.append(step)
    msg = ask(front, "/generate web1 %s" % svc, answer_of("web1"))
    ports = ports_of(msg)
    tap.ok(ports is not None, "%s: /generate web1 %s is answered by web1"
           % (step, svc), (msg or "no answer") + "\n" +
           front.monitor.log.text()[-1500:] + "\n" +
           web1.monitor.log.text()[-1500:])
    if ports is None:
        return
    since = last_seq(front)
    web1.knock(ports)
    rec = front.bot.wait_sent(chat_id=ADA, since=since,
                              text=r"web1.*%s open for" % svc,
                              timeout=10)
    tap.ok(rec is not None, "%s: the window's notice reaches Ada" % step,
           front.monitor.log.text()[-1500:] + "\n" +
           web1.monitor.log.text()[-1500:])


def reload(s, text, others=()):
    """s's configuration replaced and reloaded: True once its children
    are ready, its pks-fleet back, and each of others (a suite, a mark of
    its log) has the front seeing web1's hello since the mark: web1
    publishes it once subscribed, the front gets it retained once it
    is."""
    pkstest.write_config(s.monitor.conf, text)
    start = s.monitor.log.mark()
    r = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "reload")
    if r.stdout.strip() != "reloaded":
        return False
    return (s.monitor.log.wait(r"pks-monitor: all children ready", 20,
                               start) is not None and
            s.monitor.log.wait(r"pks-fleet: connected to the broker", 15,
                               start) is not None and
            all(o.monitor.log.wait(r"pks-fleet: libmosquitto: Client front "
                                   r"received PUBLISH .*'pks/web1/hello'",
                                   10, m) is not None for o, m in others))


def refused(s, text, want):
    """A configuration text that -n and a reload refuse, saying want;
    the running one kept."""
    bad = os.path.join(s.dir, "fleetkeys-bad.conf")
    pkstest.write_config(bad, text)
    r = run([pkstest.binpath("pks-monitor"), "-n", "-f", bad], check=False)
    os.unlink(bad)
    n_ok = r.returncode == 1 and re.search(want.replace("CONF", re.escape(
        bad)), r.stderr)
    pkstest.write_config(s.monitor.conf, text)
    start = s.monitor.log.mark()
    r2 = pkstest.pksctl(os.path.join(s.dir, "pks.sock"), "reload")
    said = s.monitor.log.wait(want.replace("CONF", re.escape(
        s.monitor.conf)), 5, start)
    kept = s.monitor.log.wait(r"has errors: keeping the running one", 5,
                              start)
    return n_ok and r2.stdout.strip() != "reloaded" and said is not None \
        and kept is not None, r.stderr + r2.stdout + \
        s.monitor.log.text()[-1000:]


def host_conf(web1, now, prev=None):
    text = re.sub(r'\tsecret-file "[^"]*"\n', '\tsecret-file "%s"\n' % now,
                  web1.conf_text)
    if prev:
        text = text.replace('\tsecret-file "%s"\n' % now,
                            '\tsecret-file "%s"\n\tprevious-secret-file '
                            '"%s"\n' % (now, prev))
    return text


def front_conf(front, now, prev=None):
    return re.sub(r'\thost web1 secret-file "[^"]*"\n',
                  '\thost web1 secret-file "%s"%s\n' % (
                      now, ' previous-secret-file "%s"' % prev if prev
                      else ""), front.conf_text)


def request(key, id_, ttl=30):
    now = time.time()
    return fleetnet.signed(key, "web1", {
        "type": "req", "id": id_, "at": int(now * 1000),
        "exp": int(now) + ttl, "cmd": "generate", "user": ADA, "chat": ADA,
        "private": True, "age": 0, "name": "Ada", "args": ["ssh"]})


def notice(key, text):
    return fleetnet.signed(key, "web1", {
        "type": "notice", "chat": ADA, "msg": 0, "text": text, "alt": "",
        "marks": [], "at": int(time.time() * 1000)})


def main():
    fleetnet.require()
    pkstest.set_deadline(120)
    web1 = "".join(pkstest.service(n, 9100 + i) + "\n"
                   for i, n in enumerate(SERVICES)) + pkstest.allow(
                       ADA, SERVICES)
    fleet = fleetnet.Fleet(("web1",), {"front": pkstest.allow(ADA),
                                       "web1": web1},
                           timeout=2, tag="fk%d" % os.getpid())
    try:
        fleet.start()
        run_steps(fleet)
    finally:
        fleet.stop()
    tap.done()


def run_steps(fleet):
    suites, broker, d = fleet.suites, fleet.broker, fleet.d
    front, web1 = suites["front"], suites["web1"]
    fleet.connected()
    old_path = os.path.join(d, "web1.secret")
    new_path = fleetnet.make_secret(d, "web1-new")
    old = fleetnet.secret_of(d, "web1")
    new = fleetnet.secret_of(d, "web1-new")
    works(suites, "before the rotation")

    # refused steps change nothing: -n and the reload say file:line
    lax = fleetnet.make_secret(d, "web1-lax")
    os.chmod(lax, 0o640)
    text = host_conf(web1, new_path, lax)
    line = text.splitlines().index('\tprevious-secret-file "%s"' % lax) + 1
    ok, why = refused(web1, text, r"CONF:%d: fleet previous-secret-file %s "
                      r"must not be readable by group or others" %
                      (line, re.escape(lax)))
    tap.ok(ok, "a previous-secret-file readable by its group: refused "
           "by -n and by the reload, with file:line", why)
    ok, why = refused(web1, host_conf(web1, new_path, new_path),
                      r"CONF:%d: fleet previous-secret-file %s holds the key "
                      r"of secret-file" % (line, re.escape(new_path)))
    tap.ok(ok, "a previous-secret-file holding the new key: refused", why)
    text = front_conf(front, new_path, lax)
    line = text.splitlines().index('\thost web1 secret-file "%s" '
                                   'previous-secret-file "%s"' %
                                   (new_path, lax)) + 1
    ok, why = refused(front, text, r"CONF:%d: fleet host web1 "
                      r"previous-secret-file %s must not be readable" %
                      (line, re.escape(lax)))
    tap.ok(ok, "on the front's host line too", why)
    works(suites, "after the refused reloads (the old key kept)")

    # 1. the host first: it accepts both, answers in the front's
    tap.ok(reload(web1, host_conf(web1, new_path, old_path),
                  [(front, front.monitor.log.mark())]),
           "step 1: web1 reloaded with secret-file NEW, previous-secret-file"
           " OLD", web1.monitor.log.text()[-1500:])
    works(suites, "step 1")
    tap.ok(web1.monitor.log.wait(r"fleet: the front signs with "
                                 r"previous-secret-file %s: so do we" %
                                 re.escape(old_path), 10) is not None,
           "step 1: web1 says the front still uses the previous key")
    # 2. the front: signs with the new key, accepts both
    tap.ok(reload(front, front_conf(front, new_path, old_path),
                  [(front, front.monitor.log.mark())]),
           "step 2: the front reloaded with host web1 secret-file NEW "
           "previous-secret-file OLD", front.monitor.log.text()[-1500:])
    mark = web1.monitor.log.mark()
    works(suites, "step 2")
    tap.ok(web1.monitor.log.wait(r"fleet: the front signs with secret-file "
                                 r"%s: so do we" % re.escape(new_path), 10,
                                 mark) is not None,
           "step 2: web1 says the front uses the new key")
    # an old request of the front, made with the previous key and
    # replayed (here: expired) does not choose the key web1 signs with
    mark = web1.monitor.log.mark()
    broker.pub("front", "pks/web1/req", [request(old, 9201, ttl=-5)])
    tap.ok(web1.monitor.log.wait(r"fleet: refused request 9201 from the "
                                 r"front: expired", 10, mark) is not None,
           "step 2: a stale request MACed with OLD is refused by web1",
           web1.monitor.log.text()[-1500:])
    works(suites, "step 2, after the stale request")
    tap.ok(web1.monitor.log.lacks(r"the front signs with "
                                  r"previous-secret-file", mark,
                                  until=r"fleet: request \d+ from the "
                                  r"front: generate"),
           "and web1 did not switch to the previous key: it signs with "
           "the new one, as the front does", web1.monitor.log.text()[-1500:])
    # 3. the old key leaves the host: a request made with it is refused
    tap.ok(reload(web1, host_conf(web1, new_path),
                  [(front, front.monitor.log.mark())]),
           "step 3: web1 reloaded with secret-file NEW alone")
    works(suites, "step 3")
    mark = web1.monitor.log.mark()
    broker.pub("front", "pks/web1/req", [request(old, 9301),
                                         request(new, 9302)])
    tap.ok(web1.monitor.log.wait(r"fleet: refused request 9301 for web1: "
                                 r"bad MAC", 10, mark) is not None and
           not web1.monitor.log.grep(r"fleet: request 9301 from the front"),
           "step 3: a request MACed with the removed key is refused by web1",
           web1.monitor.log.text()[-1500:])
    tap.ok(web1.monitor.log.wait(r"fleet: request 9302 from the front", 10,
                                 mark) is not None,
           "and one MACed with the new key is taken (the same way)")
    # 4. the old key leaves the front: a notice made with it is refused
    tap.ok(reload(front, front_conf(front, new_path),
                  [(front, front.monitor.log.mark())]),
           "step 4: the front reloaded with host web1 secret-file NEW alone")
    works(suites, "step 4")
    mark = front.monitor.log.mark()
    since = last_seq(front)
    broker.pub("web1", "pks/web1/reply", [notice(old, "fleetkeys old"),
                                          notice(new, "fleetkeys new")])
    tap.ok(front.monitor.log.wait(r"fleet: refused notice 0 from web1: "
                                  r"bad MAC", 10, mark) is not None,
           "step 4: a notice MACed with the removed key is refused by the "
           "front", front.monitor.log.text()[-1500:])
    tap.ok(front.bot.wait_sent(since=since, text="fleetkeys new",
                               timeout=10) is not None and
           front.bot.wait_sent(since=since, text="fleetkeys old",
                               timeout=0) is None,
           "only the one MACed with the new key reaches Ada")
    # no key in a log line
    texts = front.monitor.log.text() + web1.monitor.log.text()
    tap.ok(not any(k.decode() in texts for k in (old, new)),
           "neither key appears in a log line")


if __name__ == "__main__":
    main()

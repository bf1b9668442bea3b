#!/usr/bin/env python3
"""Fleet mode (issue 17): one bot, many hosts, through a real broker.

One shared set-up: a mosquitto broker with TLS certificates made here
(openssl) and the ACL file of doc/fleet.md, in a namespace of its own
joined by a bridge to the server namespace of each PKS suite: a front
(the fake Bot API in front of it) and three hosts, web1..web3, each a
full PKS (monitor, sniffer, pks-fw, pks-fleet) with its own namespaces,
firewall and configuration.  Then, in order:

- /generate web2 ssh, knocked at web2, opens web2 only;
- /status longer than a message comes whole, in several, and so does
  a host's answer longer than a message (/users web2);
- /recovery all: every host's sequences reach the admin whole; a
  gathered answer longer than a message is split between hosts;
- a user allowed on web1 only is refused on web2 by web2's monitor;
- the broker's ACL refuses a host's publish to another host's requests;
  a request replayed, or past its expiry, is refused by the host;
- an answer is bound to its request (host, person, chat, request MAC):
  web1's key cannot make one for Bob, nor web3's for web1's request;
- a request published without the host's key (a missing, truncated or
  wrong MAC, or changed after signing) is refused and logged, and so is
  an answer or notice to the front; no key in a log or command line;
- a request replayed after the host's monitor restarted is refused, and
  so is a notice replayed after the front's restarted;
- malformed broker messages are refused with a log line, no crash;
- a host that stops answering: "did not answer" within the timeout;
- a host whose sniffer cannot arm a sequence before the request expires
  revokes it then, and never answers it late;
- a host whose pks-fleet is down when its answer is made revokes the
  sequence at once (the front says "did not answer"), recovery
  sequences too; a host whose answer the front's pks-telegram lost as
  it died hears so at once and revokes it;
- the broker killed: a clear answer meanwhile; restarted: every
  pks-fleet reconnects by itself, and nothing is answered twice;
- pks-fleet is confined like every child, and killed on a forbidden call.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetnet  # noqa: E402
import pkstest  # noqa: E402
import t_clock_step  # noqa: E402
from pkstest import tap, run, ADA, BOB, CAROL, DAN, EVE  # noqa: E402

HOSTS = ("web1", "web2", "web3")
TIMEOUT = 2			# fleet timeout of the front, seconds
HELLO = 2			# seconds between a host's hellos
SILENT = 3 * HELLO		# a host that missed 3 is silent
SSH_PORT = 2222
GROUP = -1001234567890		# a supergroup Ada writes in
WEB = pkstest.service("web", 8080) + "\n"	# web1's second service
# 24 more services everywhere, long names: LEE, who holds a sequence of
# each (PKS_TEST_SEQS_OF), has a /status longer than a message
MANY = ["svc%02d-with-a-rather-long-name" % i for i in range(24)]
SERVICES = "".join(pkstest.service(n, 9100 + i) + "\n"
                   for i, n in enumerate(MANY))
LEE = 6123456797
# web2 lets 250 more people open ssh: its /users fills a message
CROWD = [7000000001 + i for i in range(250)]
NOTE = 6123456798		# web2's notify user, in no chat of a test


def fleet_pid(s):
    return s.monitor.child_pid("pks-fleet")


def wait_reply(front, user, since, pattern, timeout=10):
    rec = front.bot.wait_sent(chat_id=user, since=since, text=pattern,
                              timeout=timeout)
    return rec["params"].get("text", "") if rec else None


def last_seq(front):
    sent = front.bot.sent()
    return sent[-1]["seq"] if sent else 0


def answer_of(host):
    """A host's answer to a request, not one of its window notices."""
    return r"<b>%s</b>: (?!\S+ (open|closed) for)" % host


def push(front, user, text):
    front.bot.push_message(user_id=user, text=text, chat_id=user,
                           chat_type="private", first_name="Ada")


def ask(front, user, text, pattern, timeout=10):
    since = last_seq(front)
    push(front, user, text)
    return wait_reply(front, user, since, pattern, timeout)


def ports_of(msg):
    m = re.search(r"pks-knock \S+((?: \d+(?::udp)?)+)", msg or "")
    return [int(x.split(":")[0]) for x in m.group(1).split()] if m else None


KEYS = {}			# each host's secret-file, once made


def req_obj(id_, exp, user=ADA, name="Ada", service="ssh", **over):
    o = {"type": "req", "id": id_, "at": int(time.time() * 1000),
         "exp": exp, "cmd": "generate", "user": user, "chat": user,
         "private": True, "age": 0, "name": name, "args": [service]}
    o.update(over)
    return o


def req_json(id_, exp, host="web2", **over):
    """A request as the front makes it, signed with host's key (a
    malformed one gets a MAC of the right shape)."""
    o = req_obj(id_, exp, **over)
    try:
        return fleetnet.signed(KEYS[host], host, o)
    except (KeyError, TypeError, ValueError, OverflowError,
            __import__("struct").error):
        o["mac"] = "00" * 32
        return json.dumps(o)


def main():
    fleetnet.require()
    pkstest.set_deadline(150)
    # web1 allows Ada and Bob, web2 and web3 Ada only: each decides
    # Ada is an admin on the front, web1 and web2, not on web3
    # (Carol and Dan too: the worker paces each chat to a message a
    # second, so admin commands take turns between three chats)
    adm = "admin user { %d %d %d }\n" % (ADA, CAROL, DAN)
    fleet = fleetnet.Fleet(HOSTS, {"front": SERVICES + pkstest.allow(ADA) +
                                   adm,
                                   "web1": WEB + SERVICES + pkstest.allow(
                                       ADA, ("ssh", "web")) +
                                   pkstest.allow(BOB) + adm,
                                   "web2": SERVICES + pkstest.allow(ADA) +
                                   "".join(pkstest.allow(CROWD[i:i + 50])
                                           for i in range(0, 250, 50)) +
                                   adm + "notify user %d\n" % NOTE,
                                   "web3": SERVICES + pkstest.allow(ADA)},
                           timeout=TIMEOUT, password=("web3",),
                           named=("web1",))
    # every monitor, restarted ones too: hellos every HELLO s
    os.environ["PKS_TEST_HELLO_S"] = "%d" % HELLO
    try:
        # Lee's sequences, at the first start of each monitor only
        os.environ["PKS_TEST_SEQS_OF"] = "%d" % LEE
        try:
            fleet.start()
        finally:
            del os.environ["PKS_TEST_SEQS_OF"]
        suites, broker = fleet.suites, fleet.broker
        KEYS.update({h: fleetnet.secret_of(fleet.d, h) for h in HOSTS})
        front = suites["front"]
        for name in fleet.names:
            tap.ok(suites[name].monitor.log.wait(
                r"pks-fleet: connected to the broker", 15) is not None,
                "%s: pks-fleet connects to the broker over TLS%s" %
                (name, " with its password-file" if name == "web3" else
                 ", with its certificate"),
                suites[name].monitor.log.text()[-1500:])
        for name in HOSTS:
            tap.ok(front.monitor.log.wait(r"fleet: host %s is there" %
                                          name, 10) is not None,
                   "the front sees %s (its retained hello)" % name,
                   front.monitor.log.text()[-3000:] + broker.log.text())
        test_generate_opens_one_host(suites)
        test_hosts_and_help(suites)
        test_pickers(suites)
        test_refused_by_host_rights(suites)
        test_status_everywhere(suites)
        test_status_split(suites)
        test_long_answer(suites)
        test_admin_everywhere(suites)
        test_grant_revoke_routed(suites)
        test_recovery_routed(suites)
        test_recovery_all(suites)
        test_password_login(broker)
        test_acl_and_replays(suites, broker)
        test_notice_rewrites_its_own_only(suites, broker)
        test_answer_bound(suites, broker)
        test_mac_refused(suites, broker)
        test_replay_after_restart(suites, broker)
        test_notice_replay_after_front_restart(suites, broker)
        test_bad_outcome_kills(suites)
        test_malformed(suites, broker)
        test_no_answer(suites)
        test_pickers_at_once(suites)
        test_armed_too_late(suites)
        test_answer_unsent(suites, broker)
        test_recovery_unsent(suites)
        test_front_worker_lost(suites)
        test_flood_is_counted(suites, broker)
        test_broker_restart(suites, broker)
        test_ctl(suites)
        test_front_alone(suites)
        test_broker_name(suites)
        test_confinement(suites)
    finally:
        fleet.stop()
    tap.done()


def test_generate_opens_one_host(suites):
    front, web2 = suites["front"], suites["web2"]
    msg = ask(front, ADA, "/generate web2 ssh", answer_of("web2"))
    ports = ports_of(msg)
    tap.ok(ports and msg.startswith("<b>web2</b>: One-time sequence"),
           "/generate web2 ssh is "
           "answered by web2, through the front", msg)
    if not ports:
        return
    web2.knock(ports)
    opened = pkstest.wait_for(lambda: web2.windows(pkstest.CLI4), 10)
    tap.ok(opened, "the knock at web2 opens web2",
           web2.monitor.log.text()[-1500:])
    tap.ok(web2.can_connect(port=SSH_PORT), "the connection to web2 "
           "goes through")
    rec = front.bot.wait_sent(chat_id=ADA, text=r"ssh open for",
                              timeout=10)
    tap.ok(rec is not None and "web2" in rec["params"]["text"],
           "the window notice of web2 reaches Ada through the front",
           rec)
    for name in ("web1", "web3", "front"):
        tap.ok(not suites[name].windows(), "%s opened nothing" % name,
               suites[name].windows())
    tap.ok(web2.monitor.log.wait(r"fleet: request \d+ from the front: "
                                 r"generate for user %d" % ADA, 1),
           "web2's own monitor decided it")
    # closed on web2 (pksctl close): the closed notice comes back too
    since = last_seq(front)
    run([pkstest.binpath("pksctl"), "-s",
         os.path.join(os.path.dirname(web2.chroot), "pks.sock"),
         "close", pkstest.CLI4], ns=web2.net.srv, check=False)
    rec = front.bot.wait_sent(chat_id=ADA, since=since, timeout=10,
                              text=r"^<b>web2</b>: ssh closed for %s" %
                              re.escape(pkstest.CLI4))
    tap.ok(rec is not None and not web2.windows(pkstest.CLI4),
           "the window closed on web2: its notice reaches Ada through the "
           "front", front.bot.sent(chat_id=ADA, since=since))


def test_hosts_and_help(suites):
    front = suites["front"]
    msg = ask(front, BOB, "/hosts", r"This bot serves")
    tap.ok(msg and all(re.search(r"<b>%s</b>: last heard from \d+ s ago"
                                 % h, msg) for h in HOSTS),
           "/hosts lists every host and when it was heard from", msg)
    msg = ask(front, ADA, "/help", r"one-time")
    tap.ok(msg and "/generate HOST [SERVICE]" in msg and
           "/revoke HOST" in msg, "/help on the front tells how to ask "
           "another host", msg)
    tap.ok(msg and "/revoke web2 USER_ID" in msg, "and an admin how to "
           "name a host in admin commands", msg)
    msg = ask(front, BOB, "/help", r"one-time")
    tap.ok(msg and "/revoke web2" not in msg, "not Bob, no admin", msg)


def buttons(rec):
    """The callback_data of a sent message's buttons."""
    kb = rec and rec["params"].get("reply_markup")
    if isinstance(kb, str):
        kb = json.loads(kb)
    return [b.get("callback_data") for row in
            (kb or {}).get("inline_keyboard", []) for b in row]


def press(front, user, rec, data, pattern):
    """user presses the button data of the message rec: the answer."""
    since = last_seq(front)
    front.bot.push_callback(user_id=user, chat_id=user, data=data,
                            message_id=rec["result"]["message_id"])
    return wait_reply(front, user, since, pattern)


def test_pickers(suites):
    """/generate alone on the front: a picker of the hosts where the
    person may open a service (each host asked, each decides), then the
    host's own picker of this person's services there."""
    front, web1 = suites["front"], suites["web1"]
    marks = {h: suites[h].monitor.log.mark() for h in HOSTS}
    since = last_seq(front)
    ask(front, ADA, "/generate", r"Which host")
    rec = front.bot.wait_sent(chat_id=ADA, since=since, text=r"Which host")
    tap.ok(buttons(rec) == ["@front"] + ["@" + h for h in HOSTS],
           "/generate alone on the front: Ada, allowed everywhere, gets a "
           "picker of the front and every host", buttons(rec))
    since = last_seq(front)
    ask(front, BOB, "/generate", r"Which host")
    bob = front.bot.wait_sent(chat_id=BOB, since=since, text=r"Which host")
    tap.ok(buttons(bob) == ["@web1"], "Bob's picker offers web1 only: not "
           "the front, web2 or web3, where he may open nothing",
           buttons(bob))
    said = {h: suites[h].monitor.log.wait(
        r"fleet: request \d+ from the front: services for user %d: %d may "
        r"be opened here" % (BOB, n), 5, marks[h]) for h, n in
        (("web1", 1), ("web2", 0), ("web3", 0))}
    tap.ok(None not in said.values() and all(
        suites[h].monitor.log.lacks(r"from the front: generate", marks[h],
                                    until=said[h] + 1) for h in HOSTS),
        "each host said what Bob may open there; none was asked for a "
        "sequence", [suites[h].monitor.log.grep(r"services for user")
                     for h in HOSTS])
    msg = ask(front, EVE, "/generate", r"Which host|Sorry")
    tap.ok(msg and re.search(r"not allowed to open any service here, nor "
                             r"on any other host", msg) and
           not front.bot.wait_sent(chat_id=EVE, text=r"Which host",
                                   timeout=0),
           "Eve, allowed nowhere: no picker, a refusal that says so", msg)
    since = last_seq(front)
    press(front, ADA, rec, "@web1", r"<b>web1</b>: Which service")
    svc = front.bot.wait_sent(chat_id=ADA, since=since, text=r"web1")
    tap.ok(buttons(svc) == ["@web1/ssh", "@web1/web"], "a press on web1: "
           "web1's picker of Ada's services there (2 of its 26)",
           buttons(svc))
    # a button Bob was not offered (an old picker, a forged press):
    # web2 refuses him
    msg = press(front, BOB, bob, "@web2", answer_of("web2"))
    tap.ok(msg and "not allowed" in msg, "a press on web2 by Bob: web2 "
           "refuses him", msg)
    msg = press(front, ADA, svc, "@web1/web", answer_of("web1"))
    tap.ok(ports_of(msg) and "for <b>web</b>" in msg, "a press on web "
           "issues on web1, as /generate web1 web", msg)
    tap.ok(front.bot.wait_sent(method="answerCallbackQuery",
                               since=since) is not None,
           "each press is answered")
    # a picker past its 60 s: "expired", asks nothing, loses its buttons
    mark = web1.monitor.log.mark()
    front.bot.age_message(chat_id=BOB, message_id=bob["result"][
        "message_id"], seconds=61)
    since = last_seq(front)
    qid = front.bot.push_callback(user_id=BOB, chat_id=BOB, data="@web1",
                                  message_id=bob["result"]["message_id"])[
                                      "callback_query"]["id"]
    ans = pkstest.wait_for(lambda: next((
        r for r in front.bot.sent(method="answerCallbackQuery", since=since)
        if r["params"].get("callback_query_id") == qid), None), 10)
    tap.ok(ans and "expired" in ans["params"].get("text", ""),
           "a press on an expired host picker: \"This menu has expired\"",
           ans)
    ed = front.bot.wait_sent(method="editMessageText", since=since,
                             text=r"expired", timeout=10)
    tap.ok(ed and not buttons(ed), "and the picker loses its buttons", ed)
    msg = press(front, ADA, rec, "@front", r"pks-knock|Which")
    tap.ok(ports_of(msg) and not msg.startswith("<b>"), "a press on the "
           "front: its own sequence (Ada's one service there)", msg)
    # the next request web1 hears of ends what the press could have done
    msg = ask(front, CAROL, "/revoke web1", answer_of("web1"))
    tap.ok(msg and web1.monitor.log.lacks(
        r"from the front: generate", mark,
        until=r"from the front: revoke for user %d" % CAROL),
        "nothing was asked of web1", web1.monitor.log.text()[-1000:])


def test_password_login(broker):
    """The password listener checks passwords: web3's is taken, a wrong
    one is not (so web3's connection above did use its own)."""
    def pub(password):
        return run(["mosquitto_pub", "-V", "mqttv5", "-h", fleetnet.BROKER,
                    "-p", str(fleetnet.PW_PORT), "--cafile",
                    os.path.join(broker.d, "ca.pem"), "-u", "web3", "-P",
                    password, "-i", "test-pw", "-q", "1", "-t",
                    "pks/web3/hello", "-m", json.dumps(
                        {"type": "hello", "at": int(time.time())})],
                   ns=broker.ns, check=False, timeout=20)
    pw = open(os.path.join(broker.d, "web3.password")).read().strip()
    tap.ok(pub("wrong-" + pw).returncode != 0, "the broker refuses web3 "
           "with a wrong password")
    r = pub(pw)
    tap.ok(r.returncode == 0, "and takes its password-file's", r.stderr)


def test_status_everywhere(suites):
    """/status on the front: the front's own and the hosts' where the
    person has something, in one message (Ada has a sequence on the
    front, web1 and web2; she never asked web3)."""
    front = suites["front"]
    ask(front, ADA, "/generate web2 ssh", answer_of("web2"))
    msg = ask(front, BOB, "/revoke web1", answer_of("web1"))
    tap.ok(msg and "Revoked 1 live sequence." in msg, "Bob's /revoke web1",
           msg)
    msg = ask(front, ADA, "/status", r"<b>front</b>: ", timeout=15)
    parts = dict(re.findall(r"<b>(\w+)</b>: ([^\n]*)", msg or ""))
    tap.ok(set(parts) == {"front", "web1", "web2"}, "/status covers the "
           "front and the hosts where Ada has something", msg)
    tap.ok("Sequence for ssh" in parts.get("front", "") and
           "Sequence for web" in parts.get("web1", "") and
           "Sequence for ssh" in parts.get("web2", ""),
           "each part is that host's own", msg)
    # in a group: gathered the same, sent to Ada in private
    since = last_seq(front)
    front.bot.push_message(user_id=ADA, text="/status", chat_id=GROUP,
                           chat_type="supergroup", first_name="Ada")
    grp = front.bot.wait_sent(chat_id=GROUP, since=since, timeout=15,
                              text=r"Sent you your status in private")
    priv = front.bot.wait_sent(chat_id=ADA, since=since, timeout=15,
                               text=r"<b>web2</b>: ")
    tap.ok(grp and priv and "<b>front</b>: " in priv["params"]["text"] and
           not front.bot.sent(chat_id=GROUP, since=grp["seq"]) and
           len(front.bot.sent(chat_id=GROUP, since=since)) == 1,
           "/status in a group: every host's, sent to Ada in private; the "
           "group hears only that", (grp, priv))
    msg = ask(front, BOB, "/status", r"<b>front</b>: ", timeout=15)
    tap.ok(msg and re.search(r"<b>front</b>: You have no live sequence.*"
                             r"\nNothing of yours on the 3 other hosts\.$",
                             msg, re.S), "Bob, with nothing anywhere: the "
           "front's line and one more", msg)


def status_lines(front, since, chat):
    """The messages sent to chat since, and the sequences each host's
    parts name, by host."""
    msgs = [r["params"].get("text", "") for r in
            front.bot.sent(chat_id=chat, since=since)]
    seqs = {}
    for m in msgs:
        got = re.split(r"(?m)^<b>(\w+)</b>: ", m)
        for host, body in zip(got[1::2], got[2::2]):
            seqs.setdefault(host, []).extend(re.findall(
                r"(?m)^Sequence for ([\w.-]+): \d+ s left$", body))
    return msgs, seqs


def test_status_split(suites):
    """Lee holds a sequence of each service on the front and every host
    (101 lines, about 5.5 kB): his /status is more than a message holds.
    It comes whole in several messages, each under Telegram's 4096 bytes,
    every host's lines there once, none cut; asked in a group, every one
    of them goes to him in private and the group hears one line."""
    front = suites["front"]
    want = {h: sorted(["ssh"] + MANY + (["web"] if h == "web1" else []))
            for h in ("front",) + HOSTS}
    for chat, kind in ((LEE, "private"), (GROUP, "supergroup")):
        since = last_seq(front)
        front.bot.push_message(user_id=LEE, text="/status", chat_id=chat,
                               chat_type=kind, first_name="Lee")

        def whole():
            msgs, seqs = status_lines(front, since, LEE)
            return (msgs, seqs) if all(
                len(seqs.get(h, ())) >= len(want[h]) for h in want) else None
        msgs, seqs = pkstest.wait_for(whole, 30) or status_lines(
            front, since, LEE)
        tap.ok(len(msgs) >= 2 and {h: sorted(v) for h, v in seqs.items()}
               == want and not any("more line" in m for m in msgs) and
               all(len(m) <= 4096 for m in msgs),
               "Lee's /status in %s: %d bytes in %d messages, every line "
               "of every host, none cut" % (kind, sum(len(m) for m in msgs),
                                            len(msgs)),
               [len(m) for m in msgs] + msgs[-1:])
    grp = front.bot.wait_sent(chat_id=GROUP, since=since, timeout=10,
                              text=r"Sent you your status in private")
    tap.ok(grp and len(front.bot.sent(chat_id=GROUP, since=since)) == 1,
           "the group hears only that it went in private",
           front.bot.sent(chat_id=GROUP, since=since))


def test_long_answer(suites):
    """/users web2 is longer than a message (250 more people allowed
    ssh: 5.4 kB under web2's name; cut at 4 kB by web2 before): web2
    sends it whole
    (a fleet host's answer may be longer than a message) and the front
    splits it between lines: every line in one of several messages,
    each under web2's name and within Telegram's 4096, none cut, no
    "... and N more lines"."""
    front = suites["front"]
    since = last_seq(front)
    front.bot.push_message(user_id=ADA, text="/users web2", chat_id=ADA,
                           chat_type="private", first_name="Ada")
    want = ["%d" % c for c in CROWD]

    def users(msgs):
        return [u for m in msgs for u, svcs in re.findall(
            r"(?m)^(?:<b>web2</b>: )?user (\d+): (.*)$", m)
            if u != "%d" % ADA and svcs == "ssh"]

    def done():
        msgs = [r["params"].get("text", "") for r in
                front.bot.sent(chat_id=ADA, since=since)]
        return msgs if users(msgs) == want or any(
            "more line" in m for m in msgs) else None
    msgs = pkstest.wait_for(done, 15) or [
        r["params"].get("text", "") for r in front.bot.sent(chat_id=ADA,
                                                             since=since)]
    tap.ok(len(msgs) >= 2 and all(m.startswith("<b>web2</b>: ") and
                                  len(m) <= 4096 for m in msgs) and
           users(msgs) == want and
           not any("more line" in m for m in msgs),
           "/users web2, longer than a message: %d bytes in %d messages "
           "under web2's name, %d of %d people's lines, none left out" %
           (sum(len(m) for m in msgs), len(msgs), len(users(msgs)),
            len(want)), [len(m) for m in msgs] + [m[-200:] for m in msgs])


def test_admin_everywhere(suites):
    """/lockdown all: each host's own admin list decides; a locked host
    refuses /generate; /windows web2 is web2's; /unlock all."""
    front = suites["front"]
    msg = ask(front, ADA, "/lockdown all", r"<b>front</b>: ", timeout=15)
    parts = dict(re.findall(r"<b>(\w+)</b>: ([^\n]*)", msg or ""))
    tap.ok(set(parts) == {"front"} | set(HOSTS), "/lockdown all is "
           "answered by the front and every host", msg)
    tap.ok(all("lock" in parts.get(h, "").lower() and "not" not in
               parts.get(h, "") for h in ("front", "web1", "web2")) and
           "admin" in parts.get("web3", ""), "locked where Ada is an "
           "admin, refused by web3 where she is not", msg)
    rec = front.bot.wait_sent(chat_id=NOTE, text=r"^<b>web2</b>: ",
                              timeout=10)
    tap.ok(rec and re.search(r"Ada.*%d.*lock" % ADA, rec["params"]["text"],
                             re.I | re.S) and
           all(r["params"].get("text", "").startswith("<b>web2</b>: ")
               for r in front.bot.sent(chat_id=NOTE)),
           "web2's admin notice (to its notify user) travels back through "
           "the front, under web2's name", rec and rec["params"])
    msg = ask(front, ADA, "/generate web2 ssh", answer_of("web2"))
    tap.ok(msg and "locked" in msg and ports_of(msg) is None,
           "web2, locked down, issues nothing", msg)
    msg = ask(front, ADA, "/windows web2", answer_of("web2"))
    tap.ok(msg and "window" in msg.lower(), "/windows web2 is web2's "
           "answer", msg)
    # gathered, it names users and addresses as each host's does: in a
    # group, it goes to Ada in private, never to the group
    since = last_seq(front)
    front.bot.push_message(user_id=ADA, text="/windows all", chat_id=GROUP,
                           chat_type="supergroup", first_name="Ada")
    got = front.bot.wait_sent(since=since, timeout=15,
                              text=r"<b>web2</b>: ")
    tap.ok(got and str(got["params"]["chat_id"]) == str(ADA) and
           "<b>front</b>: " in got["params"]["text"] and
           not front.bot.sent(chat_id=GROUP, since=since),
           "/windows all in a group: sent to Ada in private, nothing to "
           "the group", got)
    msg = ask(front, ADA, "/unlock all", r"<b>front</b>: ", timeout=15)
    msg = ask(front, ADA, "/generate web2 ssh", answer_of("web2"))
    tap.ok(ports_of(msg), "/unlock all: web2 issues again", msg)


def test_grant_revoke_routed(suites):
    """/grant web2 USER_ID SERVICE DURATION, /revoke web2 USER_ID|all and
    a person's /revoke web2: web2 decides; malformed ones are answered.
    (Ada, Carol and Dan, admins, take turns: see main().)"""
    front, web2 = suites["front"], suites["web2"]
    msg = ask(front, ADA, "/grant web2 %d ssh 1h" % BOB, answer_of("web2"))
    tap.ok(msg and re.search(r"Granted ssh to .*%d.* until \d" % BOB, msg),
           "/grant web2 USER_ID ssh 1h: web2 grants, with its duration",
           msg)
    msg = ask(front, BOB, "/generate web2 ssh", answer_of("web2"))
    tap.ok(ports_of(msg), "Bob, granted on web2, gets a sequence there",
           msg)
    msg = ask(front, CAROL, "/revoke web2 %d" % BOB, answer_of("web2"))
    tap.ok(msg and "Revoked 1 live sequence of %d" % BOB in msg,
           "/revoke web2 USER_ID: web2 revokes Bob's sequence", msg)
    bad = [(DAN, "/grant web2 %d ssh 5y" % BOB, r"Not a duration"),
           (ADA, "/grant web2 %d ssh 1h x" % BOB, r"Usage: /grant"),
           (CAROL, "/revoke web2 bob", r"Unknown command"),
           (DAN, "/revoke web9 5", r"web9 is neither a host of the fleet"),
           (ADA, "/windows web9", r"web9 is neither a host of the fleet")]
    ask(front, BOB, "/generate web2 ssh", answer_of("web2"))
    for who, text, pat in bad[:2]:
        msg = ask(front, who, text, r"<b>web2</b>: |Usage|Unknown|neither")
        tap.ok(msg and re.search(pat, msg), "%s: %s" % (text, pat), msg)
    msg = ask(front, BOB, "/revoke web2", answer_of("web2"))
    tap.ok(msg and "Revoked 1 live sequence." in msg, "a person's "
           "/revoke web2 cancels their own sequence on web2", msg)
    for who, text, pat in bad[2:]:
        msg = ask(front, who, text, r"<b>web2</b>: |Usage|Unknown|neither")
        tap.ok(msg and re.search(pat, msg), "%s: %s" % (text, pat), msg)
    msg = ask(front, EVE, "/revoke web2 all", answer_of("web2"))
    tap.ok(msg and "for administrators only" in msg, "/revoke web2 all "
           "from someone else: refused by web2", msg)
    ask(front, BOB, "/generate web2 ssh", answer_of("web2"))
    msg = ask(front, ADA, "/revoke web2 all", answer_of("web2"))
    tap.ok(msg and re.search(r"Revoked [1-9]\d* live sequences? of "
                             r"everyone", msg), "/revoke web2 all", msg)
    tap.ok(web2.monitor.log.grep(r"admin .* revoked \d+ sequence\(s\) of "
                                 r"all"), "logged by web2")
    ask(front, CAROL, "/ungrant web2 %d ssh" % BOB, answer_of("web2"))
    msg = ask(front, BOB, "/generate web2 ssh", answer_of("web2"))
    tap.ok(msg and "not allowed" in msg, "ungranted on web2 again", msg)
    # as a reply to Bob's message in a group: his id goes to web2
    up = front.bot.push_message(user_id=BOB, first_name="Bob",
                                chat_id=GROUP, chat_type="supergroup",
                                text="may I get into web2?")
    for text, pat in (("/grant web2 ssh 2h", r"Granted ssh to .*%d.* "
                       r"until \d" % BOB),
                      ("/ungrant web2 ssh", r"Ungranted ssh from .*%d"
                       % BOB)):
        since = last_seq(front)
        front.bot.push_message(user_id=ADA, first_name="Ada",
                               chat_id=GROUP, chat_type="supergroup",
                               text=text, reply_to_message_id=up[
                                   "message"]["message_id"])
        rec = front.bot.wait_sent(chat_id=GROUP, since=since, timeout=10,
                                  text=answer_of("web2"))
        msg = rec and rec["params"]["text"]
        tap.ok(msg and re.search(pat, msg), "%s as a reply to Bob's "
               "message: web2 acts for Bob" % text, msg)
    menus = " ".join(json.dumps(r["params"]) for r in
                     front.bot.sent(method="setMyCommands"))
    tap.ok('"command": "hosts"' in menus, "the front's command menus "
           "list /hosts", menus[:300])


def test_recovery_routed(suites):
    """/recovery web2 USER_ID SERVICE: web2's admins only, in private
    only; its sequences open web2 only."""
    front, web2 = suites["front"], suites["web2"]
    msg = ask(front, DAN, "/recovery web2 %d ssh 2" % ADA,
              answer_of("web2"))
    seqs = re.findall(r"(?m)^(\d+): (?:<code>)?pks-knock \S+((?: \d+)+)",
                      msg or "")
    tap.ok(len(seqs) == 2 and msg.startswith("<b>web2</b>: "),
           "an admin's /recovery web2 USER_ID ssh 2 in private: web2's 2 "
           "sequences, through the front", msg)
    tap.ok(web2.monitor.log.wait(r"recovery: 2 sequence\(s\) of %d for ssh "
                                 r"issued by .*%d" % (ADA, DAN), 1) and
           not front.monitor.log.grep(r"recovery: \d+ sequence"),
           "issued by web2's monitor, not the front's")
    if seqs:
        run([pkstest.binpath("pksctl"), "-s",
             os.path.join(os.path.dirname(web2.chroot), "pks.sock"),
             "close", pkstest.CLI4], ns=web2.net.srv, check=False)
        pkstest.wait_for(lambda: not web2.windows(pkstest.CLI4), 10)
        before = {n: suites[n].windows() for n in ("front", "web1", "web3")}
        web2.knock([int(p) for p in seqs[0][1].split()])
        tap.ok(pkstest.wait_for(lambda: web2.windows(pkstest.CLI4), 10),
               "web2's recovery sequence opens web2",
               web2.monitor.log.text()[-1500:])
        tap.ok(all(suites[n].windows() == before[n] for n in before),
               "and nothing elsewhere", before)
    msg = ask(front, EVE, "/recovery web2 %d ssh" % EVE, answer_of("web2"))
    tap.ok(msg and "for administrators only" in msg and
           "pks-knock" not in msg, "a non-admin's /recovery web2: refused "
           "by web2", msg)
    since = last_seq(front)
    front.bot.push_message(user_id=ADA, first_name="Ada", chat_id=GROUP,
                           chat_type="supergroup",
                           text="/recovery web2 %d ssh" % ADA)
    rec = front.bot.wait_sent(chat_id=GROUP, since=since, timeout=10,
                              text=answer_of("web2"))
    msg = rec and rec["params"]["text"]
    tap.ok(msg and "only in a private chat" in msg and "pks-knock" not in
           msg, "/recovery web2 in a group: refused by web2 as locally",
           msg)
    tap.ok(not front.bot.sent(chat_id=ADA, since=since),
           "and nothing sent to Ada in private")
    msg = ask(front, ADA, "/recovery web2 revoke all", answer_of("web2"))
    tap.ok(msg and "Revoked 1 recovery sequence." in msg,
           "/recovery web2 revoke all: the unused one (the used one is "
           "gone)", msg)
    msg = ask(front, DAN, "/recovery revoke all", r"recovery sequence")
    tap.ok(msg and msg.startswith("There is no recovery sequence."),
           "/recovery revoke all with no host: the front's own", msg)
    # usage lines name the host as the front takes it, every form
    msg = ask(front, DAN, "/recovery web2 %d" % ADA, answer_of("web2"))
    tap.ok(msg and msg.startswith("<b>web2</b>: Usage: /recovery web2 "
                                  "USER_ID SERVICE [COUNT] ") and
           "/recovery web2 revoke ID|all" in msg and
           "/recovery web2 alone" in msg and
           not re.search(r"/recovery (?!web2 )", msg),
           "a malformed /recovery web2: web2's usage line, in the form it "
           "takes through the front", msg)
    msg = ask(front, DAN, "/recovery %d" % ADA, r"Usage")
    tap.ok(msg and msg.startswith("Usage: /recovery [HOST|all] USER_ID ") and
           "/recovery [HOST|all] revoke ID|all" in msg,
           "a malformed /recovery on the front: its usage line names the "
           "host form", msg)
    msg = ask(front, DAN, "/windows web2 now", answer_of("web2"))
    tap.ok(msg == "<b>web2</b>: Usage: /windows web2", "/windows web2 with "
           "a word too many: web2's usage line", msg)


def gathered(front, user, text, hosts, timeout=15):
    """text asked by user of every host: the messages of the answer,
    once each of hosts has its part, and the parts by host."""
    since = last_seq(front)
    front.bot.push_message(user_id=user, text=text, chat_id=user,
                           chat_type="private", first_name="Admin")
    parts = {}

    def whole():
        msgs = [r["params"].get("text", "") for r in
                front.bot.sent(chat_id=user, since=since)]
        got = re.split(r"(?m)^<b>(\w+)</b>: ", "\n".join(msgs))
        parts.clear()
        parts.update(zip(got[1::2], got[2::2]))
        return msgs if set(hosts) <= set(parts) else None
    msgs = pkstest.wait_for(whole, timeout)
    return msgs or [], parts


def test_recovery_all(suites):
    """/recovery all USER_ID ssh 10: each host where the sender is an
    admin issues 10, and every one reaches them, whole; /recovery all
    (the lists), longer than one message, comes split between hosts,
    never cut; /recovery all revoke all."""
    front = suites["front"]
    issuers = ("front", "web1", "web2")
    msgs, parts = gathered(front, CAROL, "/recovery all %d ssh 10" % ADA,
                           issuers + ("web3",))
    seqs = {h: re.findall(r"(?m)^\d+: (?:<code>)?pks-knock \S+(?: \d+)+",
                          parts.get(h, "")) for h in issuers}
    tap.ok(all(len(seqs[h]) == 10 for h in issuers) and
           "for administrators only" in parts.get("web3", "") and
           not any("more line" in m for m in msgs),
           "/recovery all ADA ssh 10: the 10 sequences of the front, web1 "
           "and web2, whole; web3 refuses", msgs)
    tap.ok(all(suites[h].monitor.log.wait(
        r"recovery: 10 sequence\(s\) of %d for ssh issued by .*%d" %
        (ADA, CAROL), 5) for h in issuers), "each issued by its own monitor")
    # web1 holds 30 more: the lists, about 100 bytes a sequence, make
    # more than one message
    ask(front, DAN, "/recovery web1 %d web 10" % ADA, answer_of("web1"))
    ask(front, ADA, "/recovery web1 %d ssh 10" % BOB, answer_of("web1"))
    msgs, parts = gathered(front, CAROL, "/recovery all", issuers + (
        "web3",))
    lists = {h: re.findall(r"(?m)^\d+: \d+, \w+, \d+ ports, until ",
                           parts.get(h, "")) for h in issuers}
    tap.ok(len(msgs) >= 2 and [len(lists[h]) for h in issuers] ==
           [10, 30, 10] and not any("more line" in m for m in msgs) and
           all(len(m) <= 4096 for m in msgs),
           "/recovery all: %d bytes of lists in %d messages, split between "
           "hosts, none cut" % (sum(len(m) for m in msgs), len(msgs)),
           [len(m) for m in msgs])
    msgs, parts = gathered(front, DAN, "/recovery all revoke all",
                           issuers + ("web3",))
    tap.ok([parts.get(h, "").split("\n")[0] for h in issuers] ==
           ["Revoked 10 recovery sequences.",
            "Revoked 30 recovery sequences.",
            "Revoked 10 recovery sequences."],
           "/recovery all revoke all: every host's, at once", msgs)


def test_refused_by_host_rights(suites):
    front, web2 = suites["front"], suites["web2"]
    msg = ask(front, BOB, "/generate web1 ssh", answer_of("web1"))
    tap.ok(ports_of(msg), "Bob, allowed on web1, gets a sequence there",
           msg)
    msg = ask(front, BOB, "/generate web2 ssh", answer_of("web2"))
    tap.ok(msg and ports_of(msg) is None and "not allowed" in msg,
           "Bob is refused on web2, by web2", msg)
    tap.ok(web2.monitor.log.wait(r"refused /generate .*user %d" % BOB, 10),
           "web2's monitor logs the refusal")


def test_acl_and_replays(suites, broker):
    web2 = suites["web2"]
    log = web2.monitor.log
    start = log.mark()
    now = int(time.time())
    # web1's certificate publishing a request to web2: the ACL refuses
    broker.pub("web1", "pks/web2/req", req_json(7001, now + 30))
    # the front's own certificate (what the broker would replay): the
    # first is handled, the copy refused, a stale one refused
    r = broker.pub("front", "pks/web2/req", req_json(7002, now + 30))
    tap.ok(r.returncode == 0, "the front may publish requests", r.stderr)
    i = log.wait(r"fleet: request 7002 from the front", 10, start)
    tap.ok(i is not None, "web2 handles a request the front published")
    tap.ok(not log.grep(r"request 7001"), "web1's forged request never "
           "reached web2 (the broker's ACL)", log.text()[-2000:])
    broker.pub("front", "pks/web2/req", req_json(7002, now + 30))
    tap.ok(log.wait(r"refused request 7002 from the front: seen before",
                    10, start), "the same request again is refused")
    broker.pub("front", "pks/web2/req", req_json(7003, now - 5))
    tap.ok(log.wait(r"refused request 7003 from the front: expired", 10,
                    start), "a request past its expiry is refused")
    broker.pub("front", "pks/web2/req", req_json(7004, now + 3600))
    tap.ok(log.wait(r"refused request 7004 from the front: it expires "
                    r"in", 10, start), "a request expiring too late is "
                    "refused")
    tap.ok(len(log.grep(r"fleet: request 700\d from the front")) == 1,
           "only the first request was handled", log.grep(r"700\d"))


def test_notice_rewrites_its_own_only(suites, broker):
    """A host rewrites the messages sent for it (its sequence, once
    knocked), never the front's: the front checks, whatever the host
    says."""
    front = suites["front"]
    rec = front.bot.wait_sent(chat_id=ADA, method="editMessageText",
                              text=r"^<b>web2</b>: ", timeout=10)
    tap.ok(rec is not None, "web2 rewrote the message of its sequence, "
           "once knocked", front.monitor.log.text()[-1500:])
    ask(front, ADA, "/hosts", r"This bot serves")
    rec = front.bot.wait_sent(chat_id=ADA, text=r"This bot serves",
                              timeout=15)
    mid = rec["result"]["message_id"] if rec else 0
    log = front.monitor.log
    start = log.mark()
    # web1's own key: a compromised web1, not the broker
    broker.pub("web1", "pks/web1/reply", fleetnet.signed(KEYS["web1"],
               "web1", {"type": "notice", "chat": ADA, "msg": mid,
                        "at": int(time.time() * 1000), "text": "forged",
                        "alt": "", "marks": []}))
    tap.ok(log.wait(r"fleet: web1 asked to rewrite message %d in chat %d, "
                    r"which was not sent for it" % (mid, ADA), 10, start),
           "web1's notice over the front's /hosts answer is dropped",
           log.text()[-1500:])
    # the log line stands where the edit would have been queued
    tap.ok(front.bot.wait_sent(method="editMessageText", text="forged",
                               timeout=0) is None,
           "the front's message is not rewritten")


def capture_req(broker, host):
    """mosquitto_sub with host's certificate on its request topic, once
    subscribed: the process, its output lines read by a thread."""
    p = pkstest.spawn(["stdbuf", "-oL", "mosquitto_sub", "-V", "mqttv5",
                       "-d", "-h",
                       fleetnet.BROKER, "-p", str(fleetnet.PORT), "--cafile",
                       os.path.join(broker.d, "ca.pem"), "--cert",
                       os.path.join(broker.d, host + ".pem"), "--key",
                       os.path.join(broker.d, host + ".key"), "-i",
                       "test-sub-" + host, "-q", "1", "-t",
                       "pks/%s/req" % host],
                      ns=broker.ns, stdout=subprocess.PIPE,
                      stderr=subprocess.STDOUT, text=True)
    out = pkstest.LogWatch(p.stdout)
    if out.wait(r"received SUBACK", 20) is None:
        p.kill()
        raise RuntimeError("mosquitto_sub: " + out.text())
    return p, out


def test_answer_bound(suites, broker):
    """An answer is bound to the request it answers: the host asked, the
    person and chat it was for, the request's MAC.  With web1's own
    certificate and key (a compromised web1), an answer to Ada's request
    naming Bob, or another request's MAC, is refused and logged; so is
    web3's answer to the request asked of web1.  Nothing of them reaches
    Telegram; the answer as web1 makes it is delivered to Ada."""
    front, web1 = suites["front"], suites["web1"]
    flog = front.monitor.log
    pid = fleet_pid(web1)
    sub, out = capture_req(broker, "web1")
    os.kill(pid, signal.SIGSTOP)	# web1 hears the request late
    try:
        for attempt in range(3):
            fstart, omark = flog.mark(), out.mark()
            since = last_seq(front)
            front.bot.push_message(user_id=ADA, text="/generate web1 ssh",
                                   chat_id=ADA, chat_type="private",
                                   first_name="Ada")
            i = out.wait(r'^\{"type":"req"', 20, omark)
            req = json.loads(out.lines[i]) if i is not None else {}
            rid = req.get("id", 0)

            def answer(host, **over):
                o = {"type": "reply", "id": rid, "user": ADA, "chat": ADA,
                     "req": req.get("mac", "00" * 32), "to": 0,
                     "text": "answer %d" % rid, "alt": "", "marks": []}
                o.update(over)
                return fleetnet.signed(KEYS[host], host, o)
            broker.pub("web3", "pks/web3/reply",
                       answer("web3", text="forged by web3"))
            broker.pub("web1", "pks/web1/reply", [
                answer("web1", user=BOB, chat=BOB, text="forged for Bob"),
                answer("web1", req="5a" * 32, text="forged, another req"),
                answer("web1")])
            got = front.bot.wait_sent(chat_id=ADA, since=since, timeout=10,
                                      text=r"^<b>web1</b>: answer %d$" % rid)
            late = flog.wait(r"fleet: web1 did not answer request %d" % rid,
                             0, fstart)
            if got or late is None:
                break
            tap.diag("attempt %d: request %d expired before the answers "
                     "came (a loaded machine): again" % (attempt + 1, rid))
        tap.ok(rid and req.get("user") == ADA, "the request to web1, as the "
               "broker carries it", req)
        tap.ok(flog.wait(r"fleet: refused answer to request %d from web1: "
                         r"it names user %d in chat %d, the request was for "
                         r"user %d in chat %d" % (rid, BOB, BOB, ADA, ADA), 10,
                         fstart), "web1's answer naming Bob: refused, logged",
               flog.text()[-2000:])
        tap.ok(flog.wait(r"fleet: refused answer to request %d from web1: it "
                         r"answers another request of that id" % rid, 10,
                         fstart), "web1's answer with another request's "
               "MAC: refused, logged")
        tap.ok(flog.wait(r"fleet: refused answer to request %d from web3: "
                         r"that request was asked of web1, not of web3" % rid,
                         10, fstart), "web3's answer to web1's request: "
               "refused, logged")
        tap.ok(got is not None, "the answer bound to Ada's request reaches "
               "her", flog.text()[-1500:])
        # the forged ones were published first: handled before it
        tap.ok(not [r for r in front.bot.sent(since=since)
                    if "forged" in r["params"].get("text", "")],
               "none of the refused answers reached Telegram, Bob's chat "
               "least of all", front.bot.sent(since=since))
    finally:
        os.kill(pid, signal.SIGCONT)
        sub.kill()
        sub.wait()


def test_mac_refused(suites, broker):
    """Whoever can publish on a host's topic without its key (here: the
    front's own certificate, as a compromised broker could) is refused,
    by pks-fleet for a MAC of the wrong shape, by the host's monitor for a
    wrong one; the front refuses answers and notices the same way."""
    front, web2 = suites["front"], suites["web2"]
    log = web2.monitor.log
    start = log.mark()
    now = int(time.time())
    o = req_obj(7101, now + 30)
    good = json.loads(fleetnet.signed(KEYS["web2"], "web2", o))
    short = dict(good, mac=good["mac"][:-2])
    altered = dict(good, user=BOB, chat=BOB)	# signed for Ada
    broker.pub("front", "pks/web2/req", [
        json.dumps(o),					# no MAC
        json.dumps(short),
        fleetnet.signed(KEYS["web1"], "web2", req_obj(7102, now + 30)),
        json.dumps(altered)])
    tap.ok(log.wait(r"pks-fleet: refused a broker message on pks/web2/req"
                    r" \(\d+ bytes\): a member missing", 10, start) and
           log.wait(r"refused a broker message on pks/web2/req \(\d+ "
                    r"bytes\): a MAC that is not 64 hex digits", 10, start),
           "a request without a MAC, or a truncated one: refused by "
           "pks-fleet, logged", log.text()[-1500:])
    tap.ok(log.wait(r"fleet: refused request 7102 for web2: bad MAC", 10,
                    start), "a request signed with another host's key: "
           "refused by web2's monitor, logged")
    tap.ok(log.wait(r"fleet: refused request 7101 for web2: bad MAC", 10,
                    start), "a request changed after it was signed (the "
           "user): refused, logged")
    tap.ok(not log.grep(r"fleet: request 710\d from the front"),
           "none of them was handled", log.grep(r"710\d"))
    # answers and notices to the front: a broker cannot make them up
    flog = front.monitor.log
    fstart = flog.mark()
    since = last_seq(front)
    broker.pub("web1", "pks/web1/reply", [
        fleetnet.signed(KEYS["web2"], "web1", {
            "type": "notice", "chat": ADA, "msg": 0, "text": "forged",
            "alt": "", "marks": [], "at": int(time.time() * 1000)}),
        json.dumps({"type": "reply", "id": 5, "user": ADA, "chat": ADA,
                    "req": "cd" * 32, "to": 1, "text": "forged",
                    "alt": "", "marks": [], "mac": "ab" * 32})])
    tap.ok(flog.wait(r"fleet: refused notice 0 from web1: bad MAC", 10,
                     fstart) and
           flog.wait(r"fleet: refused answer to request 5 from web1: bad "
                     r"MAC", 10, fstart),
           "the front refuses a notice and an answer with a bad MAC",
           flog.text()[-1500:])
    tap.ok(front.bot.wait_sent(since=since, text="forged", timeout=0) is
           None, "nothing of them reached Telegram")
    # a notice of web1's, signed with its key, taken once: sent again
    # (the broker replaying it) or old, it is refused
    now_ms = int(time.time() * 1000)
    note = {"type": "notice", "chat": ADA, "msg": 0, "at": now_ms,
            "text": "notice %d" % now_ms, "alt": "", "marks": []}
    old = dict(note, at=now_ms - 200000, text="old notice")
    fstart = flog.mark()
    broker.pub("web1", "pks/web1/reply", [
        fleetnet.signed(KEYS["web1"], "web1", o) for o in (note, note, old)])
    tap.ok(front.bot.wait_sent(since=since, text="notice %d" % now_ms,
                               timeout=10), "a host's signed notice is "
           "delivered")
    tap.ok(flog.wait(r"fleet: refused notice from web1: not later than the "
                     r"last one \(replayed\)", 10, fstart) and
           flog.wait(r"fleet: refused notice from web1: sent 200 s ago", 10,
                     fstart), "the same notice again, and an old one, are "
           "refused", flog.text()[-1500:])
    tap.ok(len([r for r in front.bot.sent() if r["seq"] > since and
                "notice %d" % now_ms in r["params"].get("text", "")]) == 1
           and front.bot.wait_sent(since=since, text="old notice",
                                   timeout=0) is None,
           "only the first reached Telegram")
    # the keys: in no log line, no command line
    texts = "".join(s.monitor.log.text() for s in suites.values())
    cmdlines = b""
    for s in suites.values():
        pids = [s.monitor.proc.pid] + [p for p in (
            s.monitor.child_pid(c) for c in ("pks-fleet", "pks-telegram",
                                             "pks-sniffer", "pks-fw")) if p]
        for pid in pids:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdlines += f.read()
    tap.ok(all(k.decode() not in texts and k not in cmdlines
               for k in KEYS.values()), "no key in a log line or a "
           "command line")


def test_replay_after_restart(suites, broker):
    """A request handled, then web2's monitor restarted (the ids it saw
    are gone): the same request again is refused, as made before the
    start.  The monitor starts with its wall clock an hour ahead, set
    right once it runs (NTP at boot): requests made after the start are
    still taken (the start is reckoned on today's clock)."""
    web2 = suites["web2"]
    now = int(time.time())
    req = req_json(7201, now + 60)
    start = web2.monitor.log.mark()
    broker.pub("front", "pks/web2/req", req)
    tap.ok(web2.monitor.log.wait(r"fleet: request 7201 from the front", 10,
                                 start), "web2 handles a signed request")
    tmp = tempfile.mkdtemp(prefix="pks-fleet-clock-")
    so, step = os.path.join(tmp, "fakeclock.so"), os.path.join(tmp, "step")
    run(["cc", "-shared", "-fPIC", "-O2", "-o", so,
         os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "fakeclock.c")])
    with open(step, "w") as f:
        f.write("3600\n")
    web2.monitor.stop()
    saved = dict(os.environ)
    os.environ.update(LD_PRELOAD=t_clock_step.preload(so),
                      FAKECLOCK_FILE=step)
    try:
        web2.monitor.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    log = web2.monitor.log
    with open("/proc/%d/maps" % web2.monitor.proc.pid) as f:
        shim = "fakeclock.so" in f.read()
    tap.ok(shim and log.wait(r"pks-fleet: connected to the broker", 20),
           "web2's monitor restarted (its clock an hour ahead: the shim "
           "is loaded) and reconnected")
    with open(step + ".tmp", "w") as f:
        f.write("0\n")
    os.rename(step + ".tmp", step)
    broker.pub("front", "pks/web2/req", [
        req, req_json(7202, int(time.time()) + 60)])
    tap.ok(log.wait(r"fleet: refused request 7201 from the front: made "
                    r"\d+ ms before this monitor started \(replayed, or the "
                    r"clocks disagree\)", 10),
           "the request replayed after the restart is refused, logged",
           log.text()[-1500:])
    tap.ok(log.wait(r"fleet: request 7202 from the front", 10) and
           not log.grep(r"fleet: request 7201 from the front"),
           "a new one is taken though the clock was set back an hour "
           "since the start; the replayed one was not", log.text()[-1500:])
    shutil.rmtree(tmp, True)


def notice(text, at):
    """web2's notice to Ada, signed with its key, dated at (ms)."""
    return fleetnet.signed(KEYS["web2"], "web2", {
        "type": "notice", "chat": ADA, "msg": 0, "at": at, "text": text,
        "alt": "", "marks": []})


def test_notice_replay_after_front_restart(suites, broker):
    """A notice of web2 made before the front's monitor restarted (the
    last one it took from web2 is forgotten), sent again within the 120 s
    a notice lives: refused, as made before the start; a new one is
    delivered."""
    front, web3 = suites["front"], suites["web3"]
    t0 = time.monotonic()
    old = notice("a notice made before the restart",
                 int(time.time() * 1000))
    # web3 gone quiet: what the front learns of it after its restart is
    # the hello the broker kept, as old as that
    pid = fleet_pid(web3)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(SILENT + 1)
        front.monitor.stop()
        front.monitor.start()
        log = front.monitor.log
        tap.ok(log.wait(r"fleet: host web2 is there", 20),
               "the front restarted and hears from web2 again",
               log.text()[-1500:])
        tap.ok(log.wait(r"fleet: host web3 is there", 10) is not None,
               "and of web3, from the hello the broker kept")
        seen = seen_of(front)
        tap.ok(seen.get("web3", (0, False))[1] and seen["web3"][0] >=
               SILENT + 1 and not seen.get("web2", (0, True))[1],
               "web3's kept hello is reckoned from its date: silent for "
               "%d s and more, not heard from just now" % (SILENT + 1),
               seen)
    finally:
        os.kill(pid, signal.SIGCONT)
    since = last_seq(front)
    broker.pub("web2", "pks/web2/reply", [
        old, notice("a notice made after the restart",
                    int(time.time() * 1000))])
    tap.ok(log.wait(r"fleet: refused notice from web2: made \d+ ms before "
                    r"this monitor started \(replayed, or the clocks "
                    r"disagree\)", 10),
           "the old notice, sent again after the restart: refused, logged",
           log.text()[-1500:])
    tap.ok(front.bot.wait_sent(chat_id=ADA, since=since, timeout=10,
                               text=r"made after the restart") and
           not [r for r in front.bot.sent(chat_id=ADA, since=since) if
                "made before the restart" in r["params"].get("text", "")],
           "the new one reaches Ada; the old one did not")
    tap.diag("the front's restart and the notices took %.1f s" %
             (time.monotonic() - t0))


def test_bad_outcome_kills(suites):
    """A delivery outcome out of range from pks-fleet (a test build forges
    one on SIGUSR1: ok with status 500) is a compromised child: web2's
    monitor kills it, and the new one reconnects."""
    web2 = suites["web2"]
    log = web2.monitor.log
    start = log.mark()
    pid = fleet_pid(web2)
    # its test hook is in place once it said ready (a restarted one
    # shows Seccomp 2 at once: pkstest.Monitor.child_ready)
    pkstest.wait_for(lambda: web2.monitor.child_ready("pks-fleet", pid), 20)
    os.kill(pid, signal.SIGUSR1)
    tap.ok(log.wait(r"pks-fleet: malformed message \(type \d+, \d+ bytes\)",
                    10, start) and
           log.wait(r"pks-fleet: compromised: killing it", 5, start),
           "a bad delivery outcome from pks-fleet: the host's monitor "
           "kills it", log.text()[-1500:])
    tap.ok(log.wait(r"pks-fleet: connected to the broker", 20, start) and
           fleet_pid(web2) not in (None, pid), "restarted, it reconnects")


def test_malformed(suites, broker):
    web1 = suites["web1"]
    pid = fleet_pid(web1)
    log = web1.monitor.log
    start = log.mark()
    now = int(time.time())
    bad = [
        ("binary", "\x01\x02\x03\xff"),
        ("not JSON", "{\"type\": \"req\", "),
        ("a JSON array", "[1, 2]"),
        ("an unknown member", req_json(8001, now + 30, "web1", extra=1)),
        ("a name too long", req_json(8002, now + 30, "web1",
                                     name="x" * 80)),
        ("a number out of range", req_json(8003, now + 30, "web1",
                                           user=-5)),
        ("a chat that is not the user's in private",
         req_json(8004, now + 30, "web1", chat=42)),
        ("an unknown command", req_json(8005, now + 30, "web1",
                                        cmd="reboot")),
        ("too many arguments", req_json(8006, now + 30, "web1",
                                        args=["a", "b", "c", "d", "e"])),
        ("a type for another topic", json.dumps({"type": "hello",
                                                 "at": now})),
        # over 32 KiB, within the broker's max_packet_size
        ("a big message", "{\"type\":\"req\",\"x\":\"%s\"}" % ("y" * 32760)),
    ]
    broker.pub("front", "pks/web1/req", [p for _, p in bad])
    n = pkstest.wait_for(lambda: len(log.grep(
        r"pks-fleet: refused a broker message on pks/web1/req")) >=
        len(bad), 10)
    tap.ok(n, "each of %d malformed messages is refused with a log line"
           % len(bad), log.grep(r"refused a broker message"))
    tap.ok(fleet_pid(web1) == pid and not log.grep(r"pks-fleet: (killed|"
                                                   r"exited|sandbox)"),
           "pks-fleet is still the same process")
    tap.ok(not log.grep(r"fleet: request 800\d"), "none reached the "
           "monitor")
    # past the broker's max_packet_size (doc/fleet.md): the broker drops
    # it, and its sender; pks-fleet never reads it (a marker after it,
    # from another connection, is)
    mark = log.mark()
    broker.pub("front", "pks/web1/req", "{\"x\":\"%s\"}" % ("y" * 40000))
    broker.pub("front", "pks/web1/req", "[\"rev8 marker\"]")
    tap.ok(log.wait(r"pks-fleet: refused a broker message on pks/web1/req "
                    r"\(1\d bytes\)", 10, mark) is not None and
           log.lacks(r"refused a broker message on pks/web1/req \(4\d{4} "
                     r"bytes\)", mark, until=r"\(1\d bytes\)"),
           "a message over the broker's limit never reaches pks-fleet",
           log.text()[-1500:] + broker.log.text()[-1500:])
    msg = ask(suites["front"], ADA, "/generate web1 ssh",
              answer_of("web1"))
    tap.ok(ports_of(msg), "web1 still answers", msg)
    # to the front: an answer may be longer than a message, a notice not
    # (nor an answer past 11 KiB): the front's pks-fleet refuses them
    front = suites["front"]
    fpid, flog = fleet_pid(front), front.monitor.log
    too_long = (r"pks-fleet: refused a broker message on pks/web1/reply "
                r"\(\d+ bytes\): a text too long")
    before = len(flog.grep(too_long))
    at = int(time.time() * 1000)
    broker.pub("web1", "pks/web1/reply", [
        fleetnet.signed(KEYS["web1"], "web1", {
            "type": "notice", "chat": ADA, "msg": 0, "at": at,
            "text": "line of a long notice\n" * 200, "alt": "",
            "marks": []}),
        fleetnet.signed(KEYS["web1"], "web1", {
            "type": "reply", "id": 8009, "user": ADA, "chat": ADA,
            "req": "cd" * 32, "to": 0, "text": "x" * 11264, "alt": "",
            "marks": []})])
    tap.ok(pkstest.wait_for(lambda: len(flog.grep(too_long)) - before ==
                            2, 10) and
           fleet_pid(front) == fpid, "a notice over 4 kB and an answer over "
           "11 kB: refused by the front's pks-fleet, which goes on",
           flog.text()[-1500:])


def seen_of(front):
    """pksctl fleet on the front: {host: (seconds ago, silent)}."""
    return {h: (int(s), bool(q)) for h, s, q in re.findall(
        r"(?m)^(\w+) +(\d+) s ago( \(silent\))?$", ctl_fleet(front))}


def test_no_answer(suites):
    front, web3 = suites["front"], suites["web3"]
    pid = fleet_pid(web3)
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        t0 = time.monotonic()
        msg = ask(front, ADA, "/generate web3 ssh",
                  r"web3 did not answer|" + answer_of("web3"),
                  timeout=TIMEOUT + 10)
        took = time.monotonic() - t0
        tap.ok(msg and "web3 did not answer" in msg and
               ports_of(msg) is None, "a host that does not answer: "
               "\"web3 did not answer\", nothing issued", msg)
        tap.diag("answered after %.1f s (timeout %d s)" % (took, TIMEOUT))
        # the picker of hosts waits for the timeout, and offers the
        # hosts that answered
        since = last_seq(front)
        msg = ask(front, ADA, "/generate", r"Which host",
                  timeout=TIMEOUT + 10)
        rec = front.bot.wait_sent(chat_id=ADA, since=since,
                                  text=r"Which host", timeout=0)
        tap.ok(buttons(rec) == ["@front", "@web1", "@web2"] and
               "(1 host did not answer" in msg, "the picker of hosts "
               "while web3 does not answer: the others, and a word on "
               "web3", (msg, buttons(rec)))
        # nothing asked of web1 and web2 for 4 hellos: still heard from
        # (their hellos); web3, stopped, is silent
        time.sleep(max(4 * HELLO, SILENT + 1 - (time.monotonic() -
                                                 stopped)))
        # (not silent: at most SILENT s, where 4 * HELLO s without
        # hellos would be more; whole seconds, and a hello late under
        # load, make "within a hello" a second or two more)
        msg = ask(front, ADA, "/hosts", r"This bot serves")
        lines = dict(re.findall(r"<b>(\w+)</b>: ([^\n]*)", msg or ""))
        tap.ok(all(re.fullmatch(r"last heard from [0-%d] s ago" %
                                SILENT, lines.get(h, ""))
                   for h in ("web1", "web2")) and
               re.fullmatch(r"silent, last heard from \d+ s ago",
                            lines.get("web3", "")) and
               int(re.search(r"\d+", lines["web3"]).group(0)) >= SILENT,
               "/hosts: web1 and web2, asked nothing for %d s, heard from "
               "(their hellos), not silent; web3, stopped, silent" %
               (4 * HELLO), msg)
        seen = seen_of(front)
        tap.ok(seen.get("web3", (0, False))[1] and
               not seen.get("web1", (0, True))[1],
               "pksctl fleet on the front says web3 is silent", seen)
    finally:
        os.kill(pid, signal.SIGCONT)
    tap.ok(pkstest.wait_for(lambda: seen_of(front).get("web3", (0, True))[1]
                            is False, 10), "web3, back, is heard from "
           "again (its next hello)", seen_of(front))
    # the request reaches web3 late: past its expiry, refused
    tap.ok(web3.monitor.log.wait(r"refused request \d+ from the front: "
                                 r"expired", 15),
           "web3 refuses the request that came after its expiry")


def test_pickers_at_once(suites):
    """Two pickers of hosts gathered at once, each of its own person:
    Ada's waits for web3 (its monitor stopped: its pks-fleet says hello,
    it does not answer) while web1 answers Bob's."""
    front, web3 = suites["front"], suites["web3"]
    pid = web3.monitor._monitor_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        since = last_seq(front)
        mark = front.monitor.log.mark()
        # the worker busy with a batch (a request web3 does not answer):
        # the two next ones come in one batch, gathered side by side
        push(front, ADA, "/generate web3 ssh")
        front.monitor.log.wait(r"fleet: command .* sent to web3", 10, mark)
        push(front, ADA, "/generate")
        push(front, BOB, "/generate")
        msg = wait_reply(front, ADA, since, r"Which host", 3 * TIMEOUT + 10)
        rec = front.bot.wait_sent(chat_id=ADA, since=since,
                                  text=r"Which host", timeout=0)
        bob = front.bot.wait_sent(chat_id=BOB, since=since,
                                  text=r"Which host", timeout=10)
        tap.ok(buttons(rec) == ["@front", "@web1", "@web2"] and
               "(1 host did not answer" in msg, "two pickers at once: "
               "Ada's offers the hosts that answered her, web1 too, which "
               "answered Bob's meanwhile", (msg, buttons(rec)))
        tap.ok(buttons(bob) == ["@web1"], "and Bob's offers web1 only",
               buttons(bob))
    finally:
        os.kill(pid, signal.SIGCONT)


def test_armed_too_late(suites):
    """web1's sniffer cannot arm Ada's new sequence before the request
    expires (stopped): web1 revokes it then, unseen, rather than answer
    after the front gave up and keep it live, unseen, until its delivery
    wait ends a minute later."""
    front, web1 = suites["front"], suites["web1"]
    log = web1.monitor.log
    sniffer = web1.monitor.child_pid("pks-sniffer")
    start = log.mark()
    os.kill(sniffer, signal.SIGSTOP)
    try:
        msg = ask(front, ADA, "/generate web1 ssh",
                  r"web1 did not answer|" + answer_of("web1"),
                  timeout=TIMEOUT + 10)
        tap.ok(msg and ports_of(msg) is None, "web1's sniffer stopped: "
               "the front shows no ports", msg)
        rev = log.wait(r"pks-monitor: sequence (\d+) of Ada revoked: "
                       r"pks-sniffer did not arm it before its request "
                       r"expired", 15, start)
        tap.ok(rev is not None, "web1 revokes the sequence when the "
               "request expires", "\n".join(log.grep(r"sequence")[-6:]))
    finally:
        os.kill(sniffer, signal.SIGCONT)
    seq = re.search(r"sequence (\d+) of", log.lines[rev]).group(1) \
        if rev is not None else "NONE"
    # the next /generate is answered: the first answer after the
    # revocation is its, none late for the revoked one
    msg = ask(front, ADA, "/generate web1 ssh", answer_of("web1"))
    end = log.wait(r"pks-monitor: sequence \d+ armed by pks-sniffer: "
                   r"answered", 10, rev or start)
    tap.ok(ports_of(msg) and end is not None and
           "sequence %s armed" % seq not in log.lines[end] and log.lacks(
               r"pks-sniffer: (killed|exited|.*killing it)", start,
               end + 1), "back, web1's sniffer catches up: no late "
           "answer, no offence, the next /generate answered",
           "%s\n%s" % (msg, "\n".join(log.grep(r"sequence|pks-sniffer:")
                                       [-8:])))


def live_ids(s):
    """The ids of the sequences live on suite s (pksctl sequences)."""
    r = pkstest.pksctl(os.path.join(os.path.dirname(s.chroot), "pks.sock"),
                       "sequences")
    return set(int(l.split()[0]) for l in r.stdout.splitlines()[1:]
               if l.strip()) if r.returncode == 0 else None


def test_answer_unsent(suites, broker):
    """web2's pks-fleet dies (restarted with back-off) while web2's answer
    to a /generate waits for its sniffer (stopped): made once the sniffer
    arms the sequence, the answer cannot reach the front.  web2 revokes
    the sequence at once, rather than keep it live, unseen, for the
    minute it waits for a delivery outcome; the front says "did not
    answer"; back, pks-fleet carries the next answer.  (The broker is
    held meanwhile: a pks-fleet restarted before the sniffer arms the
    sequence, its back-off a whole second or less, does not connect.)"""
    front, web2 = suites["front"], suites["web2"]
    log = web2.monitor.log
    sniffer = web2.monitor.child_pid("pks-sniffer")
    start = log.mark()
    since = last_seq(front)
    held = False
    os.kill(sniffer, signal.SIGSTOP)
    try:
        front.bot.push_message(user_id=ADA, text="/generate web2 ssh",
                               chat_id=ADA, chat_type="private",
                               first_name="Ada")
        issued = log.wait(r"pks-monitor: sequence (\d+) issued to Ada", 5,
                          start)
        os.kill(broker.proc.pid, signal.SIGSTOP)
        held = True
        os.kill(fleet_pid(web2), signal.SIGKILL)
        down = log.wait(r"pks-monitor: pks-fleet: restarting in", 5, start)
    finally:
        os.kill(sniffer, signal.SIGCONT)
    try:
        seq = int(re.search(r"sequence (\d+) issued", log.lines[issued])
                  .group(1)) if issued is not None else None
        rev = log.wait(r"pks-monitor: answer to Ada could not be sent \(the "
                       r"fleet origin is down or restarting\): sequence %s "
                       r"revoked" % seq, 5, start)
    finally:
        if held:
            os.kill(broker.proc.pid, signal.SIGCONT)
    live = live_ids(web2)
    tap.ok(None not in (issued, down, rev) and live is not None and
           seq not in live, "web2's pks-fleet down when its answer is "
           "made: the sequence is revoked at once, logged, not live",
           "%s\n%s" % (live, "\n".join(log.grep(r"sequence|pks-fleet:")
                                        [-8:])))
    msg = wait_reply(front, ADA, since, r"web2 did not answer|" +
                     answer_of("web2"), TIMEOUT + 10)
    tap.ok(msg and "web2 did not answer" in msg and ports_of(msg) is None,
           "and the front says web2 did not answer", msg)
    tap.ok(log.wait(r"pks-fleet: connected to the broker", 20,
                    down or start) is not None, "pks-fleet is back")
    msg = ask(front, ADA, "/generate web2 ssh", answer_of("web2"))
    tap.ok(ports_of(msg), "and carries the next answer", msg)


def zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


# what pks-fleet passes its monitor on a request: struct pks_fleet_req
# (common/pks.h) and the imsg header
FLEET_REQ_BYTES = 440 + 16


def unread_of(s, pid):
    """Bytes the child pid wrote to suite s's monitor that it has not
    read yet: the Recv-Q of the monitor's end of their socketpair (the
    child's is its descriptor 3, PROC_FD), or None."""
    try:
        ino = re.search(r"socket:\[(\d+)\]",
                        os.readlink("/proc/%d/fd/3" % pid)).group(1)
    except (OSError, AttributeError):
        return None
    for line in run(["ss", "-xn"], ns=s.net.srv,
                    check=False).stdout.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "u_str" and f[-1] == ino:
            return int(f[2])
    return None


def syscall_of(pid):
    """The system call pid is in (/proc/PID/syscall: its number, or
    "running"), None if gone."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return None


def stop_idle(mon, idle):
    """SIGSTOP the monitor mon as it waits in poll(2) (the call it is in
    when idle, by its number) and idle() holds; stopped anywhere else in
    its loop, it is continued and stopped again.  True once so: whatever
    comes meanwhile waits for its next poll(2), which sees the signals
    first.  (Stopped after a poll(2) that found one of its children's
    sockets readable, it would read that socket first once continued.)"""
    seen = []
    for _ in range(20):
        seen.append(syscall_of(mon))
        time.sleep(0.01)
    seen = [n for n in seen if n not in (None, "running", "-1")]
    nr = max(set(seen), key=seen.count) if seen else None
    for _ in range(200):
        os.kill(mon, signal.SIGSTOP)
        stopped = pkstest.wait_for(lambda: (pkstest.proc_status(mon) or {})
                                   .get("State", "").startswith("T"), 5)
        if stopped and syscall_of(mon) == nr and idle():
            return True
        os.kill(mon, signal.SIGCONT)
        time.sleep(0.05)
    os.kill(mon, signal.SIGSTOP)
    return False


def test_recovery_unsent(suites):
    """web2's pks-fleet dies as it hands Dan's /recovery web2 on (web2's
    monitor, stopped meanwhile, reads the request only as it reaps
    pks-fleet): the answer cannot go, and the recovery sequences it would
    have shown are revoked, not kept unseen for recovery-valid (90 days);
    the front says web2 did not answer."""
    front, web2 = suites["front"], suites["web2"]
    log = web2.monitor.log
    start = log.mark()
    since = last_seq(front)
    mon = web2.monitor.proc.pid
    fmark = front.monitor.log.mark()
    pid = fleet_pid(web2)
    try:
        # nothing unread from pks-fleet: the request's bytes are the next
        tap.ok(stop_idle(mon, lambda: unread_of(web2, pid) == 0),
               "web2's monitor stopped in its poll(2), all of pks-fleet's "
               "read", "%s %s" % (syscall_of(mon), unread_of(web2, pid)))
        front.bot.push_message(user_id=DAN, text="/recovery web2 %d ssh 2" %
                               ADA, chat_id=DAN, chat_type="private",
                               first_name="Dan")
        # handed to web2's pks-fleet, which passes it on at once
        tap.ok(front.monitor.log.wait(r"fleet: command \d+ \S+ from user "
                                      r"%d sent to web2" % DAN, 5, fmark)
               is not None, "the front sends Dan's /recovery to web2")
        # passed on: the request is in the monitor's socket, unread
        tap.ok(pkstest.wait_for(
            lambda: (unread_of(web2, pid) or 0) >= FLEET_REQ_BYTES,
            5), "web2's pks-fleet passes it on to its monitor (%s bytes "
            "unread)" % unread_of(web2, pid))
        os.kill(pid, signal.SIGKILL)
        # dead (a zombie until the monitor reaps it): the monitor reads
        # what it passed on as its last words
        tap.ok(pkstest.wait_for(lambda: zombie(pid), 5), "pks-fleet "
               "killed after passing the request on")
    finally:
        os.kill(mon, signal.SIGCONT)
    rev = log.wait(r"pks-monitor: recovery: the answer to Dan could not be "
                   r"sent: 2 sequence\(s\) revoked", 5, start)
    r = pkstest.pksctl(os.path.join(os.path.dirname(web2.chroot),
                                    "pks.sock"), "recovery")
    tap.ok(rev is not None and log.wait(r"recovery: 2 sequence\(s\) of %d "
                                        r"for ssh issued" % ADA, 1, start)
           is not None and str(ADA) not in r.stdout, "web2 issued them and, its answer "
           "lost, revoked them: none is live", "%s\n%s" % (
               r.stdout, "\n".join(log.grep(r"recovery|fleet")[-8:])))
    msg = wait_reply(front, DAN, since, r"web2 did not answer|" +
                     answer_of("web2"), TIMEOUT + 10)
    tap.ok(msg and "web2 did not answer" in msg and "pks-knock" not in msg,
           "and the front says web2 did not answer", msg)
    tap.ok(log.wait(r"pks-fleet: connected to the broker", 20, start)
           is not None, "pks-fleet is back")


def test_front_worker_lost(suites):
    """The front's pks-telegram dies while web1's answer hangs at the Bot
    API: web1 hears at once that it was not delivered and revokes the
    sequence (not a minute later); the restarted worker gets the update
    again, and web1 answers it afresh."""
    front, web1 = suites["front"], suites["web1"]
    log = web1.monitor.log
    start = log.mark()
    since = last_seq(front)
    front.bot.fail(method="sendMessage", kind="hang", seconds=30, count=1,
                   chat_id=ADA)
    front.bot.push_message(user_id=ADA, text="/generate web1 ssh",
                           chat_id=ADA, chat_type="private",
                           first_name="Ada")
    hung = front.bot.wait_log(method="sendMessage", since=since, status=0,
                              timeout=10)
    said = log.wait(r"pks-monitor: sequence \d+ armed by pks-sniffer: "
                    r"answered", 5, start)
    seq = re.search(r"sequence (\d+) armed", log.lines[said]).group(1) \
        if said is not None else "NONE"
    os.kill(front.monitor.child_pid("pks-telegram"), signal.SIGKILL)
    rev = log.wait(r"pks-monitor: sequence %s could not be delivered "
                   r"\(0\): revoked" % seq, 10, start)
    tap.ok(None not in (hung, said, rev), "the front's worker killed while "
           "web1's answer hangs: web1 revokes sequence %s at once" % seq,
           "\n".join(log.grep(r"sequence")[-6:]))
    rec = front.bot.wait_sent(chat_id=ADA, since=since,
                              text=answer_of("web1"), timeout=30)
    msg = rec["params"].get("text", "") if rec else None
    again = log.wait(r"pks-monitor: sequence (\d+) armed by pks-sniffer: "
                     r"answered", 5, (said or start) + 1)
    tap.ok(ports_of(msg) and again is not None and
           "sequence %s armed" % seq not in log.lines[again],
           "the restarted worker gets the update again: web1 answers it "
           "with a fresh sequence", msg)


def test_flood_is_counted(suites, broker):
    """Junk from the broker: 40 messages pks-fleet refuses and 40 requests
    web3's monitor refuses (bad MAC); each side says its first 20 in full,
    then one line, and counts the rest.  A good request after them marks
    the end."""
    web3 = suites["web3"]
    log = web3.monitor.log
    start = log.mark()
    now = int(time.time())
    n = 40
    last = req_json(7399, now + 30, "web3", cmd="status", args=[])
    broker.pub("front", "pks/web3/req",
               ["junk %d" % i for i in range(n)] +
               [json.dumps(dict(req_obj(7300 + i, now + 30),
                                mac="cd" * 32)) for i in range(n)] +
               [last])
    tap.ok(log.wait(r"fleet: request 7399 from the front", 15, start),
           "web3 handles the good request after the flood",
           log.text()[-1500:])
    with log.cv:
        text = "\n".join(log.lines[start:])
    full = re.findall(r"pks-fleet: refused a broker message on pks/web3/req",
                      text)
    mon = re.findall(r"fleet: refused request 73\d\d for web3: bad MAC",
                     text)
    tap.ok(len(full) == 20 and re.search(
        r"pks-fleet: 20 broker messages refused within 60 s: the next ones "
        r"are counted", text), "pks-fleet says 20 of %d junk messages, then "
        "that it counts them" % n, "%d said" % len(full))
    # (web3's refusal of a late request above may be of the same minute)
    tap.ok(0 < len(mon) <= 20 and re.search(
        r"pks-monitor: 20 fleet messages refused within 60 s: the next "
        r"ones are counted", text), "web3's monitor says at most 20 of %d "
        "bad requests, then that it counts them" % n, "%d said" % len(mon))
    out = ctl_fleet(web3)
    m = re.search(r"refused (\d+)", out)
    tap.ok(m and int(m.group(1)) >= n, "pksctl fleet counts every one "
           "pks-fleet refused", out)


def ctl_fleet(s):
    """pksctl fleet on suite s: its output."""
    return run([pkstest.binpath("pksctl"), "-s",
                os.path.join(os.path.dirname(s.chroot), "pks.sock"),
                "fleet"], ns=s.net.srv, check=False).stdout


def test_broker_restart(suites, broker):
    front, web2 = suites["front"], suites["web2"]
    marks = {n: s.monitor.log.mark() for n, s in suites.items()}
    before = last_seq(front)
    broker.stop()
    for n, s in suites.items():
        tap.ok(s.monitor.log.wait(r"pks-fleet: lost the broker", 15,
                                  marks[n]), "%s notices the broker is "
               "gone" % n)
    msg = ask(front, ADA, "/generate web2 ssh", r"broker|<b>web2</b>: ")
    tap.ok(msg and "cannot be reached" in msg and ports_of(msg) is None,
           "a request during the outage gets a clear answer", msg)
    msg = ask(front, ADA, "/hosts", r"This bot serves")
    tap.ok(msg and "broker cannot be reached" in msg, "/hosts during the "
           "outage says the broker cannot be reached", msg)
    msg = ask(front, ADA, "/generate", r"Which host|broker")
    tap.ok(msg and "broker cannot be reached" in msg and
           "only front answers" in msg, "the picker of hosts during the "
           "outage: the front's own, and why", msg)
    out = pkstest.wait_for(lambda: (lambda o: o if "broker not connected"
                                    in o else None)(ctl_fleet(front)), 5)
    tap.ok(out, "pksctl fleet on the front: broker not connected",
           ctl_fleet(front))
    msg = ask(front, ADA, "/generate ssh", r"pks-knock|not")
    tap.ok(ports_of(msg), "the front's own /generate still works", msg)
    broker.start()
    for n, s in suites.items():
        tap.ok(s.monitor.log.wait(r"pks-fleet: connected to the broker",
                                  40, marks[n]), "%s reconnects by "
               "itself" % n)
    since = last_seq(front)
    msg = ask(front, ADA, "/generate web2 ssh", answer_of("web2"))
    tap.ok(ports_of(msg), "web2 answers again after the restart", msg)
    # nothing answered twice: each request got exactly one answer
    n = [r for r in front.bot.sent() if r["seq"] > since and
         r["params"].get("chat_id") == ADA and
         "pks-knock" in r["params"].get("text", "")]
    tap.ok(len(n) == 1, "one answer for one request", n)
    # and the request of the outage was never sent on: web2 handled one
    # generate since the broker stopped, the front delivered one of its
    tap.ok(web2.monitor.log.count(
        r"fleet: request \d+ from the front: generate", marks["web2"],
        until=web2.monitor.log.mark()) == 1 and
        len([r for r in front.bot.sent() if r["seq"] > before and
             r["params"].get("text", "").startswith("<b>web2</b>: One-time")])
        == 1, "the request of the outage is not asked after the restart: "
        "web2 issued one sequence since the broker stopped",
        web2.monitor.log.grep(r"from the front: generate")[-3:])


def test_ctl(suites):
    front = suites["front"]

    def whole(out):
        return ("role front" in out and "broker connected" in out and
                re.search(r"last \d+ s ago", out) and
                all(re.search(r"(?m)^%s +\d+ s ago$" % h, out)
                    for h in HOSTS))
    # (a host silent through the broker's outage above is heard from
    # again with its first hello since: it may be on its way still)
    out = pkstest.wait_for(lambda: (lambda o: o if whole(o) else None)(
        ctl_fleet(front)), 10) or ctl_fleet(front)
    tap.ok(whole(out), "pksctl fleet on the front: the link, the last "
           "message, and each host seen and when", out)
    web1 = suites["web1"]
    out = ctl_fleet(web1)
    m = re.search(r"received (\d+), refused (\d+), last \d+ s ago", out)
    tap.ok("role host" in out and "broker connected" in out and m and
           int(m.group(2)) >= 11 and "LAST-SEEN" not in out,
           "pksctl fleet on a host: the link, the messages received and "
           "refused, the last; no hosts", out)


def test_front_alone(suites):
    """The front alone holds the bot token and runs pks-telegram."""
    tap.ok(suites["front"].monitor.child_pid("pks-telegram") and
           not any(suites[h].monitor.child_pid("pks-telegram")
                   for h in HOSTS), "pks-telegram runs on the front only")


def reload_with(s, text):
    """s's configuration replaced by text, reloaded: the log's mark."""
    start = s.monitor.log.mark()
    pkstest.write_config(s.monitor.conf, text)
    s.monitor.proc.send_signal(signal.SIGHUP)
    return start if s.monitor.log.wait(r"configuration reloaded", 15,
                                       start) is not None else None


def test_broker_name(suites):
    """web1 names its broker (broker.pks.test, in its namespace's hosts
    file), resolved by pks-fleet before its chroot; the broker's
    certificate is checked against that name: another name that leads to
    the same broker, which its certificate does not carry, is refused."""
    web1 = suites["web1"]
    log = web1.monitor.log
    tap.ok(log.grep(r"pks-fleet: connected to the broker %s:%d as web1" %
                    (re.escape(fleetnet.BROKER_NAME), fleetnet.PORT)),
           "web1 reached the broker by its name, from its chroot",
           log.grep(r"connected to the broker"))
    fleetnet.name_broker(web1.net.srv, (fleetnet.BROKER_NAME,
                                        "wrong.pks.test"))
    good = open(web1.monitor.conf).read()
    start = reload_with(web1, good.replace(fleetnet.BROKER_NAME,
                                           "wrong.pks.test"))
    tap.ok(start is not None and log.wait(
        r"pks-fleet: .*certificate verify failed", 15, start) and
        not log.grep(r"connected to the broker wrong"),
        "a name the broker's certificate does not carry: refused",
        log.text()[-1500:])
    # the link's state comes after the line that said why
    tap.ok(pkstest.wait_for(lambda: "broker not connected" in
                            ctl_fleet(web1), 10), "pksctl fleet: not "
           "connected", ctl_fleet(web1))
    start = reload_with(web1, good)
    tap.ok(start is not None and log.wait(
        r"pks-fleet: connected to the broker %s" %
        re.escape(fleetnet.BROKER_NAME), 20, start),
        "its own name again: connected", log.text()[-1000:])


def test_confinement(suites):
    web1 = suites["web1"]
    pid = fleet_pid(web1)
    st = pkstest.proc_status(pid)
    uid = int(run(["id", "-u", "_pks"]).stdout)
    tap.ok(st and st["Uid"].split() == [str(uid)] * 4,
           "pks-fleet runs as _pks", st and st["Uid"])
    tap.ok(st and st["NoNewPrivs"] == "1", "NoNewPrivs 1")
    tap.ok(st and st["Seccomp"] == "2", "Seccomp 2 (filter)")
    tap.ok(st and st["CapEff"] == "0000000000000000", "no capability")
    tap.ok(st and st["Threads"] == "1", "one thread: libmosquitto driven "
           "from its own poll loop", st and st["Threads"])
    tap.ok(os.readlink("/proc/%d/root" % pid) == web1.chroot,
           "chrooted into the empty directory")
    start = web1.monitor.log.mark()
    tap.ok(pkstest.wait_for(lambda: web1.monitor.child_ready("pks-fleet",
                                                             pid), 20),
           "it said ready: its own filter is in place")
    os.kill(pid, signal.SIGUSR2)
    tap.ok(web1.monitor.log.wait(r"pks-fleet: sandbox violation", 10,
                                 start), "a forbidden call kills it "
           "(SIGSYS), the monitor says so")
    tap.ok(web1.monitor.log.wait(r"pks-fleet: connected to the broker",
                                 20, start), "restarted, it reconnects")


if __name__ == "__main__":
    main()

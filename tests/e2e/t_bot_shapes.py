#!/usr/bin/env python3
"""The bot against what real groups send, through the real monitor and
worker and the fake Bot API: a channel post never crashes the worker nor
issues a sequence; in a forum topic the answer lands in that topic and a
/grant does not go to the topic's creator; an anonymous admin or a
message sent as a channel gets "send it as yourself" and nothing is
issued or granted; hostile first names are escaped in every HTML
answer; /status in a group answers in private and says so in the group;
a group that becomes a supergroup is logged with the configuration line
to add and told to the notify users; the service picker expires with its
command and, pressed by a user who never started the bot, opens that
chat; a private send refused for another reason is told in the group."""
import os
import re
import time

import pkstest
from pkstest import tap, ask, last_sent_seq
from t_bot_commands import SERVICES

ADA, BOB, CAROL, EVE = 6123456789, 7000000001, 7000000002, 7000000003
GROUP = -1001234567890
OLD_GROUP = -4012345678
NEW_GROUP = -1009876543210
CHANNEL = -1001000000001
SHELL = """
service shell {
	port 22
	protocol tcp
}"""


def issued(s):
    return len(s.monitor.log.grep(r"sequence \d+ issued to"))


def channel_post(s):
    pid = s.monitor.child_pid("pks-telegram")
    since = last_sent_seq(s)
    s.bot.push_channel_post(chat_id=CHANNEL, text="/generate@PksTestBot")
    t = ask(s, ADA, "/whoami")
    tap.ok(t and str(ADA) in t, "after a channel post, the bot answers", t)
    tap.ok(s.monitor.child_pid("pks-telegram") == pid,
           "a channel post does not crash the worker")
    tap.ok(not [r for r in s.bot.sent() if r["seq"] > since and
                str(r["params"].get("chat_id")) in ("0", str(CHANNEL))],
           "nothing is sent to chat 0 or to the channel")


def no_person(s):
    n0 = issued(s)
    t = ask(s, ADA, "/generate@PksTestBot ssh", chat_id=GROUP,
            chat_type="supergroup", anonymous=True,
            expect=r"as yourself")
    tap.ok(t is not None, "an anonymous admin is told to send it as "
           "themself", t)
    t = ask(s, ADA, "/generate@PksTestBot ssh", chat_id=GROUP,
            chat_type="supergroup", sender_chat=CHANNEL,
            expect=r"as yourself")
    tap.ok(t is not None, "so is a message sent as a channel", t)
    # an admin's /grant replying to an automatic forward grants nobody
    mid = s.bot.push_auto_forward(chat_id=GROUP, channel_id=CHANNEL,
                                  text="channel news")
    t = ask(s, ADA, "/grant@PksTestBot web", chat_id=GROUP,
            chat_type="supergroup", reply_to_message_id=mid,
            expect=r"Usage")
    tap.ok(t is not None and not s.monitor.log.grep(r"granted"),
           "a /grant replying to an automatic forward grants nobody "
           "(usage line)", t)
    tap.ok(issued(s) == n0 and
           not s.monitor.log.grep(r"1087968824|136817688|777000"),
           "no sequence issued, no service-account id anywhere", n0)


def in_topic(s, thread, text, expect):
    """Ada's text in the topic; the bot's first later group message
    matching expect (a record), or None."""
    since = last_sent_seq(s)
    s.bot.push_message(user_id=ADA, chat_id=GROUP, chat_type="supergroup",
                       text=text, topic=thread, first_name="Ada")
    return s.bot.wait_sent(chat_id=GROUP, since=since, text=expect,
                           timeout=10)


def topics(s):
    thread = s.bot.create_topic(chat_id=GROUP, user_id=EVE, name="ops")
    rec = in_topic(s, thread, "/grant@PksTestBot web", r"Usage")
    tap.ok(rec and rec["params"].get("message_thread_id") == thread and
           not s.monitor.log.grep(r"granted"),
           "/grant in a topic does not grant the topic's creator (usage "
           "line, in the topic)", rec)
    t = ask(s, EVE, "/generate@PksTestBot web", chat_id=EVE,
            expect=r"may not|not allowed|Sorry")
    tap.ok(t is not None, "and the creator got nothing", t)
    rec = in_topic(s, thread, "/generate@PksTestBot ssh", r"in private")
    tap.ok(rec and rec["params"].get("message_thread_id") == thread,
           "the group's line lands in the topic the command came from",
           rec)
    rec = in_topic(s, thread, "/whoami@PksTestBot", str(ADA))
    tap.ok(rec and rec["params"].get("message_thread_id") == thread,
           "a direct answer too", rec)


NGRANTS = 300


def write_state(path):
    """NGRANTS grants, each named with multi-byte characters and markup,
    far more than one message holds."""
    now = int(time.time())
    lines = ["pks-state 1", "lockdown 0"]
    for i in range(NGRANTS):
        lines.append("grant %d web %d %d %d Zoë 🦊 <b>%d" %
                     (8000000000 + i, now + 86400, ADA, now, i))
    lines.append("end %d" % NGRANTS)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def long_answer(s):
    t = ask(s, ADA, "/users", expect=r"Granted by an admin")
    m = re.search(r"\.\.\. and (\d+) more lines?$", t or "")
    shown = len(re.findall(r"^user .*Zoë 🦊 &lt;b&gt;\d+", t or "", re.M))
    cut = [x for x in (t or "").splitlines() if "Zoë" in x and
           not re.search(r", until \S.*$", x)]
    tap.ok(m and shown > 0 and shown + int(m.group(1)) == NGRANTS and
           not cut,
           "a long /users ends on a whole line and says how many more "
           "(%d shown)" % shown, (t or "")[-300:])
    bad = [r for r in s.bot.sent(method="sendMessage")
           if r["status"] == 400]
    tap.ok(not bad, "and Telegram took it (no 400)", bad)


def menus(s):
    """Menus by role: the admin's private chat lists the admin commands,
    the common private and group menus do not; in each allowed group
    the admin's own menu (chat_member) lists them, worded for a group."""
    got, status = {}, {}
    s.bot.wait_polling(timeout=15)	# the menus are set before polling
    for r in s.bot.sent(method="setMyCommands"):
        sc = r["params"].get("scope") or {}
        key = (sc.get("type"), sc.get("chat_id"), sc.get("user_id"))
        got[key] = r["params"]["commands"]
        status[key] = r["status"]
    names = {k: [c["command"] for c in v] for k, v in got.items()}
    adm = names.get(("chat", ADA, None), [])
    tap.ok("grant" in adm and "generate" in adm and
           "grant" not in names.get(("all_private_chats", None, None),
                                    ["grant"]) and
           "grant" not in names.get(("all_group_chats", None, None),
                                    ["grant"]),
           "setMyCommands by scope: admin commands only in the admin's "
           "menu", names or "no setMyCommands")
    key = ("chat_member", GROUP, ADA)
    desc = {c["command"]: c["description"] for c in got.get(key, [])}
    tap.ok(status.get(key) == 200 and "replying to someone" in
           desc.get("grant", "") and "in private" in desc.get("generate",
                                                              ""),
           "and in the allowed group, the admin's own menu has them, "
           "worded for the group", (status.get(key), desc))
    tap.ok(("chat_member", OLD_GROUP, ADA) in status and
           ("chat_member", GROUP, BOB) not in status,
           "one per admin and allowed group, none for others",
           sorted(status, key=str))


def ssh_hint(s):
    t = ask(s, ADA, "/generate shell", expect=r"pks-knock")
    tap.ok(t and "-- ssh you@host" in t, "a sequence for port 22 shows "
           "the knock-and-connect form", t)
    t = ask(s, ADA, "/generate ssh", expect=r"pks-knock")
    tap.ok(t and "-- ssh" not in t, "but not for another port", t)
    m = re.search(r"valid until (\d\d):(\d\d):(\d\d) UTC", t or "")
    exp = time.gmtime(time.time() + 300)
    tap.ok(m and abs((int(m.group(1)) * 60 + int(m.group(2))) -
                     (exp.tm_hour * 60 + exp.tm_min)) % (24 * 60) <= 1,
           "its expiry is said in UTC", t)


def sequences_do_not_linger(s):
    """A sequence's message is rewritten once it is used or revoked."""
    since = last_sent_seq(s)
    ports, msg = s.generate(ADA, "/generate ssh")
    rec = [r for r in s.bot.sent(chat_id=ADA, method="sendMessage")
           if r["seq"] > since and "pks-knock" in r["params"]["text"]]
    mid = rec[-1]["result"]["message_id"] if rec else None
    s.knock(ports or [1, 2, 3])
    ed = s.bot.wait_sent(chat_id=ADA, method="editMessageText",
                         since=since, text=r"used at", timeout=10)
    txt = ed and ed["result"].get("text", "")
    tap.ok(ports and ed and ed["params"].get("message_id") == mid and
           re.search(r"used at \d\d:\d\d:\d\d UTC from 198\.18\.", txt)
           and not re.search(r"\b%d\b" % ports[0], txt),
           "a used sequence's message says when and from where, without "
           "its ports", (mid, ed))
    since = last_sent_seq(s)
    ports, msg = s.generate(ADA, "/generate ssh")
    t = ask(s, ADA, "/revoke", expect=r"Revoked")
    ed = s.bot.wait_sent(chat_id=ADA, method="editMessageText",
                         since=since, text=r"revoked", timeout=10)
    tap.ok(ports and ed and "revoked" in ed["result"].get("text", ""),
           "a revoked sequence's message says so", (t, ed))


def group_clarity(s):
    """The group's lines reply to the request; a user who must start the
    bot gets a button that does it (a t.me deep link)."""
    since = last_sent_seq(s)
    up = s.bot.push_message(user_id=ADA, chat_id=GROUP,
                            chat_type="supergroup", first_name="Ada",
                            text="/generate@PksTestBot ssh")
    grp = s.bot.wait_sent(chat_id=GROUP, since=since, text=r"in private",
                          timeout=10)
    rt = (grp or {}).get("result", {}).get("reply_to_message", {})
    tap.ok(rt.get("message_id") == up["message"]["message_id"] and
           rt.get("from", {}).get("id") == ADA,
           "\"Sent you ... in private\" replies to the request", grp)
    s.bot.set_started(users=[ADA])
    since = last_sent_seq(s)
    s.bot.push_message(user_id=BOB, chat_id=GROUP, chat_type="supergroup",
                       text="/generate@PksTestBot ssh", first_name="Bob")
    grp = s.bot.wait_sent(chat_id=GROUP, since=since,
                          text=r"private chat with me", timeout=10)
    kb = (grp or {}).get("result", {}).get("reply_markup", {})
    urls = [b.get("url") for row in kb.get("inline_keyboard", [])
            for b in row]
    tap.ok(urls == ["https://t.me/PksTestBot?start=pks"] and
           grp["result"].get("reply_to_message", {}).get("from", {}).get(
               "id") == BOB, "the never-started user's hint replies to "
           "them, with a button to start the bot", grp)
    s.bot.set_started(users=None)


def picker(s):
    """The service picker: a press by a user who never started the bot
    is answered with the link that starts it (answerCallbackQuery url);
    a press on a picker older than its command may be gets a clear
    answer and issues nothing."""
    since = last_sent_seq(s)
    s.bot.push_message(user_id=ADA, chat_id=GROUP, chat_type="supergroup",
                       text="/generate@PksTestBot", first_name="Ada")
    pk = s.bot.wait_sent(chat_id=GROUP, since=since, text=r"Which service",
                         timeout=10)
    mid = pk and pk["result"]["message_id"]
    s.bot.set_started(users=[BOB])
    since = last_sent_seq(s)
    s.bot.push_callback(user_id=ADA, chat_id=GROUP, message_id=mid or 1,
                        data="g:shell", first_name="Ada")
    ans = s.bot.wait_sent(method="answerCallbackQuery", since=since,
                          timeout=15)
    tap.ok(ans and ans["params"].get("url") ==
           "https://t.me/PksTestBot?start=pks",
           "a press by a user who never started the bot: the answer "
           "opens the private chat (url)", ans)
    s.bot.set_started(users=None)
    n0 = issued(s)
    s.bot.age_message(chat_id=GROUP, message_id=mid or 1, seconds=120)
    since = last_sent_seq(s)
    s.bot.push_callback(user_id=ADA, chat_id=GROUP, message_id=mid or 1,
                        data="g:shell", first_name="Ada")
    ans = s.bot.wait_sent(method="answerCallbackQuery", since=since,
                          timeout=15)
    tap.ok(ans and "expired" in ans["params"].get("text", "") and
           "/generate" in ans["params"]["text"] and
           s.monitor.log.has(r"a press on an expired service picker", 5),
           "a press on an expired picker: answered so", ans)
    tap.ok(issued(s) == n0 and not s.bot.sent(chat_id=ADA, since=since),
           "and nothing is issued", issued(s) - n0)
    ed = s.bot.wait_sent(chat_id=GROUP, method="editMessageText",
                         since=since, text=r"expired", timeout=10)
    tap.ok(ed and ed["params"].get("message_id") == mid and
           "reply_markup" not in ed["result"],
           "and the picker loses its buttons", ed)


def delivery_failed(s):
    """A sequence refused in private for another reason than "never
    started" (here 400): the group is told, without the ports, and the
    sequence is revoked."""
    since = last_sent_seq(s)
    s.bot.fail(method="sendMessage", kind="status", status=400,
               description="Bad Request: chat not found", chat_id=ADA)
    s.bot.push_message(user_id=ADA, chat_id=GROUP, chat_type="supergroup",
                       text="/generate@PksTestBot ssh", first_name="Ada")
    grp = s.bot.wait_sent(chat_id=GROUP, since=since,
                          text=r"could not send you", timeout=10)
    t = grp and grp["params"]["text"]
    tap.ok(t and "a sequence for ssh" in t and "400" in t and
           "revoked" in t and "pks-knock" not in t and
           grp["result"].get("reply_to_message", {}).get("from", {}).get(
               "id") == ADA and s.monitor.log.has(
                   r"could not be delivered \(400\): revoked", 5),
           "a private send refused with a 400: the group is told, in a "
           "reply, without the ports; the sequence revoked", grp)
    s.bot.clear_failures()


def hostile_names(s):
    s.bot.set_started(users=[ADA])
    for name in ("<3 Carol", '<a href="https://evil.example/">x</a>',
                 "Tom & Jerry </b>"):
        since = last_sent_seq(s)
        s.bot.push_message(user_id=CAROL, chat_id=GROUP,
                           chat_type="supergroup", first_name=name,
                           text="/generate@PksTestBot ssh")
        rec = s.bot.wait_sent(chat_id=GROUP, since=since,
                              text=r"private chat with me", timeout=10)
        bad = [r for r in s.bot.sent() if r["seq"] > since and
               r["status"] == 400]
        links = [e for e in (rec or {}).get("result", {}).get(
            "entities", []) if e.get("type") == "text_link"]
        tap.ok(rec and name in rec["result"]["text"] and not links and
               not bad, "a first name %r reaches the group as text, "
               "no link, no 400" % name, (rec, bad))
    s.bot.set_started(users=None)


def status_private(s):
    since = last_sent_seq(s)
    s.bot.push_message(user_id=ADA, chat_id=GROUP, chat_type="supergroup",
                       text="/status@PksTestBot", first_name="Ada")
    priv = s.bot.wait_sent(chat_id=ADA, since=since,
                           text=r"live sequence|Sequence for|Window",
                           timeout=10)
    grp = s.bot.wait_sent(chat_id=GROUP, since=since,
                          text=r"Sent you your status in private",
                          timeout=10)
    leaked = [r["params"].get("text") for r in s.bot.sent(chat_id=GROUP)
              if r["seq"] > since and re.search(
                  r"Sequence for|Window|s left", r["params"].get("text"))]
    tap.ok(priv and grp and not leaked, "/status in a group: answered in "
           "private, the group is told so and sees nothing of it",
           (priv, grp, leaked))
    s.bot.set_started(users=[ADA])
    since = last_sent_seq(s)
    s.bot.push_message(user_id=BOB, chat_id=GROUP, chat_type="supergroup",
                       text="/status@PksTestBot", first_name="Bob")
    grp = s.bot.wait_sent(chat_id=GROUP, since=since,
                          text=r"private chat with me", timeout=10)
    tap.ok(grp is not None, "a user who never started the bot is told to "
           "start it, in the group", grp)
    s.bot.set_started(users=None)


def migration(s):
    s.bot.push_message(user_id=ADA, chat_id=OLD_GROUP, chat_type="group",
                       text="/whoami@PksTestBot", first_name="Ada")
    since = last_sent_seq(s)
    s.bot.migrate(chat_id=OLD_GROUP, new_chat_id=NEW_GROUP, user_id=ADA)
    line = "allow chat %d to { web }" % NEW_GROUP
    tap.ok(s.monitor.log.wait(re.escape(line), 10) is not None,
           "a migration is logged with the line to add", line)
    rec = s.bot.wait_sent(chat_id=ADA, since=since, text=re.escape(line),
                          timeout=10)
    tap.ok(rec is not None, "and told to the notify users", rec)


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    # a zone far from UTC (POSIX form, no tzdata needed): times the bot
    # gives must not be the server's local time
    os.environ["TZ"] = "PKS-05:30"
    with pkstest.Net() as net:
        s = pkstest.Suite(net, services=SERVICES + SHELL, extra=(
            "admin user %d\nnotify user %d\n"
            "allow user %d to { ssh shell }\n"
            "allow chat %d to ssh\n"
            "allow chat %d to web\n" % (ADA, ADA, ADA, GROUP,
                                         OLD_GROUP)))
        state = os.path.join(s.dir, "state")
        s.conf_text = re.sub(r'(?m)^state-file .*$',
                             'state-file "%s"' % state, s.conf_text)
        write_state(state)
        # the bot is in the group before it starts (Telegram has no
        # admin menu for a chat the bot is not in)
        s.bot.start()
        s.bot.push_message(user_id=ADA, chat_id=GROUP, first_name="Ada",
                           chat_type="supergroup", text="hello")
        s.monitor = pkstest.Monitor(s.net, s.conf_text).start()
        menus(s)
        long_answer(s)
        channel_post(s)
        no_person(s)
        topics(s)
        ssh_hint(s)
        sequences_do_not_linger(s)
        group_clarity(s)
        hostile_names(s)
        picker(s)
        delivery_failed(s)
        status_private(s)
        migration(s)
        tap.ok(not s.monitor.log.grep(r"malformed|killed"),
               "the worker was never found malformed")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

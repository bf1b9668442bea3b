#!/usr/bin/env python3
"""t_telegram_shapes: pks-telegram alone (this test playing the monitor)
against the shapes real Telegram sends beyond plain messages: forum
topics (the topic goes to the monitor and back into sendMessage, a
topic's creation is no reply target), messages with no person behind
them (anonymous admins, "send as channel", automatic forwards, channel
posts), a group that becomes a supergroup (IMSG_TG_MIGRATED, from the
service message and from an error reply), a 429 for one chat that holds
neither the other chats nor getUpdates, and a local Bot API server
speaking plain http:// on loopback; a sent message's id (IMSG_TG_SENT) and
its rewriting (IMSG_TG_EDIT, editMessageText), malformed edits refused.
"""

import json
import os
import sys
import tempfile
import time

import pkstest			# noqa: E402
import pksimsg as pm		# noqa: E402
from pkstest import tap		# noqa: E402
from t_telegram_worker import Worker, TOKEN, USER

sys.path.insert(0, os.path.join(pkstest.TOP, "tests", "fakebot"))
import fakebot			# noqa: E402

GROUP = -1001234567890
OLD_GROUP = -4012345678
NEW_GROUP = -1009876543210
CHANNEL = -1001000000001
FRIEND = 7000000001
SLOW = -1002000000002
SLOW_400 = -1002000000003


def push(bot, text, user=USER, chat_id=None, chat_type="private", **kw):
    return bot.push_message(user_id=user, chat_id=chat_id or user,
                            chat_type=chat_type, text=text,
                            first_name="Ann", **kw)["update_id"]


def confirmed(bot, uid, timeout=10):
    return pkstest.wait_for(lambda: bot.state()["offset"] > uid, timeout)


def sent_to(w, chat, timeout=10):
    """The next IMSG_TG_SENT for chat (others stay queued)."""
    end = time.monotonic() + timeout
    other = []
    found = None
    while found is None and time.monotonic() < end:
        m = w.ch.recv(max(0.01, end - time.monotonic()), pm.IMSG_TG_SENT)
        if m is None:
            break
        if pm.tg_sent(m.data)["chat_id"] == chat:
            found = pm.tg_sent(m.data)
        else:
            other.append(m)
    w.ch.queue[:0] = other
    return found


def topics(bot, w):
    push(bot, "/whoami@PksTestBot", chat_id=GROUP, chat_type="supergroup")
    r = w.request()
    w.done(r["reqid"])
    thread = bot.create_topic(chat_id=GROUP, user_id=FRIEND, name="ops")
    push(bot, "/grant@PksTestBot ssh", chat_id=GROUP, chat_type="supergroup",
         topic=thread)
    r = w.request()
    tap.ok(r and r["thread_id"] == thread and r["reply_user_id"] == 0 and
           r["cmd"] == pm.TG_CMD_GRANT, "a command in a forum topic: the "
           "topic goes along, its creation is no reply target", r)
    w.send(r["reqid"], GROUP, "in the topic", thread_id=thread)
    rec = bot.wait_sent(chat_id=GROUP, text="in the topic", timeout=10)
    tap.ok(rec and rec["params"].get("message_thread_id") == thread and
           rec["result"].get("message_thread_id") == thread,
           "the answer is sent into that topic", rec)
    w.done(r["reqid"])
    # a real reply inside the topic names its sender
    up = bot.push_message(user_id=FRIEND, chat_id=GROUP,
                          chat_type="supergroup", text="hello",
                          topic=thread, first_name="Fred")
    push(bot, "/grant@PksTestBot ssh", chat_id=GROUP, chat_type="supergroup",
         topic=thread, reply_to_message_id=up["message"]["message_id"])
    r = w.request()
    tap.ok(r and r["reply_user_id"] == FRIEND and r["thread_id"] == thread,
           "a reply inside the topic names the person replied to", r)
    w.done(r["reqid"])


def no_person(bot, w):
    push(bot, "/generate@PksTestBot", chat_id=GROUP, chat_type="supergroup",
         anonymous=True)
    r = w.request()
    tap.ok(r and r["user_id"] == 0 and r["chat_id"] == GROUP and
           r["user_name"] == "", "an anonymous admin: a request with no "
           "person (user 0), never GroupAnonymousBot's id", r)
    w.done(r["reqid"])
    push(bot, "/generate@PksTestBot", chat_id=GROUP, chat_type="supergroup",
         sender_chat=CHANNEL)
    r = w.request()
    tap.ok(r and r["user_id"] == 0, "sent as a channel: no person", r)
    w.done(r["reqid"])
    mid = bot.push_auto_forward(chat_id=GROUP, channel_id=CHANNEL,
                                text="channel news")
    push(bot, "/grant@PksTestBot ssh", chat_id=GROUP, chat_type="supergroup",
         reply_to_message_id=mid)
    r = w.request()
    tap.ok(r and r["user_id"] == USER and r["reply_user_id"] == 0,
           "a reply to an automatic forward names nobody (not 777000)", r)
    w.done(r["reqid"])
    uid = bot.push_channel_post(chat_id=CHANNEL,
                                text="/generate@PksTestBot")["update_id"]
    push(bot, "/status")
    r = w.request()
    tap.ok(r and r["cmd"] == pm.TG_CMD_STATUS and r["user_id"] == USER,
           "a channel post is no request; the next message is", r)
    w.done(r["reqid"])
    tap.ok(confirmed(bot, uid) and w.proc.poll() is None,
           "and the worker goes on", w.log.text()[-1500:])
    gu = bot.log(method="getUpdates")[-1]["params"]
    tap.ok("channel_post" not in gu.get("allowed_updates", ["x"]),
           "channel posts are not asked for", gu)


def migration(bot, w):
    push(bot, "/whoami@PksTestBot", chat_id=OLD_GROUP, chat_type="group")
    r = w.request()
    w.done(r["reqid"])
    bot.migrate(chat_id=OLD_GROUP, new_chat_id=NEW_GROUP, user_id=USER)
    m = w.ch.recv(10, pm.IMSG_TG_MIGRATED)
    mm = m and pm.tg_migrated(m.data)
    tap.ok(mm == {"old_chat": OLD_GROUP, "new_chat": NEW_GROUP},
           "migrate_to_chat_id: IMSG_TG_MIGRATED to the monitor", mm)
    w.send(0, OLD_GROUP, "to the old id")
    s = sent_to(w, OLD_GROUP)
    m = w.ch.recv(10, pm.IMSG_TG_MIGRATED)
    mm = m and pm.tg_migrated(m.data)
    tap.ok(s and s["status"] == 400 and
           mm == {"old_chat": OLD_GROUP, "new_chat": NEW_GROUP},
           "a send to the old id: 400, and the new id told again", (s, mm))


def webhook_menus(bot, w):
    """After a webhook 409 the worker deletes it and sets its menus again,
    each with a scope Telegram takes."""
    log = bot.log()
    since = log[-1]["seq"] if log else 0
    bot.set_webhook(url="https://example.invalid/hook")
    c = bot.wait_log(method="getUpdates", status=409, since=since,
                     timeout=20)
    push(bot, "/whoami")
    r = w.request(30)
    if r:
        w.done(r["reqid"])
    menus = bot.sent(method="setMyCommands", since=c["seq"] if c else 0)
    tap.ok(r and menus and all(m["status"] == 200 for m in menus) and
           [m["params"]["scope"]["type"] for m in menus] ==
           ["all_private_chats", "all_group_chats"],
           "after a webhook 409: the menus set again, all accepted",
           (r, c, [(m["status"], m["params"].get("scope"))
                   for m in menus]))


HOLD = 8		# s: the retry_after of one chat's 429


def slow_sent(bot, status=200):
    """The calls that sent "slow chat" (of that status; 0: all)."""
    return [x for x in bot.log(method="sendMessage")
            if (x["params"] or {}).get("text") == "slow chat" and
            status in (0, x["status"])]


def per_chat_429(bot, w):
    uid = push(bot, "/status")
    r = w.request()
    bot.fail(method="sendMessage", kind="429", retry_after=HOLD,
             chat_id=USER)
    w.send(r["reqid"], USER, "slow chat")
    w.send(r["reqid"], GROUP, "other chat")
    w.done(r["reqid"])
    s = sent_to(w, GROUP, 10)
    tap.ok(s and s["status"] == 200, "a 429 for one chat: another chat's "
           "message goes out meanwhile", s)
    tap.ok(confirmed(bot, uid, 10) and not slow_sent(bot),
           "and the update is confirmed without waiting for the held "
           "chat", bot.state())
    uid2 = push(bot, "/whoami", user=FRIEND)
    r2 = w.request(10)
    tap.ok(r2 and r2["user_id"] == FRIEND, "getUpdates goes on", r2)
    if r2:
        w.done(r2["reqid"])
    s = sent_to(w, USER, 40)
    tap.ok(s and s["status"] == 200, "and gets its message after it", s)
    # when the fake Bot API saw each: the 429, then the next try
    slow = slow_sent(bot, 0)
    held = [x["time"] for x in slow if x["status"] == 429]
    ok = [x["time"] for x in slow if x["status"] == 200]
    tap.ok(len(held) == 1 and len(ok) == 1 and ok[0] - held[0] >= HOLD,
           "the held chat is not sent to before its retry_after", slow)
    tap.ok(confirmed(bot, uid2), "later updates confirmed", bot.state())


def refusals(bot, w):
    """Telegram refusing: the 403 variants, slow mode (a 429 with
    retry_after, a 400 "Too Many Requests" without), a callback query
    that expired, edits refused.  Each a clear log line; what can still
    be delivered is; the worker goes on."""
    for g in (GROUP, SLOW, SLOW_400):
        push(bot, "/whoami@PksTestBot", chat_id=g, chat_type="supergroup")
        r = w.request()
        w.done(r["reqid"])
    # each group its own: the worker spaces messages to a group by 3 s
    for why, chat, desc in (
            ("blocked", FRIEND, "bot was blocked by the user"),
            ("deactivated", FRIEND, "user is deactivated"),
            ("kicked", NEW_GROUP, "bot was kicked from the supergroup "
             "chat")):
        bot.set_forbidden(chat_id=chat, why=why)
        mark = w.log.mark()
        w.send(0, chat, "to a chat that refuses")
        s = sent_to(w, chat)
        tap.ok(s and s["status"] == 403 and w.log.has(
            "sendMessage to chat %d failed: 403 Forbidden: %s$"
            % (chat, desc), 5, mark), "403 \"%s\": IMSG_TG_SENT 403, "
            "a clear log line" % desc, (s, w.log.text()[-600:]))
        bot.set_forbidden(chat_id=chat, why=None)
    bot.set_forbidden(chat_id=FRIEND, why="blocked")
    w.send(0, FRIEND, "a sequence", flags=pm.TG_SEND_FALLBACK,
           fallback_chat=GROUP, text2="press Start")
    s = sent_to(w, GROUP)
    rec = bot.wait_sent(chat_id=GROUP, text="press Start", timeout=10)
    tap.ok(s and s["status"] == 200 and rec and "url" in json.dumps(
        rec["params"].get("reply_markup")), "a user who blocked the bot: "
        "the group gets the hint with a start button instead", (s, rec))
    bot.set_forbidden(chat_id=FRIEND, why=None)
    # slow mode, both shapes at once, a group each
    mark = w.log.mark()
    for g, shape in ((SLOW, "429"), (SLOW_400, "400")):
        bot.set_slow_mode(chat_id=g, seconds=5, shape=shape)
        w.send(0, g, "slow one")
        w.send(0, g, "slow two")
    for g, shape, logged in (
            (SLOW, "429", r"chat %d: held for \d+ s \(429\)" % SLOW),
            (SLOW_400, "400", r"sendMessage: 400 Bad Request: Too Many "
             r"Requests: taken as a 429")):
        a, b = sent_to(w, g, 20), sent_to(w, g, 30)
        tap.ok(a and b and a["status"] == b["status"] == 200 and
               w.log.has(logged, 1, mark), "slow mode (%s): the chat "
               "held, both messages delivered" % shape,
               (a, b, w.log.text()[-600:]))
        bot.set_slow_mode(chat_id=g, seconds=0)
    # a button press whose query Telegram no longer waits for
    w.send(0, USER, "Which service?", flags=pm.TG_SEND_KEYBOARD,
           text2="ssh web")
    s = sent_to(w, USER)
    mark = w.log.mark()
    uid = bot.push_callback(user_id=USER, message_id=s["message_id"],
                            data="g:web", life=0)["update_id"]
    r = w.request()
    if r:
        w.done(r["reqid"])
    tap.ok(r and r["cmd"] == pm.TG_CMD_GENERATE and r["arg1"] == "web" and
           confirmed(bot, uid) and w.log.has(
               "answerCallbackQuery failed: 400 Bad Request: query is too "
               "old.*handled all the same", 5, mark),
           "an expired callback query: the press still handled, the "
           "answer's 400 logged clearly", (r, w.log.text()[-600:]))
    # edits: the same text again; a message too old to edit
    w.send(0, USER, "news")
    mid = sent_to(w, USER)["message_id"]
    mark = w.log.mark()
    w.ch.send(pm.IMSG_TG_EDIT, pm.tg_edit(USER, mid, "news"))
    tap.ok(w.log.has("editMessageText of message %d in chat %d: it already "
                     "says that" % (mid, USER), 10, mark),
           "\"message is not modified\": no failure", w.log.text()[-600:])
    bot.age_message(chat_id=USER, message_id=mid, seconds=49 * 3600)
    w.ch.send(pm.IMSG_TG_EDIT, pm.tg_edit(USER, mid, "later news"))
    tap.ok(w.log.has("editMessageText of message %d in chat %d failed: 400 "
                     "Bad Request: message can't be edited \\(the message "
                     "stays" % (mid, USER), 10, mark),
           "a message too old to edit: a clear log line",
           w.log.text()[-600:])
    w.send(0, USER, "still here")
    s = sent_to(w, USER)
    tap.ok(s and s["status"] == 200 and w.proc.poll() is None,
           "and the worker goes on delivering", w.log.text()[-600:])


def held_request(bot, w):
    """A group /generate whose private message is held by a 429: the
    monitor's DONE waits for the delivery, the update's confirmation
    does not; what follows still replies to the command."""
    up = bot.push_message(user_id=USER, chat_id=GROUP, first_name="Ann",
                          chat_type="supergroup",
                          text="/generate@PksTestBot")
    uid, cmd = up["update_id"], up["message"]["message_id"]
    r = w.request()
    bot.fail(method="sendMessage", kind="429", retry_after=6,
             chat_id=USER)
    mark = w.log.mark()
    w.send(r["reqid"], USER, "a held sequence", flags=pm.TG_SEND_FALLBACK,
           fallback_chat=GROUP, text2="press Start")
    tap.ok(confirmed(bot, uid, 5) and w.log.has(
        "request %d: confirmed while its message waits" % r["reqid"], 1,
        mark), "a request whose private message is held by a 429: its "
        "update confirmed before its DONE", bot.state())
    s = sent_to(w, USER, 20)
    w.send(r["reqid"], GROUP, "Sent you a sequence in private.")
    w.done(r["reqid"])
    rec = bot.wait_sent(chat_id=GROUP, text="Sent you a sequence",
                        timeout=10)
    tap.ok(s and s["status"] == 200 and rec and
           rec["params"].get("reply_parameters", {}).get("message_id") ==
           cmd, "then delivered, and the group's line still replies to "
           "the command", (s, rec))
    push(bot, "/whoami")
    r2 = w.request()
    if r2:
        w.done(r2["reqid"])
    tap.ok(r2 and w.log.lacks("not pending", mark, w.log.wait(
        "request %d" % r2["reqid"], 5, mark)), "its late message and "
        "DONE are expected, not warned about", w.log.text()[-800:])


def malformed_thread(bot):
    """A topic for a private chat from the monitor: malformed, refused."""
    w = Worker(bot.url, bot.ca_file).start()
    bot.wait_polling(timeout=15)
    w.send(0, USER, "topic in private", thread_id=5)
    w.proc.wait(10)
    tap.ok(w.proc.returncode not in (None, 0) and
           not [x for x in bot.sent(chat_id=USER)
                if x["params"].get("text") == "topic in private"],
           "IMSG_TG_SEND with a topic for a private chat: refused",
           w.log.text()[-800:])
    w.stop()


def edits(bot, w):
    """IMSG_TG_SENT says which message was sent; IMSG_TG_EDIT rewrites it."""
    w.send(0, USER, "to be rewritten")
    s = sent_to(w, USER)
    rec = bot.wait_sent(chat_id=USER, text="to be rewritten", timeout=10)
    mid = rec and rec["result"]["message_id"]
    tap.ok(s and mid and s["message_id"] == mid,
           "IMSG_TG_SENT carries the id of the message sent", (s, rec))
    w.ch.send(pm.IMSG_TG_EDIT, pm.tg_edit(USER, mid or 1, "<b>gone</b>"))
    ed = bot.wait_sent(chat_id=USER, method="editMessageText", text="gone",
                       timeout=10)
    tap.ok(ed and ed["params"].get("message_id") == mid and
           ed["params"].get("parse_mode") == "HTML",
           "IMSG_TG_EDIT becomes editMessageText of that message", ed)


def malformed_edit(bot):
    """An IMSG_TG_EDIT that breaks its rules is refused, nothing edited."""
    good = pm.tg_edit(USER, 5, "x")
    for what, data in (("message id 0", pm.tg_edit(USER, 0, "x")),
                       ("message id above INT32_MAX",
                        pm.tg_edit(USER, 2 ** 31, "x")),
                       ("chat 0", pm.tg_edit(0, 5, "x")),
                       ("no text", pm.tg_edit(USER, 5, "")),
                       ("a length that is not the text's", good[:-1]),
                       ("shorter than its header", good[:10])):
        since = max([x["seq"] for x in bot.sent()] or [0])
        w = Worker(bot.url, bot.ca_file).start()
        bot.wait_polling(timeout=15)
        w.ch.send(pm.IMSG_TG_EDIT, data)
        w.proc.wait(10)
        tap.ok(w.proc.returncode not in (None, 0) and
               not bot.sent(method="editMessageText", since=since),
               "IMSG_TG_EDIT with %s: refused" % what,
               w.log.text()[-800:])
        w.stop()


def plain_http():
    d = tempfile.mkdtemp(prefix="pks-fakebot-plain-")
    bot = fakebot.FakeBot(dir=d, token=TOKEN, plain=True).start()
    for url in ("http://127.0.0.1:%d" % bot.port,
                "http://localhost:%d/" % bot.port):
        bot.reset()
        w = Worker(url, bot.ca_file).start()
        ok = bot.wait_polling(timeout=15)
        push(bot, "/whoami")
        r = w.request(10)
        if r:
            w.send(r["reqid"], USER, "over plain http")
            w.done(r["reqid"])
        rec = bot.wait_sent(chat_id=USER, text="over plain http", timeout=10)
        tap.ok(ok and r and rec, "a local Bot API server over %s" % url,
               w.log.text()[-1500:])
        w.stop()
    # plain http anywhere else is refused by the worker itself
    w = Worker("http://198.18.0.1:%d" % bot.port, bot.ca_file)
    w.start(ready=False)
    w.proc.wait(10)
    tap.ok(w.proc.returncode not in (None, 0) and
           w.log.grep("api-url must be an https:// URL"),
           "plain http:// to a non-loopback address is refused",
           w.log.text())
    w.ch.sock.close()
    bot.stop()


def main():
    pkstest.require_root()
    d = tempfile.mkdtemp(prefix="pks-fakebot-")
    bot = fakebot.FakeBot(dir=d, token=TOKEN).start()
    w = Worker("https://localhost:%d" % bot.port, bot.ca_file).start()
    tap.ok(bot.wait_polling(timeout=15), "worker polls", w.log.text())
    topics(bot, w)
    no_person(bot, w)
    migration(bot, w)
    webhook_menus(bot, w)
    per_chat_429(bot, w)
    held_request(bot, w)
    edits(bot, w)
    refusals(bot, w)
    tap.ok(not w.log.grep("SIGSYS|sandbox violation") and
           w.proc.poll() is None, "no sandbox violation, still running",
           w.log.text()[-1500:])
    w.stop()
    malformed_thread(bot)
    malformed_edit(bot)
    bot.stop()
    plain_http()
    tap.done()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""t_fakebot: the fake Bot API server does what the real one does.

Runs fakebot.py as a process on loopback and talks to it with urllib over
HTTPS, verifying its certificate with the CA made for the test: this checks
the TLS set-up, the reply shapes, each method and error class, long
polling, the offset rules, the 409 conflict and the control operations.
No network namespace is needed.
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import pkstest					# noqa: E402

sys.path.insert(0, os.path.join(pkstest.TOP, "tests", "fakebot"))
import fakebot					# noqa: E402

tap = pkstest.tap
TOKEN = "5123456789:AAfake-Token_ForTests0123456789abcd"
ALICE = 6123456789			# has started the bot
BOB = 2 ** 40 + 7			# a 64-bit id, never started the bot
GROUP = -1001234567890

D = tempfile.mkdtemp(prefix="pks-fakebot-")
bot = None
CTX = None


def call(method, params=None, how="json", token=TOKEN, timeout=15,
         verb=None):
    """(status, parsed JSON or None, raw body, content type)."""
    url = "%s/bot%s/%s" % (bot.url, token, method)
    data, headers = None, {}
    params = params or {}
    if how == "json" and params:
        data = json.dumps(params).encode()
        headers["Content-Type"] = "application/json"
    elif how in ("form", "query"):
        enc = urllib.parse.urlencode(
            {k: json.dumps(v) if isinstance(v, (list, dict, bool)) else v
             for k, v in params.items()})
        if how == "form":
            data = enc.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif enc:
            url += "?" + enc
    req = urllib.request.Request(url, data=data, headers=headers,
                                 method=verb)
    try:
        r = urllib.request.urlopen(req, context=CTX, timeout=timeout)
        status, body, ctype = r.status, r.read(), r.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        status, body, ctype = e.code, e.read(), e.headers["Content-Type"]
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    return status, obj, body, ctype


def result(method, params=None, **kw):
    st, obj, body, _ = call(method, params, **kw)
    if st != 200 or not obj or obj.get("ok") is not True:
        raise AssertionError("%s: %d %s" % (method, st, body[:300]))
    return obj["result"]


def is_error(r, code, desc):
    st, obj = r[0], r[1]
    want = {"ok": False, "error_code": code, "description": desc}
    return st == code and obj is not None and \
        {k: obj.get(k) for k in want} == want


def err_starts(r, code, prefix):
    return r[0] == code and r[1] is not None and \
        r[1].get("ok") is False and r[1].get("error_code") == code and \
        r[1].get("description", "").startswith(prefix)


def drain():
    """Confirm every pending update."""
    ups = result("getUpdates", {"timeout": 0})
    if ups:
        result("getUpdates", {"offset": ups[-1]["update_id"] + 1})


def in_thread(fn, *a, **kw):
    box = {}

    def run():
        try:
            box["r"] = fn(*a, **kw)
        except Exception as e:
            box["e"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


# ---------------------------------------------------------------- TLS

def test_tls():
    ca = os.path.join(D, "ca.pem")
    r = subprocess.run(["openssl", "x509", "-in", os.path.join(D,
                        "server.pem"), "-noout", "-ext", "subjectAltName"],
                       stdout=subprocess.PIPE, text=True)
    san = r.stdout
    tap.ok(os.path.exists(ca) and "IP Address:127.0.0.1" in san and
           "IP Address:0:0:0:0:0:0:0:1" in san and "DNS:localhost" in san,
           "server certificate names 127.0.0.1, ::1 and localhost", san)
    me = result("getMe")
    tap.ok(me.get("is_bot") is True and me.get("username") == "PksTestBot"
           and me.get("id") == 5123456789,
           "getMe over HTTPS verified with the test CA", me)
    try:
        urllib.request.urlopen(bot.url + "/bot%s/getMe" % TOKEN,
                               context=ssl.create_default_context(),
                               timeout=5)
        refused = False
    except urllib.error.URLError as e:
        refused = isinstance(e.reason, ssl.SSLCertVerificationError)
    tap.ok(refused, "the system trust store does not trust the server")
    try:
        s = socket.create_connection(("127.0.0.1", bot.port), timeout=5)
        CTX.wrap_socket(s, server_hostname="pks.invalid").close()
        refused = False
    except ssl.SSLCertVerificationError:
        refused = True
    tap.ok(refused, "a name outside the certificate is refused")
    r = urllib.request.urlopen("https://localhost:%d/bot%s/getMe"
                               % (bot.port, TOKEN), context=CTX, timeout=5)
    tap.ok(r.status == 200, "https://localhost verifies too")
    c = http.client.HTTPSConnection("127.0.0.1", bot.port, context=CTX,
                                    timeout=5)
    ok = True
    for m in ("getMe", "getWebhookInfo"):
        c.request("POST", "/bot%s/%s" % (TOKEN, m), body=b"{}",
                  headers={"Content-Type": "application/json"})
        resp = c.getresponse()
        ok = ok and resp.status == 200 and json.loads(resp.read())["ok"]
    c.close()
    tap.ok(ok, "two requests on one kept-alive connection")


# ---------------------------------------------------------------- shapes

def test_shapes():
    tap.ok(is_error(call("getMe", token="5123456789:wrongWRONGwrong"), 401,
                    "Unauthorized"), "a wrong token gets 401 Unauthorized")
    tap.ok(is_error(call("sendSmokeSignal"), 404, "Not Found"),
           "an unknown method gets 404 Not Found")
    st, obj, _, ctype = call("getMe", verb="GET", how="query")
    tap.ok(st == 200 and obj["ok"] and ctype == "application/json",
           "GET works and replies application/json")
    tap.ok(result("GETME")["username"] == "PksTestBot",
           "method names are case-insensitive")
    req = urllib.request.Request(bot.url + "/getMe")
    try:
        urllib.request.urlopen(req, context=CTX, timeout=5)
        st = 200
    except urllib.error.HTTPError as e:
        st = e.code
    tap.ok(st == 404, "a path without /bot<token> gets 404")
    req = urllib.request.Request(
        "%s/bot%s/sendMessage" % (bot.url, TOKEN), data=b'{"chat_id":',
        headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, context=CTX, timeout=5)
        st, obj = 200, None
    except urllib.error.HTTPError as e:
        st, obj = e.code, json.loads(e.read())
    tap.ok(st == 400 and obj["description"] == "Bad Request: can't parse "
           "JSON", "a body that is not JSON gets 400")
    bot.push_message(user_id=ALICE, first_name="Alice", text="hi")
    texts = []
    for how in ("json", "form", "query"):
        m = result("sendMessage", {"chat_id": ALICE, "text": "via " + how,
                                   "reply_markup": {"inline_keyboard": [[
                                       {"text": "b", "callback_data": "d"}]]}
                                   }, how=how)
        texts.append((m["text"], m["reply_markup"]["inline_keyboard"][0][0]
                      ["callback_data"], m["chat"]["id"]))
    tap.ok(texts == [("via json", "d", ALICE), ("via form", "d", ALICE),
                     ("via query", "d", ALICE)],
           "parameters as JSON, form and query string", texts)
    b = "XyZbOuNdArY"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n"
            "%d\r\n--%s\r\nContent-Disposition: form-data; name=\"text\"\r\n"
            "\r\nvia multipart \u00e9\r\n--%s--\r\n" % (b, ALICE, b, b))
    req = urllib.request.Request(
        "%s/bot%s/sendMessage" % (bot.url, TOKEN), data=body.encode(),
        headers={"Content-Type": "multipart/form-data; boundary=" + b})
    m = json.loads(urllib.request.urlopen(req, context=CTX).read())
    tap.ok(m["ok"] and m["result"]["text"] == "via multipart \u00e9",
           "parameters as multipart/form-data", m)
    drain()


# ---------------------------------------------------------------- updates

def test_entities():
    drain()
    cases = [("/start", [(0, 6)]),
             ("\U0001F511\U0001F511 /generate ssh", [(5, 9)]),
             ("/generate@PksTestBot ssh", [(0, 20)]),
             ("caf\u00e9 \U0001F600 /status and /revoke", [(8, 7), (20, 7)]),
             ("no command, a/b, path/x", []),
             ("/", [])]
    for text, want in cases:
        bot.push_message(user_id=ALICE, text=text)
    ups = result("getUpdates")
    got = [[(e["offset"], e["length"]) for e in
            u["message"].get("entities", []) if e["type"] == "bot_command"]
           for u in ups]
    tap.ok(got == [w for _, w in cases],
           "bot_command entities in UTF-16 units, emoji included", got)
    tap.ok(all("entities" not in u["message"] for u in ups[-2:]),
           "text without a command has no entities")
    up = bot.push_message(user_id=BOB, first_name="Bob", username="bob",
                          chat_id=GROUP, chat_type="supergroup",
                          chat_title="Ops", text="/whoami",
                          date=1000000000)
    m = up["message"]
    tap.ok(m["from"] == {"id": BOB, "is_bot": False, "first_name": "Bob",
                         "username": "bob"} and
           m["chat"] == {"id": GROUP, "title": "Ops", "type": "supergroup"}
           and m["date"] == 1000000000,
           "a supergroup message with a 64-bit user id and an old date", m)
    u = bot.push_message(user_id=ALICE, extra={"sticker": {
        "file_id": "x", "file_unique_id": "y", "width": 1, "height": 1,
        "is_animated": False, "is_video": False, "type": "regular"}})
    tap.ok("text" not in u["message"] and "sticker" in u["message"],
           "a message without text (a sticker)")
    drain()


def test_long_poll():
    drain()
    t0 = time.monotonic()
    r = result("getUpdates", {"timeout": 0})
    tap.ok(r == [] and time.monotonic() - t0 < 3,
           "getUpdates timeout=0 on an empty queue returns [] at once")
    t0 = time.monotonic()
    r = result("getUpdates", {"timeout": 2})
    dt = time.monotonic() - t0
    tap.ok(r == [] and 1.8 <= dt < 6, "a long poll waits its timeout out",
           "took %.2fs" % dt)
    t, box = in_thread(result, "getUpdates", {"timeout": 10})
    polling = bot.wait_polling(timeout=5)
    t0 = time.monotonic()
    up = bot.push_message(user_id=ALICE, text="/status")
    t.join(12)
    dt = time.monotonic() - t0
    tap.ok(polling and [u["update_id"] for u in box.get("r", [])] ==
           [up["update_id"]] and dt < 5,
           "a long poll returns as soon as an update is pushed",
           "%r %.2fs" % (box, dt))
    drain()


def test_offsets():
    drain()
    ids = [bot.push_message(user_id=ALICE, text="m%d" % i)["update_id"]
           for i in range(4)]
    tap.ok(ids == list(range(ids[0], ids[0] + 4)),
           "update ids increase by one")
    a = [u["update_id"] for u in result("getUpdates")]
    b = [u["update_id"] for u in result("getUpdates")]
    tap.ok(a == ids and b == ids, "without an offset nothing is confirmed")
    tap.ok([u["update_id"] for u in result("getUpdates", {"limit": 1})] ==
           ids[:1], "limit=1 returns the oldest only")
    c = [u["update_id"] for u in result("getUpdates", {"offset": ids[2]})]
    tap.ok(c == ids[2:], "offset forgets the updates before it", c)
    d = [u["update_id"] for u in result("getUpdates", {"offset": ids[0]})]
    tap.ok(d == ids[2:], "forgotten updates never come back", d)
    e = result("getUpdates", {"offset": ids[3] + 1})
    tap.ok(e == [] and bot.state()["pending"] == [] and
           bot.state()["offset"] == ids[3] + 1,
           "offset past the last update empties the queue")
    ids = [bot.push_message(user_id=ALICE, text="n%d" % i)["update_id"]
           for i in range(3)]
    f = [u["update_id"] for u in result("getUpdates", {"offset": -1})]
    tap.ok(f == ids[2:] and bot.state()["pending"] == ids[2:],
           "a negative offset keeps only the last updates", f)
    drain()
    log = bot.log(method="getUpdates")
    seen, dup = set(), False
    confirmed = 0
    for r in log:
        for i in r.get("delivered") or []:
            dup = dup or i < confirmed
        if r.get("offset"):
            confirmed = max(confirmed, r["offset"])
        seen.update(r.get("delivered") or [])
    tap.ok(not dup and all("offset" in r for r in log if r["status"] == 200),
           "the log shows offsets and no update delivered after it was "
           "confirmed")


def test_allowed_updates():
    drain()
    m = bot.push_message(user_id=ALICE, text="x")["update_id"]
    e = bot.push_update(update={"edited_message": {
        "message_id": 1, "date": 1, "edit_date": 2, "text": "y",
        "chat": {"id": ALICE, "type": "private", "first_name": "A"}}})
    f = bot.push_update(update={"future_kind": {"x": 1}})["update_id"]
    cm = bot.push_update(update={"chat_member": {"x": 1}})["update_id"]
    all_ = [u["update_id"] for u in result("getUpdates")]
    tap.ok(all_ == [m, e["update_id"], f],
           "by default every kind but chat_member (unknown kinds too)")
    only = [u["update_id"] for u in result(
        "getUpdates", {"allowed_updates": ["message"]}, how="form")]
    again = [u["update_id"] for u in result("getUpdates")]
    tap.ok(only == [m] and again == [m],
           "allowed_updates filters and is remembered", (only, again))
    opt = [u["update_id"] for u in result(
        "getUpdates", {"allowed_updates": ["chat_member"]})]
    back = [u["update_id"] for u in result(
        "getUpdates", {"allowed_updates": []})]
    tap.ok(opt == [cm] and back == [m, e["update_id"], f],
           "chat_member on request; [] restores the default")
    drain()


def test_conflict():
    drain()
    t, box = in_thread(result, "getUpdates", {"timeout": 6})
    bot.wait_polling(timeout=5)
    r = call("getUpdates", {"timeout": 0, "offset": 999999999})
    tap.ok(is_error(r, 409, "Conflict: terminated by other getUpdates "
                    "request"), "a second concurrent getUpdates gets 409", r)
    up = bot.push_message(user_id=ALICE, text="still there")
    t.join(8)
    tap.ok([u["update_id"] for u in box.get("r", [])] == [up["update_id"]],
           "the 409 had no effect and the first poll goes on", box)
    drain()
    bot.set_conflict_mode(mode="old")
    t, box = in_thread(call, "getUpdates", {"timeout": 6})
    bot.wait_polling(timeout=5)
    t0 = time.monotonic()
    t2, box2 = in_thread(result, "getUpdates", {"timeout": 1})
    t.join(8)
    t2.join(8)
    tap.ok(is_error(box.get("r", (0, None)), 409, "Conflict: terminated by "
                    "other getUpdates request") and box2.get("r") == [] and
           time.monotonic() - t0 < 5,
           'mode "old": the older poll is terminated with 409', box)
    bot.set_conflict_mode(mode="new")
    since = bot.log()[-1]["seq"]
    c = http.client.HTTPSConnection("127.0.0.1", bot.port, context=CTX,
                                    timeout=10)
    c.request("GET", "/bot%s/getUpdates?timeout=30" % TOKEN)
    bot.wait_polling(timeout=5)
    c.close()			# a worker killed in the middle of a poll
    gone = bot.wait_log(method="getUpdates", since=since, status=0,
                        timeout=10)
    r = call("getUpdates")
    tap.ok(gone is not None and r[0] == 200,
           "a poll whose client hung up ends; the next poll gets no 409",
           (gone, r[2]))
    bot.set_webhook(url="https://example.invalid/hook")
    r = call("getUpdates")
    info = result("getWebhookInfo")
    tap.ok(err_starts(r, 409, "Conflict: can't use getUpdates method while "
                      "webhook is active") and
           info["url"] == "https://example.invalid/hook",
           "getUpdates while a webhook is set gets 409", r)
    bot.push_message(user_id=ALICE, text="dropped")
    ok = result("deleteWebhook", {"drop_pending_updates": True})
    info = result("getWebhookInfo")
    tap.ok(ok is True and info == {"url": "", "has_custom_certificate":
                                   False, "pending_update_count": 0} and
           result("getUpdates") == [],
           "deleteWebhook removes it and drops pending updates", info)


# ---------------------------------------------------------------- sending

def test_send():
    drain()
    bot.set_started(users=[ALICE])
    m = result("sendMessage", {"chat_id": ALICE, "text":
                               "<b>Knock</b> <code>1 2 3</code> &lt;ok&gt; "
                               "\U0001F511 <i>now</i>", "parse_mode": "HTML"})
    tap.ok(m["text"] == "Knock 1 2 3 <ok> \U0001F511 now" and
           m["entities"] == [{"offset": 0, "length": 5, "type": "bold"},
                             {"offset": 6, "length": 5, "type": "code"},
                             {"offset": 20, "length": 3, "type": "italic"}]
           and m["from"]["is_bot"] and m["chat"]["id"] == ALICE and
           isinstance(m["message_id"], int) and isinstance(m["date"], int),
           "sendMessage with HTML returns the Message with entities", m)
    for bad, what in (("<b>open", "unclosed tag"),
                      ("<b>x</i>", "mismatched end tag"),
                      ("x</b>", "stray end tag"),
                      ("<blink>x</blink>", "unknown tag"),
                      ("1 < 2", "unescaped <")):
        r = call("sendMessage", {"chat_id": ALICE, "text": bad,
                                 "parse_mode": "HTML"})
        tap.ok(err_starts(r, 400, "Bad Request: can't parse entities: "),
               "HTML refused: " + what, r[2])
    r = call("sendMessage", {"chat_id": ALICE, "text": "1 < 2"})
    tap.ok(r[0] == 200, "without parse_mode < is plain text")
    r = call("sendMessage", {"chat_id": BOB, "text": "hi"})
    tap.ok(is_error(r, 403, "Forbidden: bot can't initiate conversation "
                    "with a user"), "a user who has not started the bot: 403")
    bot.push_message(user_id=BOB, text="/start")
    tap.ok(call("sendMessage", {"chat_id": BOB, "text": "hi"})[0] == 200,
           "writing to the bot in private starts it")
    bot.set_started(users=None)
    tap.ok(is_error(call("sendMessage", {"chat_id": -42, "text": "x"}), 400,
                    "Bad Request: chat not found") and
           is_error(call("sendMessage", {"text": "x"}), 400,
                    "Bad Request: chat_id is empty") and
           is_error(call("sendMessage", {"chat_id": ALICE, "text": ""}),
                    400, "Bad Request: message text is empty") and
           is_error(call("sendMessage", {"chat_id": ALICE,
                                         "text": "\U0001F511" * 2049}),
                    400, "Bad Request: message is too long"),
           "chat not found, no chat_id, empty and too long text")
    u = bot.push_message(user_id=ALICE, chat_id=GROUP, chat_type="group",
                         text="/generate@PksTestBot")
    mid = u["message"]["message_id"]
    m = result("sendMessage", {"chat_id": str(GROUP), "text": "ok",
                               "reply_to_message_id": mid})
    tap.ok(m["chat"] == {"id": GROUP, "title": "Test group", "type": "group"}
           and m["reply_to_message"]["message_id"] == mid and
           m["message_id"] == mid + 1,
           "reply in a group; message ids count per chat", m)
    tap.ok(is_error(call("sendMessage", {"chat_id": GROUP, "text": "x",
                                         "reply_to_message_id": 999}),
                    400, "Bad Request: message to be replied not found"),
           "replying to an unknown message: 400")
    r = call("sendMessage", {"chat_id": ALICE, "text": "x", "reply_markup": {
        "inline_keyboard": [[{"text": "b", "callback_data": "z" * 65}]]}})
    r2 = call("sendMessage", {"chat_id": ALICE, "text": "x",
                              "reply_markup": "{not json"}, how="form")
    tap.ok(is_error(r, 400, "Bad Request: BUTTON_DATA_INVALID") and
           is_error(r2, 400, "Bad Request: can't parse reply keyboard "
                    "markup JSON object"), "bad reply_markup: 400")
    drain()


def test_edit_and_callback():
    drain()
    m = result("sendMessage", {"chat_id": ALICE, "text": "Pick",
                               "reply_markup": {"inline_keyboard": [[
                                   {"text": "SSH", "callback_data": "gen:ssh"}
                               ]]}})
    up = bot.push_callback(user_id=ALICE, message_id=m["message_id"],
                           data="gen:ssh")
    q = result("getUpdates")[0]["callback_query"]
    tap.ok(q["data"] == "gen:ssh" and q["from"]["id"] == ALICE and
           q["message"]["message_id"] == m["message_id"] and
           q["id"] == up["callback_query"]["id"] and "chat_instance" in q,
           "a callback_query from an inline button", q)
    r1 = call("answerCallbackQuery", {"callback_query_id": q["id"],
                                      "text": "ok"})
    r2 = call("answerCallbackQuery", {"callback_query_id": q["id"]})
    r3 = call("answerCallbackQuery", {"callback_query_id": "42"})
    tap.ok(r1[1] == {"ok": True, "result": True} and
           err_starts(r2, 400, "Bad Request: query is too old") and
           err_starts(r3, 400, "Bad Request: query is too old"),
           "answerCallbackQuery: once, then 400; unknown id 400")
    e = result("editMessageText", {"chat_id": ALICE,
                                   "message_id": m["message_id"],
                                   "text": "Picked <b>ssh</b>",
                                   "parse_mode": "HTML"})
    tap.ok(e["text"] == "Picked ssh" and "edit_date" in e and
           "reply_markup" not in e, "editMessageText edits", e)
    r = call("editMessageText", {"chat_id": ALICE, "message_id":
                                 m["message_id"], "text": "Picked <b>ssh</b>",
                                 "parse_mode": "HTML"})
    tap.ok(err_starts(r, 400, "Bad Request: message is not modified"),
           "the same text again: message is not modified")
    um = bot.push_message(user_id=ALICE, text="mine")["message"]
    tap.ok(is_error(call("editMessageText", {"chat_id": ALICE, "message_id":
                                             9999, "text": "x"}), 400,
                    "Bad Request: message to edit not found") and
           is_error(call("editMessageText", {"chat_id": ALICE, "message_id":
                                             um["message_id"], "text": "x"}),
                    400, "Bad Request: message can't be edited"),
           "editing an unknown or a user's message: 400")
    ok = result("setMyCommands", {"commands": [
        {"command": "generate", "description": "a knock sequence"},
        {"command": "whoami", "description": "your ids"}]})
    cmds = result("getMyCommands")
    r = call("setMyCommands", {"commands": [{"command": "Bad-Cmd",
                                             "description": "x"}]})
    tap.ok(ok is True and [c["command"] for c in cmds] ==
           ["generate", "whoami"] and
           is_error(r, 400, "Bad Request: BOT_COMMAND_INVALID"),
           "setMyCommands and its validation")
    drain()


def test_refusals():
    """The 403 variants, slow mode, callback queries that expire, a
    message too old to edit: as Telegram words them."""
    drain()
    bot.push_message(user_id=ALICE, chat_id=GROUP, chat_type="supergroup",
                     text="hi")
    for why, chat, desc in (
            ("blocked", ALICE, "Forbidden: bot was blocked by the user"),
            ("deactivated", ALICE, "Forbidden: user is deactivated"),
            ("kicked", GROUP, "Forbidden: bot was kicked from the "
             "supergroup chat")):
        bot.set_forbidden(chat_id=chat, why=why)
        r = call("sendMessage", {"chat_id": chat, "text": "x"})
        bot.set_forbidden(chat_id=chat, why=None)
        tap.ok(is_error(r, 403, desc) and
               call("sendMessage", {"chat_id": chat, "text": "x"})[0] ==
               200, "set_forbidden %s: 403 \"%s\", then allowed again"
               % (why, desc), r[2])
    try:
        bot.set_forbidden(chat_id=GROUP, why="blocked")
        tap.ok(False, "a group cannot block the bot")
    except fakebot.FakeBotError:
        tap.ok(True, "a group cannot block the bot")
    bot.set_slow_mode(chat_id=GROUP, seconds=60)
    r1 = call("sendMessage", {"chat_id": GROUP, "text": "1"})
    r2 = call("sendMessage", {"chat_id": GROUP, "text": "2"})
    bot.set_slow_mode(chat_id=GROUP, seconds=60, shape="400")
    r3 = call("sendMessage", {"chat_id": GROUP, "text": "3"})
    r4 = call("sendMessage", {"chat_id": GROUP, "text": "4"})
    bot.set_slow_mode(chat_id=GROUP, seconds=0)
    tap.ok(r1[0] == 200 and r2[0] == 429 and
           r2[1]["description"].startswith("Too Many Requests: retry "
                                           "after ") and
           50 <= r2[1]["parameters"]["retry_after"] <= 60,
           "slow mode: one message, then 429 with retry_after", r2[1])
    tap.ok(r3[0] == 200 and is_error(r4, 400, "Bad Request: Too Many "
                                     "Requests"), "slow mode, shape 400: "
           "a 400 without retry_after", r4[1])
    m = result("sendMessage", {"chat_id": ALICE, "text": "Pick",
                               "reply_markup": {"inline_keyboard": [[
                                   {"text": "SSH", "callback_data": "g:ssh"}
                               ]]}})
    q1 = bot.push_callback(user_id=ALICE, message_id=m["message_id"],
                           data="g:ssh", life=0)["callback_query"]
    q2 = bot.push_callback(user_id=ALICE, message_id=m["message_id"],
                           data="g:ssh", life=60)["callback_query"]
    tap.ok(err_starts(call("answerCallbackQuery",
                           {"callback_query_id": q1["id"]}), 400,
                      "Bad Request: query is too old") and
           call("answerCallbackQuery", {"callback_query_id": q2["id"]})[0]
           == 200, "a query past its life: 400; within it: answered")
    d = bot.age_message(chat_id=ALICE, message_id=m["message_id"],
                        seconds=49 * 3600)
    tap.ok(d < time.time() - 48 * 3600 and
           is_error(call("editMessageText", {"chat_id": ALICE, "message_id":
                                             m["message_id"], "text": "y"}),
                    400, "Bad Request: message can't be edited"),
           "a message older than 48 h can't be edited")
    drain()


# ---------------------------------------------------------------- control

def test_control():
    since = bot.log()[-1]["seq"]
    result("sendMessage", {"chat_id": ALICE, "text": "to alice"})
    bot.push_message(user_id=BOB, text="/start")
    result("sendMessage", {"chat_id": BOB, "text": "to bob"})
    s = bot.sent(chat_id=BOB, since=since)
    tap.ok([r["params"]["text"] for r in s] == ["to bob"] and
           s[0]["status"] == 200 and s[0]["result"]["chat"]["id"] == BOB,
           "sent, filtered by chat id", s)
    t = threading.Timer(0.5, lambda: call("sendMessage", {
        "chat_id": ALICE, "text": "Sequence: 1 2 3"}))
    t.start()
    r = bot.wait_sent(chat_id=ALICE, text=r"^Sequence: [0-9 ]+$",
                      since=since, timeout=5)
    t0 = time.monotonic()
    none = bot.wait_sent(chat_id=ALICE, text="never", timeout=1)
    dt = time.monotonic() - t0
    tap.ok(r is not None and r["params"]["text"] == "Sequence: 1 2 3" and
           none is None and 0.9 <= dt < 5,
           "wait_sent finds a message, and times out", (r, dt))
    lg = bot.log(since=since)
    tap.ok(all(rec["path"] == "/bot<token>/" + rec["method"] for rec in lg)
           and [(r["method"], r["status"]) for r in lg][:2] ==
           [("sendMessage", 200), ("sendMessage", 200)],
           "the log has method, status and the path without the token")
    before = bot.state()
    errs = []
    for op, args in (("push_message", {"user_id": "6123"}),
                     ("push_message", {"user_id": 1, "chat_id": 2}),
                     ("push_message", {"user_id": 1, "chat_type": "channel"}),
                     ("push_message", {"user_id": 1, "chat_id": 5,
                                       "chat_type": "group"}),
                     ("push_message", {"user_id": 1, "colour": "red"}),
                     ("push_callback", {"user_id": 1, "message_id": 9999,
                                        "data": "x"}),
                     ("push_update", {"update": []}),
                     ("fail", {"kind": "teapot"}),
                     ("set_conflict_mode", {"mode": "both"}),
                     ("wait_sent", {"text": "(", "timeout": 0}),
                     ("no_such_op", {})):
        try:
            getattr(bot, op, lambda **k: bot._call(op, k))(**args)
            errs.append(op)
        except fakebot.FakeBotError:
            pass
    tap.ok(errs == [] and bot.state() == before,
           "malformed control requests are refused and change nothing",
           errs)
    s = socket.socket(socket.AF_UNIX)
    s.connect(bot.path)
    s.sendall(b'not json\n{"op":"ping"}\n')
    f = s.makefile("rb")
    a, b = json.loads(f.readline()), json.loads(f.readline())
    s.close()
    tap.ok(a["ok"] is False and "bad JSON" in a["error"] and
           b == {"ok": True, "result": "pong"},
           "a bad JSON line gets an error and the connection goes on")
    info = bot.info()
    tap.ok(info["port"] == bot.port and info["username"] == "PksTestBot" and
           TOKEN not in json.dumps(info), "info, without the token")


# ---------------------------------------------------------------- failures

def raw_get(path, timeout=10):
    """(status or exception class name, body) of a GET, no retries."""
    c = http.client.HTTPSConnection("127.0.0.1", bot.port, context=CTX,
                                    timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Content-Type")
    except (http.client.HTTPException, OSError) as e:
        return type(e).__name__, None, None
    finally:
        c.close()


def test_failures():
    drain()
    p = "/bot%s/getMe" % TOKEN
    bot.fail(kind="500", method="getMe")
    r = call("getMe")
    tap.ok(is_error(r, 500, "Internal Server Error") and
           call("getMe")[0] == 200, "500 once, then normal again")
    bot.fail(kind="502")
    st, body, ctype = raw_get(p)
    tap.ok(st == 502 and ctype == "text/html" and b"Bad Gateway" in body,
           "502 with an HTML body")
    bot.fail(kind="429", method="sendMessage", retry_after=7)
    r = call("sendMessage", {"chat_id": ALICE, "text": "x"})
    tap.ok(is_error(r, 429, "Too Many Requests: retry after 7") and
           r[1]["parameters"] == {"retry_after": 7},
           "429 with parameters.retry_after", r[2])
    bot.fail(kind="409", method="getUpdates")
    bot.fail(kind="401", method="getUpdates")
    bot.fail(kind="status", method="getUpdates", status=503,
             description="Service Unavailable")
    tap.ok(is_error(call("getUpdates"), 409, "Conflict: terminated by other "
                    "getUpdates request") and
           is_error(call("getUpdates"), 401, "Unauthorized") and
           is_error(call("getUpdates"), 503, "Service Unavailable") and
           call("getUpdates")[0] == 200,
           "409, 401 and a custom status, in the order injected")
    bot.fail(kind="badjson")
    st, body, ctype = raw_get(p)
    try:
        json.loads(body)
        parsed = True
    except ValueError:
        parsed = False
    tap.ok(st == 200 and ctype == "application/json" and not parsed,
           "malformed JSON with status 200", body)
    bot.fail(kind="notjson")
    st, body, ctype = raw_get(p)
    tap.ok(st == 200 and ctype == "text/html" and body.startswith(b"<html>"),
           "a body that is not JSON")
    bot.fail(kind="close")
    st, body, _ = raw_get(p)
    tap.ok(st == "IncompleteRead",
           "connection closed mid-reply", st)
    bot.fail(kind="hang", seconds=2)
    t0 = time.monotonic()
    st, _, _ = raw_get(p)
    dt = time.monotonic() - t0
    tap.ok(isinstance(st, str) and 1.8 <= dt < 10,
           "hang: no reply for the given seconds, then closed",
           "%s %.2fs" % (st, dt))
    bot.fail(kind="hang", seconds=30)
    t0 = time.monotonic()
    st, _, _ = raw_get(p, timeout=1)
    tap.ok(st in ("TimeoutError", "timeout") and time.monotonic() - t0 < 10,
           "a client timeout fires on a hang", st)
    bot.clear_failures()
    up = bot.push_message(user_id=ALICE, text="/generate")
    bot.fail(kind="500", method="getUpdates")
    call("getUpdates", {"offset": up["update_id"] + 1})
    tap.ok(bot.state()["pending"] == [up["update_id"]],
           "an injected failure has no effect: the offset is not applied")
    since = bot.log()[-1]["seq"]
    bot.fail(kind="500", method="sendMessage", count=2)
    r = [call("sendMessage", {"chat_id": ALICE, "text": "t%d" % i})[0]
         for i in range(3)]
    tap.ok(r == [500, 500, 200] and
           [x["params"]["text"] for x in bot.sent(since=since)] == ["t2"],
           "count=2: two failures, not recorded as sent; the third works", r)
    bot.fail(kind="close", method="sendMessage", process=True)
    try:
        call("sendMessage", {"chat_id": ALICE, "text": "lost reply"})
        lost = False
    except http.client.IncompleteRead:
        lost = True
    rec = bot.wait_sent(text="^lost reply$", timeout=10)
    lg = [x for x in bot.log(method="sendMessage")
          if (x["params"] or {}).get("text") == "lost reply"]
    tap.ok(lost and rec is not None and rec["status"] == 200 and
           lg[0]["injected"] == "close",
           "process=true: the message is sent, its reply is lost")
    drain()


def test_token_never_logged():
    with open(bot.stderr_path) as f:
        text = f.read()
    lg = json.dumps(bot.log())
    tap.ok(TOKEN not in text and TOKEN not in lg and
           "wrongWRONGwrong" not in text and "wrongWRONGwrong" not in lg and
           "/bot<token>/getMe 401" in text,
           "the token, right or wrong, is never logged")


def test_cli_errors():
    me = os.path.join(pkstest.TOP, "tests", "fakebot", "fakebot.py")
    sock = os.path.join(D, "cli.sock")
    outs = []
    for args in (["--listen", "nope"], ["--listen", "127.0.0.1:99999"],
                 ["--listen", "127.0.0.1:0", "--token-file",
                  os.path.join(D, "missing")]):
        argv = [sys.executable, me, "--control", sock, "--token-file",
                bot.token_file, "--dir", D] + args
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=20)
        outs.append((r.returncode, r.stderr.strip().splitlines()[-1:]))
    tap.ok(all(rc != 0 and err for rc, err in outs) and
           not os.path.exists(sock),
           "bad listen address, port or token file: a clear error", outs)


def test_in_process_ipv6():
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        tap.ok(True, "in-process server on [::1] # SKIP no IPv6 loopback")
        return
    d = tempfile.mkdtemp(prefix="pks-fakebot6-")
    try:
        with fakebot.FakeBot(dir=d, token="77:in-process",
                             listen="[::1]:0") as b6:
            b6.push_message(user_id=ALICE, text="/start")
            ctx = ssl.create_default_context(cafile=b6.ca_file)
            r = json.loads(urllib.request.urlopen(
                b6.url + "/bot77:in-process/getUpdates", context=ctx,
                timeout=5).read())
            tap.ok(b6.url.startswith("https://[::1]:") and
                   r["result"][0]["message"]["text"] == "/start",
                   "in-process FakeBot on [::1], same control methods")
    finally:
        shutil.rmtree(d, True)


def main():
    global bot, CTX
    bot = fakebot.FakeBotProcess(dir=D, token=TOKEN).start()
    CTX = ssl.create_default_context(cafile=bot.ca_file)
    for t in (test_tls, test_shapes, test_entities, test_long_poll,
              test_offsets, test_allowed_updates, test_conflict, test_send,
              test_edit_and_callback, test_refusals, test_control,
              test_failures,
              test_token_never_logged, test_cli_errors,
              test_in_process_ipv6):
        try:
            t()
        except Exception:
            tap.ok(False, "%s ran to its end" % t.__name__,
                   traceback.format_exc())
    rc = bot.stop()
    tap.ok(rc == 0 and not os.path.exists(bot.path),
           "SIGTERM: clean exit, control socket removed", rc)


if __name__ == "__main__":
    try:
        main()
    finally:
        if bot:
            bot.stop()
        shutil.rmtree(D, True)
    tap.done()

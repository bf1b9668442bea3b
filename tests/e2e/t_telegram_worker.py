#!/usr/bin/env python3
"""t_telegram_worker: pks-telegram alone, this test playing the monitor.

The worker is exec'd as root with its socketpair end on fd 3, configured
over imsg (pksimsg), confined to _pks in an empty chroot under seccomp,
and talks HTTPS to the fake Bot API (tests/fakebot) on loopback, by the
name "localhost" so that the pre-chroot resolution is exercised.
"""

import json
import os
import sys
import tempfile
import time

import pkstest			# noqa: E402
import pksimsg as pm		# noqa: E402
from pkstest import tap		# noqa: E402

sys.path.insert(0, os.path.join(pkstest.TOP, "tests", "fakebot"))
import fakebot			# noqa: E402

TOKEN = "4242424242:AAE-sekret_Token-4unit7ests"
SECRET = TOKEN.split(":", 1)[1]
USER = 6123456789			# above 2^31
STRANGER = 5999999999			# never started the bot
GROUP = -1001234567890
POLL = 2				# getUpdates timeout given to the worker


class Worker(pkstest.LoneChild):
    """build/test/pks-telegram with this test as its monitor."""

    def __init__(self, url, ca_file, token=TOKEN, chroot=None):
        self.url, self.ca_file, self.token = url, ca_file, token
        self.chroot = chroot or pkstest.empty_dir()
        self.dir = tempfile.mkdtemp(prefix="pks-tg-")

    def start(self, ready=True):
        tf = os.path.join(self.dir, "token")
        with open(tf, "w") as f:
            f.write(self.token + "\n")
        os.chmod(tf, 0o600)
        wrap = []
        if os.environ.get("PKS_TG_STRACE"):
            wrap = ["strace", "-ff", "-qq", "-o", os.environ["PKS_TG_STRACE"]]
        pkstest.LoneChild.__init__(self, "pks-telegram", wrap=wrap)
        with open(tf) as tok, open(self.ca_file) as ca:
            self.configure(self.chroot, [
                (pm.IMSG_TG_CONF, pm.tg_conf(self.url, POLL)),
                (pm.IMSG_TG_TOKEN, b"", tok.fileno()),
                (pm.IMSG_TG_CA, b"", ca.fileno())], refusal=not ready)
        if ready and self.ch.recv(15, pm.IMSG_READY) is None:
            raise RuntimeError("worker not ready:\n" + self.log.text())
        return self

    def request(self, timeout=10):
        m = self.ch.recv(timeout, pm.IMSG_TG_REQUEST)
        if m is None:
            return None
        assert len(m.data) == pm.S["pks_tg_req"].size, len(m.data)
        return pm.tg_req(m.data)

    def sent(self, timeout=10):
        m = self.ch.recv(timeout, pm.IMSG_TG_SENT)
        return pm.tg_sent(m.data) if m else None

    def send(self, reqid, chat, text, **kw):
        self.ch.send(pm.IMSG_TG_SEND, pm.tg_send(reqid, chat, text, **kw))

    def done(self, reqid):
        self.ch.send(pm.IMSG_TG_DONE, pm.tg_done(reqid))



def last_offset(bot, since=0):
    """offset of the last getUpdates the fake API answered."""
    recs = [r for r in bot.log(since=since, method="getUpdates")]
    return recs[-1].get("offset") if recs else None


def logseq(bot):
    recs = bot.log()
    return recs[-1]["seq"] if recs else 0


def push(bot, text, chat_id=USER, chat_type="private", **kw):
    return bot.push_message(user_id=USER, chat_id=chat_id,
                            chat_type=chat_type, text=text, username="ann",
                            **kw)["update_id"]


def main():
    pkstest.require_root()
    d = tempfile.mkdtemp(prefix="pks-fakebot-")
    bot = fakebot.FakeBot(dir=d, token=TOKEN).start()
    url = "https://localhost:%d" % bot.port
    w = Worker(url, bot.ca_file).start()

    # ------------------------------------------------------------ start-up
    tap.ok(bot.wait_polling(timeout=15), "worker polls getUpdates",
           w.log.text())
    calls = [r["method"] for r in bot.log()]
    tap.ok(calls[:5] == ["getMe", "deleteWebhook", "setMyCommands",
                         "setMyCommands", "getUpdates"],
           "getMe, deleteWebhook, setMyCommands (private and group "
           "menus), then getUpdates", calls)
    st = pkstest.proc_status(w.proc.pid)
    tap.ok(st and st["Seccomp"] == "2" and st["NoNewPrivs"] == "1" and
           st["Uid"].split()[0] != "0", "worker confined (seccomp, "
           "no_new_privs, not root)", st)
    tap.ok(os.readlink("/proc/%d/root" % w.proc.pid) == w.chroot,
           "worker chrooted")
    gu = bot.log(method="getUpdates")[0]["params"]
    tap.ok(gu.get("timeout") == POLL and
           "callback_query" in gu.get("allowed_updates", []) and
           "edited_message" not in gu.get("allowed_updates", []),
           "getUpdates asks for a long poll of the kinds handled", gu)

    # ------------------------------------------- a request, confirmed on DONE
    uid = push(bot, "/generate ssh 198.18.0.2")
    r = w.request()
    tap.ok(r and r["cmd"] == pm.TG_CMD_GENERATE and r["user_id"] == USER
           and r["chat_id"] == USER and r["chat_type"] == pm.TG_CHAT_PRIVATE
           and r["arg1"] == "ssh" and r["arg2"] == "198.18.0.2" and
           r["user_name"] == "@ann" and r["age"] < 5 and r["reqid"] != 0,
           "private /generate ssh ADDR becomes IMSG_TG_REQUEST", r)
    seq = logseq(bot)
    w.send(r["reqid"], USER, "<b>41233 9120 60111</b>", flags=pm.TG_SEND_HTML)
    rec = bot.wait_sent(chat_id=USER, text="41233 9120 60111", timeout=10)
    tap.ok(rec and rec["params"].get("parse_mode") == "HTML",
           "IMSG_TG_SEND delivered with parse_mode HTML", rec)
    s = w.sent()
    tap.ok(s and s["status"] == 200 and s["reqid"] == r["reqid"] and
           s["chat_id"] == USER, "IMSG_TG_SENT reports 200", s)
    time.sleep(1)
    early = [x for x in bot.log(since=seq, method="getUpdates")]
    tap.ok(not early and bot.state()["offset"] <= uid,
           "update not confirmed before IMSG_TG_DONE", early)
    w.done(r["reqid"])
    rec = bot.wait_log(method="getUpdates", since=seq, timeout=10)
    tap.ok(rec and rec.get("offset") == uid + 1,
           "IMSG_TG_DONE: next getUpdates confirms with offset = id + 1",
           rec)

    # ------------------------------------------------------------ groups
    push(bot, "/help@OtherBot", chat_id=GROUP, chat_type="supergroup")
    uid = push(bot, "/generate@PksTestBot ssh", chat_id=GROUP,
               chat_type="supergroup")
    r = w.request()
    tap.ok(r and r["chat_id"] == GROUP and r["cmd"] == pm.TG_CMD_GENERATE
           and r["chat_type"] == pm.TG_CHAT_SUPERGROUP and
           r["arg1"] == "ssh", "/generate@PksTestBot in a supergroup; "
           "/help@OtherBot ignored", r)
    w.done(r["reqid"])
    tap.ok(pkstest.wait_for(lambda: bot.state()["offset"] == uid + 1, 10),
           "group updates confirmed", bot.state())

    # ------------------------------------------------ 403: fallback to chat
    bot.set_started(users=[USER])
    w.send(0, STRANGER, "your sequence", flags=pm.TG_SEND_FALLBACK,
           fallback_chat=GROUP, text2="@x: start a private chat with me")
    s = w.sent()
    rec = bot.wait_sent(chat_id=GROUP, text="start a private chat",
                        timeout=15)
    tap.ok(s and s["status"] == 200 and s["chat_id"] == GROUP and rec,
           "403 from the user's chat: fallback text sent to the group", s)

    # ------------------------------------------ 400 (HTML) is final
    seq = logseq(bot)
    w.send(0, USER, "<foo>bad</foo>", flags=pm.TG_SEND_HTML)
    s = w.sent()
    time.sleep(1.5)
    tries = [x for x in bot.log(since=seq, method="sendMessage")]
    tap.ok(s and s["status"] == 400 and len(tries) == 1,
           "HTML parse error: reported 400, not retried", (s, len(tries)))

    # ------------------------------------------ 429 on sendMessage
    bot.fail(method="sendMessage", kind="429", retry_after=2)
    t0 = time.time()
    w.send(0, USER, "after 429")
    s = w.sent(15)
    tap.ok(s and s["status"] == 200 and time.time() - t0 >= 1.9,
           "429: waits retry_after, then sends", s)

    # ------------------------------------------ 5xx, bad JSON, 409
    for kind in ("500", "502", "badjson", "notjson", "409", "close"):
        bot.fail(method="getUpdates", kind=kind)
        push(bot, "/status")
        r = w.request(20)
        tap.ok(r and r["cmd"] == pm.TG_CMD_STATUS,
               "getUpdates %s: backs off and goes on" % kind,
               w.log.text()[-2000:])
        if r:
            w.done(r["reqid"])

    # ------------------------------------------ webhook set: 409, delete
    # the fake API refuses a getUpdates while a webhook is set, but one
    # already in flight still delivers: send the update only once the
    # worker has met the 409 and deleted the webhook
    bot.set_webhook(url="https://example.invalid/hook")
    deleted = pkstest.wait_for(
        lambda: bot.state()["webhook"] in ("", None), 20)
    push(bot, "/whoami")
    r = w.request(20)
    tap.ok(deleted and r and r["cmd"] == pm.TG_CMD_WHOAMI,
           "409 because of a webhook: deleteWebhook, then polls again",
           bot.state())
    if r:
        w.done(r["reqid"])

    # ------------------------------------------ hang: stays responsive
    bot.fail(method="getUpdates", kind="hang", seconds=30)
    time.sleep(1)
    w.send(0, USER, "while the poll hangs")
    s = w.sent(10)
    tap.ok(s and s["status"] == 200,
           "sends go out while getUpdates hangs", s)
    push(bot, "/revoke ssh")
    r = w.request(40)
    tap.ok(r and r["cmd"] == pm.TG_CMD_REVOKE and r["arg1"] == "ssh",
           "hung getUpdates times out, polling resumes", r)
    if r:
        w.done(r["reqid"])

    # ------------------------------------------ keyboard and callback
    w.send(0, USER, "which service?", flags=pm.TG_SEND_KEYBOARD,
           text2="ssh web bad;name")
    rec = bot.wait_sent(chat_id=USER, text="which service", timeout=10)
    w.sent()
    kb = rec and rec["params"].get("reply_markup")
    if isinstance(kb, str):
        kb = json.loads(kb)
    btns = [b for row in (kb or {}).get("inline_keyboard", []) for b in row]
    tap.ok([b.get("callback_data") for b in btns] == ["g:ssh", "g:web"],
           "keyboard: one button per valid service", kb)
    mid = rec["result"]["message_id"] if rec else 0
    cb = bot.push_callback(user_id=USER, chat_id=USER, message_id=mid,
                           data="g:web")
    r = w.request(20)		# a poll may still be in flight from the hang
    tap.ok(r and r["cmd"] == pm.TG_CMD_GENERATE and r["arg1"] == "web",
           "button press becomes /generate web", r)
    if r:
        w.done(r["reqid"])	# the answer waits for the outcome
    ans = bot.wait_sent(method="answerCallbackQuery", timeout=10)
    tap.ok(ans and ans["params"].get("callback_query_id") ==
           cb["callback_query"]["id"], "callback query answered", ans)

    # ------------------------------------------ restart loses nothing
    uid = push(bot, "/status ssh")
    r = w.request()
    w.stop()
    tap.ok(w.log.lacks("SIGSYS|sandbox violation") and
           w.proc.returncode == -9, "no sandbox violation in the whole run",
           w.log.text()[-1500:])
    stderr1 = w.log.final_text()
    w = Worker(url, bot.ca_file).start()
    r2 = w.request(15)
    tap.ok(r and r2 and r2["cmd"] == pm.TG_CMD_STATUS and
           bot.state()["offset"] <= uid,
           "update without DONE is handed again after a restart", r2)
    if r2:
        w.done(r2["reqid"])
    tap.ok(pkstest.wait_for(lambda: bot.state()["offset"] == uid + 1, 10),
           "and confirmed once DONE", bot.state())
    w.stop()
    stderr1 += w.log.final_text()

    # ------------------------------------------ wrong token: clear exit
    w3 = Worker(url, bot.ca_file, token="4242424242:WRONG-token-xyz").start()
    w3.proc.wait(15)
    tap.ok(w3.proc.returncode == 1 and
           w3.log.has(r"bot token refused by the API \(401\)", 5),
           "401 from getMe: exit with a clear message", w3.log.text())
    allerr = stderr1 + w3.log.final_text()
    tap.ok(SECRET not in allerr and "WRONG-token" not in allerr and
           "pks-telegram:" in allerr, "the token never appears in stderr")

    # ------------------------------------------ bad configuration
    w4 = Worker(url, bot.ca_file, token="not a token").start(ready=False)
    w4.proc.wait(10)
    tap.ok(w4.proc.returncode != 0 and
           "not a token" not in w4.log.final_text() and
           w4.log.has("not a bot token"),
           "malformed token file refused without echoing it",
           w4.log.text())

    bot.stop()
    tap.done()


if __name__ == "__main__":
    main()

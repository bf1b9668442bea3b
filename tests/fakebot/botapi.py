"""botapi: the state and the methods of the fake Bot API.

One Api object holds everything behind one condition variable: the queue
of updates, the chats and their messages, the callback queries, the log of
requests and the record of what the bot sent.  The HTTPS layer calls
Api.call(); the control interface calls the push_* and query methods.
"""

import copy
import json
import re
import threading
import time

import tgtext

# kinds left out when allowed_updates is not given or is []
OPT_IN_KINDS = ("chat_member", "message_reaction", "message_reaction_count")
RECORDED = ("sendmessage", "editmessagetext", "answercallbackquery",
            "setmycommands")
MAX_TEXT = 4096
MAX_POLL = 50			# seconds, as telegram-bot-api caps it
ANON_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group",
              "username": "GroupAnonymousBot"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel",
               "username": "Channel_Bot"}
SERVICE_USER = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
# why a chat refuses the bot (403), as Telegram words it
FORBIDDEN = {"blocked": "bot was blocked by the user",
             "deactivated": "user is deactivated",
             "kicked": "bot was kicked from the %s chat"}
EDIT_LIFE = 48 * 3600		# a message older than this can't be edited
NOT_MODIFIED = ("Bad Request: message is not modified: specified new "
                "message content and reply markup are exactly the same as "
                "a current content and reply markup of the message")


class ApiError(Exception):
    def __init__(self, code, desc, retry_after=None, migrate_to=None):
        Exception.__init__(self, desc)
        self.code = code
        self.desc = desc
        self.retry_after = retry_after
        self.migrate_to = migrate_to

    def body(self):
        b = {"ok": False, "error_code": self.code, "description": self.desc}
        if self.retry_after is not None:
            b["parameters"] = {"retry_after": self.retry_after}
        if self.migrate_to is not None:
            b["parameters"] = {"migrate_to_chat_id": self.migrate_to}
        return b


def bad(desc):
    return ApiError(400, "Bad Request: " + desc)


class ClientGone(Exception):
    """The client closed its connection during a long poll."""


class CtlError(Exception):
    """A malformed control request: nothing was changed."""


# ---------------------------------------------------------------- params

def p_int(params, name, default=None):
    """An integer parameter; like telegram-bot-api, junk reads as 0."""
    v = params.get(name)
    if v is None or v == "":
        return default
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"\s*-?[0-9]+\s*", v):
        return int(v)
    return 0


def p_bool(params, name):
    v = params.get(name)
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1")
    return bool(v)


def p_json(params, name, err):
    """An array or object parameter: a JSON value, or a JSON string."""
    v = params.get(name)
    if v is None or v == "":
        return None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            raise bad(err)
    return v


def _kind(update):
    for k in update:
        if k != "update_id":
            return k
    return None


def _check_int(v, name, lo=None, hi=None):
    if not isinstance(v, int) or isinstance(v, bool):
        raise CtlError("%s must be an integer" % name)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise CtlError("%s out of range: %d" % (name, v))
    return v


def _check_str(v, name, empty=False):
    if not isinstance(v, str) or (not empty and v == ""):
        raise CtlError("%s must be a%s string" % (name, "" if empty else
                                                   " non-empty"))
    return v


class Api:
    def __init__(self, token, username="PksTestBot", first_name="PKS Test",
                 first_update_id=100000001):
        self.token = token
        head = token.split(":", 1)[0]
        self.me = {"id": int(head) if head.isdigit() else 1000000,
                   "is_bot": True, "first_name": first_name,
                   "username": username, "can_join_groups": True,
                   "can_read_all_group_messages": False,
                   "supports_inline_queries": False}
        self.cv = threading.Condition()
        self.first_update_id = first_update_id
        self.stopping = False
        self.conflict_mode = "new"
        # getUpdates in flight are connections, not bot state: they
        # outlive reset(), which only ends them, and their ids never
        # repeat (a stale poll must not own a new poll's entry)
        self.polls = {}		# active getUpdates: id -> terminated
        self.poll_id = 0
        self.epoch = 0		# reset() count: what a request saw first
        self.reset()

    def reset(self):
        with self.cv:
            self.updates = []		# pending, oldest first
            self.next_update_id = self.first_update_id
            self.offset = 0		# the last offset a getUpdates applied
            self.allowed = None
            self.polls.clear()	# each poll in flight ends with []
            self.epoch += 1
            self.chats = {}
            self.topics = {}		# chat id -> {thread id: name}
            self.migrated = {}		# old group id -> supergroup id
            self.msgs = {}		# (chat id, message id) -> message
            self.msg_ids = {}		# chat id -> last message id
            self.queries = {}		# callback query id -> answered
            self.query_id = 0
            self.started = None		# None: every user has started us
            self.webhook = ""
            self.commands = {}		# scope key -> commands
            self.forbidden = {}		# chat id -> "blocked", ...
            self.slow = {}		# chat id -> [seconds, shape, last]
            self.log = []
            self.sent = []
            self.seq = 0
            self.rules = []
            self.rule_id = 0
            self.cv.notify_all()

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    # ------------------------------------------------------------ Bot API

    def call(self, method, params, ctx):
        """Run method; return its result or raise ApiError."""
        f = getattr(self, "m_" + method.lower(), None)
        if f is None:
            raise ApiError(404, "Not Found")
        return f(params, ctx)

    def m_getme(self, params, ctx):
        return dict(self.me)

    def m_deletewebhook(self, params, ctx):
        with self.cv:
            self.webhook = ""
            if p_bool(params, "drop_pending_updates"):
                self.updates = []
        return True

    def m_getwebhookinfo(self, params, ctx):
        with self.cv:
            return {"url": self.webhook, "has_custom_certificate": False,
                    "pending_update_count": len(self.updates)}

    def m_getupdates(self, params, ctx):
        offset = p_int(params, "offset", 0)
        limit = p_int(params, "limit", 100)
        if limit <= 0 or limit > 100:
            limit = 100
        timeout = min(max(p_int(params, "timeout", 0), 0), MAX_POLL)
        allowed = p_json(params, "allowed_updates",
                         "can't parse allowed_updates JSON array")
        if allowed is not None and (not isinstance(allowed, list) or
                                    not all(isinstance(k, str)
                                            for k in allowed)):
            raise bad("can't parse allowed_updates JSON array")
        ctx["offset"] = offset
        with self.cv:
            if self.webhook:
                raise ApiError(409, "Conflict: can't use getUpdates method "
                               "while webhook is active; use deleteWebhook "
                               "to delete the webhook first")
            if self.polls:
                if self.conflict_mode == "new":
                    raise ApiError(409, "Conflict: terminated by other "
                                   "getUpdates request")
                for k in self.polls:
                    self.polls[k] = True
                self.cv.notify_all()
            self.poll_id += 1
            me = self.poll_id
            self.polls[me] = False
            self.cv.notify_all()	# wait_polling() sees it at once
            try:
                return self._poll(me, offset, limit, timeout, allowed, ctx)
            finally:
                self.polls.pop(me, None)	# gone if reset() ended it
                self.cv.notify_all()

    def _poll(self, me, offset, limit, timeout, allowed, ctx):
        if offset < 0:
            self.updates = self.updates[offset:]
        elif offset > 0:
            self.updates = [u for u in self.updates
                            if u["update_id"] >= offset]
        if offset:
            self.offset = offset
        if allowed is not None:
            self.allowed = allowed if allowed else None
        allowed = self.allowed
        end = time.monotonic() + timeout
        while True:
            if me not in self.polls:
                # reset() wiped the state it waited on: it ends as a
                # long poll that got nothing does
                out = []
                break
            if self.polls[me]:
                raise ApiError(409, "Conflict: terminated by other "
                               "getUpdates request")
            out = [u for u in self.updates
                   if (_kind(u) in allowed if allowed else
                       _kind(u) not in OPT_IN_KINDS)][:limit]
            left = end - time.monotonic()
            if out or left <= 0 or self.stopping:
                break
            # a client that hung up must not hold the poll (and cause
            # 409s) until its timeout: look at the connection now and then
            gone = ctx.get("gone")
            if gone and gone():
                raise ClientGone()
            self.cv.wait(min(left, 0.25) if gone else left)
        ctx["delivered"] = [u["update_id"] for u in out]
        return copy.deepcopy(out)

    def m_setmycommands(self, params, ctx):
        cmds = p_json(params, "commands", "can't parse commands JSON array")
        if not isinstance(cmds, list) or len(cmds) > 100:
            raise bad("can't parse commands JSON array")
        clean = []
        for c in cmds:
            if not isinstance(c, dict) or not isinstance(
                    c.get("command"), str) or not isinstance(
                    c.get("description"), str):
                raise bad("can't parse BotCommand")
            name = c["command"].lstrip("/")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad("BOT_COMMAND_INVALID")
            d = c["description"].strip()
            if not d:
                raise bad("command description is empty")
            if len(d) > 256:
                raise bad("command description is too long")
            clean.append({"command": name, "description": d})
        with self.cv:
            self.commands[self._scope(params)] = clean
        return True

    SCOPES = {"default": (), "all_private_chats": (), "all_group_chats": (),
              "all_chat_administrators": (), "chat": ("chat_id",),
              "chat_administrators": ("chat_id",),
              "chat_member": ("chat_id", "user_id")}

    def _scope(self, params):
        """A BotCommandScope as a key: ("default",), ("chat", id), ..."""
        sc = p_json(params, "scope", "can't parse BotCommandScope JSON "
                    "object")
        if sc is None:
            return ("default",)
        if not isinstance(sc, dict) or sc.get("type") not in self.SCOPES:
            raise bad("can't parse BotCommandScope JSON object")
        key = [sc["type"]]
        for f in self.SCOPES[sc["type"]]:
            v = p_int(sc, f)
            if not v:
                raise bad("can't parse BotCommandScope JSON object")
            key.append(v)
        if len(key) > 1:
            # a chat the bot cannot reach, or a user who never started it
            if key[1] > 0 and self.started is not None and \
                    key[1] not in self.started:
                raise bad("chat not found")
            if key[1] < 0 and key[1] not in self.chats:
                raise bad("chat not found")
        return tuple(key)

    def m_getmycommands(self, params, ctx):
        with self.cv:
            return copy.deepcopy(self.commands.get(self._scope(params),
                                                   []))

    def _chat_of(self, params):
        """The chat a send or edit names: check existence and 403."""
        v = params.get("chat_id")
        if v is None or v == "":
            raise bad("chat_id is empty")
        if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v.strip()):
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or v == 0:
            raise bad("chat not found")
        if v in self.migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to "
                           "a supergroup chat", migrate_to=self.migrated[v])
        if v in self.forbidden:
            why = FORBIDDEN[self.forbidden[v]]
            if "%s" in why:
                why %= self.chats.get(v, {}).get("type", "group")
            raise ApiError(403, "Forbidden: " + why)
        chat = self.chats.get(v)
        if v > 0:
            if self.started is not None and v not in self.started:
                raise ApiError(403, "Forbidden: bot can't initiate "
                               "conversation with a user")
            if chat is None:
                chat = {"id": v, "first_name": "User%d" % v,
                        "type": "private"}
                self.chats[v] = chat
        elif chat is None:
            raise bad("chat not found")
        return chat

    def _text(self, params, empty="message text is empty"):
        text = params.get("text")
        if text is None or (isinstance(text, str) and not text.strip()):
            raise bad(empty)
        if not isinstance(text, str):
            text = json.dumps(text)
        mode = params.get("parse_mode") or ""
        ents = None
        if mode.lower() == "html":
            try:
                text, ents = tgtext.parse_html(text)
            except tgtext.ParseError as e:
                raise bad("can't parse entities: %s" % e)
            if not text.strip():
                raise bad(empty)
        elif mode.lower() not in ("", "markdown", "markdownv2"):
            raise bad("unsupported parse_mode")
        if tgtext.u16len(text) > MAX_TEXT:
            raise bad("message is too long")
        if ents is None:
            ents = tgtext.bot_commands(text)
        return text, ents

    def _markup(self, params):
        m = p_json(params, "reply_markup",
                   "can't parse reply keyboard markup JSON object")
        if m is None:
            return None
        err = bad("can't parse reply keyboard markup JSON object")
        if not isinstance(m, dict):
            raise err
        if "inline_keyboard" not in m:
            if not any(k in m for k in ("keyboard", "remove_keyboard",
                                        "force_reply")):
                raise err
            return None		# accepted, not echoed, as Telegram does
        rows = m["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list)
                                                 for r in rows):
            raise err
        actions = ("callback_data", "url", "switch_inline_query",
                   "switch_inline_query_current_chat", "login_url",
                   "web_app", "copy_text", "pay", "callback_game")
        for r in rows:
            for b in r:
                if not isinstance(b, dict) or not isinstance(b.get("text"),
                                                            str):
                    raise bad("can't parse inline keyboard button: Field "
                              "\"text\" must be of type String")
                if not any(a in b for a in actions):
                    raise bad("can't parse inline keyboard button: Text "
                              "buttons are unallowed in the inline keyboard")
                if "callback_data" in b:
                    d = b["callback_data"]
                    if not isinstance(d, str) or not \
                            1 <= len(d.encode("utf-8")) <= 64:
                        raise bad("BUTTON_DATA_INVALID")
        return {"inline_keyboard": copy.deepcopy(rows)}

    def _bot_user(self):
        # a message's "from" has the User fields only, not getMe's extras
        return {k: self.me[k] for k in ("id", "is_bot", "first_name",
                                        "username")}

    def _new_msg_id(self, chat_id):
        self.msg_ids[chat_id] = self.msg_ids.get(chat_id, 0) + 1
        return self.msg_ids[chat_id]

    def m_sendmessage(self, params, ctx):
        with self.cv:
            chat = self._chat_of(params)
            text, ents = self._text(params)
            markup = self._markup(params)
            rp = p_json(params, "reply_parameters",
                        "can't parse reply parameters JSON object")
            reply_id = p_int(params, "reply_to_message_id")
            allow = p_bool(params, "allow_sending_without_reply")
            if isinstance(rp, dict):
                reply_id = p_int(rp, "message_id", reply_id)
                allow = allow or p_bool(rp, "allow_sending_without_reply")
            elif rp is not None:
                raise bad("can't parse reply parameters JSON object")
            thread = p_int(params, "message_thread_id")
            if thread and thread not in self.topics.get(chat["id"], {}):
                raise bad("message thread not found")
            reply = None
            if reply_id:
                reply = self.msgs.get((chat["id"], reply_id))
                if reply is None and not allow:
                    raise bad("message to be replied not found")
            self._slow_mode(chat["id"])
            msg = {"message_id": self._new_msg_id(chat["id"]),
                   "from": self._bot_user(), "chat": dict(chat),
                   "date": int(time.time()), "text": text}
            if thread:
                msg["message_thread_id"] = thread
                msg["is_topic_message"] = True
            if ents:
                msg["entities"] = ents
            if markup:
                msg["reply_markup"] = markup
            if reply is not None:
                r = copy.deepcopy(reply)
                r.pop("reply_to_message", None)
                msg["reply_to_message"] = r
            self.msgs[(chat["id"], msg["message_id"])] = msg
            self.cv.notify_all()
            return copy.deepcopy(msg)

    def _slow_mode(self, cid):
        """A chat in slow mode takes one message per its delay; an
        earlier one is refused: 429 with retry_after, or (shape "400")
        400 without it."""
        sm = self.slow.get(cid)
        if sm is None:
            return
        now = time.monotonic()
        left = sm[2] + sm[0] - now
        if left > 0:
            if sm[1] == "400":
                raise bad("Too Many Requests")
            n = int(left) + 1
            raise ApiError(429, "Too Many Requests: retry after %d" % n,
                           retry_after=n)
        sm[2] = now

    def m_editmessagetext(self, params, ctx):
        with self.cv:
            if params.get("inline_message_id"):
                raise bad("MESSAGE_ID_INVALID")
            chat = self._chat_of(params)
            mid = p_int(params, "message_id")
            if not mid:
                raise bad("message identifier is not specified")
            text, ents = self._text(params)
            markup = self._markup(params)
            msg = self.msgs.get((chat["id"], mid))
            if msg is None:
                raise bad("message to edit not found")
            if msg.get("from", {}).get("id") != self.me["id"] or \
                    msg["date"] < time.time() - EDIT_LIFE:
                raise bad("message can't be edited")
            if msg.get("text") == text and msg.get("entities", []) == ents \
                    and msg.get("reply_markup") == markup:
                raise bad(NOT_MODIFIED[len("Bad Request: "):])
            msg["text"] = text
            msg.pop("entities", None)
            msg.pop("reply_markup", None)
            if ents:
                msg["entities"] = ents
            if markup:
                msg["reply_markup"] = markup
            msg["edit_date"] = int(time.time())
            self.cv.notify_all()
            return copy.deepcopy(msg)

    def m_answercallbackquery(self, params, ctx):
        qid = params.get("callback_query_id")
        text = params.get("text") or ""
        with self.cv:
            q = self.queries.get(qid) if isinstance(qid, str) else None
            if q is not False and (not isinstance(q, float) or
                                   q < time.monotonic()):
                raise bad("query is too old and response timeout expired "
                          "or query ID is invalid")
            if len(text) > 200:
                raise bad("MESSAGE_TOO_LONG")
            self.queries[qid] = True
        return True

    # ------------------------------------------------------------ control

    def _push(self, update):
        """Queue an update (the caller holds the lock)."""
        if "update_id" in update:
            _check_int(update["update_id"], "update_id", 0)
        else:
            update = dict(update, update_id=self.next_update_id)
            # keep update_id first, as Telegram does
            update = dict([("update_id", update.pop("update_id"))] +
                          list(update.items()))
        self.next_update_id = max(self.next_update_id,
                                  update["update_id"] + 1)
        self.updates.append(update)
        self.cv.notify_all()
        return copy.deepcopy(update)

    def _user(self, a):
        u = {"id": _check_int(a.get("user_id"), "user_id", 1, 2**63 - 1),
             "is_bot": False,
             "first_name": _check_str(a.get("first_name", "Test"),
                                      "first_name")}
        for k in ("last_name", "username", "language_code"):
            if a.get(k) is not None:
                u[k] = _check_str(a[k], k)
        return u

    def _chat(self, a, user):
        t = a.get("chat_type", "private")
        cid = a.get("chat_id", user["id"])
        _check_int(cid, "chat_id", -(2**63), 2**63 - 1)
        if t == "private":
            if cid != user["id"]:
                raise CtlError("a private chat's id is its user's id")
            chat = {"id": cid, "first_name": user["first_name"]}
            for k in ("last_name", "username"):
                if k in user:
                    chat[k] = user[k]
        elif t in ("group", "supergroup"):
            if cid >= 0:
                raise CtlError("a group's chat_id is negative")
            chat = {"id": cid, "title": _check_str(
                a.get("chat_title", "Test group"), "chat_title")}
            if cid in self.topics:
                chat["is_forum"] = True
        else:
            raise CtlError("chat_type must be private, group or supergroup")
        chat["type"] = t
        return chat

    MSG_KEYS = {"user_id", "first_name", "last_name", "username",
                "language_code", "chat_id", "chat_type", "chat_title",
                "text", "date", "entities", "reply_to_message_id", "extra",
                "topic", "anonymous", "sender_chat"}

    def _message(self, a, mid=None):
        unknown = set(a) - self.MSG_KEYS - ({"message_id"} if mid else set())
        if unknown:
            raise CtlError("unknown argument(s): %s"
                           % " ".join(sorted(unknown)))
        user = self._user(a)
        chat = self._chat(a, user)
        date = _check_int(a.get("date", int(time.time())), "date", 0)
        text = a.get("text")
        extra = a.get("extra") or {}
        if not isinstance(extra, dict):
            raise CtlError("extra must be an object")
        ents = a.get("entities")
        if ents is not None and not isinstance(ents, list):
            raise CtlError("entities must be a list")
        if text is not None:
            _check_str(text, "text", empty=True)
        rid = a.get("reply_to_message_id")
        if rid is not None and (chat["id"], _check_int(
                rid, "reply_to_message_id")) not in self.msgs:
            raise CtlError("no message %d in chat %d" % (rid, chat["id"]))
        topic = a.get("topic")
        if topic is not None and _check_int(topic, "topic", 1) not in \
                self.topics.get(chat["id"], {}):
            raise CtlError("no topic %d in chat %d" % (topic, chat["id"]))
        if mid is None:
            mid = self._new_msg_id(chat["id"])
        msg = {"message_id": mid, "from": user, "chat": chat, "date": date}
        if a.get("anonymous") or a.get("sender_chat") is not None:
            if chat["type"] == "private":
                raise CtlError("a private chat has no sender_chat")
            if a.get("anonymous"):
                # an anonymous admin writes as the group itself
                msg["from"] = dict(ANON_ADMIN)
                msg["sender_chat"] = {k: chat[k] for k in
                                      ("id", "title", "type")}
            else:
                sc = _check_int(a["sender_chat"], "sender_chat",
                                hi=-1)
                msg["from"] = dict(CHANNEL_BOT)
                msg["sender_chat"] = {"id": sc, "title": "Channel %d" % -sc,
                                      "type": "channel"}
        if text is not None:
            msg["text"] = text
            if ents is None:
                ents = tgtext.bot_commands(text)
            if ents:
                msg["entities"] = ents
        if topic is not None:
            # in a topic, a message that replies to nothing replies to
            # the topic's creation, as Telegram sends it
            msg["message_thread_id"] = topic
            msg["is_topic_message"] = True
            if rid is None:
                rid = topic
        if rid is not None:
            r = copy.deepcopy(self.msgs[(chat["id"], rid)])
            r.pop("reply_to_message", None)
            msg["reply_to_message"] = r
        msg.update(extra)
        return msg

    def push_message(self, **a):
        with self.cv:
            msg = self._message(a)
            self.chats[msg["chat"]["id"]] = dict(msg["chat"])
            self.msgs[(msg["chat"]["id"], msg["message_id"])] = msg
            if msg["chat"]["type"] == "private" and self.started is not None:
                self.started.add(msg["from"]["id"])
            return self._push({"message": copy.deepcopy(msg)})

    def push_edit(self, **a):
        with self.cv:
            mid = _check_int(a.get("message_id"), "message_id", 1)
            msg = self._message(a, mid)
            old = self.msgs.get((msg["chat"]["id"], mid))
            if old is None or old["from"]["id"] != msg["from"]["id"]:
                raise CtlError("no message %d of that user in that chat"
                               % mid)
            msg["edit_date"] = max(int(time.time()), old["date"])
            msg["date"] = old["date"]
            self.msgs[(msg["chat"]["id"], mid)] = msg
            return self._push({"edited_message": copy.deepcopy(msg)})

    def push_callback(self, **a):
        unknown = set(a) - {"user_id", "first_name", "last_name",
                            "username", "language_code", "chat_id",
                            "message_id", "data", "life"}
        if unknown:
            raise CtlError("unknown argument(s): %s"
                           % " ".join(sorted(unknown)))
        with self.cv:
            user = self._user(a)
            cid = _check_int(a.get("chat_id", user["id"]), "chat_id")
            mid = _check_int(a.get("message_id"), "message_id", 1)
            data = _check_str(a.get("data"), "data")
            msg = self.msgs.get((cid, mid))
            if msg is None or msg["from"]["id"] != self.me["id"]:
                raise CtlError("the bot sent no message %d in chat %d"
                               % (mid, cid))
            self.query_id += 1
            qid = "%d%07d" % (self.me["id"], self.query_id)
            life = a.get("life")
            if life is not None and (not isinstance(life, (int, float)) or
                                     life < 0):
                raise CtlError("life must be a number >= 0")
            # False: answerable for ever; a float: until then
            self.queries[qid] = False if life is None else \
                time.monotonic() + life
            q = {"id": qid, "from": user, "message": copy.deepcopy(msg),
                 "chat_instance": str(abs(cid) * 7 + 3), "data": data}
            return self._push({"callback_query": q})

    def push_update(self, update=None):
        if not isinstance(update, dict) or not update or \
                list(update) == ["update_id"]:
            raise CtlError("update must be a non-empty JSON object")
        with self.cv:
            q = update.get("callback_query")
            if isinstance(q, dict) and isinstance(q.get("id"), str):
                self.queries.setdefault(q["id"], False)
            for k in ("message", "edited_message"):
                m = update.get(k)
                if isinstance(m, dict) and isinstance(m.get("chat"), dict) \
                        and isinstance(m["chat"].get("id"), int):
                    self.chats.setdefault(m["chat"]["id"], m["chat"])
            return self._push(copy.deepcopy(update))

    def _service_msg(self, chat, user, **fields):
        msg = {"message_id": self._new_msg_id(chat["id"]), "from": user,
               "chat": dict(chat), "date": int(time.time())}
        msg.update(fields)
        self.msgs[(chat["id"], msg["message_id"])] = msg
        return msg

    def create_topic(self, chat_id=None, user_id=None, name="Topic"):
        """A forum topic in supergroup chat_id, made by user_id: the
        forum_topic_created service message; its id is the topic's."""
        _check_str(name, "name")
        with self.cv:
            user = self._user({"user_id": user_id})
            chat = self._chat({"chat_id": chat_id,
                               "chat_type": "supergroup"}, user)
            self.topics.setdefault(chat["id"], {})
            chat["is_forum"] = True
            self.chats[chat["id"]] = dict(chat)
            mid = self.msg_ids.get(chat["id"], 0) + 1
            msg = self._service_msg(chat, user, message_thread_id=mid,
                                    is_topic_message=True,
                                    forum_topic_created={
                                        "name": name,
                                        "icon_color": 7322096})
            self.topics[chat["id"]][mid] = name
            self._push({"message": copy.deepcopy(msg)})
            return mid

    def push_channel_post(self, chat_id=None, text=None,
                          chat_title="Test channel"):
        """A post in a channel: signed by the channel, no person."""
        _check_int(chat_id, "chat_id", hi=-1)
        _check_str(text, "text")
        with self.cv:
            chat = {"id": chat_id, "title": _check_str(chat_title,
                                                       "chat_title"),
                    "type": "channel"}
            self.chats[chat_id] = dict(chat)
            msg = {"message_id": self._new_msg_id(chat_id),
                   "sender_chat": dict(chat), "chat": chat,
                   "date": int(time.time()), "text": text}
            ents = tgtext.bot_commands(text)
            if ents:
                msg["entities"] = ents
            self.msgs[(chat_id, msg["message_id"])] = msg
            return self._push({"channel_post": copy.deepcopy(msg)})

    def push_auto_forward(self, chat_id=None, channel_id=None, text=None):
        """A linked channel's post, forwarded into its discussion group by
        Telegram (777000): no update for the bot, but a message others
        reply to; returns its message id."""
        _check_int(channel_id, "channel_id", hi=-1)
        _check_str(text, "text")
        with self.cv:
            chat = self.chats.get(_check_int(chat_id, "chat_id", hi=-1))
            if chat is None or chat["type"] != "supergroup":
                raise CtlError("chat %d is no supergroup seen" % chat_id)
            msg = self._service_msg(chat, dict(SERVICE_USER), text=text,
                                    sender_chat={"id": channel_id,
                                                 "title": "Channel",
                                                 "type": "channel"},
                                    is_automatic_forward=True)
            return msg["message_id"]

    def migrate(self, chat_id=None, new_chat_id=None, user_id=None):
        """Group chat_id becomes supergroup new_chat_id: a service message
        in each, and sends to the old id fail with migrate_to_chat_id."""
        _check_int(new_chat_id, "new_chat_id", hi=-1)
        with self.cv:
            user = self._user({"user_id": user_id})
            old = self._chat({"chat_id": chat_id, "chat_type": "group"},
                             user)
            if new_chat_id == chat_id or chat_id in self.migrated:
                raise CtlError("chat %d cannot migrate to %d"
                               % (chat_id, new_chat_id))
            new = {"id": new_chat_id, "title": old["title"],
                   "type": "supergroup"}
            m1 = self._service_msg(old, user, migrate_to_chat_id=new_chat_id)
            self.migrated[chat_id] = new_chat_id
            self.chats.pop(chat_id, None)
            self.chats[new_chat_id] = dict(new)
            m2 = self._service_msg(new, user, migrate_from_chat_id=chat_id)
            self._push({"message": copy.deepcopy(m1)})
            return self._push({"message": copy.deepcopy(m2)})

    def set_forbidden(self, chat_id=None, why=None):
        """The bot may no longer write to chat_id (403): "blocked" or
        "deactivated" (a user), "kicked" (a group); None: it may."""
        _check_int(chat_id, "chat_id")
        if why is not None and (why not in FORBIDDEN or
                                (why == "kicked") != (chat_id < 0)):
            raise CtlError("why must be blocked or deactivated for a user,"
                           " kicked for a group, or null")
        with self.cv:
            if why is None:
                self.forbidden.pop(chat_id, None)
            else:
                self.forbidden[chat_id] = why

    def set_slow_mode(self, chat_id=None, seconds=0, shape="429"):
        """Group chat_id takes one message every seconds (0: off); an
        earlier one gets a 429 with retry_after, or with shape "400" a
        400 "Too Many Requests" without it."""
        _check_int(chat_id, "chat_id", hi=-1)
        _check_int(seconds, "seconds", 0, 3600)
        if shape not in ("429", "400"):
            raise CtlError('shape must be "429" or "400"')
        with self.cv:
            if seconds == 0:
                self.slow.pop(chat_id, None)
            else:
                self.slow[chat_id] = [seconds, shape, -float(seconds)]

    def age_message(self, chat_id=None, message_id=None, seconds=0):
        """Make a message seconds older (its date), e.g. too old to be
        edited (48 h)."""
        _check_int(seconds, "seconds", 0)
        with self.cv:
            msg = self.msgs.get((_check_int(chat_id, "chat_id"),
                                 _check_int(message_id, "message_id", 1)))
            if msg is None:
                raise CtlError("no message %d in chat %d"
                               % (message_id, chat_id))
            msg["date"] -= seconds
            return msg["date"]

    def set_started(self, users=None):
        if users is not None:
            if not isinstance(users, list):
                raise CtlError("users must be a list or null")
            users = set(_check_int(u, "user id", 1) for u in users)
        with self.cv:
            self.started = users

    def add_started(self, user_id=None):
        _check_int(user_id, "user_id", 1)
        with self.cv:
            if self.started is not None:
                self.started.add(user_id)

    def set_webhook(self, url=""):
        _check_str(url, "url", empty=True)
        with self.cv:
            self.webhook = url

    def set_conflict_mode(self, mode=None):
        if mode not in ("new", "old"):
            raise CtlError('mode must be "new" or "old"')
        with self.cv:
            self.conflict_mode = mode

    def state(self):
        with self.cv:
            return {"pending": [u["update_id"] for u in self.updates],
                    "next_update_id": self.next_update_id,
                    "offset": self.offset, "polling": len(self.polls),
                    "allowed_updates": self.allowed,
                    "webhook": self.webhook,
                    "started": None if self.started is None
                    else sorted(self.started)}

    def wait_polling(self, timeout=5):
        """Until a getUpdates has been answered and the next one waits."""
        end = time.monotonic() + float(timeout)
        with self.cv:
            while not (self.polls and any(r.get("method") == "getUpdates"
                                          for r in self.log)):
                left = end - time.monotonic()
                if left <= 0 or self.stopping:
                    return False
                self.cv.wait(left)
            return True

    # ------------------------------------------------------------ records

    def record(self, rec, sent):
        """Log one HTTP request; also in sent if it reached a method."""
        with self.cv:
            if rec.pop("epoch", self.epoch) != self.epoch:
                return None	# begun before reset(): not in the new log
            self.seq += 1
            rec["seq"] = self.seq
            rec["time"] = time.time()
            self.log.append(rec)
            if sent:
                s = {k: rec.get(k) for k in ("seq", "time", "method",
                                             "params", "result")}
                # with process:true the reply was replaced, not the call
                s["status"] = rec.get("method_status", rec["status"])
                self.sent.append(s)
            self.cv.notify_all()
            return rec["seq"]

    def _match(self, r, method, chat_id, since, status, text):
        if r["seq"] <= since:
            return False
        if method and (r.get("method") or "").lower() != method.lower():
            return False
        if status is not None and r.get("status") != status:
            return False
        if chat_id is not None:
            c = (r.get("params") or {}).get("chat_id")
            if str(c).strip() != str(chat_id):
                return False
        if text is not None:
            t = (r.get("params") or {}).get("text")
            if not isinstance(t, str) or not re.search(text, t):
                return False
        return True

    def _check_filters(self, method, since, status, timeout, text=None):
        if method is not None:
            _check_str(method, "method")
        _check_int(since, "since", 0)
        if status is not None and status != 0:	# 0: no reply was sent
            _check_int(status, "status", 100, 599)
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise CtlError("timeout must be a number >= 0")
        if text is not None:
            try:
                re.compile(_check_str(text, "text"))
            except re.error as e:
                raise CtlError("bad text regex: %s" % e)

    def list_sent(self, chat_id=None, method=None, since=0):
        self._check_filters(method, since, None, 0)
        with self.cv:
            return copy.deepcopy([r for r in self.sent if self._match(
                r, method, chat_id, since, None, None)])

    def list_log(self, since=0, method=None):
        self._check_filters(method, since, None, 0)
        with self.cv:
            return copy.deepcopy([r for r in self.log if self._match(
                r, method, None, since, None, None)])

    def _wait(self, lst, timeout, *filt):
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for r in lst():
                    if self._match(r, *filt):
                        return copy.deepcopy(r)
                left = end - time.monotonic()
                if left <= 0 or self.stopping:
                    return None
                self.cv.wait(left)

    def wait_sent(self, chat_id=None, method="sendMessage", text=None,
                  since=0, status=200, timeout=5):
        self._check_filters(method, since, status, timeout, text)
        return self._wait(lambda: self.sent, timeout, method, chat_id,
                          since, status, text)

    def wait_log(self, method=None, since=0, status=None, timeout=5):
        self._check_filters(method, since, status, timeout)
        return self._wait(lambda: self.log, timeout, method, None, since,
                          status, None)

    # ------------------------------------------------------------ failures

    KINDS = ("500", "502", "429", "409", "401", "status", "badjson",
             "notjson", "hang", "close")

    def fail(self, kind=None, method="*", count=1, retry_after=1,
             seconds=30, status=None, description=None, process=False,
             chat_id=None):
        if kind not in self.KINDS:
            raise CtlError("kind must be one of %s" % " ".join(self.KINDS))
        _check_str(method, "method")
        _check_int(count, "count", 1, 10000)
        _check_int(retry_after, "retry_after", 0, 86400)
        if not isinstance(seconds, (int, float)) or not 0 <= seconds <= 600:
            raise CtlError("seconds must be a number in 0..600")
        if kind == "status":
            _check_int(status, "status", 200, 599)
            _check_str(description, "description")
        if not isinstance(process, bool):
            raise CtlError("process must be true or false")
        if chat_id is not None:
            _check_int(chat_id, "chat_id")
        with self.cv:
            self.rule_id += 1
            self.rules.append({"id": self.rule_id, "kind": kind,
                               "method": method.lower(), "count": count,
                               "retry_after": retry_after,
                               "seconds": seconds, "status": status,
                               "description": description,
                               "process": process, "chat_id": chat_id})
            return self.rule_id

    def clear_failures(self):
        with self.cv:
            self.rules = []

    def take_failure(self, method, params=None):
        """The failure rule the next call of method falls under, if any
        (a rule with a chat_id only for calls to that chat, as
        Telegram's per-chat flood limits)."""
        c = p_int(params or {}, "chat_id")
        with self.cv:
            for r in self.rules:
                if r["chat_id"] is not None and r["chat_id"] != c:
                    continue
                if r["method"] in ("*", method.lower()):
                    r["count"] -= 1
                    if r["count"] == 0:
                        self.rules.remove(r)
                    return dict(r)
            return None

#!/usr/bin/env python3
"""The bot as its users see it, through the real monitor and worker and the
fake Bot API: /start, /help, /whoami, /status, unknown commands; group use
(/cmd@ThisBot works, @OtherBot is ignored, a sequence never appears in the
group: it goes to the requester in private, and the group gets a neutral
line; a requester who never started the bot is told so in the group and the
sequence is revoked); per-chat grants; the service picker keyboard."""
import re

import pkstest
from pkstest import tap

ADA, BOB, CAROL = 6123456789, 7000000001, 7000000002
GROUP, OTHER_GROUP = -1001234567890, -1009999999999
SERVICES = pkstest.SSH + "\n" + pkstest.WEB


def last_seq(bot):
    sent = bot.sent()
    return sent[-1]["seq"] if sent else 0


def ask(s, user, text, chat=None, chat_type="private", wait_chat=None,
        pattern=r".", first_name="Ada"):
    since = last_seq(s.bot)
    s.bot.push_message(user_id=user, text=text, chat_id=chat or user,
                       chat_type=chat_type, first_name=first_name)
    rec = s.bot.wait_sent(chat_id=wait_chat or chat or user, since=since,
                          text=pattern, timeout=8)
    return rec["params"].get("text", "") if rec else None


def main():
    pkstest.require_root()
    pkstest.ensure_user()
    with pkstest.Net() as net:
        s = pkstest.Suite(net, services=SERVICES, extra=(
            "allow user %d to { ssh web }\n"
            "allow user %d to ssh\n"
            "allow chat %d to web\n" % (ADA, BOB, GROUP))).start()

        t = ask(s, ADA, "/start")
        tap.ok(t and "/generate" in t and "ssh web" in t,
               "/start explains the commands and lists the user's services",
               t)
        t = ask(s, BOB, "/help", first_name="Bob")
        tap.ok(t and "ssh" in t and "web" not in t.split("open:")[-1],
               "/help lists only the services this user may open", t)
        t = ask(s, CAROL, "/help", first_name="Carol")
        tap.ok(t and "may not open any service" in t,
               "/help tells a stranger to ask an administrator", t)
        t = ask(s, CAROL, "/whoami", first_name="Carol")
        tap.ok(t and str(CAROL) in t, "/whoami gives the user id", t)
        t = ask(s, CAROL, "/whoami", chat=GROUP, chat_type="supergroup",
                first_name="Carol")
        tap.ok(t and str(CAROL) in t and str(GROUP) in t,
               "/whoami in a group gives the user and the chat id", t)
        t = ask(s, ADA, "/frobnicate")
        tap.ok(t and "Unknown command" in t and "/help" in t,
               "an unknown command gets a short hint", t)

        # the picker: two services and no name given
        since = last_seq(s.bot)
        s.bot.push_message(user_id=ADA, text="/generate", first_name="Ada")
        rec = s.bot.wait_sent(chat_id=ADA, since=since, text=r"Which",
                              timeout=8)
        kb = rec and rec["params"].get("reply_markup")
        tap.ok(kb and "ssh" in str(kb) and "web" in str(kb),
               "several services: an inline keyboard to pick one", rec)
        if rec:
            since = last_seq(s.bot)
            data = re.search(r"'callback_data': '([^']*web)'", str(kb)) or \
                re.search(r'"callback_data": ?"([^"]*web)"', str(kb))
            s.bot.push_callback(user_id=ADA, chat_id=ADA,
                                message_id=rec["result"]["message_id"],
                                data=data.group(1) if data else "x")
            r2 = s.bot.wait_sent(chat_id=ADA, since=since,
                                 text=r"pks-knock", timeout=8)
            tap.ok(r2 and "<b>web</b>" in r2["params"]["text"],
                   "a button press generates for that service")
        else:
            tap.ok(False, "a button press generates for that service")

        t = ask(s, ADA, "/status")
        tap.ok(t and "Sequence for web" in t, "/status lists live sequences",
               t)
        t = ask(s, ADA, "/revoke")
        tap.ok(t and "Revoked 1" in t, "/revoke kills them", t)

        # groups: the sequence goes to the requester privately
        since = last_seq(s.bot)
        s.bot.push_message(user_id=ADA, text="/generate@PksTestBot ssh",
                           chat_id=GROUP, chat_type="supergroup",
                           first_name="Ada")
        priv = s.bot.wait_sent(chat_id=ADA, since=since, text=r"pks-knock",
                               timeout=8)
        grp = s.bot.wait_sent(chat_id=GROUP, since=since,
                              text=r"in private", timeout=8)
        tap.ok(priv is not None, "/generate@ThisBot in a group: the "
               "sequence goes to the requester's private chat")
        tap.ok(grp is not None, "and the group gets a neutral line")
        grp_texts = [r["params"].get("text", "") for r in
                     s.bot.sent(chat_id=GROUP)]
        tap.ok(not any("pks-knock" in x or re.search(r"\b\d{5}\b", x)
                       for x in grp_texts),
               "no sequence is ever posted in the group", grp_texts)

        since = last_seq(s.bot)
        s.bot.push_message(user_id=ADA, text="/generate@OtherBot ssh",
                           chat_id=GROUP, chat_type="supergroup")
        # updates are handled and answers sent in order: once a later
        # command is answered, an answer to that one would be out
        t = ask(s, CAROL, "/whoami", first_name="Carol")
        tap.ok(t and [r["params"].get("text") for r in s.bot.sent()
                      if r["seq"] > since] == [t],
               "a command for another bot is ignored",
               [r["params"] for r in s.bot.sent() if r["seq"] > since])

        # a member of the allowed group gets the group's service there
        s.bot.set_started(users=[ADA, BOB])
        since = last_seq(s.bot)
        s.bot.push_message(user_id=BOB, text="/generate@PksTestBot web",
                           chat_id=GROUP, chat_type="supergroup",
                           first_name="Bob")
        tap.ok(s.bot.wait_sent(chat_id=BOB, since=since, text=r"<b>web</b>",
                               timeout=8) is not None,
               "a member of an allowed chat gets that chat's service")
        t = ask(s, BOB, "/generate web", first_name="Bob",
                pattern=r"may not|not allowed")
        tap.ok(t is not None, "but not in a private chat", t)
        t = ask(s, BOB, "/generate@PksTestBot web", chat=OTHER_GROUP,
                chat_type="supergroup", first_name="Bob",
                pattern=r"may not|not allowed")
        tap.ok(t is not None, "nor in another group", t)

        # a requester who never started the bot: told in the group
        s.bot.set_started(users=[ADA])
        since = last_seq(s.bot)
        s.bot.push_message(user_id=BOB, text="/generate@PksTestBot ssh",
                           chat_id=GROUP, chat_type="supergroup",
                           first_name="Bob")
        t = s.bot.wait_sent(chat_id=GROUP, since=since,
                            text=r"private chat with me", timeout=8)
        tap.ok(t is not None, "a user who never started the bot is told, "
               "in the group, to start a private chat")
        tap.ok(s.monitor.log.wait(r"could not be delivered .*: revoked", 5)
               is not None, "and the undelivered sequence is revoked")
        s.stop()
    tap.done()


if __name__ == "__main__":
    main()

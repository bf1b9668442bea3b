"""pksimsg: PKS's imsg framing and message structs, for tests that play
one side of a socketpair (e.g. the monitor's side for one child).

Framing (common/imsg.h): a header {type, len, peerid, pid}, four
little-endian uint32, len counting the 16-byte header; a file
descriptor travels with the first byte of its message (SCM_RIGHTS) and
the sender sets bit 31 of peerid to say so.

Message types and the Telegram enums are read from common/pks.h, so they
cannot drift; the struct formats below match the structs there (x86-64,
natural alignment) and their sizes are checked at import.
"""

import os
import re
import socket
import struct
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HDR = struct.Struct("<IIII")
FD_FLAG = 0x80000000
MAX_PAYLOAD = 16384


def _enum(text, name):
    m = re.search(r"enum\s+%s\s*\{(.*?)\}" % name, text, re.S)
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    vals, n = {}, 0
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" in item:
            k, v = (x.strip() for x in item.split("=", 1))
            n = int(v, 0)
        else:
            k = item
        vals[k] = n
        n += 1
    return vals


with open(os.path.join(TOP, "common", "pks.h")) as _f:
    _PKS_H = _f.read()

IMSG = _enum(_PKS_H, "imsg_type")
TG_CMD = _enum(_PKS_H, "pks_tg_cmd")
TG_CHAT = _enum(_PKS_H, "pks_tg_chat")
globals().update(IMSG)
globals().update(TG_CMD)
globals().update(TG_CHAT)
IMSG_NAME = {v: k for k, v in IMSG.items()}

TG_SEND_HTML = 0x01
TG_SEND_FALLBACK = 0x02
TG_SEND_KEYBOARD = 0x04

# struct name -> (format, size in common/pks.h)
STRUCTS = {
    "pks_log": ("<i", 4),
    "pks_conf_proc": ("<IIII256s", 272),
    "pks_sniff_conf": ("<IIHHI", 16),
    "pks_iface": ("<16s", 16),
    "pks_seq": ("<IBBBB16H16s", 56),
    "pks_knock": ("<IB3x16s", 24),
    "pks_sniff_stats": ("<QQQ", 24),
    "pks_fw_service": ("<BxH", 4),
    "pks_window": ("<IBBH16sI", 28),
    "pks_fw_conf": ("<I", 4),
    "pks_fw_result": ("<IIi", 12),
    "pks_fw_mode": ("<II", 8),
    "pks_fw_allow": ("<BBBBHH16s", 24),
    "pks_fw_observed": ("<BBHI16sQ", 32),
    "pks_tg_conf": ("<256sII", 264),
    "pks_tg_req": ("<IIIIqq64s64s64sIIq64s64s64s64s64s", 560),
    "pks_tg_send": ("<IIqqHHI", 32),
    "pks_tg_sent": ("<Iiqq", 24),
    "pks_tg_edit": ("<qqHHI", 24),
    "pks_tg_migrated": ("<qq", 16),
}
S = {}
for _k, (_fmt, _size) in STRUCTS.items():
    S[_k] = struct.Struct(_fmt)
    assert S[_k].size == _size, "%s: %d != %d" % (_k, S[_k].size, _size)


def cstr(b):
    """A NUL-padded C string field as a str."""
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


# ---------------------------------------------------------------- builders

def conf_proc(uid, gid, chroot, verbose=1, foreground=1):
    return S["pks_conf_proc"].pack(uid, gid, verbose, foreground,
                                   chroot.encode())


def tg_conf(api_url, poll_timeout=50, front=0):
    return S["pks_tg_conf"].pack(api_url.encode(), poll_timeout, front)


def tg_send(reqid, chat_id, text, flags=0, fallback_chat=0, text2=b"",
            thread_id=0):
    if isinstance(text, str):
        text = text.encode()
    if isinstance(text2, str):
        text2 = text2.encode()
    return S["pks_tg_send"].pack(reqid, flags, chat_id, fallback_chat,
                                 len(text), len(text2), thread_id) + \
        text + text2


def tg_done(reqid):
    return struct.pack("<I", reqid)


# ---------------------------------------------------------------- parsers

def tg_req(payload):
    (reqid, cmd, chat_type, age, user_id, chat_id, name, arg1,
     arg2, nargs, thread, ruid, rname, a0, a1, a2,
     a3) = S["pks_tg_req"].unpack(payload)
    return {"reqid": reqid, "cmd": cmd, "chat_type": chat_type, "age": age,
            "user_id": user_id, "chat_id": chat_id, "user_name": cstr(name),
            "arg1": cstr(arg1), "arg2": cstr(arg2), "nargs": nargs,
            "thread_id": thread,
            "reply_user_id": ruid, "reply_user_name": cstr(rname),
            "argv": [cstr(a0), cstr(a1), cstr(a2), cstr(a3)]}


def tg_migrated(payload):
    old, new = S["pks_tg_migrated"].unpack(payload)
    return {"old_chat": old, "new_chat": new}


def tg_sent(payload):
    reqid, status, chat_id, mid = S["pks_tg_sent"].unpack(payload)
    return {"reqid": reqid, "status": status, "chat_id": chat_id,
            "message_id": mid}


def tg_edit(chat_id, message_id, text):
    text = text.encode() if isinstance(text, str) else text
    return S["pks_tg_edit"].pack(chat_id, message_id, len(text), 0, 0) + \
        text


# ---------------------------------------------------------------- channel

class Msg:
    def __init__(self, type, peerid, pid, data, fd):
        self.type, self.peerid, self.pid = type, peerid, pid
        self.data, self.fd = data, fd

    def __repr__(self):
        return "<%s len=%d fd=%s>" % (IMSG_NAME.get(self.type, self.type),
                                       len(self.data), self.fd)


class Channel:
    """One end of a socketpair, speaking imsg."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.fds = []
        self.queue = []

    def send(self, type, data=b"", fd=None, peerid=0):
        hdr = HDR.pack(type, HDR.size + len(data),
                       peerid | (FD_FLAG if fd is not None else 0),
                       os.getpid())
        if fd is not None:
            socket.send_fds(self.sock, [hdr + data], [fd])
        else:
            self.sock.sendall(hdr + data)

    def _parse(self):
        while len(self.buf) >= HDR.size:
            type, length, peerid, pid = HDR.unpack_from(self.buf)
            if length < HDR.size or length > HDR.size + MAX_PAYLOAD:
                raise ValueError("bad imsg length %d" % length)
            if len(self.buf) < length:
                return
            fd = None
            if peerid & FD_FLAG:
                fd = self.fds.pop(0) if self.fds else -1
                peerid &= ~FD_FLAG
            self.queue.append(Msg(type, peerid, pid,
                                  self.buf[HDR.size:length], fd))
            self.buf = self.buf[length:]

    def recv(self, timeout=10, type=None):
        """Next message (of the given type, others are kept), or None."""
        end = time.time() + timeout
        while True:
            for i, m in enumerate(self.queue):
                if type is None or m.type == type:
                    return self.queue.pop(i)
            left = end - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, 8)
            except socket.timeout:
                return None
            if not data:
                return None		# EOF
            self.fds.extend(fds)
            self.buf += data
            self._parse()

    def pending(self, type=None):
        """Messages already received (of a type), without waiting."""
        self.recv(timeout=0.01, type=-1)
        return [m for m in self.queue if type is None or m.type == type]

#!/usr/bin/env python3
"""fakebot: a fake Telegram Bot API server for PKS's tests.

In-process:   bot = FakeBot(dir=d, token=t).start(); ...; bot.stop()
As a process: python3 fakebot.py --listen 127.0.0.1:PORT --control SOCK \
                  --token-file F --dir D
              or FakeBotProcess(dir=d, token=t, ns=...).start() from a test.
The control interface (a unix socket speaking JSON lines) and the methods
of FakeBot, FakeBotClient and FakeBotProcess are the same; README.md
describes them.
"""

import argparse
import atexit
import inspect
import json
import os
import select
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botapi			# noqa: E402
import httpsd			# noqa: E402
import tlsca			# noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TOKEN = "123456789:PKS-fake-token_for-tests"
MAX_LINE = 1 << 20

# control op -> name of the Api method that does it (None: FakeBot's own)
OPS = {"ping": None, "info": None, "reset": "reset",
       "push_message": "push_message", "push_edit": "push_edit",
       "push_callback": "push_callback", "push_update": "push_update",
       "sent": "list_sent", "wait_sent": "wait_sent", "log": "list_log",
       "wait_log": "wait_log", "wait_polling": "wait_polling",
       "fail": "fail", "clear_failures": "clear_failures",
       "set_started": "set_started", "add_started": "add_started",
       "set_webhook": "set_webhook",
       "set_conflict_mode": "set_conflict_mode", "state": "state",
       "create_topic": "create_topic",
       "push_channel_post": "push_channel_post",
       "push_auto_forward": "push_auto_forward", "migrate": "migrate",
       "set_forbidden": "set_forbidden", "set_slow_mode": "set_slow_mode",
       "age_message": "age_message"}


class FakeBotError(Exception):
    """A control request was refused (and changed nothing)."""


class _Ops:
    """The control operations, as methods taking keyword arguments."""

    def _call(self, op, args):
        raise NotImplementedError


def _make_op(op):
    def f(self, **kw):
        return self._call(op, kw)
    f.__name__ = op
    f.__doc__ = "Control operation %r (see README.md)." % op
    return f


for _op in OPS:
    setattr(_Ops, _op, _make_op(_op))


# ---------------------------------------------------------------- server

def read_token(path):
    try:
        with open(path) as f:
            tok = f.readline().strip()
    except OSError as e:
        raise SystemExit("fakebot: token file %s: %s" % (path, e.strerror))
    if not tok or any(c.isspace() or c in "/?#%" for c in tok):
        raise SystemExit("fakebot: token file %s: no valid token on its "
                         "first line" % path)
    return tok


class FakeBot(_Ops):
    """The fake Bot API server, running in threads of this process."""

    def __init__(self, dir, token=DEFAULT_TOKEN, listen="127.0.0.1:0",
                 control=None, username="PksTestBot", first_name="PKS Test",
                 san=(), verbose=None, token_file=None, plain=False):
        self.dir = os.path.abspath(dir)
        self.token = token
        self.token_file = token_file
        self.listen = (httpsd.parse_listen(listen)
                       if isinstance(listen, str) else tuple(listen))
        self.control = control
        self.san = tuple(san)
        self.plain = plain
        self.verbose = (bool(os.environ.get("PKS_TEST_VERBOSE"))
                        if verbose is None else verbose)
        self.api = botapi.Api(token, username=username,
                              first_name=first_name)
        self.httpd = None
        self.ctl = None
        self.threads = []

    def start(self):
        certs = tlsca.ensure_ca(self.dir, self.san)
        self.ca_file = certs["ca"]
        self.httpd = httpsd.Server(self.api, self.listen, certs["server"],
                                   certs["server_key"],
                                   httpsd.stderr_log if self.verbose
                                   else None, self.plain)
        self.port = self.httpd.server_address[1]
        host = self.listen[0]
        self.url = "%s://%s:%d" % ("http" if self.plain else "https",
                                   "[%s]" % host if ":" in host else host,
                                   self.port)
        self._thread(self.httpd.serve_forever)
        if self.control:
            self.ctl = ControlServer(self.control, self)
            self._thread(self.ctl.serve_forever)
        return self

    def _thread(self, fn):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self):
        if self.ctl:
            self.ctl.shutdown()
            self.ctl.server_close()
            try:
                os.unlink(self.control)
            except OSError:
                pass
            self.ctl = None
        if self.httpd:
            self.httpd.stop()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def dispatch(self, op, args):
        """Run one control op; raise botapi.CtlError if malformed."""
        if op not in OPS:
            raise botapi.CtlError("unknown op %s" % json.dumps(op))
        if not isinstance(args, dict):
            raise botapi.CtlError("arguments must be an object")
        if op == "ping":
            fn = lambda: "pong"		# noqa: E731
        elif op == "info":
            fn = self.info
        else:
            fn = getattr(self.api, OPS[op])
        try:
            inspect.signature(fn).bind(**args)
        except TypeError as e:
            raise botapi.CtlError("%s: %s" % (op, e))
        return fn(**args)

    def info(self):
        return {"url": self.url, "port": self.port, "ca_file": self.ca_file,
                "token_file": self.token_file,
                "username": self.api.me["username"],
                "bot_id": self.api.me["id"], "control": self.control}

    def _call(self, op, args):
        # the same JSON round trip as over the socket, so that a test
        # behaves the same in-process and against a process
        args = json.loads(json.dumps(args))
        try:
            return json.loads(json.dumps(self.dispatch(op, args)))
        except botapi.CtlError as e:
            raise FakeBotError(str(e))


class ControlHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            if not line:
                return
            if len(line) > MAX_LINE:
                self.send({"ok": False, "error": "request line too long"})
                return
            if not line.strip():
                continue
            try:
                req = json.loads(line.decode("utf-8"))
                if not isinstance(req, dict) or not isinstance(
                        req.get("op"), str):
                    raise botapi.CtlError('a request is an object with '
                                          'a string "op"')
                op = req.pop("op")
                res = {"ok": True,
                       "result": self.server.bot.dispatch(op, req)}
            except (ValueError, UnicodeDecodeError) as e:
                res = {"ok": False, "error": "bad JSON: %s" % e}
            except botapi.CtlError as e:
                res = {"ok": False, "error": str(e)}
            except Exception as e:	# a bug here must not kill the server
                res = {"ok": False, "error": "internal error: %r" % e}
            if not self.send(res):
                return

    def send(self, obj):
        try:
            self.wfile.write(json.dumps(obj).encode("utf-8") + b"\n")
            self.wfile.flush()
            return True
        except OSError:
            return False


class ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path, bot):
        self.bot = bot
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        old = os.umask(0o177)
        try:
            socketserver.ThreadingUnixStreamServer.__init__(
                self, path, ControlHandler)
        finally:
            os.umask(old)


# ---------------------------------------------------------------- clients

class FakeBotClient(_Ops):
    """The control operations, over the unix socket of a running fakebot."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.rfile = None
        self.lock = threading.Lock()

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def _call(self, op, args):
        req = dict(args, op=op)
        wait = args.get("timeout", 0) if op.startswith("wait") else 0
        with self.lock:
            if self.sock is None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(self.path)
                self.rfile = self.sock.makefile("rb")
            self.sock.settimeout(30 + float(wait or 0))
            try:
                self.sock.sendall(json.dumps(req).encode("utf-8") + b"\n")
                line = self.rfile.readline(MAX_LINE)
            except OSError:
                self.close()
                raise
            if not line:
                self.close()
                raise FakeBotError("control socket closed")
        res = json.loads(line.decode("utf-8"))
        if not res.get("ok"):
            raise FakeBotError(res.get("error"))
        return res["result"]


class FakeBotProcess(FakeBotClient):
    """fakebot.py as a child process (in network namespace ns if given)."""

    def __init__(self, dir, token=DEFAULT_TOKEN, listen="127.0.0.1:0",
                 control=None, ns=None, username=None, san=(),
                 stderr=None, plain=False):
        self.dir = os.path.abspath(dir)
        self.token = token
        self.listen = listen
        self.ns = ns
        self.username = username
        self.san = tuple(san)
        self.plain = plain
        self.stderr_path = stderr or os.path.join(self.dir, "fakebot.log")
        self.proc = None
        FakeBotClient.__init__(self, control or
                               os.path.join(self.dir, "fakebot.sock"))

    def start(self, timeout=20):
        os.makedirs(self.dir, exist_ok=True)
        self.token_file = os.path.join(self.dir, "token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token + "\n")
        argv = [sys.executable, os.path.join(HERE, "fakebot.py"),
                "--listen", self.listen, "--control", self.path,
                "--token-file", self.token_file, "--dir", self.dir]
        if self.username:
            argv += ["--username", self.username]
        for s in self.san:
            argv += ["--san", s]
        if self.plain:
            argv.append("--plain")
        if self.ns:
            argv = ["ip", "netns", "exec", self.ns] + argv
        err = open(self.stderr_path, "a")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=err, text=True)
        err.close()
        atexit.register(self.stop)
        end = time.monotonic() + timeout
        line = ""
        while not line.startswith("fakebot: ready "):
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("fakebot did not start; see %s"
                                   % self.stderr_path)
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                line = self.proc.stdout.readline()
        words = dict(w.split("=", 1) for w in line.split()[3:])
        self.url = line.split()[2]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ca_file = words["ca"]
        return self

    def stop(self):
        self.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description="fake Telegram Bot API server")
    ap.add_argument("--listen", help="HOST:PORT or [V6]:PORT to serve on")
    ap.add_argument("--control", help="path of the unix control socket")
    ap.add_argument("--token-file", help="file holding the bot token")
    ap.add_argument("--dir", help="directory of ca.pem and server.pem")
    ap.add_argument("--username", default="PksTestBot")
    ap.add_argument("--first-name", default="PKS Test")
    ap.add_argument("--san", action="append", default=[],
                    help="extra subjectAltName (IP:x or DNS:x)")
    ap.add_argument("--plain", action="store_true",
                    help="serve plain HTTP, as a local telegram-bot-api")
    ap.add_argument("--mkca", metavar="DIR",
                    help="only make the CA and server certificate in DIR")
    a = ap.parse_args(argv)
    try:
        if a.mkca:
            p = tlsca.make_ca(a.mkca, a.san)
            print(p["ca"])
            return 0
        for opt in ("listen", "control", "token_file", "dir"):
            if not getattr(a, opt):
                ap.error("--%s is required" % opt.replace("_", "-"))
        listen = httpsd.parse_listen(a.listen)
    except (ValueError, RuntimeError) as e:
        ap.error(str(e))
    bot = FakeBot(a.dir, read_token(a.token_file), listen, a.control,
                  a.username, a.first_name, a.san, verbose=True,
                  token_file=a.token_file, plain=a.plain)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *x: done.set())
    try:
        bot.start()
    except (OSError, RuntimeError) as e:
        sys.stderr.write("fakebot: %s\n" % e)
        return 1
    print("fakebot: ready %s ca=%s control=%s" % (bot.url, bot.ca_file,
                                                  a.control), flush=True)
    while not done.wait(3600):
        pass
    bot.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

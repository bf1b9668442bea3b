"""httpsd: the HTTPS front of the fake Bot API.

Parses GET and POST /bot<TOKEN>/<method> requests (query string, JSON,
urlencoded or multipart body), checks the token, applies injected
failures, runs the method and answers in the Bot API's JSON shape.  Every
request is logged with the token replaced by <token>.
"""

import email.parser
import email.policy
import http.server
import json
import re
import select
import socket
import ssl
import sys
import threading
import urllib.parse

import botapi

GATEWAY_HTML = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                b"<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
                b"<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n")
NOT_JSON = (b"<html><body><h1>Service Unavailable</h1>"
            b"<p>Please try again later.</p></body></html>\n")
CUT_JSON = b'{"ok":true,"result":[{"update_id":'
MAX_BODY = 1 << 20


def redact(path):
    """The request path with the token, right or wrong, hidden."""
    return re.sub(r"^/bot[^/?]*", "/bot<token>", path)


class BodyError(Exception):
    pass


def parse_listen(s):
    """"127.0.0.1:8443" or "[::1]:8443" -> (host, port)."""
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:([0-9]{1,5})|"
                     r"([0-9A-Za-z.-]+):([0-9]{1,5})", s)
    if not m:
        raise ValueError("bad listen address %r (HOST:PORT, [V6]:PORT)" % s)
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if port > 65535:
        raise ValueError("bad port in %r" % s)
    return host, port


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""
    timeout = 120			# idle keep-alive connections end
    # a reply's head and body are two writes: with Nagle's algorithm the
    # body waits for the ACK of the head, which the client delays (40 ms
    # a call, half the time of a burst of sendMessage)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass			# requests are logged by record()

    def do_GET(self):
        self.api_request()

    def do_POST(self):
        self.api_request()

    # ------------------------------------------------------------ input

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(10)
                if len(data) > MAX_BODY:
                    raise BodyError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise BodyError("body too large")
        return self.rfile.read(n) if n else b""

    def parse_params(self, query, body):
        params = {}
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
            params[k] = v
        ctype = self.headers.get("Content-Type", "").lower()
        if not body:
            return params
        if ctype.startswith("application/json"):
            try:
                obj = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise botapi.bad("can't parse JSON")
            if not isinstance(obj, dict):
                raise botapi.bad("can't parse JSON")
            params.update(obj)
        elif ctype.startswith("application/x-www-form-urlencoded"):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise botapi.bad("can't parse parameters")
            for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True):
                params[k] = v
        elif ctype.startswith("multipart/form-data"):
            head = ("Content-Type: %s\r\n\r\n"
                    % self.headers["Content-Type"]).encode()
            parser = email.parser.BytesParser(policy=email.policy.HTTP)
            msg = parser.parsebytes(head + body)
            if not msg.is_multipart():
                raise botapi.bad("can't parse multipart form data")
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    data = part.get_payload(decode=True) or b""
                    params[name] = data.decode("utf-8", "replace")
        return params

    # ------------------------------------------------------------ output

    def reply(self, status, body, ctype="application/json", cut=False):
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "keep-alive")
        self.end_headers()
        if cut:
            # the peer sees the connection end short of Content-Length
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)

    def injected(self, rule, body):
        """Answer with the failure rule; return the status sent (0: none)."""
        k = rule["kind"]
        if k == "hang":
            self.server.stopping.wait(rule["seconds"])
            self.close_connection = True
            return 0
        if k == "502":
            self.reply(502, GATEWAY_HTML, "text/html")
            return 502
        if k == "notjson":
            self.reply(200, NOT_JSON, "text/html")
            return 200
        if k == "badjson":
            self.reply(200, body[:len(body) // 2] if body else CUT_JSON)
            return 200
        if k == "close":
            self.reply(200, body or b'{"ok":true,"result":true}', cut=True)
            return 200
        err = {"500": (500, "Internal Server Error"),
               "429": (429, "Too Many Requests: retry after %d"
                       % rule["retry_after"]),
               "409": (409, "Conflict: terminated by other getUpdates "
                       "request"),
               "401": (401, "Unauthorized"),
               "status": (rule["status"], rule["description"])}[k]
        e = botapi.ApiError(err[0], err[1], rule["retry_after"]
                            if k == "429" else None)
        self.reply(e.code, e.body())
        return e.code

    # ------------------------------------------------------------ request

    def api_request(self):
        api = self.server.api
        url = urllib.parse.urlsplit(self.path)
        rec = {"verb": self.command, "path": redact(url.path),
               "method": None, "status": None, "params": None,
               "injected": None, "epoch": api.epoch}
        try:
            body = self.read_body()
        except (BodyError, ValueError) as e:
            self.close_connection = True
            e = botapi.bad(str(e))
            rec["status"] = e.code
            self.server.record(rec, False)
            self.reply(e.code, e.body())
            return
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]*)", url.path)
        try:
            if not m:
                raise botapi.ApiError(404, "Not Found")
            if urllib.parse.unquote(m.group(1)) != api.token:
                raise botapi.ApiError(401, "Unauthorized")
            rec["method"] = m.group(2)
            rec["params"] = self.parse_params(url.query, body)
        except botapi.ApiError as e:
            rec["status"] = e.code
            self.server.record(rec, False)
            self.reply(e.code, e.body())
            return
        method = m.group(2)
        rule = api.take_failure(method, rec["params"])
        if rule:
            rec["injected"] = rule["kind"]
        if rule and not rule["process"]:
            rec["status"] = self.injected_status(rule)
            self.server.record(rec, False)
            self.injected(rule, None)
            return
        ctx = {"gone": self.peer_gone}
        known = hasattr(api, "m_" + method.lower())
        try:
            status, out = 200, {"ok": True,
                                "result": api.call(method, rec["params"],
                                                   ctx)}
            rec["result"] = out["result"]
        except botapi.ApiError as e:
            status, out = e.code, e.body()
            rec["result"] = out
        except botapi.ClientGone:
            rec.update(status=0, error="client closed the connection")
            self.server.record(rec, False)
            self.close_connection = True
            return
        del ctx["gone"]
        rec["status"] = status
        rec.update(ctx)
        data = json.dumps(out, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        if rule:
            # the method ran; only its reply is replaced
            rec["status"] = self.injected_status(rule)
            self.server.record(rec, known and method.lower() in
                               botapi.RECORDED, status)
            self.injected(rule, data)
            return
        self.server.record(rec, known and method.lower() in botapi.RECORDED)
        self.reply(status, data)

    def peer_gone(self):
        """True if the client closed (or wrote) while we owe it a reply.

        An HTTP/1.1 client without pipelining sends nothing while it
        waits, so readable means EOF or a TLS close_notify.
        """
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(r)

    @staticmethod
    def injected_status(rule):
        k = rule["kind"]
        if k == "hang":
            return 0
        if k in ("notjson", "badjson", "close"):
            return 200
        if k == "status":
            return rule["status"]
        return int(k)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api, listen, certfile, keyfile, logf=None,
                 plain=False):
        host, port = listen
        self.address_family = (socket.AF_INET6 if ":" in host
                               else socket.AF_INET)
        self.api = api
        self.logf = logf
        self.stopping = threading.Event()
        self.live = set()
        self.live_lock = threading.Lock()
        # plain: HTTP, as a local telegram-bot-api server speaks it
        self.ctx = None
        if not plain:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self.ctx.load_cert_chain(certfile, keyfile)
        http.server.ThreadingHTTPServer.__init__(self, (host, port), Handler)

    def record(self, rec, sent, method_status=None):
        if method_status is not None:
            rec["method_status"] = method_status
        self.api.record(rec, sent)
        if self.logf:
            self.logf("%s %s %s%s" % (rec["verb"], rec["path"],
                                     rec["status"],
                                     " (injected %s)" % rec["injected"]
                                     if rec["injected"] else ""))

    def finish_request(self, request, client_address):
        # the TLS handshake runs here, in the connection's own thread
        with self.live_lock:
            self.live.add(request)
        try:
            request.settimeout(10)
            try:
                tls = (self.ctx.wrap_socket(request, server_side=True)
                       if self.ctx else request)
            except (ssl.SSLError, OSError) as e:
                self.api.record({"verb": "TLS", "path": None,
                                 "method": None, "status": 0,
                                 "params": None, "injected": None,
                                 "error": str(e)}, False)
                if self.logf:
                    self.logf("TLS handshake failed: %s" % e)
                return
            try:
                self.RequestHandlerClass(tls, client_address, self)
            except (OSError, ssl.SSLError):
                pass
            finally:
                try:
                    tls.close()
                except OSError:
                    pass
        finally:
            with self.live_lock:
                self.live.discard(request)

    def stop(self):
        self.stopping.set()
        self.api.stop()
        self.shutdown()
        self.server_close()
        with self.live_lock:
            for s in list(self.live):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def stderr_log(line):
    sys.stderr.write("fakebot: %s\n" % line)
    sys.stderr.flush()

"""Real local servers for the channel tests: a webhook receiver that verifies signatures the way
docs/notifications.md tells receivers to, and a minimal SMTP server. Both bind 127.0.0.1 on a free
port and run on daemon threads."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gongzhi.notifications import signing


class WebhookReceiver:
    """Accepts POSTs on any path. ``/fail/<n>`` answers 503 to the first n requests of each
    delivery, ``/hang`` sleeps ``hang_seconds`` before answering, ``/gone`` answers 410. A bad or
    stale signature is answered 401."""

    def __init__(self, secret: str, *, hang_seconds: float = 5.0, delay: float = 0.0):
        self.secret = secret
        self.hang_seconds = hang_seconds
        self.delay = delay
        self.accepted: list[dict] = []
        self.rejected: list[str] = []
        self.seen = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                delivery = self.headers.get(signing.DELIVERY_HEADER, "")
                with receiver.lock:
                    receiver.seen[(self.path, delivery)] += 1
                    count = receiver.seen[(self.path, delivery)]
                if receiver.delay:
                    time.sleep(receiver.delay)
                if self.path == "/hang":
                    time.sleep(receiver.hang_seconds)
                if self.path.startswith("/fail/") and count <= int(self.path.rsplit("/", 1)[1]):
                    return self._answer(503)
                if self.path == "/gone":
                    return self._answer(410)
                ok = signing.verify(receiver.secret, self.headers.get(signing.TIMESTAMP_HEADER, ""), body,
                                    self.headers.get(signing.SIGNATURE_HEADER, ""))
                with receiver.lock:
                    if ok:
                        receiver.accepted.append({"path": self.path, "delivery": delivery,
                                                  "event": self.headers.get(signing.EVENT_HEADER),
                                                  "json": json.loads(body)})
                    else:
                        receiver.rejected.append(delivery)
                self._answer(204 if ok else 401)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class TinySMTP:
    """Enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
    Recipients in ``refuse`` get 550; while ``busy`` is true every MAIL gets 451."""

    def __init__(self, *, refuse: set[str] = frozenset()):
        self.messages: list[dict] = []
        self.refuse = set(refuse)
        self.busy = False
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line):
                    self.wfile.write(line.encode() + b"\r\n")
                    self.wfile.flush()

                say("220 tiny ESMTP")
                sender, rcpts = None, []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250-tiny" if verb == "EHLO" else "250 tiny")
                        if verb == "EHLO":
                            say("250 8BITMIME")
                    elif verb == "MAIL":
                        if owner.busy:
                            say("451 try again later")
                        else:
                            sender, rcpts = line.split(":", 1)[1].strip().strip("<>"), []
                            say("250 ok")
                    elif verb == "RCPT":
                        address = line.split(":", 1)[1].strip().strip("<>")
                        if address in owner.refuse:
                            say("550 no such user")
                        else:
                            rcpts.append(address)
                            say("250 ok")
                    elif verb == "DATA":
                        say("354 end with .")
                        data = []
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b".\n", b""):
                                break
                            data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        owner.messages.append({"from": sender, "to": rcpts, "data": b"".join(data)})
                        say("250 queued")
                    elif verb == "RSET":
                        sender, rcpts = None, []
                        say("250 ok")
                    elif verb == "NOOP":
                        say("250 ok")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("502 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

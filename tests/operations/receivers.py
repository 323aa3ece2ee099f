"""Real receivers on loopback for the alert tests: an HTTP server that records every POST (the
webhook, and Slack's Web API ``chat.postMessage`` answered the way Slack answers), and an SMTP
server (aiosmtpd) that records every message."""

from __future__ import annotations

import email
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.serving.servers import free_port

SLACK_PATH = "/slack/api/"


@dataclass
class Received:
    """What a receiver got, in order, safe to read while it keeps receiving."""

    items: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Any) -> None:
        with self.lock:
            self.items.append(item)

    def snapshot(self) -> list[Any]:
        with self.lock:
            return list(self.items)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float, what: str) -> Any:
        """The first item matching ``predicate``, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = [item for item in self.snapshot() if predicate(item)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:.0f} s; received: {self.snapshot()}")
            time.sleep(0.2)


@dataclass
class HttpReceiver:
    url: str
    webhook: Received
    slack: Received
    status: int = 200  # what the webhook answers (set it to make the receiver fail, then recover)

    @property
    def webhook_url(self) -> str:
        return self.url + "/hooks/alerts"

    @property
    def slack_api_url(self) -> str:
        return self.url + SLACK_PATH


@contextmanager
def http_receiver(status: int = 200) -> Iterator[HttpReceiver]:
    webhook, slack = Received(), Received()
    receiver: HttpReceiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith(SLACK_PATH):
                fields = (
                    json.loads(body)
                    if self.headers.get("Content-Type", "").startswith("application/json")
                    else {k: v[0] for k, v in parse_qs(body.decode()).items()}
                )
                slack.add({"method": self.path[len(SLACK_PATH) :], "auth": self.headers.get("Authorization"), **fields})
                self._answer(200, {"ok": True, "channel": fields.get("channel"), "ts": f"{time.time():.6f}"})
                return
            if receiver.status >= 300:
                self._answer(receiver.status, {"received": False})
                return
            received = {"path": self.path, "content_type": self.headers.get("Content-Type"), "received_at": time.time()}
            webhook.add({**received, **json.loads(body)})
            self._answer(receiver.status, {"received": True})

        def _answer(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver = HttpReceiver(f"http://127.0.0.1:{server.server_address[1]}", webhook, slack, status)
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass
class SmtpReceiver:
    host: str
    port: int
    messages: Received  # email.message.Message, with the envelope in "X-Envelope-*" headers


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller

    messages = Received()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            message: Message = email.message_from_bytes(envelope.content)
            message["X-Envelope-From"] = envelope.mail_from
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            messages.add(message)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpReceiver("127.0.0.1", port, messages)
    finally:
        controller.stop()

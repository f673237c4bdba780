"""A keep-alive webhook receiver for delivery tests: HTTP/1.1 on 127.0.0.1, as production receivers answer.

Unlike the fixture in conftest.py (HTTP/1.0, one connection per message), it keeps connections open, so
tests can see which messages shared a connection (``port``), and it can hold a message unanswered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Message:
    path: str
    webhook_id: str
    #: the sender's side of the connection: messages with the same port came over one kept-alive connection
    port: int
    #: time.time() when the message had been read
    at: float
    headers: dict[str, str]


class KeepAliveReceiver:
    """Records every message; answers ``status`` (default 200) at once.

    While ``holding`` is set, the next message is recorded and then left unanswered until ``release()``.
    ``before_answer(message)``, when set, runs before each answer (after recording).
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.holding = False
        self.status = 200
        self.before_answer: Callable[[Message], None] | None = None
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer's body waits for the sender's delayed ACK

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message = Message(
                    path=self.path,
                    webhook_id=self.headers.get("webhook-id", ""),
                    port=self.client_address[1],
                    at=time.time(),
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                with receiver.lock:
                    receiver.messages.append(message)
                    hold, receiver.holding = receiver.holding, False
                if hold:
                    receiver._released.wait(60)
                    self.close_connection = True
                    return  # the sender is gone by now: nothing to answer
                if receiver.before_answer is not None:
                    receiver.before_answer(message)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ids(self, path: str | None = None) -> list[str]:
        with self.lock:
            return [m.webhook_id for m in self.messages if path is None or m.path == path]

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

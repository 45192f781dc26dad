"""A tiny webhook receiver for the tests: http.server in a thread, recording every request as it came."""

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]  # as received, in order
    body: bytes

    def param(self, name: str) -> str:
        [value] = self.query[name]
        return value

    def header_names(self) -> set[str]:
        return {name.lower() for name, _ in self.headers}


class Receiver:
    """Answers each request with the next scripted status (then `default`), after `delay` seconds."""

    def __init__(self, statuses: tuple[int, ...] = (), default: int = 200, delay: float = 0.0) -> None:
        self.hits: list[Hit] = []
        self.statuses = deque(statuses)
        self.default = default
        self.delay = delay
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                hit = Hit(self.command, parts.path, parts.query, parse_qs(parts.query, keep_blank_values=True),
                          list(self.headers.items()), body)
                with receiver._lock:
                    receiver.hits.append(hit)
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.default
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except ConnectionError:  # the sender gave up waiting (timeout tests)
                    pass

            do_GET = do_POST = _handle

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base}/webhook/crm"

    def for_id(self, crm_id: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.query.get("id") == [crm_id]]

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

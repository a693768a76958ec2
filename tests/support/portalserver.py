"""A scriptable imitation portal on 127.0.0.1 for crawl tests, with faults on demand.

Tests put pages in :attr:`PortalServer.pages` (path with query -> :class:`Page`) and change
them between crawls (a new article, a revised one, a 503). Each page can misbehave the way
small government servers do: answer with a status sequence, ask to retry after a delay,
hang after the headers. Every request is recorded with its arrival time (and, once answered,
its span), so tests can check what was fetched, with which headers, how far apart and
whether two were ever in progress at once. A server can listen on any loopback address
(``127.0.0.2``...), so one test can stand up several portals on hosts of their own.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Page:
    body: bytes | str
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    # Statuses to answer before the real one, e.g. [503, 503]; each request takes one.
    statuses_first: list[int] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None  # an HTTP date; If-Modified-Since with it answers 304
    # Misbehaviour: "hang" (headers, then nothing), "reset" (connection reset mid-body),
    # "short" (fewer bytes than Content-Length), "endless" (a body that never ends).
    fault: str | None = None


@dataclass(frozen=True)
class Hit:
    path: str
    at: float
    headers: dict[str, str]


@dataclass(frozen=True)
class Span:
    """When a request arrived and when its answer had been written."""

    path: str
    start: float
    end: float


class PortalServer:
    """An HTTP server on a loopback address serving :attr:`pages`; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.pages: dict[str, Page] = {}
        self.hits: list[Hit] = []
        self.spans: list[Span] = []
        self.not_modified = 0
        self._lock = threading.Lock()
        self._release = threading.Event()  # frees handlers that hang
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                start = time.monotonic()
                try:
                    self._answer(start)
                finally:
                    with server._lock:
                        server.spans.append(Span(self.path, start, time.monotonic()))

            def _answer(self, start: float) -> None:
                with server._lock:
                    server.hits.append(Hit(self.path, start, dict(self.headers.items())))
                    page = server.pages.get(self.path)
                    status = page.statuses_first.pop(0) if page and page.statuses_first else None
                if page is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                if status is not None:
                    self._send(status, b"busy", "text/plain", page.headers)
                    return
                validators = {"ETag": page.etag, "Last-Modified": page.last_modified}
                validators = {k: v for k, v in validators.items() if v}
                if (page.etag and self.headers.get("If-None-Match") == page.etag) or (
                    not page.etag and page.last_modified and self.headers.get("If-Modified-Since") == page.last_modified
                ):
                    with server._lock:
                        server.not_modified += 1
                    self._send(304, b"", page.content_type, validators)
                    return
                body = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
                if page.fault:
                    self._misbehave(page.fault, body, page.content_type)
                    return
                self._send(page.status, body, page.content_type, {**page.headers, **validators})

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def _misbehave(self, fault: str, body: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                if fault == "endless":
                    self.end_headers()
                    chunk = b"<p>" + b"x" * 65530 + b"</p>"
                    with contextlib.suppress(OSError):
                        for _ in range(2048):  # 128 MiB at most, then the server gives up
                            self.wfile.write(chunk)
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body) * 4))
                self.end_headers()
                if fault == "hang":
                    server._release.wait(timeout=30)
                elif fault == "short":
                    self.wfile.write(body)
                elif fault == "reset":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    # SO_LINGER 0: close with RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.host = host
        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]

    def __enter__(self) -> PortalServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

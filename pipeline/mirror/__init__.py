"""The bundled offline mirror of the registered portals, and the local HTTP server for it.

The mirror is package data, shipped in the wheel: ``pipeline/mirror/portals/<host>/...``,
one folder per host name a bundled portal names. :class:`MirrorServer` serves it on
127.0.0.1 (a random port by default), choosing the folder by the request's ``Host`` header,
so the portals' real site configs work against it in mirror mode (see
:mod:`crawlers.mirror`); ``vnportals demo``, the DAGs' ``bundled`` mirror mode and the tests
all use it. The URL-to-file rules are in ``pipeline/mirror/README.md``. Every request is
recorded, so tests can prove what the crawler did and did not fetch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

MIRROR_DIR = Path(__file__).resolve().parent / "portals"

#: The mirror setting that serves the bundled offline mirror from this process.
BUNDLED = "bundled"

_CONTENT_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".txt": "text/plain; charset=utf-8",
    ".gz": "application/gzip",
}

_NOT_FOUND = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>404</title></head>"
    "<body><h1>Không tìm thấy trang</h1></body></html>"
).encode()


@dataclass(frozen=True)
class MirrorRequest:
    """One request the mirror answered."""

    host: str
    path: str
    status: int
    user_agent: str


def mirror_file(root: Path, host: str, target: str) -> Path | None:
    """The file that answers ``target`` (path and query) for ``host``, or None."""
    host_dir = (root / host.lower()).resolve()
    if not host or "/" in host or host.startswith(".") or not host_dir.is_dir():
        return None
    parts = urlsplit(target)
    path = unquote(parts.path or "/")
    relative = path.lstrip("/")
    if parts.query:
        relative += "@" + unquote(parts.query)
    candidates = (
        [relative + "index.html"]
        if relative.endswith("/") or not relative
        else [
            relative,
            relative + "/index.html",
        ]
    )
    for name in candidates:
        candidate = (host_dir / name).resolve()
        if host_dir not in candidate.parents:
            return None  # ".." or a link out of the host's folder
        if candidate.is_file():
            return candidate
    return None


def content_type(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix.lower(), "text/html; charset=utf-8")


def extra_headers(path: Path) -> dict[str, str]:
    """Headers a fixture asks for in a ``<file>.headers.json`` beside it (a legacy charset,
    a missing one), overriding the defaults."""
    sidecar = path.with_name(path.name + ".headers.json")
    if not sidecar.is_file():
        return {}
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


class MirrorServer:
    """The mirror on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(self, root: Path = MIRROR_DIR, port: int = 0) -> None:
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: offline mirror folder not found")
        self.root = root
        self.requests: list[MirrorRequest] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer(send_body=True)

            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def _answer(self, send_body: bool) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                found = mirror_file(server.root, host, self.path)
                status = 200 if found else 404
                body = found.read_bytes() if found else _NOT_FOUND
                ctype = content_type(found) if found else "text/html; charset=utf-8"
                with server._lock:
                    server.requests.append(MirrorRequest(host, self.path, status, self.headers.get("User-Agent", "")))
                headers = {"Content-Type": ctype, **(extra_headers(found) if found else {})}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def hosts(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def start(self) -> MirrorServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def serving(mirror: str | None) -> Iterator[str | None]:
    """The URL the crawl sends its requests to: a running mirror server's URL as given, the
    bundled mirror served here for the ``with`` block (``mirror`` is :data:`BUNDLED`), or
    None for the real portals."""
    if mirror != BUNDLED:
        yield mirror
        return
    if not MIRROR_DIR.is_dir():
        raise FileNotFoundError(f"{MIRROR_DIR}: the bundled offline mirror is missing from the installation")
    with MirrorServer(MIRROR_DIR) as server:
        yield server.url

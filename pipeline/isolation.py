"""Extraction in an isolated worker process, under a wall clock per document.

One pathological page (half a million nested ``<div>``s, a table of a million cells) must
never stall or crash a night's batch. :class:`IsolatedExtractor` runs
:func:`transforms.extract_page` in a child process with a memory cap; a page that takes
longer than its time limit has its worker killed and replaced, and is reported as failed
with the reason; a worker that dies is replaced the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import resource
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from kernel.article import Article, Rejection
from kernel.registry import ExtractHints
from transforms import extract_page

# Wall clock for one page, and the worker's address-space cap.
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MEMORY_BYTES = 2 * 1024**3


class ExtractionError(Exception):
    """A page the worker could not extract in time or without dying."""


@dataclass(frozen=True)
class _Job:
    html: bytes
    url: str
    site: str | None
    hints: ExtractHints | None
    charset: str | None
    expect_article: bool


def _serve(conn: Connection, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            job: _Job | None = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            found = extract_page(
                job.html, job.url, job.site, hints=job.hints, charset=job.charset, expect_article=job.expect_article
            )
            conn.send(("ok", found))
        except Exception as exc:  # reported to the parent, which counts it with its URL
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _allow_children() -> None:
    """Let this process start the worker even when it runs inside a daemonic process.

    Celery's prefork pool marks its processes daemonic and an Airflow task forked from one
    inherits the mark; ``multiprocessing`` then refuses to start children. This extractor
    always waits for and ends its worker, so the mark is cleared here, where the child is
    made (the public setter refuses; the field is private).
    """
    process = multiprocessing.current_process()
    if process.daemon:
        process._config["daemon"] = False  # type: ignore[attr-defined]


class IsolatedExtractor:
    """``extract_page`` behind a process boundary and a per-page time limit."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self._context = multiprocessing.get_context("fork")
        self._process: Any = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        _allow_children()
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, self.memory_bytes), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        return parent

    def _stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        if self._process is not None:
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def extract(
        self,
        html: bytes,
        url: str,
        site: str | None = None,
        *,
        hints: ExtractHints | None = None,
        charset: str | None = None,
        expect_article: bool = False,
    ) -> Article | Rejection:
        """The article on the page or why it is not one; raises :class:`ExtractionError`
        when the worker gives no answer in time or dies."""
        conn = self._conn or self._start()
        try:
            conn.send(_Job(html, url, site, hints, charset, expect_article))
            if not conn.poll(self.timeout_s):
                self._stop()
                raise ExtractionError(f"no result within {self.timeout_s:g} s")
            status, value = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            code = self._process.exitcode if self._process is not None else None
            self._stop()
            raise ExtractionError(f"the extraction worker died (exit code {code})") from exc
        if status == "error":
            raise ExtractionError(str(value))
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
        self._stop()

    def __enter__(self) -> IsolatedExtractor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

"""Extraction in an isolated worker process, under a wall clock per document.

One pathological page (half a million nested ``<div>``s, a table of a million cells) must
never stall or crash a night's batch. :class:`IsolatedExtractor` runs
:func:`transforms.extract_page` in a child process with a memory cap; a page that takes
longer than its time limit has its worker killed and replaced, and is reported as failed
with the reason; a worker that dies is replaced the same way. :class:`ExtractorPool` keeps
several such workers busy at once (one per core by default, ``VNPORTALS_EXTRACT_WORKERS``), each
page still under its own wall clock, the results handed back in the pages' order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
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
        conn = self.submit(_Job(html, url, site, hints, charset, expect_article))
        return self.collect(timed_out=not conn.poll(self.timeout_s))

    def submit(self, job: _Job) -> Connection:
        """Hand the worker one page (starting it if need be); its connection, to wait on."""
        conn = self._conn or self._start()
        try:
            conn.send(job)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self._stop()  # died between pages: a fresh worker takes the page
            conn = self._start()
            conn.send(job)
        return conn

    def collect(self, *, timed_out: bool) -> Article | Rejection:
        """The answer to the page :meth:`submit` handed over; raises :class:`ExtractionError`
        when it ran out of time (``timed_out``: its worker is killed) or the worker died."""
        if timed_out:
            self._stop()
            raise ExtractionError(f"no result within {self.timeout_s:g} s")
        assert self._conn is not None
        try:
            status, value = self._conn.recv()
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


def extract_workers(environ: dict[str, str] | None = None) -> int:
    """How many extraction workers run side by side: ``VNPORTALS_EXTRACT_WORKERS``, else one
    per core this process may use."""
    env = os.environ if environ is None else environ
    raw = env.get("VNPORTALS_EXTRACT_WORKERS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise ValueError(f"VNPORTALS_EXTRACT_WORKERS={raw!r}: not a whole number") from None
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(cores))


@dataclass(frozen=True)
class Page:
    """One page to extract, as :meth:`IsolatedExtractor.extract` takes it."""

    html: bytes
    url: str
    site: str | None = None
    hints: ExtractHints | None = None
    charset: str | None = None
    expect_article: bool = False


class ExtractorPool:
    """Several :class:`IsolatedExtractor` workers kept busy at once, each page under its own
    wall clock; results come back in the order the pages were given."""

    def __init__(
        self, workers: int | None = None, timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES
    ) -> None:
        count = workers if workers is not None else extract_workers()
        self._workers = [IsolatedExtractor(timeout_s, memory_bytes) for _ in range(max(1, count))]
        self.timeout_s = timeout_s

    def extract_all(self, pages: Iterable[Page]) -> Iterator[Article | Rejection | ExtractionError]:
        """Each page's article, rejection, or the :class:`ExtractionError` that failed it."""
        todo = iter(enumerate(pages))
        idle = list(self._workers)
        # a busy worker's connection -> (the worker, its page's index, deadline on the monotonic clock)
        busy: dict[Connection, tuple[IsolatedExtractor, int, float]] = {}
        done: dict[int, Article | Rejection | ExtractionError] = {}
        given = 0
        while True:
            while idle and (item := next(todo, None)) is not None:
                index, page = item
                worker = idle.pop()
                job = _Job(page.html, page.url, page.site, page.hints, page.charset, page.expect_article)
                busy[worker.submit(job)] = (worker, index, time.monotonic() + self.timeout_s)
            if not busy:
                return
            ready = wait(list(busy), timeout=max(0.0, min(d for _, _, d in busy.values()) - time.monotonic()))
            now = time.monotonic()
            for conn, (worker, index, deadline) in list(busy.items()):
                if conn in ready or now >= deadline:
                    del busy[conn]
                    try:
                        done[index] = worker.collect(timed_out=conn not in ready)
                    except ExtractionError as exc:
                        done[index] = exc
                    idle.append(worker)
            while given in done:
                yield done.pop(given)
                given += 1

    def close(self) -> None:
        for worker in self._workers:
            worker.close()

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

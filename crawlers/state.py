"""What the crawler remembers between nightly runs, per portal, in SQLite.

``<data>/state/<site>/crawl.sqlite`` holds one row per URL the crawl has kept: when it was
first seen and last fetched, the hash of its body, and the validators the server gave
(ETag, Last-Modified) for conditional requests. WAL mode and a commit per page make it safe
against a killed run: at worst the last page is fetched again the next night.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kernel.layout import DataLayout

_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_fetched TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    versions INTEGER NOT NULL DEFAULT 1
)
"""


@dataclass(frozen=True)
class UrlRecord:
    """The crawl's memory of one URL."""

    url: str
    kind: str
    first_seen: datetime
    last_fetched: datetime
    content_hash: str
    etag: str | None
    last_modified: str | None
    versions: int


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class CrawlState:
    """The per-portal URL memory (a context manager; one writer per portal)."""

    def __init__(self, layout: DataLayout, site: str) -> None:
        self.path: Path = layout.crawl_state_path(site)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def get(self, url: str) -> UrlRecord | None:
        row = self._db.execute(
            "SELECT url, kind, first_seen, last_fetched, content_hash, etag, last_modified, versions "
            "FROM urls WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return None
        return UrlRecord(
            row[0],
            row[1],
            datetime.fromisoformat(row[2]),
            datetime.fromisoformat(row[3]),
            row[4],
            row[5],
            row[6],
            row[7],
        )

    def is_due(self, record: UrlRecord, recrawl_after_days: int | None, now: datetime | None = None) -> bool:
        """Whether a known URL should be fetched again under the portal's recrawl policy."""
        if recrawl_after_days is None:
            return False
        now = now or datetime.now(UTC)
        return now - record.last_fetched >= timedelta(days=recrawl_after_days)

    def record(self, url: str, kind: str, content_hash: str, etag: str | None, last_modified: str | None) -> str:
        """Remember a fetched page; returns ``"new"``, ``"changed"`` or ``"unchanged"``."""
        now = datetime.now(UTC).isoformat()
        known = self.get(url)
        if known is None:
            self._db.execute(
                "INSERT INTO urls VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                (url, kind, now, now, content_hash, etag, last_modified),
            )
            return "new"
        changed = known.content_hash != content_hash
        self._db.execute(
            "UPDATE urls SET last_fetched = ?, content_hash = ?, etag = ?, last_modified = ?, "
            "versions = versions + ? WHERE url = ?",
            (now, content_hash, etag, last_modified, int(changed), url),
        )
        return "changed" if changed else "unchanged"

    def touch(self, url: str) -> None:
        """A conditional request answered 304: the page is as it was."""
        self._db.execute("UPDATE urls SET last_fetched = ? WHERE url = ?", (datetime.now(UTC).isoformat(), url))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CrawlState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

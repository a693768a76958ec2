"""What the crawler remembers between nightly runs, per portal, in SQLite.

``<data>/state/<site>/crawl.sqlite`` holds one row per URL the crawl has kept (articles,
listing pages, feeds and sitemaps): when it was first seen and last fetched, the hash of
its body, the validators the server gave (ETag, Last-Modified) for conditional requests,
the value a sitemap ``lastmod`` or feed date last announced for it, and, for listings,
feeds and sitemaps, the links they held (so one answered 304 need not be parsed again).

Writes go into an open transaction that :meth:`CrawlState.commit` ends. The crawl commits
only after the raw archive holding those pages is on disk (see
:class:`crawlers.archive.RawArchive`), so a URL is never known without its page: a killed
crawl loses at most the uncommitted rows, whose pages are fetched again the next night.
WAL mode keeps readers of the file (a status command) out of the writer's way.
"""

from __future__ import annotations

import hashlib
import json
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
# Columns added after the first release; a state file without them gets them on open.
_ADDED_COLUMNS = {"announced": "TEXT", "links": "TEXT"}

# (link, what the page announced for it) as a listing, feed or sitemap held them.
Links = list[tuple[str, str | None]]


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
    # The last lastmod / feed date announced for this URL (see ``announced_value``).
    announced: str | None = None
    # For listings, feeds and sitemaps: the sitemap type ("urlset", "sitemapindex") or the
    # page kind, and the links the page held when it was last fetched whole.
    links_kind: str | None = None
    links: Links | None = None


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class CrawlState:
    """The per-portal URL memory (a context manager; one writer per portal)."""

    def __init__(self, layout: DataLayout, site: str) -> None:
        self.path: Path = layout.crawl_state_path(site)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; we BEGIN and COMMIT ourselves.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(urls)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE urls ADD COLUMN {column} {kind}")
        except sqlite3.Error:
            self._db.close()
            raise
        self.uncommitted = 0

    # -- reading ---------------------------------------------------------------------
    def get(self, url: str) -> UrlRecord | None:
        row = self._db.execute(
            "SELECT url, kind, first_seen, last_fetched, content_hash, etag, last_modified, versions, "
            "announced, links FROM urls WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return None
        links_kind, links = None, None
        if row[9]:
            stored = json.loads(row[9])
            links_kind = stored["kind"]
            links = [(str(link), announced) for link, announced in stored["links"]]
        return UrlRecord(
            row[0],
            row[1],
            datetime.fromisoformat(row[2]),
            datetime.fromisoformat(row[3]),
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            links_kind,
            links,
        )

    def is_due(self, record: UrlRecord, recrawl_after_days: int | None, now: datetime | None = None) -> bool:
        """Whether a known URL should be fetched again under the portal's recrawl policy."""
        if recrawl_after_days is None:
            return False
        now = now or datetime.now(UTC)
        return now - record.last_fetched >= timedelta(days=recrawl_after_days)

    # -- writing (inside the open transaction) ----------------------------------------
    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
        self._db.execute(sql, params)
        self.uncommitted += 1

    def record(
        self,
        url: str,
        kind: str,
        content_hash: str,
        etag: str | None,
        last_modified: str | None,
        *,
        announced: str | None = None,
        links_kind: str | None = None,
        links: Links | None = None,
    ) -> str:
        """Remember a fetched page; returns ``"new"``, ``"changed"`` or ``"unchanged"``. An
        ``announced`` of None keeps what was announced before."""
        now = _now()
        stored_links = None
        if links is not None:
            stored_links = json.dumps({"kind": links_kind, "links": links}, ensure_ascii=False)
        known = self.get(url)
        if known is None:
            self._write(
                "INSERT INTO urls (url, kind, first_seen, last_fetched, content_hash, etag, last_modified, versions, "
                "announced, links) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (url, kind, now, now, content_hash, etag, last_modified, announced, stored_links),
            )
            return "new"
        changed = known.content_hash != content_hash
        self._write(
            "UPDATE urls SET last_fetched = ?, content_hash = ?, etag = ?, last_modified = ?, "
            "versions = versions + ?, announced = COALESCE(?, announced), links = ? WHERE url = ?",
            (now, content_hash, etag, last_modified, int(changed), announced, stored_links, url),
        )
        return "changed" if changed else "unchanged"

    def touch(self, url: str, announced: str | None = None) -> None:
        """The page is as it was (a 304, or the same body): note when, and what was announced."""
        self._write(
            "UPDATE urls SET last_fetched = ?, announced = COALESCE(?, announced) WHERE url = ?",
            (_now(), announced, url),
        )

    def set_announced(self, url: str, announced: str) -> None:
        """What a sitemap or feed announces for a page this crawl has just fetched."""
        self._write("UPDATE urls SET announced = ? WHERE url = ?", (announced, url))

    def commit(self) -> None:
        """Make the writes since the last commit permanent (the caller has made the pages
        they describe durable first)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self.uncommitted = 0

    def close(self) -> None:
        """Close without committing: what was not committed was never safely archived."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.close()

    def __enter__(self) -> CrawlState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

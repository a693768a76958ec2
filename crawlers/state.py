"""What the crawler remembers between nightly runs, per portal, in SQLite.

``<data>/state/<site>/crawl.sqlite`` holds one row per URL the crawl has kept (articles,
listing pages, feeds and sitemaps): when it was first seen and last fetched, the hash of
its body, the validators the server gave (ETag, Last-Modified) for conditional requests,
the value a sitemap ``lastmod`` or feed date last announced for it, and, for listings,
feeds and sitemaps, the links they held (so one answered 304 need not be parsed again).

Writes are held in memory (reads see them) until they are committed in two steps:
:meth:`CrawlState.begin_commit` sets aside what was written so far, the caller makes the
raw archive holding those pages durable (``fsync``, in a thread, while the crawl goes on and
new writes gather), then :meth:`CrawlState.finish_commit` writes the set-aside rows in one
transaction. So a URL is never known without its page on disk: a killed crawl, or a machine
that loses power, loses at most rows whose pages are fetched again the next night. WAL mode
keeps readers of the file (a status command) out of the writer's way.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, replace
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


_COLUMNS = "url, kind, first_seen, last_fetched, content_hash, etag, last_modified, versions, announced, links"


class CrawlState:
    """The per-portal URL memory (a context manager; one writer per portal)."""

    def __init__(self, layout: DataLayout, site: str) -> None:
        self.path: Path = layout.crawl_state_path(site)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; finish_commit makes its own.
        # check_same_thread=False: the crawl opens and closes it in a worker thread and uses
        # it in the reactor's, never two at once.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
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
        self._pending: dict[str, UrlRecord] = {}  # written since the last begin_commit
        self._aside: dict[str, UrlRecord] = {}  # set aside, waiting for the archive's sync

    @property
    def uncommitted(self) -> int:
        return len(self._pending) + len(self._aside)

    # -- reading ---------------------------------------------------------------------
    def get(self, url: str) -> UrlRecord | None:
        held = self._pending.get(url) or self._aside.get(url)
        if held is not None:
            return held
        row = self._db.execute(f"SELECT {_COLUMNS} FROM urls WHERE url = ?", (url,)).fetchone()
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

    # -- writing (held until committed) ------------------------------------------------
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
        now = datetime.now(UTC)
        known = self.get(url)
        if known is None:
            self._pending[url] = UrlRecord(
                url, kind, now, now, content_hash, etag, last_modified, 1, announced, links_kind, links
            )
            return "new"
        changed = known.content_hash != content_hash
        self._pending[url] = replace(
            known,
            last_fetched=now,
            content_hash=content_hash,
            etag=etag,
            last_modified=last_modified,
            versions=known.versions + int(changed),
            announced=announced if announced is not None else known.announced,
            links_kind=links_kind,
            links=links,
        )
        return "changed" if changed else "unchanged"

    def touch(self, url: str, announced: str | None = None) -> None:
        """The page is as it was (a 304, or the same body): note when, and what was announced."""
        known = self.get(url)
        if known is not None:
            self._pending[url] = replace(
                known,
                last_fetched=datetime.now(UTC),
                announced=announced if announced is not None else known.announced,
            )

    def set_announced(self, url: str, announced: str) -> None:
        """What a sitemap or feed announces for a page this crawl has just fetched."""
        known = self.get(url)
        if known is not None:
            self._pending[url] = replace(known, announced=announced)

    # -- committing ------------------------------------------------------------------
    def begin_commit(self) -> bool:
        """Set aside what was written so far (False when there is nothing, or a commit is
        under way); the caller makes the archive durable, then calls :meth:`finish_commit`."""
        if self._aside or not self._pending:
            return False
        self._aside, self._pending = self._pending, {}
        return True

    def finish_commit(self) -> None:
        """Write the rows set aside by :meth:`begin_commit` in one transaction."""
        rows = [
            (
                r.url,
                r.kind,
                r.first_seen.isoformat(),
                r.last_fetched.isoformat(),
                r.content_hash,
                r.etag,
                r.last_modified,
                r.versions,
                r.announced,
                json.dumps({"kind": r.links_kind, "links": r.links}, ensure_ascii=False)
                if r.links is not None
                else None,
            )
            for r in self._aside.values()
        ]
        if rows:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO urls ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
        self._aside = {}

    def abandon_commit(self) -> None:
        """The archive could not be made durable: the set-aside rows wait for the next try."""
        self._pending = {**self._aside, **self._pending}
        self._aside = {}

    def commit(self) -> None:
        """Commit everything written (the caller has made the archive durable first)."""
        self._aside = {**self._aside, **self._pending}
        self._pending = {}
        self.finish_commit()

    def close(self) -> None:
        """Close without committing: what was not committed was never safely archived."""
        self._pending, self._aside = {}, {}
        self._db.close()

    def __enter__(self) -> CrawlState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The raw archive and the per-URL crawl log a crawl leaves behind, per portal.

Every page the spider keeps (listings, feeds, sitemaps and articles) becomes one WARC
response record in ``<data>/raw/<site>/<run_id>.warc.gz`` (format in :mod:`crawlers.warc`);
every URL the crawl touched, kept or not, becomes one JSON line in
``<data>/raw/<site>/<run_id>.crawl.jsonl`` (status, bytes, error). Extraction reads the WARC
later, so better rules can be re-run without fetching again.

:class:`ArchivePipeline` is the item pipeline: it hands every item to the portal it belongs
to (see :mod:`crawlers.portals`), which writes the page to its archive first and only then
tells its crawl state. Settings read: none (the fleet reads ``VNPORTALS_DATA_DIR`` and
``VNPORTALS_RUN_ID``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from crawlers.warc import KIND_FIELD, SITE_FIELD, WarcFile
from kernel.layout import DataLayout

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawlers.state import Links

__all__ = ["KIND_FIELD", "SITE_FIELD", "ArchivePipeline", "CrawlEvent", "PageItem", "RawArchive", "Settled"]

# Hop-by-hop or transport headers that no longer describe the body Scrapy hands us
# (it has already removed chunking and content encoding).
_TRANSPORT_HEADERS = {"transfer-encoding", "content-encoding", "content-length", "connection"}


@dataclass
class PageItem:
    """A fetched page the crawl keeps."""

    url: str
    kind: str  # "article" | "listing" | "feed" | "sitemap"
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: str
    referer: str | None = None
    # For articles: "new" or "changed" against the crawl state.
    change: str | None = None
    content_hash: str | None = None
    site: str | None = None
    # What a sitemap or feed announced for this article (see crawlers.spider.announced_value).
    announced: str | None = None
    # For listings, feeds and sitemaps: the links the page holds, remembered for a 304.
    links_kind: str | None = None
    links: Links | None = None


@dataclass
class CrawlEvent:
    """One line of the crawl log."""

    url: str
    kind: str
    status: int | None
    bytes: int
    outcome: str  # "kept", "known", "unchanged", "skipped", "error", "robots"
    error: str | None = None
    referer: str | None = None
    change: str | None = None  # "new" or "changed" for a kept article
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    site: str | None = None  # the portal it belongs to; not written to the log


@dataclass(frozen=True)
class Settled:
    """The last output of every callback and errback: its request is done with."""

    site: str
    ticket: int


class RawArchive:
    """Appends WARC records and crawl-log lines for one portal's crawl run."""

    def __init__(self, layout: DataLayout, site: str, run_id: str) -> None:
        self.site = site
        self.stats_path = layout.crawl_stats_path(site, run_id)
        self.warc_path = layout.warc_path(site, run_id)
        self.log_path = layout.crawl_log_path(site, run_id)
        self._warc = WarcFile(self.warc_path)
        # Line-buffered: a killed crawl leaves whole lines, and the parent can follow them.
        self._log_fh: IO[str] = open(self.log_path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed in close())
        self.pages = 0
        self.bytes = 0
        self.lines = 0

    def write_page(self, page: PageItem) -> None:
        headers = [(k, v) for k, v in page.headers if k.lower() not in _TRANSPORT_HEADERS]
        headers.append(("Content-Length", str(len(page.body))))
        self._warc.write_response(
            page.url,
            page.status,
            headers,
            page.body,
            page.fetched_at,
            {SITE_FIELD: self.site, KIND_FIELD: page.kind},
        )
        self.pages += 1
        self.bytes += len(page.body)

    def sync(self) -> None:
        """The records written so far are on disk (before the crawl state may say so)."""
        self._warc.sync()

    def log(self, event: CrawlEvent) -> None:
        line = asdict(event)
        del line["site"]
        self._log_fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.lines += 1

    def close(self) -> None:
        try:
            self._warc.close()
        finally:
            self._log_fh.close()


class ArchivePipeline:
    """Item pipeline: every page, crawl-log event and settled request goes to its portal."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        fleet = getattr(self.crawler.spider, "fleet", None)
        if fleet is not None:
            fleet.take(item)
        return item

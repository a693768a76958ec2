"""The raw archive and the per-URL crawl log a crawl leaves behind.

Every page the spider keeps (listings and articles) becomes one WARC response record in
``<data>/raw/<site>/<run_id>.warc.gz``; every URL the crawl touched, kept or not, becomes
one JSON line in ``<data>/raw/<site>/<run_id>.crawl.jsonl`` (status, bytes, error).
Extraction reads the WARC later, so better rules can be re-run without fetching again.

Settings read: ``VNPORTALS_DATA_DIR``, ``VNPORTALS_RUN_ID`` (both required).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy import Request, signals
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from kernel.layout import DataLayout, write_atomic

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

# Custom WARC header fields (WARC 1.1 allows extension fields).
SITE_FIELD = "VNPortals-Site"
KIND_FIELD = "VNPortals-Page-Kind"

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
    # For articles: "new" or "changed" against the crawl state, and the body's hash.
    change: str | None = None
    content_hash: str | None = None


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


class RawArchive:
    """Appends WARC records and crawl-log lines for one portal's crawl run."""

    def __init__(self, layout: DataLayout, site: str, run_id: str) -> None:
        self.site = site
        self.stats_path = layout.crawl_stats_path(site, run_id)
        self.warc_path = layout.warc_path(site, run_id)
        self.log_path = layout.crawl_log_path(site, run_id)
        self.warc_path.parent.mkdir(parents=True, exist_ok=True)
        self._warc_fh: IO[bytes] = open(self.warc_path, "wb")  # noqa: SIM115 (closed in close())
        self._log_fh: IO[str] = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self._writer = WARCWriter(self._warc_fh, gzip=True)
        self.pages = 0
        self.bytes = 0

    def write_page(self, page: PageItem) -> None:
        headers = [(k, v) for k, v in page.headers if k.lower() not in _TRANSPORT_HEADERS]
        headers.append(("Content-Length", str(len(page.body))))
        http_headers = StatusAndHeaders(f"{page.status} OK", headers, protocol="HTTP/1.1")
        record = self._writer.create_warc_record(
            page.url,
            "response",
            payload=BytesIO(page.body),
            length=len(page.body),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Date": page.fetched_at,
                "WARC-Payload-Digest": "sha1:" + hashlib.sha1(page.body).hexdigest(),
                SITE_FIELD: self.site,
                KIND_FIELD: page.kind,
            },
        )
        self._writer.write_record(record)
        # Out of Python's buffer before the crawl state calls the page known, so a killed
        # crawl never remembers a page its archive lost.
        self._warc_fh.flush()
        self.pages += 1
        self.bytes += len(page.body)

    def log(self, event: CrawlEvent) -> None:
        self._log_fh.write(json.dumps(asdict(event), ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._warc_fh.flush()
        os.fsync(self._warc_fh.fileno())
        self._warc_fh.close()
        self._log_fh.close()


class ArchivePipeline:
    """Item pipeline: pages go to the WARC, events to the crawl log."""

    def __init__(self, crawler: Crawler, layout: DataLayout, run_id: str) -> None:
        self.crawler = crawler
        self.layout = layout
        self.run_id = run_id
        self.archive: RawArchive | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        data_dir = crawler.settings.get("VNPORTALS_DATA_DIR")
        run_id = crawler.settings.get("VNPORTALS_RUN_ID")
        if not data_dir or not run_id:
            raise ValueError("VNPORTALS_DATA_DIR and VNPORTALS_RUN_ID must be set")
        pipeline = cls(crawler, DataLayout(Path(data_dir)), run_id)
        crawler.signals.connect(pipeline.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.spider_error, signal=signals.spider_error)
        return pipeline

    def request_dropped(self, request: Request) -> None:
        """Requests the scheduler drops without an errback: duplicates (not worth a line)
        and off-portal ones, such as a redirect to another host (logged)."""
        site = getattr(self.crawler.spider, "site", None)
        if self.archive is None or site is None:
            return
        if not site.owns(request.url):
            reason = "off the portal's domains"
        elif request.meta.get("redirect_urls"):
            hops = " -> ".join([*request.meta["redirect_urls"], request.url])
            reason = f"redirect loop: {hops}"
        else:
            return  # an ordinary duplicate
        self.archive.log(
            CrawlEvent(
                request.url,
                str(request.meta.get("page_kind", "")),
                None,
                0,
                "error",
                reason,
                request.meta.get("referer_url"),
            )
        )

    def open_spider(self) -> None:
        site = self.crawler.spider.site  # type: ignore[union-attr]
        self.archive = RawArchive(self.layout, site.slug, self.run_id)

    def close_spider(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def spider_error(self, failure: Any, response: Any) -> None:
        """A callback that raised: the page is logged with the error, the crawl goes on."""
        if self.archive is None:
            return
        error = f"parse error: {type(failure.value).__name__}: {failure.getErrorMessage()}"
        self.archive.log(
            CrawlEvent(
                response.url,
                str(response.meta.get("page_kind", "")),
                response.status,
                len(response.body),
                "error",
                error,
            )
        )

    def spider_closed(self, reason: str) -> None:
        self._write_stats(reason)

    def _write_stats(self, reason: str) -> None:
        """The crawl's own counters the crawl log cannot show (retries, why it finished,
        memory), beside the log, for the crawl report."""
        assert self.archive is not None
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        keep = {
            k: v
            for k, v in stats.items()
            if k.startswith(
                ("retry/", "downloader/response_status_count/", "robotstxt/", "offsite/", "memusage/max", "vnportals/")
            )
            or k in ("finish_reason", "elapsed_time_seconds", "downloader/response_bytes")
        }
        keep["finish_reason"] = reason
        write_atomic(self.archive.stats_path, json.dumps(keep, default=str, indent=1))

    def process_item(self, item: Any) -> Any:
        assert self.archive is not None
        if isinstance(item, PageItem):
            self.archive.write_page(item)
            state = getattr(self.crawler.spider, "state", None)
            if state is not None and item.content_hash is not None:
                headers = {k.lower(): v for k, v in item.headers}
                state.record(item.url, item.kind, item.content_hash, headers.get("etag"), headers.get("last-modified"))
            self.archive.log(
                CrawlEvent(
                    item.url,
                    item.kind,
                    item.status,
                    len(item.body),
                    "kept",
                    referer=item.referer,
                    change=item.change,
                )
            )
        elif isinstance(item, CrawlEvent):
            self.archive.log(item)
        return item

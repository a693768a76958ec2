"""The one generic, config-driven spider that crawls any registered portal.

It starts from the portal's listing pages, feeds and sitemaps (its site config), follows
listing and pagination links up to ``max_listing_pages`` hops, fetches every page whose URL
matches the portal's article patterns, and stays on the portal's domains (Scrapy's
OffsiteMiddleware, from ``allowed_domains``). robots.txt is obeyed by Scrapy's
RobotsTxtMiddleware. Every page it keeps is yielded as a :class:`PageItem` for the raw
archive; every failure as a :class:`CrawlEvent` for the crawl log, so nothing is lost
without a trace.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import lxml.etree
import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from crawlers.archive import CrawlEvent, PageItem
from crawlers.safety import refusal
from crawlers.state import CrawlState, body_hash
from kernel.layout import DataLayout
from kernel.registry import Site
from kernel.timestamps import parse_iso_date

# Bound for gunzipped sitemaps; a bigger one is a bomb, not a sitemap.
SITEMAP_MAX_BYTES = 50 * 1024 * 1024


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _safe_xml_parser() -> lxml.etree.XMLParser:
    """An XML parser that never resolves entities nor touches the network."""
    return lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True, load_dtd=False)


_DOCTYPE_RE = re.compile(rb"<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.DOTALL | re.IGNORECASE)


def without_doctype(body: bytes) -> bytes:
    """Feeds and sitemaps need no DTD: dropping it leaves no entity to expand or fetch."""
    return _DOCTYPE_RE.sub(b"", body[:65536], count=1) + body[65536:]


def _when(text: str | None) -> datetime | None:
    """A feed or sitemap date: W3C/ISO 8601 or RFC 822; None when absent or unreadable."""
    if not text or not text.strip():
        return None
    parsed = parse_iso_date(text.strip())
    if parsed is not None:
        return parsed
    try:
        value = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def feed_items(body: bytes) -> list[tuple[str, datetime | None]]:
    """(link, last update) of each item of an RSS 2.0, RSS 1.0 or Atom feed, in feed order;
    the update is the item's ``updated``, ``dc:date`` or ``pubDate``, when given."""
    body = without_doctype(body)
    try:
        root = lxml.etree.fromstring(body, parser=_safe_xml_parser())
    except lxml.etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    items: list[tuple[str, datetime | None]] = []
    for el in root.iter():
        if not isinstance(el.tag, str) or lxml.etree.QName(el).localname not in ("item", "entry"):
            continue
        link, stamps = None, {}
        for child in el:
            if not isinstance(child.tag, str):
                continue
            name = lxml.etree.QName(child).localname
            if name == "link":
                href = child.get("href")
                if href and child.get("rel", "alternate") == "alternate":
                    link = href.strip()
                elif not href and child.text:
                    link = child.text.strip()
            elif name in ("updated", "date", "pubDate", "published", "modified"):
                stamps[name] = child.text
        if link:
            stamp = next(
                (stamps[k] for k in ("updated", "modified", "date", "pubDate", "published") if k in stamps), None
            )
            items.append((link, _when(stamp)))
    return items


def feed_links(body: bytes) -> list[str]:
    """Article links of a feed, in feed order."""
    return [link for link, _ in feed_items(body)]


def sitemap_items(body: bytes) -> tuple[str, list[tuple[str, datetime | None]]]:
    """(type, [(location, lastmod)]) of a sitemap or sitemap index; gzip bodies are inflated
    with a bound."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body, max_size=SITEMAP_MAX_BYTES)
    body = without_doctype(body)
    try:
        sitemap = Sitemap(body)
    except (lxml.etree.XMLSyntaxError, StopIteration):
        return "", []
    return sitemap.type, [(e["loc"], _when(e.get("lastmod"))) for e in sitemap if e.get("loc")]


def sitemap_entries(body: bytes) -> tuple[str, list[str]]:
    """(type, locations) of a sitemap or sitemap index."""
    kind, items = sitemap_items(body)
    return kind, [loc for loc, _ in items]


# Magic numbers of files portals serve as "text/html" by mistake (attachments, scans).
_BINARY_MAGIC = {
    b"%PDF": "a PDF",
    b"PK\x03\x04": "a zip or Office file",
    b"\xd0\xcf\x11\xe0": "an old Office file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
}


def not_html(response: Response) -> str | None:
    """Why a response to an article request is not an HTML page to keep, or None."""
    if not isinstance(response, TextResponse):
        return "not a text response"
    body = response.body.lstrip()
    if not body:
        return "empty body"
    ctype = (response.headers.get(b"Content-Type") or b"?").decode("latin-1")
    for magic, what in _BINARY_MAGIC.items():
        if body.startswith(magic):
            return f"{what} served as {ctype}"
    return None


class PortalSpider(scrapy.Spider):
    """Crawls one portal as its :class:`~kernel.registry.Site` describes it."""

    name = "portal"

    def __init__(self, site: Site, state: CrawlState | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.site = site
        self.allowed_domains = list(site.domains)
        self.state = state
        self._reported_known: set[str] = set()
        self._requested: set[str] = set()  # article URLs this run has asked for already

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> PortalSpider:
        data_dir = crawler.settings.get("VNPORTALS_DATA_DIR")
        site: Site = kwargs["site"]
        if data_dir and "state" not in kwargs:
            kwargs["state"] = CrawlState(DataLayout(Path(data_dir)), site.slug)
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._close_state, signal=signals.spider_closed)
        return spider

    def _close_state(self) -> None:
        if self.state is not None:
            self.state.close()

    # -- start -----------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for url in self.site.start_urls:
            yield self._listing_request(url, depth=1, referer=None)
        for url in self.site.feeds:
            yield self._request(url, "feed", self.parse_feed, referer=None)
        for url in self.site.sitemaps:
            yield self._request(url, "sitemap", self.parse_sitemap, referer=None)

    def _request(self, url: str, kind: str, callback: Any, referer: str | None, **meta: Any) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            meta={"page_kind": kind, "referer_url": referer, **meta},
        )

    def _listing_request(self, url: str, depth: int, referer: str | None) -> scrapy.Request:
        return self._request(url, "listing", self.parse_listing, referer, listing_depth=depth)

    def _article_request(
        self, url: str, referer: str | None, updated: datetime | None = None
    ) -> scrapy.Request | CrawlEvent | None:
        """A request for an article, conditional when it is known and due again (its feed or
        sitemap says it was updated since we fetched it, or the recrawl policy says so); for
        a known article that is not due, a "known" event the first time (and None after)."""
        if url in self._requested:
            return None  # Scrapy's duplicate filter would drop it; it is not "known" either
        known = self.state.get(url) if self.state is not None else None
        if known is None:
            self._requested.add(url)
            return self._request(url, "article", self.parse_article, referer)
        revised = updated is not None and updated > known.last_fetched
        if not revised and not self.state.is_due(known, self.site.crawl.recrawl_after_days):  # type: ignore[union-attr]
            if url in self._reported_known:
                return None
            self._reported_known.add(url)
            return CrawlEvent(url, "article", None, 0, "known", referer=referer)
        self._requested.add(url)
        request = self._request(url, "article", self.parse_article, referer, handle_httpstatus_list=[304])
        if known.etag:
            request.headers[b"If-None-Match"] = known.etag.encode("latin-1")
        if known.last_modified:
            request.headers[b"If-Modified-Since"] = known.last_modified.encode("latin-1")
        return request

    def _is_new_article(self, url: str) -> bool:
        return self.state is None or self.state.get(url) is None

    # -- callbacks -------------------------------------------------------------------
    def parse_listing(self, response: Response) -> Iterator[Any]:
        yield self._page(response)
        yield from self._follow_links(response)

    def parse_article(self, response: Response) -> Iterator[Any]:
        if response.status == 304:
            if self.state is not None:
                self.state.touch(response.url)
            yield self._event(response, "unchanged", None)
            return
        refused = not_html(response)
        if refused:
            yield self._event(response, "skipped", refused)
            return
        digest = body_hash(response.body)
        known = self.state.get(response.url) if self.state is not None else None
        if known is not None and known.content_hash == digest:
            if self.state is not None:
                self.state.touch(response.url)
            yield self._event(response, "unchanged", None)
        else:
            page = self._page(response)
            page.content_hash = digest
            page.change = "new" if known is None else "changed"
            yield page
        yield from self._follow_links(response)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        yield self._page(response)
        for url, updated in feed_items(response.body):
            yield from self._route(response.urljoin(url), response, depth=1, updated=updated)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        try:
            kind, items = sitemap_items(response.body)
        except ValueError as exc:  # a gzip bomb, bounded by SITEMAP_MAX_BYTES
            yield self._event(response, "error", f"sitemap refused: {exc}")
            return
        yield self._page(response)
        for loc, lastmod in items:
            url = response.urljoin(loc)
            if kind == "sitemapindex":
                if self.site.owns(url):
                    yield self._request(url, "sitemap", self.parse_sitemap, response.url)
            else:
                yield from self._route(url, response, depth=1, updated=lastmod)

    # -- links -----------------------------------------------------------------------
    def _follow_links(self, response: Response) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            return
        depth = int(response.meta.get("listing_depth", 1))
        urls: list[str] = []
        for href in response.css("a::attr(href)").getall():
            href = href.strip()
            if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
                continue
            url = response.urljoin(href).split("#", 1)[0]
            if url not in urls:
                urls.append(url)
        # A listing page that brings no article we have not seen ends its pagination: the
        # pages after it are older still (a backfill sets stop_when_nothing_new = false).
        follow_listings = (
            not self.site.crawl.stop_when_nothing_new
            or response.meta.get("page_kind") != "listing"
            or any(self.site.is_article_url(u) and self._is_new_article(u) for u in urls if self.site.owns(u))
        )
        for url in urls:
            yield from self._route(url, response, depth=depth + 1, follow_listings=follow_listings)

    def _route(
        self,
        url: str,
        response: Response,
        depth: int,
        follow_listings: bool = True,
        updated: datetime | None = None,
    ) -> Iterator[Any]:
        if not url.startswith(("http://", "https://")) or not self.site.owns(url):
            return
        if self.site.is_article_url(url):
            request = self._article_request(url, response.url, updated)
            if request is not None:
                yield request
        elif follow_listings and self.site.is_listing_url(url) and depth <= self.site.max_listing_pages:
            yield self._listing_request(url, depth, response.url)

    # -- records ---------------------------------------------------------------------
    def _page(self, response: Response) -> PageItem:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, values in response.headers.items() for v in values]
        return PageItem(
            url=response.url,
            kind=str(response.meta.get("page_kind", "listing")),
            status=response.status,
            headers=headers,
            body=response.body,
            fetched_at=_now(),
            referer=response.meta.get("referer_url"),
        )

    def _event(self, response: Response, outcome: str, error: str | None) -> CrawlEvent:
        return CrawlEvent(
            url=response.url,
            kind=str(response.meta.get("page_kind", "")),
            status=response.status,
            bytes=len(response.body),
            outcome=outcome,
            error=error,
            referer=response.meta.get("referer_url"),
        )

    def on_error(self, failure: Failure) -> Iterator[CrawlEvent]:
        request = failure.request  # type: ignore[attr-defined]
        kind = str(request.meta.get("page_kind", ""))
        referer = request.meta.get("referer_url")
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            yield CrawlEvent(
                request.url,
                kind,
                response.status,
                len(response.body),
                "error",
                f"HTTP {response.status}",
                referer,
            )
        elif failure.check(IgnoreRequest) and "robots.txt" in str(failure.value):
            yield CrawlEvent(request.url, kind, None, 0, "robots", "forbidden by robots.txt", referer)
        else:
            error = refusal(request.url) or f"{type(failure.value).__name__}: {failure.getErrorMessage()}"
            self.logger.warning("%s failed: %s", request.url, error)
            yield CrawlEvent(request.url, kind, None, 0, "error", error, referer)

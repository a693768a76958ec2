"""The one generic, config-driven spider that crawls any registered portal, many at once.

For each portal (see :mod:`crawlers.portals` for how many run at once and when one is over)
it starts from the portal's listing pages, feeds and sitemaps (its site config), follows
listing and pagination links up to ``max_listing_pages`` hops, fetches every page whose URL
matches the portal's article patterns, and stays on the portal's domains (checked per
portal: Scrapy's OffsiteMiddleware knows one set of domains per spider). robots.txt is
obeyed by Scrapy's RobotsTxtMiddleware. Every page it keeps is yielded as a
:class:`PageItem` for the raw archive; every failure as a :class:`CrawlEvent` for the crawl
log, so nothing is lost without a trace.

Incremental: an article is fetched when it is new, when its recrawl is due, or when a
sitemap ``lastmod`` or feed date announces a value for it other than the one announced when
we last fetched it (compared with what the portal said before, never with our clock, so a
portal whose clock is off still gets its revisions fetched; only the first announcement for
a page known without one is compared with our fetch time, and then becomes the value later
ones are compared with); listing pages, feeds and
sitemaps are fetched conditionally too, and one that has not changed is not parsed again:
the links it held last time are followed as if it had been.

Per portal, from its site config: ``download_timeout`` (request meta), ``user_agent`` (the
request's header) and its politeness (request meta ``vn_politeness``, see
:mod:`crawlers.politeness`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.etree
import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from crawlers.archive import CrawlEvent, PageItem, Settled
from crawlers.politeness import POLITENESS_META, PolitenessExtension
from crawlers.portals import TICKET_META, Fleet, PortalCrawl, PortalStopped
from crawlers.queues import PORTAL_META
from crawlers.safety import refusal
from crawlers.state import Links, UrlRecord, body_hash
from kernel.registry import Site
from kernel.timestamps import parse_iso_date

# Bound for gunzipped sitemaps; a bigger one is a bomb, not a sitemap.
SITEMAP_MAX_BYTES = 50 * 1024 * 1024
# Scrapy's UrlLengthMiddleware drops longer URLs without a trace; we log them (and turn it off).
URL_MAX_LENGTH = 2083


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


def announced_value(text: str | None) -> str | None:
    """What a sitemap ``lastmod`` or feed date announces, in a form to compare with what the
    same portal announced last time: the instant in UTC when it reads as a date (one
    without an offset is Vietnam time), else the text itself; None when absent."""
    if not text or not text.strip():
        return None
    when = _when(text)
    if when is not None:
        return when.astimezone(UTC).isoformat(timespec="seconds")
    return "text:" + " ".join(text.split())[:200]


def feed_items(body: bytes) -> list[tuple[str, str | None]]:
    """(link, last update) of each item of an RSS 2.0, RSS 1.0 or Atom feed, in feed order;
    the update is the item's ``updated``, ``dc:date`` or ``pubDate`` as written, when given."""
    body = without_doctype(body)
    try:
        root = lxml.etree.fromstring(body, parser=_safe_xml_parser())
    except lxml.etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    items: list[tuple[str, str | None]] = []
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
            items.append((link, stamp))
    return items


def feed_links(body: bytes) -> list[str]:
    """Article links of a feed, in feed order."""
    return [link for link, _ in feed_items(body)]


def sitemap_items(body: bytes) -> tuple[str, list[tuple[str, str | None]]]:
    """(type, [(location, lastmod as written)]) of a sitemap or sitemap index; gzip bodies
    are inflated with a bound."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body, max_size=SITEMAP_MAX_BYTES)
    body = without_doctype(body)
    try:
        sitemap = Sitemap(body)
    except (lxml.etree.XMLSyntaxError, StopIteration):
        return "", []
    return sitemap.type, [(e["loc"], e.get("lastmod")) for e in sitemap if e.get("loc")]


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
    """Crawls the portals it is given, each as its :class:`~kernel.registry.Site` describes it."""

    name = "portal"
    fleet: Fleet

    def __init__(self, sites: list[Site] | None = None, site: Site | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sites = list(sites or ([site] if site is not None else []))
        self._politeness: PolitenessExtension | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> PortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.fleet = Fleet(crawler, spider.sites)
        return spider

    # -- start -----------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        async for portal in self.fleet.portals():
            try:
                self._open(portal)
                requests: list[scrapy.Request] = [
                    *(self._listing_request(portal, url, depth=1, referer=None) for url in portal.site.start_urls),
                    *(self._request(portal, url, "feed", referer=None) for url in portal.site.feeds),
                    *(self._request(portal, url, "sitemap", referer=None) for url in portal.site.sitemaps),
                ]
            except Exception as exc:  # this portal cannot start; the next ones can
                self.logger.error("%s: cannot start: %s", portal.slug, exc, exc_info=True)
                portal.opened = True
                portal.fail(f"cannot start its crawl: {type(exc).__name__}: {exc}")
                continue
            for request in requests:
                request.meta[TICKET_META] = self.fleet.ticket(portal)
            for request in requests:
                yield request
            portal.opened = True
            self.fleet.maybe_finish(portal)

    def _open(self, portal: PortalCrawl) -> None:
        """The portal's politeness joins that of the hosts its registry entry names."""
        if self._politeness is None:
            assert self.crawler.extensions is not None
            found = [m for m in self.crawler.extensions.middlewares if isinstance(m, PolitenessExtension)]
            self._politeness = found[0] if found else PolitenessExtension(self.crawler)
        crawl = portal.site.crawl
        politeness = self._politeness.politeness_of(
            crawl.download_delay, crawl.concurrent_requests, crawl.autothrottle_max_delay
        )
        portal.politeness = politeness
        for host in trusted_hosts(portal.site):
            self._politeness.register(host, politeness)

    def _request(self, portal: PortalCrawl, url: str, kind: str, referer: str | None, **meta: Any) -> scrapy.Request:
        site = portal.site
        request = scrapy.Request(
            url,
            callback=self.on_response,
            errback=self.on_failure,
            meta={
                PORTAL_META: portal.slug,
                "page_kind": kind,
                "referer_url": referer,
                POLITENESS_META: portal.politeness,
                **meta,
            },
        )
        if site.crawl.download_timeout is not None:
            request.meta["download_timeout"] = site.crawl.download_timeout
        if site.crawl.user_agent is not None:
            request.headers[b"User-Agent"] = site.crawl.user_agent.encode("latin-1", "replace")
        if kind != "article":
            # Listings, feeds and sitemaps are fetched conditionally once we hold their links.
            known = portal.state.get(url) if portal.state is not None else None
            if known is not None and known.links is not None:
                self._conditional(request, known)
        return request

    @staticmethod
    def _conditional(request: scrapy.Request, known: UrlRecord) -> None:
        request.meta["handle_httpstatus_list"] = [304]
        if known.etag:
            request.headers[b"If-None-Match"] = known.etag.encode("latin-1")
        if known.last_modified:
            request.headers[b"If-Modified-Since"] = known.last_modified.encode("latin-1")

    def _listing_request(self, portal: PortalCrawl, url: str, depth: int, referer: str | None) -> scrapy.Request:
        return self._request(portal, url, "listing", referer, listing_depth=depth)

    def _article_request(
        self, portal: PortalCrawl, url: str, referer: str | None, announced: str | None = None
    ) -> scrapy.Request | CrawlEvent | None:
        """A request for an article: unconditional when it is new; conditional when it is
        known and due again (its sitemap or feed now announces something else than when we
        fetched it, or the recrawl policy says so). For a known article that is not due, a
        "known" event the first time (and None after)."""
        state = portal.state
        assert state is not None
        if url in portal.requested:
            # Asked for already (Scrapy's duplicate filter would drop it; it is not "known"
            # either). An announcement seen now describes the page this run fetches.
            if announced is not None:
                if url in portal.fetched:
                    state.set_announced(url, announced)
                else:
                    portal.pending_announced[url] = announced
            return None
        known = state.get(url)
        if known is None:
            portal.requested.add(url)
            return self._request(portal, url, "article", referer, announced=announced)
        if announced is not None and known.announced is None:
            # Nothing announced before (the sitemap is new, or the page was first found in a
            # listing): only a date after our fetch says the page changed since; else this
            # announcement becomes what later ones are compared with.
            revised = _after(announced, known.last_fetched)
            if not revised:
                state.set_announced(url, announced)
        else:
            revised = announced is not None and announced != known.announced
        if not revised and not state.is_due(known, portal.site.crawl.recrawl_after_days):
            if url in portal.reported_known:
                return None
            portal.reported_known.add(url)
            return CrawlEvent(url, "article", None, 0, "known", referer=referer)
        portal.requested.add(url)
        request = self._request(portal, url, "article", referer, announced=announced)
        self._conditional(request, known)
        return request

    # -- callbacks -------------------------------------------------------------------
    def on_response(self, response: Response) -> Iterator[Any]:
        """Every response comes here: the page's handler runs under a guard, and the request
        is settled after its outputs."""
        portal = self.fleet.portal_of(response.request)  # type: ignore[arg-type]
        if portal is None:
            return  # the portal's crawl ended while this was in flight
        kind = str(response.meta.get("page_kind", "listing"))
        handler = {"article": self.parse_article, "feed": self.parse_feed, "sitemap": self.parse_sitemap}.get(
            kind, self.parse_listing
        )
        try:
            yield from self._own(portal, handler(response))
        except Exception as exc:
            self.logger.error("%s: parse error", response.url, exc_info=True)
            error = f"parse error: {type(exc).__name__}: {exc}"
            yield from self._own(
                portal, [CrawlEvent(response.url, kind, response.status, len(response.body), "error", error)]
            )
        yield Settled(portal.slug, int(response.meta.get(TICKET_META, 0)))

    def on_failure(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        portal = self.fleet.portal_of(request)
        if portal is None:
            return
        if failure.check(PortalStopped):
            portal.budget_dropped += 1
        else:
            yield from self._own(portal, self.on_error(failure))
        yield Settled(portal.slug, int(request.meta.get(TICKET_META, 0)))

    def _own(self, portal: PortalCrawl, outputs: Any) -> Iterator[Any]:
        """Mark the outputs as the portal's: requests get a live ticket, items count as on
        their way to the archive."""
        for output in outputs:
            if isinstance(output, scrapy.Request):
                if TICKET_META not in output.meta:
                    output.meta[TICKET_META] = self.fleet.ticket(portal)
            elif isinstance(output, (PageItem, CrawlEvent)):
                output.site = portal.slug
                portal.items_pending += 1
            yield output

    def _portal(self, response: Response) -> PortalCrawl:
        portal = self.fleet.portal_of(response.request)  # type: ignore[arg-type]
        assert portal is not None and portal.state is not None
        return portal

    def _unchanged(self, portal: PortalCrawl, response: Response) -> UrlRecord | None:
        """The state's record of a listing, feed or sitemap that is as it was (a 304, or the
        same body), with the links it held; None when the page must be read."""
        assert portal.state is not None
        known = portal.state.get(response.url)
        if known is None or known.links is None:
            return None
        if response.status == 304 or known.content_hash == body_hash(response.body):
            portal.state.touch(response.url)
            return known
        return None

    def _refetch(self, portal: PortalCrawl, response: Response) -> Iterator[Any]:
        """A 304 we cannot use (nothing remembered): ask once more, unconditionally."""
        if response.meta.get("unconditional"):
            yield self._event(response, "error", "answered 304 to an unconditional request")
            return
        meta = {k: v for k, v in response.meta.items() if k in ("listing_depth",)}
        request = self._request(
            portal, response.url, str(response.meta.get("page_kind")), response.meta.get("referer_url"), **meta
        )
        for header in (b"If-None-Match", b"If-Modified-Since"):
            request.headers.pop(header, None)
        request.meta.pop("handle_httpstatus_list", None)
        request.meta["unconditional"] = True
        request.dont_filter = True
        yield request

    def parse_listing(self, response: Response) -> Iterator[Any]:
        portal = self._portal(response)
        known = self._unchanged(portal, response)
        if known is not None:
            yield self._event(response, "unchanged", None)
            yield from self._follow(portal, response, [url for url, _ in known.links or []])
            return
        if response.status == 304:
            yield from self._refetch(portal, response)
            return
        urls = self._links(response)
        page = self._page(response)
        page.content_hash = body_hash(response.body)
        page.links_kind, page.links = "listing", [(url, None) for url in urls]
        yield page
        yield from self._follow(portal, response, urls)

    def parse_article(self, response: Response) -> Iterator[Any]:
        portal = self._portal(response)
        assert portal.state is not None
        announced = response.meta.get("announced") or portal.pending_announced.pop(response.url, None)
        if response.status == 304:
            portal.state.touch(response.url, announced)
            portal.fetched.add(response.url)
            yield self._event(response, "unchanged", None)
            return
        refused = not_html(response)
        if refused:
            yield self._event(response, "skipped", refused)
            return
        digest = body_hash(response.body)
        known = portal.state.get(response.url)
        if known is not None and known.content_hash == digest:
            portal.state.touch(response.url, announced)
            portal.fetched.add(response.url)
            yield self._event(response, "unchanged", None)
        else:
            page = self._page(response)
            page.content_hash = digest
            page.change = "new" if known is None else "changed"
            page.announced = announced
            yield page
        yield from self._follow(portal, response, self._links(response))

    def parse_feed(self, response: Response) -> Iterator[Any]:
        portal = self._portal(response)
        known = self._unchanged(portal, response)
        if known is not None:
            yield self._event(response, "unchanged", None)
            items: Links = known.links or []
        elif response.status == 304:
            yield from self._refetch(portal, response)
            return
        else:
            items = [(response.urljoin(url), announced_value(stamp)) for url, stamp in feed_items(response.body)]
            page = self._page(response)
            page.content_hash = body_hash(response.body)
            page.links_kind, page.links = "feed", items
            yield page
        for url, announced in items:
            yield from self._route(portal, url, response, depth=1, announced=announced)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        portal = self._portal(response)
        known = self._unchanged(portal, response)
        if known is not None:
            yield self._event(response, "unchanged", None)
            kind, items = known.links_kind or "", known.links or []
        elif response.status == 304:
            yield from self._refetch(portal, response)
            return
        else:
            try:
                kind, entries = sitemap_items(response.body)
            except ValueError as exc:  # a gzip bomb, bounded by SITEMAP_MAX_BYTES
                yield self._event(response, "error", f"sitemap refused: {exc}")
                return
            items = [(response.urljoin(loc), announced_value(lastmod)) for loc, lastmod in entries]
            page = self._page(response)
            page.content_hash = body_hash(response.body)
            page.links_kind, page.links = kind, items
            yield page
        for url, announced in items:
            if kind == "sitemapindex":
                if portal.site.owns(url):
                    yield self._request(portal, url, "sitemap", response.url)
            else:
                yield from self._route(portal, url, response, depth=1, announced=announced)

    # -- links -----------------------------------------------------------------------
    @staticmethod
    def _links(response: Response) -> list[str]:
        """The page's links, absolute, without fragments, in page order, once each."""
        if not isinstance(response, TextResponse):
            return []
        urls: dict[str, None] = {}
        for href in response.css("a::attr(href)").getall():
            href = href.strip()
            if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
                continue
            urls.setdefault(response.urljoin(href).split("#", 1)[0], None)
        return list(urls)

    def _follow(self, portal: PortalCrawl, response: Response, urls: list[str]) -> Iterator[Any]:
        depth = int(response.meta.get("listing_depth", 1))
        site, state = portal.site, portal.state
        assert state is not None
        # A listing page that brings no article we have not seen ends its pagination: the
        # pages after it are older still (a backfill sets stop_when_nothing_new = false).
        follow_listings = (
            not site.crawl.stop_when_nothing_new
            or response.meta.get("page_kind") != "listing"
            or any(site.is_article_url(u) and state.get(u) is None for u in urls if _owns(portal, u))
        )
        for url in urls:
            yield from self._route(portal, url, response, depth=depth + 1, follow_listings=follow_listings)

    def _route(
        self,
        portal: PortalCrawl,
        url: str,
        response: Response,
        depth: int,
        follow_listings: bool = True,
        announced: str | None = None,
    ) -> Iterator[Any]:
        site = portal.site
        if not url.startswith(("http://", "https://")) or not _owns(portal, url):
            return
        if len(url) > URL_MAX_LENGTH and (site.is_article_url(url) or site.is_listing_url(url)):
            yield CrawlEvent(url, "article", None, 0, "error", f"URL longer than {URL_MAX_LENGTH}", response.url)
            return
        if site.is_article_url(url):
            request = self._article_request(portal, url, response.url, announced)
            if request is not None:
                yield request
        elif follow_listings and site.is_listing_url(url) and depth <= site.max_listing_pages:
            yield self._listing_request(portal, url, depth, response.url)

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


def _after(announced: str | None, when: datetime) -> bool:
    """Whether an announced value (see ``announced_value``) is a time after ``when``."""
    if announced is None or announced.startswith("text:"):
        return False
    try:
        return datetime.fromisoformat(announced) > when
    except ValueError:
        return False


def _owns(portal: PortalCrawl, url: str) -> bool:
    """``Site.owns``, remembered per host: a page's links repeat the same few hosts."""
    netloc = url.split("/", 3)[2] if url.count("/") >= 2 else ""
    owned = portal.owned_hosts.get(netloc)
    if owned is None:
        owned = portal.owned_hosts[netloc] = portal.site.owns(url)
    return owned


def trusted_hosts(site: Site) -> set[str]:
    """The hosts the registry names for a portal: its domains and the hosts of its start
    URLs, feeds and sitemaps (trusted whatever address they resolve to)."""
    hosts = set(site.domains)
    for url in (*site.start_urls, *site.feeds, *site.sitemaps):
        hosts.add((urlsplit(url).hostname or "").lower())
    return hosts - {""}

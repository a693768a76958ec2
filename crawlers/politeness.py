"""Politeness Scrapy does not give by itself: robots.txt ``Crawl-delay`` and ``Retry-After``.

Settings read:

* ``VNPORTALS_MAX_RETRY_AFTER`` (seconds, default 300): the longest ``Retry-After`` honoured;
  a server asking for more gets this long, and the retry middleware's own limit on attempts
  still applies.

Scrapy parses ``Crawl-delay`` (``RobotParser.crawl_delay``) but does not act on it. Here it
becomes a floor under the download slot's delay for that host, with the slot's random
jitter switched off (Scrapy's default jitter would let half the gaps fall below the
floor), re-applied after AutoThrottle adjusts the delay. A 429 or 503 with ``Retry-After``
holds the whole slot, not only the retried request, for that long.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.http import Request, Response

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser


CRAWL_DELAY_MARGIN_S = 0.25


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value: delta-seconds or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (now if now is not None else time.time()), 0.0)


class PolitenessExtension:
    """Crawl-delay floors and Retry-After holds on Scrapy's download slots."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_retry_after = crawler.settings.getfloat("VNPORTALS_MAX_RETRY_AFTER", 300.0)
        self.user_agent = crawler.settings.get("USER_AGENT", "")
        self.floors: dict[str, float] = {}
        self.retry_after_waits = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessExtension:
        extension = cls(crawler)
        crawler.signals.connect(extension.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(extension.request_reached_downloader, signal=signals.request_reached_downloader)
        # Connected after AutoThrottle's handler (extensions load in order), so the floor
        # is applied to the delay AutoThrottle has just computed.
        crawler.signals.connect(extension.response_downloaded, signal=signals.response_downloaded)
        return extension

    def _slot(self, request: Request) -> tuple[str, Any]:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        return key, downloader.slots.get(key)

    def _apply_floor(self, request: Request) -> None:
        key, slot = self._slot(request)
        floor = self.floors.get(key)
        if slot is not None and floor is not None and slot.delay < floor:
            slot.delay = floor
        if slot is not None and floor is not None:
            slot.jitter = 0.0

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        delay = robotparser.crawl_delay(self.user_agent) or robotparser.crawl_delay("*")
        if delay:
            key, _ = self._slot(request)
            # A margin over the asked delay: the server measures gaps between arrivals, and
            # a request that left late must not make the next one look early.
            self.floors[key] = float(delay) + CRAWL_DELAY_MARGIN_S
            self._apply_floor(request)

    def request_reached_downloader(self, request: Request, spider: Any) -> None:
        self._apply_floor(request)

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        self._apply_floor(request)
        if response.status not in (429, 503):
            return
        header = response.headers.get(b"Retry-After")
        wait = retry_after_seconds(header.decode("latin-1")) if header else None
        if wait is None:
            return
        _, slot = self._slot(request)
        if slot is not None:
            # The slot's next request waits ``delay - now + lastseen``: this makes it the
            # Retry-After time, whatever request comes next.
            slot.lastseen = max(slot.lastseen, time.monotonic() + min(wait, self.max_retry_after))
            self.retry_after_waits += 1
            self.crawler.stats.inc_value("vnportals/retry_after_waits")

"""Politeness per host, for a crawl of many portals in one process.

Scrapy keeps one download slot per host name; every portal that uses a host shares its
slot, so two district portals on one provincial server share that server's politeness. This
extension decides each slot's delay and concurrency from the portals that use the host (the
strictest of them: the longest delay, the fewest requests at once) and from the host
itself: robots.txt ``Crawl-delay`` and ``Retry-After``.

Settings read:

* ``DOWNLOAD_DELAY``, ``CONCURRENT_REQUESTS_PER_DOMAIN``: a portal's delay and requests at
  once when its site config sets none.
* ``AUTOTHROTTLE_ENABLED``, ``AUTOTHROTTLE_MAX_DELAY``, ``AUTOTHROTTLE_TARGET_CONCURRENCY``:
  as for Scrapy's AutoThrottle, which this replaces (it is switched off in
  :mod:`crawlers.settings`): Scrapy's has one minimum and maximum delay for the whole crawl,
  and portals have their own (``download_delay``, ``autothrottle_max_delay``).
* ``VNPORTALS_MAX_RETRY_AFTER`` (seconds, default 300): the longest ``Retry-After`` honoured;
  a server asking for more gets this long, and the retry middleware's own limit on attempts
  still applies.

How a slot's delay is kept:

* a floor: the portals' delay, and robots.txt ``Crawl-delay`` (which Scrapy parses but does
  not act on). The slot's random jitter is switched off (Scrapy's default would let half
  the gaps fall below the floor).
* counted from the previous answer, not from when the previous request left (Scrapy's
  way): the server measures gaps between arrivals, and a request that took long to arrive
  (a new connection) must not make the next one (on a kept-alive connection) look early.
  Counted so, no arrival can come sooner than the floor after the one before it.
* AutoThrottle's rule above the floor: a slow host's delay follows its latency, capped.
* a 429 or 503 with ``Retry-After`` holds the whole slot, not only the retried request.

Each portal request carries its portal's politeness in ``request.meta["vn_politeness"]``
(delay, concurrency, AutoThrottle cap), set by the spider; requests without it (robots.txt)
get the host's policy as it stands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.http import Request, Response

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

# AutoThrottle's starting delay above a floor of 0 (Scrapy's AUTOTHROTTLE_START_DELAY role).
START_DELAY_S = 0.1

POLITENESS_META = "vn_politeness"


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


@dataclass
class HostPolicy:
    """What the portals using one host, and the host itself, ask of its download slot."""

    delay: float
    concurrency: int
    max_delay: float
    crawl_delay: float | None = None
    current: float | None = None  # the delay AutoThrottle has settled on
    hold_until: float = 0.0  # monotonic time a Retry-After holds the host until

    def floor(self) -> float:
        return max(self.delay, self.crawl_delay or 0.0)

    def cap(self) -> float:
        return max(self.floor(), self.max_delay)

    def merge(self, delay: float, concurrency: int, max_delay: float) -> None:
        self.delay = max(self.delay, delay)
        self.concurrency = min(self.concurrency, concurrency)
        self.max_delay = min(self.max_delay, max_delay)


class PolitenessExtension:
    """Delay, concurrency, Crawl-delay and Retry-After on Scrapy's download slots, per host."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.default_delay = settings.getfloat("DOWNLOAD_DELAY")
        self.default_concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.autothrottle = settings.getbool("AUTOTHROTTLE_ENABLED")
        self.default_max_delay = settings.getfloat("AUTOTHROTTLE_MAX_DELAY")
        self.target_concurrency = max(settings.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY"), 0.1)
        self.max_retry_after = settings.getfloat("VNPORTALS_MAX_RETRY_AFTER", 300.0)
        self.user_agent = settings.get("USER_AGENT", "")
        self.hosts: dict[str, HostPolicy] = {}
        self.retry_after_waits = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessExtension:
        extension = cls(crawler)
        crawler.signals.connect(extension.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(extension.request_reached_downloader, signal=signals.request_reached_downloader)
        crawler.signals.connect(extension.response_downloaded, signal=signals.response_downloaded)
        return extension

    def politeness_of(self, delay: float | None, concurrency: int | None, max_delay: float | None) -> tuple:
        """A portal's (delay, concurrency, AutoThrottle cap), the defaults filled in."""
        return (
            self.default_delay if delay is None else delay,
            self.default_concurrency if concurrency is None else concurrency,
            self.default_max_delay if max_delay is None else max_delay,
        )

    def register(self, host: str, politeness: tuple) -> None:
        """A portal uses ``host``: its politeness joins the host's policy."""
        delay, concurrency, max_delay = politeness
        policy = self.hosts.get(host)
        if policy is None:
            policy = self.hosts[host] = HostPolicy(float(delay), int(concurrency), float(max_delay))
        else:
            policy.merge(float(delay), int(concurrency), float(max_delay))
        # At once, not at the host's next request: one may be waiting for its turn.
        engine = self.crawler.engine
        slot = engine.downloader.slots.get(host) if engine is not None else None
        if slot is not None:
            self._apply(policy, slot)

    def _policy(self, key: str) -> HostPolicy:
        policy = self.hosts.get(key)
        if policy is None:
            policy = self.hosts[key] = HostPolicy(self.default_delay, self.default_concurrency, self.default_max_delay)
        return policy

    def _slot(self, request: Request) -> tuple[str, Any]:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        return key, downloader.slots.get(key)

    def _apply(self, policy: HostPolicy, slot: Any) -> None:
        floor = policy.floor()
        if policy.current is None:
            policy.current = max(floor, START_DELAY_S) if self.autothrottle and floor == 0 else floor
        policy.current = min(max(policy.current, floor), policy.cap())
        # Scrapy looks at the time of the slot's last request only when its delay is not 0:
        # a Retry-After hold on a host without delay needs a token one.
        holding = policy.hold_until > time.monotonic()
        slot.delay = max(policy.current, 0.001) if holding else policy.current
        slot.jitter = 0.0
        slot.concurrency = policy.concurrency

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        user_agent = (request.headers.get(b"User-Agent") or b"").decode("latin-1") or self.user_agent
        delay = robotparser.crawl_delay(user_agent) or robotparser.crawl_delay("*")
        if delay:
            key, slot = self._slot(request)
            policy = self._policy(key)
            policy.crawl_delay = float(delay)
            if slot is not None:
                self._apply(policy, slot)

    def request_reached_downloader(self, request: Request, spider: Any) -> None:
        key, slot = self._slot(request)
        politeness = request.meta.get(POLITENESS_META)
        if politeness is not None:
            self.register(key, politeness)
        elif slot is not None:
            self._apply(self._policy(key), slot)

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        key, slot = self._slot(request)
        if slot is None:
            return
        # The delay runs from now, the answer, for the request that is next in this slot.
        slot.lastseen = max(slot.lastseen, time.monotonic())
        policy = self._policy(key)
        latency = request.meta.get("download_latency")
        if self.autothrottle and latency is not None:
            # AutoThrottle's rule: towards latency / target concurrency, never down on an error page.
            target = latency / self.target_concurrency
            current = policy.current if policy.current is not None else policy.floor()
            new = min(max(target, (current + target) / 2.0, policy.floor()), policy.cap())
            if response.status == 200 or new > current:
                policy.current = new
        self._apply(policy, slot)
        if response.status not in (429, 503):
            return
        header = response.headers.get(b"Retry-After")
        wait = retry_after_seconds(header.decode("latin-1")) if header else None
        if wait is None:
            return
        # The slot's next request waits ``delay - now + lastseen``: this makes it the
        # Retry-After time, whatever request comes next.
        policy.hold_until = max(policy.hold_until, time.monotonic() + min(wait, self.max_retry_after))
        slot.lastseen = max(slot.lastseen, policy.hold_until)
        self._apply(policy, slot)
        self.retry_after_waits += 1
        self.crawler.stats.inc_value("vnportals/retry_after_waits")
        fleet = getattr(self.crawler.spider, "fleet", None)
        if fleet is not None:
            fleet.count_retry_after(request)

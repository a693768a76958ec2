"""The scheduler's memory bounded however many portals one process crawls.

Settings read:

* ``VNPORTALS_QUEUE_DIR``: a scratch folder for requests spilled to disk (created; the
  crawl removes it when done). Without it every request stays in memory.
* ``VNPORTALS_MEMORY_QUEUE_MAX`` (default 20000): requests kept in memory; the ones past it
  are pickled to the disk queue until the memory queue drains. A night's frontier is small,
  but a first night or a sitemap of 50,000 URLs is not.

:class:`SpillingScheduler` is Scrapy's scheduler with its disk queue used only past that
bound (Scrapy's uses the disk queue for every request once ``JOBDIR`` is set, and
``JOBDIR`` also makes a crawl resumable, which a nightly run must not be: a new run starts
from the crawl state, not from last night's queue). :class:`PortalDupeFilter` keeps the
fingerprints of seen requests per portal and forgets a portal's when its crawl ends, so the
process's memory does not grow with the number of portals it has crawled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.core.scheduler import Scheduler
from scrapy.dupefilters import BaseDupeFilter
from scrapy.utils.misc import build_from_crawler, load_object

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

PORTAL_META = "portal"


class PortalDupeFilter(BaseDupeFilter):
    """Request fingerprints seen, per portal (``request.meta["portal"]``)."""

    def __init__(self, crawler: Crawler) -> None:
        assert crawler.request_fingerprinter is not None
        self.fingerprinter = crawler.request_fingerprinter
        self.seen: dict[str, set[bytes]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PortalDupeFilter:
        return cls(crawler)

    def request_seen(self, request: Request) -> bool:
        seen = self.seen.setdefault(str(request.meta.get(PORTAL_META, "")), set())
        fingerprint = self.fingerprinter.fingerprint(request)
        if fingerprint in seen:
            return True
        seen.add(fingerprint)
        return False

    def forget(self, portal: str) -> None:
        self.seen.pop(portal, None)


class SpillingScheduler(Scheduler):
    """Scrapy's scheduler, spilling requests to disk past ``VNPORTALS_MEMORY_QUEUE_MAX``."""

    def __init__(self, *args: Any, memory_max: int = 20_000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.memory_max = memory_max

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SpillingScheduler:
        settings = crawler.settings
        return cls(
            dupefilter=build_from_crawler(load_object(settings["DUPEFILTER_CLASS"]), crawler),
            jobdir=settings.get("VNPORTALS_QUEUE_DIR") or None,
            dqclass=load_object(settings["SCHEDULER_DISK_QUEUE"]),
            mqclass=load_object(settings["SCHEDULER_MEMORY_QUEUE"]),
            logunser=settings.getbool("SCHEDULER_DEBUG"),
            stats=crawler.stats,
            pqclass=load_object(settings["SCHEDULER_PRIORITY_QUEUE"]),
            crawler=crawler,
            memory_max=settings.getint("VNPORTALS_MEMORY_QUEUE_MAX", 20_000),
        )

    def _dqpush(self, request: Request) -> bool:
        if len(self.mqs) < self.memory_max:
            return False  # the caller pushes it to the memory queue
        return super()._dqpush(request)

    def forget(self, portal: str) -> None:
        if isinstance(self.df, PortalDupeFilter):
            self.df.forget(portal)

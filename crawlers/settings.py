"""Scrapy settings for the portal crawl.

These are the project-wide defaults, the first rung of the ladder
setting -> this run (:func:`crawlers.run.crawl_settings`) -> site config (``[crawl]`` table
of a portal's TOML, applied per request) -> request meta.
Each value that differs from Scrapy's default says the default and why: government portals
are small servers on slow links, and we would rather be slow than blocked.

One process crawls many portals (see :mod:`crawlers.portals`), so what Scrapy keeps per
crawl (its delay, concurrency per domain, AutoThrottle bounds, download timeout, User-Agent)
is kept here per host or per request instead. Which component reads what:

* :mod:`crawlers.portals` (the fleet, ``PortalGateMiddleware``): ``VNPORTALS_DATA_DIR``,
  ``VNPORTALS_RUN_ID``, ``VNPORTALS_PORTALS_IN_FLIGHT``, ``VNPORTALS_DEADLINE``,
  ``VNPORTALS_GRACE_S``, ``VNPORTALS_STATUS_FD``, ``VNPORTALS_COMMIT_INTERVAL_S``.
* :mod:`crawlers.politeness`: ``DOWNLOAD_DELAY``, ``CONCURRENT_REQUESTS_PER_DOMAIN``,
  ``AUTOTHROTTLE_ENABLED``, ``AUTOTHROTTLE_MAX_DELAY``, ``AUTOTHROTTLE_TARGET_CONCURRENCY``,
  ``VNPORTALS_MAX_RETRY_AFTER``, ``USER_AGENT``.
* :mod:`crawlers.queues`: ``VNPORTALS_QUEUE_DIR``, ``VNPORTALS_MEMORY_QUEUE_MAX``, and
  Scrapy's ``SCHEDULER_*`` queue classes.
* :mod:`crawlers.safety`: ``VNPORTALS_TRUSTED_HOSTS``.
* :mod:`crawlers.mirror`: ``VNPORTALS_MIRROR_URL``.
"""

from __future__ import annotations

from typing import Any

BOT_NAME = "vnportals"
SPIDER_MODULES = ["crawlers.spider"]

# Scrapy default: "Scrapy/VERSION (+https://scrapy.org)". Portal admins need to know who
# we are and how to reach us; the contact URL comes from VNPORTALS_CONTACT_URL.
USER_AGENT = "vnportals/0.1 (+https://github.com/vnportals/vnportals; news archive crawler)"

# Scrapy default: False (the project template turns it on). We never fetch what a
# portal's robots.txt disallows.
ROBOTSTXT_OBEY = True

# Scrapy defaults: 8 requests at once per domain, no delay, a random jitter of +-50%.
# A portal whose config sets none gets one request at a time and a delay of a second, what
# a small municipal server tolerates; these are applied per host by crawlers.politeness.
# No jitter: the delay is a floor, and Scrapy's jitter would let half the gaps fall below it.
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.0
# Scrapy default: 16. A ceiling only, raised per process with the portals in flight
# (crawlers.run), so that every portal in flight can have its request on the wire.
CONCURRENT_REQUESTS = 16

# Not in Scrapy: portals crawled at once by one process (a global cap; each portal still
# has its own politeness, so this bounds memory and open files, not the load on a server).
VNPORTALS_PORTALS_IN_FLIGHT = 64

# Scrapy default: AutoThrottle off. On, so a slow portal slows us down further; capped so a
# stalled server cannot push the delay to minutes. Scrapy's AutoThrottle extension has one
# minimum and maximum for the whole crawl, so it is replaced (see EXTENSIONS) by the
# per-host one in crawlers/politeness.py, which reads these same settings.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Scrapy default: 180 s. An article page that has not arrived in 30 s is not coming.
# A portal's download_timeout is set per request (request meta).
DOWNLOAD_TIMEOUT = 30

# Scrapy defaults: 1 GiB max, warn at 32 MiB. No article page is anywhere near 16 MiB; a
# bigger body is a broken or hostile server.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024

# Scrapy default: 2 retries. Kept, but 429 is retried too (its default list has it) and
# the per-portal report counts every retry.
RETRY_TIMES = 2

# Scrapy default: cookies on. Portals set session cookies we never need.
COOKIES_ENABLED = False

# Scrapy default: 20 redirects. Portals that redirect more than a few times are looping.
REDIRECT_MAX_TIMES = 5

# Scrapy default: DEPTH_PRIORITY 0 (depth-first). Breadth-first keeps listing pages ahead
# of the articles they reveal, so a crawl cut short by its time budget still saw the newest.
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
# Scrapy's default since 2.13, stated because the crawl relies on it: the next request
# comes from the host with the fewest downloads in progress, so one big portal cannot fill
# the downloader while the others wait.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
# Scrapy defaults: scrapy.core.scheduler.Scheduler, scrapy.dupefilters.RFPDupeFilter. Ours
# spill to disk past a bound and forget a finished portal's fingerprints (crawlers/queues.py).
SCHEDULER = "crawlers.queues.SpillingScheduler"
DUPEFILTER_CLASS = "crawlers.queues.PortalDupeFilter"
VNPORTALS_MEMORY_QUEUE_MAX = 20_000

ITEM_PIPELINES = {"crawlers.archive.ArchivePipeline": 300}
# Scrapy default: 100 items of one response processed concurrently, which costs 100 asyncio
# tasks per response. Our pipeline is synchronous (a page is written in one call), so
# concurrency buys nothing there.
CONCURRENT_ITEMS = 4
# Scrapy default: True, which parses the source of a callback for every response (its
# cache is keyed on bound methods, made anew each time). Ours return nothing.
WARN_ON_GENERATOR_RETURN_VALUE = False

# Not in Scrapy: refuse internal addresses outside the registry, checked on the resolved
# address and on IP literals, and every scheme but http(s) (see crawlers/safety.py).
# Scrapy's default resolver is scrapy.resolver.CachingThreadedResolver; ours extends it.
# Scrapy's OffsiteMiddleware knows one set of domains per spider; portals are checked
# against their own domains instead (crawlers/spider.py for links, crawlers/portals.py for
# redirects), so it is off. PortalGateMiddleware drops requests of a portal whose time is up.
TWISTED_DNS_RESOLVER = "crawlers.safety.GuardedResolver"
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawlers.safety.AddressGuardMiddleware": 40,
    "crawlers.portals.PortalGateMiddleware": 45,
}
# Scrapy default: UrlLengthMiddleware drops URLs over 2083 characters with a debug line;
# the spider logs them in the crawl log instead, so nothing disappears without a trace.
SPIDER_MIDDLEWARES = {"scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None}
# Scrapy enables file://, s3://, ftp:// and data: handlers by default; a news crawl needs none.
DOWNLOAD_HANDLERS: dict[str, str | None] = {"file": None, "s3": None, "ftp": None, "data": None}

# Not in Scrapy: delay, concurrency, Crawl-delay and Retry-After per host (crawlers/politeness.py),
# in place of Scrapy's AutoThrottle.
EXTENSIONS = {
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawlers.politeness.PolitenessExtension": 1000,
}
# Not in Scrapy: the longest Retry-After honoured, in seconds.
VNPORTALS_MAX_RETRY_AFTER = 300.0
# Not in Scrapy: how often a portal's raw archive is synced to disk and its crawl state committed.
VNPORTALS_COMMIT_INTERVAL_S = 1.0

# Scrapy default: LOG_LEVEL DEBUG. The parent process shows progress; INFO is enough.
LOG_LEVEL = "INFO"

# Scrapy defaults: telnet console and remote-control server on. A nightly crawl in a
# worker must not open listening ports.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Scrapy's own default since 2.7; stated so a future change of default cannot alter ids.
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"


def as_dict() -> dict[str, Any]:
    """The settings above as a plain dict (for ``Settings.setdict``)."""
    return {k: v for k, v in globals().items() if k.isupper()}

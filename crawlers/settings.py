"""Scrapy settings for the portal crawl.

These are the project-wide defaults, the first rung of the ladder
setting -> site config (``[crawl]`` table of a portal's TOML) -> request meta.
Each value that differs from Scrapy's default says the default and why: government portals
are small servers on slow links, and we would rather be slow than blocked.
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

# Scrapy defaults: 16 requests at once, 8 per domain, no delay. One request at a time per
# portal, with a delay, is what a small municipal server tolerates.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0

# Scrapy default: AutoThrottle off. On, so a slow portal slows us down further; capped so a
# stalled server cannot push the delay to minutes.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Scrapy default: 180 s. An article page that has not arrived in 30 s is not coming.
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

ITEM_PIPELINES = {"crawlers.archive.ArchivePipeline": 300}

# Not in Scrapy: refuse internal addresses outside the registry, checked on the resolved
# address and on IP literals, and every scheme but http(s) (see crawlers/safety.py).
# Scrapy's default resolver is scrapy.resolver.CachingThreadedResolver; ours extends it.
TWISTED_DNS_RESOLVER = "crawlers.safety.GuardedResolver"
DOWNLOADER_MIDDLEWARES = {"crawlers.safety.AddressGuardMiddleware": 40}
# Scrapy enables file://, s3://, ftp:// and data: handlers by default; a news crawl needs none.
DOWNLOAD_HANDLERS: dict[str, str | None] = {"file": None, "s3": None, "ftp": None, "data": None}

# Not in Scrapy: act on robots.txt Crawl-delay and on Retry-After (see crawlers/politeness.py).
# Its order puts it after AutoThrottle, so the Crawl-delay floor wins over AutoThrottle.
EXTENSIONS = {"crawlers.politeness.PolitenessExtension": 1000}

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

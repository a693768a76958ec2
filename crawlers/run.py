"""Entry point of one crawl process: ``python -m crawlers.run --site SLUG ...``.

Scrapy's Twisted reactor cannot be restarted inside a long-lived process, so every portal
crawl runs here, in a child process that :mod:`pipeline.crawl` starts and watches. The
settings ladder is applied in order: project settings (:mod:`crawlers.settings`), then the
portal's ``[crawl]`` table, then per-request meta set by the spider.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawlers import settings as project_settings
from crawlers.spider import PortalSpider
from kernel.registry import Site, load_registry


def trusted_hosts(site: Site) -> set[str]:
    """The hosts the registry names for a portal: its domains and the hosts of its start
    URLs, feeds and sitemaps (trusted whatever address they resolve to)."""
    hosts = set(site.domains)
    for url in (*site.start_urls, *site.feeds, *site.sitemaps):
        hosts.add((urlsplit(url).hostname or "").lower())
    return hosts - {""}


def crawl_settings(
    site: Site,
    data_dir: Path,
    run_id: str,
    mirror_url: str | None,
    log_file: Path | None,
    contact_url: str | None = None,
    time_budget_s: float | None = None,
) -> Settings:
    """The Scrapy settings for one portal's crawl."""
    settings = Settings()
    settings.setdict(project_settings.as_dict(), priority="project")
    overrides: dict[str, object] = {
        "VNPORTALS_DATA_DIR": str(data_dir),
        "VNPORTALS_RUN_ID": run_id,
        "VNPORTALS_TRUSTED_HOSTS": sorted(trusted_hosts(site)),
    }
    if contact_url:
        overrides["USER_AGENT"] = f"vnportals/0.1 (+{contact_url}; news archive crawler)"
    if site.crawl.download_delay is not None:
        overrides["DOWNLOAD_DELAY"] = site.crawl.download_delay
        overrides["AUTOTHROTTLE_START_DELAY"] = max(site.crawl.download_delay, 0.1)
    if site.crawl.concurrent_requests is not None:
        overrides["CONCURRENT_REQUESTS_PER_DOMAIN"] = site.crawl.concurrent_requests
    if site.crawl.autothrottle_max_delay is not None:
        overrides["AUTOTHROTTLE_MAX_DELAY"] = site.crawl.autothrottle_max_delay
    if site.crawl.download_timeout is not None:
        overrides["DOWNLOAD_TIMEOUT"] = site.crawl.download_timeout
    if site.crawl.user_agent is not None:
        overrides["USER_AGENT"] = site.crawl.user_agent
    if time_budget_s:
        # Scrapy's own graceful stop: no new requests, the spider closes, the WARC is finished.
        overrides["CLOSESPIDER_TIMEOUT"] = time_budget_s
    if mirror_url:
        overrides["VNPORTALS_MIRROR_URL"] = mirror_url
        overrides["VNPORTALS_TRUSTED_HOSTS"] = sorted(trusted_hosts(site) | {urlsplit(mirror_url).hostname or ""})
        overrides["DOWNLOAD_HANDLERS"] = {
            **project_settings.DOWNLOAD_HANDLERS,
            "http": "crawlers.mirror.MirrorDownloadHandler",
            "https": "crawlers.mirror.MirrorDownloadHandler",
        }
        # The mirror is our own server on loopback: no politeness delay is owed to it,
        # and the demo and the tests should not wait a second per page.
        overrides["DOWNLOAD_DELAY"] = 0
        overrides["AUTOTHROTTLE_ENABLED"] = False
    if log_file is not None:
        overrides["LOG_FILE"] = str(log_file)
        overrides["LOG_FILE_APPEND"] = False
    settings.setdict(overrides, priority="cmdline")
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.run")
    parser.add_argument("--site", required=True)
    parser.add_argument("--registry", type=Path, default=None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--mirror-url", default=None)
    parser.add_argument("--log-file", type=Path, default=None)
    parser.add_argument("--contact-url", default=None)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds before the crawl winds down")
    args = parser.parse_args(argv)

    sites = load_registry(args.registry)
    if args.site not in sites:
        print(f"unknown portal {args.site!r}", file=sys.stderr)
        return 2
    site = sites[args.site]
    settings = crawl_settings(
        site, args.data_dir, args.run_id, args.mirror_url, args.log_file, args.contact_url, args.time_budget
    )
    process = CrawlerProcess(settings, install_root_handler=True)
    process.crawl(PortalSpider, site=site)
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())

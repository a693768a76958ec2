"""Entry point of one crawl process: ``python -m crawlers.run --site SLUG [--site SLUG ...]``.

Scrapy's Twisted reactor cannot be restarted inside a long-lived process, so crawls run
here, in a child process that :mod:`pipeline.crawl` starts and watches. One process crawls
all the portals it is given, ``--parallel`` at a time (see :mod:`crawlers.portals`). The
settings ladder is applied in order: project settings (:mod:`crawlers.settings`), then this
run's (data dir, mirror, time budget, how many portals at once), then per request what each
portal's ``[crawl]`` table says (politeness, timeout, User-Agent; see :mod:`crawlers.spider`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawlers import settings as project_settings
from crawlers.spider import PortalSpider, trusted_hosts
from kernel.registry import Site, read_registry

__all__ = ["crawl_settings", "main", "trusted_hosts"]

# Seconds a portal's requests still in flight at the deadline may take (then it ends without them).
GRACE_S = 30.0


def crawl_settings(
    sites: list[Site],
    data_dir: Path,
    run_id: str,
    mirror_url: str | None,
    log_file: Path | None,
    contact_url: str | None = None,
    deadline: float | None = None,
    parallel: int = project_settings.VNPORTALS_PORTALS_IN_FLIGHT,
    status_fd: int | None = None,
    queue_dir: Path | None = None,
    memory_queue_max: int | None = None,
) -> Settings:
    """The Scrapy settings for one crawl process over ``sites``."""
    settings = Settings()
    settings.setdict(project_settings.as_dict(), priority="project")
    trusted = set().union(*(trusted_hosts(site) for site in sites)) if sites else set()
    in_flight = max(1, min(parallel, len(sites) or 1))
    most_at_once = max(
        (s.crawl.concurrent_requests or project_settings.CONCURRENT_REQUESTS_PER_DOMAIN for s in sites), default=1
    )
    overrides: dict[str, object] = {
        "VNPORTALS_DATA_DIR": str(data_dir),
        "VNPORTALS_RUN_ID": run_id,
        "VNPORTALS_PORTALS_IN_FLIGHT": in_flight,
        "VNPORTALS_GRACE_S": GRACE_S,
        # Room for every portal in flight to have a request on the wire and one waiting in
        # its slot; the per-host limits are the politeness, this is only a ceiling.
        "CONCURRENT_REQUESTS": min(512, max(16, 2 * in_flight * most_at_once)),
    }
    if contact_url:
        overrides["USER_AGENT"] = f"vnportals/0.1 (+{contact_url}; news archive crawler)"
    if deadline is not None:
        overrides["VNPORTALS_DEADLINE"] = deadline
        # Scrapy's own stop, a backstop should the fleet's deadline not end the crawl.
        overrides["CLOSESPIDER_TIMEOUT"] = max(deadline - time.time(), 0.0) + 2 * GRACE_S
    if status_fd is not None:
        overrides["VNPORTALS_STATUS_FD"] = status_fd
    if queue_dir is not None:
        overrides["VNPORTALS_QUEUE_DIR"] = str(queue_dir)
    if memory_queue_max is not None:
        overrides["VNPORTALS_MEMORY_QUEUE_MAX"] = memory_queue_max
    if mirror_url:
        overrides["VNPORTALS_MIRROR_URL"] = mirror_url
        trusted.add(urlsplit(mirror_url).hostname or "")
        overrides["DOWNLOAD_HANDLERS"] = {
            **project_settings.DOWNLOAD_HANDLERS,
            "http": "crawlers.mirror.MirrorDownloadHandler",
            "https": "crawlers.mirror.MirrorDownloadHandler",
        }
        # The mirror is our own server on loopback: no politeness delay is owed to it by
        # default, and the demo and the tests should not wait a second per page. A portal
        # whose site config sets download_delay keeps it.
        overrides["DOWNLOAD_DELAY"] = 0
        overrides["AUTOTHROTTLE_ENABLED"] = False
    overrides["VNPORTALS_TRUSTED_HOSTS"] = sorted(trusted - {""})
    if log_file is not None:
        overrides["LOG_FILE"] = str(log_file)
        # Appended to: the parent sends the process's stderr (a crash before logging starts) there too.
        overrides["LOG_FILE_APPEND"] = True
    settings.setdict(overrides, priority="cmdline")
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.run")
    parser.add_argument("--site", action="append", required=True, help="a portal to crawl (repeat for more)")
    parser.add_argument("--registry", type=Path, action="append", help="a registry folder (repeat to combine)")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--mirror-url", default=None)
    parser.add_argument("--log-file", type=Path, default=None)
    parser.add_argument("--contact-url", default=None)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds before the crawl winds down")
    parser.add_argument("--deadline", type=float, default=None, help="the same, as a Unix time")
    parser.add_argument("--parallel", type=int, default=project_settings.VNPORTALS_PORTALS_IN_FLIGHT)
    parser.add_argument("--status-fd", type=int, default=None, help="file descriptor for JSON status lines")
    parser.add_argument("--queue-dir", type=Path, default=None, help="scratch folder for requests spilled to disk")
    parser.add_argument("--memory-queue-max", type=int, default=None, help="requests kept in memory before spilling")
    args = parser.parse_args(argv)

    # Only the portals asked for need a good site config: another portal's broken file is
    # the engine's to report, not a reason for this crawl to fail.
    loaded = read_registry(args.registry)
    registry = loaded.sites
    for slug in args.site:
        if slug not in registry:
            print(loaded.broken.get(slug, f"unknown portal {slug!r}"), file=sys.stderr)
            return 2
    sites = [registry[slug] for slug in dict.fromkeys(args.site)]
    deadline = args.deadline
    if deadline is None and args.time_budget:
        deadline = time.time() + args.time_budget
    settings = crawl_settings(
        sites,
        args.data_dir,
        args.run_id,
        args.mirror_url,
        args.log_file,
        args.contact_url,
        deadline,
        args.parallel,
        args.status_fd,
        args.queue_dir,
        args.memory_queue_max,
    )
    try:
        process = CrawlerProcess(settings)
        process.crawl(PortalSpider, sites=sites)
        process.start()
    finally:
        if args.queue_dir is not None:
            shutil.rmtree(args.queue_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

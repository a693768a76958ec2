"""The crawl step: one crawl process (or a few) for all the portals, watched, summarised.

:func:`crawl_sites` starts ``python -m crawlers.run`` with its share of the portals (one
process by default; portals that share a host always share a process, so they share that
host's politeness). Each process crawls its portals ``parallel`` at a time and reports on a
pipe when a portal starts, how far it got, and when it is over; the finished portal's crawl
log becomes a :class:`CrawlSummary` at once (``on_summary`` hears of it while the others are
still crawling). A portal whose crawl fails is reported with the reason; the others go on.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from kernel.layout import DataLayout
from kernel.registry import Folders, Site, registry_folders

Progress = Callable[[str], None]

# How long past its time budget a crawl may take to wind down before it is stopped.
GRACE_S = 30.0
# Portals crawled at once, over all crawl processes (crawlers.settings.VNPORTALS_PORTALS_IN_FLIGHT).
DEFAULT_PARALLEL = 64


@dataclass
class CrawlSummary:
    """What one portal's crawl run did, in numbers."""

    site: str
    run_id: str
    ok: bool
    pages_kept: int = 0
    articles: int = 0
    listings: int = 0
    bytes: int = 0
    errors: int = 0
    robots_blocked: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    known_not_fetched: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    retries: int = 0
    finish_reason: str | None = None
    peak_memory_mb: float | None = None
    failure: str | None = None
    warc: str | None = None
    # Listing pages, feeds and sitemaps that had not changed (304, or the same body).
    listings_unchanged: int = 0
    # The first URL that could not be fetched, and why: what a failed crawl's line names.
    first_error: str | None = None

    def line(self) -> str:
        if not self.ok:
            return f"{self.site}: FAILED: {self.failure}"
        return (
            f"{self.site}: {self.pages_kept} pages kept ({self.listings} listings/feeds, "
            f"{self.listings_unchanged} more unchanged; articles "
            f"{self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.known_not_fetched} known and not fetched), {self.errors} errors, {self.retries} retries, "
            f"{self.robots_blocked} blocked by robots.txt, {self.duration_s:.1f}s"
            + (f", stopped: {self.finish_reason}" if self.finish_reason not in (None, "finished") else "")
        )


def summarise_log(site: str, run_id: str, log_path: Path, stats_path: Path | None = None) -> CrawlSummary:
    """Count a crawl log's lines into a summary (a last line cut short by a kill is skipped)."""
    summary = CrawlSummary(site=site, run_id=run_id, ok=True)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    if log_path.exists():
        with log_path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                _count(summary, event, statuses, errors)
    summary.statuses = dict(statuses)
    summary.errors_by_kind = dict(errors)
    if stats_path is not None and stats_path.exists():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        summary.retries = int(stats.get("retry/count", 0))
        summary.finish_reason = stats.get("finish_reason")
        if stats.get("memusage/max"):
            summary.peak_memory_mb = round(int(stats["memusage/max"]) / 2**20, 1)
        if stats.get("elapsed_time_seconds") is not None:
            summary.duration_s = round(float(stats["elapsed_time_seconds"]), 2)
        if stats.get("failure"):
            summary.ok = False
            summary.failure = str(stats["failure"])
    return summary


def _count(summary: CrawlSummary, event: dict[str, Any], statuses: Counter[str], errors: Counter[str]) -> None:
    if event.get("status") is not None:
        statuses[str(event["status"])] += 1
    outcome = event["outcome"]
    if outcome == "kept":
        summary.pages_kept += 1
        summary.bytes += int(event["bytes"])
        if event["kind"] == "article":
            summary.articles += 1
            summary.changed += event.get("change") == "changed"
            summary.new += event.get("change") != "changed"
        else:
            summary.listings += 1
    elif outcome == "unchanged":
        if event["kind"] == "article":
            summary.unchanged += 1
        else:
            summary.listings_unchanged += 1
    elif outcome == "known":
        summary.known_not_fetched += 1
    elif outcome == "robots":
        summary.robots_blocked += 1
    elif outcome == "error":
        summary.errors += 1
        errors[str(event.get("error", "")).split(":", 1)[0]] += 1
        if summary.first_error is None:
            summary.first_error = f"{event.get('url')}: {event.get('error')}"


def _last_error_line(log_file: Path) -> str:
    """The most telling line of a crashed crawl's Scrapy log."""
    try:
        with log_file.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 65536))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return "no log"
    for line in reversed(lines):
        if "Error" in line or "ERROR" in line or "Traceback" in line:
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "empty log"


def shards(sites: list[Site], processes: int) -> list[list[Site]]:
    """The portals split over at most ``processes`` crawl processes, registry order kept
    within each; portals that name a common host always land in the same one."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for site in sites:
        hosts = _hosts(site)
        for host in hosts[1:]:
            parent[find(host)] = find(hosts[0])
    groups: dict[str, list[Site]] = {}
    for site in sites:
        groups.setdefault(find(_hosts(site)[0]), []).append(site)
    bins: list[list[Site]] = [[] for _ in range(max(1, min(processes, len(groups))))]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(bins, key=len).extend(group)
    order = {s.slug: i for i, s in enumerate(sites)}
    return [sorted(b, key=lambda s: order[s.slug]) for b in bins if b]


def _hosts(site: Site) -> list[str]:
    urls = (*site.start_urls, *site.feeds, *site.sitemaps)
    hosts = {*site.domains, *((urlsplit(u).hostname or "").lower() for u in urls)}
    return sorted(hosts - {""}) or [site.slug]


@dataclass
class _Process:
    index: int
    sites: list[Site]
    popen: subprocess.Popen[bytes]
    status: int  # read end of its status pipe, or -1 once it reached its end
    log_file: Path
    buffer: bytes = b""
    open_sites: set[str] = field(default_factory=set)
    started: dict[str, float] = field(default_factory=dict)


def crawl_sites(
    sites: list[Site],
    data_dir: Path,
    run_id: str,
    *,
    registry_dir: Folders = None,
    mirror_url: str | None = None,
    parallel: int = DEFAULT_PARALLEL,
    time_budget_s: float | None = None,
    progress: Progress | None = None,
    processes: int = 1,
    on_summary: Callable[[CrawlSummary], None] | None = None,
) -> list[CrawlSummary]:
    """Crawl the portals, ``parallel`` at a time over ``processes`` crawl processes; return
    one summary per portal, in the order given. ``time_budget_s`` bounds the whole crawl:
    every portal winds down when it is spent, and a portal whose turn had not come is
    reported as not started."""
    if not sites:
        return []
    layout = DataLayout(data_dir.absolute())
    say = progress or (lambda _msg: None)
    started = time.time()
    deadline = started + time_budget_s if time_budget_s is not None else None
    parts = shards(sites, processes)
    per_process = max(1, -(-parallel // len(parts)))
    running = [
        _start(i, part, layout, run_id, registry_dir, mirror_url, per_process, deadline) for i, part in enumerate(parts)
    ]
    done: dict[str, CrawlSummary] = {}
    selector = selectors.DefaultSelector()
    for proc in running:
        selector.register(proc.status, selectors.EVENT_READ, proc)

    def finished(proc: _Process, slug: str, failure: str | None) -> None:
        proc.open_sites.discard(slug)
        log, stats = layout.crawl_log_path(slug, run_id), layout.crawl_stats_path(slug, run_id)
        summary = summarise_log(slug, run_id, log, stats)
        summary.warc = str(layout.warc_path(slug, run_id))
        if not summary.duration_s and slug in proc.started:
            summary.duration_s = round(time.monotonic() - proc.started[slug], 2)
        if failure and summary.ok:
            summary.ok, summary.failure = False, failure
        elif summary.ok and summary.pages_kept == 0 and summary.unchanged == 0 and summary.listings_unchanged == 0:
            summary.ok = False
            summary.failure = "no page could be fetched: " + (
                ", ".join(f"{k} x{v}" for k, v in summary.errors_by_kind.items()) or "nothing found"
            )
            if summary.first_error:
                summary.failure += f" (first: {summary.first_error})"
        layout.crawl_summary_path(slug, run_id).parent.mkdir(parents=True, exist_ok=True)
        layout.crawl_summary_path(slug, run_id).write_text(
            json.dumps(asdict(summary), ensure_ascii=False, indent=1), encoding="utf-8"
        )
        done[slug] = summary
        say("crawl " + summary.line())
        if on_summary is not None:
            on_summary(summary)

    def handle(proc: _Process, line: bytes) -> None:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return
        slug = event.get("site")
        if event.get("event") == "started":
            proc.started[slug] = time.monotonic()
            say(f"crawl {slug}: started")
        elif event.get("event") == "progress":
            say(f"crawl {slug}: {event.get('urls')} URLs so far")
        elif event.get("event") == "finished" and slug in proc.open_sites:
            finished(proc, slug, event.get("failure"))

    try:
        while running:
            for key, _ in selector.select(timeout=0.5):
                proc = key.data
                chunk = os.read(proc.status, 65536)
                if not chunk:
                    selector.unregister(proc.status)
                    os.close(proc.status)
                    proc.status = -1
                    continue
                proc.buffer += chunk
                *lines, proc.buffer = proc.buffer.split(b"\n")
                for line in lines:
                    handle(proc, line)
            if deadline is not None:
                late = time.time() - deadline
                for proc in running:
                    # The crawl winds down by itself at its deadline; a process still alive
                    # well after it is stuck: SIGTERM (Scrapy's graceful stop), then SIGKILL.
                    if late > 3 * GRACE_S and proc.popen.poll() is None:
                        proc.popen.kill()
                    elif late > 2 * GRACE_S and proc.popen.poll() is None:
                        proc.popen.terminate()
            for proc in list(running):
                code = proc.popen.poll()
                if code is None or proc.status != -1:
                    continue
                running.remove(proc)
                for slug in [s.slug for s in proc.sites if s.slug in proc.open_sites]:
                    why = (
                        f"crawl process exited with {code}: {_last_error_line(proc.log_file)}"
                        if code != 0
                        else "the crawl process ended without finishing this portal"
                    )
                    finished(proc, slug, why)
    finally:
        for proc in running:  # only when interrupted: leave no crawl process behind
            with contextlib.suppress(OSError):
                proc.popen.terminate()
                proc.popen.wait(timeout=GRACE_S)
        selector.close()
    return [done[s.slug] for s in sites]


def _start(
    index: int,
    sites: list[Site],
    layout: DataLayout,
    run_id: str,
    registry_dir: Folders,
    mirror_url: str | None,
    parallel: int,
    deadline: float | None,
) -> _Process:
    log_file = layout.crawl_process_log_path(run_id, index)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    for site in sites:
        layout.warc_path(site.slug, run_id).parent.mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    # Every path is handed on absolute, so the crawl process does not care which folder it runs
    # in; -P keeps that folder off its import path (python -m puts it first by default), so a
    # user's own "crawlers" folder there cannot stand in for ours.
    cmd = [sys.executable, "-P", "-m", "crawlers.run", "--data-dir", str(layout.root), "--run-id", run_id]
    for site in sites:
        cmd += ["--site", site.slug]
    cmd += ["--log-file", str(log_file), "--parallel", str(parallel), "--status-fd", str(write_end)]
    cmd += ["--queue-dir", str(layout.crawl_queue_dir(run_id, index))]
    if registry_dir is not None:
        for folder in registry_folders(registry_dir):
            cmd += ["--registry", str(folder.absolute())]
    if mirror_url:
        cmd += ["--mirror-url", mirror_url]
    contact = os.environ.get("VNPORTALS_CONTACT_URL")
    if contact:
        cmd += ["--contact-url", contact]
    if deadline is not None:
        cmd += ["--deadline", repr(deadline)]
    stderr: IO[bytes]
    with open(log_file, "ab") as stderr:
        popen = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            pass_fds=(write_end,),
        )
    os.close(write_end)
    return _Process(index, sites, popen, read_end, log_file, open_sites={s.slug for s in sites})

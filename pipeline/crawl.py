"""The crawl step: one child process per portal, watched, summarised.

:func:`crawl_sites` starts ``python -m crawlers.run`` for each portal (a few at once),
shows progress by following each crawl log, and turns the finished log into a
:class:`CrawlSummary`. A portal whose crawl fails is reported with the reason; the
others go on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kernel.layout import DataLayout
from kernel.registry import Site

Progress = Callable[[str], None]

# How long past its time budget a crawl may take to wind down before it is stopped.
GRACE_S = 30.0


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

    def line(self) -> str:
        if not self.ok:
            return f"{self.site}: FAILED: {self.failure}"
        return (
            f"{self.site}: {self.pages_kept} pages kept ({self.listings} listings/feeds; articles "
            f"{self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.known_not_fetched} known and not fetched), {self.errors} errors, {self.retries} retries, "
            f"{self.robots_blocked} blocked by robots.txt, {self.duration_s:.1f}s"
            + (f", stopped: {self.finish_reason}" if self.finish_reason not in (None, "finished") else "")
        )


def summarise_log(site: str, run_id: str, log_path: Path, stats_path: Path | None = None) -> CrawlSummary:
    """Count a crawl log's lines into a summary."""
    summary = CrawlSummary(site=site, run_id=run_id, ok=True)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    if not log_path.exists():
        return summary
    with log_path.open(encoding="utf-8") as fh:
        for line in fh:
            event = json.loads(line)
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
                summary.unchanged += 1
            elif outcome == "known":
                summary.known_not_fetched += 1
            elif outcome == "robots":
                summary.robots_blocked += 1
            elif outcome == "error":
                summary.errors += 1
                errors[str(event.get("error", "")).split(":", 1)[0]] += 1
    summary.statuses = dict(statuses)
    summary.errors_by_kind = dict(errors)
    if stats_path is not None and stats_path.exists():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        summary.retries = int(stats.get("retry/count", 0))
        summary.finish_reason = stats.get("finish_reason")
        if stats.get("memusage/max"):
            summary.peak_memory_mb = round(int(stats["memusage/max"]) / 2**20, 1)
    return summary


def _new_lines(path: Path, offset: int) -> tuple[int, int]:
    """Lines appended to a growing log since ``offset``, and the new offset (only the new
    bytes are read, so following a long crawl stays cheap)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return 0, offset
    return chunk.count(b"\n"), offset + len(chunk)


def _last_error_line(log_file: Path) -> str:
    """The most telling line of a crashed crawl's Scrapy log."""
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return "no log"
    for line in reversed(lines):
        if "Error" in line or "ERROR" in line or "Traceback" in line:
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "empty log"


@dataclass
class _Running:
    site: Site
    process: subprocess.Popen[bytes]
    started: float
    log_file: Path
    shown: int = 0
    lines: int = 0
    offset: int = 0


def crawl_sites(
    sites: list[Site],
    data_dir: Path,
    run_id: str,
    *,
    registry_dir: Path | None = None,
    mirror_url: str | None = None,
    parallel: int = 4,
    time_budget_s: float | None = None,
    progress: Progress | None = None,
) -> list[CrawlSummary]:
    """Crawl each portal in its own process; return one summary per portal."""
    layout = DataLayout(data_dir)
    say = progress or (lambda _msg: None)
    pending = list(sites)
    running: list[_Running] = []
    done: list[CrawlSummary] = []
    contact = os.environ.get("VNPORTALS_CONTACT_URL")
    while pending or running:
        while pending and len(running) < max(parallel, 1):
            site = pending.pop(0)
            log_file = layout.scrapy_log_path(site.slug, run_id)
            log_file.parent.mkdir(parents=True, exist_ok=True)
            cmd = [
                sys.executable,
                "-m",
                "crawlers.run",
                "--site",
                site.slug,
                "--data-dir",
                str(data_dir),
                "--run-id",
                run_id,
                "--log-file",
                str(log_file),
            ]
            if registry_dir is not None:
                cmd += ["--registry", str(registry_dir)]
            if mirror_url:
                cmd += ["--mirror-url", mirror_url]
            if contact:
                cmd += ["--contact-url", contact]
            if time_budget_s is not None:
                cmd += ["--time-budget", str(time_budget_s)]
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=str(Path(__file__).resolve().parents[1]),
            )
            running.append(_Running(site, proc, time.monotonic(), log_file))
            say(f"crawl {site.slug}: started")
        time.sleep(0.2)
        for job in list(running):
            added, job.offset = _new_lines(layout.crawl_log_path(job.site.slug, run_id), job.offset)
            job.lines += added
            pages = job.lines
            if pages >= job.shown + 10:
                job.shown = pages
                say(f"crawl {job.site.slug}: {pages} URLs so far")
            elapsed = time.monotonic() - job.started
            if time_budget_s is not None and job.process.poll() is None:
                # The crawl stops itself at its budget (CLOSESPIDER_TIMEOUT); a process still
                # alive well after it is stuck: SIGTERM (Scrapy's graceful stop), then SIGKILL.
                if elapsed > time_budget_s + GRACE_S:
                    job.process.terminate()
                if elapsed > time_budget_s + 2 * GRACE_S:
                    job.process.kill()
            code = job.process.poll()
            if code is None:
                continue
            running.remove(job)
            summary = summarise_log(
                job.site.slug,
                run_id,
                layout.crawl_log_path(job.site.slug, run_id),
                layout.crawl_stats_path(job.site.slug, run_id),
            )
            summary.duration_s = round(elapsed, 2)
            summary.warc = str(layout.warc_path(job.site.slug, run_id))
            if code != 0:
                summary.ok = False
                summary.failure = f"crawl process exited with {code}: {_last_error_line(job.log_file)}"
            elif summary.pages_kept == 0:
                summary.ok = False
                summary.failure = "no page could be fetched: " + (
                    ", ".join(f"{k} x{v}" for k, v in summary.errors_by_kind.items()) or "nothing found"
                )
            layout.crawl_summary_path(job.site.slug, run_id).write_text(
                json.dumps(asdict(summary), ensure_ascii=False, indent=1), encoding="utf-8"
            )
            say("crawl " + summary.line())
            done.append(summary)
    order = {s.slug: i for i, s in enumerate(sites)}
    return sorted(done, key=lambda s: order[s.site])

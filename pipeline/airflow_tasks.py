"""What each task of the Airflow DAGs does, as plain functions of plain values.

The DAG files in ``dags/`` only wire these together; the work is the same step functions the
CLI calls (:mod:`pipeline.steps`). Every function here takes JSON-able values, says what it
did in numbers through ``say`` (the task's log), and returns that summary as a JSON-able
dict (the task's XCom, shown in the UI).

A nightly run's pipeline run id is derived from the Airflow run's ``run_after`` time, so
every task of one DAG run agrees on it without passing it around, and a retried or cleared
task writes over its own files instead of starting a second batch.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from kernel.layout import DataLayout, new_run_id
from kernel.registry import Site, load_registry, select_sites
from kernel.timestamps import VN_TZ
from pipeline.airflow_settings import BUNDLED_MIRROR, RunSettings
from pipeline.crawl import CrawlSummary
from pipeline.extract import ExtractSummary
from pipeline.steps import RunSummary, crawl_step, extract_step, publish_step
from pipeline.storage import PublishSummary

log = logging.getLogger("vnportals")

Say = Callable[[str], None]

#: Where the validation step may live (the data-quality issue): the shared steps module, or
#: its own module. The validate task calls it once it exists.
VALIDATE_STEP_MODULES = ("pipeline.steps", "pipeline.validate")


class PortalError(RuntimeError):
    """One portal's step failed; its task is retried, then shown failed, and the others go on."""


class PartialRunError(RuntimeError):
    """The run finished, but not for every portal: the message names each and says why."""


def _say(message: str) -> None:
    log.info("%s", message)


def pipeline_run_id(run_after: datetime) -> str:
    """The pipeline's run id for an Airflow DAG run, from the time it was due."""
    return new_run_id(run_after)


def _registry(settings: RunSettings) -> dict[str, Site]:
    return load_registry(settings.registry_dir)


def _site(slug: str, settings: RunSettings) -> Site:
    sites = _registry(settings)
    if slug not in sites:
        where = settings.registry_dir or "the bundled registry"
        raise PortalError(f"{slug}: no such portal in {where}")
    return sites[slug]


def _jsonable(value: Any) -> Any:
    """A step's result as plain JSON values (dataclasses become dicts)."""
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# -- nightly: plan, crawl, extract -------------------------------------------------------
def plan_portals(wanted: list[str] | None, settings: RunSettings, run_id: str, say: Say = _say) -> list[str]:
    """The portals this run works on: those named in ``wanted``, or every enabled one."""
    chosen = select_sites(_registry(settings), [w.strip() for w in wanted or [] if w.strip()] or None)
    if not chosen:
        raise ValueError(f"no enabled portals in {settings.registry_dir or 'the bundled registry'}")
    mode = f"mirror {settings.mirror}" if settings.mirror else "the real portals"
    say(f"plan: run {run_id}: {len(chosen)} portals ({', '.join(s.slug for s in chosen)}) against {mode}")
    say(f"plan: data dir {settings.data_dir}")
    return [s.slug for s in chosen]


@contextmanager
def _mirror_url(settings: RunSettings) -> Iterator[str | None]:
    """The URL the crawl should send its requests to: a mirror server, or None for the web."""
    if settings.mirror != BUNDLED_MIRROR:
        yield settings.mirror
        return
    from pipeline.mirror import MIRROR_DIR, MirrorServer

    with MirrorServer(MIRROR_DIR) as server:
        yield server.url


def crawl_line(summary: CrawlSummary) -> str:
    """One portal's crawl in numbers, for the task log."""
    statuses = ", ".join(f"{code} x{n}" for code, n in sorted(summary.statuses.items())) or "none"
    return (
        f"crawl {summary.site}: {summary.pages_kept} pages fetched and kept ({summary.articles} articles, "
        f"{summary.listings} listings/feeds), {summary.bytes} bytes; articles {summary.new} new, "
        f"{summary.changed} updated, {summary.unchanged} unchanged, {summary.known_not_fetched} known and "
        f"not fetched again; {summary.errors} errors, {summary.retries} retries, {summary.robots_blocked} "
        f"blocked by robots.txt; HTTP statuses: {statuses}; {summary.duration_s:.1f}s"
    )


def crawl_portal(
    slug: str, run_id: str, settings: RunSettings, *, time_budget_s: float | None = None, say: Say = _say
) -> dict[str, Any]:
    """Crawl one portal in its own Scrapy process; raise :class:`PortalError` if it failed.

    ``time_budget_s`` (a little less than the task's timeout) makes the crawl wind down by
    itself in time to finish its WARC and summary, instead of being killed mid-write."""
    site = _site(slug, settings)
    with _mirror_url(settings) as mirror_url:
        if mirror_url:
            say(f"crawl {slug}: mirror mode, every request answered by {mirror_url}")
        (summary,) = crawl_step(
            [site],
            settings.data_dir,
            run_id=run_id,
            registry_dir=settings.registry_dir,
            mirror_url=mirror_url,
            time_budget_s=time_budget_s,
            progress=say,
        )
    say(crawl_line(summary))
    if summary.errors_by_kind:
        say(f"crawl {slug}: errors by kind: {summary.errors_by_kind}")
    if not summary.ok:
        raise PortalError(f"{slug}: {summary.failure}")
    return asdict(summary)


def extract_portal(crawl: dict[str, Any], settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Extract the articles of one portal's crawl (its WARC of this run) into a batch."""
    site = _site(str(crawl["site"]), settings)
    run_id = str(crawl["run_id"])
    (summary,) = extract_step([site], settings.data_dir, run_id=run_id, progress=say)  # says the numbers
    return {"site": site.slug, "run_id": run_id, "crawl": crawl, "extract": asdict(summary)}


# -- validate, publish (both DAGs) -------------------------------------------------------
def _validation_api() -> tuple[Callable[..., Any] | None, tuple[type[BaseException], ...]]:
    """``validate_step(sites, data_dir, run_id=..., progress=...)`` and the exception it
    raises when a portal's batch fails (it carries the step's ``summary``), or None until
    the validation step exists."""
    step: Callable[..., Any] | None = None
    failures: list[type[BaseException]] = []
    for name in VALIDATE_STEP_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found = getattr(module, "validate_step", None)
        if step is None and callable(found):
            step = cast(Callable[..., Any], found)
        failure = getattr(module, "ValidationFailed", None)
        if isinstance(failure, type) and issubclass(failure, BaseException):
            failures.append(failure)
    return step, tuple(failures)


def validate_batches(batches: list[tuple[str, str]], settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Validate extracted batches, given as (portal, run id) pairs, once per run id.

    The result names the portals whose batches passed (they go on to publish) and, for each
    that failed its batch-level expectations, why: like the CLI, one portal's failed batch
    does not hold back the others. Until the validation step exists this says so and lets
    every batch through.
    """
    by_run: dict[str, list[str]] = {}
    for slug, run_id in batches:
        by_run.setdefault(run_id, []).append(slug)
    portals = sorted({slug for slug, _ in batches})
    step, failure_types = _validation_api()
    if step is None:
        say(f"validate: no validation step yet: {len(batches)} batches passed on unvalidated")
        return {"validated": False, "portals": portals, "failed": {}, "errors": [], "results": {}}
    registry = _registry(settings)
    results: dict[str, Any] = {}
    failed: dict[str, str] = {}
    errors: list[str] = []
    for run_id, slugs in sorted(by_run.items()):
        try:
            result = step([registry[s] for s in slugs], settings.data_dir, run_id=run_id, progress=say)
        except failure_types as exc:
            result = getattr(exc, "summary", None)
            say(f"validate run {run_id}: {exc}")  # the failed expectations, with examples
            if result is None:
                raise
        line = getattr(result, "line", None)
        say(f"validate run {run_id}: " + (line() if callable(line) else str(result)))
        for portal in getattr(result, "portals", []):
            if not portal.ok:
                failed[portal.site] = "validate: " + portal.line()
        errors += [str(e) for e in getattr(result, "errors", [])]
        results[run_id] = _jsonable(result)
    passed = [p for p in portals if p not in failed]
    return {"validated": True, "portals": passed, "failed": failed, "errors": errors, "results": results}


def publish_portals(slugs: list[str], settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Merge the portals' extracted batches into the articles dataset."""
    registry = _registry(settings)
    summary = publish_step([registry[s] for s in slugs], settings.data_dir, progress=say)
    say(
        f"publish: {summary.new} articles new, {summary.updated} updated, {summary.unchanged} unchanged; "
        f"{len(summary.partitions)} partitions rewritten ({', '.join(summary.partitions) or 'none'}); "
        f"{summary.rows_total} rows in {DataLayout(settings.data_dir).articles}"
    )
    return asdict(summary)


# -- the run's report ----------------------------------------------------------------------
def _crawl_of(slug: str, run_id: str, extracted: dict[str, dict[str, Any]], layout: DataLayout) -> CrawlSummary:
    """What the crawl of one portal did: from its extract's input, else its summary file."""
    if slug in extracted:
        return CrawlSummary(**extracted[slug]["crawl"])
    path = layout.crawl_summary_path(slug, run_id)
    if path.exists():
        return CrawlSummary(**json.loads(path.read_text(encoding="utf-8")))
    return CrawlSummary(
        site=slug,
        run_id=run_id,
        ok=False,
        failure="the crawl task ended without a summary (timed out, killed or never started): see its log",
    )


def report_run(
    *,
    run_id: str,
    planned: list[str],
    extracted: list[dict[str, Any]],
    validation: dict[str, Any] | None,
    published: dict[str, Any] | None,
    settings: RunSettings,
    airflow_run_id: str,
    say: Say = _say,
) -> dict[str, Any]:
    """Write the run's summary (``runs/<run_id>.json``), log it, and raise :class:`PartialRunError`
    naming every portal that failed and why (after the others were published)."""
    layout = DataLayout(settings.data_dir)
    by_site = {e["site"]: e for e in extracted}
    summary = RunSummary(run_id=run_id, data_dir=str(settings.data_dir))
    failed: dict[str, str] = {}
    for slug in planned:
        crawl = _crawl_of(slug, run_id, by_site, layout)
        summary.crawl.append(crawl)
        if not crawl.ok:
            failed[slug] = f"crawl: {crawl.failure}"
        elif slug not in by_site:
            failed[slug] = "extract: the extract task failed: see its log"
        else:
            summary.extract.append(ExtractSummary(**by_site[slug]["extract"]))
            if validation and slug in validation.get("failed", {}):
                failed[slug] = validation["failed"][slug]
    if validation and validation.get("errors"):
        failed["(validation)"] = "; ".join(validation["errors"])
    if published is not None:
        summary.publish = PublishSummary(**published)
    report = {
        **asdict(summary),
        "airflow_run_id": airflow_run_id,
        "finished_at": datetime.now(UTC).isoformat(),
        "portals": len(planned),
        "failed_portals": failed,
        "validation": validation,
    }
    layout.runs.mkdir(parents=True, exist_ok=True)
    path = layout.run_summary_path(run_id)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")

    say(f"run {run_id} (Airflow run {airflow_run_id}): {len(planned) - len(failed)} of {len(planned)} portals done")
    for crawl in summary.crawl:
        say("  " + crawl_line(crawl) if crawl.ok else f"  crawl {crawl.site}: FAILED: {crawl.failure}")
    for ext in summary.extract:
        say("  extract " + ext.line())
    if summary.publish is not None:
        say("  publish " + summary.publish.line())
    else:
        say("  publish did not run (see the validate and publish tasks)")
    say(f"  run summary: {path}")
    if failed:
        reasons = "; ".join(f"{slug}: {why}" for slug, why in failed.items())
        raise PartialRunError(f"{len(failed)} of {len(planned)} portals failed: {reasons} (run summary {path})")
    if published is None:
        raise PartialRunError(f"every portal was crawled and extracted, but nothing was published (run summary {path})")
    return report


# -- re-extraction from the raw archive ----------------------------------------------------
def crawl_date(run_id: str) -> date:
    """The day (Vietnam time) a crawl run started, from its run id."""
    started = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return started.astimezone(VN_TZ).date()


def _day(value: str | None, name: str) -> date | None:
    if value is None or not str(value).strip():
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"param {name}={value!r}: not a date (YYYY-MM-DD)") from None


def plan_reextract(
    wanted: list[str] | None,
    date_from: str | None,
    date_to: str | None,
    settings: RunSettings,
    say: Say = _say,
) -> list[dict[str, Any]]:
    """For each chosen portal, the crawl runs in the raw archive between the two dates
    (inclusive, Vietnam time; open-ended where a date is not given)."""
    first, last = _day(date_from, "date_from"), _day(date_to, "date_to")
    if first and last and first > last:
        raise ValueError(f"date_from {first} is after date_to {last}")
    layout = DataLayout(settings.data_dir)
    sites = select_sites(_registry(settings), [w.strip() for w in wanted or [] if w.strip()] or None)
    jobs = []
    for site in sites:
        run_ids = [DataLayout.run_id_of(w) for w in layout.warcs(site.slug)]
        chosen = [
            r for r in run_ids if (first is None or crawl_date(r) >= first) and (last is None or crawl_date(r) <= last)
        ]
        say(f"plan: {site.slug}: {len(chosen)} of {len(run_ids)} archived crawl runs in range")
        if chosen:
            jobs.append({"site": site.slug, "run_ids": chosen})
    if not jobs:
        span = f"{first or 'the beginning'} to {last or 'today'}"
        raise ValueError(f"nothing to re-extract: no crawl runs from {span} in {layout.raw} for {len(sites)} portals")
    say(f"plan: re-extracting {sum(len(j['run_ids']) for j in jobs)} crawl runs of {len(jobs)} portals")
    return jobs


def reextract_portal(job: dict[str, Any], settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Re-extract one portal's archived crawl runs with today's rules (no fetching)."""
    site = _site(str(job["site"]), settings)
    total = ExtractSummary(site=site.slug)
    for run_id in job["run_ids"]:
        (part,) = extract_step([site], settings.data_dir, run_id=str(run_id), progress=say)
        total.add(part)
    say(
        f"re-extract {site.slug}: {total.articles} articles, {total.not_articles} pages not articles, "
        f"{total.failed} failed, from {total.pages} article pages in {len(job['run_ids'])} crawl runs"
    )
    return {"site": site.slug, "run_ids": list(job["run_ids"]), "extract": asdict(total)}


def report_reextract(
    *,
    jobs: list[dict[str, Any]],
    results: list[dict[str, Any]],
    validation: dict[str, Any] | None,
    published: dict[str, Any] | None,
    say: Say = _say,
) -> dict[str, Any]:
    """Log what the re-extraction did; raise :class:`PartialRunError` naming each portal that
    failed and why (after the others were published)."""
    done = {r["site"]: r for r in results}
    failed = {j["site"]: "re-extract: the task failed: see its log" for j in jobs if j["site"] not in done}
    failed.update((validation or {}).get("failed", {}))
    for result in results:
        say("  re-extract " + ExtractSummary(**result["extract"]).line())
    if published is not None:
        say("  publish " + PublishSummary(**published).line())
    if failed:
        reasons = "; ".join(f"{slug}: {why}" for slug, why in failed.items())
        raise PartialRunError(f"{len(failed)} of {len(jobs)} portals failed: {reasons}")
    if published is None:
        raise PartialRunError("every portal was re-extracted, but nothing was published: see validate and publish")
    return {"portals": len(jobs), "results": results, "validation": validation, "publish": published}


def mapped_results(pulled: Any) -> list[dict[str, Any]]:
    """The results of a mapped task's instances, as a list. Instances that failed have
    none; when a single one is left, Airflow hands over that result itself, not a list."""
    if pulled is None:
        return []
    if isinstance(pulled, dict):
        return [pulled]
    return [dict(r) for r in pulled if r is not None]


def batches_of(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(portal, run id) pairs of extract or re-extract results."""
    pairs: list[tuple[str, str]] = []
    for r in results:
        pairs += [(r["site"], str(rid)) for rid in r.get("run_ids", [r.get("run_id")]) if rid]
    return pairs

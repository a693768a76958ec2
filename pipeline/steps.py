"""The pipeline's steps as plain functions, called the same way by the CLI, the tests and
the Airflow DAGs: crawl, extract, validate, publish, and a whole run of all four."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kernel.layout import DataLayout, new_run_id
from kernel.registry import Site
from pipeline.crawl import CrawlSummary, Progress, crawl_sites
from pipeline.extract import ExtractSummary, extract_site
from pipeline.storage import PublishSummary, publish
from pipeline.validate import ValidationFailed as ValidationFailed  # raised by validate_step; the CLI and DAG catch it
from pipeline.validate import ValidationSummary as ValidationSummary
from pipeline.validate import unvalidated_batches, validate


def _quiet(_msg: str) -> None:
    return None


def crawl_step(
    sites: list[Site],
    data_dir: Path,
    *,
    run_id: str | None = None,
    registry_dir: Path | None = None,
    mirror_url: str | None = None,
    time_budget_s: float | None = None,
    progress: Progress = _quiet,
) -> list[CrawlSummary]:
    return crawl_sites(
        sites,
        data_dir,
        run_id or new_run_id(),
        registry_dir=registry_dir,
        mirror_url=mirror_url,
        time_budget_s=time_budget_s,
        progress=progress,
    )


def extract_step(
    sites: list[Site],
    data_dir: Path,
    *,
    run_id: str | None = None,
    reextract: bool = False,
    progress: Progress = _quiet,
) -> list[ExtractSummary]:
    results = []
    for site in sites:
        summary = extract_site(site, data_dir, run_id=run_id, reextract=reextract)
        progress("extract " + summary.line())
        for failure in summary.failures:
            progress(f"extract {site.slug}: failed: {failure}")
        results.append(summary)
    return results


def validate_step(
    sites: list[Site],
    data_dir: Path,
    *,
    run_id: str | None = None,
    revalidate: bool = False,
    progress: Progress = _quiet,
) -> ValidationSummary:
    """Run the data-quality suites on one run's extracted batches (every batch not yet
    validated when ``run_id`` is None; every batch with ``revalidate``): passing rows to
    ``validated/``, failing rows to ``quarantine/``, the report to
    ``validation/<run_id>/docs/index.html``. Progress gets one line per portal and the
    report's path. Raises :class:`ValidationFailed` (after writing everything) when a
    portal's batch fails a batch-level expectation; its message lists them with examples."""
    return validate(sites, data_dir, run_id=run_id, revalidate=revalidate, progress=progress)


def publish_step(sites: list[Site], data_dir: Path, *, progress: Progress = _quiet) -> PublishSummary:
    """Merge the validated batches (only rows that passed) into the articles dataset."""
    layout = DataLayout(data_dir)
    waiting = unvalidated_batches(layout, sites)
    if waiting:
        progress(f"publish: {len(waiting)} extracted batches not validated yet (run 'vnportals validate'), skipped")
    batches = [path for site in sites for path in layout.validated_files(site.slug)]
    summary = publish(data_dir, batches)
    progress("publish " + summary.line())
    return summary


@dataclass
class RunSummary:
    """One whole run: crawl, extract, validate, publish."""

    run_id: str
    data_dir: str
    crawl: list[CrawlSummary] = field(default_factory=list)
    extract: list[ExtractSummary] = field(default_factory=list)
    validate: ValidationSummary | None = None
    validation_failure: str | None = None
    publish: PublishSummary | None = None

    @property
    def failed_sites(self) -> list[CrawlSummary]:
        return [c for c in self.crawl if not c.ok]


def run_all(
    sites: list[Site],
    data_dir: Path,
    *,
    registry_dir: Path | None = None,
    mirror_url: str | None = None,
    progress: Progress = _quiet,
) -> RunSummary:
    """Crawl, extract, validate and publish the chosen portals; a portal whose crawl or
    validation failed does not stop the rest."""
    layout = DataLayout(data_dir)
    run_id = new_run_id()
    summary = RunSummary(run_id=run_id, data_dir=str(data_dir))
    summary.crawl = crawl_step(
        sites, data_dir, run_id=run_id, registry_dir=registry_dir, mirror_url=mirror_url, progress=progress
    )
    crawled = {c.site for c in summary.crawl if c.ok}
    summary.extract = extract_step([s for s in sites if s.slug in crawled], data_dir, run_id=run_id, progress=progress)
    try:
        summary.validate = validate_step(
            [s for s in sites if s.slug in crawled], data_dir, run_id=run_id, progress=progress
        )
    except ValidationFailed as failed:
        summary.validate, summary.validation_failure = failed.summary, str(failed)
    summary.publish = publish_step(sites, data_dir, progress=progress)
    layout.runs.mkdir(parents=True, exist_ok=True)
    layout.run_summary_path(run_id).write_text(
        json.dumps(asdict(summary), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    return summary

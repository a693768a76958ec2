"""The validate step: extracted batches -> validated batches and the quarantine.

An extracted batch (``extracted/<site>/<run_id>.parquet``) has one row per article page of a
crawl. The pages the extractor rejected (their ``rejection`` says why) go to quarantine
first, under ``rejected_by_extractor``; on the articles, the data-quality gate
(:mod:`expectations.gate`) runs the ``article`` and ``portal_batch`` suites, and every row is
written to exactly one of:

* ``validated/<site>/<run_id>.parquet``: the rows that passed (what publish reads);
* ``quarantine/run_date=YYYY-MM-DD/<site>-<run_id>.parquet``: the rows that failed, with
  ``failed_expectations`` (the names of what they failed), ``rejection``, ``run_id`` and
  ``validated_at``.

A batch fails as a whole when it fails a batch-level expectation (schema, undated share,
empty bodies, article count against the portal's recent runs) or when more of its article
pages were rejected than the portal's ``max_rejected_share`` allows (``rejected_share``);
then all its rows go to quarantine, and the portal's :class:`PortalValidation` says what
failed, with example rows. A run's findings go to ``validation/<run_id>/results.json`` and
its report to ``validation/<run_id>/docs/index.html`` (GX Data Docs). Extracted batches are
never changed or removed, and a batch is validated again when it is re-extracted: a page
rejected last week and extracted now leaves quarantine.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from expectations.suites import min_articles, suite_versions
from expectations.verdict import BatchFailure, Verdict
from kernel.layout import DataLayout, exclusive_lock, run_time, write_atomic
from kernel.registry import Site, ValidateThresholds
from kernel.schema import ARTICLE_SCHEMA, QUARANTINE_SCHEMA, QUARANTINED_ARTICLE_SCHEMA, REJECTION
from pipeline.extract import reason_group

Progress = Callable[[str], None]

#: The name a page the extractor rejected is quarantined under.
REJECTED_BY_EXTRACTOR = "rejected_by_extractor"
#: The batch-level check on the extractor's rejections (not a GX expectation: a rejected page
#: has no article for the suites to look at).
REJECTED_SHARE = "rejected_share"


def _quiet(_msg: str) -> None:
    return None


@dataclass
class PortalValidation:
    """What validation did with one portal's batch of one run."""

    site: str
    run_id: str
    pages: int = 0
    rejected: int = 0
    passed: int = 0
    quarantined: int = 0
    failed_rows: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)
    # Quarantined rows by what they failed (the names joined with "+", or the extractor's
    # reason): every quarantined row counted once, for the run's balance.
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    batch_failures: list[BatchFailure] = field(default_factory=list)
    error: str | None = None
    report: str | None = None
    report_page: str | None = None

    @property
    def ok(self) -> bool:
        return not self.batch_failures and self.error is None

    def line(self) -> str:
        if self.error is not None:
            return f"{self.site}: NOT VALIDATED: {self.error}"
        text = f"{self.site}: {self.pages} article pages, {self.passed} passed, {self.quarantined} quarantined"
        if self.failed_rows:
            text += " (" + ", ".join(f"{name} {n}" for name, n in sorted(self.failed_rows.items())) + ")"
        if self.batch_failures:
            text += "; batch FAILED: " + ", ".join(f.name for f in self.batch_failures)
        return text

    def failure(self) -> str | None:
        """Why the portal's batch failed, in one line, or None."""
        if self.error is not None:
            return f"batch of run {self.run_id} not validated: {self.error}"
        if not self.batch_failures:
            return None
        return f"batch of run {self.run_id} failed " + "; ".join(f.line() for f in self.batch_failures)


@dataclass
class ValidationSummary:
    """What one validate step did, over every portal batch it validated."""

    portals: list[PortalValidation] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.portals)

    @property
    def passed(self) -> dict[str, int]:
        """Rows that passed, per portal."""
        return _per_portal(self.portals, "passed")

    @property
    def quarantined(self) -> dict[str, int]:
        """Rows quarantined, per portal."""
        return _per_portal(self.portals, "quarantined")

    def failure_message(self) -> str:
        """Every failed batch with what it failed and example rows, for people to read."""
        failed = [p for p in self.portals if not p.ok]
        lines = [f"validation failed: {len(failed)} portal batches failed"]
        for portal in failed:
            if portal.error is not None:
                lines.append(f"  {portal.site} (run {portal.run_id}): not validated: {portal.error}")
            for failure in portal.batch_failures:
                lines.append(f"  {portal.site} (run {portal.run_id}): {failure.line()}")
                lines.extend(f"      e.g. {example}" for example in failure.examples)
            if portal.report:
                lines.append(f"      report: {portal.report}")
        return "\n".join(lines)


def _per_portal(portals: list[PortalValidation], attribute: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for portal in portals:
        counts[portal.site] = counts.get(portal.site, 0) + int(getattr(portal, attribute))
    return counts


# -- which batches ------------------------------------------------------------------------
Batches = dict[str, list[tuple[Site, Path]]]


def pending_batches(
    layout: DataLayout, sites: list[Site], run_id: str | None = None, *, revalidate: bool = False
) -> Batches:
    """The extracted batches to validate, by run: one run's (always), or every batch that
    has no validated counterpart or was extracted again since (all of them with
    ``revalidate``)."""
    runs: Batches = {}
    for site in sites:
        if run_id is not None:
            path = layout.extracted_path(site.slug, run_id)
            candidates = [path] if path.exists() else []
        else:
            candidates = [p for p in layout.extracted_files(site.slug) if revalidate or is_stale(layout, site.slug, p)]
        for path in candidates:
            runs.setdefault(DataLayout.run_id_of(path), []).append((site, path))
    return dict(sorted(runs.items()))


def is_stale(layout: DataLayout, site: str, extracted: Path) -> bool:
    """True when an extracted batch has not been validated since it was written."""
    validated = layout.validated_path(site, DataLayout.run_id_of(extracted))
    return not validated.exists() or validated.stat().st_mtime_ns < extracted.stat().st_mtime_ns


# -- article counts between runs ------------------------------------------------------------
def _read_counts(layout: DataLayout, site: str) -> dict[str, int]:
    path = layout.article_counts_path(site)
    if not path.exists():
        return {}
    return {str(k): int(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


def previous_counts(layout: DataLayout, site: str, run_id: str) -> list[int]:
    """Article counts of the portal's runs before this one, oldest first."""
    counts = _read_counts(layout, site)
    return [counts[r] for r in sorted(counts) if r < run_id]


def record_count(layout: DataLayout, site: str, run_id: str, count: int) -> None:
    counts = _read_counts(layout, site)
    counts[run_id] = count
    write_atomic(layout.article_counts_path(site), json.dumps(dict(sorted(counts.items())), indent=0))


# -- the extractor's rejections ---------------------------------------------------------------
def split_rejected(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The batch's articles (without the ``rejection`` column, as the suites check them) and
    its rejected pages. A batch written before rejections were kept has only articles."""
    if REJECTION.name not in table.column_names:
        return table, table.slice(0, 0).append_column(REJECTION, pa.array([], pa.string()))
    kept = pc.is_null(table.column(REJECTION.name))
    return table.filter(kept).drop_columns([REJECTION.name]), table.filter(pc.invert(kept))


def rejection_counts(rejected: pa.Table) -> dict[str, int]:
    """Rejected pages per reason (numbers folded: "not_article: N words")."""
    return dict(Counter(reason_group(str(r)) for r in rejected.column(REJECTION.name).to_pylist()).most_common())


def rejected_share_failure(rejected: pa.Table, pages: int, thresholds: ValidateThresholds) -> BatchFailure | None:
    """The batch failure when more article pages were rejected than the portal allows,
    naming the reasons; None when within bounds."""
    count = rejected.num_rows
    if not pages or count / pages <= thresholds.max_rejected_share:
        return None
    reasons = ", ".join(f"{reason} x{n}" for reason, n in rejection_counts(rejected).items())
    detail = (
        f"{count} of {pages} article pages rejected by the extractor ({count / pages:.0%}; "
        f"at most {thresholds.max_rejected_share:.0%} allowed): {reasons}"
    )
    examples = [
        f"{url} ({reason})"
        for url, reason in zip(
            rejected.column("url").to_pylist()[:3], rejected.column(REJECTION.name).to_pylist()[:3], strict=True
        )
    ]
    return BatchFailure(REJECTED_SHARE, "the extractor's rejections", detail, examples)


# -- writing --------------------------------------------------------------------------------
def _write_parquet(layout: DataLayout, table: pa.Table, path: Path) -> None:
    """Written aside on the same file system, then renamed into place."""
    layout.staging.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = layout.staging / f"validate-{os.getpid()}-{path.parent.name}-{path.name}"
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with exactly the schema's columns, cast to its types; a missing column is
    null. Raises an Arrow error when a column cannot be cast."""
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


# A held row's columns before the names of what it failed (and the run's columns) are added.
_HELD_ROW = pa.schema([*QUARANTINED_ARTICLE_SCHEMA, REJECTION])
_FAILED_EXPECTATIONS = QUARANTINE_SCHEMA.field("failed_expectations")


def split_batch(articles: pa.Table, rejected: pa.Table, verdict: Verdict) -> tuple[pa.Table, pa.Table]:
    """The batch's passing rows (articles schema) and held rows (quarantine schema without
    the run columns): the articles that failed, with the names of what they failed, and the
    rejected pages, under ``rejected_by_extractor`` (and the batch's failures, when it
    failed as a whole). Every row lands in exactly one of the two."""
    passing = pa.array([verdict.passes(i) for i in range(articles.num_rows)], pa.bool_())
    failing_rows = [i for i in range(articles.num_rows) if not verdict.passes(i)]
    passed = _conform(articles.filter(passing), ARTICLE_SCHEMA)
    failed = _conform(articles.take(pa.array(failing_rows, pa.int64())), _HELD_ROW)
    failed = failed.append_column(
        _FAILED_EXPECTATIONS,
        pa.array([verdict.failed_expectations(i) for i in failing_rows], pa.list_(pa.string())),
    )
    batch_names = [f.name for f in verdict.batch_failures]
    held_rejected = _conform(rejected, _HELD_ROW)
    held_rejected = held_rejected.append_column(
        _FAILED_EXPECTATIONS,
        pa.array([[REJECTED_BY_EXTRACTOR, *batch_names]] * rejected.num_rows, pa.list_(pa.string())),
    )
    return passed, pa.concat_tables([failed, held_rejected])


def _write_split(
    layout: DataLayout,
    site: str,
    run_id: str,
    articles: pa.Table,
    rejected: pa.Table,
    verdict: Verdict,
    validated_at: datetime,
) -> tuple[int, int]:
    """Quarantine first, then the validated batch, which marks the batch as done. A batch
    with nothing to hold still gets its quarantine file, with no rows, so the quarantine is a
    dataset that a query can read from the first validation on (and a batch validated again
    after a fix leaves nothing held)."""
    passed, held = split_batch(articles, rejected, verdict)
    n = held.num_rows
    held = held.append_column(QUARANTINE_SCHEMA.field("run_id"), pa.array([run_id] * n, pa.string()))
    held = held.append_column(
        QUARANTINE_SCHEMA.field("validated_at"), pa.array([validated_at] * n, pa.timestamp("us", tz="UTC"))
    )
    _write_parquet(layout, held, layout.quarantine_path(site, run_id))
    _write_parquet(layout, passed, layout.validated_path(site, run_id))
    return passed.num_rows, held.num_rows


def read_quarantine(layout: DataLayout) -> pa.Table:
    """The quarantine dataset, with its ``run_date`` partition column, or an empty table."""
    files = sorted(layout.quarantine.glob("run_date=*/*.parquet"))
    partition = pa.field("run_date", pa.string())
    if not files:
        return QUARANTINE_SCHEMA.empty_table().append_column(partition, pa.array([], pa.string()))
    dataset = ds.dataset(
        files,
        format="parquet",
        schema=QUARANTINE_SCHEMA.append(partition),
        partitioning=ds.partitioning(pa.schema([partition]), flavor="hive"),
        partition_base_dir=str(layout.quarantine),
    )
    return dataset.to_table()


def _relative(layout: DataLayout, path: Path) -> str:
    try:
        return str(path.relative_to(layout.root))
    except ValueError:
        return str(path)


def _update_results(layout: DataLayout, run_id: str, entries: dict[str, dict[str, Any]], report: Path) -> None:
    """Merge this call's portals into the run's results file."""
    path = layout.validation_results_path(run_id)
    results: dict[str, Any] = {}
    if path.exists():
        results = json.loads(path.read_text(encoding="utf-8"))
    results.update(
        {
            "run_id": run_id,
            "report": _relative(layout, report),
            "suite_versions": suite_versions(),
        }
    )
    results.setdefault("portals", {}).update(entries)
    results["portals"] = dict(sorted(results["portals"].items()))
    write_atomic(path, json.dumps(results, ensure_ascii=False, indent=1))


def _report_page(docs: Path, site: str) -> Path | None:
    pages = sorted(docs.glob(f"validations/article/*/*/*-{site}.html"))
    return pages[-1] if pages else None


def quarantine_reasons(articles: int, rejected: pa.Table, verdict: Verdict) -> dict[str, int]:
    """Each quarantined row once, under what it failed: an article under the names of the
    expectations it failed (joined with "+"), a rejected page under the extractor's reason."""
    reasons: Counter[str] = Counter(
        "+".join(verdict.failed_expectations(i)) for i in range(articles) if not verdict.passes(i)
    )
    for reason, count in rejection_counts(rejected).items():
        reasons[f"{REJECTED_BY_EXTRACTOR}: {reason}"] += count
    return dict(sorted(reasons.items()))


def validate_run(
    layout: DataLayout, run_id: str, batches: list[tuple[Site, Path]], progress: Progress = _quiet
) -> tuple[list[PortalValidation], Path]:
    """Validate one run's batches with one GX context; what was done per portal, and the
    run's report. A batch that cannot be quarantined is left as it is, to be validated
    again, and its portal says why."""
    from expectations.gate import QualityGate  # imports Great Expectations: seconds

    portals: list[PortalValidation] = []
    entries: dict[str, dict[str, Any]] = {}
    # One validation of a run at a time: its report is rebuilt from all its results.
    with exclusive_lock(layout.validation_lock_path(run_id)):
        gate = QualityGate(run_id, run_time(run_id), layout.validation_dir(run_id))
        for site, path in batches:
            portal = PortalValidation(site=site.slug, run_id=run_id)
            portals.append(portal)
            table = pq.read_table(path)
            articles, rejected = split_rejected(table)
            least, why = min_articles(previous_counts(layout, site.slug, run_id), site.validate)
            verdict = gate.check(site, articles, min_articles=least, count_context=why)
            too_many = rejected_share_failure(rejected, table.num_rows, site.validate)
            if too_many is not None:
                verdict.batch_failures.append(too_many)
            validated_at = datetime.now(UTC)
            try:
                passed, quarantined = _write_split(layout, site.slug, run_id, articles, rejected, verdict, validated_at)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                portal.error = f"{path}: cannot be quarantined ({exc}); left to be validated again"
                progress("validate " + portal.line())
                continue
            record_count(layout, site.slug, run_id, articles.num_rows)
            failed_rows: dict[str, int] = {}
            for names in [*verdict.row_failures, *([[REJECTED_BY_EXTRACTOR]] * rejected.num_rows)]:
                for name in names:
                    failed_rows[name] = failed_rows.get(name, 0) + 1
            portal.pages, portal.rejected = table.num_rows, rejected.num_rows
            portal.passed, portal.quarantined = passed, quarantined
            portal.failed_rows, portal.rejections = failed_rows, rejection_counts(rejected)
            portal.quarantine_reasons = quarantine_reasons(articles.num_rows, rejected, verdict)
            portal.batch_failures = verdict.batch_failures
            entries[site.slug] = {
                **{k: v for k, v in asdict(portal).items() if k not in ("site", "run_id", "report", "report_page")},
                "extracted": _relative(layout, path),
                "validated": _relative(layout, layout.validated_path(site.slug, run_id)),
                "quarantine": _relative(layout, layout.quarantine_path(site.slug, run_id)) if quarantined else None,
                "min_articles": least,
                "article_count_basis": why,
                "validated_at": validated_at.isoformat(),
            }
            progress("validate " + portal.line())
            for failure in verdict.batch_failures:
                progress(f"validate {site.slug}: FAILED {failure.line()}")
        report = gate.build_report()
        for portal in portals:
            portal.report = str(report)
            if portal.site not in entries:
                continue
            page = _report_page(report.parent, portal.site)
            portal.report_page = str(page) if page else None
            entries[portal.site]["report_page"] = _relative(layout, page) if page else None
        _update_results(layout, run_id, entries, report)
    return portals, report


def validate_batches(layout: DataLayout, runs: Batches, progress: Progress = _quiet) -> ValidationSummary:
    """Validate the given batches, run by run (one GX context each), and say where each
    run's report is. A failed batch is in its portal's :class:`PortalValidation`; nothing
    is raised for it."""
    summary = ValidationSummary()
    for run_id, batches in runs.items():
        portals, report = validate_run(layout, run_id, batches, progress)
        summary.portals += portals
        summary.reports[run_id] = str(report)
        progress(f"validate report: {report}")
    if not runs:
        progress("validate: no extracted batches to validate")
    return summary

"""The validate step: extracted batches -> validated batches and the quarantine.

For each portal's extracted batch of a run (``extracted/<site>/<run_id>.parquet``) the
data-quality gate (:mod:`expectations.gate`) runs the ``article`` and ``portal_batch``
suites, and every row is written to exactly one of:

* ``validated/<site>/<run_id>.parquet``: the rows that passed (what publish reads);
* ``quarantine/run_date=YYYY-MM-DD/<site>-<run_id>.parquet``: the rows that failed, with
  ``failed_expectations`` (the names of what they failed), ``run_id`` and ``validated_at``.

When a batch fails a batch-level expectation (schema, undated share, empty bodies, article
count against the portal's recent runs), all its rows go to quarantine and, once every batch
has been handled, the step raises :class:`ValidationFailed`, naming what failed with
example rows. A run's findings go to ``validation/<run_id>/results.json`` and its report to
``validation/<run_id>/docs/index.html`` (GX Data Docs). Extracted batches are never changed
or removed, and a batch is validated again when it is re-extracted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from expectations.suites import min_articles, suite_versions
from expectations.verdict import BatchFailure, Verdict
from kernel.layout import DataLayout, exclusive_lock, run_time, write_atomic
from kernel.registry import Site
from kernel.schema import ARTICLE_SCHEMA, QUARANTINE_SCHEMA, QUARANTINED_ARTICLE_SCHEMA

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


@dataclass
class PortalValidation:
    """What validation did with one portal's batch of one run."""

    site: str
    run_id: str
    rows: int = 0
    passed: int = 0
    quarantined: int = 0
    failed_rows: dict[str, int] = field(default_factory=dict)
    batch_failures: list[BatchFailure] = field(default_factory=list)
    report_page: str | None = None

    @property
    def ok(self) -> bool:
        return not self.batch_failures

    def line(self) -> str:
        text = f"{self.site}: {self.rows} articles, {self.passed} passed, {self.quarantined} quarantined"
        if self.failed_rows:
            text += " (" + ", ".join(f"{name} {n}" for name, n in sorted(self.failed_rows.items())) + ")"
        if self.batch_failures:
            text += "; batch FAILED: " + ", ".join(f.name for f in self.batch_failures)
        return text


@dataclass
class ValidationSummary:
    """What one validate step did, over every portal batch it validated."""

    portals: list[PortalValidation] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(p.ok for p in self.portals)

    @property
    def report_path(self) -> Path | None:
        """The Data Docs index of the newest run validated."""
        return Path(self.reports[max(self.reports)]) if self.reports else None

    @property
    def passed(self) -> dict[str, int]:
        """Rows that passed, per portal."""
        return _per_portal(self.portals, "passed")

    @property
    def quarantined(self) -> dict[str, int]:
        """Rows quarantined, per portal."""
        return _per_portal(self.portals, "quarantined")

    def line(self) -> str:
        rows = sum(p.rows for p in self.portals)
        portals = len({p.site for p in self.portals})
        text = (
            f"{rows} articles from {portals} portals: {sum(self.passed.values())} passed, "
            f"{sum(self.quarantined.values())} quarantined"
        )
        failed = [p for p in self.portals if not p.ok]
        if failed:
            text += f"; {len(failed)} portal batches FAILED"
        return text

    def failure_message(self) -> str:
        failed = [p for p in self.portals if not p.ok]
        head = f"validation failed: {len(failed)} portal batches failed their batch-level expectations"
        if self.errors:
            head += f", {len(self.errors)} batches could not be validated"
        lines = [head + (f" (report: {self.report_path})" if self.report_path else "")]
        for portal in failed:
            for failure in portal.batch_failures:
                lines.append(f"  {portal.site} (run {portal.run_id}): {failure.line()}")
                lines.extend(f"      e.g. {example}" for example in failure.examples)
        lines.extend(f"  {error}" for error in self.errors)
        return "\n".join(lines)


def _per_portal(portals: list[PortalValidation], attribute: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for portal in portals:
        counts[portal.site] = counts.get(portal.site, 0) + int(getattr(portal, attribute))
    return counts


class ValidationFailed(Exception):  # noqa: N818 (the name the CLI and the DAG catch)
    """Some portal batch failed its batch-level expectations (or could not be validated).
    Everything else was written; ``summary`` says what was done."""

    def __init__(self, summary: ValidationSummary) -> None:
        self.summary = summary
        super().__init__(summary.failure_message())


# -- which batches ------------------------------------------------------------------------
def pending_batches(
    layout: DataLayout, sites: list[Site], run_id: str | None = None, *, revalidate: bool = False
) -> dict[str, list[tuple[Site, Path]]]:
    """The extracted batches to validate, by run: one run's (always), or every batch that
    has no validated counterpart or was extracted again since (all of them with
    ``revalidate``)."""
    runs: dict[str, list[tuple[Site, Path]]] = {}
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


def split_batch(table: pa.Table, verdict: Verdict) -> tuple[pa.Table, pa.Table]:
    """The batch's passing rows (articles schema) and failing rows (quarantine schema,
    without the run columns): every row lands in exactly one."""
    passing = pa.array([verdict.passes(i) for i in range(table.num_rows)], pa.bool_())
    failing_rows = [i for i in range(table.num_rows) if not verdict.passes(i)]
    passed = _conform(table.filter(passing), ARTICLE_SCHEMA)
    failed = _conform(table.take(pa.array(failing_rows, pa.int64())), QUARANTINED_ARTICLE_SCHEMA)
    reasons = pa.array([verdict.failed_expectations(i) for i in failing_rows], pa.list_(pa.string()))
    return passed, failed.append_column(QUARANTINE_SCHEMA.field("failed_expectations"), reasons)


def _write_split(
    layout: DataLayout, site: str, run_id: str, table: pa.Table, verdict: Verdict, validated_at: datetime
) -> tuple[int, int]:
    """Quarantine first, then the validated batch, which marks the batch as done."""
    passed, failed = split_batch(table, verdict)
    quarantine = layout.quarantine_path(site, run_id)
    if failed.num_rows:
        n = failed.num_rows
        failed = failed.append_column(QUARANTINE_SCHEMA.field("run_id"), pa.array([run_id] * n, pa.string()))
        failed = failed.append_column(
            QUARANTINE_SCHEMA.field("validated_at"), pa.array([validated_at] * n, pa.timestamp("us", tz="UTC"))
        )
        _write_parquet(layout, failed, quarantine)
    else:
        quarantine.unlink(missing_ok=True)  # validated again after a fix: nothing left to hold
    _write_parquet(layout, passed, layout.validated_path(site, run_id))
    return passed.num_rows, failed.num_rows


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


def validate_run(
    layout: DataLayout, run_id: str, batches: list[tuple[Site, Path]], progress: Progress = _quiet
) -> tuple[list[PortalValidation], Path, list[str]]:
    """Validate one run's batches; returns what was done per portal, the report, and the
    batches that could not be validated (left as they are, to be validated again)."""
    from expectations.gate import QualityGate  # imports Great Expectations: seconds

    portals: list[PortalValidation] = []
    errors: list[str] = []
    entries: dict[str, dict[str, Any]] = {}
    run_dir = layout.validation_dir(run_id)
    # One validation of a run at a time: its report is rebuilt from all its results.
    with exclusive_lock(layout.validation_lock_path(run_id)):
        gate = QualityGate(run_id, run_time(run_id), run_dir)
        for site, path in batches:
            table = pq.read_table(path)
            least, why = min_articles(previous_counts(layout, site.slug, run_id), site.validate)
            verdict = gate.check(site, table, min_articles=least, count_context=why)
            validated_at = datetime.now(UTC)
            try:
                passed, quarantined = _write_split(layout, site.slug, run_id, table, verdict, validated_at)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                errors.append(f"{path}: cannot be quarantined ({exc}); left to be validated again")
                progress(f"validate {site.slug}: {errors[-1]}")
                continue
            record_count(layout, site.slug, run_id, table.num_rows)
            failed_rows: dict[str, int] = {}
            for names in verdict.row_failures:
                for name in names:
                    failed_rows[name] = failed_rows.get(name, 0) + 1
            portal = PortalValidation(
                site=site.slug,
                run_id=run_id,
                rows=table.num_rows,
                passed=passed,
                quarantined=quarantined,
                failed_rows=failed_rows,
                batch_failures=verdict.batch_failures,
            )
            portals.append(portal)
            entries[site.slug] = {
                **{k: v for k, v in asdict(portal).items() if k not in ("site", "run_id", "report_page")},
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
            page = _report_page(report.parent, portal.site)
            portal.report_page = str(page) if page else None
            entries[portal.site]["report_page"] = _relative(layout, page) if page else None
        _update_results(layout, run_id, entries, report)
    return portals, report, errors


def validate(
    sites: list[Site],
    data_dir: Path,
    *,
    run_id: str | None = None,
    revalidate: bool = False,
    progress: Progress = _quiet,
) -> ValidationSummary:
    """Validate one run's extracted batches (``run_id``), or every batch not yet validated
    (all of them with ``revalidate``). Raises :class:`ValidationFailed` after writing
    everything when a batch failed its batch-level expectations."""
    layout = DataLayout(data_dir)
    summary = ValidationSummary()
    for rid, batches in pending_batches(layout, sites, run_id, revalidate=revalidate).items():
        portals, report, errors = validate_run(layout, rid, batches, progress)
        summary.portals += portals
        summary.errors += errors
        summary.reports[rid] = str(report)
    if summary.reports:
        progress("validate " + summary.line())
        for index in summary.reports.values():
            progress(f"validate report: {index}")
    else:
        progress("validate: no extracted batches to validate")
    if not summary.ok:
        raise ValidationFailed(summary)
    return summary


def unvalidated_batches(layout: DataLayout, sites: list[Site]) -> list[Path]:
    """Extracted batches that publish will not see until they are validated."""
    return [p for site in sites for p in layout.extracted_files(site.slug) if is_stale(layout, site.slug, p)]

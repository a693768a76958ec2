"""The data-quality gate: Great Expectations run on one portal's batch of one run.

One :class:`QualityGate` per run holds an ephemeral GX context whose validation results
store and Data Docs site live under the run's folder (``validation/<run_id>/gx`` and
``.../docs``), so results from several calls for the same run add up in one report, and
validating a portal's batch again replaces its earlier result (the results are keyed by
run, suite and portal). The suites come from the versioned JSON in
``expectations/suites/``; the batch is a pandas dataframe: the extracted Parquet batch as
read, plus the derived columns of :mod:`expectations.columns`.

:meth:`QualityGate.check` returns a :class:`Verdict`: for every row, the names of the
row-level (``article``) expectations it failed, read from GX's unexpected-row lists
(``result_format`` COMPLETE, rows named by ``batch_row``); and the batch-level
(``portal_batch``) expectations the batch failed, each with a sentence and example rows.
A row-level expectation that GX could not evaluate fails the batch as well.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
import pyarrow as pa
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from expectations import report
from expectations.columns import with_derived_columns
from expectations.suites import (
    ARTICLE,
    PORTAL_BATCH,
    SUITE_NAMES,
    SuiteError,
    article_parameters,
    batch_parameters,
    suite_definition,
    suite_path,
)
from expectations.verdict import BatchFailure, Verdict
from kernel.registry import Site

ROW_ID_COLUMNS = ["batch_row", "article_id", "url"]
EXAMPLES = 3
_DATASOURCE = "vnportals"

# GX logs every expectation it cannot build and every metric it cannot compute at ERROR with
# a traceback; the gate reports those itself, in one line naming the expectation.
for _noisy in ("great_expectations.core.expectation_suite", "great_expectations.validator.validator"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Nullable integer dtypes, so a column with nulls keeps its integer type."""
    ints = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}
    return table.to_pandas(types_mapper=ints.get)


def _expectation_label(config: Any) -> str:
    column = config.kwargs.get("column")
    return f"{config.type}({column})" if column else str(config.type)


def _raised(result: Any) -> str | None:
    """GX's exception message when it could not evaluate the expectation, else None."""
    info = result.exception_info or {}
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "error").splitlines()[0]
    return None


class QualityGate:
    """The suites, a GX context and a Data Docs site for one run."""

    def __init__(self, run_id: str, run_time: datetime, run_dir: Path) -> None:
        self.run_id = run_id
        self.run_time = run_time
        self.docs_dir = run_dir / "docs"
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        config.stores[config.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(run_dir / "gx")},
        }
        config.data_docs_sites = {report.SITE_NAME: report.site_config(self.docs_dir)}
        self.context = gx.get_context(project_config=config, mode="ephemeral")
        self.datasource = self.context.data_sources.add_pandas(_DATASOURCE)
        self.suites = {name: self._add_suite(name) for name in SUITE_NAMES}
        self._batches: dict[str, Any] = {}
        self._definitions: dict[str, Any] = {}

    def _add_suite(self, name: str) -> Any:
        definition = suite_definition(name)
        # The report names each expectation as the quarantine and the messages do.
        expectations = [
            {**e, "notes": f"{e['meta']['name']}: {e.get('notes') or ''}"} for e in definition["expectations"]
        ]
        try:
            suite = gx.ExpectationSuite(name=name, expectations=expectations, meta=definition["meta"])
        except ValueError as exc:  # pydantic's validation errors included
            raise SuiteError(f"{suite_path(name)}: {' '.join(str(exc).split())}") from exc
        if len(suite.expectations) != len(definition["expectations"]):
            loaded = {(e.meta or {}).get("name") for e in suite.expectations}
            lost = [e["meta"]["name"] for e in definition["expectations"] if e["meta"]["name"] not in loaded]
            raise SuiteError(f"{suite_path(name)}: GX rejected the expectations {lost}")
        return self.context.suites.add(suite)

    def _definition(self, site: str, suite: str) -> Any:
        key = f"{site}.{suite}"
        if key not in self._definitions:
            if site not in self._batches:
                asset = self.datasource.add_dataframe_asset(name=site)
                self._batches[site] = asset.add_batch_definition_whole_dataframe(site)
            self._definitions[key] = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=key, data=self._batches[site], suite=self.suites[suite])
            )
        return self._definitions[key]

    def run_suite(
        self, site: str, suite: str, frame: pd.DataFrame, parameters: dict[str, Any], fmt: str = "SUMMARY"
    ) -> Any:
        """One suite on one dataframe (the batch with its derived columns); GX's result."""
        return self._definition(site, suite).run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            result_format={
                "result_format": fmt,
                "unexpected_index_column_names": ROW_ID_COLUMNS,
                "partial_unexpected_count": EXAMPLES,
                "return_unexpected_index_query": False,
            },
            run_id=RunIdentifier(run_name=self.run_id, run_time=self.run_time),
        )

    def check(self, site: Site, table: pa.Table, *, min_articles: int, count_context: str = "") -> Verdict:
        """Run both suites on one portal's extracted batch."""
        frame = to_pandas(with_derived_columns(table))
        rows = len(frame)
        verdict = Verdict(site=site.slug, rows=rows, row_failures=[[] for _ in range(rows)], batch_failures=[])

        article_result = self.run_suite(site.slug, ARTICLE, frame, article_parameters(site, self.run_time), "COMPLETE")
        for result in article_result.results:
            name = str(result.expectation_config.meta["name"])
            error = _raised(result)
            if error is not None:
                label = _expectation_label(result.expectation_config)
                verdict.batch_failures.append(BatchFailure(name, label, f"could not be evaluated: {error}"))
                continue
            if result.success:
                continue
            rows_failed = sorted({int(e["batch_row"]) for e in result.result.get("unexpected_index_list") or []})
            if not rows_failed:  # failed without naming its rows: hold the batch, publish nothing on faith
                label = _expectation_label(result.expectation_config)
                verdict.batch_failures.append(BatchFailure(name, label, "failed without naming the rows"))
            for row in rows_failed:
                verdict.row_failures[row].append(name)

        parameters = batch_parameters(site.validate, min_articles)
        batch_result = self.run_suite(site.slug, PORTAL_BATCH, frame, parameters, "SUMMARY")
        for result in batch_result.results:
            if result.success:
                continue
            config = result.expectation_config
            name = str(config.meta["name"])
            error = _raised(result)
            detail = (
                f"could not be evaluated: {error}"
                if error is not None
                else _detail(name, config, result.result, rows, site, min_articles, count_context)
            )
            example_rows = [int(e["batch_row"]) for e in result.result.get("partial_unexpected_index_list") or []]
            failure = BatchFailure(name, _expectation_label(config), detail, _examples(frame, example_rows))
            verdict.batch_failures.append(failure)
        return verdict

    def build_report(self) -> Path:
        """Build (or rebuild) the run's Data Docs from every result stored for the run."""
        self.context.build_data_docs(site_names=[report.SITE_NAME])
        report.share_static_assets(self.docs_dir, self.docs_dir.parent.parent / ".static")
        return self.docs_dir / "index.html"


def _examples(frame: pd.DataFrame, rows: list[int]) -> list[str]:
    examples = []
    for row in rows[:EXAMPLES]:
        record = frame.iloc[row]
        title = record.get("title")
        title = "" if not isinstance(title, str) else (title if len(title) <= 70 else title[:69] + "…")
        examples.append(f'{record.get("url")} "{title}"')
    return examples


def _detail(
    name: str,
    config: Any,
    result: dict[str, Any],
    rows: int,
    site: Site,
    min_articles: int,
    count_context: str,
) -> str:
    """One sentence saying what a failed batch-level expectation found."""
    observed = result.get("observed_value")
    thresholds = site.validate
    if name == "article_count":
        return f"{observed} articles, at least {min_articles} expected ({count_context})"
    if name == "dated_share":
        undated = int(result.get("unexpected_count") or 0)
        return (
            f"{undated} of {rows} articles have no date ({undated / max(rows, 1):.0%}; "
            f"at most {thresholds.max_undated_share:.0%} allowed)"
        )
    if name == "nonempty_body_share":
        empty = int(result.get("unexpected_count") or 0)
        return (
            f"{empty} of {rows} articles have an empty body ({empty / max(rows, 1):.0%}; "
            f"at most {thresholds.max_empty_body_share:.0%} allowed)"
        )
    if name == "columns":
        expected = list(config.kwargs.get("column_list") or [])
        found = list(observed or [])
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        if missing or extra:
            return f"columns differ from the articles schema: missing {missing}, unexpected {extra}"
        return "columns are in a different order than the articles schema"
    if name.startswith("type_"):
        return f"{config.kwargs.get('column')} is {observed}, expected {config.kwargs.get('type_')}"
    return f"observed {observed!r}"

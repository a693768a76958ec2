"""The data-quality gate: Great Expectations run on each portal's batch of a run.

Validation is paid once per process. Importing GX (seconds) happens when this module is
first imported, and one GX context (:func:`engine`: the two suites from the versioned JSON in
``expectations/suites/``, a pandas data source, one data asset per portal) serves every
:class:`QualityGate` of the process, whatever the run; it is built again only when a suite
file changes. A gate is one run's view on it: it validates portal batches and writes each
result into the run's own results store, ``validation/<run_id>/gx/`` (keyed by run, suite
and portal, so validating a portal's batch again replaces its result, and several calls for
one run add up), from which :meth:`QualityGate.build_report` builds the run's Data Docs,
``validation/<run_id>/docs/`` (see :mod:`expectations.report`). The batch is a pandas
dataframe: the extracted Parquet batch as read, plus the derived columns of
:mod:`expectations.columns`.

:meth:`QualityGate.check` returns a :class:`Verdict`: for every row, the names of the
row-level (``article``) expectations it failed; and the batch-level (``portal_batch``)
expectations the batch failed, each with a sentence and example rows. A row-level
expectation that GX could not evaluate, or whose failing rows GX does not name in full,
fails the batch as well.

Result format. Production validates with GX's SUMMARY format: a result keeps its counts
and up to :data:`REPORT_EXAMPLES` failing rows, so results and report pages stay small
however many rows fail. The quarantine still needs every failing row: when row-level
expectations failed on more rows than their results list, the gate asks GX again for those
expectations alone, in one run in the COMPLETE format (not stored), so the row verdicts are
GX's own in both formats. The batch-level suite is always SUMMARY: its messages need only
examples. Tests use COMPLETE (``VNPORTALS_VALIDATION_RESULT_FORMAT=COMPLETE`` or
the ``result_format`` argument); ``tests/test_gate.py`` checks that the verdicts are equal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
import pyarrow as pa
from great_expectations.constants import DATAFRAME_REPLACEMENT_STR
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.render.renderer.page_renderer import ValidationResultsPageRenderer
from great_expectations.render.renderer.site_builder import SiteBuilder
from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from great_expectations.validator.v1_validator import Validator
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

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
EXAMPLES = 3  # example rows in a failure message
# Failing rows a SUMMARY result lists per expectation (GX's default partial_unexpected_count).
REPORT_EXAMPLES = 20
SUMMARY, COMPLETE = "SUMMARY", "COMPLETE"
RESULT_FORMAT_ENV = "VNPORTALS_VALIDATION_RESULT_FORMAT"
_DATASOURCE = "vnportals"

# GX logs every expectation it cannot build and every metric it cannot compute at ERROR with
# a traceback; the gate reports those itself, in one line naming the expectation.
for _noisy in ("great_expectations.core.expectation_suite", "great_expectations.validator.validator"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Nullable integer dtypes, so a column with nulls keeps its integer type."""
    ints = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}
    return table.to_pandas(types_mapper=ints.get)


def result_format_setting(value: str | None = None) -> str:
    """SUMMARY or COMPLETE: the value given, else ``VNPORTALS_VALIDATION_RESULT_FORMAT``, else
    SUMMARY. Anything else is an error naming the setting."""
    chosen = (value or os.environ.get(RESULT_FORMAT_ENV) or SUMMARY).strip().upper()
    if chosen not in (SUMMARY, COMPLETE):
        raise ValueError(f"{RESULT_FORMAT_ENV}: {chosen!r} is not a result format (SUMMARY or COMPLETE)")
    return chosen


def _result_format(fmt: str) -> dict[str, Any]:
    return {
        "result_format": fmt,
        "unexpected_index_column_names": ROW_ID_COLUMNS,
        "partial_unexpected_count": REPORT_EXAMPLES,
        # For pandas the query is the whole list of failing indices again, as a string.
        "return_unexpected_index_query": False,
    }


# -- the process's GX context -----------------------------------------------------------------
@dataclass
class Engine:
    """One GX context with the suites, the data source and a data asset per portal."""

    context: Any
    datasource: Any
    suites: dict[str, Any]
    expectations: dict[str, list[dict[str, Any]]]  # each suite's expectations, as given to GX
    fingerprint: str
    _batches: dict[str, Any] = field(default_factory=dict)
    _stores: dict[Path, tuple[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def batch_definition(self, site: str) -> Any:
        """The portal's whole-dataframe batch definition; its asset names the results."""
        with self._lock:
            if site not in self._batches:
                asset = self.datasource.add_dataframe_asset(name=site)
                self._batches[site] = asset.add_batch_definition_whole_dataframe(site)
            return self._batches[site]

    def results_store(self, directory: Path) -> tuple[str, Any]:
        """The results store in ``directory`` and its name in the context (the Data Docs
        builder finds its sources by name); added once per folder."""
        with self._lock:
            if directory not in self._stores:
                name = "vnportals_results_" + hashlib.sha256(str(directory).encode()).hexdigest()[:16]
                config = {
                    "class_name": "ValidationResultsStore",
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory)},
                }
                self._stores[directory] = (name, self.context.add_store(name, config))
            return self._stores[directory]


_engine: Engine | None = None
_engine_lock = threading.Lock()
engine_builds = 0  # GX contexts this process has built (read by the tests and the benchmark)


def engine() -> Engine:
    """The process's GX context, built on first use and again only when a suite file changed."""
    global _engine, engine_builds
    definitions = {name: suite_definition(name) for name in SUITE_NAMES}
    fingerprint = hashlib.sha256(json.dumps(definitions, sort_keys=True).encode()).hexdigest()
    with _engine_lock:
        if _engine is None or _engine.fingerprint != fingerprint:
            _engine = _build_engine(definitions, fingerprint)
            engine_builds += 1
        return _engine


def _build_engine(definitions: dict[str, dict[str, Any]], fingerprint: str) -> Engine:
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    config.data_docs_sites = {}  # each run's site is built by QualityGate.build_report
    context = gx.get_context(project_config=config, mode="ephemeral")
    datasource = context.data_sources.add_pandas(_DATASOURCE)
    expectations = {name: _named(definitions[name]) for name in SUITE_NAMES}
    suites = {name: _add_suite(context, name, definitions[name], expectations[name]) for name in SUITE_NAMES}
    return Engine(context, datasource, suites, expectations, fingerprint)


def _named(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite's expectations, each note starting with the expectation's name: the report
    names each expectation as the quarantine and the messages do."""
    return [{**e, "notes": f"{e['meta']['name']}: {e.get('notes') or ''}"} for e in definition["expectations"]]


def _add_suite(context: Any, name: str, definition: dict[str, Any], expectations: list[dict[str, Any]]) -> Any:
    try:
        suite = gx.ExpectationSuite(name=name, expectations=expectations, meta=definition["meta"])
    except ValueError as exc:  # pydantic's validation errors included
        raise SuiteError(f"{suite_path(name)}: {' '.join(str(exc).split())}") from exc
    if len(suite.expectations) != len(definition["expectations"]):
        loaded = {(e.meta or {}).get("name") for e in suite.expectations}
        lost = [e["meta"]["name"] for e in definition["expectations"] if e["meta"]["name"] not in loaded]
        raise SuiteError(f"{suite_path(name)}: GX rejected the expectations {lost}")
    return context.suites.add(suite)


# -- the gate -----------------------------------------------------------------------------------
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


def _rows(listed: list[dict[str, Any]] | None) -> set[int]:
    return {int(entry["batch_row"]) for entry in listed or []}


@dataclass
class _RowFailure:
    """A row-level expectation that failed: how many rows GX counted, and which it named."""

    label: str
    count: int | None
    rows: set[int]
    complete: bool


class QualityGate:
    """One run's validation: portal batches checked on the process's GX context, results in
    ``run_dir/gx``, the report in ``run_dir/docs``."""

    def __init__(self, run_id: str, run_time: datetime, run_dir: Path, *, result_format: str | None = None) -> None:
        self.run_id = run_id
        self.run_time = run_time
        self.run_dir = run_dir.absolute()  # GX's file stores refuse relative paths
        self.docs_dir = self.run_dir / "docs"
        self.result_format = result_format_setting(result_format)
        self.engine = engine()
        self._store_name, self._store = self.engine.results_store(self.run_dir / "gx")
        self._run_identifier = RunIdentifier(run_name=run_id, run_time=run_time)
        self._site_builder: SiteBuilder | None = None
        self._unrendered: set[tuple[str, ...]] = set()  # results stored since the last build

    @property
    def context(self) -> Any:
        return self.engine.context

    def run_suite(
        self,
        site: str,
        suite: str,
        frame: pd.DataFrame,
        parameters: dict[str, Any],
        fmt: str = SUMMARY,
    ) -> Any:
        """One suite on one dataframe (the batch with its derived columns); GX's result,
        stored in the run's results store."""
        validator = Validator(
            batch_definition=self.engine.batch_definition(site),
            batch_parameters={"dataframe": frame},
            result_format=_result_format(fmt),
        )
        result = validator.validate_expectation_suite(self.engine.suites[suite], parameters)
        # What ValidationDefinition.run adds, which the Data Docs pages show.
        meta: Any = result.meta
        meta["run_id"] = self._run_identifier
        meta["validation_time"] = self.run_time
        meta["batch_parameters"] = {"dataframe": DATAFRAME_REPLACEMENT_STR}
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
            run_id=self._run_identifier,
            batch_identifier=validator.active_batch_id,
        )
        self._store.set(key, result)
        self._unrendered.add(key.to_tuple())
        return result

    def failing_rows(
        self, site: str, frame: pd.DataFrame, parameters: dict[str, Any], names: list[str]
    ) -> dict[str, tuple[int | None, set[int]]]:
        """GX's count and complete list of failing rows for the named row-level expectations:
        those expectations alone, as one suite, in the COMPLETE format (not stored)."""
        chosen = [e for e in self.engine.expectations[ARTICLE] if e["meta"]["name"] in names]
        rows_suite = gx.ExpectationSuite(name=f"{ARTICLE}.failing_rows", expectations=chosen)
        validator = Validator(
            batch_definition=self.engine.batch_definition(site),
            batch_parameters={"dataframe": frame},
            result_format=_result_format(COMPLETE),
        )
        found: dict[str, tuple[int | None, set[int]]] = {}
        for result in validator.validate_expectation_suite(rows_suite, parameters).results:
            config: Any = result.expectation_config
            count = result.result.get("unexpected_count")
            listed = _rows(result.result.get("unexpected_index_list"))
            found[str(config.meta["name"])] = (None if count is None else int(count), listed)
        return found

    def check(self, site: Site, table: pa.Table, *, min_articles: int, count_context: str = "") -> Verdict:
        """Run both suites on one portal's extracted batch."""
        frame = to_pandas(with_derived_columns(table))
        rows = len(frame)
        verdict = Verdict(site=site.slug, rows=rows, row_failures=[[] for _ in range(rows)], batch_failures=[])

        parameters = article_parameters(site, self.run_time)
        article_result = self.run_suite(site.slug, ARTICLE, frame, parameters, self.result_format)
        failures: dict[str, _RowFailure] = {}
        for result in article_result.results:
            name = str(result.expectation_config.meta["name"])
            label = _expectation_label(result.expectation_config)
            error = _raised(result)
            if error is not None:
                verdict.batch_failures.append(BatchFailure(name, label, f"could not be evaluated: {error}"))
                continue
            if result.success:
                continue
            count = result.result.get("unexpected_count")
            complete = "unexpected_index_list" in result.result
            listed = result.result.get("unexpected_index_list" if complete else "partial_unexpected_index_list")
            failures[name] = _RowFailure(label, None if count is None else int(count), _rows(listed), complete)

        truncated = [n for n, f in failures.items() if not f.complete and (f.count is None or len(f.rows) < f.count)]
        if truncated:
            for name, (count, found) in self.failing_rows(site.slug, frame, parameters, truncated).items():
                failures[name].count, failures[name].rows = count, found
        for name, failure in failures.items():
            if not failure.rows or (failure.count is not None and len(failure.rows) != failure.count):
                # Rows GX counted but did not name: hold the batch, publish nothing on faith.
                named = f"{len(failure.rows)} of {failure.count}" if failure.count is not None else "none"
                detail = f"failed without naming every row ({named} named)"
                verdict.batch_failures.append(BatchFailure(name, failure.label, detail))
            for row in sorted(failure.rows):
                verdict.row_failures[row].append(name)

        batch = self.run_suite(site.slug, PORTAL_BATCH, frame, batch_parameters(site.validate, min_articles), SUMMARY)
        for result in batch.results:
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
            example_rows = sorted(_rows(result.result.get("partial_unexpected_index_list")))
            examples = _examples(frame, example_rows)
            verdict.batch_failures.append(BatchFailure(name, _expectation_label(config), detail, examples))
        return verdict

    def build_report(self, numbers: report.Numbers | None = None) -> Path:
        """Build (or update) the run's Data Docs: a page for each result this gate stored
        since its last build and for any result of the run without one (stored by a process
        that stopped before building), the suite pages and the index of every result of the
        run; then the bundled assets and the run page (``numbers``: see
        :func:`report.write_run_page`)."""
        builder = self._builder()
        pages = builder.target_store.store_backends[ValidationResultIdentifier]
        stale = [
            key
            for key in self._store.list_keys()
            if key.to_tuple() in self._unrendered or not pages.has_key(key.to_tuple())
        ]
        # SiteBuilder.build() renders every result again and copies GX's own static files
        # (~4 MB of fonts and images that no page of ours uses); here only what changed.
        builder.site_section_builders["expectations"].build()
        if stale:
            builder.site_section_builders["validations"].build(resource_identifiers=stale)
        builder.site_index_builder.build()
        self._unrendered.clear()
        report.install_static_assets(self.docs_dir, self.run_dir.parent / ".static")
        report.write_run_page(self.docs_dir, self.run_id, numbers)
        return self.docs_dir / "index.html"

    def _builder(self) -> SiteBuilder:
        if self._site_builder is None:
            page_view = {"module_name": __name__, "class_name": OfflinePageView.__name__}
            self._site_builder = SiteBuilder(
                data_context=self.context,
                store_backend={"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self.docs_dir)},
                site_name=report.SITE_NAME,
                show_how_to_buttons=False,
                site_index_builder={
                    "class_name": "DefaultSiteIndexBuilder",
                    "show_cta_footer": False,
                    "view": {"module_name": __name__, "class_name": OfflineIndexPageView.__name__},
                },
                site_section_builders={
                    "expectations": {"view": page_view},
                    "validations": {
                        "source_store_name": self._store_name,
                        "view": page_view,
                        "renderer": {"module_name": __name__, "class_name": SampledRowsPageRenderer.__name__},
                    },
                    "profiling": "None",  # GX's spelling of "no such section"
                },
            )
        return self._site_builder


# -- the report's pages ----------------------------------------------------------------------------
class SampledRowsPageRenderer(ValidationResultsPageRenderer):
    """GX's result page renderer, naming the failing rows a SUMMARY result lists.

    GX draws the table of failing rows (``batch_row``, ``article_id``, ``url`` beside the
    value found) only from a COMPLETE result's ``unexpected_index_list``; for a SUMMARY
    result it shows the values alone. Here the rows a SUMMARY result lists (up to
    :data:`REPORT_EXAMPLES`) are drawn the same way, and GX heads the table "Sampled
    Unexpected Values" when they are not all of them. The stored result is not changed: the
    page is rendered from a copy read from the store."""

    def render(self, validation_results: Any, suite_parameters: Any = None) -> Any:
        for result in validation_results.results:
            found = result.result or {}
            listed = found.get("partial_unexpected_index_list")
            if listed and "unexpected_index_list" not in found:
                found["unexpected_index_list"] = listed
                found.setdefault("unexpected_index_column_names", ROW_ID_COLUMNS)
        return super().render(validation_results, suite_parameters)


_EXTERNAL_CSS_URL = re.compile(r"""url\(\s*(['"]?)\s*(?:https?:)?//[^)]*\)""", re.IGNORECASE)


def offline_css(css: str) -> str:
    """CSS with every ``url()`` that points off the machine replaced by ``none`` (GX's default
    styles show GX's logo from GX's web server in dark mode)."""
    return _EXTERNAL_CSS_URL.sub("none", css)


def _offline_environment(view: DefaultJinjaPageView) -> None:
    """Our templates looked up before GX's, and the filter they use."""
    loaders: list[BaseLoader] = [FileSystemLoader(str(report.TEMPLATES_DIR))]
    if view.env.loader is not None:
        loaders.append(view.env.loader)
    view.env.loader = ChoiceLoader(loaders)
    view.env.filters["offline_css"] = offline_css


def _static_root(document: Any) -> str:
    renderer_type = str(getattr(document, "renderer_type", None) or "")
    suite = getattr(document, "expectation_suite_name", None)
    return report.static_root(renderer_type, suite if isinstance(suite, str) else None)


class OfflinePageView(DefaultJinjaPageView):
    """GX's result and suite page view, rendering our templates: local assets only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offline_environment(self)

    def render(self, document: Any, template: Any = None, **kwargs: Any) -> Any:
        return super().render(document, template, static_root=_static_root(document), **kwargs)


class OfflineIndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, rendering our templates (``bootstrap_table.j2`` included: the
    index's tables as plain HTML)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offline_environment(self)

    def render(self, document: Any, template: Any = None, **kwargs: Any) -> Any:
        return super().render(document, template, static_root=_static_root(document), **kwargs)


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

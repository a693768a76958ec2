"""The two suites, read from their versioned JSON files in ``expectations/suites/``, and the
parameters that fill their ``$PARAMETER`` placeholders for one portal and one run.

* ``article`` (row level): what makes one article publishable. A row that fails any of
  these is quarantined with the names of the expectations it failed.
* ``portal_batch`` (batch level): what makes one portal's batch of a run trustworthy as a
  whole: schema and types, the share of undated articles and of empty bodies, the article
  count against the portal's recent runs. A failure fails the portal's batch. Its schema
  expectations (``columns``, ``type_<column>``) are not written in its file but built here
  from the articles schema (:data:`kernel.schema.ARTICLE_SCHEMA`, the one definition) and
  the derived columns, so the suite cannot drift from what the extractor writes.

Every expectation carries a stable ``meta.name`` ("published_at_not_null"): the name the
quarantine, the results file and the failure messages use. Thresholds are parameters, not
literals, so the same versioned suite serves every portal with its own ``[validate]``
table.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from expectations.columns import with_derived_columns
from kernel.registry import Site, ValidateThresholds
from kernel.schema import ARTICLE_SCHEMA

SUITES_DIR = Path(__file__).resolve().parent / "suites"
ARTICLE = "article"
PORTAL_BATCH = "portal_batch"
SUITE_NAMES = (ARTICLE, PORTAL_BATCH)


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file."""


def suite_path(name: str) -> Path:
    return SUITES_DIR / f"{name}.json"


def suite_definition(name: str) -> dict[str, Any]:
    """The suite's JSON, checked: its name, a version, and a unique ``meta.name`` on every
    expectation (GX drops an invalid expectation with only a log line; names let the
    caller check that none was dropped)."""
    path = suite_path(name)
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: cannot be read: {exc}") from exc
    if data.get("name") != name:
        raise SuiteError(f"{path}: 'name' must be {name!r}")
    if not isinstance(data.get("meta", {}).get("version"), int):
        raise SuiteError(f"{path}: 'meta.version' must be an integer")
    if name == PORTAL_BATCH:
        data["expectations"] = [*schema_expectations(), *data.get("expectations", [])]
    names = [str(e.get("meta", {}).get("name", "")) for e in data.get("expectations", [])]
    if not names or not all(names):
        raise SuiteError(f"{path}: every expectation needs a 'meta.name'")
    duplicate = sorted({n for n in names if names.count(n) > 1})
    if duplicate:
        raise SuiteError(f"{path}: expectation name {duplicate[0]!r} is used twice")
    return data


def pandas_type(arrow_type: pa.DataType) -> str:
    """The dtype name GX sees for a column of this Arrow type, as the gate hands the batch
    to pandas (nullable integers, pandas' string dtype, zoned timestamps)."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "str"
    if pa.types.is_timestamp(arrow_type):
        zone = f", {arrow_type.tz}" if arrow_type.tz else ""
        return f"datetime64[{arrow_type.unit}{zone}]"
    if pa.types.is_integer(arrow_type):
        return str(arrow_type).capitalize()  # int32 -> Int32: the gate maps them to nullable integers
    if pa.types.is_floating(arrow_type):
        return {16: "float16", 32: "float32", 64: "float64"}[arrow_type.bit_width]
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    raise SuiteError(f"no pandas dtype known for the Arrow type {arrow_type} of the articles schema")


def schema_expectations() -> list[dict[str, Any]]:
    """The ``portal_batch`` suite's schema expectations, from the articles schema and the
    derived columns: the columns in order, then one type expectation per column."""
    schema = with_derived_columns(ARTICLE_SCHEMA.empty_table()).schema
    expectations: list[dict[str, Any]] = [
        {
            "type": "expect_table_columns_to_match_ordered_list",
            "kwargs": {"column_list": schema.names},
            "meta": {"name": "columns"},
            "notes": "The articles schema (ARTICLE_SCHEMA in kernel/schema.py), then the derived columns.",
        }
    ]
    for column in schema:
        expectations.append(
            {
                "type": "expect_column_type_to_be",
                "kwargs": {"column": column.name, "type_": pandas_type(column.type)},
                "meta": {"name": f"type_{column.name}"},
                "notes": f"The type of {column.name} as pandas reads the batch ({column.type} in Arrow).",
            }
        )
    return expectations


def expectation_names(name: str) -> list[str]:
    return [str(e["meta"]["name"]) for e in suite_definition(name)["expectations"]]


def suite_versions() -> dict[str, int]:
    return {name: int(suite_definition(name)["meta"]["version"]) for name in SUITE_NAMES}


def portal_url_regex(domains: tuple[str, ...]) -> str:
    """http(s) URLs whose host is one of the domains or a subdomain (any port); a user-info
    trick ("https://portal.vn@elsewhere.com/") does not match."""
    hosts = "|".join(re.escape(d) for d in domains)
    return rf"(?i)^https?://(?:[a-z0-9-]+\.)*(?:{hosts})(?::\d+)?(?:[/?#]|$)"


def portal_name_regex(name: str) -> str:
    """The portal's name as a whole title, in any case and spacing."""
    return r"(?i)^\s*" + r"\s+".join(re.escape(word) for word in name.split()) + r"\s*$"


def article_parameters(site: Site, run_time: datetime) -> dict[str, Any]:
    """Values for the ``article`` suite's parameters, for one portal and one run."""
    thresholds = site.validate
    return {
        "portal_slugs": [site.slug],
        "min_body_words": thresholds.min_body_words,
        "max_body_words": thresholds.max_body_words,
        "latest_published_at": (run_time + timedelta(days=1)).isoformat(),
        "min_vietnamese_share": thresholds.min_vietnamese_share,
        "portal_name_regex": portal_name_regex(site.name),
        "portal_url_regex": portal_url_regex(site.domains),
    }


def batch_parameters(thresholds: ValidateThresholds, min_articles: int) -> dict[str, Any]:
    """Values for the ``portal_batch`` suite's parameters."""
    return {
        "min_articles": min_articles,
        "min_dated_share": round(1.0 - thresholds.max_undated_share, 6),
        "min_nonempty_body_share": round(1.0 - thresholds.max_empty_body_share, 6),
    }


def min_articles(previous_counts: list[int], thresholds: ValidateThresholds) -> tuple[int, str]:
    """The fewest articles a portal's batch may have, from the counts of its previous runs
    (oldest first), and a phrase saying why, for messages."""
    recent = previous_counts[-thresholds.count_history_runs :]
    if len(recent) < thresholds.min_history_runs:
        return 0, f"{len(recent)} earlier runs known, {thresholds.min_history_runs} needed to compare"
    median = statistics.median(recent)
    least = math.floor(thresholds.min_count_ratio * median)
    return least, f"median of the last {len(recent)} runs: {median:g}, ratio {thresholds.min_count_ratio:g}"

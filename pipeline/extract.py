"""The extract step: WARC records of article pages -> a Parquet batch with one row per page.

Reads ``raw/<site>/<run_id>.warc.gz`` and writes ``extracted/<site>/<run_id>.parquet``
(written aside, then renamed into place), in :data:`kernel.schema.EXTRACTED_SCHEMA`. Every
page the crawl archived as an article page (its URL matches the portal's ``article_urls``) is
one row: an article, or a page the extractor rejected (``not_article: 40 words``) or could
not extract in time or without crashing (``extraction_failed: no result within 20 s``), with
the reason in ``rejection``. Nothing is dropped here: validation sends the rejected rows to
quarantine, and re-extracting the WARC with better rules brings them back.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from warcio.exceptions import ArchiveLoadFailed

from crawlers.warc import KIND_FIELD, ReadReport, read_records
from kernel.article import Article, Rejection
from kernel.layout import DataLayout, write_atomic
from kernel.registry import Site
from kernel.schema import EXTRACTED_SCHEMA, article_row, rejected_row
from pipeline.isolation import DEFAULT_TIMEOUT_S, ExtractionError, ExtractorPool, Page
from transforms.repetition import paragraph_counts, repeated_from_counts, strip_repeated

log = logging.getLogger(__name__)

#: The kind of rejection of a page the worker gave no answer for (timeout, crash).
EXTRACTION_FAILED = "extraction_failed"


def reason_group(reason: str) -> str:
    """A rejection reason with its numbers folded, so that reasons can be counted together
    ("not_article: 40 words" and "not_article: 12 words" are "not_article: N words")."""
    return re.sub(r"\d+(?:\.\d+)?", "N", reason)


@dataclass
class ExtractSummary:
    """What the extract step did for one portal: article pages in, articles out, and the
    pages that did not become articles, by reason."""

    site: str
    pages: int = 0
    articles: int = 0
    rejected: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    batches: list[str] = field(default_factory=list)
    # Article pages read from each batch's WARC (what the run's balance starts from).
    pages_by_batch: dict[str, int] = field(default_factory=dict)

    def add(self, part: ExtractSummary) -> None:
        """Count another batch of the same portal in."""
        self.pages += part.pages
        self.articles += part.articles
        self.rejected += part.rejected
        self.failed += part.failed
        for reason, count in part.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count
        self.batches += part.batches
        self.pages_by_batch.update(part.pages_by_batch)

    def count(self, found: Article | Rejection) -> None:
        self.pages += 1
        if isinstance(found, Article):
            self.articles += 1
            return
        if found.kind == EXTRACTION_FAILED:
            self.failed += 1
        else:
            self.rejected += 1
        group = reason_group(found.reason)
        self.reasons[group] = self.reasons.get(group, 0) + 1

    def line(self) -> str:
        text = (
            f"{self.site}: {self.articles} articles from {self.pages} article pages "
            f"({self.rejected} rejected, {self.failed} failed)"
        )
        if self.reasons:
            text += ": " + ", ".join(f"{reason} x{n}" for reason, n in sorted(self.reasons.items()))
        return text


@dataclass(frozen=True)
class RawPage:
    """One response record of the raw archive."""

    url: str
    kind: str
    status: int
    body: bytes
    fetched_at: datetime
    charset: str | None


def read_warc(path: Path) -> Iterator[RawPage]:
    """The response records of a WARC file, with the crawl's page kind. A file cut short by
    a kill is read up to its last complete record; a file that is not a WARC at all, or a
    damaged record, raises ValueError naming it."""
    report = ReadReport()
    try:
        yield from _responses(path, report)
    except ArchiveLoadFailed as exc:
        raise ValueError(f"{path}: not a readable WARC: {exc}") from exc
    if report.records == 0 and report.cut_short and path.stat().st_size > 0 and not _gzip_start(path):
        raise ValueError(f"{path}: not a readable WARC: no gzip member at its start")


def _gzip_start(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _responses(path: Path, report: ReadReport) -> Iterator[RawPage]:
    for record in read_records(path, report):
        if record.rec_type != "response":
            continue
        url = record.rec_headers.get_header("WARC-Target-URI")
        if not url:
            raise ValueError(f"{path}: record {report.records} has no WARC-Target-URI: not a WARC, or damaged")
        kind = record.rec_headers.get_header(KIND_FIELD) or "article"
        date = record.rec_headers.get_header("WARC-Date") or ""
        try:
            fetched = datetime.fromisoformat(date.replace("Z", "+00:00"))
        except ValueError:
            fetched = datetime.now(UTC)
        ctype = record.http_headers.get_header("Content-Type") if record.http_headers else None
        charset = None
        if ctype and "charset=" in ctype.lower():
            charset = ctype.lower().split("charset=", 1)[1].split(";")[0].strip()
        status = int(record.http_headers.get_statuscode() or 0) if record.http_headers else 0
        yield RawPage(url, kind, status, record.content_stream().read(), fetched, charset)


def update_repetition(layout: DataLayout, site: str, run_id: str, bodies: list[list[str]]) -> set[str]:
    """Record this run's short paragraphs for the portal and learn its repeated ones from
    every run recorded so far (re-extracting a run replaces its counts, never adds twice)."""
    path = layout.repetition_path(site)
    state: dict[str, dict[str, Any]] = {}
    if path.exists():
        state = json.loads(path.read_text(encoding="utf-8"))
    counts, pages = paragraph_counts(bodies)
    state[run_id] = {"pages": pages, "counts": {p: n for p, n in counts.items() if n >= 2}}
    write_atomic(path, json.dumps(state, ensure_ascii=False))
    total: Counter[str] = Counter()
    for run in state.values():
        total.update(run["counts"])
    return repeated_from_counts(total, sum(int(run["pages"]) for run in state.values()))


def extract_warc(
    site: Site, warc: Path, out: Path, layout: DataLayout, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ExtractSummary:
    """Extract one WARC into one Parquet batch, each page in one of a pool of isolated workers
    (one per core) under a wall clock (a pathological page fails alone, with its URL and the
    reason)."""
    summary = ExtractSummary(site=site.slug)
    found: list[tuple[RawPage, Article | Rejection]] = []
    extracted_at = datetime.now(UTC)
    pages = [page for page in read_warc(warc) if page.kind == "article"]
    jobs = (Page(p.body, p.url, site.slug, site.extract, p.charset, expect_article=True) for p in pages)
    with ExtractorPool(timeout_s=timeout_s) as pool:
        for page, outcome in zip(pages, pool.extract_all(jobs), strict=True):
            if isinstance(outcome, ExtractionError):  # one bad page never stops the batch; kept with the reason
                log.warning("extraction failed for %s: %s", page.url, outcome)
                result: Article | Rejection = Rejection(f"{EXTRACTION_FAILED}: {outcome}")
            else:
                result = outcome
            summary.count(result)
            found.append((page, result))
    _write_batch(site, warc, out, layout, found, extracted_at)
    summary.batches.append(DataLayout.run_id_of(warc))
    summary.pages_by_batch[DataLayout.run_id_of(warc)] = summary.pages
    return summary


def _write_batch(
    site: Site,
    warc: Path,
    out: Path,
    layout: DataLayout,
    found: list[tuple[RawPage, Article | Rejection]],
    extracted_at: datetime,
) -> None:
    """Strip the portal's learned repetition from the articles and write the batch aside,
    then into place; the rejected pages keep their place in it."""
    articles = [result for _, result in found if isinstance(result, Article)]
    repeated = update_repetition(layout, site.slug, DataLayout.run_id_of(warc), [a.paragraphs for a in articles])
    rows = [
        article_row(strip_repeated(result, repeated), site.slug, page.fetched_at, extracted_at)
        if isinstance(result, Article)
        else rejected_row(page.url, site.slug, result.reason, page.fetched_at, extracted_at)
        for page, result in found
    ]
    table = pa.Table.from_pylist(rows, schema=EXTRACTED_SCHEMA)
    layout.staging.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = layout.staging / f"{out.parent.name}-{out.name}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)


def extract_batches(site: Site, data_dir: Path, run_ids: list[str]) -> ExtractSummary:
    """Extract (again) the portal's crawls of these runs, one batch each, so improved rules
    reach old pages without fetching again. A run without a WARC raises FileNotFoundError."""
    layout = DataLayout(data_dir)
    total = ExtractSummary(site=site.slug)
    for run_id in run_ids:
        warc = layout.warc_path(site.slug, run_id)
        if not warc.exists():
            raise FileNotFoundError(f"{warc}: no raw archive of run {run_id} for {site.slug}")
        total.add(extract_warc(site, warc, layout.extracted_path(site.slug, run_id), layout))
    return total


def archived_runs(layout: DataLayout, site: str, *, only_new: bool) -> list[str]:
    """The crawl runs in the portal's raw archive (oldest first); only those not extracted
    yet with ``only_new``."""
    runs = [DataLayout.run_id_of(w) for w in layout.warcs(site)]
    return [r for r in runs if not (only_new and layout.extracted_path(site, r).exists())]

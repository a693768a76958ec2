"""The extract step: WARC records of article pages -> a Parquet batch of article rows.

Reads ``raw/<site>/<run_id>.warc.gz`` and writes ``extracted/<site>/<run_id>.parquet``
(written aside, then renamed into place). Every article page ends up counted: extracted,
not an article (the extractor said None), or failed (the extractor raised; logged with
its URL).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from crawlers.warc import KIND_FIELD, read_records
from kernel.article import Article
from kernel.layout import DataLayout, write_atomic
from kernel.registry import Site
from kernel.schema import ARTICLE_SCHEMA, article_row
from pipeline.isolation import DEFAULT_TIMEOUT_S, ExtractionError, IsolatedExtractor
from transforms.repetition import paragraph_counts, repeated_from_counts, strip_repeated

log = logging.getLogger(__name__)


@dataclass
class ExtractSummary:
    """What the extract step did for one portal."""

    site: str
    pages: int = 0
    articles: int = 0
    not_articles: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def add(self, part: ExtractSummary) -> None:
        """Count another batch of the same portal in."""
        self.pages += part.pages
        self.articles += part.articles
        self.not_articles += part.not_articles
        self.failed += part.failed
        self.failures += part.failures
        self.files += part.files

    def line(self) -> str:
        return (
            f"{self.site}: {self.articles} articles from {self.pages} article pages "
            f"({self.not_articles} not articles, {self.failed} failed)"
        )


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
    """The response records of a WARC file, with the crawl's page kind (a file cut short by
    a kill is read up to its last complete record)."""
    for record in read_records(path):
        if record.rec_type != "response":
            continue
        url = record.rec_headers.get_header("WARC-Target-URI")
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
    """Extract one WARC into one Parquet batch, each page in an isolated worker under a
    wall clock (a pathological page fails alone, with its URL and the reason)."""
    summary = ExtractSummary(site=site.slug)
    found: list[tuple[Article, datetime]] = []
    extracted_at = datetime.now(UTC)
    with IsolatedExtractor(timeout_s=timeout_s) as extractor:
        for page in read_warc(warc):
            if page.kind != "article":
                continue
            summary.pages += 1
            try:
                article = extractor.extract(page.body, page.url, site.slug, hints=site.extract, charset=page.charset)
            except ExtractionError as exc:  # one bad page never stops the batch; it is counted
                summary.failed += 1
                summary.failures.append(f"{page.url}: {exc}")
                log.warning("extraction failed for %s: %s", page.url, exc)
                continue
            if article is None:
                summary.not_articles += 1
                continue
            summary.articles += 1
            found.append((article, page.fetched_at))
    return _write_batch(site, warc, out, layout, summary, found, extracted_at)


def _write_batch(
    site: Site,
    warc: Path,
    out: Path,
    layout: DataLayout,
    summary: ExtractSummary,
    found: list[tuple[Article, datetime]],
    extracted_at: datetime,
) -> ExtractSummary:
    """Strip the portal's learned repetition and write the batch aside, then into place."""
    repeated = update_repetition(layout, site.slug, DataLayout.run_id_of(warc), [a.paragraphs for a, _ in found])
    rows = [
        article_row(strip_repeated(article, repeated), site.slug, fetched_at, extracted_at)
        for article, fetched_at in found
    ]
    table = pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)
    layout.staging.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = layout.staging / f"{out.parent.name}-{out.name}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)
    summary.files.append(str(out))
    return summary


def extract_site(site: Site, data_dir: Path, *, run_id: str | None = None, reextract: bool = False) -> ExtractSummary:
    """Extract the portal's WARCs: one run's, or every one not yet extracted (all of them
    with ``reextract``), so improved rules can reach old pages without fetching again."""
    layout = DataLayout(data_dir)
    total = ExtractSummary(site=site.slug)
    warcs = [layout.warc_path(site.slug, run_id)] if run_id else layout.warcs(site.slug)
    for warc in warcs:
        if not warc.exists():
            continue
        out = layout.extracted_path(site.slug, DataLayout.run_id_of(warc))
        if out.exists() and not reextract and not run_id:
            continue
        total.add(extract_warc(site, warc, out, layout))
    return total

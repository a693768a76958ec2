"""Extracted batches for the validation tests: good Vietnamese articles of the Long Biên
portal, rows made bad one way at a time, pages the extractor rejected, and batches written
where the extract step puts them (``extracted/<site>/<run_id>.parquet``); and the validate
and publish steps run on them as the commands pick their batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kernel.article import Article
from kernel.layout import DataLayout
from kernel.registry import Site, ValidateThresholds, load_registry
from kernel.schema import ARTICLE_SCHEMA, EXTRACTED_SCHEMA, article_row, rejected_row
from kernel.timestamps import VN_TZ
from pipeline.storage import PublishSummary, publish
from pipeline.validate import ValidationSummary, pending_batches, validate_batches

RUN = "20261120T010000000000Z"
RUN_TIME = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
FETCHED = datetime(2026, 11, 20, 1, 5, tzinfo=UTC)

PARAGRAPHS = (
    "Chiều 12/3, Ủy ban nhân dân quận Long Biên tổ chức hội nghị triển khai kế hoạch chỉnh trang "
    "đô thị năm 2024 trên địa bàn quận.",
    "Theo báo cáo, trong năm qua quận đã cải tạo 12 vườn hoa, sân chơi và hơn 30 tuyến phố, góp phần "
    "nâng cao chất lượng sống của người dân.",
    "Phát biểu tại hội nghị, Chủ tịch Ủy ban nhân dân quận đề nghị các phường tiếp tục rà soát, huy động "
    "nguồn lực xã hội hóa để hoàn thành kế hoạch đúng tiến độ.",
)
ENGLISH = (
    "The district people's committee held a conference on the urban renovation plan for this year. "
    "Twelve gardens and playgrounds were renovated, and more than thirty streets were improved."
)

Row = dict[str, Any]


def longbien(**thresholds: Any) -> Site:
    """The bundled Long Biên portal, with ``[validate]`` thresholds changed as given."""
    site = load_registry()["longbien"]
    return replace(site, validate=replace(ValidateThresholds(), **thresholds)) if thresholds else site


def article(n: int, host: str = "longbien.hanoi.gov.vn") -> Article:
    return Article(
        url=f"https://{host}/dang-doan-the/tin-so-{n}-{1000000000000000 + n}.htm",
        title=f"Quận Long Biên triển khai kế hoạch chỉnh trang đô thị, đợt {n}",
        body="\n".join(PARAGRAPHS),
        published_at=datetime(2024, 3, 12, 8, n % 60, tzinfo=VN_TZ),
        author="Nguyên Bảo",
    )


def good_row(n: int, site: str = "longbien") -> Row:
    return article_row(article(n), site, FETCHED, FETCHED)


def row_from(a: Article, site: str = "longbien") -> Row:
    return article_row(a, site, FETCHED, FETCHED)


def uongbi_rows(count: int) -> list[Row]:
    """Good articles of the Uông Bí portal (the bundled ``uongbi``)."""
    return [
        {**row_from(article(n, host="uongbi.quangninh.gov.vn"), site="uongbi"), "title": f"Uông Bí: tin số {n}"}
        for n in range(count)
    ]


def with_body(row: Row, body: str) -> Row:
    """The row with another body, and the word count that goes with it."""
    return {**row, "body": body, "word_count": len(body.split())}


def batch(rows: list[Row]) -> pa.Table:
    """A batch of articles, as extract steps before rejections were kept wrote them."""
    return pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)


def rejected(n: int, reason: str, site: str = "longbien") -> Row:
    """An article page of the Long Biên portal that the extractor rejected."""
    return rejected_row(article(n).url, site, reason, FETCHED, FETCHED)


def extracted(rows: list[Row]) -> pa.Table:
    """A batch as the extract step writes it: articles and rejected pages, one row each."""
    return pa.Table.from_pylist([{"rejection": None, **row} for row in rows], schema=EXTRACTED_SCHEMA)


def good_rows(count: int, start: int = 0) -> list[Row]:
    return [good_row(n) for n in range(start, start + count)]


def write_batch(data: Path, table: pa.Table, site: str = "longbien", run_id: str = RUN) -> Path:
    path = DataLayout(data).extracted_path(site, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def double_encoded(text: str) -> str:
    """UTF-8 text decoded as windows-1252, as a misconfigured page shows it."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


def validate_now(
    sites: list[Site],
    data: Path,
    run_id: str | None = None,
    *,
    revalidate: bool = False,
    progress: Callable[[str], None] = lambda _line: None,
) -> ValidationSummary:
    """The validate step on the batches of these portals that wait for it (one run's, with
    ``run_id``; all of them again, with ``revalidate``), as ``vnportals validate`` picks them."""
    layout = DataLayout(data)
    return validate_batches(layout, pending_batches(layout, sites, run_id, revalidate=revalidate), progress)


def publish_validated(sites: list[Site], data: Path) -> PublishSummary:
    """Publish every validated batch of these portals, as ``vnportals publish`` does."""
    layout = DataLayout(data)
    return publish(data, [path for site in sites for path in layout.validated_files(site.slug)])

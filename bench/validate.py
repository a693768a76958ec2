"""Validation benchmark: what the data-quality gate costs, and where.

    uv run python bench/validate.py [--sizes 1000 10000 100000] [--portal-rows 1000]
                                    [--budget 60] [--format SUMMARY] [--profile]

Prints, in one process: the Great Expectations import, the context set-up (once per
process: a second run's gate reuses it), then for each size the rows validated as one
portal's batch and as many portals' batches (``--small-portal-rows`` rows each, 100 by
default, or ``--portal-rows``, 1,000, from ten times that on: 100,000 rows are 100
portals): wall and CPU seconds of the checks, rows per second, seconds per batch, the
report build, and the results and pages written; and whether the largest size stays within
the budget (``--budget``, 60 s by default on the 2-core development machine). Rows are
Vietnamese articles of which a quarter fail one row-level expectation (furniture, English
text, a foreign URL: each more rows than a SUMMARY result lists, so the gate asks GX for
the complete list too) and one in forty are undated: a bad night, harder than a usual one.
``--profile`` prints where the checks of the many-
portal case spend their time (cProfile, top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import_start = time.perf_counter()
import great_expectations  # noqa: E402, F401

GX_IMPORT = time.perf_counter() - import_start

import pyarrow as pa  # noqa: E402

from expectations import gate  # noqa: E402
from kernel.registry import Site, load_registry  # noqa: E402
from kernel.schema import ARTICLE_SCHEMA, EXTRACTOR_VERSION  # noqa: E402
from kernel.timestamps import VN_TZ  # noqa: E402

RUN_TIME = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
PARAGRAPHS = (
    "Chiều 12/3, Ủy ban nhân dân phường tổ chức hội nghị triển khai kế hoạch chỉnh trang đô thị năm 2024.",
    "Theo báo cáo, trong năm qua phường đã cải tạo 12 vườn hoa, sân chơi và hơn 30 tuyến phố, góp phần nâng cao "
    "chất lượng sống của người dân.",
    "Phát biểu tại hội nghị, Chủ tịch Ủy ban nhân dân đề nghị các tổ dân phố tiếp tục rà soát, huy động nguồn lực xã "
    "hội hóa để hoàn thành kế hoạch đúng tiến độ.",
)
BODY = "\n".join(PARAGRAPHS)
ENGLISH = "The ward committee held a conference on the urban renovation plan; twelve gardens were renovated this year."


@dataclass
class Timing:
    wall: float
    cpu: float


@contextmanager
def timed() -> Iterator[Timing]:
    timing = Timing(0.0, 0.0)
    wall, cpu = time.perf_counter(), time.process_time()
    yield timing
    timing.wall, timing.cpu = time.perf_counter() - wall, time.process_time() - cpu


def portals(count: int) -> list[Site]:
    """Imitation portals in the style of the bundled Long Biên one, each its own host."""
    base = load_registry()["longbien"]
    return [
        replace(base, slug=f"p{n:04d}", name=f"Cổng thông tin điện tử phường {n}", domains=(f"p{n:04d}.gov.vn",))
        for n in range(count)
    ]


def articles(site: Site, rows: int) -> pa.Table:
    """``rows`` extracted articles of one portal, as the extract step writes them."""
    fetched = RUN_TIME + timedelta(minutes=5)
    columns: dict[str, list[Any]] = {name: [] for name in ARTICLE_SCHEMA.names}
    for n in range(rows):
        url = f"https://{site.domains[0]}/tin-tuc/bai-{n}.htm"
        body, title = BODY, f"Phường chỉnh trang đô thị, đợt {n}"
        if n % 12 == 3:
            body = f"{BODY}\nLượt xem: {n}"
        elif n % 12 == 7:
            body, title = ENGLISH, "Ward renovates gardens"
        elif n % 12 == 11:
            url = f"https://baomoi.com/tin/{site.slug}-{n}.epi"
        values = {
            "article_id": hashlib.sha256(url.encode()).hexdigest()[:16],
            "site": site.slug,
            "url": url,
            "canonical_url": url,
            "title": title,
            "kicker": None,
            "category": "Tin tức",
            "published_at": None if n % 40 == 5 else datetime(2026, 11, 19, 8, n % 60, tzinfo=VN_TZ),
            "author": "Nguyên Bảo",
            "source": None,
            "body": body,
            "word_count": len(body.split()),
            "view_count": n,
            "language": "vi",
            "legacy_encoding": None,
            "content_hash": hashlib.sha256(body.encode()).hexdigest()[:16],
            "fetched_at": fetched,
            "extracted_at": fetched,
            "extractor_version": EXTRACTOR_VERSION,
        }
        for name, value in values.items():
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=ARTICLE_SCHEMA)


def folder_size(path: Path, pattern: str) -> tuple[int, int]:
    files = [p for p in path.rglob(pattern) if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def run_case(label: str, batches: list[tuple[Site, pa.Table]], fmt: str, profile: bool) -> float:
    """Validate the batches as one run and build its report; prints one line; returns the
    wall seconds of the checks plus the report."""
    rows = sum(t.num_rows for _, t in batches)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "validation" / label
        quality = gate.QualityGate(label, RUN_TIME, run_dir, result_format=fmt)
        profiler = cProfile.Profile() if profile else None
        quarantined = 0
        with timed() as checks:
            if profiler:
                profiler.enable()
            for site, table in batches:
                verdict = quality.check(site, table, min_articles=0)
                quarantined += sum(1 for i in range(verdict.rows) if not verdict.passes(i))
            if profiler:
                profiler.disable()
        with timed() as built:
            quality.build_report()
        results = folder_size(run_dir / "gx", "*.json")
        pages = folder_size(run_dir / "docs", "*.html")
    print(
        f"  {label:<34} {rows:>7,} rows {len(batches):>4} batches  checks {checks.wall:6.1f} s wall "
        f"{checks.cpu:6.1f} s cpu  {rows / max(checks.wall, 1e-9):7,.0f} rows/s  "
        f"{checks.wall / len(batches):5.2f} s/batch  report {built.wall:5.1f} s  "
        f"results {results[1] / 1e6:5.1f} MB  pages {pages[0]} / {pages[1] / 1e6:5.1f} MB  "
        f"held {quarantined:,}"
    )
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    return checks.wall + built.wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--portal-rows", type=int, default=1_000, help="rows per portal in the many-portal case")
    parser.add_argument("--small-portal-rows", type=int, default=100, help="rows per portal below --portal-rows")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds allowed for the largest size")
    parser.add_argument("--format", default=gate.SUMMARY, choices=[gate.SUMMARY, gate.COMPLETE])
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (wall times grow with the load; CPU times less)")
    print(f"GX import: {GX_IMPORT:.1f} s (once per process)")
    with timed() as setup:
        gate.QualityGate("setup", RUN_TIME, Path(tempfile.mkdtemp()) / "setup", result_format=args.format)
    with timed() as again:
        gate.QualityGate("again", RUN_TIME, Path(tempfile.mkdtemp()) / "again", result_format=args.format)
    print(f"context set-up: {setup.wall:.2f} s on first use; a second run's gate: {again.wall * 1000:.0f} ms")
    print(f"result format: {args.format}")

    largest: dict[str, float] = {}
    for size in args.sizes:
        per_portal = args.portal_rows if size > args.portal_rows * 10 else args.small_portal_rows
        many = portals(max(1, size // per_portal))
        one_batch = [(many[0], articles(many[0], size))]
        seconds = run_case(f"one portal, {size:,} rows", one_batch, args.format, profile=False)
        del one_batch
        if size == max(args.sizes):
            largest["one"] = seconds
        batches = [(site, articles(site, size // len(many))) for site in many]
        label = f"{len(many)} portals x {size // len(many):,} rows"
        seconds = run_case(label, batches, args.format, profile=args.profile and size == max(args.sizes))
        if size == max(args.sizes):
            largest["many"] = seconds
    biggest = max(args.sizes)
    for kind, seconds in largest.items():
        verdict = "within" if seconds <= args.budget else "OVER"
        shape = "one batch" if kind == "one" else "many portals' batches"
        print(f"budget: {biggest:,} rows as {shape}: {seconds:.1f} s, {verdict} the budget of {args.budget:.0f} s")
    return 0 if all(s <= args.budget for s in largest.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

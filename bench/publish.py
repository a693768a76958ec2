"""Publish in proportion to the night: one night of 9,000 articles published into a month
that already holds 90,000 and 270,000 rows (a month of 300 portals), measured.

    uv run python bench/publish.py [--sizes 90000,270000] [--night 9000] [--portals 300] [--baseline]

For each size the month is filled the way nights fill it (nights of ``--night`` articles,
one validated batch per portal, each published in turn; their mean and worst wall time and
bytes written are printed). Then a night is published into copies of it, each in a process
of its own: 95% new articles and 5% revisions, of articles from the last 7 nights and of
articles from the whole month. Printed for each: wall time, peak RSS of that process (its
VmHWM) and Arrow's own peak allocation, the month's files (count and sizes) and layers
afterwards, and what a DuckDB query for one portal and one month reads
(``io.total_bytes_read`` and row groups scanned, from DuckDB's profiling) beside the
month's size.

``--baseline`` measures the publish this one replaced (the per-partition rewrite, taken from
git at commit BASELINE) on the same month and night. It holds the whole partition in
memory, about 2 GB at 90,000 rows and 4.5 GB at 270,000 (issue 13 measured 1.85 and 4.44),
so it is off by default.

The articles are synthetic but of real size: titles of 10-20 syllables and bodies of 5-13
paragraphs drawn from a pool of 200,000 random Vietnamese-looking sentences (about 5 KB of
text per article), 300 portals, dates spread over the month.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from kernel.article import article_id, canonical_url  # noqa: E402
from kernel.layout import DataLayout  # noqa: E402
from kernel.schema import ARTICLE_SCHEMA, EXTRACTOR_VERSION, PARTITION  # noqa: E402
from kernel.timestamps import VN_TZ  # noqa: E402
from pipeline.dataset_versions import current_manifest  # noqa: E402
from pipeline.storage import publish  # noqa: E402

BASELINE = "bbeb81d"  # the last commit with the per-partition publish
MONTH = "2026-05"
MB = 2**20

ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gi", "h", "k", "kh", "l", "m", "n", "ng", "nh", "ph", "qu", "s", "t"]
ONSETS += ["th", "tr", "v", "x"]
RHYMES = ["a", "ai", "an", "ang", "anh", "ao", "at", "ay", "âm", "ân", "âu", "e", "em", "en", "ê", "ên", "i", "ia"]
RHYMES += ["iên", "in", "inh", "o", "oa", "oan", "oi", "ong", "ô", "ôi", "ông", "ơ", "ơi", "ơn", "u", "uân", "ui"]
RHYMES += ["un", "ung", "uyên", "ư", "ưa", "ước", "ương", "ưu"]
TONES = ["", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"]  # combining marks, composed by NFC below


def vocabulary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    import unicodedata

    syllables = sorted(
        {unicodedata.normalize("NFC", o + r[0] + t + r[1:]) for o in ONSETS for r in RHYMES for t in TONES}
    )
    words = np.array(syllables, dtype=object)
    rng.shuffle(words)
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.1  # Zipf-like, as word use is
    return words, weights / weights.sum()


class Corpus:
    """Random article text of real size, deterministic from a seed."""

    def __init__(self, seed: int = 13) -> None:
        self.rng = np.random.default_rng(seed)
        words, weights = vocabulary(self.rng)
        lengths = self.rng.integers(8, 26, 200_000)
        picks = self.rng.choice(len(words), size=int(lengths.sum()), p=weights)
        sentences, at = [], 0
        for n in lengths:
            sentence = " ".join(words[picks[at : at + n]])
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            at += n
        self.sentences = np.array(sentences, dtype=object)

    def text(self, low: int, high: int) -> str:
        return " ".join(self.sentences[self.rng.integers(0, len(self.sentences), self.rng.integers(low, high))])

    def body(self) -> str:
        paragraphs = [self.text(3, 9) for _ in range(int(self.rng.integers(5, 14)))]
        return "\n".join(paragraphs)


@dataclass
class Article:
    site: str
    n: int
    published: datetime
    revision: int = 0


def rows_for(corpus: Corpus, articles: list[Article], fetched: datetime) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in ARTICLE_SCHEMA.names}
    for a in articles:
        url = f"https://{a.site}.gov.vn/tin-tuc/bai-{a.n}.htm"
        title = corpus.text(1, 2)[:120]
        body = corpus.body() + (f"\nCập nhật lần {a.revision}." if a.revision else "")
        digest = hashlib.sha256(f"{title}\x00{body}".encode()).hexdigest()[:32]
        values = {
            "article_id": article_id(url),
            "site": a.site,
            "url": url,
            "canonical_url": canonical_url(url),
            "title": title,
            "kicker": None,
            "category": "Tin tức",
            "published_at": a.published,
            "author": "Phóng viên",
            "source": None,
            "body": body,
            "word_count": body.count(" ") + 1,
            "view_count": int(corpus.rng.integers(0, 5000)),
            "language": "vi",
            "legacy_encoding": None,
            "content_hash": digest,
            "fetched_at": fetched,
            "extracted_at": fetched,
            "extractor_version": EXTRACTOR_VERSION,
        }
        for name, value in values.items():
            columns[name].append(value)
    return pa.table(columns, schema=ARTICLE_SCHEMA)


def write_night(corpus: Corpus, folder: Path, articles: list[Article], fetched: datetime) -> list[Path]:
    """One validated batch per portal, as the validate step leaves them."""
    folder.mkdir(parents=True, exist_ok=True)
    by_site: dict[str, list[Article]] = {}
    for a in articles:
        by_site.setdefault(a.site, []).append(a)
    paths = []
    for site, group in sorted(by_site.items()):
        path = folder / f"{site}.parquet"
        pq.write_table(rows_for(corpus, group, fetched), path, compression="zstd")
        paths.append(path)
    return paths


def night_articles(rng: np.random.Generator, night: int, count: int, portals: int) -> list[Article]:
    start = datetime(2026, 5, 1, tzinfo=VN_TZ)
    minutes = rng.integers(0, 31 * 24 * 60, count)
    return [
        Article(f"p{i % portals:03d}", night * count + i, start + timedelta(minutes=int(m)))
        for i, m in zip(range(count), minutes, strict=True)
    ]


# -- measuring --------------------------------------------------------------------------------
# The measured process imports only what a publish needs (not DuckDB, numpy or this file).
RUNNER = """
import importlib.util, json, sys
from pathlib import Path
import pyarrow as pa
data, listing, baseline = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if baseline:
    spec = importlib.util.spec_from_file_location("baseline_storage", baseline)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    publish = module.publish
else:
    from pipeline.storage import publish
summary = publish(data, [Path(p) for p in json.loads(listing.read_text())])
found = {k: v for k, v in vars(summary).items() if not isinstance(v, list)}
found |= {"line": summary.line(), "arrow_peak": pa.default_memory_pool().max_memory()}
# VmHWM is this process's own peak; wait4's ru_maxrss would also count the parent's size at fork.
status = Path("/proc/self/status").read_text()
found["peak_rss"] = int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM:"))) * 1024
print(json.dumps(found))
"""


def run_measured(data: Path, batches: list[Path], baseline: bool) -> dict[str, Any]:
    """One publish in its own process: its wall time and peak RSS."""
    listing = data.parent / f"{data.name}-batches.json"
    listing.write_text(json.dumps([str(p) for p in batches]))
    command = [sys.executable, "-c", RUNNER, str(data), str(listing), str(baseline_file()) if baseline else ""]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"measured publish failed ({done.returncode}):\n{done.stdout}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall": wall, "peak_rss": summary["peak_rss"], "summary": summary}


def month_files(data: Path) -> list[Path]:
    return sorted((data / "articles").resolve().glob(f"{PARTITION}={MONTH}/*.parquet"))


def one_portal_query(data: Path, site: str) -> dict[str, Any]:
    """DuckDB reading one portal's month, with what it read from its profiling."""
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "profile.json"
        con = duckdb.connect()
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{profile}'")
        started = time.perf_counter()
        rows = con.execute(
            f"SELECT * FROM read_parquet('{data}/articles/**/*.parquet', hive_partitioning = true) "
            f"WHERE site = '{site}' AND {PARTITION} = '{MONTH}'"
        ).fetchall()
        seconds = time.perf_counter() - started
        con.execute("PRAGMA disable_profiling")
        found = json.loads(profile.read_text())
    return {
        "rows": len(rows),
        "seconds": seconds,
        "bytes_read": found["io"]["total_bytes_read"],
        "row_groups": (found["query"]["total_row_groups_scanned"], found["query"]["total_row_groups_to_scan"]),
    }


def baseline_file() -> Path:
    """The replaced publish's module, from git."""
    source = subprocess.run(
        ["git", "show", f"{BASELINE}:pipeline/storage.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_storage.py"
    path.write_text(source)
    return path


def baseline_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_storage", baseline_file())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# -- the benchmark ----------------------------------------------------------------------------
SCENARIOS = {
    "recent": "revisions of articles from the last 7 nights",
    "anywhere": "revisions of articles from any night of the month",
}


@dataclass
class Month:
    """A month filled night by night, and what filling it cost."""

    data: Path
    nights: list[list[Article]]
    walls: list[float]
    written: list[int]


def fill_month(work: Path, corpus: Corpus, size: int, night: int, portals: int) -> Month:
    rng = np.random.default_rng(size)
    month = Month(work / "data", [], [], [])
    for k in range(size // night):
        articles = night_articles(rng, k, night, portals)
        month.nights.append(articles)
        fetched = datetime(2026, 5, 1, 18, tzinfo=UTC) + timedelta(days=k)
        batches = write_night(corpus, work / "night", articles, fetched)
        started = time.perf_counter()
        summary = publish(month.data, batches)
        month.walls.append(time.perf_counter() - started)
        month.written.append(summary.bytes_written)
        shutil.rmtree(work / "night")
    return month


def copy_of(data: Path, target: Path) -> Path:
    """A copy of a data dir by hard links: a publish writes new files and renames, and never
    changes a file in place, so the copies do not disturb each other."""
    shutil.copytree(data, target, symlinks=True, copy_function=os.link)
    return target


def earlier_layout(month: Month, target: Path) -> Path:
    """The same month as the replaced publish leaves it: one partition, sorted, in files of
    up to 100,000 rows (its own writer)."""
    old = baseline_module()
    table = old._sorted(pq.read_table(month.data / "articles" / f"{PARTITION}={MONTH}"))
    old._write_partition(table, target / "articles" / f"{PARTITION}={MONTH}")
    return target


def measured_night(corpus: Corpus, month: Month, scenario: str, night: int, portals: int, folder: Path) -> list[Path]:
    rng = np.random.default_rng(len(month.nights) * 7 + len(scenario))
    pool = [a for n in (month.nights[-7:] if scenario == "recent" else month.nights) for a in n]
    revised = [pool[int(i)] for i in rng.choice(len(pool), night // 20, replace=False)]
    revised = [Article(a.site, a.n, a.published, revision=1) for a in revised]
    fresh = night_articles(rng, 10_000, night - len(revised), portals)
    return write_night(corpus, folder, fresh + revised, datetime(2026, 6, 1, 18, tzinfo=UTC))


def outcome(data: Path, measured: dict[str, Any], layered: bool) -> dict[str, Any]:
    files = month_files(data)
    layers = None
    if layered:
        layers = [(layer.rows, len(layer.files)) for layer in current_manifest(DataLayout(data)).partitions[MONTH]]
    return {
        "measured": measured,
        "month_rows": sum(pq.ParquetFile(p).metadata.num_rows for p in files),
        "files": [p.stat().st_size for p in files],
        "layers": layers,
        "query": one_portal_query(data, "p123"),
    }


def bench(size: int, night: int, portals: int, baseline: bool, corpus: Corpus) -> None:
    with tempfile.TemporaryDirectory(prefix="vnportals-bench-") as tmp:
        work = Path(tmp)
        month = fill_month(work, corpus, size, night, portals)
        print(f"\n== a month of {size:,} rows, filled in {len(month.nights)} nights of {night:,} articles ==")
        print(
            f"  filling it: publish wall mean {statistics.mean(month.walls):.1f} s, worst {max(month.walls):.1f} s; "
            f"written per night mean {statistics.mean(month.written) / MB:.0f} MB, "
            f"worst {max(month.written) / MB:.0f} MB"
        )
        for scenario in SCENARIOS:
            batches = measured_night(corpus, month, scenario, night, portals, work / f"measured-{scenario}")
            data = copy_of(month.data, work / f"data-{scenario}")
            report("layers", scenario, outcome(data, run_measured(data, batches, baseline=False), layered=True))
            if baseline and scenario == "recent":
                old = earlier_layout(month, work / "data-baseline")
                report("per-partition", scenario, outcome(old, run_measured(old, batches, baseline=True), False))


def report(impl: str, scenario: str, result: dict[str, Any]) -> None:
    m, q, sizes = result["measured"], result["query"], result["files"]
    s = m["summary"]
    print(
        f"  -- {impl} publish of {s['new'] + s['updated']:,} articles: {s['new']:,} new, "
        f"{s['updated']:,} {SCENARIOS[scenario]}"
    )
    print(
        f"     wall {m['wall']:.1f} s, peak RSS {m['peak_rss'] / MB:,.0f} MB "
        f"(Arrow's own peak allocation {s['arrow_peak'] / MB:,.0f} MB)"
    )
    print(f"     {s['line']}")
    print(
        f"     month afterwards: {result['month_rows']:,} rows, {len(sizes)} files, {sum(sizes) / MB:,.0f} MB "
        f"(file sizes min {min(sizes) / MB:.1f}, median {statistics.median(sizes) / MB:.1f}, "
        f"max {max(sizes) / MB:.1f} MB)"
    )
    if result["layers"] is not None:
        print("     layers (rows, files): " + ", ".join(f"({r:,}, {f})" for r, f in result["layers"]))
    scanned, total = q["row_groups"]
    print(
        f"     DuckDB, one portal one month: {q['rows']} rows, read {q['bytes_read'] / MB:.1f} MB of the month's "
        f"{sum(sizes) / MB:,.0f} MB, {scanned} of {total} row groups, {q['seconds']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="90000,270000")
    parser.add_argument("--night", type=int, default=9000)
    parser.add_argument("--portals", type=int, default=300)
    parser.add_argument("--baseline", action="store_true", help="also measure the replaced publish")
    args = parser.parse_args()
    corpus = Corpus()
    for size in (int(s) for s in args.sizes.split(",")):
        bench(size, args.night, args.portals, args.baseline, corpus)


if __name__ == "__main__":
    main()

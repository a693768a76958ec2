"""The newcomer's path: ``vnportals demo`` end to end into a fresh data dir, read back with
pyarrow and DuckDB; the second run adds nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from tests.conftest import gold_articles

VNPORTALS = str(Path(sys.executable).parent / "vnportals")


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VNPORTALS, *args], capture_output=True, text=True, timeout=timeout, check=False)


def read_rows(data: Path) -> list[dict[str, object]]:
    table = ds.dataset(data / "articles", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: str(r["article_id"]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    data = tmp_path_factory.mktemp("demo") / "data"
    result = run_cli("demo", "--data-dir", str(data))
    return data, result


def test_demo_exits_zero_and_says_where_the_data_is(demo) -> None:  # type: ignore[no-untyped-def]
    data, result = demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(data / "articles") in result.stdout
    assert "publish" in result.stdout


def test_demo_dataset_has_every_gold_article(demo) -> None:  # type: ignore[no-untyped-def]
    data, _ = demo
    rows = read_rows(data)
    assert len(rows) >= 24
    assert len({r["site"] for r in rows}) >= 4
    by_url = {r["url"]: r for r in rows}
    for gold in gold_articles():
        row = by_url.get(gold.url)
        assert row is not None, f"missing {gold.url}"
        assert row["title"] == gold.data["title"]
        for phrase in gold.data["must_not_contain"]:
            assert phrase not in str(row["body"]), f"{gold.url}: furniture {phrase!r}"
    assert len({r["article_id"] for r in rows}) == len(rows)


def test_demo_dataset_reads_in_duckdb(demo) -> None:  # type: ignore[no-untyped-def]
    data, _ = demo
    per_site = duckdb.sql(
        f"select site, count(*) from read_parquet('{data}/articles/**/*.parquet', hive_partitioning=true) "
        "group by site order by site"
    ).fetchall()
    assert len(per_site) >= 4 and all(n >= 6 for _, n in per_site)


def test_second_demo_run_changes_nothing(demo) -> None:  # type: ignore[no-untyped-def]
    data, _ = demo
    before = read_rows(data)
    again = run_cli("demo", "--data-dir", str(data))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 new, 0 updated" in again.stdout
    assert read_rows(data) == before

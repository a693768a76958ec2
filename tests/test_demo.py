"""The newcomer's path: ``vnportals demo`` end to end into a fresh data dir, read back with
pyarrow and DuckDB; the second run adds nothing; and the demo as a shipped feature: the wheel,
built and installed into a fresh virtual environment, runs it from an empty folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from tests.conftest import gold_articles
from tests.support.cli import run_cli

pytestmark = pytest.mark.slow  # the CLI, a crawl process per portal, a mirror server

REPO = Path(__file__).resolve().parents[1]


def read_rows(data: Path) -> list[dict[str, object]]:
    table = ds.dataset(data / "articles", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: str(r["article_id"]))


def assert_every_gold_article(rows: list[dict[str, object]]) -> None:
    by_url = {r["url"]: r for r in rows}
    for gold in gold_articles():
        row = by_url.get(gold.url)
        assert row is not None, f"missing {gold.url}"
        assert row["title"] == gold.data["title"]
        for phrase in gold.data["must_not_contain"]:
            assert phrase not in str(row["body"]), f"{gold.url}: furniture {phrase!r}"
    assert len({r["article_id"] for r in rows}) == len(rows)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    data = tmp_path_factory.mktemp("demo") / "data"
    result = run_cli("demo", "--data-dir", str(data))
    return data, result


def test_demo_exits_zero_and_says_where_the_data_is(demo) -> None:  # type: ignore[no-untyped-def]
    data, result = demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(data / "articles") in result.stdout
    assert "publish  52 new, 0 updated, 0 unchanged articles" in result.stdout
    assert "(night) succeeded: 8 of 8 portals done, 0 failed" in result.stdout


def test_demo_dataset_has_every_gold_article(demo) -> None:  # type: ignore[no-untyped-def]
    data, _ = demo
    rows = read_rows(data)
    assert len(rows) == len(gold_articles())
    assert len({r["site"] for r in rows}) == 8
    assert_every_gold_article(rows)


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


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_demo_runs_from_the_wheel_installed_in_a_fresh_venv(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv is needed to build the wheel (.ci/run installs it)"
    dist, venv, home = tmp_path / "dist", tmp_path / "venv", tmp_path / "somewhere"
    _run([uv, "build", "--wheel", "--out-dir", str(dist), str(REPO)], cwd=tmp_path)
    (wheel,) = dist.glob("vnportals-*.whl")
    # The locked versions of the dependencies (from uv's cache when it has them), then the wheel.
    requirements = tmp_path / "requirements.txt"
    _run(
        [uv, "export", "--locked", "--no-dev", "--no-emit-project", "--no-hashes", "-q", "-o", str(requirements)],
        cwd=REPO,
    )
    _run([uv, "venv", "-q", "--python", sys.executable, str(venv)], cwd=tmp_path)
    _run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-r", str(requirements)], cwd=tmp_path)
    _run([uv, "pip", "install", "-q", "--no-deps", "--python", str(venv / "bin" / "python"), str(wheel)], cwd=tmp_path)

    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("VNPORTALS_")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import pipeline.mirror as m; print(m.MIRROR_DIR)"], cwd=home, env=env
    )
    assert Path(where.strip()).is_relative_to(venv), "the demo must come from the installed wheel, not the clone"
    # The quick start as a user types it: no --data-dir, in a folder of their own.
    out = _run(["vnportals", "demo"], cwd=home, env=env)
    assert "(night) succeeded: 8 of 8 portals done" in out
    rows = read_rows(home / "data")
    assert len(rows) == len(gold_articles())
    assert_every_gold_article(rows)

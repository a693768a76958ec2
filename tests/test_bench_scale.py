"""The scale benchmark at a tiny size: it runs end to end, publishes every generated article
exactly once, and prints its table with every column (no timings are checked)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "scale.py"


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_scale_benchmark_tiny(tmp_path: Path) -> None:
    portals, articles = 3, 5
    command = [sys.executable, str(BENCH), "--portals", str(portals), "--articles", str(articles)]
    command += ["--month-rows", "1000", "--keep", str(tmp_path)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    scale = bench_module()

    header = next(line for line in lines if line.split()[:2] == ["portals", "run"])
    for column in scale.COLUMNS:
        assert column in header
    rows = [line.split() for line in lines if line.split()[:1] == [str(portals)]]
    for label in ("night 1", "night 2", "bare", "plain 1", "plain 2"):
        assert any(" ".join(r[1:3]).startswith(label) for r in rows), label
    assert any(line.startswith("publish of 15 articles into a month of 1,000 rows") for line in lines)
    assert "NOT EXACTLY ONCE" not in done.stdout

    # Night 2 brings one new article per portal: every generated article is in the dataset once.
    files = sorted((tmp_path / str(portals) / "data" / "articles").resolve().glob("*/*.parquet"))
    urls = Counter(u for f in files for u in pq.read_table(f, columns=["url"]).column("url").to_pylist())
    expected = scale.article_urls(portals, articles, 2)
    assert len(expected) == portals * (articles + 1)
    assert urls == Counter(expected)

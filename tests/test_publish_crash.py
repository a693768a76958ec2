"""A publish killed with SIGKILL: before its commit point the dataset is as it was; after
it, the next publish completes it; either way the end result equals one clean run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kernel.layout import DataLayout
from pipeline.storage import publish, read_articles
from tests.test_storage import make_article, write_batch

ROOT = Path(__file__).resolve().parents[1]


def snapshot(data: Path) -> list[dict[str, object]]:
    return sorted(read_articles(DataLayout(data)).to_pylist(), key=lambda r: str(r["article_id"]))


def batches(tmp_path: Path) -> tuple[Path, Path]:
    first = write_batch(tmp_path, "night1", [make_article(i, month=m) for i, m in enumerate([3, 4, 5], 1)])
    second = write_batch(tmp_path, "night2", [make_article(i, month=m) for i, m in enumerate([3, 4, 5, 6, 7], 11)])
    return first, second


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-commit", "mid-swap"])
def test_killed_publish(tmp_path: Path, point: str) -> None:
    first, second = batches(tmp_path)
    data, clean = tmp_path / "data", tmp_path / "clean"
    publish(data, [first])
    publish(clean, [first])
    publish(clean, [second])
    before = snapshot(data)

    killed = subprocess.run(
        [sys.executable, "-m", "tests.support.publish_killer", str(data), point, str(second)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr

    journal = data / ".publish-journal.json"
    if point == "before-commit":
        assert not journal.exists()
        assert snapshot(data) == before  # nothing of the dataset changed
    else:
        assert journal.exists()  # decided, half carried out: the next publish completes it

    publish(data, [second])
    assert not journal.exists()
    assert snapshot(data) == snapshot(clean)
    assert not list((data / "articles").rglob(".txn-*"))


@pytest.mark.slow
def test_two_publishes_at_once_equal_one(tmp_path: Path) -> None:
    first, second = batches(tmp_path)
    data, clean = tmp_path / "data", tmp_path / "clean"
    publish(clean, [first, second])
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from pathlib import Path; from pipeline.storage import publish; "
                f"publish(Path({str(data)!r}), [Path({str(first)!r}), Path({str(second)!r})])",
            ],
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert snapshot(data) == snapshot(clean)

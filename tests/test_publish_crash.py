"""A publish killed with SIGKILL leaves the previous version current and the next publish
discards what it left; after its switch it has published. Two publishes at once equal one.
A reader in another process polling the dataset during publishes sees whole nights only."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kernel.layout import DataLayout
from pipeline import dataset_versions
from pipeline.storage import publish, read_articles
from tests.support.dataset_poller import digest
from tests.test_storage import make_article, portal_row, write_batch, write_rows

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # every test here starts processes


def snapshot(data: Path) -> list[dict[str, object]]:
    return sorted(read_articles(DataLayout(data)).to_pylist(), key=lambda r: str(r["article_id"]))


def batches(tmp_path: Path) -> tuple[Path, Path]:
    first = write_batch(tmp_path, "night1", [make_article(i, month=m) for i, m in enumerate([3, 4, 5], 1)])
    second = write_batch(tmp_path, "night2", [make_article(i, month=m) for i, m in enumerate([3, 4, 5, 6, 7], 11)])
    return first, second


@pytest.mark.parametrize("point", ["mid-write", "before-switch", "after-switch"])
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

    layout = DataLayout(data)
    if point == "after-switch":
        assert dataset_versions.current_version(layout) == 2
        assert snapshot(data) == snapshot(clean)  # the switch is the commit point
    else:
        assert dataset_versions.current_version(layout) == 1
        assert snapshot(data) == before  # nothing a reader sees changed
        assert layout.articles_version_dir(2).exists()  # what the killed publish left

    summary = publish(data, [second])
    if point == "after-switch":
        assert (summary.unchanged, summary.discarded, summary.version) == (5, [], 2)
    else:
        assert (summary.new, summary.discarded, summary.version) == (5, [2], 2)
    assert snapshot(data) == snapshot(clean)
    assert sorted(p.name for p in layout.articles_versions.iterdir() if p.is_dir()) == ["000001", "000002"]
    assert not list(data.glob(".articles.*"))


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
    assert dataset_versions.current_version(DataLayout(data)) == 1  # the second found nothing to do


def test_a_reader_polling_during_publishes_sees_whole_nights(tmp_path: Path) -> None:
    """Nights that revise every article in twelve partitions, published while another
    process reads the dataset with DuckDB as fast as it can, through the version the symlink
    points to (resolved once per read, as the README shows): every read is one whole night,
    and none fails, although versions come and go under it."""
    data = tmp_path / "data"

    def night(k: int) -> Path:
        fetched = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=k)
        rows = [
            portal_row(s, n, month=m, body=f"bản {k}", fetched=fetched)
            for s in "ab"
            for n in range(3)
            for m in range(1, 13)
        ]
        return write_rows(tmp_path, f"night{k}", rows)

    def state() -> str:
        table = read_articles(DataLayout(data), ["article_id", "content_hash"])
        return digest(list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)))

    publish(data, [night(0)])
    nights = {state()}
    polls, stop = tmp_path / "polls.txt", tmp_path / "stop"
    command = [sys.executable, "-m", "tests.support.dataset_poller", str(data), str(polls), str(stop), "pinned"]
    poller = subprocess.Popen(command, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while (not polls.exists() or polls.stat().st_size == 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        for k in range(1, 21):
            publish(data, [night(k)])
            nights.add(state())
    finally:
        stop.touch()
        poller.wait(timeout=60)
    reads = [line.split(" ", 1)[1] for line in polls.read_text(encoding="utf-8").splitlines()]
    assert len(nights) == 21 and len(reads) > 30
    assert set(reads) <= nights  # no error, no mix
    assert len(set(reads)) > 3  # it did read through the publishes
    assert len(list(DataLayout(data).articles_versions.glob("*.manifest.json"))) == 21  # all replaced < 15 min ago

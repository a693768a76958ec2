"""Random nights against a plain model of what the dataset should hold: new, revised, moved,
re-sent, older and withdrawn articles over several months, with tiny files so that every
night merges, cuts and rewrites layers. After each publish the dataset equals the model row
for row, and the version's index and manifest agree with its files."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kernel.article import Article
from kernel.layout import DataLayout
from kernel.schema import PARTITION, article_row, partition_of
from kernel.timestamps import VN_TZ
from pipeline import dataset_versions
from pipeline.layers import Compaction
from pipeline.storage import publish, read_articles
from tests.test_storage import write_rows

POLICY = Compaction(
    row_group_rows=3, target_file_bytes=8_000, young_layers=2, frozen_layer_bytes=40_000, memory_bytes=6_000
)
SITES = ["a", "b", "c", "d"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def version_of(site: str, n: int, revision: int, month: int | None, fetched: datetime) -> dict[str, Any]:
    article = Article(
        url=f"https://{site}.gov.vn/tin/{n}.htm",
        title=f"Tin {n} của {site}",
        body=f"Bản {revision} của tin {n}. " + "Hội nghị triển khai nhiệm vụ năm. " * 3,
        published_at=None if month is None else datetime(2022, month, 1 + n % 27, 9, tzinfo=VN_TZ),
    )
    return article_row(article, site, fetched, fetched)


class Model:
    """What the dataset should hold, by the rules publish promises."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def publish(self, batches: list[list[dict[str, Any]]], withdraw: set[tuple[str, str]]) -> None:
        for aid, digest in withdraw:
            if aid in self.rows and self.rows[aid]["content_hash"] == digest:
                del self.rows[aid]
        latest: dict[str, dict[str, Any]] = {}
        for row in (r for batch in batches for r in batch):
            held = latest.get(row["article_id"])
            if held is None or row["fetched_at"] >= held["fetched_at"]:
                latest[row["article_id"]] = row
        for aid, row in latest.items():
            if (aid, row["content_hash"]) in withdraw:
                continue
            old = self.rows.get(aid)
            same = old is not None and (old["content_hash"], old["published_at"]) == (
                row["content_hash"],
                row["published_at"],
            )
            if old is None or (not same and row["fetched_at"] >= old["fetched_at"]):
                self.rows[aid] = row


def night(rng: random.Random, number: int, known: dict[tuple[str, int], tuple[int, int | None]], model: Model):
    fetched = START + timedelta(days=number)
    batches: list[list[dict[str, Any]]] = [[] for _ in range(rng.randint(1, 3))]
    for _ in range(rng.randint(3, 14)):  # new articles
        site, n = rng.choice(SITES), len(known)
        month = rng.choice([4, 5, 5, 6, None])
        known[(site, n)] = (0, month)
        rng.choice(batches).append(version_of(site, n, 0, month, fetched))
    for key in rng.sample(sorted(known), min(len(known), rng.randint(0, 6))):
        revision, month = known[key]
        kind = rng.choice(["revise", "move", "same", "older"])
        if kind == "revise":
            revision += 1
        elif kind == "move":
            month = rng.choice([4, 5, 6, None])
        when = fetched - timedelta(days=30) if kind == "older" else fetched
        if kind == "older":
            revision += 100  # text nobody published, from a fetch before the published one
        else:
            known[key] = (revision, month)
        rng.choice(batches).append(version_of(*key, revision, month, when))
    withdraw: set[tuple[str, str]] = set()
    for row in rng.sample(sorted(model.rows.values(), key=lambda r: r["article_id"]), min(2, len(model.rows))):
        if rng.random() < 0.3:
            withdraw.add((row["article_id"], row["content_hash"]))
        elif rng.random() < 0.2:
            withdraw.add((row["article_id"], "f" * 32))  # another version: the row stays
    return batches, withdraw


def check_version(data: Path, model: Model) -> None:
    layout = DataLayout(data)
    got = {r["article_id"]: r for r in read_articles(layout).to_pylist()}
    assert set(got) == set(model.rows)
    for aid, row in model.rows.items():
        assert got[aid][PARTITION] == partition_of(row["published_at"])
        assert {k: v for k, v in got[aid].items() if k != PARTITION} == row
    manifest = dataset_versions.current_manifest(layout)
    root = layout.articles_version_dir(manifest.version)
    index = pq.read_table(layout.articles_index_path(manifest.version)).to_pylist()
    assert sorted((r["article_id"], r[PARTITION]) for r in index) == sorted((a, r[PARTITION]) for a, r in got.items())
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}
    listed = {f"{PARTITION}={m}/{f.name}" for m in manifest.partitions for f in manifest.files(m)}
    assert on_disk == listed
    for month in manifest.partitions:
        for entry in manifest.files(month):
            assert (
                pq.ParquetFile(dataset_versions.partition_dir(root, month) / entry.name).metadata.num_rows == entry.rows
            )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_nights_equal_the_model(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data, model = tmp_path / "data", Model()
    known: dict[tuple[str, int], tuple[int, int | None]] = {}
    for number in range(14):
        batches, withdraw = night(rng, number, known, model)
        paths = [write_rows(tmp_path, f"n{number}-{i}", b) for i, b in enumerate(batches)]
        publish(data, paths, withdraw=withdraw, policy=POLICY)
        model.publish(batches, withdraw)
        check_version(data, model)

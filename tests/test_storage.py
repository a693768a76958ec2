"""Publishing: one row per article, idempotent, atomic per partition, schema as documented."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from kernel.article import Article, article_id, canonical_url
from kernel.layout import DataLayout
from kernel.schema import ARTICLE_SCHEMA, article_row
from kernel.timestamps import VN_TZ
from pipeline import storage
from pipeline.storage import publish, read_articles

FETCHED = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def make_article(n: int, month: int = 5, body: str = "nội dung", site_url: str = "https://a.gov.vn") -> Article:
    return Article(
        url=f"{site_url}/tin/bai-{n}.htm",
        title=f"Bài số {n}",
        body=f"{body} {n}\nđoạn hai",
        published_at=datetime(2022, month, 10, 8, 0, tzinfo=VN_TZ),
        author="Nhật Minh",
    )


def write_batch(
    tmp_path: Path, name: str, articles: list[Article], site: str = "a", fetched: datetime = FETCHED
) -> Path:
    rows = [article_row(a, site, fetched, fetched) for a in articles]
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA), path)
    return path


def rows(data: Path) -> list[dict[str, object]]:
    table = read_articles(DataLayout(data))
    return sorted(table.to_pylist(), key=lambda r: str(r["article_id"]))


def test_canonical_url_and_id_are_stable() -> None:
    assert canonical_url("HTTP://www.Example.vn:80/a?b=2&a=1&utm_source=x#frag") == "https://example.vn/a?a=1&b=2"
    assert article_id("http://example.vn/a?x=1") == article_id("https://www.example.vn/a?x=1")
    assert article_id("https://example.vn/a?x=1") != article_id("https://example.vn/a?x=2")
    assert len(article_id("https://example.vn/a")) == 16


def test_publish_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    batch = write_batch(tmp_path, "b1", [make_article(i) for i in range(5)])
    first = publish(data, [batch])
    assert (first.new, first.updated, first.unchanged) == (5, 0, 0)
    before = rows(data)
    second = publish(data, [batch, batch])
    assert (second.new, second.updated, second.unchanged) == (0, 0, 5)
    assert second.partitions == []
    assert rows(data) == before


def test_a_revised_article_replaces_its_row(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "b1", [make_article(1), make_article(2)])])
    later = datetime(2026, 11, 21, tzinfo=UTC)
    revised = write_batch(tmp_path, "b2", [make_article(1, body="đã sửa")], fetched=later)
    summary = publish(data, [revised])
    assert (summary.new, summary.updated) == (0, 1)
    got = rows(data)
    assert len(got) == 2
    assert any(str(r["body"]).startswith("đã sửa") for r in got)


def test_latest_fetch_wins_within_one_publish(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = write_batch(tmp_path, "old", [make_article(1, body="cũ")])
    new = write_batch(tmp_path, "new", [make_article(1, body="mới")], fetched=datetime(2026, 11, 22, tzinfo=UTC))
    publish(data, [new, old])
    (row,) = rows(data)
    assert str(row["body"]).startswith("mới")


def test_an_article_whose_date_moves_leaves_its_old_partition(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "b1", [make_article(1, month=5), make_article(2, month=5)])])
    moved = write_batch(
        tmp_path,
        "b2",
        [make_article(1, month=7, body="sửa ngày")],
        fetched=datetime(2026, 11, 22, tzinfo=UTC),
    )
    publish(data, [moved])
    got = {str(r["article_id"]): r["published_month"] for r in rows(data)}
    assert len(got) == 2
    assert sorted(got.values()) == ["2022-05", "2022-07"]


def test_layout_is_hive_by_month_sorted_by_site(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = write_batch(tmp_path, "a", [make_article(i, site_url="https://b.vn") for i in range(3)], site="b")
    b = write_batch(tmp_path, "b", [make_article(i) for i in range(3)], site="a")
    undated = Article(url="https://a.gov.vn/x", title="Không ngày", body="văn bản")
    c = write_batch(tmp_path, "c", [undated])
    publish(data, [a, b, c])
    folders = sorted(p.name for p in (data / "articles").iterdir())
    assert folders == ["published_month=2022-05", "published_month=undated"]
    table = pq.read_table(data / "articles" / "published_month=2022-05" / "part-00000.parquet")
    assert table.column("site").to_pylist() == ["a", "a", "a", "b", "b", "b"]
    assert table.schema.field("published_at").type == pa.timestamp("us", tz="Asia/Ho_Chi_Minh")
    dataset = ds.dataset(data / "articles", partitioning="hive")
    assert dataset.to_table().num_rows == 7
    count = duckdb.sql(
        f"select count(*) from read_parquet('{data}/articles/**/*.parquet', hive_partitioning=true) "
        "where site = 'b' and published_month = '2022-05'"
    ).fetchall()
    assert count == [(3,)]


def test_a_failed_partition_write_leaves_the_dataset_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "b1", [make_article(1), make_article(2, month=6)])])
    before = rows(data)

    def broken(table: pa.Table, folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "part-00000.parquet").write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(storage, "_write_partition", broken)
    with pytest.raises(OSError, match="disk full"):
        publish(data, [write_batch(tmp_path, "b2", [make_article(3), make_article(4, month=6)])])
    monkeypatch.undo()
    assert rows(data) == before
    summary = publish(data, [write_batch(tmp_path, "b2", [make_article(3), make_article(4, month=6)])])
    assert summary.new == 2 and summary.rows_total == 4


def test_partition_swap_is_an_exchange(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "f").write_text("new")
    (b / "f").write_text("old")
    storage._swap_in(a, b)
    assert (b / "f").read_text() == "new"
    assert not a.exists()

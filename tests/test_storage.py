"""Publishing: one row per article, idempotent, the latest verdict, one whole version at a
time, plain hive-partitioned Parquet for every reader, files shaped for readers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from kernel.article import Article, article_id, canonical_url
from kernel.layout import DataLayout
from kernel.schema import ARTICLE_SCHEMA, PARTITION, article_row
from kernel.timestamps import VN_TZ
from pipeline import dataset_versions, layers
from pipeline.layers import Compaction
from pipeline.storage import publish, quarantined_versions, read_articles

FETCHED = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 22, tzinfo=UTC)
# Tiny files and row groups, so a few dozen rows exercise layers, file cuts and merges.
SMALL = Compaction(
    row_group_rows=4, target_file_bytes=12_000, young_layers=3, frozen_layer_bytes=80_000, memory_bytes=2**20
)


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


def write_rows(tmp_path: Path, name: str, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA), path)
    return path


def portal_row(
    site: str, n: int, day: int = 10, month: int = 5, body: str = "bài", fetched: datetime = FETCHED
) -> dict:
    article = Article(
        url=f"https://{site}.gov.vn/tin/{month}-{n}.htm",
        title=f"Tin {site} số {n}",
        body=f"{body} {n} " + "Ủy ban nhân dân tỉnh họp bàn kế hoạch. " * 5,
        published_at=datetime(2022, month, day, 8, n % 60, tzinfo=VN_TZ),
    )
    return article_row(article, site, fetched, fetched)


def rows(data: Path) -> list[dict[str, object]]:
    table = read_articles(DataLayout(data))
    return sorted(table.to_pylist(), key=lambda r: str(r["article_id"]))


def versions_on_disk(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "articles-versions").iterdir() if p.is_dir())


def test_canonical_url_and_id_are_stable() -> None:
    assert canonical_url("HTTP://www.Example.vn:80/a?b=2&a=1&utm_source=x#frag") == "https://example.vn/a?a=1&b=2"
    assert article_id("http://example.vn/a?x=1") == article_id("https://www.example.vn/a?x=1")
    assert article_id("https://example.vn/a?x=1") != article_id("https://example.vn/a?x=2")
    assert len(article_id("https://example.vn/a")) == 16


def test_publish_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    batch = write_batch(tmp_path, "b1", [make_article(i) for i in range(5)])
    first = publish(data, [batch])
    assert (first.new, first.updated, first.unchanged, first.version) == (5, 0, 0, 1)
    before = rows(data)
    second = publish(data, [batch, batch])
    assert (second.new, second.updated, second.unchanged) == (0, 0, 5)
    assert second.partitions == [] and second.version == 1  # nothing changed: no new version
    assert rows(data) == before
    assert versions_on_disk(data) == ["000001"]


def test_a_revised_article_replaces_its_row(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "b1", [make_article(1), make_article(2)])])
    revised = write_batch(tmp_path, "b2", [make_article(1, body="đã sửa")], fetched=LATER)
    summary = publish(data, [revised])
    assert (summary.new, summary.updated) == (0, 1)
    got = rows(data)
    assert len(got) == 2
    assert sum(str(r["body"]).startswith("đã sửa") for r in got) == 1


def test_latest_fetch_wins_within_one_publish(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = write_batch(tmp_path, "old", [make_article(1, body="cũ")])
    new = write_batch(tmp_path, "new", [make_article(1, body="mới")], fetched=LATER)
    publish(data, [new, old])
    (row,) = rows(data)
    assert str(row["body"]).startswith("mới")


def test_an_older_fetch_never_replaces_a_newer_row(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "new", [make_article(1, body="mới")], fetched=LATER)])
    # e.g. an archived crawl re-extracted with better rules, after the portal revised the article
    summary = publish(data, [write_batch(tmp_path, "old", [make_article(1, body="cũ")])])
    assert (summary.superseded, summary.updated, summary.version) == (1, 0, 1)
    assert "1 older than their published copy" in summary.line()
    (row,) = rows(data)
    assert str(row["body"]).startswith("mới")


def test_an_article_whose_date_moves_leaves_its_old_partition(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "b1", [make_article(1, month=5), make_article(2, month=5)])])
    moved = write_batch(tmp_path, "b2", [make_article(1, month=7, body="sửa ngày")], fetched=LATER)
    publish(data, [moved])
    got = {str(r["article_id"]): r[PARTITION] for r in rows(data)}
    assert len(got) == 2
    assert sorted(got.values()) == ["2022-05", "2022-07"]


def test_a_corrected_date_with_the_same_text_is_an_update(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "b1", [make_article(1, month=5)])])
    summary = publish(data, [write_batch(tmp_path, "b2", [make_article(1, month=6)], fetched=LATER)])
    assert (summary.updated, summary.unchanged) == (1, 0)
    assert [r[PARTITION] for r in rows(data)] == ["2022-06"]


def test_a_withdrawn_version_leaves_the_dataset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    batch = write_batch(tmp_path, "b1", [make_article(i, month=5 + i % 2) for i in range(4)])
    publish(data, [batch])
    table = read_articles(DataLayout(data))
    gone = (table.column("article_id")[0].as_py(), table.column("content_hash")[0].as_py())
    stale = (table.column("article_id")[1].as_py(), "0" * 32)  # a version that is not the published one
    summary = publish(data, [], withdraw=[gone, stale])
    assert (summary.withdrawn, summary.new, summary.version) == (1, 0, 2)
    assert "1 withdrawn" in summary.line()
    left = {str(r["article_id"]) for r in rows(data)}
    assert gone[0] not in left and stale[0] in left and len(left) == 3
    # Published again with the night's batch that still holds it: the withdrawal wins.
    again = publish(data, [batch], withdraw=[gone])
    assert (again.withheld, again.unchanged, again.new) == (1, 3, 0)
    assert gone[0] not in {str(r["article_id"]) for r in rows(data)}


def test_withdrawals_from_quarantine_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    batch = write_batch(tmp_path, "b1", [make_article(i) for i in range(3)])
    publish(data, [batch])
    held = pq.read_table(batch).slice(0, 2)
    quarantine = tmp_path / "quarantine.parquet"
    pq.write_table(held, quarantine)
    pairs = quarantined_versions([quarantine])
    assert len(pairs) == 2
    assert publish(data, [], withdraw=pairs).withdrawn == 2
    assert len(rows(data)) == 1


def test_a_missing_batch_is_an_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet"):
        publish(tmp_path / "data", [tmp_path / "nope.parquet"])


def test_layout_is_hive_by_month_sorted_by_site(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = write_batch(tmp_path, "a", [make_article(i, site_url="https://b.vn") for i in range(3)], site="b")
    b = write_batch(tmp_path, "b", [make_article(i) for i in range(3)], site="a")
    undated = Article(url="https://a.gov.vn/x", title="Không ngày", body="văn bản")
    c = write_batch(tmp_path, "c", [undated])
    publish(data, [a, b, c])
    assert (data / "articles").is_symlink()
    folders = sorted(p.name for p in (data / "articles").iterdir())
    assert folders == ["published_month=2022-05", "published_month=undated"]
    (part,) = (data / "articles" / "published_month=2022-05").glob("*.parquet")
    table = pq.read_table(part)
    assert table.column("site").to_pylist() == ["a", "a", "a", "b", "b", "b"]
    assert table.schema.field("published_at").type == pa.timestamp("us", tz="Asia/Ho_Chi_Minh")


def test_every_reader_reads_data_articles_as_hive_parquet(tmp_path: Path) -> None:
    data = tmp_path / "data"
    publish(
        data, [write_rows(tmp_path, "n1", [portal_row(s, n, month=m) for s in "abc" for n in range(6) for m in (4, 5)])]
    )
    publish(data, [write_rows(tmp_path, "n2", [portal_row(s, n, month=5) for s in "cd" for n in range(6, 9)])])
    expected = {(r["article_id"], r[PARTITION]) for r in rows(data)}
    assert len(expected) == 42
    articles = data / "articles"
    # Nothing but partition folders and Parquet files where readers look.
    assert {p.suffix for p in articles.rglob("*") if p.is_file()} == {".parquet"}
    assert all(p.name.startswith(f"{PARTITION}=") for p in articles.iterdir())

    glob = f"{articles}/**/*.parquet"
    by_duckdb = duckdb.sql(f"select article_id, {PARTITION} from read_parquet('{glob}', hive_partitioning=true)")
    by_pyarrow = ds.dataset(articles, format="parquet", partitioning="hive").to_table(["article_id", PARTITION])
    by_pandas = pd.read_parquet(articles, columns=["article_id", PARTITION])
    by_polars = pl.read_parquet(articles, hive_partitioning=True).select("article_id", PARTITION)
    assert set(by_duckdb.fetchall()) == expected
    assert set(zip(*by_pyarrow.to_pydict().values(), strict=True)) == expected
    assert {(a, str(m)) for a, m in zip(by_pandas["article_id"], by_pandas[PARTITION], strict=True)} == expected
    assert set(by_polars.iter_rows()) == expected
    one_portal = duckdb.sql(
        f"select count(*) from read_parquet('{glob}', hive_partitioning=true) "
        f"where site = 'c' and {PARTITION} = '2022-05'"
    ).fetchall()
    assert one_portal == [(9,)]


def test_a_publish_links_what_it_does_not_change(tmp_path: Path) -> None:
    data = tmp_path / "data"
    night = [portal_row(s, n, month=m) for s in "ab" for n in range(10) for m in (3, 4, 5)]
    publish(data, [write_rows(tmp_path, "n1", night)], policy=SMALL)
    layout = DataLayout(data)
    v1 = layout.articles_version_dir(1)
    one_more = publish(data, [write_rows(tmp_path, "n2", [portal_row("c", 1, month=4)])], policy=SMALL)
    assert one_more.partitions == ["2022-04"] and one_more.files_written == 1
    v2 = layout.articles_version_dir(2)
    for month in ("2022-03", "2022-05"):
        old = {p.name: p.stat().st_ino for p in (v1 / f"{PARTITION}={month}").iterdir()}
        new = {p.name: p.stat().st_ino for p in (v2 / f"{PARTITION}={month}").iterdir()}
        assert old == new  # the same files, hard-linked
    april_old = {p.name: p.stat().st_ino for p in (v1 / f"{PARTITION}=2022-04").iterdir()}
    april_new = {p.name: p.stat().st_ino for p in (v2 / f"{PARTITION}=2022-04").iterdir()}
    assert len(april_new) == len(april_old) + 1
    assert set(april_old.values()) < set(april_new.values())  # the old files linked, one new file
    assert len(set(april_old) - set(april_new)) == 1  # one of them under a new name (a changed partition loses a name)
    manifest = json.loads(layout.articles_manifest_path(2).read_text(encoding="utf-8"))
    assert manifest["rows"] == 61 and manifest["published"]["new"] == 1


def test_old_versions_are_removed_two_behind_once_replaced_a_while_ago(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    for night in range(4):
        publish(data, [write_batch(tmp_path, f"n{night}", [make_article(night)])])
    assert versions_on_disk(data) == ["000001", "000002", "000003", "000004"]  # replaced minutes ago: kept
    monkeypatch.setattr(dataset_versions, "KEEP_SECONDS", 0)
    publish(data, [write_batch(tmp_path, "n4", [make_article(4)])])
    assert versions_on_disk(data) == ["000003", "000004", "000005"]
    assert sorted(p.name for p in (data / "articles-versions").iterdir() if p.is_file()) == [
        f"00000{v}.{kind}" for v in (3, 4, 5) for kind in ("ids.parquet", "manifest.json")
    ]
    assert len(rows(data)) == 5


def test_a_failed_publish_leaves_the_dataset_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    publish(data, [write_batch(tmp_path, "b1", [make_article(1), make_article(2, month=6)])])
    before = rows(data)

    def broken(sources: object, writer: layers.LayerWriter) -> int:
        (writer.folder / "part-half.parquet").write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr("pipeline.storage.merge", broken)
    with pytest.raises(OSError, match="disk full"):
        publish(data, [write_batch(tmp_path, "b2", [make_article(3), make_article(4, month=6)])])
    monkeypatch.undo()
    assert rows(data) == before
    assert dataset_versions.current_version(DataLayout(data)) == 1
    summary = publish(data, [write_batch(tmp_path, "b2", [make_article(3), make_article(4, month=6)])])
    assert summary.new == 2 and summary.rows_total == 4 and summary.discarded == [2]
    assert "discarded the unfinished version 2" in summary.line()
    assert rows(data) != before and len(rows(data)) == 4


def test_nightly_additions_are_compacted(tmp_path: Path) -> None:
    """Sixteen small nights into one month: a few layers, at most one far below the target
    size, every file sorted, row groups holding whole portals."""
    data = tmp_path / "data"
    sites = [f"p{i:02d}" for i in range(6)]
    for night in range(16):
        batch = [portal_row(s, night * 10 + n, day=1 + night) for s in sites for n in range(2)]
        publish(data, [write_rows(tmp_path, f"n{night}", batch)], policy=SMALL)
    layout = DataLayout(data)
    manifest = dataset_versions.current_manifest(layout)
    layers_of_may = manifest.partitions["2022-05"]
    assert sum(layer.rows for layer in layers_of_may) == 16 * 12
    # the young layers, then about log2(16 - young) older ones; one file per night would be 16
    assert len(layers_of_may) <= SMALL.young_layers + 5
    assert [layer.rows for layer in layers_of_may[-SMALL.young_layers :]] == [12] * SMALL.young_layers
    small = [f for layer in layers_of_may for f in layer.files if f.bytes < SMALL.target_file_bytes / 2]
    assert len(small) <= 1
    folder = dataset_versions.partition_dir(layout.articles_version_dir(manifest.version), "2022-05")
    for layer in layers_of_may:
        keys = []
        for entry in layer.files:
            table = pq.read_table(folder / entry.name)
            keys += list(
                zip(*(table.column(c).to_pylist() for c in ("site", "published_at", "article_id")), strict=True)
            )
            metadata = pq.ParquetFile(folder / entry.name).metadata
            for i in range(metadata.num_row_groups - 1):
                this, following = (
                    metadata.row_group(i).column(1).statistics,
                    metadata.row_group(i + 1).column(1).statistics,
                )
                assert (
                    this.max < following.min or this.min == this.max == following.min
                )  # portals not split, but big ones
        assert keys == sorted(keys)  # sorted across the whole layer


def test_a_revision_of_a_recent_article_rewrites_only_its_nights_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    policy = Compaction(row_group_rows=4, target_file_bytes=12_000, young_layers=4, frozen_layer_bytes=1)
    nights = [
        [portal_row(s, night * 10 + n, day=1 + night) for s in ("p1", "p2") for n in range(6)] for night in range(8)
    ]
    for number, night in enumerate(nights):
        publish(data, [write_rows(tmp_path, f"n{number}", night)], policy=policy)
    before = dataset_versions.current_manifest(DataLayout(data))
    revised = {**nights[-2][3], "body": "đã sửa", "content_hash": "1" * 32, "fetched_at": LATER}
    summary = publish(data, [write_rows(tmp_path, "revision", [revised])], policy=policy)
    assert (summary.updated, summary.files_written) == (1, 2)  # its night's file without it, and the new row
    assert summary.files_linked == sum(len(layer.files) for layer in before.partitions["2022-05"]) - 1
    assert sum(r["body"] == "đã sửa" for r in rows(data)) == 1


def test_a_query_for_one_portal_reads_only_its_row_groups(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sites = [f"p{i:02d}" for i in range(12)]
    for night in range(6):
        batch = [portal_row(s, night * 10 + n, day=1 + night) for s in sites for n in range(3)]
        publish(data, [write_rows(tmp_path, f"n{night}", batch)], policy=SMALL)
    files = sorted((data / "articles" / f"{PARTITION}=2022-05").glob("*.parquet"))
    total = holding = 0
    for path in files:
        metadata = pq.ParquetFile(path).metadata
        for i in range(metadata.num_row_groups):
            stats = metadata.row_group(i).column(1).statistics
            total += 1
            holding += stats.min <= "p07" <= stats.max
    connection = duckdb.connect()
    connection.execute("PRAGMA enable_profiling = 'json'")
    profile = tmp_path / "profile.json"
    connection.execute(f"PRAGMA profiling_output = '{profile}'")
    got = connection.execute(
        f"select count(*) from read_parquet('{data}/articles/**/*.parquet', hive_partitioning=true) "
        f"where site = 'p07' and {PARTITION} = '2022-05'"
    ).fetchall()
    connection.execute("PRAGMA disable_profiling")
    assert got == [(18,)]
    query = json.loads(profile.read_text())["query"]
    assert query["total_row_groups_to_scan"] == total > 3 * holding
    assert query["total_row_groups_scanned"] == holding


def test_rows_past_the_memory_budget_are_spilled_with_the_same_result(tmp_path: Path) -> None:
    night = [portal_row(s, n, month=m) for s in "abcdef" for n in range(8) for m in (4, 5, 6)]
    batches = [write_rows(tmp_path, f"b{i}", night[i::3]) for i in range(3)]
    tight = Compaction(
        row_group_rows=4, target_file_bytes=12_000, young_layers=3, frozen_layer_bytes=80_000, memory_bytes=4_000
    )
    publish(tmp_path / "roomy", batches, policy=SMALL)
    publish(tmp_path / "tight", batches, policy=tight)
    assert rows(tmp_path / "tight") == rows(tmp_path / "roomy")


def earlier_layout(data: Path, months: tuple[str, ...] = ("2022-04", "2022-05")) -> pa.Table:
    """An ``articles`` folder as the per-partition publish left it: one sorted file a month."""
    rows = [portal_row("a", n, month=int(m[-2:])) for n in range(3) for m in months]
    table = pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA).sort_by(layers.SORT_KEYS)
    for month in months:
        folder = DataLayout(data).articles / f"{PARTITION}={month}"
        folder.mkdir(parents=True)
        in_month = [str(d)[:7] == month for d in table.column("published_at").to_pylist()]
        pq.write_table(table.filter(pa.array(in_month)), folder / "part-00000.parquet")
    return table


@pytest.mark.parametrize("exchange", [True, False], ids=["exchanged", "renamed-aside"])
def test_the_earlier_layout_is_adopted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    """A data dir published by the per-partition publish (a real ``articles`` folder, and a
    publish of it killed after its commit point) becomes version 1, then takes the night,
    whether or not the file system swaps the folder and the symlink in one step."""
    if not exchange:
        monkeypatch.setattr(dataset_versions, "_exchange", lambda a, b: False)
    data = tmp_path / "data"
    layout = DataLayout(data)
    table = earlier_layout(data)
    months = [str(d)[:7] for d in table.column("published_at").to_pylist()]
    # The earlier publish's journal: a staged replacement of 2022-05 holding one more row.
    staged = layout.staging / "publish" / "t1" / f"{PARTITION}=2022-05"
    staged.mkdir(parents=True)
    may = [*(r for r, m in zip(table.to_pylist(), months, strict=True) if m == "2022-05"), portal_row("b", 9)]
    pq.write_table(pa.Table.from_pylist(may, schema=ARTICLE_SCHEMA), staged / "part-00000.parquet")
    (staged / ".txn-t1").touch()
    layout.publish_journal_path.write_text(json.dumps({"txn": "t1", "plan": {"2022-05": "swap"}}))

    summary = publish(data, [write_rows(tmp_path, "night", [portal_row("c", 1, month=6)])])
    assert summary.version == 2 and summary.new == 1 and summary.rows_total == 8
    assert layout.articles.is_symlink() and not layout.publish_journal_path.exists()
    assert {(r["site"], r[PARTITION]) for r in rows(data)} == {
        ("a", "2022-04"),
        ("a", "2022-05"),
        ("b", "2022-05"),
        ("c", "2022-06"),
    }
    assert not list(data.glob(".articles*"))
    assert str(layout.articles.readlink()) == "articles-versions/000002"


def test_an_adoption_cut_short_between_its_renames_is_put_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    earlier_layout(data)
    (data / "articles").rename(data / ".articles-earlier")  # killed right after moving the folder aside
    summary = publish(data, [])
    assert (summary.version, summary.rows_total) == (1, 6)
    assert len(rows(data)) == 6 and not (data / ".articles-earlier").exists()

"""The published ``articles`` dataset: schema, layout, and an atomic, idempotent publish.

Layout: hive partitions by publication month, ``articles/published_month=YYYY-MM/``
(``published_month=undated`` for articles without a date), rows sorted by portal, then
date, then id, so that row-group statistics on ``site`` let readers skip other portals.
Twenty years are 240 partitions whatever the number of portals; a month of 700 portals is a
few files of up to :data:`MAX_ROWS_PER_FILE` rows, tens to a few hundred MB each. (Arrow's
guidance: few partitions, files not far below ~20 MB; partitioning by portal as well would
give ~170,000 small directories.)

A publish rewrites each partition it touches whole: new files are written to a staging
folder on the same file system and swapped in with one atomic rename (``renameat2``
``RENAME_EXCHANGE`` on Linux), so a reader sees the old partition or the new one, never
half of each. Across partitions, a journal is the commit point: a publish killed before it
has changed nothing; one killed after it is completed by the next publish. Publishing is
idempotent: an article is one row keyed by ``article_id``; a row whose content hash is
unchanged is left exactly as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from kernel.layout import DataLayout, exclusive_lock, fsync_dir, write_atomic
from kernel.schema import ARTICLE_SCHEMA, PARTITION, partition_of

MAX_ROWS_PER_FILE = 100_000
ROW_GROUP_ROWS = 10_000


@dataclass
class PublishSummary:
    """What one publish did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    partitions: list[str] = field(default_factory=list)
    rows_total: int = 0

    def line(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged articles; "
            f"{len(self.partitions)} partitions rewritten; {self.rows_total} rows in the dataset"
        )


# -- atomic directory swap ----------------------------------------------------------------
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2``); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    result = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def _swap_in(staged: Path, target: Path) -> None:
    """Put ``staged`` where ``target`` is, in one atomic step where the OS allows."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(target)
    elif _exchange(staged, target):
        shutil.rmtree(staged)  # now holds the old partition
    else:
        old = staged.with_name(staged.name + ".old")
        target.rename(old)
        staged.rename(target)
        shutil.rmtree(old)
    fsync_dir(target.parent)


# -- the publish journal ------------------------------------------------------------------
def _write_journal(layout: DataLayout, journal: dict[str, Any]) -> None:
    write_atomic(layout.publish_journal_path, json.dumps(journal), durable=True)


def _roll_forward(layout: DataLayout) -> None:
    """Carry out a committed publish: swap in every staged partition not yet swapped (each
    carries a ``.txn-<id>`` marker, so a swap already done is recognised), delete emptied
    partitions, then drop the journal. Safe to run again at any point."""
    path = layout.publish_journal_path
    if not path.exists():
        return
    journal = json.loads(path.read_text(encoding="utf-8"))
    txn_id = journal["txn"]
    txn = layout.staging / "publish" / txn_id
    marker = f".txn-{txn_id}"
    for month, action in sorted(journal["plan"].items()):
        target = layout.articles / f"{PARTITION}={month}"
        staged = txn / f"{PARTITION}={month}"
        if action == "delete":
            shutil.rmtree(target, ignore_errors=True)
        elif not (target / marker).exists() and (staged / marker).exists():
            _swap_in(staged, target)
    path.unlink()
    fsync_dir(layout.root)
    for month in journal["plan"]:
        (layout.articles / f"{PARTITION}={month}" / marker).unlink(missing_ok=True)
    shutil.rmtree(txn, ignore_errors=True)


# -- reading ------------------------------------------------------------------------------
def read_articles(layout: DataLayout, columns: list[str] | None = None) -> pa.Table:
    """The published dataset (with its ``published_month`` column), or an empty table."""
    if not layout.articles.exists() or not any(layout.articles.glob(f"{PARTITION}=*/*.parquet")):
        return ARTICLE_SCHEMA.empty_table().append_column(PARTITION, pa.array([], pa.string()))
    dataset = ds.dataset(
        layout.articles,
        format="parquet",
        schema=ARTICLE_SCHEMA.append(pa.field(PARTITION, pa.string())),
        partitioning=ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive"),
    )
    return dataset.to_table(columns=columns)


def _read_partition(layout: DataLayout, month: str) -> pa.Table:
    folder = layout.articles / f"{PARTITION}={month}"
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return ARTICLE_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=ARTICLE_SCHEMA) for f in files])


def _write_partition(table: pa.Table, folder: Path) -> None:
    folder.mkdir(parents=True)
    for i, start in enumerate(range(0, max(table.num_rows, 1), MAX_ROWS_PER_FILE)):
        chunk = table.slice(start, MAX_ROWS_PER_FILE)
        path = folder / f"part-{i:05d}.parquet"
        pq.write_table(chunk, path, compression="zstd", row_group_size=ROW_GROUP_ROWS, write_statistics=True)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("site", "ascending"), ("published_at", "ascending"), ("article_id", "ascending")])


def _latest_per_article(table: pa.Table) -> pa.Table:
    """One row per article_id: the most recently fetched."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([("article_id", "ascending"), ("fetched_at", "descending")])
    ids = ordered.column("article_id").to_pylist()
    keep = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    return ordered.take(pa.array(keep, pa.int64()))


# -- publishing ---------------------------------------------------------------------------
def publish(data_dir: Path, batches: list[Path]) -> PublishSummary:
    """Merge extracted batches into the articles dataset, atomically per partition."""
    layout = DataLayout(data_dir)
    summary = PublishSummary()
    with exclusive_lock(layout.publish_lock_path):  # one publish at a time per data dir
        _roll_forward(layout)  # a publish killed after its commit point is finished first
        shutil.rmtree(layout.staging / "publish", ignore_errors=True)
        tables = [pq.read_table(p, schema=ARTICLE_SCHEMA) for p in batches if p.exists()]
        incoming = _latest_per_article(pa.concat_tables(tables)) if tables else ARTICLE_SCHEMA.empty_table()
        existing = read_articles(layout, ["article_id", "content_hash", PARTITION])
        known = dict(
            zip(
                existing.column("article_id").to_pylist(),
                zip(
                    existing.column("content_hash").to_pylist(),
                    existing.column(PARTITION).to_pylist(),
                    strict=True,
                ),
                strict=True,
            )
        )

        by_partition: dict[str, list[int]] = {}
        moved_out: dict[str, set[str]] = {}
        months = [partition_of(d) for d in incoming.column("published_at").to_pylist()]
        for i, (aid, digest) in enumerate(
            zip(
                incoming.column("article_id").to_pylist(),
                incoming.column("content_hash").to_pylist(),
                strict=True,
            )
        ):
            if aid in known:
                old_hash, old_month = known[aid]
                if old_hash == digest:
                    summary.unchanged += 1
                    continue
                summary.updated += 1
                moved_out.setdefault(old_month, set()).add(aid)
            else:
                summary.new += 1
            by_partition.setdefault(months[i], []).append(i)

        touched = sorted(set(by_partition) | set(moved_out))
        txn_id = uuid.uuid4().hex
        txn = layout.staging / "publish" / txn_id
        plan: dict[str, str] = {}  # month -> "swap" or "delete"
        for month in touched:
            current = _read_partition(layout, month)
            drop = moved_out.get(month, set())
            if drop:
                mask = pc.invert(pc.is_in(current.column("article_id"), pa.array(sorted(drop))))
                current = current.filter(mask)
            added = incoming.take(pa.array(by_partition.get(month, []), pa.int64()))
            merged = _sorted(pa.concat_tables([current, added]))
            if merged.num_rows == 0:
                plan[month] = "delete"
                continue
            _write_partition(merged, txn / f"{PARTITION}={month}")
            (txn / f"{PARTITION}={month}" / f".txn-{txn_id}").touch()
            plan[month] = "swap"
        # Commit point: once the journal is in place the publish is decided, and a run that
        # dies after it is completed by the next one (roll forward); before it, nothing of
        # the dataset has changed.
        _write_journal(layout, {"txn": txn_id, "plan": plan})
        _roll_forward(layout)
        summary.partitions = sorted(plan)
        summary.rows_total = read_articles(layout, ["article_id"]).num_rows
    return summary

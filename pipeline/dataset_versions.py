"""The published dataset's versions: each publish builds a whole new version and switches to it
in one atomic step.

```
data/articles -> articles-versions/000042                 what readers open (a relative symlink)
data/articles-versions/000042/published_month=YYYY-MM/*.parquet
data/articles-versions/000042.manifest.json               its files, in layers per partition
data/articles-versions/000042.ids.parquet                 article_id -> published_month, every row
```

A version directory holds nothing but hive partitions of Parquet files, so DuckDB, pyarrow,
pandas, polars and Spark read ``data/articles`` as plain hive-partitioned Parquet. A new
version hard-links the files of the partitions a publish does not touch (and the untouched
files of those it does), writes new files for the rest, then its manifest and its id index;
the last step is one ``rename`` of a new symlink over ``articles``. That rename is the commit
point: a publish killed before it leaves the previous version current, and the next publish
discards what it left; one killed after it has published.

A data file never changes once written and its name is never reused for other rows, so a file
name seen in one version means the same rows in every version that has it. Readers that open
``data/articles`` by path list its folders, then open the files they listed, each step through
the symlink: a file listed in one version and opened after a switch is either the same file
or gone. Every partition a publish changes loses at least one file name (a partition that
only gains files gets one of its old files linked under a new name), so a reader whose
listing of a changed partition is overtaken by a switch fails with a missing file rather
than reading that partition's old state beside others' new one. A reader that wants one
version whatever happens resolves the symlink once and reads the version folder. Old versions are
removed once they are :data:`KEEP_PREVIOUS` versions behind and were replaced
:data:`KEEP_SECONDS` ago, so a reader that opened one (or resolved the symlink to pin it) can
finish; removing one frees only the files no later version links.

A manifest describes each partition as *layers*: the files one publish wrote together, sorted
by ``site``, ``published_at`` and ``article_id`` across the layer, each file holding a
contiguous range of that order (see :mod:`pipeline.layers`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kernel.layout import DataLayout, fsync_dir, write_atomic
from kernel.schema import PARTITION

MANIFEST_FORMAT = 1
# Versions kept behind the current one, for readers that opened them (or pinned one by
# resolving the symlink): the previous two, and any replaced less than this long ago.
KEEP_PREVIOUS = 2
KEEP_SECONDS = 15 * 60
INDEX_SCHEMA = pa.schema([pa.field("article_id", pa.string(), nullable=False), pa.field(PARTITION, pa.string())])
INDEX_BATCH_ROWS = 65_536
_VERSION_NAME = re.compile(r"^(\d{6})(?:\.manifest\.json|\.ids\.parquet)?$")


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a partition."""

    name: str
    rows: int
    bytes: int


@dataclass
class Layer:
    """Files one publish wrote together, in sort order (oldest layer first in a partition)."""

    id: str
    files: list[DataFile] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)


@dataclass
class Manifest:
    """What one version of the dataset holds."""

    version: int
    created_at: str
    partitions: dict[str, list[Layer]] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)  # the summary of the publish that made it

    @property
    def rows(self) -> int:
        return sum(layer.rows for layers in self.partitions.values() for layer in layers)

    def files(self, month: str) -> list[DataFile]:
        return [f for layer in self.partitions.get(month, []) for f in layer.files]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": MANIFEST_FORMAT,
                "version": self.version,
                "created_at": self.created_at,
                "rows": self.rows,
                "partitions": {
                    month: [
                        {"id": layer.id, "files": [[f.name, f.rows, f.bytes] for f in layer.files]} for layer in layers
                    ]
                    for month, layers in sorted(self.partitions.items())
                },
                "published": self.published,
            },
            ensure_ascii=False,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str, path: Path) -> Manifest:
        try:
            data = json.loads(text)
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {MANIFEST_FORMAT}")
            partitions = {
                str(month): [
                    Layer(str(layer["id"]), [DataFile(str(n), int(r), int(b)) for n, r, b in layer["files"]])
                    for layer in layers
                ]
                for month, layers in data["partitions"].items()
            }
            return cls(int(data["version"]), str(data["created_at"]), partitions, dict(data.get("published", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a dataset manifest ({exc})") from exc


def empty_manifest() -> Manifest:
    """Version 0: the dataset before anything was published."""
    return Manifest(version=0, created_at="")


def partition_dir(root: Path, month: str) -> Path:
    return root / f"{PARTITION}={month}"


# -- which version is current -----------------------------------------------------------------
def current_version(layout: DataLayout) -> int | None:
    """The version ``articles`` points to; None when nothing is published in versions yet."""
    link = layout.articles
    if not link.is_symlink():
        return None
    target = str(link.readlink())
    match = _VERSION_NAME.match(Path(target).name)
    if not match or Path(target).parent.name != layout.articles_versions.name:
        raise ValueError(f"{link}: points to {target!r}, which is not a dataset version")
    return int(match.group(1))


def read_manifest(layout: DataLayout, version: int) -> Manifest:
    path = layout.articles_manifest_path(version)
    return Manifest.from_json(path.read_text(encoding="utf-8"), path)


def current_manifest(layout: DataLayout) -> Manifest:
    version = current_version(layout)
    return empty_manifest() if version is None else read_manifest(layout, version)


def _versions_on_disk(layout: DataLayout) -> dict[int, list[Path]]:
    found: dict[int, list[Path]] = {}
    if layout.articles_versions.exists():
        for entry in layout.articles_versions.iterdir():
            match = _VERSION_NAME.match(entry.name)
            if match:
                found.setdefault(int(match.group(1)), []).append(entry)
    return found


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def discard_unfinished(layout: DataLayout) -> list[int]:
    """Remove every version newer than the current one: what a killed publish left."""
    current = current_version(layout) or 0
    unfinished = {v: paths for v, paths in _versions_on_disk(layout).items() if v > current}
    for paths in unfinished.values():
        _remove(paths)
    return sorted(unfinished)


def prune(layout: DataLayout) -> list[int]:
    """Remove the versions that are more than :data:`KEEP_PREVIOUS` behind the current one
    and were replaced more than :data:`KEEP_SECONDS` ago."""
    current = current_version(layout) or 0
    on_disk = _versions_on_disk(layout)
    old = {}
    for version, paths in on_disk.items():
        if version >= current - KEEP_PREVIOUS:
            continue
        successor = layout.articles_manifest_path(version + 1)
        replaced = successor.stat().st_mtime if successor.exists() else 0.0
        if time.time() - replaced >= KEEP_SECONDS:
            old[version] = paths
    for version in sorted(old):
        # The manifest first: a version without one is never read, even if its removal stops half-way.
        _remove(sorted(old[version], key=lambda p: not p.name.endswith(".manifest.json")))
    return sorted(old)


# -- building a version -----------------------------------------------------------------------
def begin(layout: DataLayout, version: int) -> Path:
    """An empty directory for a new version (left-overs of an unfinished build removed)."""
    root = layout.articles_version_dir(version)
    _remove([root, layout.articles_manifest_path(version), layout.articles_index_path(version)])
    root.mkdir(parents=True)
    return root


def link(source: Path, target: Path) -> None:
    """Put an unchanged file into the new version: a hard link, or a copy where the file
    system has none."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def sync_tree(root: Path, new_files: Iterable[Path]) -> None:
    """Make a built version durable before it is switched to: the new files' data, then
    every directory entry (hard links included)."""
    for path in new_files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        fsync_dir(folder)
    fsync_dir(root)
    fsync_dir(root.parent)


def commit(layout: DataLayout, manifest: Manifest) -> None:
    """Write the manifest, then switch ``articles`` to the new version: one rename."""
    write_atomic(layout.articles_manifest_path(manifest.version), manifest.to_json(), durable=True)
    switch(layout, manifest.version)


def switch(layout: DataLayout, version: int) -> None:
    """Point ``articles`` at ``version`` in one atomic step (readers see the old target or the
    new one). A real ``articles`` directory from the earlier layout is exchanged with the
    link in one step where the OS allows it, and then removed."""
    target = Path(layout.articles_versions.name) / layout.articles_version_dir(version).name
    fresh = layout.root / f".articles.{os.getpid()}.link"
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    if layout.articles.is_dir() and not layout.articles.is_symlink():
        if _exchange(fresh, layout.articles):
            shutil.rmtree(fresh)  # now the old directory
        else:
            aside = _earlier_aside(layout)
            layout.articles.rename(aside)  # a kill from here to the next line: put back by adopt_earlier_layout
            fresh.rename(layout.articles)
            fsync_dir(layout.root)
            shutil.rmtree(aside)
    else:
        fresh.replace(layout.articles)
    fsync_dir(layout.root)


def _earlier_aside(layout: DataLayout) -> Path:
    """Where the earlier layout's ``articles`` folder waits while the symlink takes its
    place, on a file system that cannot exchange the two in one step."""
    return layout.root / ".articles-earlier"


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two names (Linux ``renameat2``); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    result = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def new_manifest(version: int, partitions: dict[str, list[Layer]], published: dict[str, Any]) -> Manifest:
    return Manifest(version, datetime.now(UTC).isoformat(timespec="seconds"), partitions, published)


# -- the id index -----------------------------------------------------------------------------
def _index_batches(layout: DataLayout, version: int) -> Iterator[pa.RecordBatch]:
    if version == 0:
        return
    path = layout.articles_index_path(version)
    yield from pq.ParquetFile(path).iter_batches(batch_size=INDEX_BATCH_ROWS)


def index_lookup(layout: DataLayout, version: int, ids: pa.Array) -> dict[str, str]:
    """Where each of ``ids`` is published in ``version``: article_id -> published_month,
    reading the index in batches (memory bounded by ``ids``, not by the dataset)."""
    found: dict[str, str] = {}
    if len(ids) == 0:
        return found
    for batch in _index_batches(layout, version):
        hits = batch.filter(pc.is_in(batch.column(0), value_set=ids))
        found.update(zip(hits.column(0).to_pylist(), hits.column(1).to_pylist(), strict=True))
    return found


def write_index(
    layout: DataLayout, previous: int, version: int, changed: pa.Array, placed: dict[str, list[str]]
) -> Path:
    """The new version's index: the previous one without the ``changed`` ids, plus ``placed``
    (month -> the ids now in it), streamed batch by batch."""
    path = layout.articles_index_path(version)
    with pq.ParquetWriter(path, INDEX_SCHEMA, compression="zstd") as writer:
        for batch in _index_batches(layout, previous):
            kept = batch.filter(pc.invert(pc.is_in(batch.column(0), value_set=changed))) if len(changed) else batch
            if kept.num_rows:
                writer.write_batch(kept, row_group_size=INDEX_BATCH_ROWS)
        for month, ids in sorted(placed.items()):
            if ids:
                table = pa.table({"article_id": ids, PARTITION: [month] * len(ids)}, schema=INDEX_SCHEMA)
                writer.write_table(table, row_group_size=INDEX_BATCH_ROWS)
    return path


def build_index_from_files(layout: DataLayout, version: int, root: Path, manifest: Manifest) -> Path:
    """An index read from the data files themselves (when adopting a dataset without one)."""
    path = layout.articles_index_path(version)
    with pq.ParquetWriter(path, INDEX_SCHEMA, compression="zstd") as writer:
        for month in sorted(manifest.partitions):
            for entry in manifest.files(month):
                ids = pq.read_table(partition_dir(root, month) / entry.name, columns=["article_id"]).column(0)
                table = pa.table({"article_id": ids, PARTITION: pa.array([month] * len(ids), pa.string())})
                writer.write_table(table.cast(INDEX_SCHEMA), row_group_size=INDEX_BATCH_ROWS)
    return path


# -- the earlier layout -----------------------------------------------------------------------
def adopt_earlier_layout(layout: DataLayout) -> bool:
    """Turn an ``articles`` directory written by the earlier, per-partition publish into
    version 1 (its files hard-linked, each partition one layer, as that publish sorted whole
    partitions), after finishing a publish of it that was killed after its commit point.
    True when there was such a directory."""
    aside = _earlier_aside(layout)
    if aside.is_dir():
        if layout.articles.is_symlink():
            shutil.rmtree(aside)  # switched; only its removal was cut short
        elif not layout.articles.exists():
            aside.rename(layout.articles)  # cut short between the two renames: put it back
    _finish_earlier_journal(layout)
    if layout.articles.is_symlink() or not layout.articles.is_dir():
        return False
    root = begin(layout, 1)
    partitions: dict[str, list[Layer]] = {}
    for folder in sorted(layout.articles.glob(f"{PARTITION}=*")):
        files = []
        for path in sorted(folder.glob("*.parquet")):
            target = partition_dir(root, folder.name.split("=", 1)[1])
            target.mkdir(exist_ok=True)
            link(path, target / path.name)
            files.append(DataFile(path.name, pq.ParquetFile(path).metadata.num_rows, path.stat().st_size))
        if files:
            partitions[folder.name.split("=", 1)[1]] = [Layer("000000.0", files)]
    manifest = new_manifest(1, partitions, {"adopted": "articles/ of the per-partition layout"})
    build_index_from_files(layout, 1, root, manifest)
    sync_tree(root, [layout.articles_index_path(1)])
    commit(layout, manifest)
    return True


def _finish_earlier_journal(layout: DataLayout) -> None:
    """Carry out a committed publish of the per-partition layout: swap in each staged
    partition not yet swapped (each carries a ``.txn-<id>`` marker), delete emptied ones."""
    path = layout.publish_journal_path
    if not path.exists():
        return
    journal = json.loads(path.read_text(encoding="utf-8"))
    txn = layout.staging / "publish" / str(journal["txn"])
    marker = f".txn-{journal['txn']}"
    for month, action in sorted(journal["plan"].items()):
        target = partition_dir(layout.articles, month)
        staged = partition_dir(txn, month)
        if action == "delete":
            shutil.rmtree(target, ignore_errors=True)
        elif not (target / marker).exists() and (staged / marker).exists():
            if target.exists() and not _exchange(staged, target):
                shutil.rmtree(target)
            if not target.exists():
                staged.rename(target)
    for month in journal["plan"]:
        (partition_dir(layout.articles, month) / marker).unlink(missing_ok=True)
    path.unlink()
    fsync_dir(layout.root)
    shutil.rmtree(txn, ignore_errors=True)

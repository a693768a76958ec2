"""The published ``articles`` dataset: publishing a night's validated batches into it, and
reading it back.

Layout: hive partitions by publication month, ``articles/published_month=YYYY-MM/``
(``published_month=undated`` for articles without a date). Twenty years are 240 partitions
whatever the number of portals (partitioning by portal as well would give ~170,000 small
directories). ``articles`` is a symlink to the current version of the dataset
(:mod:`pipeline.dataset_versions`); within a partition the files form sorted layers
(:mod:`pipeline.layers`).

A publish is one transaction, and in proportion to its night:

* it reads only the batches it is given, and of the dataset only the id index and the
  ``article_id``, ``content_hash``, ``fetched_at`` and ``published_at`` columns of the
  partitions that hold an article it brings or withdraws;
* it decides per article: *new*; *unchanged* (same content hash and date: the row is left
  exactly as it is); *updated* (the row is replaced, in its new month if the date moved);
  *superseded* (the batch's copy was fetched before the published one, which stays);
* it withdraws the rows whose published version a later validation quarantined (an
  ``(article_id, content_hash)`` pair in ``withdraw``; a row of another version stays), and
  does not publish a row of a version it withdraws (*withheld*);
* it touches only the partitions those rows fall into: their untouched files are hard-linked
  into the new version, the new rows become a layer of their own (merged with the small
  newest layers, older layers merged as :class:`~pipeline.layers.Compaction` says), and the
  rows that leave a partition are taken out of the files holding them;
* it builds the new version beside the current one and switches to it with one rename:
  readers see the night before or the night after, never a mix. A publish killed on the way
  leaves the previous version current; the next publish discards what it left. Publishes of
  one data dir take turns (a lock), so two at once equal one.

Publishing is idempotent: an article is one row keyed by ``article_id``; publishing the same
batches again changes nothing and writes no version.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from kernel.layout import DataLayout, exclusive_lock
from kernel.schema import ARTICLE_SCHEMA, PARTITION, partition_of
from pipeline import dataset_versions as versions
from pipeline.dataset_versions import DataFile, Layer, Manifest, partition_dir
from pipeline.layers import Compaction, IncomingRows, LayerWriter, Source, merge, without

KEY_COLUMNS = ["article_id", "content_hash", "fetched_at", "published_at"]
_READERS = min(4, os.cpu_count() or 1)


@dataclass
class PublishSummary:
    """What one publish did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0  # published rows of a version that a later validation quarantined
    superseded: int = 0  # batch rows fetched before the published row of their article, which stays
    withheld: int = 0  # batch rows of a version this publish withdraws
    partitions: list[str] = field(default_factory=list)  # the partitions this publish changed
    rows_total: int = 0
    version: int = 0  # the dataset version current after this publish (0: nothing published)
    files_written: int = 0
    bytes_written: int = 0
    files_linked: int = 0
    discarded: list[int] = field(default_factory=list)  # unfinished versions of killed publishes

    def line(self) -> str:
        counts = [f"{self.new} new", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        if self.withdrawn:
            counts.append(f"{self.withdrawn} withdrawn")
        if self.superseded:
            counts.append(f"{self.superseded} older than their published copy")
        if self.withheld:
            counts.append(f"{self.withheld} withheld (their version is withdrawn)")
        text = (
            ", ".join(counts) + f" articles; {len(self.partitions)} partitions changed "
            f"({self.files_written} files written, {self.bytes_written / 2**20:.1f} MB); "
            f"{self.rows_total} rows in the dataset (version {self.version})"
        )
        if self.discarded:
            text += "; discarded the unfinished version " + ", ".join(map(str, self.discarded))
            text += " of a publish that was stopped"
        return text


# -- reading ----------------------------------------------------------------------------------
def published_root(layout: DataLayout) -> Path | None:
    """The folder of the current version (the symlink resolved once, so a reader holding it
    sees one version whatever publishes meanwhile); None when nothing is published."""
    if layout.articles.is_symlink():
        return layout.articles_versions / layout.articles.readlink().name
    return layout.articles if layout.articles.is_dir() else None  # the earlier layout, not yet adopted


def read_articles(layout: DataLayout, columns: list[str] | None = None) -> pa.Table:
    """The published dataset (with its ``published_month`` column), or an empty table."""
    root = published_root(layout)
    schema = ARTICLE_SCHEMA.append(pa.field(PARTITION, pa.string()))
    if root is None or not any(root.glob(f"{PARTITION}=*/*.parquet")):
        table = schema.empty_table()
        return table.select(columns) if columns else table
    dataset = ds.dataset(
        root,
        format="parquet",
        schema=schema,
        partitioning=ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive"),
    )
    return dataset.to_table(columns=columns)


def quarantined_versions(paths: Iterable[Path]) -> set[tuple[str, str]]:
    """The ``(article_id, content_hash)`` pairs held in quarantine files: what a publish
    after a re-validation withdraws."""
    pairs: set[tuple[str, str]] = set()
    for path in paths:
        table = pq.read_table(path, columns=["article_id", "content_hash"])
        ids, hashes = table.column(0).to_pylist(), table.column(1).to_pylist()
        pairs.update((i, h) for i, h in zip(ids, hashes, strict=True) if i is not None and h is not None)
    return pairs


# -- deciding ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Published:
    content_hash: str
    fetched_at: datetime
    published_at: datetime | None
    month: str
    file: str


@dataclass
class _Plan:
    """What a publish changes: rows to add (batch, row, month, id) and rows to take out."""

    add: list[tuple[int, int, str, str]] = field(default_factory=list)
    remove: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # month -> file -> ids

    @property
    def touched(self) -> list[str]:
        return sorted({month for _b, _r, month, _i in self.add} | set(self.remove))

    def take_out(self, row: _Published, article_id: str) -> None:
        self.remove.setdefault(row.month, {}).setdefault(row.file, set()).add(article_id)


def _read_batch(path: Path) -> pa.Table:
    try:
        return pq.read_table(path).select(ARTICLE_SCHEMA.names).cast(ARTICLE_SCHEMA)
    except (pa.ArrowException, KeyError, ValueError) as exc:
        raise ValueError(f"publish: {path}: not a batch of articles ({exc})") from exc


def _incoming_keys(batches: list[Path], held: dict[int, pa.Table], budget: int) -> pa.Table:
    """The key columns of the batches' rows, one row per article: the latest fetch (on a tie,
    the later batch in the list, then the later row), with where it came from. The batches
    read are kept in ``held`` while they fit in ``budget`` bytes (else read again later)."""
    for path in batches:
        if not path.is_file():
            raise FileNotFoundError(f"publish: no such batch: {path}")
    tables = []
    # A night is hundreds of small batches (one per portal); a few threads read them at
    # once, in order, pyarrow releasing the GIL while it decodes.
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        for i, full in enumerate(pool.map(_read_batch, batches)):
            if budget >= full.nbytes:
                held[i], budget = full, budget - full.nbytes
            table = full.select(KEY_COLUMNS)
            n = table.num_rows
            table = table.append_column("batch", pa.array([i] * n, pa.int32()))
            tables.append(table.append_column("row", pa.array(range(n), pa.int64())))
    if not tables:
        return pa.table({c: [] for c in [*KEY_COLUMNS, "batch", "row"]})
    keys = pa.concat_tables(tables).sort_by(
        [("article_id", "ascending"), ("fetched_at", "descending"), ("batch", "descending"), ("row", "descending")]
    )
    if keys.num_rows == 0:
        return keys
    ids = keys.column("article_id").combine_chunks()
    first = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    return keys.filter(pa.concat_arrays([pa.array([True]), first.cast(pa.bool_())]))


def _published_rows(layout: DataLayout, current: Manifest, where: dict[str, str]) -> dict[str, _Published]:
    """The published rows of the ids in ``where`` (id -> month, from the index), reading four
    columns of those months' files only."""
    root = layout.articles_version_dir(current.version) if current.version else None
    by_month: dict[str, list[str]] = {}
    for article_id, month in where.items():
        by_month.setdefault(month, []).append(article_id)
    found: dict[str, _Published] = {}
    for month, ids in sorted(by_month.items()):
        wanted = pa.array(ids, pa.string())
        for entry in current.files(month):
            assert root is not None
            parquet = pq.ParquetFile(partition_dir(root, month) / entry.name)
            for batch in parquet.iter_batches(columns=KEY_COLUMNS, batch_size=65_536):
                hits = batch.filter(pc.is_in(batch.column("article_id"), value_set=wanted))
                values = [hits.column(c).to_pylist() for c in KEY_COLUMNS]
                for aid, digest, fetched, published in zip(*values, strict=True):
                    found[aid] = _Published(digest, fetched, published, month, entry.name)
            parquet.close()
        missing = sorted(set(ids) - set(found))
        if missing:
            raise RuntimeError(
                f"{layout.articles_index_path(current.version)}: lists {missing[0]} in {PARTITION}={month}, "
                "whose files do not hold it"
            )
    return found


def _plan(
    layout: DataLayout,
    current: Manifest,
    keys: pa.Table,
    withdraw: set[tuple[str, str]],
    summary: PublishSummary,
) -> _Plan:
    plan = _Plan()
    ids = keys.column("article_id").to_pylist()
    lookup = pa.array(sorted(set(ids) | {aid for aid, _h in withdraw}), pa.string())
    published = _published_rows(layout, current, versions.index_lookup(layout, current.version, lookup))

    for aid, digest in sorted(withdraw):
        row = published.get(aid)
        if row is not None and row.content_hash == digest:
            plan.take_out(row, aid)
            del published[aid]
            summary.withdrawn += 1

    months = [partition_of(d) for d in keys.column("published_at").to_pylist()]
    columns = (keys.column(c).to_pylist() for c in ("content_hash", "fetched_at", "published_at", "batch", "row"))
    for aid, month, (digest, fetched, date, batch, row) in zip(ids, months, zip(*columns, strict=True), strict=True):
        if (aid, digest) in withdraw:
            summary.withheld += 1
            continue
        old = published.get(aid)
        if old is None:
            summary.new += 1
        elif old.content_hash == digest and old.published_at == date:
            summary.unchanged += 1
            continue
        elif fetched < old.fetched_at:
            summary.superseded += 1
            continue
        else:
            summary.updated += 1
            plan.take_out(old, aid)
        plan.add.append((batch, row, month, aid))
    return plan


# -- building the new version -----------------------------------------------------------------
class _Names:
    """New file names in one partition of the version being built: never a name an earlier
    version used, so a name always means the same rows."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"part-{self.version:06d}-{self.count:05d}.parquet"


def _gather(batches: list[Path], held: dict[int, pa.Table], plan: _Plan, incoming: IncomingRows) -> None:
    """Take the rows to add from their batches, one batch at a time, into per-partition
    sorted runs."""
    by_batch: dict[int, list[tuple[int, str]]] = {}
    for batch, row, month, _aid in plan.add:
        by_batch.setdefault(batch, []).append((row, month))
    for batch, picks in sorted(by_batch.items()):
        picks.sort()
        table = held.pop(batch, None)
        if table is None:
            table = _read_batch(batches[batch])
        if len(picks) < table.num_rows:
            table = table.take(pa.array([r for r, _m in picks], pa.int64()))
        months = [m for _r, m in picks]
        if len(set(months)) == 1:
            incoming.add(months[0], table)
            continue
        month_array = pa.array(months, pa.string())
        for month in sorted(set(months)):
            incoming.add(month, table.filter(pc.equal(month_array, month)))


class _PartitionBuild:
    """One partition of the new version: its layers carried over (hard links), cut down
    (files without the rows that leave) or merged, and this publish's rows as a new layer."""

    def __init__(self, source: Path, target: Path, version: int, drops: dict[str, set[str]], policy: Compaction):
        self.source, self.target, self.version = source, target, version
        self.drops, self.policy = drops, policy
        self.names = _Names(version)
        self.written: list[Path] = []
        self.linked = 0

    def run(self, layers: list[Layer], incoming: IncomingRows, month: str) -> list[Layer]:
        adding = incoming.rows(month)
        fold, settle = self.policy.plan(layers, adding) if adding else ([], [])
        self.target.mkdir()
        # A partition that only gains files gets one of its files under a new name, so that
        # each partition this publish changes loses a name (see dataset_versions).
        rename = not (fold or settle or self.drops) and bool(layers)
        kept: list[Layer] = []
        for layer in layers:
            if any(layer is other for other in fold):
                continue
            if any(layer is other for other in settle):
                if layer is settle[-1]:  # the oldest of them: where the merged layer goes
                    kept.append(self.merged(settle, [], 0))
                continue
            kept.append(self.carried(layer, rename))
            rename = False
        if adding:
            kept.append(self.merged(fold, incoming.sources(month), adding))
        kept = [layer for layer in kept if layer.files]
        if not kept:
            self.target.rmdir()
        return kept

    def carried(self, layer: Layer, rename: bool) -> Layer:
        """A layer that is not merged: its files linked, or rewritten without dropped rows."""
        files: list[DataFile] = []
        for entry in layer.files:
            if entry.name in self.drops:
                writer = LayerWriter(self.target, self.names, self.policy, entry.rows)
                without(self.source / entry.name, writer, frozenset(self.drops[entry.name]))
                files += writer.files
                self.written += writer.paths
                continue
            name = self.names() if rename else entry.name
            rename = False
            versions.link(self.source / entry.name, self.target / name)
            self.linked += 1
            files.append(DataFile(name, entry.rows, entry.bytes))
        return Layer(layer.id, files)

    def merged(self, layers: list[Layer], extra: list[Source], rows: int) -> Layer:
        """``layers`` and ``extra`` (``rows`` rows) merged into one new layer, without the
        dropped rows."""
        sources = [
            Source(
                files=[self.source / f.name for f in layer.files],
                drop=frozenset(i for f in layer.files for i in self.drops.get(f.name, ())),
            )
            for layer in layers
        ]
        writer = LayerWriter(self.target, self.names, self.policy, rows + sum(layer.rows for layer in layers))
        merge(sources + extra, writer)
        self.written += writer.paths
        return Layer(f"{self.version:06d}-{self.names.count:05d}", writer.files)


def _build(
    layout: DataLayout,
    current: Manifest,
    batches: list[Path],
    plan: _Plan,
    policy: Compaction,
    scratch: Path,
    held: dict[int, pa.Table],
    summary: PublishSummary,
) -> Manifest:
    version = current.version + 1
    root = versions.begin(layout, version)
    before = layout.articles_version_dir(current.version) if current.version else root
    incoming = IncomingRows(scratch, policy)
    _gather(batches, held, plan, incoming)
    touched = set(plan.touched)
    partitions: dict[str, list[Layer]] = {}
    written: list[Path] = []

    for month, layers in sorted(current.partitions.items()):
        if month in touched:
            continue
        target = partition_dir(root, month)
        target.mkdir()
        for entry in current.files(month):
            versions.link(partition_dir(before, month) / entry.name, target / entry.name)
            summary.files_linked += 1
        partitions[month] = layers

    expected = current.rows
    for month in sorted(touched):
        drops = plan.remove.get(month, {})
        build = _PartitionBuild(partition_dir(before, month), partition_dir(root, month), version, drops, policy)
        layers = build.run(current.partitions.get(month, []), incoming, month)
        written += build.written
        summary.files_linked += build.linked
        if layers:
            partitions[month] = layers
        expected += incoming.rows(month) - sum(len(ids) for ids in drops.values())
        incoming.release(month)

    manifest = versions.new_manifest(version, partitions, {})
    if manifest.rows != expected:  # a bug, never a reason to publish a dataset that lost rows
        raise RuntimeError(f"publish: version {version} would hold {manifest.rows} rows, expected {expected}")

    changed = {aid for _b, _r, _m, aid in plan.add}
    changed |= {aid for files in plan.remove.values() for ids in files.values() for aid in ids}
    placed: dict[str, list[str]] = {}
    for _b, _r, month, aid in plan.add:
        placed.setdefault(month, []).append(aid)
    index = versions.write_index(layout, current.version, version, pa.array(sorted(changed), pa.string()), placed)
    versions.sync_tree(root, [*written, index])

    summary.partitions = sorted(touched)
    summary.files_written = len(written)
    summary.bytes_written = sum(p.stat().st_size for p in written)
    summary.rows_total = manifest.rows
    summary.version = version
    manifest.published = asdict(summary)
    versions.commit(layout, manifest)
    return manifest


# -- publishing -------------------------------------------------------------------------------
def publish(
    data_dir: Path,
    batches: list[Path],
    *,
    withdraw: Iterable[tuple[str, str]] = (),
    policy: Compaction | None = None,
) -> PublishSummary:
    """Publish validated batches (this night's) into the articles dataset, and withdraw the
    ``(article_id, content_hash)`` versions a later validation quarantined; one new version,
    switched to atomically, or none when nothing changes."""
    layout = DataLayout(data_dir)
    summary = PublishSummary()
    with exclusive_lock(layout.publish_lock_path):  # one publish at a time per data dir
        versions.adopt_earlier_layout(layout)
        summary.discarded = versions.discard_unfinished(layout)
        current = versions.current_manifest(layout)
        scratch = layout.staging / "publish"
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            policy = policy or Compaction()
            held: dict[int, pa.Table] = {}  # batches read once, kept while they fit in memory
            keys = _incoming_keys(list(batches), held, policy.memory_bytes // 2)
            plan = _plan(layout, current, keys, set(withdraw), summary)
            if plan.touched:
                _build(layout, current, list(batches), plan, policy, scratch, held, summary)
            else:
                summary.version, summary.rows_total = current.version, current.rows
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        versions.prune(layout)
    return summary

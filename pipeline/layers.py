"""The files of one month partition as sorted layers: writing them, merging them, and taking
rows out of them, in memory bounded by a row group per input, whatever the partition's size.

A *layer* is the set of files one publish wrote together: its rows are sorted by ``site``,
``published_at`` and ``article_id`` across the whole layer, each file holds a contiguous
range of that order, and each row group holds whole portals (up to
:attr:`Compaction.row_group_rows` rows; a portal with more rows gets row groups of its own).
So in every file the row groups' ``site`` statistics are disjoint, and a reader looking for
one portal reads one or two row groups per layer and skips the rest.

A publish adds its rows of a month as a new layer (with the newest layers if they are small).
The newest :attr:`Compaction.young_layers` layers are then left alone, so that revisions,
which portals make to recent articles, rewrite a night's files rather than the month's;
older ones merge like a binary counter (see :meth:`Compaction.plan`), and layers past
:attr:`Compaction.frozen_layer_bytes` are never merged again. A partition so keeps a few
young layers and about log2(nights) older ones, each row is rewritten a few times in its
life, and at most one file per partition is far below the target size. Rows that leave a
layer that is not merged (a revised or withdrawn article) are taken out by rewriting only the
files that hold them.

Merging walks the inputs in portal order: the output is cut into chunks of whole portals (one
row group each) from the portals' row counts, and each input is read a row group at a time
up to the chunk's last portal, so memory holds one row group per input and one chunk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kernel.schema import ARTICLE_SCHEMA
from pipeline.dataset_versions import DataFile, Layer

SORT_KEYS = [("site", "ascending"), ("published_at", "ascending"), ("article_id", "ascending")]
# Columns with few distinct values get dictionary encoding. pyarrow's default tries it on
# every column, and on unique text (bodies, titles, URLs, ids, hashes) that costs a hash
# table per page and a fall-back, for nothing: writing and reading both take longer.
DICTIONARY_COLUMNS = [
    "site",
    "category",
    "language",
    "author",
    "source",
    "kicker",
    "legacy_encoding",
    "extractor_version",
]
_SITE = ARTICLE_SCHEMA.get_field_index("site")
MiB = 2**20


@dataclass(frozen=True)
class Compaction:
    """How a partition's files are shaped."""

    # Row groups hold whole portals up to this many rows (about 1 MB of articles): a query
    # for one portal reads a row group or two per layer, a few hundred KB where a night's
    # layer packs some eight portals a group, instead of the partition. pyarrow's default
    # (1 Mi rows) would make each file one row group that no query can skip.
    row_group_rows: int = 256
    # Files are cut at this size (the last file of a layer may be up to 1.5 times bigger);
    # a layer under half of it is small, and folded into the next layer written there.
    # Arrow's advice is files not far below ~20 MB.
    target_file_bytes: int = 32 * MiB
    # The newest layers of a partition are left as they are: portals revise recent articles,
    # and a revision then rewrites the files of a night or two, not the month.
    young_layers: int = 7
    # A layer this big is never merged again, so one publish rewrites at most about twice
    # this much of a partition, however big the partition grows.
    frozen_layer_bytes: int = 256 * MiB
    # This publish's rows are held in memory up to this much (Arrow bytes) and spilled to
    # sorted files in the scratch folder past it.
    memory_bytes: int = 256 * MiB

    def is_small(self, layer: Layer) -> bool:
        return layer.bytes < self.target_file_bytes // 2

    def plan(self, layers: list[Layer], adding: int) -> tuple[list[Layer], list[Layer]]:
        """For a partition's layers (oldest first) and ``adding`` new rows: the small newest
        layers that go into the new layer, and the older layers to merge into one (none, or
        at least two). Past the young ones, layers merge like a binary counter: the one that
        just left the young layers takes the newest older ones that are small or not bigger
        than what it has gathered, so a month keeps about log2(nights) older layers and each
        row is rewritten a few times in its life."""
        rest = list(layers)
        fold: list[Layer] = []
        while rest and self.is_small(rest[-1]):
            fold.append(rest.pop())
        young = max(self.young_layers - 1, 0)  # the new layer is the newest young one
        older = [layer for layer in rest[: len(rest) - young] if layer.bytes < self.frozen_layer_bytes]
        if len(older) < 2:
            return fold, []
        settle = [older.pop()]
        gathered = settle[0].rows
        while older and (older[-1].rows <= gathered or self.is_small(older[-1])):
            settle.append(older.pop())
            gathered += settle[-1].rows
        return fold, settle if len(settle) > 1 else []


# -- inputs -----------------------------------------------------------------------------------
_Group = tuple[str | None, Callable[[], pa.Table]]  # a row group's lowest portal, and its loader


def _conform(table: pa.Table) -> pa.Table:
    return table.select(ARTICLE_SCHEMA.names).cast(ARTICLE_SCHEMA)


def _file_groups(path: Path) -> Iterator[_Group]:
    parquet = pq.ParquetFile(path)
    try:
        for i in range(parquet.metadata.num_row_groups):
            stats = parquet.metadata.row_group(i).column(_SITE).statistics
            low = stats.min if stats is not None and stats.has_min_max else None
            yield low, lambda i=i: parquet.read_row_group(i)  # type: ignore[misc]
    finally:
        parquet.close()


@dataclass
class Source:
    """One sorted run of rows to merge: a layer's files, or sorted rows in memory; the ids in
    ``drop`` are left out."""

    files: list[Path] = field(default_factory=list)
    table: pa.Table | None = None
    drop: frozenset[str] = frozenset()
    group_rows: int = 256

    def groups(self) -> Iterator[_Group]:
        if self.table is not None:
            table = self.table
            for start in range(0, table.num_rows, self.group_rows):
                part = table.slice(start, self.group_rows)
                yield part.column("site")[0].as_py(), lambda part=part: part  # type: ignore[misc]
        for path in self.files:
            yield from _file_groups(path)

    def site_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        if self.table is not None:
            counts.update(_value_counts(self.table.column("site")))
        for path in self.files:
            parquet = pq.ParquetFile(path)
            try:
                for i in range(parquet.metadata.num_row_groups):
                    counts.update(_value_counts(parquet.read_row_group(i, columns=["site"]).column(0)))
            finally:
                parquet.close()
        return counts


def _value_counts(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    counted = pc.value_counts(column)
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))


class _Cursor:
    """Reads one source front to back, a row group at a time."""

    def __init__(self, source: Source) -> None:
        self._groups = source.groups()
        self._next: _Group | None = next(self._groups, None)
        self._buffer: pa.Table | None = None
        self._drop = pa.array(sorted(source.drop), pa.string()) if source.drop else None

    def take_through(self, last_site: str) -> list[pa.Table]:
        """Every remaining row up to and including portal ``last_site``."""
        taken: list[pa.Table] = []
        while True:
            if self._buffer is not None and self._buffer.num_rows:
                n = pc.sum(pc.less_equal(self._buffer.column("site"), last_site)).as_py() or 0
                if n:
                    taken.append(self._buffer.slice(0, n))
                    self._buffer = self._buffer.slice(n)
                if self._buffer.num_rows:
                    return taken  # sorted: what is left comes after last_site
            if self._next is None or (self._next[0] is not None and self._next[0] > last_site):
                return taken
            table = _conform(self._next[1]())
            self._next = next(self._groups, None)
            if self._drop is not None:
                table = table.filter(pc.invert(pc.is_in(table.column("article_id"), value_set=self._drop)))
            self._buffer = table


# -- output -----------------------------------------------------------------------------------
class LayerWriter:
    """Writes sorted chunks into a layer's files in ``folder``, one row group per chunk (more
    for a portal bigger than a row group), starting a new file past the target size unless
    what remains is less than half a file."""

    def __init__(self, folder: Path, name: Callable[[], str], policy: Compaction, expected_rows: int) -> None:
        self.folder = folder
        self.policy = policy
        self.expected_rows = expected_rows
        self.files: list[DataFile] = []
        self._name = name
        self._sink: pa.OSFile | None = None
        self._writer: pq.ParquetWriter | None = None
        self._current = ""
        self._rows_in_file = 0
        self._rows = 0

    @property
    def paths(self) -> list[Path]:
        return [self.folder / f.name for f in self.files]

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._current = self._name()
            self._sink = pa.OSFile(str(self.folder / self._current), "wb")
            self._writer = pq.ParquetWriter(
                self._sink,
                ARTICLE_SCHEMA,
                compression="zstd",
                use_dictionary=DICTIONARY_COLUMNS,
                sorting_columns=pq.SortingColumn.from_ordering(ARTICLE_SCHEMA, SORT_KEYS),
            )
        self._writer.write_table(table, row_group_size=self.policy.row_group_rows)
        self._rows_in_file += table.num_rows
        self._rows += table.num_rows
        assert self._sink is not None
        size = self._sink.tell()
        left = max(self.expected_rows - self._rows, 0) * size / self._rows_in_file
        if size >= self.policy.target_file_bytes and left >= self.policy.target_file_bytes / 2:
            self._close_file()

    def _close_file(self) -> None:
        if self._writer is None or self._sink is None:
            return
        self._writer.close()
        self._sink.close()
        path = self.folder / self._current
        self.files.append(DataFile(self._current, self._rows_in_file, path.stat().st_size))
        self._writer, self._sink, self._rows_in_file = None, None, 0

    def close(self) -> list[DataFile]:
        self._close_file()
        return self.files


def plan_chunks(counts: Counter[str], rows: int) -> list[str]:
    """The last portal of each chunk: whole portals, consecutive in sort order, up to ``rows``
    rows a chunk (a portal with more is a chunk of its own)."""
    chunks: list[str] = []
    gathered = 0
    last: str | None = None
    for site in sorted(counts):
        if gathered and gathered + counts[site] > rows:
            chunks.append(str(last))
            gathered = 0
        gathered += counts[site]
        last = site
    if last is not None:
        chunks.append(last)
    return chunks


def merge(sources: list[Source], writer: LayerWriter) -> int:
    """Merge sorted sources into one layer; returns the rows written."""
    counts: Counter[str] = Counter()
    for source in sources:
        counts.update(source.site_counts())
    cursors = [_Cursor(s) for s in sources]
    written = 0
    for last_site in plan_chunks(counts, writer.policy.row_group_rows):
        pieces = [piece for cursor in cursors for piece in cursor.take_through(last_site)]
        if pieces:
            chunk = pa.concat_tables(pieces).sort_by(SORT_KEYS)
            writer.write(chunk)
            written += chunk.num_rows
    writer.close()
    return written


def without(source: Path, writer: LayerWriter, drop: frozenset[str]) -> int:
    """Copy one file of a layer without the ids in ``drop``, row group by row group (the
    order, and so the layer, unchanged); returns the rows kept."""
    values = pa.array(sorted(drop), pa.string())
    kept = 0
    for _low, load in _file_groups(source):
        table = _conform(load())
        table = table.filter(pc.invert(pc.is_in(table.column("article_id"), value_set=values)))
        writer.write(table)
        kept += table.num_rows
    writer.close()
    return kept


# -- this publish's rows ----------------------------------------------------------------------
class IncomingRows:
    """This publish's new rows per partition, sorted; held in memory up to the policy's budget,
    the biggest partition's rows spilled to a sorted file in ``spill_dir`` past it."""

    def __init__(self, spill_dir: Path, policy: Compaction) -> None:
        self.spill_dir = spill_dir
        self.policy = policy
        self._held: dict[str, list[pa.Table]] = {}
        self._spilled: dict[str, list[Path]] = {}
        self._rows: Counter[str] = Counter()
        self._bytes = 0

    def add(self, month: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._held.setdefault(month, []).append(table)
        self._rows[month] += table.num_rows
        self._bytes += table.nbytes
        while self._bytes > self.policy.memory_bytes and self._held:
            self._spill(max(self._held, key=lambda m: sum(t.nbytes for t in self._held[m])))

    def _spill(self, month: str) -> None:
        tables = self._held.pop(month)
        self._bytes -= sum(t.nbytes for t in tables)
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        path = self.spill_dir / f"{month}-{len(self._spilled.get(month, [])):04d}.parquet"
        table = pa.concat_tables(tables).sort_by(SORT_KEYS)
        pq.write_table(table, path, compression="lz4", row_group_size=self.policy.row_group_rows)
        self._spilled.setdefault(month, []).append(path)

    def rows(self, month: str) -> int:
        return self._rows[month]

    def sources(self, month: str) -> list[Source]:
        found = [Source(files=[path]) for path in self._spilled.get(month, [])]
        if month in self._held:
            unsorted = self._held.pop(month)
            table = pa.concat_tables(unsorted).sort_by(SORT_KEYS)
            self._bytes += table.nbytes - sum(t.nbytes for t in unsorted)
            self._held[month] = [table]  # the sorted copy only, from here on
            del unsorted
            found.append(Source(table=table, group_rows=self.policy.row_group_rows))
        return found

    def release(self, month: str) -> None:
        """Forget a partition's rows once they are written."""
        for table in self._held.pop(month, []):
            self._bytes -= table.nbytes
        for path in self._spilled.pop(month, []):
            path.unlink(missing_ok=True)

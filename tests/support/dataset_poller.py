"""Read the published dataset over and over from another process while publishes run: one
line per read with what the reader saw. Used by ``tests/test_publish_crash.py`` and
``bench/readers.py``.

    python -m tests.support.dataset_poller DATA_DIR OUT STOP_FILE WAY...

Each round reads the dataset with DuckDB once per WAY: ``plain`` over
``DATA_DIR/articles/**/*.parquet``; ``pinned`` over the version folder the symlink points
to, resolved once per read (the README's two ways). A line is the way, then a digest of the
``(article_id, content_hash)`` pairs the query returned, or ``error: ...`` if it failed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import duckdb


def digest(pairs: list[tuple[str, str]]) -> str:
    return hashlib.sha256(repr(sorted(pairs)).encode()).hexdigest()[:16]


def read(root: str) -> str:
    try:
        pairs = duckdb.sql(f"select article_id, content_hash from read_parquet('{root}/**/*.parquet')").fetchall()
    except duckdb.Error as exc:
        return "error: " + str(exc).splitlines()[0]
    return digest(pairs)


def main(data_dir: Path, out: Path, stop: Path, ways: list[str]) -> None:
    articles = str(data_dir / "articles")
    with open(out, "a", encoding="utf-8") as sink:
        while not stop.exists():
            for way in ways:
                sink.write(f"{way} {read(os.path.realpath(articles) if way == 'pinned' else articles)}\n")
            sink.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])

"""What readers see while publishes run: a process reads the dataset with DuckDB as fast as
it can, both ways the README shows, while this one publishes night after night (each night
revising every article of twelve month partitions).

    uv run python bench/readers.py [--publishes 300]

Printed per way: reads, reads that were one whole night, reads that failed (a missing file),
and reads that saw anything else (partitions of two nights). ``pinned`` resolves the
``articles`` symlink once per read and reads that version's folder; ``plain`` reads
``data/articles/**/*.parquet``, which DuckDB lists and opens through the symlink, folder by
folder, so a read that is listing the dataset at the instant of a switch can miss files
(an error) or, rarely, combine folders of two versions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kernel.layout import DataLayout  # noqa: E402
from pipeline.storage import publish, read_articles  # noqa: E402
from tests.support.dataset_poller import digest  # noqa: E402
from tests.test_storage import portal_row, write_rows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--publishes", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vnportals-readers-") as tmp:
        work = Path(tmp)
        data = work / "data"

        def night(k: int) -> Path:
            fetched = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=k)
            rows = [
                portal_row(s, n, month=m, body=f"bản {k}", fetched=fetched)
                for s in "ab"
                for n in range(3)
                for m in range(1, 13)
            ]
            return write_rows(work, f"night{k}", rows)

        def state() -> str:
            table = read_articles(DataLayout(data), ["article_id", "content_hash"])
            return digest(list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)))

        publish(data, [night(0)])
        nights = {state()}
        polls, stop = work / "polls.txt", work / "stop"
        command = [
            sys.executable,
            "-m",
            "tests.support.dataset_poller",
            str(data),
            str(polls),
            str(stop),
            "plain",
            "pinned",
        ]
        poller = subprocess.Popen(command, cwd=ROOT)
        started = time.perf_counter()
        try:
            while not polls.exists() or polls.stat().st_size == 0:
                time.sleep(0.05)
            for k in range(1, args.publishes + 1):
                publish(data, [night(k)])
                nights.add(state())
        finally:
            stop.touch()
            poller.wait(timeout=60)
        seconds = time.perf_counter() - started
        lines = polls.read_text(encoding="utf-8").splitlines()
        print(f"{args.publishes} publishes in {seconds:.0f} s, read all along by another process")
        for way in ("plain", "pinned"):
            seen = [line.split(" ", 1)[1] for line in lines if line.startswith(way + " ")]
            errors = sum(s.startswith("error: ") for s in seen)
            whole = sum(s in nights for s in seen)
            print(
                f"  {way:6}: {len(seen)} reads: {whole} one whole night, {errors} failed (a file gone), "
                f"{len(seen) - whole - errors} anything else"
            )


if __name__ == "__main__":
    main()

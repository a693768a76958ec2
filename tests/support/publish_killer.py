"""Run a publish and SIGKILL it at a chosen point, for ``tests/test_publish_crash.py``.

    python -m tests.support.publish_killer DATA_DIR KILL_POINT BATCH...

KILL_POINT is ``before-commit`` (while staged partitions are being written) or
``mid-swap`` (after the first partition is swapped in).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from pipeline import storage


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(data_dir: Path, point: str, batches: list[Path]) -> None:
    if point == "before-commit":
        write = storage._write_partition
        calls = {"n": 0}

        def write_then_die(table: Any, folder: Path) -> None:
            calls["n"] += 1
            write(table, folder)
            if calls["n"] == 2:
                die()

        storage._write_partition = write_then_die  # type: ignore[assignment]
    else:
        swap = storage._swap_in

        def swap_then_die(staged: Path, target: Path) -> None:
            swap(staged, target)
            die()

        storage._swap_in = swap_then_die  # type: ignore[assignment]
    storage.publish(data_dir, batches)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], [Path(p) for p in sys.argv[3:]])

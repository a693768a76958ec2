"""Run a publish and SIGKILL it at a chosen point, for ``tests/test_publish_crash.py``.

    python -m tests.support.publish_killer DATA_DIR KILL_POINT BATCH...

KILL_POINT is ``mid-write`` (the first new file of the version written), ``before-switch``
(the version built and its manifest written, ``articles`` not yet switched) or
``after-switch`` (switched, old versions not yet removed).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from kernel.layout import DataLayout
from pipeline import dataset_versions, layers, storage


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(data_dir: Path, point: str, batches: list[Path]) -> None:
    if point == "mid-write":
        close = layers.LayerWriter._close_file

        def close_then_die(self: layers.LayerWriter) -> None:
            close(self)
            if self.files:
                die()

        layers.LayerWriter._close_file = close_then_die  # type: ignore[method-assign]
    else:
        switch = dataset_versions.switch

        def switch_and_die(layout: DataLayout, version: int) -> None:
            if point == "after-switch":
                switch(layout, version)
            die()

        dataset_versions.switch = switch_and_die
    storage.publish(data_dir, batches)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], [Path(p) for p in sys.argv[3:]])

"""Kill a night at many points and check that nothing is lost: the harness of
``tests/test_kill_anywhere.py`` over every ledger point and over kills spread evenly in time.

    uv run python bench/kill_anywhere.py [--times 10] [--points crawl,extract,...] [--parallel 2]

Two imitation portals on 127.0.0.1 and 127.0.0.2 have a first night (5 articles each); the
second night adds 3 articles to each and revises one that only the sitemap announces (from a
clock years behind). An uninterrupted second night is the reference. Then, for each kill
point, a copy of the data after the first night gets a second night run as ``vnportals run``
in its own process group and SIGKILLed there (the whole group), then one normal run. Printed
per point: when the kill came, how far the killed run's ledger got, the rows after the next
run, and whether the dataset (article_id, content_hash, body) equals the reference's. The
exit status is 1 when any point lost or changed a row.

The ledger points are those of :data:`tests.support.kill_anywhere.POINTS`; ``--times N``
adds N kills spread evenly over the reference night's duration (``at:S``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernel.layout import DataLayout
from tests.support.kill_anywhere import (
    POINTS,
    Kill,
    Portals,
    copy_data,
    dataset,
    imitation_portals,
    killed_night,
    night,
)


def ledger_reached(data: Path, run_id: str | None) -> str:
    """The killed run's step records, in one phrase: ``crawl ok, extract running``."""
    if run_id is None:
        return "not planned"
    folder = DataLayout(data).run_ledger(run_id)
    parts = []
    for step in ("crawl", "extract", "validate"):
        states = sorted({json.loads(p.read_text("utf-8"))["state"] for p in (folder / step).glob("*.json")})
        if states:
            parts.append(f"{step} {'/'.join(states)}")
    publish = folder / "publish.json"
    if publish.exists():
        parts.append(f"publish {json.loads(publish.read_text('utf-8'))['state']}")
    return ", ".join(parts) or "planned"


def one_point(portals: Portals, first: Path, root: Path, point: str) -> tuple[Kill, str, set[tuple[str, str, str]]]:
    data = copy_data(first, root / point.replace(":", "-"))
    kill = killed_night(portals, data, point)
    reached = ledger_reached(data, kill.run_id)
    night(portals, data)
    return kill, reached, dataset(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", default=",".join(POINTS), help="ledger kill points, comma-separated")
    parser.add_argument("--times", type=int, default=10, help="kills spread evenly over the night's duration")
    parser.add_argument("--parallel", type=int, default=2, help="kill scenarios run at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kill-anywhere-") as tmp, imitation_portals(Path(tmp)) as portals:
        root = Path(tmp)
        night(portals, root / "first")
        portals.second_night()
        reference = copy_data(root / "first", root / "reference")
        clock = time.monotonic()
        night(portals, reference)
        duration = time.monotonic() - clock
        wanted = dataset(reference)
        print(f"reference second night: {len(wanted)} rows, {duration:.1f}s")
        points = [p for p in args.points.split(",") if p]
        points += [f"at:{duration * (i + 0.5) / args.times:.2f}" for i in range(args.times)]
        lost = 0
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            results = pool.map(lambda p: one_point(portals, root / "first", root, p), points)
            print(f"{'kill point':<20} {'killed after':>12}  {'the killed run had reached':<52} {'rows':>5}  equal")
            for point, (kill, reached, rows) in zip(points, results, strict=True):
                equal = rows == wanted
                lost += not equal
                when = f"{kill.seconds:.1f}s" if kill.reached else "(ended first)"
                print(f"{point:<20} {when:>12}  {reached:<52} {len(rows):>5}  {'yes' if equal else 'NO'}")
    print(f"{len(points)} kill points, {lost} with a dataset that differs from the uninterrupted night's")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())

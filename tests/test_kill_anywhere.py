"""Kill a night anywhere, lose nothing: a second night (new articles, and a revision only the
sitemap of a portal whose clock is years behind announces) run as ``vnportals run`` and
SIGKILLed with its whole process group during the crawl, in the middle of extracting,
validating and publishing, and right after a step record is committed; after each kill one
normal run leaves the dataset equal, row for row (article_id, content_hash, body), to an
uninterrupted second night's. ``bench/kill_anywhere.py`` does every kill point."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.engine import Engine
from tests.support.kill_anywhere import Portals, copy_data, dataset, imitation_portals, killed_night, night

pytestmark = pytest.mark.slow

POINTS = ("crawl", "extract", "extract-committed", "validate", "publish")


def kill_then_run(portals: Portals, first: Path, root: Path, point: str) -> tuple[bool, str, Path]:
    data = copy_data(first, root / point)
    kill = killed_night(portals, data, point)
    return kill.reached, night(portals, data).stdout, data


def test_a_night_killed_anywhere_then_run_again_publishes_what_an_uninterrupted_one_does(tmp_path: Path) -> None:
    with imitation_portals(tmp_path) as portals:
        night(portals, tmp_path / "first")
        portals.second_night()
        reference = copy_data(tmp_path / "first", tmp_path / "reference")
        with ThreadPoolExecutor(max_workers=2) as pool:
            # The uninterrupted night runs beside the first kills.
            expected = pool.submit(lambda: dataset(reference) if night(portals, reference) else set())
            outcomes = dict(
                zip(
                    POINTS,
                    pool.map(lambda p: kill_then_run(portals, tmp_path / "first", tmp_path, p), POINTS),
                    strict=True,
                )
            )
        wanted = expected.result()

    assert len(wanted) == 16  # 8 articles on each portal; article 2 in its revised version
    assert sum("Bổ sung: tiến độ điều chỉnh." in body for _id, _hash, body in wanted) == 2
    for point, (reached, output, data) in outcomes.items():
        assert reached, f"{point}: the run ended before it could be killed there"
        assert dataset(data) == wanted, f"killed at {point}: the dataset differs from the uninterrupted night's"
        assert "rolled forward" in output, f"{point}: {output}"
        assert "DOES NOT HOLD" not in output
        assert Engine(data, portals.registry).unfinished() == [], point  # exactly once: nothing left

"""Kill a night anywhere, lose nothing: a second night (new articles, and a revision only the
sitemap of a portal whose clock is years behind announces) run as ``vnportals run`` and
SIGKILLed with its whole process group during the crawl, in the middle of extracting,
validating and publishing, and right after a step record is committed; after each kill one
normal run leaves the dataset equal, row for row (article_id, content_hash, body), to an
uninterrupted second night's. Two runs started at once on one data dir leave what one does.
``bench/kill_anywhere.py`` does every kill point."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.engine import Engine
from tests.support.cli import VNPORTALS
from tests.support.kill_anywhere import Portals, copy_data, dataset, imitation_portals, killed_night, night

pytestmark = pytest.mark.slow

POINTS = ("crawl", "extract", "extract-committed", "validate", "publish")
Rows = set[tuple[str, str, str]]


@dataclass
class Nights:
    portals: Portals  # serving the second night
    first: Path  # the data dir after the first night
    root: Path
    reference: Future[Rows]  # the dataset after an uninterrupted second night
    pool: ThreadPoolExecutor


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nights]:
    root = tmp_path_factory.mktemp("kill")
    with imitation_portals(root) as portals, ThreadPoolExecutor(max_workers=2) as pool:
        night(portals, root / "first")
        portals.second_night()

        def uninterrupted() -> Rows:
            reference = copy_data(root / "first", root / "reference")
            night(portals, reference)
            return dataset(reference)

        # The uninterrupted night runs beside the first kills.
        yield Nights(portals, root / "first", root, pool.submit(uninterrupted), pool)


def kill_then_run(nights: Nights, point: str) -> tuple[bool, str, Path]:
    data = copy_data(nights.first, nights.root / point)
    kill = killed_night(nights.portals, data, point)
    return kill.reached, night(nights.portals, data).stdout, data


def test_a_night_killed_anywhere_then_run_again_publishes_what_an_uninterrupted_one_does(nights: Nights) -> None:
    outcomes = dict(zip(POINTS, nights.pool.map(lambda p: kill_then_run(nights, p), POINTS), strict=True))
    wanted = nights.reference.result()
    assert len(wanted) == 16  # 8 articles on each portal; article 2 in its revised version
    assert sum("Bổ sung: tiến độ điều chỉnh." in body for _id, _hash, body in wanted) == 2
    for point, (reached, output, data) in outcomes.items():
        assert reached, f"{point}: the run ended before it could be killed there"
        assert dataset(data) == wanted, f"killed at {point}: the dataset differs from the uninterrupted night's"
        assert "rolled forward" in output, f"{point}: {output}"
        assert "DOES NOT HOLD" not in output
        assert Engine(data, nights.portals.registry).unfinished() == [], point  # exactly once: nothing left


def test_two_runs_started_at_once_on_one_data_dir_leave_what_one_does(nights: Nights) -> None:
    data = copy_data(nights.first, nights.root / "twice")
    cmd = [VNPORTALS, "run", "--registry", str(nights.portals.registry), "--data-dir", str(data)]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    ended = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        ended.append((run.returncode, out, err))
    codes = sorted(code for code, _out, _err in ended)
    assert codes in ([0, 0], [0, 3]), ended
    for code, _out, err in ended:
        if code == 3:  # the one that found the other running: one line naming it, nothing done
            (line,) = err.strip().splitlines()
            assert line.startswith(f"vnportals: error: data dir {data} is in use by ")
    assert dataset(data) == nights.reference.result()

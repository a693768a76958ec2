"""Kill an Airflow task mid-way, retry it, lose nothing: the nightly DAG's tasks (plan, the
crawl and extract shards, validate, publish, report) run one after another as a worker runs
them, each in a process of its own; one of them is SIGKILLed with its process group in the
middle of its step (a worker restart, an OOM kill, a deploy) and then run again with the same
arguments, as Airflow's retry does; the night then goes on. The dataset must equal, row for
row (article_id, content_hash, body), an unkilled night's, and the report must succeed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from kernel.layout import DataLayout, new_run_id
from tests.support.kill_anywhere import PORTALS, Portals, _reached, copy_data, dataset, imitation_portals, night

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ORDER = ("plan", "crawl", "extract", "validate", "publish", "report")


def _command(portals: Portals, data: Path, run_id: str, task: str) -> list[str]:
    shard = sorted(PORTALS) if task in ("crawl", "extract") else []
    runner = [sys.executable, "-m", "tests.support.airflow_task_runner"]
    return [*runner, task, run_id, str(data), str(portals.registry), *shard]


def run_task(portals: Portals, data: Path, run_id: str, task: str) -> None:
    done = subprocess.run(
        _command(portals, data, run_id, task), cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"task {task} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def kill_task(portals: Portals, data: Path, run_id: str, task: str, timeout_s: float = 300) -> bool:
    """Start the task in its own process group and SIGKILL the group once its step is under
    way (a page archived, or the step's record written as running); whether that was seen."""
    layout = DataLayout(data)
    proc = subprocess.Popen(
        _command(portals, data, run_id, task),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    start, reached = time.monotonic(), False
    try:
        while time.monotonic() - start < timeout_s and proc.poll() is None:
            if _reached(layout, run_id, task, time.monotonic() - start):
                reached = True
                break
            time.sleep(0.002)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return reached


def the_night(portals: Portals, data: Path, killed: str | None = None) -> bool:
    """The DAG's tasks in order; ``killed`` is killed once mid-way, then retried."""
    run_id, reached = new_run_id(), False
    for task in ORDER:
        if task == killed:
            reached = kill_task(portals, data, run_id, task)
        run_task(portals, data, run_id, task)
    return reached


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portals, Path, set[tuple[str, str, str]]]:
    root = tmp_path_factory.mktemp("taskkill")
    with imitation_portals(root) as portals:
        night(portals, root / "first")
        portals.second_night()
        reference = copy_data(root / "first", root / "reference")
        the_night(portals, reference)
        yield portals, root, dataset(reference)


# The crawl and extract tasks write the raw archive and the batches a retry must not lose;
# validate and publish killed mid-way are the CLI kill test's points too (test_kill_anywhere).
@pytest.mark.parametrize("task", ["crawl", "extract"])
def test_a_task_killed_mid_way_and_retried_loses_nothing(
    nights: tuple[Portals, Path, set[tuple[str, str, str]]], task: str
) -> None:
    portals, root, reference = nights
    data = copy_data(root / "first", root / f"killed-{task}")
    reached = the_night(portals, data, killed=task)
    assert reached, f"the {task} task ended before it could be killed mid-way"
    assert dataset(data) == reference

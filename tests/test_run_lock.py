"""One run at a time per data dir: a second run exits at once (status 3) naming the running
one; a lock a killed run left is taken over; a night's shard tasks share the lock, and
nothing else gets it meanwhile. ``vnportals status`` says who holds it, and per portal what
the next run resumes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.layout import DataLayout
from pipeline.cli import main
from pipeline.engine import Engine
from pipeline.ledger import StepRecord, write_record
from pipeline.run_lock import DataDirBusyError, read_holder, run_lock
from tests.support.raw_archive import archive_gold

R1 = "20261123T010000000000Z"


def test_a_second_run_on_the_data_dir_exits_at_once_naming_the_running_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = DataLayout(tmp_path / "data")
    with run_lock(layout, command="vnportals run", run_id=R1):
        holder = read_holder(layout)
        assert holder is not None and (holder.run_id, holder.pid) == (R1, os.getpid())
        assert main(["run", "--data-dir", str(layout.root), "--sites", "longbien"]) == 3
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line == (
            f"vnportals: error: data dir {layout.root} is in use by run {R1} (pid {os.getpid()}, "
            f"started {holder.started_at}); wait for it to end ('vnportals status --data-dir {layout.root}' shows it)"
        )
        assert not layout.runs.exists()  # it did nothing
    assert read_holder(layout) is None  # released, and its record with it


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    # What a run killed while it held the lock leaves: its record (the flock died with it).
    layout.root.mkdir(parents=True)
    layout.run_lock_path.touch()
    layout.run_lock_holder_path.write_text(
        f'{{"run_id": "{R1}", "pid": {dead.pid}, "host": "{os.uname().nodename}", '
        '"started_at": "2026-11-23T01:00:00+00:00", "command": "vnportals run"}',
        encoding="utf-8",
    )
    with run_lock(layout, command="vnportals run") as taken_over:
        assert taken_over is not None and (taken_over.run_id, taken_over.pid) == (R1, dead.pid)
        holder = read_holder(layout)
        assert holder is not None and holder.pid == os.getpid()


def test_shard_tasks_share_the_lock_and_keep_others_out(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    with (
        run_lock(layout, command="an Airflow task", run_id=R1, shared=True),
        run_lock(layout, command="an Airflow task", run_id=R1, shared=True),
        pytest.raises(DataDirBusyError, match=f"in use by run {R1}"),
        run_lock(layout, command="vnportals run", wait_s=0.1),
    ):
        pass
    with run_lock(layout, command="vnportals run"):  # free again
        pass


def test_status_says_who_holds_the_data_dir_and_what_the_next_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    archive_gold(data, "longbien", R1)
    Engine(data).plan_night(["longbien", "uongbi"], run_id=R1)
    stamp = "2026-11-23T01:00:00+00:00"
    write_record(DataLayout(data), R1, StepRecord("crawl", "longbien", "running", stamp))  # killed mid-crawl
    with run_lock(DataLayout(data), command="vnportals run", run_id="20261124T010000000000Z"):
        assert main(["status", "--data-dir", str(data), "--sites", "longbien,uongbi"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"data dir {data}: in use by run 20261124T010000000000Z (pid {os.getpid()}, started ")
    assert out[1:] == [
        "2 portals; the next run rolls forward 1 unfinished batches",
        "longbien: no complete night yet",
        f"  unfinished: run {R1} never wrote its summary (killed, or still under way)",
        f"  next run resumes batch {R1}: from extract",
        "uongbi: no complete night yet",
        "  next run resumes: nothing (every batch is done)",
    ]
    assert not DataLayout(data).run_settled_path(R1).exists()  # status only reads

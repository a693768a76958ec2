"""Runs one task of the nightly DAG, the way an Airflow worker calls it, in this process.

Started by ``tests/test_airflow_task_kill.py`` in a subprocess of its own process group, so
that a test can SIGKILL a task mid-way (as a worker restart or the OOM killer would) and then
run it again (Airflow's retry) with the same arguments.

    python -m tests.support.airflow_task_runner TASK RUN_ID DATA_DIR REGISTRY_DIR [PORTAL ...]

``TASK`` is one of plan, crawl, extract, validate, publish, report; crawl and extract take the
shard's portals.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.airflow import tasks
from pipeline.airflow.settings import RunSettings


def main(task: str, run_id: str, data: str, registry: str, portals: list[str]) -> int:
    settings = RunSettings(data_dir=Path(data), registry_dir=(Path(registry),), mirror=None, portals_per_task=25)
    if task == "plan":
        tasks.plan_night(None, settings, run_id, dag_id="vnportals_nightly", dag_run_id=f"manual__{run_id}")
    elif task == "crawl":
        tasks.crawl_shard(portals, run_id, settings)
    elif task == "extract":
        tasks.extract_shard(portals, run_id, settings)
    elif task == "validate":
        tasks.validate_run(run_id, settings)
    elif task == "publish":
        tasks.publish_run(run_id, settings)
    elif task == "report":
        tasks.report_run(run_id, settings)
    else:
        print(f"unknown task {task!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))

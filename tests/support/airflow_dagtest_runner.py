"""Runs one DAG with ``dag.test()`` in this process and prints the outcome as JSON.

Started by the tests in a subprocess whose environment points AIRFLOW_HOME at a temporary
folder (SQLite metadata database) and the DAGs folder at ``dags/``; Airflow reads its
configuration once, at import, so it cannot share the pytest process.

    python -m tests.support.airflow_dagtest_runner DAG_ID '{"sites": ["longbien"]}'
"""

from __future__ import annotations

import json
import sys


def main(dag_id: str, conf: dict[str, object]) -> int:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.settings import DAGS_FOLDER

    bag = DagBag(dag_folder=DAGS_FOLDER)
    if bag.import_errors:
        print(json.dumps({"import_errors": bag.import_errors}))
        return 2
    dag = bag.get_dag(dag_id)
    run = dag.test(run_conf=conf)
    tasks = [
        {
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "label": ti.rendered_map_index,
            "state": str(ti.state),
            "try_number": ti.try_number,
        }
        for ti in run.get_task_instances()
    ]
    print("DAGTEST-RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id, "tasks": tasks}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}))

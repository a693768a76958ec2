"""Parses one DAG file the way Airflow's DAG processor does and reports any I/O it did.

Run as ``python -m tests.support.airflow_parse_probe DAG_FILE`` in a fresh process. The file is run
twice, as the DAG processor does again and again: the first time imports what it imports
(recorded: the heavy parts of the pipeline must be left to the tasks); the second time an
audit hook records every file opened, folder listed, process started, socket or database
connected while the file runs. Prints one JSON line: the DAG ids, those events, and the
heavy modules the first parse imported.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

WATCHED = {
    "open",
    "os.listdir",
    "os.scandir",
    "glob.glob",
    "os.mkdir",
    "os.remove",
    "os.rename",
    "shutil.copyfile",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.fork",
    "socket.connect",
    "socket.getaddrinfo",
    "sqlite3.connect",
    "urllib.Request",
}

#: Modules a DAG file must leave to its tasks: the pipeline's working parts.
HEAVY = (
    "scrapy",
    "pyarrow",
    "trafilatura",
    "warcio",
    "duckdb",
    "great_expectations",
    "kernel",
    "crawlers",
    "transforms",
)


def _module_read(event: str, args: tuple[object, ...]) -> bool:
    """An import reading a module's source or byte code (what parsing any Python file does)."""
    if event != "open" or not args or not isinstance(args[0], str):
        return False
    return args[0].endswith((".py", ".pyc", ".so")) and (len(args) < 2 or args[1] in ("r", "rb", None))


def main(path: str) -> int:
    import pendulum  # noqa: F401  (loaded before the hook: the DAG files import it at the top)
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    events: list[list[str]] = []

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event in WATCHED and not _module_read(event, args):
            events.append([event, repr(args)[:300]])

    def parse() -> list[str]:
        DagContext.autoregistered_dags.clear()
        spec = importlib.util.spec_from_file_location("dag_under_probe", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        DagContext.current_autoregister_module_name = spec.name  # as the DagBag does
        try:
            spec.loader.exec_module(module)
        finally:
            DagContext.current_autoregister_module_name = None
        return sorted(d.dag_id for d, _ in DagContext.autoregistered_dags)

    before = set(sys.modules)
    parse()
    imported = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in HEAVY)
    sys.addaudithook(hook)
    dag_ids = parse()
    recorded = list(events)
    events.clear()
    print(json.dumps({"file": Path(path).name, "dag_ids": dag_ids, "io": recorded, "heavy_imports": imported}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

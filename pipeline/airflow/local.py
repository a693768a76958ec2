"""A local Airflow on a laptop: ``vnportals airflow start`` and ``vnportals airflow stop``.

``airflow standalone`` starts every component in the foreground with the server defaults:
the API server on every interface, 32 LocalExecutor worker processes, and nothing that stops
them all should the terminal go away. This starts what our DAGs need, each component in a
process group of its own, with laptop settings (:func:`laptop_settings`), writes the process
groups to ``<AIRFLOW_HOME>/vnportals-local.json``, and waits for the API server to answer;
``stop`` ends every process group it wrote (SIGTERM, then SIGKILL for what is left after
the grace time), so no scheduler, API server or executor worker is left behind.

There is no triggerer: no task of our DAGs defers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.airflow.settings import PROJECT_DIR

Say = Callable[[str], None]

#: Airflow's components that a local run needs, each one ``airflow`` subcommand.
COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    # Airflow's default also starts a log server on every interface; on one machine the API
    # server reads the task logs from the files, so none is needed.
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}
PID_FILE = "vnportals-local.json"
DEFAULT_PORT = 8080
DEFAULT_PARALLELISM = 2
# Seconds a component has to stop after SIGTERM before its whole group is killed.
GRACE_S = 30.0


class LocalAirflowError(RuntimeError):
    """The local Airflow cannot be started or stopped; the message says why and what to do."""


def _airflow() -> str:
    """The ``airflow`` script of the environment vnportals runs in."""
    return str(Path(sys.executable).parent / "airflow")


def laptop_settings(home: Path, data_dir: Path, port: int, parallelism: int, mirror: str | None) -> dict[str, str]:
    """The environment of every component: its home, our DAGs, a small machine's settings."""
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        # Airflow's default is 32 task processes (and as many at once per DAG run): a laptop
        # with 2-4 cores runs a few tasks at a time, each crawl or extraction a process of its own.
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
        # The default listens on every interface (0.0.0.0): a laptop's Airflow is for itself.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # One API server worker process instead of Airflow's four.
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "VNPORTALS_DATA_DIR": str(data_dir),
    }
    if mirror:
        settings["VNPORTALS_MIRROR_URL"] = mirror
    return settings


@dataclass(frozen=True)
class LocalAirflow:
    """One local Airflow: its home (``AIRFLOW_HOME``) and where its API server answers."""

    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / PID_FILE

    def recorded(self) -> dict[str, int]:
        """The process groups of the components started, by name (none when not started)."""
        if not self.pid_file.exists():
            return {}
        data = json.loads(self.pid_file.read_text(encoding="utf-8"))
        return {str(k): int(v) for k, v in data["process_groups"].items()}

    def url(self) -> str | None:
        if not self.pid_file.exists():
            return None
        return str(json.loads(self.pid_file.read_text(encoding="utf-8"))["url"])

    def start(
        self,
        data_dir: Path,
        *,
        port: int = DEFAULT_PORT,
        parallelism: int = DEFAULT_PARALLELISM,
        mirror: str | None = None,
        environ: Mapping[str, str] | None = None,
        say: Say = print,
        timeout_s: float = 180.0,
    ) -> str:
        """Migrate the metadata database, start the components, wait for the API server; its URL."""
        running = {name: pgid for name, pgid in self.recorded().items() if group_alive(pgid)}
        if running:
            raise LocalAirflowError(
                f"a local Airflow of {self.home} is running already ({', '.join(running)}); "
                "stop it first: vnportals airflow stop"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in (os.environ if environ is None else environ).items() if not k.startswith("AIRFLOW")}
        env = {**base, **laptop_settings(self.home, data_dir, port, parallelism, mirror)}
        url = f"http://127.0.0.1:{port}"
        say(f"airflow: migrating the metadata database in {self.home}")
        migrated = subprocess.run(
            [_airflow(), "db", "migrate"], env=env, capture_output=True, text=True, check=False, timeout=600
        )
        if migrated.returncode != 0:
            last = (migrated.stderr or migrated.stdout).strip().splitlines()[-1:] or ["no output"]
            raise LocalAirflowError(f"airflow db migrate exited with {migrated.returncode}: {last[0]}")
        groups: dict[str, int] = {}
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name, args in COMPONENTS.items():
            with (logs / f"{name}.out").open("ab") as out:
                # A session of its own: the component and every process it forks are one
                # group, which stop() ends as a whole; and the terminal's Ctrl-C does not reach it.
                process = subprocess.Popen(
                    [_airflow(), *args],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            groups[name] = process.pid
            self._write(groups, url, parallelism)
            say(f"airflow: {name} started (process group {process.pid}, output in {logs / (name + '.out')})")
        try:
            wait_for_api(url, groups, timeout_s)
        except LocalAirflowError:
            self.stop(say=say)
            raise
        return url

    def _write(self, groups: dict[str, int], url: str, parallelism: int) -> None:
        data = {"process_groups": groups, "url": url, "parallelism": parallelism}
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(self.pid_file)

    def stop(self, *, say: Say = print, grace_s: float = GRACE_S) -> list[str]:
        """End every process group that :meth:`start` wrote down; the components stopped."""
        groups = self.recorded()
        stopped = []
        for name, pgid in reversed(list(groups.items())):
            if not group_alive(pgid):
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if group_alive(pgid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                say(f"airflow: {name} did not stop within {grace_s:.0f}s: killed")
            stopped.append(name)
            say(f"airflow: {name} stopped")
        self.pid_file.unlink(missing_ok=True)
        return stopped


def group_processes(pgid: int) -> list[int]:
    """The live processes of a process group (zombies, already dead, not counted)."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # The fields after the command (which may hold spaces) in parentheses: state, ppid, pgrp.
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found.append(int(entry.name))
    return found


def group_alive(pgid: int) -> bool:
    """True while any process of the group lives."""
    if Path("/proc/self/stat").exists():
        return bool(group_processes(pgid))
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_for_api(url: str, groups: Mapping[str, int], timeout_s: float) -> None:
    """Wait until the API server's health check answers; fail when a component dies."""
    deadline = time.monotonic() + timeout_s
    while True:
        dead = [name for name, pgid in groups.items() if not group_alive(pgid)]
        if dead:
            raise LocalAirflowError(f"airflow {', '.join(dead)} exited at start: see its output under logs/")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise LocalAirflowError(f"the API server did not answer on {url} within {timeout_s:.0f}s")
        time.sleep(1)

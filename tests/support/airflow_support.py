"""A real Airflow for the tests: a temporary AIRFLOW_HOME, its components as processes on
127.0.0.1, and a small client of the REST API v2.

It also holds the production configuration (:func:`production_config`, :data:`COMPONENTS`):
the Celery test runs Airflow with exactly these settings, and the static test of
``docker-compose.yml`` checks the compose file says the same.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


# -- the production shape: shared by the Celery test and the compose file's test ------------
def production_config(*, database_url: str, broker_url: str, execution_api_url: str) -> dict[str, str]:
    """Airflow's production settings: PostgreSQL metadata database, CeleryExecutor with a
    Redis broker and the database as result backend, FAB users. Host names differ between
    compose (service names) and the test (127.0.0.1); everything else is the same."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{database_url}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{database_url}",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": execution_api_url,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
    }


#: Secrets every component must share (tokens signed by one are checked by another); compose
#: takes them from the environment (.env), the test makes its own.
SHARED_SECRETS = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")


def make_secrets() -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
    }


#: The long-running Airflow components of the production shape: compose service -> the
#: ``airflow`` subcommand it runs.
COMPONENTS = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}

#: What the init service runs before the others start: migrations, then the admin user.
INIT_COMMANDS = (["db", "migrate"], ["users", "create"])

#: Flags the tests add so that no component opens a port beyond 127.0.0.1: the log servers
#: of the worker and the triggerer listen on every interface, and on one machine the API
#: server reads the log files directly.
TEST_ONLY_FLAGS = {"airflow-triggerer": ["--skip-serve-logs"], "airflow-worker": ["--skip-serve-logs"]}


#: A test's Celery worker's name: on one machine every worker has the same host name, so
#: each reports this instead (:func:`worker_hostname`) as the host of the tasks it ran.
WORKER_NAME = "VNPORTALS_TEST_WORKER"


def worker_hostname() -> str:
    """Airflow's ``hostname_callable`` for a test's workers: the worker's name."""
    return os.environ[WORKER_NAME]


def worker_env(env: dict[str, str], name: str) -> dict[str, str]:
    """The environment of the test's Celery worker ``name``: its tasks name it as their host."""
    return {
        **env,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        WORKER_NAME: name,
    }


# -- processes ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(home: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of every Airflow process of a test: its own AIRFLOW_HOME, our DAGs,
    no examples, servers on 127.0.0.1, and the vnportals settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VNPORTALS_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="false",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST="127.0.0.1",
        # Parse and schedule promptly: the defaults are minutes, for hundreds of DAG files.
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="5",
        VNPORTALS_DATA_DIR=str(data_dir),
        VNPORTALS_RETRY_DELAY_S="5",
    )
    env.update(extra)
    return env


def airflow(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run one ``airflow`` command to the end; raise with its output if it fails."""
    done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        said = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        raise RuntimeError(f"airflow {' '.join(args)} exited {done.returncode}:\n{said}")
    return done


@dataclass
class Component:
    """One long-running Airflow component in its own process group, its output in a file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Component:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [AIRFLOW, *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    """The components of one test's Airflow; stops them all, and tells what they said."""

    components: list[Component] = field(default_factory=list)

    def start(self, component: Component) -> Component:
        self.components.append(component.start())
        return component

    def check_alive(self) -> None:
        dead = [c for c in self.components if not c.alive()]
        if dead:
            raise RuntimeError("Airflow components died:\n" + "\n".join(c.tail() for c in dead))

    def stop(self) -> None:
        for component in reversed(self.components):
            component.stop()

    def tails(self) -> str:
        return "\n".join(c.tail() for c in self.components)


# -- the REST API v2 ------------------------------------------------------------------------
class ApiError(RuntimeError):
    pass


@dataclass
class AirflowApi:
    """A client of Airflow's public REST API v2 with a JWT bearer token."""

    base_url: str
    token: str | None = None

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        if auth and self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:1000]!r}") from exc
        return json.loads(payload) if payload else None

    def status(self, path: str) -> int:
        """The HTTP status of an unauthenticated GET (a health check's question)."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def wait_healthy(self, cluster: Cluster, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            cluster.check_alive()
            try:
                return dict(self.request("GET", "/api/v2/monitor/health", auth=False))
            except (OSError, ApiError):
                if time.monotonic() > deadline:
                    raise TimeoutError("the API server did not come up:\n" + cluster.tails()) from None
                time.sleep(1)

    def log_in(self, username: str, password: str) -> None:
        """POST /auth/token: the auth manager's login, which hands out the JWT."""
        answer = self.request("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        self.token = str(answer["access_token"])

    def wait_for_dag(self, dag_id: str, cluster: Cluster, timeout: float = 180) -> dict[str, Any]:
        """Wait until the DAG processor has parsed the DAG and the scheduler can run it."""
        deadline = time.monotonic() + timeout
        while True:
            cluster.check_alive()
            try:
                return dict(self.request("GET", f"/api/v2/dags/{dag_id}"))
            except ApiError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DAG {dag_id} never appeared:\n" + cluster.tails()) from None
                time.sleep(2)

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return str(run["dag_run_id"])

    def set_variable(self, key: str, value: str) -> None:
        self.request("POST", "/api/v2/variables", {"key": key, "value": value})

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
        """The text of one try of a task instance's log, as the UI shows it."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/logs/{try_number}?map_index={map_index}&full_content=true"
        )
        content = self.request("GET", path)["content"]
        return "\n".join(str(line.get("event", line)) if isinstance(line, dict) else str(line) for line in content)

    def wait_for_run(self, dag_id: str, run_id: str, cluster: Cluster, timeout: float = 420) -> str:
        deadline = time.monotonic() + timeout
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}"
        while True:
            cluster.check_alive()
            state = str(self.request("GET", path)["state"])
            if state in ("success", "failed"):
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {state} after {timeout}s:\n" + cluster.tails())
            time.sleep(2)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}/taskInstances?limit=100"
        return list(self.request("GET", path)["task_instances"])

    def asset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"source_dag_id": dag_id, "source_run_id": run_id})
        return list(self.request("GET", f"/api/v2/assets/events?{query}")["asset_events"])


def max_overlap(intervals: list[tuple[str, str]]) -> int:
    """The most intervals (ISO start, end) open at one instant."""

    def at(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    # At one instant, an end counts before a start: back-to-back tasks do not overlap.
    events = sorted([(at(t), 1) for t, _ in intervals] + [(at(t), -1) for _, t in intervals])
    open_now = most = 0
    for _, step in events:
        open_now += step
        most = max(most, open_now)
    return most

"""``vnportals airflow start|stop``: a local Airflow with laptop settings that answers on
127.0.0.1 only, runs two executor workers, and leaves no process behind when stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.airflow.local import PID_FILE, group_processes
from tests.support.airflow_support import AirflowApi, free_port
from tests.support.cli import run_cli


def processes_of(home: Path) -> list[int]:
    """Every live process whose environment names this AIRFLOW_HOME."""
    wanted = f"AIRFLOW_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the processes left through /proc")
def test_the_local_airflow_starts_on_loopback_and_stops_without_a_trace(tmp_path: Path) -> None:
    home, port = tmp_path / "airflow-home", free_port()
    start = ["airflow", "start", "--airflow-home", str(home), "--port", str(port), "--data-dir", str(tmp_path / "d")]
    try:
        started = run_cli(*start, "--mirror", "bundled", timeout=400)
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"the UI is on http://127.0.0.1:{port}" in started.stdout
        recorded = json.loads((home / PID_FILE).read_text(encoding="utf-8"))
        groups = recorded["process_groups"]
        assert set(groups) == {"api-server", "scheduler", "dag-processor"}
        api = AirflowApi(f"http://127.0.0.1:{port}")
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        api.log_in("admin", passwords["admin"])
        health = api.request("GET", "/api/v2/monitor/health")
        assert health["metadatabase"]["status"] == "healthy"
        # Two executor worker processes under the scheduler, not Airflow's 32.
        workers = [
            pid
            for pid in group_processes(groups["scheduler"])
            if b"LocalExecutor" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
        assert processes_of(home), "the components should be running"
        again = run_cli(*start, timeout=120)
        assert again.returncode == 3 and "is running already" in again.stderr
    finally:
        stopped = run_cli("airflow", "stop", "--airflow-home", str(home), timeout=300)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "scheduler stopped" in stopped.stdout
    assert processes_of(home) == []
    assert not (home / PID_FILE).exists()
    assert "nothing of" in run_cli("airflow", "stop", "--airflow-home", str(home)).stdout

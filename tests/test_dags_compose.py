"""The deployment files, checked statically (no Docker engine runs here): docker-compose.yml
parses, has every service the production shape needs, and its images, commands and
environment say what the real production-shape test runs (tests/airflow_support.py); the
Dockerfile builds on the official Airflow image of the version we pin."""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.airflow.settings import SETTINGS
from tests.support.airflow_support import COMPONENTS, INIT_COMMANDS, REPO, SHARED_SECRETS, production_config

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
AIRFLOW_SERVICES = [*COMPONENTS, "airflow-init"]
REQUIRED = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")  # ${NAME:?message}: compose refuses to start without it


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def dockerfile_env() -> dict[str, str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in shlex.split(line[4:])))
    return env


def test_compose_has_every_service_of_the_production_shape(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"postgres", "redis", *AIRFLOW_SERVICES}
    for name, service in services.items():
        if name != "airflow-init":
            assert "healthcheck" in service, f"{name} has no health check"
            assert service.get("restart") == "always", name


def test_airflow_services_run_our_image_of_the_pinned_airflow(services: dict[str, dict[str, Any]]) -> None:
    pinned = version("apache-airflow")
    for name in AIRFLOW_SERVICES:
        assert services[name]["build"] == ".", name
        assert services[name]["image"] == f"vnportals-airflow:{pinned}", name
    python = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    lowest = re.search(r">=\s*(3\.\d+)", python)
    assert lowest is not None
    base = re.search(r"^FROM (\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert base is not None and base.group(1) == f"apache/airflow:{pinned}-python{lowest.group(1)}"
    assert "uv export --locked" in DOCKERFILE.read_text(encoding="utf-8")


def test_commands_are_the_components_the_production_test_runs(services: dict[str, dict[str, Any]]) -> None:
    for name, args in COMPONENTS.items():
        assert shlex.split(services[name]["command"]) == args, name
    init = services["airflow-init"]
    script = init["command"][-1]
    for args in INIT_COMMANDS:
        assert "airflow " + " ".join(args) in script
    assert "--role Admin" in script
    assert init["user"] == "0:0"  # to hand the volumes to the airflow user


def test_environment_is_the_production_configuration(services: dict[str, dict[str, Any]]) -> None:
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert REQUIRED.match(password)
    user, db = services["postgres"]["environment"]["POSTGRES_USER"], services["postgres"]["environment"]["POSTGRES_DB"]
    expected = production_config(
        database_url=f"{user}:{password}@postgres:5432/{db}",
        broker_url="redis://redis:6379/0",
        execution_api_url="http://airflow-apiserver:8080/execution/",
    )
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        airflow_env = {k: v for k, v in env.items() if k.startswith("AIRFLOW__") and k not in SHARED_SECRETS}
        assert airflow_env == expected, name
        for secret in SHARED_SECRETS:
            assert REQUIRED.match(env[secret]), f"{name}: {secret} must come from .env"
        assert env["VNPORTALS_DATA_DIR"] == dockerfile_env()["VNPORTALS_DATA_DIR"]
        known = {s.name for s in SETTINGS} | {"VNPORTALS_CONTACT_URL"}
        assert {k for k in env if k.startswith("VNPORTALS_")} <= known, name
    assert services["airflow-apiserver"]["ports"] == ["8080:8080"]
    assert "redis" in services and services["redis"]["image"].startswith("redis:")
    assert services["postgres"]["image"].startswith("postgres:")


def test_volumes_hold_dags_data_and_logs(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    image_env = dockerfile_env()
    for name in AIRFLOW_SERVICES:
        mounts = {m.split(":")[1]: m.split(":")[0] for m in services[name]["volumes"]}
        assert mounts[image_env["AIRFLOW__CORE__DAGS_FOLDER"]] == "./dags", name
        assert mounts[image_env["VNPORTALS_DATA_DIR"]] == "vnportals-data", name
        assert mounts["/opt/airflow/logs"] == "airflow-logs", name
    assert set(compose["volumes"]) == {"postgres-db", "vnportals-data", "airflow-logs"}


def test_workers_scale_and_everything_waits_for_its_dependencies(services: dict[str, dict[str, Any]]) -> None:
    worker = services["airflow-worker"]
    # A fixed container name or a published port would make --scale fail.
    assert "container_name" not in worker and "ports" not in worker
    for name in COMPONENTS:
        needs = services[name]["depends_on"]
        assert needs["postgres"]["condition"] == needs["redis"]["condition"] == "service_healthy", name
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    scheduler_check = " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
    assert "/health" in scheduler_check  # the endpoint the production test checks
    assert "/api/v2/monitor/health" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])


def test_env_example_names_every_variable_the_compose_file_requires() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    named = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")}
    assert required <= named, f"missing from .env.example: {required - named}"


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((REPO / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", ".env", "data", "airflow-home"} <= ignored


def test_compose_yaml_is_what_docker_compose_would_read(compose: dict[str, Any]) -> None:
    # Merge keys (<<: *anchor) resolved: every Airflow service got the shared settings.
    assert compose["x-airflow-common"]["user"] == "${AIRFLOW_UID:-50000}:0"
    for name in COMPONENTS:
        assert Path(compose["services"][name]["volumes"][0].split(":")[0]).name == "dags"

"""The Airflow DAGs' integrity: they import cleanly and without I/O, have no cycles, and
carry their schedule, tags, retries, timeouts, pool and params; plus what their tasks stand
on (run ids, the re-extraction's date ranges) and the documented settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kernel.layout import DataLayout
from pipeline.airflow.settings import SETTINGS, dag_shape, run_settings
from pipeline.airflow.shards import Shard
from pipeline.airflow.tasks import pipeline_run_id, plan_reextract
from pipeline.engine import crawl_date
from tests.support.airflow_support import DAGS, REPO

DAG_FILES = sorted(DAGS.glob("*.py"))
NIGHTLY, REEXTRACT = "vnportals_nightly", "vnportals_reextract"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Our DAGs folder parsed by Airflow's own DagBag, in a throwaway AIRFLOW_HOME."""
    if "airflow" not in sys.modules:  # Airflow reads its configuration once, when imported
        os.environ["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
        os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "false"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS, known_pools={"default_pool", dag_shape().crawl_pool})


def probe(path: Path, tmp_path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VNPORTALS_"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.airflow_parse_probe", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- integrity ------------------------------------------------------------------------------
def test_every_dag_file_imports_without_errors_or_warnings(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == [NIGHTLY, REEXTRACT]
    assert dagbag.captured_warnings == {}  # an unknown pool would show here


@pytest.mark.slow  # a fresh interpreter per DAG file
@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_a_dag_file_does_no_io_and_leaves_the_pipeline_to_the_tasks(path: Path, tmp_path: Path) -> None:
    found = probe(path, tmp_path)
    assert found["dag_ids"], f"{path.name} defines no DAG"
    assert found["io"] == [], f"{path.name} does I/O while parsed: {found['io']}"
    assert found["heavy_imports"] == [], f"{path.name} imports at parse time: {found['heavy_imports']}"


@pytest.mark.slow
def test_the_parse_probe_sees_io_at_parse_time(tmp_path: Path) -> None:
    """The probe is not blind: a DAG file that reads a file and lists a folder is caught."""
    bad = tmp_path / "bad_dag.py"
    bad.write_text(
        "from __future__ import annotations\n"
        "import os\nfrom pathlib import Path\n"
        "import pendulum\nfrom airflow.sdk import dag, task\n"
        "@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))\n"
        "def bad() -> None:\n"
        "    for site in sorted(os.listdir('" + str(REPO / "kernel" / "sites") + "')):\n"
        "        Path('" + str(REPO / "pyproject.toml") + "').read_text()\n"
        "    task(lambda: None, task_id='noop')()\n"
        "bad()\n",
        encoding="utf-8",
    )
    found = probe(bad, tmp_path)
    assert found["dag_ids"] == ["bad"]
    assert {event for event, _ in found["io"]} >= {"open", "os.listdir"}


def test_no_cycles_and_the_expected_shape(dagbag: Any) -> None:
    for dag_id in (NIGHTLY, REEXTRACT):
        dagbag.dags[dag_id].check_cycle()  # raises on a cycle
    nightly = dagbag.dags[NIGHTLY]
    assert {t.task_id for t in nightly.tasks} == {
        "plan",
        "shard.crawl",
        "shard.extract",
        "validate",
        "publish",
        "report",
    }
    down = {t.task_id: {d.task_id for d in t.downstream_list} for t in nightly.tasks}
    assert down["plan"] == {"shard.crawl", "shard.extract", "validate", "report"}
    assert down["shard.crawl"] == {"shard.extract"}
    assert down["shard.extract"] == {"validate", "report"}
    assert down["validate"] == {"publish"}
    assert down["publish"] == {"report"}
    assert down["report"] == set()
    reextract = dagbag.dags[REEXTRACT]
    assert {t.task_id for t in reextract.tasks} == {"plan", "reextract", "validate", "publish", "report"}


def test_schedule_is_one_in_the_morning_vietnam_time(dagbag: Any) -> None:
    nightly = dagbag.dags[NIGHTLY]
    timetable = nightly.timetable
    assert type(timetable).__name__ == "CronTriggerTimetable"
    assert timetable.expression == "0 1 * * *"
    assert str(timetable.timezone) == "Asia/Ho_Chi_Minh"
    assert nightly.catchup is False
    assert nightly.start_date is None  # unpausing does not start a run for last night
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    now = datetime.now(UTC)
    first = coerce_to_core_timetable(timetable).next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(earliest=None, latest=None, catchup=False)
    )
    due = first.run_after.in_timezone("Asia/Ho_Chi_Minh")
    assert (due.hour, due.minute) == (1, 0)
    assert now < first.run_after <= now + timedelta(days=1)
    assert nightly.max_active_runs == 1
    assert type(dagbag.dags[REEXTRACT].timetable).__name__ == "NullTimetable"  # triggered by hand


def test_tags_params_and_docs(dagbag: Any) -> None:
    nightly, reextract = dagbag.dags[NIGHTLY], dagbag.dags[REEXTRACT]
    assert {"vnportals", "nightly"} <= set(nightly.tags)
    assert {"vnportals", "reextract"} <= set(reextract.tags)
    assert nightly.params["sites"] == []
    assert set(reextract.params.keys()) == {"sites", "date_from", "date_to"}
    for dag in (nightly, reextract):
        assert dag.doc_md and "report" in dag.doc_md
        assert dag.dagrun_timeout is not None


def test_every_task_retries_with_backoff_and_has_a_timeout(dagbag: Any) -> None:
    shape = dag_shape()
    for dag_id in (NIGHTLY, REEXTRACT):
        for t in dagbag.dags[dag_id].tasks:
            assert t.execution_timeout is not None and t.execution_timeout > timedelta(0), t.task_id
            if t.task_id == "report":  # fails on purpose when a portal failed: retrying changes nothing
                assert t.retries == 0
                continue
            assert t.retries == shape.retries, t.task_id
            assert t.retry_exponential_backoff == 2.0, t.task_id
            assert t.retry_delay == shape.retry_delay, t.task_id
            assert t.max_retry_delay == timedelta(hours=1), t.task_id


def test_shards_are_mapped_tasks_named_by_their_portals_and_crawl_in_the_pool(dagbag: Any) -> None:
    nightly, reextract = dagbag.dags[NIGHTLY], dagbag.dags[REEXTRACT]
    crawl = nightly.get_task("shard.crawl")
    assert crawl.pool == "vnportals_crawl"
    assert crawl.execution_timeout == timedelta(hours=2)
    assert type(nightly.task_group.get_child_by_label("shard")).__name__ == "MappedTaskGroup"
    assert type(reextract.get_task("reextract")).__name__ == "DecoratedMappedOperator"
    for task in (crawl, nightly.get_task("shard.extract"), reextract.get_task("reextract")):
        assert task.map_index_template == "{{ task.op_kwargs['shard']['label'] }}", task.task_id
    for t in nightly.tasks:
        if t.task_id != "shard.crawl":
            assert t.pool == "default_pool", t.task_id
    # One failed portal holds back nobody: a shard's extraction follows its crawl however it
    # ended, validate runs once the run was planned and every shard is over, report on anything.
    assert nightly.get_task("shard.extract").trigger_rule.value == "all_done"
    for dag in (nightly, reextract):
        validate = dag.get_task("validate")
        assert validate.trigger_rule.value == "all_done_min_one_success"
        assert "plan" in validate.upstream_task_ids
        assert dag.get_task("report").trigger_rule.value == "all_done"


def test_publish_emits_the_articles_asset(dagbag: Any) -> None:
    for dag_id in (NIGHTLY, REEXTRACT):
        outlets = dagbag.dags[dag_id].get_task("publish").outlets
        assert [a.name for a in outlets] == ["vnportals_articles"]
        assert outlets[0].uri == "vnportals_articles"  # one asset wherever the data root is


def test_shape_settings_come_from_the_environment() -> None:
    shape = dag_shape(
        {
            "VNPORTALS_CRAWL_POOL": "crawl_small",
            "VNPORTALS_CRAWL_POOL_SLOTS": "2",
            "VNPORTALS_TASK_RETRIES": "5",
            "VNPORTALS_RETRY_DELAY_S": "60",
            "VNPORTALS_CRAWL_TIMEOUT_S": "600",
        }
    )
    assert (shape.crawl_pool, shape.crawl_pool_slots, shape.retries) == ("crawl_small", 2, 5)
    assert shape.retry_delay == timedelta(minutes=1)
    assert shape.crawl_timeout == timedelta(minutes=10)
    assert shape.crawl_time_budget_s == 300
    with pytest.raises(ValueError, match="VNPORTALS_TASK_RETRIES='many'"):
        dag_shape({"VNPORTALS_TASK_RETRIES": "many"})


def test_run_settings_prefer_the_airflow_variable_then_the_environment(tmp_path: Path) -> None:
    variables = {"VNPORTALS_DATA_DIR": str(tmp_path / "from-variable")}
    env = {"VNPORTALS_DATA_DIR": "/from/env", "VNPORTALS_MIRROR_URL": "http://127.0.0.1:9"}
    settings = run_settings(variables.get, env)
    assert settings.data_dir == tmp_path / "from-variable"
    assert settings.mirror == "http://127.0.0.1:9"
    assert settings.registry_dir is None
    defaults = run_settings(lambda _name: None, {})
    assert defaults.data_dir == REPO / "data"
    assert defaults.mirror is None
    assert defaults.portals_per_task == 25


def test_portals_per_task_is_a_run_setting_and_a_bad_one_is_named() -> None:
    assert run_settings(lambda _n: None, {"VNPORTALS_PORTALS_PER_TASK": "3"}).portals_per_task == 3
    from_variable = run_settings({"VNPORTALS_PORTALS_PER_TASK": "40"}.get, {"VNPORTALS_PORTALS_PER_TASK": "3"})
    assert from_variable.portals_per_task == 40
    for bad in ("0", "many", "-2"):
        with pytest.raises(ValueError, match=f"VNPORTALS_PORTALS_PER_TASK={bad!r}"):
            run_settings(lambda _n: None, {"VNPORTALS_PORTALS_PER_TASK": bad})


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{setting.name}`")), None)
        assert row is not None, f"README has no row for {setting.name}"
        if setting.default and setting.name != "VNPORTALS_DATA_DIR":
            assert f"`{setting.default}`" in row, f"README's default for {setting.name} is not {setting.default}"


# -- the plain functions behind the tasks ----------------------------------------------------
def test_run_id_comes_from_the_airflow_run_and_dates_are_vietnam_days() -> None:
    due = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # 01:00 on the 23rd in Hà Nội
    run_id = pipeline_run_id(due)
    assert run_id == "20261122T180000000000Z"
    assert pipeline_run_id(due) == run_id  # a retried task agrees with the first try
    assert crawl_date(run_id).isoformat() == "2026-11-23"
    assert crawl_date("20261122T165959Z").isoformat() == "2026-11-22"


def _archive(data: Path, site: str, run_ids: list[str]) -> None:
    for run_id in run_ids:
        path = DataLayout(data).warc_path(site, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_reextract_plan_picks_the_portals_and_days_asked_for(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _archive(data, "longbien", ["20261120T180000000000Z", "20261121T180000000000Z", "20261122T180000000000Z"])
    _archive(data, "uongbi", ["20261121T180000000000Z"])
    settings = run_settings(lambda _n: None, {"VNPORTALS_DATA_DIR": str(data)})
    said: list[str] = []

    def reextract(wanted: list[str] | None, first: str | None, last: str | None, run: str) -> list[Shard]:
        return plan_reextract(
            wanted, first, last, settings, run, dag_id="vnportals_reextract", dag_run_id="manual__x", say=said.append
        )

    def plan(wanted: list[str] | None, first: str | None, last: str | None, run: str) -> dict[str, list[str]]:
        portals = [slug for shard in reextract(wanted, first, last, run) for slug in shard["portals"]]
        batches = json.loads(DataLayout(data).run_plan_path(run).read_text("utf-8"))["batches"]
        assert portals == [slug for slug, runs in batches.items() if runs]
        return {slug: runs for slug, runs in batches.items() if runs}

    assert plan(["longbien", "uongbi"], "2026-11-22", "2026-11-22", "20261201T000000000000Z") == {
        "longbien": ["20261121T180000000000Z"],
        "uongbi": ["20261121T180000000000Z"],
    }
    assert any("longbien: 1 archived crawl runs in range" in line for line in said)
    assert plan(["longbien"], "2026-11-22", None, "20261201T000000000001Z") == {
        "longbien": ["20261121T180000000000Z", "20261122T180000000000Z"]
    }
    everything = plan(None, None, None, "20261201T000000000002Z")
    assert sum(len(runs) for runs in everything.values()) == 4
    with pytest.raises(ValueError, match="nothing to re-extract"):
        reextract(["longbien"], "2025-01-01", "2025-01-31", "20261201T000000000003Z")
    with pytest.raises(ValueError, match="after date_to"):
        reextract(None, "2026-11-23", "2026-11-22", "20261201T000000000004Z")
    with pytest.raises(ValueError, match="date_from='23/11/2026'"):
        reextract(None, "23/11/2026", None, "20261201T000000000005Z")

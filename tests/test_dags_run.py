"""The DAGs run for real against the offline mirror, read back from Parquet:

* ``dag.test()`` in a temporary AIRFLOW_HOME (SQLite): the whole night (and the same night
  through ``vnportals run``, which writes the same run summary), a night in which one portal
  fails, and a re-extraction from the raw archive with nothing fetched;
* a real scheduler (API server, scheduler, DAG processor; LocalExecutor, simple auth
  manager), the run triggered through the REST API v2 with a JWT;
* the production shape: PostgreSQL metadata database (created and dropped here), the
  CeleryExecutor with Redis as broker and two Celery workers, FAB users, a night of 20
  imitation portals in shards of three shared by both workers, and the same night on one
  worker alone publishing the same dataset.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from kernel.registry import load_registry
from kernel.timestamps import VN_TZ
from pipeline.airflow.shards import make_shards
from pipeline.engine import crawl_date
from pipeline.mirror import MIRROR_DIR, MirrorServer
from tests.conftest import gold_articles
from tests.support.airflow_support import (
    COMPONENTS,
    REPO,
    TEST_ONLY_FLAGS,
    AirflowApi,
    Cluster,
    Component,
    airflow,
    base_env,
    free_port,
    make_secrets,
    max_overlap,
    production_config,
    worker_env,
)
from tests.support.cli import run_cli
from tests.support.imitation_portals import imitation_portals

pytestmark = pytest.mark.slow

NIGHTLY, REEXTRACT = "vnportals_nightly", "vnportals_reextract"
PORTALS = sorted(s.slug for s in load_registry().values() if s.enabled)
# Four portals of four CMS families: a night on the workers, kept short on two cores.
PRODUCTION_SITES = ["baolam", "hanoidcs", "kinhtedothi", "uongbi"]


def read_articles(data: Path) -> list[dict[str, Any]]:
    table = ds.dataset(data / "articles", format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: str(r["article_id"]))


def dag_test(env: dict[str, str], dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``dag.test()`` in a subprocess with this environment; its outcome and output."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.airflow_dagtest_runner", dag_id, json.dumps(conf or {})],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=400,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("DAGTEST-RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-5000:] + done.stderr[-5000:]
    result = dict(json.loads(lines[-1].split(" ", 1)[1]))
    result["output"] = done.stdout + done.stderr
    return result


def states(result: dict[str, Any]) -> dict[tuple[str, str | None], str]:
    """Task states keyed by (task id, portal label of a mapped task)."""
    return {(t["task_id"], t["label"] if t["map_index"] >= 0 else None): t["state"] for t in result["tasks"]}


# -- dag.test() -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite metadata database for the dag.test() runs."""
    home = tmp_path_factory.mktemp("airflow-home")
    airflow(["db", "migrate"], base_env(home, home / "unused"))
    return home


@pytest.fixture(scope="module")
def night(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any], int]]:
    """The nightly DAG, run once with dag.test() against a mirror server started here."""
    data = tmp_path_factory.mktemp("night") / "data"
    with MirrorServer(MIRROR_DIR) as mirror:
        env = base_env(airflow_home, data, VNPORTALS_MIRROR_URL=mirror.url, VNPORTALS_PORTALS_PER_TASK="3")
        result = dag_test(env, NIGHTLY)
        requests = len(mirror.requests)
    yield data, result, requests


def test_dag_test_runs_the_night_and_publishes_every_gold_article(night: tuple[Path, dict[str, Any], int]) -> None:
    data, result, requests = night
    assert result["state"] == "success", result["output"][-5000:]
    got = states(result)
    shards = [s["label"] for s in make_shards(list(load_registry().values()), 3)]
    assert len(shards) == 3  # the eight bundled portals, three a task
    assert sorted(k for k in got if k[1] is not None) == sorted(
        (task_id, label) for task_id in ("shard.crawl", "shard.extract") for label in shards
    )
    for label in shards:
        assert got[("shard.crawl", label)] == got[("shard.extract", label)] == "success"
    for task_id in ("plan", "validate", "publish", "report"):
        assert got[(task_id, None)] == "success"
    assert requests > 0  # every page came from the mirror this test started
    rows = read_articles(data)
    by_url = {r["url"]: r for r in rows}
    for gold in gold_articles():
        row = by_url.get(gold.url)
        assert row is not None, f"missing {gold.url}"
        assert row["title"] == gold.data["title"]
    assert {r["site"] for r in rows} == set(PORTALS)
    assert len({r["article_id"] for r in rows}) == len(rows)


def test_each_task_logs_its_numbers_and_the_run_summary_is_written(night: tuple[Path, dict[str, Any], int]) -> None:
    data, result, _ = night
    out = result["output"]
    # The CLI's wording, one line per step and portal, and each shard's portals at its end.
    assert (
        "crawl longbien: 12 pages kept (5 listings/feeds, 0 more unchanged; articles 7 new, 0 changed, 0 unchanged"
        in out
    )
    assert "extract longbien: 7 articles from 7 article pages (0 rejected, 0 failed)" in out
    assert "crawl shard kinhtedothi .. namdan (3 portals): 3 ok, 0 failed, 0 not ready" in out
    assert "  ok        longbien: 12 pages kept" in out
    assert "extract shard thanhhoa .. uongbi (2 portals): 2 ok, 0 failed, 0 not ready" in out
    assert "validate longbien: 7 article pages, 7 passed, 0 quarantined" in out
    rows = len(read_articles(data))
    assert f"publish {rows} new, 0 updated, 0 unchanged articles" in out
    (summary_file,) = (data / "runs").glob("*.json")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["outcome"] == "succeeded" and summary["failed_portals"] == {}
    assert summary["orchestrator"] == {"name": "airflow", "dag_id": NIGHTLY, "dag_run_id": result["run_id"]}
    assert list(summary["portals"]) == PORTALS
    assert summary["publish"]["summary"]["new"] == rows
    assert f"succeeded: {len(PORTALS)} of {len(PORTALS)} portals done" in out


# Fields that differ between two runs of the same night whoever runs them: clocks and places,
# and the bytes of Parquet files whose rows carry those clocks.
TIMING = {"started_at", "finished_at", "duration_s", "peak_memory_mb", "bytes_written"}


def comparable(value: Any, run_id: str, data: Path) -> Any:
    """A run summary with its clocks dropped and its run id and data dir named alike."""
    if isinstance(value, dict):
        # Keys too: some name a batch by its run id (an extraction's pages per batch).
        return {comparable(k, run_id, data): comparable(v, run_id, data) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [comparable(v, run_id, data) for v in value]
    if isinstance(value, str):
        text = value.replace(str(data), "<data>").replace(run_id, "<run>")
        text = re.sub(r"\d{8}T\d{6}\.\d{6}Z", "<time>", text)  # the report pages' folder: GX's clock
        text = re.sub(r"\b\d+\.\d MB\b", "<size>", text)  # a publish line's bytes written
        return re.sub(r"\b\d+\.\ds\b", "<seconds>", text)  # a crawl line's duration
    return value


def test_the_cli_and_the_dag_write_the_same_run_summary(
    night: tuple[Path, dict[str, Any], int], tmp_path: Path
) -> None:
    dag_data, _, _ = night
    (dag_file,) = (dag_data / "runs").glob("*.json")
    dag = json.loads(dag_file.read_text(encoding="utf-8"))
    cli_data = tmp_path / "data"
    with MirrorServer(MIRROR_DIR) as mirror:
        done = run_cli("run", "--data-dir", str(cli_data), "--mirror-url", mirror.url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (cli_file,) = (cli_data / "runs").glob("*.json")
    cli = json.loads(cli_file.read_text(encoding="utf-8"))
    assert cli.pop("orchestrator") == {"name": "cli", "command": "run"}
    assert dag.pop("orchestrator")["name"] == "airflow"
    assert comparable(cli, cli["run_id"], cli_data) == comparable(dag, dag["run_id"], dag_data)


def test_reextraction_rebuilds_the_dataset_from_the_raw_archive_without_fetching(
    night: tuple[Path, dict[str, Any], int], airflow_home: Path, tmp_path: Path
) -> None:
    data, _, _ = night
    before = read_articles(data)
    # A copy of the night's raw archive only: no batches, no dataset, no mirror running.
    copy = tmp_path / "data"
    shutil.copytree(data / "raw", copy / "raw")
    (run_id,) = {p.name.split(".")[0] for p in (copy / "raw" / "longbien").glob("*.warc.gz")}
    day = crawl_date(run_id).isoformat()
    env = base_env(airflow_home, copy)
    result = dag_test(env, REEXTRACT, {"sites": ["longbien", "uongbi"], "date_from": day, "date_to": day})
    assert result["state"] == "success", result["output"][-5000:]
    got = states(result)
    assert got[("reextract", "longbien .. uongbi (2 portals)")] == "success"
    assert got[("publish", None)] == "success"
    rebuilt = read_articles(copy)
    expected = [r for r in before if r["site"] in ("longbien", "uongbi")]
    assert [r["article_id"] for r in rebuilt] == [r["article_id"] for r in expected]
    for new, old in zip(rebuilt, expected, strict=True):
        assert (new["title"], new["body"], new["published_at"]) == (old["title"], old["body"], old["published_at"])
        assert new["fetched_at"] == old["fetched_at"]  # from the archive, not fetched again


def test_a_failing_portal_never_stops_the_others_of_its_shard_and_the_report_names_it(
    airflow_home: Path, tmp_path: Path
) -> None:
    # The bundled registry plus a portal whose host the mirror does not know: it fails.
    registry = tmp_path / "sites"
    shutil.copytree(REPO / "kernel" / "sites", registry)
    broken = (registry / "longbien.toml").read_text(encoding="utf-8")
    broken = broken.replace("longbien.hanoi.gov.vn", "gone.hanoi.gov.vn")
    (registry / "gone.toml").write_text(broken, encoding="utf-8")
    data = tmp_path / "data"
    with MirrorServer(MIRROR_DIR) as mirror:
        env = base_env(
            airflow_home,
            data,
            VNPORTALS_REGISTRY=str(registry),
            VNPORTALS_MIRROR_URL=mirror.url,
            VNPORTALS_TASK_RETRIES="1",
            VNPORTALS_RETRY_DELAY_S="1",
        )
        result = dag_test(env, NIGHTLY, {"sites": ["gone", "uongbi"]})
        robots = Counter(r.host for r in mirror.requests if r.path == "/robots.txt")
    got = states(result)
    shard = "gone .. uongbi (2 portals)"  # one shard: the default is 25 portals a task
    assert result["state"] == "failed"
    assert got[("shard.crawl", shard)] == "failed"
    tries = {(t["task_id"], t["label"]): t["try_number"] for t in result["tasks"]}
    assert tries[("shard.crawl", shard)] == 2  # retried once, then failed
    # The retry crawled only the portal that had failed: uongbi once, gone twice.
    assert robots == {"uongbi.quangninh.gov.vn": 1, "gone.hanoi.gov.vn": 2}
    assert (
        "crawl shard gone .. uongbi (2 portals): 1 of 2 portals to do; done in an earlier try: uongbi"
        in (result["output"])
    )
    assert got[("shard.extract", shard)] == "success"  # uongbi's crawl worked: it goes on
    assert got[("publish", None)] == "success"  # uongbi was published all the same
    assert got[("report", None)] == "failed"
    assert {r["site"] for r in read_articles(data)} == {"uongbi"}
    assert "1 of 2 portals failed: gone: crawl: no page could be fetched" in result["output"]
    (summary_file,) = (data / "runs").glob("*.json")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["outcome"] == "partial" and list(summary["failed_portals"]) == ["gone"]
    assert summary["failed_portals"]["gone"].startswith("crawl: no page could be fetched")


# -- a real scheduler, triggered through the REST API v2 ---------------------------------------
def test_real_scheduler_runs_the_dag_triggered_through_the_rest_api(tmp_path: Path) -> None:
    home, data, port = tmp_path / "airflow-home", tmp_path / "data", free_port()
    sites = ["longbien", "uongbi", "namdan"]
    env = base_env(
        home,
        data,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="true",
        VNPORTALS_MIRROR_URL="bundled",  # each crawl task serves the bundled mirror itself
        VNPORTALS_CRAWL_POOL_SLOTS="2",
        VNPORTALS_PORTALS_PER_TASK="1",  # three crawl tasks for a pool of two
    )
    airflow(["db", "migrate"], env)
    cluster = Cluster()
    try:
        cluster.start(Component("api-server", ["api-server"], env, tmp_path / "api-server.log"))
        cluster.start(Component("scheduler", ["scheduler", "--skip-serve-logs"], env, tmp_path / "scheduler.log"))
        cluster.start(Component("dag-processor", ["dag-processor"], env, tmp_path / "dag-processor.log"))
        api = AirflowApi(f"http://127.0.0.1:{port}")
        api.wait_healthy(cluster)
        # The simple auth manager's admin: its password is generated into AIRFLOW_HOME.
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        api.log_in("admin", passwords["admin"])
        assert api.wait_for_dag(NIGHTLY, cluster)["tags"]
        run_id = api.trigger(NIGHTLY, {"sites": sites})
        state = api.wait_for_run(NIGHTLY, run_id, cluster)
        tis = api.task_instances(NIGHTLY, run_id)
        pool = api.request("GET", "/api/v2/pools/vnportals_crawl")
        events = api.asset_events(NIGHTLY, run_id)
        runs = api.request("GET", f"/api/v2/dags/{NIGHTLY}/dagRuns")["dag_runs"]
        details = api.request("GET", f"/api/v2/dags/{NIGHTLY}/details")
    finally:
        cluster.stop()
    assert state == "success", cluster.tails()
    assert [r["dag_run_id"] for r in runs] == [run_id]  # unpausing started no run of its own
    assert details["timetable_summary"] == "0 1 * * *"
    next_run = datetime.fromisoformat(details["next_dagrun_run_after"]).astimezone(VN_TZ)
    assert (next_run.hour, next_run.minute) == (1, 0)
    crawls = [t for t in tis if t["task_id"] == "shard.crawl"]
    assert sorted(t["rendered_map_index"] for t in crawls) == sorted(sites)  # a shard of one is its portal
    assert all(t["state"] == "success" for t in tis), [(t["task_id"], t["state"]) for t in tis]
    assert pool["slots"] == 2  # created by the vnportals plugin when the scheduler started
    assert max_overlap([(t["start_date"], t["end_date"]) for t in crawls]) <= 2
    rows = read_articles(data)
    assert {r["site"] for r in rows} == set(sites)
    assert len(rows) == 20  # 7 + 7 + 6 gold articles
    (event,) = events
    assert event["extra"]["path"] == str(data / "articles") and event["extra"]["new"] == len(rows)


# -- the production shape: PostgreSQL, Celery, Redis ------------------------------------------
@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A database of its own on the local PostgreSQL, dropped afterwards; its user@host/name."""
    import psycopg2

    name = f"vnportals_airflow_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_queue() -> Iterator[tuple[str, str]]:
    """A Redis broker URL and a Celery queue of its own; its keys are deleted afterwards."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=0)
    client.ping()
    queue = f"vnportals-test-{uuid.uuid4().hex[:10]}"
    try:
        yield "redis://127.0.0.1:6379/0", queue
    finally:
        keys = list(client.scan_iter(f"*{queue}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_production_shape_two_celery_workers_share_a_night_and_one_alone_makes_the_same_dataset(
    tmp_path: Path, postgres_database: str, redis_queue: tuple[str, str]
) -> None:
    """The production shape (PostgreSQL, Celery over Redis, FAB users) with two workers, on
    20 imitation portals (four bundled ones of four CMS families and four copies of each) in
    shards of three: both workers run tasks of the night; then the same night on one worker
    alone, into a data root of its own, publishes the same articles."""
    broker, queue = redis_queue
    portals = imitation_portals(tmp_path / "portals", PRODUCTION_SITES, copies=4)
    assert len(portals.portals) == 20
    shards = make_shards(list(load_registry(portals.registry).values()), 3)
    home, port, health = tmp_path / "airflow-home", free_port(), free_port()
    two, one = tmp_path / "data-two-workers", tmp_path / "data-one-worker"
    with MirrorServer(portals.mirror) as mirror:
        env = base_env(
            home,
            two,
            **production_config(
                database_url=postgres_database,
                broker_url=broker,
                execution_api_url=f"http://127.0.0.1:{port}/execution/",
            ),
            **make_secrets(),
            AIRFLOW__API__PORT=str(port),
            AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(health),
            AIRFLOW__OPERATORS__DEFAULT_QUEUE=queue,
            VNPORTALS_MIRROR_URL=mirror.url,
            VNPORTALS_REGISTRY=str(portals.registry),
            VNPORTALS_PORTALS_PER_TASK="3",
        )
        # What the compose file's init service does: migrations, then the admin user.
        airflow(["db", "migrate"], env)
        airflow(
            [
                *["users", "create", "--username", "admin", "--password", "admin-pw", "--role", "Admin"],
                *["--firstname", "Admin", "--lastname", "User", "--email", "admin@example.org"],
            ],
            env,
        )
        cluster = Cluster()
        try:
            for service, args in COMPONENTS.items():
                if service != "airflow-worker":
                    extra = TEST_ONLY_FLAGS.get(service, [])
                    cluster.start(Component(service, [*args, *extra], env, tmp_path / f"{service}.log"))
            # Two slots each for the pool's four: four crawls at once need both workers.
            workers = {
                name: cluster.start(
                    Component(
                        name,
                        [
                            *COMPONENTS["airflow-worker"],
                            *TEST_ONLY_FLAGS["airflow-worker"],
                            *["--queues", queue, "--concurrency", "2", "--celery-hostname", f"{name}@%h"],
                        ],
                        worker_env(env, name),
                        tmp_path / f"{name}.log",
                    )
                )
                for name in ("worker-a", "worker-b")
            }
            api = AirflowApi(f"http://127.0.0.1:{port}")
            api.wait_healthy(cluster)
            api.log_in("admin", "admin-pw")  # FAB's /auth/token hands out the JWT
            api.wait_for_dag(NIGHTLY, cluster)
            night = api.trigger(NIGHTLY, {})  # every portal of the registry
            state = api.wait_for_run(NIGHTLY, night, cluster, timeout=1200)
            tis = api.task_instances(NIGHTLY, night)
            logs = {
                t["rendered_map_index"]: api.task_log(NIGHTLY, night, t["task_id"], t["map_index"], t["try_number"])
                for t in tis
                if t["task_id"] == "shard.crawl"
            }
            scheduler_health = AirflowApi(f"http://127.0.0.1:{health}").status("/health")
            monitor = api.request("GET", "/api/v2/monitor/health", auth=False)
            # The same night again on worker-a alone, into a data root of its own.
            workers["worker-b"].stop()
            cluster.components.remove(workers["worker-b"])
            api.set_variable("VNPORTALS_DATA_DIR", str(one))
            alone = api.trigger(NIGHTLY, {})
            state_alone = api.wait_for_run(NIGHTLY, alone, cluster, timeout=1200)
            tis_alone = api.task_instances(NIGHTLY, alone)
        finally:
            cluster.stop()
    assert state == state_alone == "success", cluster.tails()
    for run in (tis, tis_alone):
        assert all(t["state"] == "success" for t in run), [(t["task_id"], t["state"]) for t in run]
        assert {t["queue"] for t in run} == {queue}  # every task went through Redis to a worker
        assert {t["executor"] for t in run} <= {None, "CeleryExecutor"}
    assert {t["hostname"] for t in tis} == {"worker-a", "worker-b"}  # both workers took tasks
    assert {t["hostname"] for t in tis_alone} == {"worker-a"}
    # Tens of task instances for the night, not two per portal: two per shard and four more.
    assert len(shards) == 7 and len(tis) == 2 * len(shards) + 4
    crawls = [t for t in tis if t["task_id"] == "shard.crawl"]
    assert sorted(t["rendered_map_index"] for t in crawls) == sorted(s["label"] for s in shards)
    assert {t["pool"] for t in crawls} == {"vnportals_crawl"}
    for shard in shards:  # a shard's log has a line for each of its portals
        for slug in shard["portals"]:
            assert f"  ok        {slug}: " in logs[shard["label"]], (shard["label"], slug)
    assert monitor["metadatabase"]["status"] == "healthy"
    assert scheduler_health == 200  # what the compose file's scheduler health check asks
    rows, rows_alone = read_articles(two), read_articles(one)
    assert {r["site"] for r in rows} == set(portals.portals)
    assert {g.url for g in gold_articles() if g.site in PRODUCTION_SITES} <= {r["url"] for r in rows}
    per_site = Counter(r["site"] for r in rows)
    for slug in PRODUCTION_SITES:  # every copy published as many articles as its original
        assert [per_site[f"{slug}{n}"] for n in range(2, 6)] == [per_site[slug]] * 4
    assert [(r["article_id"], r["body"]) for r in rows] == [(r["article_id"], r["body"]) for r in rows_alone]

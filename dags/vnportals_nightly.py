"""Nightly vnportals run: crawl every enabled portal, extract, publish.

A thin DAG file: nothing is read or imported at parse time beyond Airflow itself; each
task imports the pipeline inside its body and calls the same step functions as the CLI.
Configuration (environment variables, with Airflow Variables of the same name taking
precedence inside tasks):

* ``VNPORTALS_DATA_DIR``  data root (default ``/opt/vnportals/data``)
* ``VNPORTALS_REGISTRY``  folder of site configs (default: the bundled registry)
* ``VNPORTALS_MIRROR_URL`` answer every request from this mirror server (demos, tests)
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, dag, task

DATA_DIR_DEFAULT = "/opt/vnportals/data"
ARTICLES = Asset(
    name="vnportals_articles",
    uri="file://" + os.environ.get("VNPORTALS_DATA_DIR", DATA_DIR_DEFAULT).rstrip("/") + "/articles",
)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "vnportals",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}


def _setting(name: str, default: str | None = None) -> str | None:
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return value if value is not None else os.environ.get(name, default)


@dag(
    dag_id="vnportals_nightly",
    schedule="0 1 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=6),
    tags=["vnportals", "crawl"],
    params={"sites": Param([], type="array", description="portal slugs; empty for all enabled")},
)
def vnportals_nightly() -> None:
    @task
    def portals(**context: Any) -> list[str]:
        from pathlib import Path

        from crawlers.registry import load_registry, select_sites

        registry = _setting("VNPORTALS_REGISTRY")
        sites = load_registry(Path(registry) if registry else None)
        return [s.slug for s in select_sites(sites, context["params"].get("sites") or None)]

    @task(execution_timeout=timedelta(minutes=90))
    def crawl(slug: str, batch_id: str) -> dict[str, Any]:
        from dataclasses import asdict
        from pathlib import Path

        from crawlers.registry import load_registry
        from pipeline.steps import crawl_step

        registry = _setting("VNPORTALS_REGISTRY")
        site = load_registry(Path(registry) if registry else None)[slug]
        data_dir = Path(_setting("VNPORTALS_DATA_DIR", DATA_DIR_DEFAULT) or DATA_DIR_DEFAULT)
        (summary,) = crawl_step(
            [site],
            data_dir,
            run_id=batch_id,
            registry_dir=Path(registry) if registry else None,
            mirror_url=_setting("VNPORTALS_MIRROR_URL"),
            progress=print,
        )
        print(summary.line())
        return asdict(summary)

    @task
    def new_run_id() -> str:
        from pipeline.paths import new_run_id as make

        return make()

    @task(trigger_rule="all_done", outlets=[ARTICLES])
    def extract_and_publish(crawls: list[dict[str, Any]], batch_id: str) -> dict[str, Any]:
        from pathlib import Path

        from crawlers.registry import load_registry
        from pipeline.steps import extract_step, publish_step

        registry = _setting("VNPORTALS_REGISTRY")
        sites = load_registry(Path(registry) if registry else None)
        data_dir = Path(_setting("VNPORTALS_DATA_DIR", DATA_DIR_DEFAULT) or DATA_DIR_DEFAULT)
        ok = [sites[c["site"]] for c in crawls if c and c.get("ok")]
        failed = [f"{c['site']}: {c['failure']}" for c in crawls if c and not c.get("ok")]
        extracted = extract_step(ok, data_dir, run_id=batch_id, progress=print)
        published = publish_step(list(sites.values()), data_dir, progress=print)
        for line in failed:
            print("FAILED portal " + line)
        return {
            "articles_extracted": sum(e.articles for e in extracted),
            "new": published.new,
            "updated": published.updated,
            "unchanged": published.unchanged,
            "failed_portals": failed,
        }

    batch_id = new_run_id()
    crawls = crawl.partial(batch_id=batch_id).expand(slug=portals())
    extract_and_publish(crawls, batch_id)


vnportals_nightly()

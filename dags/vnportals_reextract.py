"""Re-extraction from the raw archive, without fetching: better rules reach old articles.

Triggered by hand (Trigger DAG with config): for the portals in ``sites`` (every enabled
portal when empty) and the crawl runs started between ``date_from`` and ``date_to``
(inclusive, Vietnam time; open-ended when empty), it re-extracts each archived crawl run
with today's rules, validates the batches, and publishes them: revised articles replace
their rows, unchanged ones stay as they are.

```
plan ──> reextract[slug] (mapped) ──> validate ──> publish (emits vnportals_articles) ──> report
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, TriggerRule, dag, get_current_context, task

from pipeline.airflow_settings import dag_shape, default_args

SHAPE = dag_shape()
VN = "Asia/Ho_Chi_Minh"

# Named, not located: the data root is a run setting (it may come from a Variable), so the
# dataset's path travels in each event's extra instead of the Asset's URI.
ARTICLES = Asset(
    name="vnportals_articles",
    group="vnportals",
    extra={"format": "parquet", "partitioning": "hive: published_month=YYYY-MM"},
)


def _settings() -> Any:
    from pipeline.airflow_settings import run_settings

    return run_settings()


@dag(
    dag_id="vnportals_reextract",
    description="Re-extract, validate and publish archived crawls of chosen portals and dates, without fetching",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=VN),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=22),
    default_args=default_args(SHAPE),
    tags=["vnportals", "reextract"],
    params={
        "sites": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Portals",
            description="portal slugs to re-extract; empty for every enabled portal",
        ),
        "date_from": Param(
            None,
            type=["null", "string"],
            format="date",
            title="From",
            description="first day of crawl runs to re-extract (YYYY-MM-DD, Vietnam time); empty: the first",
        ),
        "date_to": Param(
            None,
            type=["null", "string"],
            format="date",
            title="To",
            description="last day of crawl runs to re-extract (YYYY-MM-DD, Vietnam time); empty: the last",
        ),
    },
    doc_md=__doc__,
)
def vnportals_reextract() -> None:
    @task
    def plan() -> list[dict[str, Any]]:
        from pipeline.airflow_tasks import plan_reextract

        params = get_current_context()["params"]
        return plan_reextract(params.get("sites"), params.get("date_from"), params.get("date_to"), _settings())

    @task(map_index_template="{{ portal }}")
    def reextract(job: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow_tasks import reextract_portal

        get_current_context()["portal"] = job["site"]  # type: ignore[typeddict-unknown-key]
        return reextract_portal(job, _settings())

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def validate(results: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow_tasks import batches_of, mapped_results, validate_batches

        # The validation step, validate_step(sites, data_dir, run_id=...), is called in there
        # for each re-extracted run when it exists (pipeline.steps or pipeline.validate).
        return validate_batches(batches_of(mapped_results(results)), _settings())

    @task(outlets=[ARTICLES])
    def publish(validation: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow_tasks import publish_portals

        settings = _settings()
        summary = publish_portals(validation["portals"], settings)
        get_current_context()["outlet_events"][ARTICLES].extra = {
            "path": str(settings.data_dir / "articles"),
            "reextracted": validation["portals"],
            "new": summary["new"],
            "updated": summary["updated"],
            "unchanged": summary["unchanged"],
            "rows_total": summary["rows_total"],
        }
        return summary

    # Not retried: it fails on purpose, to mark the run failed when a portal failed.
    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report(jobs: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow_tasks import mapped_results, report_reextract

        ti = get_current_context()["ti"]
        return report_reextract(
            jobs=list(jobs),
            results=mapped_results(results),
            validation=ti.xcom_pull(task_ids="validate"),
            published=ti.xcom_pull(task_ids="publish"),
        )

    jobs = plan()
    results = reextract.expand(job=jobs)
    publish(validate(results)) >> report(jobs, results)


vnportals_reextract()

"""Nightly vnportals run: crawl every enabled portal, extract, validate, publish.

```
plan ──> portal[slug] (one per portal, mapped):  crawl ──> extract
                                                          │
         validate <───────────────────────────────────────┘ (whatever was extracted)
            └──> publish (emits the vnportals_articles Asset) ──> report
```

* **plan** picks the portals: every enabled one, or the ``sites`` param of a manual run.
* **crawl** runs Scrapy in its own process for one portal, in the crawl pool (at most as many
  portals at once as the pool has slots); a failed crawl is retried with exponential
  backoff, then shown failed under its portal's name, and the other portals go on.
* **extract** turns that crawl's raw archive into a batch of articles.
* **validate** runs the data-quality suites on the batches: failing rows are quarantined, and a
  portal whose batch fails its batch-level expectations is reported and left unpublished.
* **publish** merges the batches into the Parquet dataset and emits the Asset, with the
  run's numbers in the event's extra, so downstream DAGs can be scheduled on new articles.
* **report** writes ``runs/<run_id>.json`` and fails the run, naming each failed portal and
  why, if any did (after the others were published).

The DAG file is thin and does no I/O while it is parsed: shape settings come from
environment variables (:mod:`pipeline.airflow_settings`), the work from
:mod:`pipeline.airflow_tasks`, imported inside each task.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import (
    Asset,
    CronTriggerTimetable,
    Param,
    TriggerRule,
    dag,
    get_current_context,
    task,
    task_group,
)

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


def _context() -> tuple[Any, Any, str]:
    """The running task's settings, Airflow context and pipeline run id."""
    from pipeline.airflow_settings import run_settings
    from pipeline.airflow_tasks import pipeline_run_id

    context = get_current_context()
    return run_settings(), context, pipeline_run_id(context["dag_run"].run_after)


@dag(
    dag_id="vnportals_nightly",
    description="Crawl, extract, validate and publish the Vietnamese news portals, nightly",
    # No start date: the first run is the next 01:00, not a run for last night the moment
    # the DAG is unpaused.
    schedule=CronTriggerTimetable("0 1 * * *", timezone=VN),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=22),
    default_args=default_args(SHAPE),
    tags=["vnportals", "crawl", "nightly"],
    params={
        "sites": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Portals",
            description="portal slugs to run (e.g. longbien, uongbi); empty for every enabled portal",
        ),
    },
    doc_md=__doc__,
)
def vnportals_nightly() -> None:
    @task
    def plan() -> list[str]:
        from pipeline.airflow_tasks import plan_portals

        settings, context, run_id = _context()
        return plan_portals(context["params"].get("sites"), settings, run_id)

    @task(
        pool=SHAPE.crawl_pool,
        execution_timeout=SHAPE.crawl_timeout,
        map_index_template="{{ portal }}",
    )
    def crawl(slug: str) -> dict[str, Any]:
        from pipeline.airflow_tasks import crawl_portal

        settings, context, run_id = _context()
        context["portal"] = slug  # type: ignore[typeddict-unknown-key]  # names the map index in the UI
        return crawl_portal(slug, run_id, settings, time_budget_s=SHAPE.crawl_time_budget_s)

    @task(map_index_template="{{ portal }}")
    def extract(crawled: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow_tasks import extract_portal

        settings, context, _ = _context()
        context["portal"] = crawled["site"]  # type: ignore[typeddict-unknown-key]
        return extract_portal(crawled, settings)

    @task_group
    def portal(slug: str) -> Any:
        return extract(crawl(slug))

    # Runs once every portal is done, on whatever was extracted: one failed portal never
    # holds back the others.
    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def validate(extracted: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow_tasks import batches_of, mapped_results, validate_batches

        settings, _, _ = _context()
        # The validation step, validate_step(sites, data_dir, run_id=...), is called in there
        # when it exists (pipeline.steps or pipeline.validate); without it the batches pass.
        return validate_batches(batches_of(mapped_results(extracted)), settings)

    @task(outlets=[ARTICLES])
    def publish(validation: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow_tasks import publish_portals

        settings, context, run_id = _context()
        summary = publish_portals(validation["portals"], settings)
        context["outlet_events"][ARTICLES].extra = {
            "path": str(settings.data_dir / "articles"),
            "run_id": run_id,
            "new": summary["new"],
            "updated": summary["updated"],
            "unchanged": summary["unchanged"],
            "rows_total": summary["rows_total"],
            "partitions": summary["partitions"],
        }
        return summary

    # Not retried: it fails on purpose, to mark the run failed when a portal failed. It reads
    # validate's and publish's results itself: they are missing when those tasks failed.
    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report(planned: list[str], extracted: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow_tasks import mapped_results, report_run

        settings, context, run_id = _context()
        ti = context["ti"]
        return report_run(
            run_id=run_id,
            planned=list(planned),
            extracted=mapped_results(extracted),
            validation=ti.xcom_pull(task_ids="validate"),
            published=ti.xcom_pull(task_ids="publish"),
            settings=settings,
            airflow_run_id=context["dag_run"].run_id,
        )

    planned = plan()
    extracted = portal.expand(slug=planned)
    publish(validate(extracted)) >> report(planned, extracted)


vnportals_nightly()

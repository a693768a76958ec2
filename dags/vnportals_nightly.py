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
* **validate** runs the data-quality suites on the batches of every portal whose extraction
  ended well: failing rows and the pages the extractor rejected are quarantined, and a
  portal whose batch fails as a whole is recorded and left unpublished.
* **publish** merges the batches of the portals that passed into the Parquet dataset and
  emits the Asset, with the run's numbers in the event's extra, so downstream DAGs can be
  scheduled on new articles.
* **report** writes ``runs/<run_id>.json`` (the same summary ``vnportals run`` writes) and
  fails the run, naming each failed portal and why, if any did (after the others were
  published).

Each task is one step of the run engine (:mod:`pipeline.engine`), which keeps the run's plan
and a record of every step under the data dir; the next task reads them. The DAG file is thin
and does no I/O while it is parsed: shape settings come from environment variables
(:mod:`pipeline.airflow.settings`), the work from :mod:`pipeline.airflow.tasks`, imported
inside each task.
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

from pipeline.airflow.settings import dag_shape, default_args

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
    from pipeline.airflow.settings import run_settings
    from pipeline.airflow.tasks import pipeline_run_id

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
        from pipeline.airflow.tasks import plan_night

        settings, context, run_id = _context()
        return plan_night(
            context["params"].get("sites"),
            settings,
            run_id,
            dag_id=context["dag"].dag_id,
            dag_run_id=context["dag_run"].run_id,
        )

    @task(
        pool=SHAPE.crawl_pool,
        execution_timeout=SHAPE.crawl_timeout,
        map_index_template="{{ portal }}",
    )
    def crawl(slug: str) -> str:
        from pipeline.airflow.tasks import crawl_portal

        settings, context, run_id = _context()
        context["portal"] = slug  # type: ignore[typeddict-unknown-key]  # names the map index in the UI
        crawl_portal(slug, run_id, settings, time_budget_s=SHAPE.crawl_time_budget_s)
        return slug

    @task(map_index_template="{{ portal }}")
    def extract(slug: str) -> dict[str, Any]:
        from pipeline.airflow.tasks import extract_portal

        settings, context, run_id = _context()
        context["portal"] = slug  # type: ignore[typeddict-unknown-key]
        return extract_portal(slug, run_id, settings)

    @task_group
    def portal(slug: str) -> Any:
        return extract(crawl(slug))

    # Runs once every portal is done, on whatever was extracted (the run's ledger says
    # which): one failed portal never holds back the others.
    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def validate(extracted: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow.tasks import validate_run

        settings, _, run_id = _context()
        return validate_run(run_id, settings)

    @task(outlets=[ARTICLES])
    def publish(validation: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow.tasks import publish_run

        settings, context, run_id = _context()
        summary = publish_run(run_id, settings)
        context["outlet_events"][ARTICLES].extra = {
            "path": str(settings.data_dir / "articles"),
            "run_id": run_id,
            **{k: summary[k] for k in ("new", "updated", "unchanged", "rows_total", "partitions")},
        }
        return summary

    # Not retried: it fails on purpose, to mark the run failed when a portal failed.
    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report(planned: list[str], extracted: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow.tasks import report_run

        settings, _, run_id = _context()
        return report_run(run_id, settings)

    planned = plan()
    extracted = portal.expand(slug=planned)
    publish(validate(extracted)) >> report(planned, extracted)


vnportals_nightly()

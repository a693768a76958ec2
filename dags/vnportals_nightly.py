"""Nightly vnportals run: crawl every enabled portal, extract, validate, publish.

```
plan ──> shard[first .. last] (mapped, a few dozen portals each):  crawl ──> extract
   │                                                                           │
   └──────> validate <─────────────────────────────────────────────────────────┘
               └──> publish (emits the vnportals_articles Asset) ──> report
```

* **plan** picks the portals (every enabled one, or the ``sites`` param of a manual run),
  adds the batches earlier runs left unfinished (a killed run's WARC, a batch not validated
  or not published: the run ledger says which), and cuts them into shards of
  ``VNPORTALS_PORTALS_PER_TASK`` (25 by default; portals sharing a host share a shard): a
  night of 700 portals is some thirty shards, not 1,400 tasks.
* **crawl** crawls one shard's portals in one crawl step, in the crawl pool (at most as many
  shards at once as the pool has slots). A portal whose crawl fails is recorded with why and
  the others go on; the task then fails, so Airflow retries it with exponential backoff, and
  the retry crawls only the portals that did not finish. The map index names the shard's
  first and last portal; its log has one line per portal.
* **extract** turns the raw archive of the shard's crawled portals into batches of
  articles, once its shard's crawl is over however it ended (it skips what did not crawl).
* **validate** runs the data-quality suites on the batches of every portal whose extraction
  ended well, once every shard is over: failing rows and the pages the extractor rejected
  are quarantined, and a portal whose batch fails as a whole is recorded and left
  unpublished.
* **publish** merges the batches of the portals that passed into the Parquet dataset and
  emits the Asset, with the run's numbers in the event's extra, so downstream DAGs can be
  scheduled on new articles.
* **report** writes ``runs/<run_id>.json`` (the same summary ``vnportals run`` writes) and
  fails the run, naming each failed portal and why, if any did (after the others were
  published).

Each task is one step of the run engine (:mod:`pipeline.engine`), which keeps the run's plan
and a record of every step and portal under the data dir; the next task reads them. The DAG
file is thin and does no I/O while it is parsed: shape settings come from environment
variables (:mod:`pipeline.airflow.settings`), the work from :mod:`pipeline.airflow.tasks`,
imported inside each task.
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
# A shard's map index is its label ("baolam .. uongbi (25 portals)"), read from the task's own
# argument, so the Grid view names it while the task runs, not only once it ended.
SHARD_LABEL = "{{ task.op_kwargs['shard']['label'] }}"

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
    # the DAG is unpaused. ``run_immediately=False`` (the default) still runs the past 01:00
    # when the DAG is unpaused within a tenth of a day after it; a zero window never does.
    schedule=CronTriggerTimetable("0 1 * * *", timezone=VN, run_immediately=timedelta(0)),
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
    def plan() -> list[dict[str, Any]]:
        from pipeline.airflow.tasks import plan_night

        settings, context, run_id = _context()
        return list(
            plan_night(
                context["params"].get("sites"),
                settings,
                run_id,
                dag_id=context["dag"].dag_id,
                dag_run_id=context["dag_run"].run_id,
            )
        )

    @task(pool=SHAPE.crawl_pool, execution_timeout=SHAPE.crawl_timeout, map_index_template=SHARD_LABEL)
    def crawl(shard: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow.tasks import crawl_shard

        settings, _, run_id = _context()
        return crawl_shard(shard["portals"], run_id, settings, time_budget_s=SHAPE.crawl_time_budget_s)

    # Runs once its shard's crawl is over, however it ended: the portals that crawled go on.
    @task(map_index_template=SHARD_LABEL, trigger_rule=TriggerRule.ALL_DONE)
    def extract(shard: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow.tasks import extract_shard

        settings, _, run_id = _context()
        return extract_shard(shard["portals"], run_id, settings)

    # Keyword arguments: the map index template reads the shard from the task's op_kwargs.
    @task_group(group_id="shard")
    def shard_steps(shard: dict[str, Any]) -> Any:
        extracted = extract(shard=shard)
        crawl(shard=shard) >> extracted
        return extracted

    # Runs once every shard is over, on whatever was extracted (the run's ledger says which):
    # failed portals hold back nobody. The plan is upstream so that one success is there
    # whenever the run was planned; nothing upstream is ever skipped (that would skip this).
    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def validate(planned: list[dict[str, Any]], extracted: list[dict[str, Any]]) -> dict[str, Any]:
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
    def report(planned: list[dict[str, Any]], extracted: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow.tasks import report_run

        settings, _, run_id = _context()
        return report_run(run_id, settings)

    planned = plan()
    extracted = shard_steps.expand(shard=planned)
    publish(validate(planned, extracted)) >> report(planned, extracted)


vnportals_nightly()

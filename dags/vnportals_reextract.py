"""Re-extraction from the raw archive, without fetching: better rules reach old articles.

Triggered by hand (Trigger DAG with config): for the portals in ``sites`` (every enabled
portal when empty) and the crawl runs started between ``date_from`` and ``date_to``
(inclusive, Vietnam time; open-ended when empty), it re-extracts each archived crawl run
with today's rules, validates the batches, and publishes them: revised articles replace
their rows, unchanged ones stay as they are, and pages the extractor rejected before and
extracts now leave the quarantine for the dataset. ``vnportals reextract --from D --to D``
does the same from the command line, through the same run engine.

```
plan ──> reextract[first .. last] (mapped over shards of portals) ──> validate
            ──> publish (emits vnportals_articles) ──> report
```

The portals are cut into shards as the nightly DAG's are (``VNPORTALS_PORTALS_PER_TASK``); a
shard's task re-extracts its portals one after the other, fails when any of them failed
(the retry does only those), and validation goes on with the others.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, TriggerRule, dag, get_current_context, task

from pipeline.airflow.settings import dag_shape, default_args

SHAPE = dag_shape()
VN = "Asia/Ho_Chi_Minh"
# A shard's map index is its label, read from the task's own argument (see the nightly DAG).
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
        from pipeline.airflow.tasks import plan_reextract

        settings, context, run_id = _context()
        params = context["params"]
        return list(
            plan_reextract(
                params.get("sites"),
                params.get("date_from"),
                params.get("date_to"),
                settings,
                run_id,
                dag_id=context["dag"].dag_id,
                dag_run_id=context["dag_run"].run_id,
            )
        )

    @task(map_index_template=SHARD_LABEL)
    def reextract(shard: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow.tasks import extract_shard

        settings, _, run_id = _context()
        return extract_shard(shard["portals"], run_id, settings)

    # Once every shard is over, whichever failed; the plan is upstream so that one success is
    # there whenever the run was planned.
    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def validate(jobs: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
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
            "reextracted": summary["portals"],
            **{k: summary[k] for k in ("new", "updated", "unchanged", "rows_total")},
        }
        return summary

    # Not retried: it fails on purpose, to mark the run failed when a portal failed.
    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report(jobs: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
        from pipeline.airflow.tasks import report_run

        settings, _, run_id = _context()
        return report_run(run_id, settings)

    jobs = plan()
    results = reextract.expand(shard=jobs)
    publish(validate(jobs, results)) >> report(jobs, results)


vnportals_reextract()

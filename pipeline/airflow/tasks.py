"""What each task of the Airflow DAGs does: a thin adapter over the run engine.

Every function here takes plain values, calls :class:`pipeline.engine.Engine` for one step of
one run (for one portal, or for every portal the run's ledger says is ready), logs what it
did through ``say`` (the task's log), and returns the step's record as plain values (the
task's XCom, shown in the UI). The engine keeps the run's plan and ledger under the data
dir, so tasks in different processes and on different workers agree on the run without
passing more than its id around; the report task applies the engine's one failure policy
and writes the same ``runs/<run_id>.json`` as the CLI.

A run's pipeline id is derived from the Airflow run's ``run_after`` time, so every task of
one DAG run agrees on it, and a retried or cleared task writes over its own files instead
of starting a second batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from kernel.layout import new_run_id
from pipeline.airflow.settings import RunSettings
from pipeline.engine import Engine, Plan, StepRecord
from pipeline.mirror import serving

log = logging.getLogger("vnportals")

Say = Callable[[str], None]


class PortalError(RuntimeError):
    """One portal's step failed; its task is retried, then shown failed, and the others go on."""


class PartialRunError(RuntimeError):
    """The run finished, but not for every portal: the message names each and says why."""


class StepError(RuntimeError):
    """A step of the whole run (publish) failed; its task is retried, then shown failed."""


def _say(message: str) -> None:
    log.info("%s", message)


def pipeline_run_id(run_after: datetime) -> str:
    """The pipeline's run id for an Airflow DAG run, from the time it was due."""
    return new_run_id(run_after)


def orchestrator(dag_id: str, dag_run_id: str) -> dict[str, str]:
    """The report's ``orchestrator`` field for a DAG run."""
    return {"name": "airflow", "dag_id": dag_id, "dag_run_id": dag_run_id}


def _engine(settings: RunSettings, say: Say) -> Engine:
    return Engine(settings.data_dir, settings.registry_dir, progress=say)


def _plan(settings: RunSettings, run_id: str, say: Say) -> tuple[Engine, Plan]:
    engine = _engine(settings, say)
    return engine, engine.load_plan(run_id)


def _only(records: list[StepRecord], slug: str, step: str) -> StepRecord:
    if not records:
        raise PortalError(f"{slug}: not ready for {step}: an earlier step of the run did not end well")
    (record,) = records
    if not record.ok:
        raise PortalError(f"{slug}: {step}: {record.failure}")
    return record


# -- planning ---------------------------------------------------------------------------------
def plan_night(
    wanted: Sequence[str] | None,
    settings: RunSettings,
    run_id: str,
    *,
    dag_id: str,
    dag_run_id: str,
    say: Say = _say,
) -> list[str]:
    """Plan the night; the portals it works on (one mapped task each)."""
    engine = _engine(settings, say)
    plan = engine.plan_night(wanted, run_id=run_id, orchestrator=orchestrator(dag_id, dag_run_id))
    mode = f"mirror {settings.mirror}" if settings.mirror else "the real portals"
    say(f"plan: against {mode}; data dir {settings.data_dir}")
    return list(plan.portals)


def plan_reextract(
    wanted: Sequence[str] | None,
    date_from: str | None,
    date_to: str | None,
    settings: RunSettings,
    run_id: str,
    *,
    dag_id: str,
    dag_run_id: str,
    say: Say = _say,
) -> list[str]:
    """Plan a re-extraction of the crawls between the two days; the portals that have any."""
    engine = _engine(settings, say)
    plan = engine.plan_extract(
        wanted,
        kind="reextract",
        date_from=date_from,
        date_to=date_to,
        run_id=run_id,
        orchestrator=orchestrator(dag_id, dag_run_id),
    )
    return [slug for slug in plan.portals if plan.batches[slug]]


# -- the per-portal steps -----------------------------------------------------------------------
def crawl_portal(
    slug: str, run_id: str, settings: RunSettings, *, time_budget_s: float | None = None, say: Say = _say
) -> dict[str, Any]:
    """Crawl one portal in its own Scrapy process; raise :class:`PortalError` if it failed.

    ``time_budget_s`` (a little less than the task's timeout) makes the crawl wind down by
    itself in time to finish its WARC and summary, instead of being killed mid-write."""
    engine, plan = _plan(settings, run_id, say)
    with serving(settings.mirror) as mirror_url:
        if mirror_url:
            say(f"crawl {slug}: mirror mode, every request answered by {mirror_url}")
        records = engine.crawl(plan, [slug], mirror_url=mirror_url, time_budget_s=time_budget_s)
    return asdict(_only(records, slug, "crawl"))


def extract_portal(slug: str, run_id: str, settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Extract one portal's batches of the run; raise :class:`PortalError` if it failed."""
    engine, plan = _plan(settings, run_id, say)
    return asdict(_only(engine.extract(plan, [slug]), slug, "extract"))


# -- the run-wide steps -------------------------------------------------------------------------
def validate_run(run_id: str, settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Validate every batch of the run that is ready, with one GX context per batch run; a
    portal whose batch fails is recorded (and named by the report), not raised."""
    engine, plan = _plan(settings, run_id, say)
    records = engine.validate(plan)
    return {r.site: {"state": r.state, "failure": r.failure} for r in records if r.site}


def publish_run(run_id: str, settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Publish the validated batches of the portals that passed; the numbers, for the
    Asset event. Raise :class:`StepError` when the publish failed."""
    engine, plan = _plan(settings, run_id, say)
    record = engine.publish(plan)
    if record is None:
        return {"new": 0, "updated": 0, "unchanged": 0, "partitions": [], "rows_total": None, "portals": []}
    if not record.ok:
        raise StepError(f"publish: {record.failure}")
    return dict(record.summary)


def report_run(run_id: str, settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Write the run's summary (``runs/<run_id>.json``), log the report, and raise
    :class:`PartialRunError` naming every portal that failed and why (after the others were
    published)."""
    engine, plan = _plan(settings, run_id, say)
    report = engine.finish(plan)
    for line in report.lines():
        say(line)
    if not report.ok:
        raise PartialRunError(report.failure_message())
    return {"run_id": report.run_id, "outcome": report.outcome, "summary": str(report.path)}

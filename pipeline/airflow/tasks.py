"""What each task of the Airflow DAGs does: a thin adapter over the run engine.

Every function here takes plain values, calls :class:`pipeline.engine.Engine` for one step of
one run (for one shard of portals, or for every portal the run's ledger says is ready), logs
what it did through ``say`` (the task's log), and returns what the step did as plain values
(the task's XCom, shown in the UI). The engine keeps the run's plan and ledger under the data
dir, so tasks in different processes and on different workers agree on the run without
passing more than its id and their shard around; the report task applies the engine's one
failure policy and writes the same ``runs/<run_id>.json`` as the CLI.

A shard's task works on its portals that the ledger says are still to do
(:meth:`~pipeline.engine.Engine.pending`), records each portal's outcome, logs one line per
portal, and fails (so that Airflow retries it with backoff) when any of them failed: the
retry does only those, and once out of retries the shard stays red in the Grid view while
the next step goes on with the portals that worked.

Every task holds the data dir's run lock while it works (:mod:`pipeline.run_lock`), waiting
for it up to :data:`LOCK_WAIT_S` (a manual ``vnportals run`` may hold it): the shard tasks
share it with each other, the run-wide ones hold it alone, so a CLI run and a DAG run never
interleave their steps.

A run's pipeline id is derived from the Airflow run's ``run_after`` time, so every task of
one DAG run agrees on it, and a retried or cleared task writes over its own files instead
of starting a second batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kernel.layout import DataLayout, new_run_id
from pipeline.airflow.settings import RunSettings
from pipeline.airflow.shards import Shard, make_shards, shard_label
from pipeline.engine import Engine
from pipeline.ledger import Plan
from pipeline.mirror import serving
from pipeline.run_lock import run_lock

log = logging.getLogger("vnportals")

Say = Callable[[str], None]

#: A shard's portal that a step did not work on, because an earlier step failed for it.
NOT_READY = "not ready"


class ShardError(RuntimeError):
    """Some portals of a shard failed a step (each recorded with why); the shard's task is
    retried for them, then shown failed, and the other portals go on."""


class PartialRunError(RuntimeError):
    """The run finished, but not for every portal: the message names each and says why."""


class StepError(RuntimeError):
    """A step of the whole run (publish) failed; its task is retried, then shown failed."""


#: How long a task waits for the data dir's run lock before it fails (and is retried).
LOCK_WAIT_S = 3600.0


def _say(message: str) -> None:
    log.info("%s", message)


@contextmanager
def _locked(settings: RunSettings, run_id: str, say: Say, *, shared: bool = False) -> Iterator[None]:
    """The data dir's run lock for one task of the run (shared by the shard tasks)."""
    layout = DataLayout(settings.data_dir)
    with run_lock(layout, command="an Airflow task", run_id=run_id, shared=shared, wait_s=LOCK_WAIT_S) as left:
        if left is not None:
            say(f"run lock of data dir {layout.root}: taken over from {left.describe()}, which never released it")
        yield


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


# -- planning ---------------------------------------------------------------------------------
def plan_night(
    wanted: Sequence[str] | None,
    settings: RunSettings,
    run_id: str,
    *,
    dag_id: str,
    dag_run_id: str,
    say: Say = _say,
) -> list[Shard]:
    """Plan the night; its portals in shards (one mapped task each)."""
    with _locked(settings, run_id, say):
        engine = _engine(settings, say)
        plan = engine.plan_night(wanted, run_id=run_id, orchestrator=orchestrator(dag_id, dag_run_id))
        mode = f"mirror {settings.mirror}" if settings.mirror else "the real portals"
        say(f"plan: against {mode}; data dir {settings.data_dir}")
        return _shards(engine, plan, list(plan.portals), settings, say)


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
) -> list[Shard]:
    """Plan a re-extraction of the crawls between the two days; the portals that have any, in
    shards."""
    with _locked(settings, run_id, say):
        engine = _engine(settings, say)
        plan = engine.plan_extract(
            wanted,
            kind="reextract",
            date_from=date_from,
            date_to=date_to,
            run_id=run_id,
            orchestrator=orchestrator(dag_id, dag_run_id),
        )
        return _shards(engine, plan, [slug for slug in plan.portals if plan.batches[slug]], settings, say)


def _shards(engine: Engine, plan: Plan, portals: list[str], settings: RunSettings, say: Say) -> list[Shard]:
    # A portal whose site config is broken is in the plan (it fails in the report) but in no shard.
    shards = make_shards([engine.sites[slug] for slug in portals if slug not in plan.broken], settings.portals_per_task)
    say(
        f"plan: {len(portals)} portals in {len(shards)} shards of at most {settings.portals_per_task} "
        "(VNPORTALS_PORTALS_PER_TASK; portals that share a host share a shard)"
    )
    for shard in shards:
        say(f"  shard {shard['label']}: {', '.join(shard['portals'])}")
    return shards


# -- the steps of one shard ------------------------------------------------------------------
def crawl_shard(
    portals: Sequence[str],
    run_id: str,
    settings: RunSettings,
    *,
    time_budget_s: float | None = None,
    say: Say = _say,
) -> dict[str, dict[str, Any]]:
    """Crawl the shard's portals that are still to crawl, in one crawl step; each portal's
    outcome. Raise :class:`ShardError` naming the portals whose crawl failed.

    ``time_budget_s`` (a little less than the task's timeout) makes the crawl wind down by
    itself in time to finish its WARCs and summaries, instead of being killed mid-write."""
    with _locked(settings, run_id, say, shared=True):
        engine, plan = _plan(settings, run_id, say)
        todo = _todo(engine, plan, "crawl", portals, say)
        if todo:
            with serving(settings.mirror) as mirror_url:
                if mirror_url:
                    say(f"crawl: mirror mode, every request answered by {mirror_url}")
                engine.crawl(plan, todo, mirror_url=mirror_url, time_budget_s=time_budget_s)
        return _outcome(engine, plan, "crawl", portals, todo, say)


def extract_shard(
    portals: Sequence[str], run_id: str, settings: RunSettings, say: Say = _say
) -> dict[str, dict[str, Any]]:
    """Extract the batches of the shard's portals that are crawled and still to extract; each
    portal's outcome. Raise :class:`ShardError` naming the portals whose extraction failed."""
    with _locked(settings, run_id, say, shared=True):
        engine, plan = _plan(settings, run_id, say)
        todo = _todo(engine, plan, "extract", portals, say)
        if todo:
            engine.extract(plan, todo)
        return _outcome(engine, plan, "extract", portals, todo, say)


def _todo(engine: Engine, plan: Plan, step: str, portals: Sequence[str], say: Say) -> list[str]:
    todo = engine.pending(plan, step, portals)
    ready = engine.ready(plan, step, portals)
    done = [slug for slug in ready if slug not in todo]
    say(
        f"{step} shard {shard_label(portals)}: {len(todo)} of {len(portals)} portals to do"
        + (f"; done in an earlier try: {', '.join(done)}" if done else "")
        + (f"; not ready (an earlier step failed): {len(portals) - len(ready)}" if len(ready) < len(portals) else "")
    )
    return todo


def _outcome(
    engine: Engine, plan: Plan, step: str, portals: Sequence[str], todo: Sequence[str], say: Say
) -> dict[str, dict[str, Any]]:
    """Each portal's outcome of the step from the ledger, logged one line per portal; raise
    :class:`ShardError` when any portal of the shard failed it."""
    outcome: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    for slug in portals:
        record = engine.record(plan, step, slug) if engine.ready(plan, step, [slug]) else None
        if record is None:
            why = "nothing to do" if not plan.batches.get(slug) else "not ready: an earlier step of the run failed"
            outcome[slug] = {"state": NOT_READY, "failure": None, "lines": [f"{slug}: {why}"]}
        else:
            texts = record.lines or [f"{slug}: FAILED: {record.failure}"]
            outcome[slug] = {"state": record.state, "failure": record.failure, "lines": texts}
        when = "" if slug in todo or record is None else "  (in an earlier try)"
        lines += [f"  {outcome[slug]['state']:<9} {text}{when}" for text in outcome[slug]["lines"]]
    states = [o["state"] for o in outcome.values()]
    say(
        f"{step} shard {shard_label(portals)}: {states.count('ok')} ok, {states.count('failed')} failed, "
        f"{states.count(NOT_READY)} not ready"
    )
    for line in lines:
        say(line)
    failed = {slug: o["failure"] or o["state"] for slug, o in outcome.items() if o["state"] not in ("ok", NOT_READY)}
    if failed:
        reasons = "; ".join(f"{slug}: {why}" for slug, why in failed.items())
        raise ShardError(
            f"{step}: {len(failed)} of {len(portals)} portals of shard {shard_label(portals)} failed "
            f"(the others go on): {reasons}"
        )
    return outcome


# -- the run-wide steps -------------------------------------------------------------------------
def validate_run(run_id: str, settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Validate every batch of the run that is ready, with one GX context per batch run; a
    portal whose batch fails is recorded (and named by the report), not raised."""
    with _locked(settings, run_id, say):
        engine, plan = _plan(settings, run_id, say)
        records = engine.validate(plan)
        return {r.site: {"state": r.state, "failure": r.failure} for r in records if r.site}


def publish_run(run_id: str, settings: RunSettings, say: Say = _say) -> dict[str, Any]:
    """Publish the validated batches of the portals that passed; the numbers, for the
    Asset event. Raise :class:`StepError` when the publish failed."""
    with _locked(settings, run_id, say):
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
    with _locked(settings, run_id, say):
        engine, plan = _plan(settings, run_id, say)
        report = engine.finish(plan)
        for line in report.lines():
            say(line)
        if not report.ok:
            raise PartialRunError(report.failure_message())
        return {"run_id": report.run_id, "outcome": report.outcome, "summary": str(report.path)}

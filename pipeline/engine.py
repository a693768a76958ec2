"""The run engine: the one orchestrator that the CLI and the Airflow tasks adapt.

A **run** is one command or one DAG run: a night (crawl, extract, validate, publish), a
re-extraction of archived crawls (extract, validate, publish), or a single step. It goes:

1. **plan** (:meth:`Engine.plan_night` and friends): which portals, which batches of each
   (a batch is a portal's crawl of one run: ``raw/<site>/<run>.warc.gz`` and what is made
   of it), which steps, the run id; written to ``runs/<run_id>/plan.json``.
2. **steps** (:meth:`Engine.crawl`, :meth:`~Engine.extract`, :meth:`~Engine.validate`,
   :meth:`~Engine.publish`), each over a list of portals (one, a shard, or all of them):
   each step writes a record per portal, ``runs/<run_id>/<step>/<site>.json``, first
   ``running``, then ``ok`` or ``failed`` with the reason and the step's summary. This is
   the run's ledger: the next step reads it (:meth:`Engine.ready`) to know which portals go
   on, wherever and in whichever process the previous one ran.
3. **finish** (:meth:`Engine.finish`): the one failure policy and the one report. A portal
   fails when its crawl, its extraction or its batch's validation fails (or the step never
   finished); the others are published; the run's outcome is ``succeeded`` (every portal
   done), ``partial`` (some failed, the rest published) or ``failed`` (none done, or
   publish failed). The report is written to ``runs/<run_id>.json``, the same whoever
   orchestrated the run but for its ``orchestrator`` field.

The CLI runs the steps one after the other in one process (:meth:`Engine.run`); the Airflow
tasks run each step for one shard of portals or for all, in separate processes, and call
:meth:`Engine.finish` in the report task.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from kernel.layout import DataLayout, new_run_id, run_time, write_atomic
from kernel.registry import Folders, Registry, RegistryError, Site, describe_folders, read_registry, registry_folders
from kernel.timestamps import VN_TZ
from pipeline import run_lock
from pipeline.balance import portal_balance
from pipeline.crawl import crawl_sites
from pipeline.extract import archived_runs, extract_batches
from pipeline.ledger import STEPS, Leftover, Plan, StepRecord, leftovers, read_record, write_record
from pipeline.storage import publish as publish_batches
from pipeline.validate import is_stale, pending_batches, validate_batches

# Plan and StepRecord live with the ledger; the engine is where callers find them.
__all__ = ["STEPS", "Engine", "Leftover", "Plan", "RunReport", "StepRecord", "crawl_date", "parse_day"]

Progress = Callable[[str], None]

log = logging.getLogger(__name__)

#: Steps with a record per portal; publish has one record for the run.
PORTAL_STEPS = ("crawl", "extract", "validate")

SUCCEEDED, PARTIAL, FAILED = "succeeded", "partial", "failed"
#: The outcome of a run stopped before its end (Ctrl-C, or an error no step could hold).
INTERRUPTED = "interrupted"
DONE, NOTHING_TO_DO = "done", "nothing to do"


def _quiet(_msg: str) -> None:
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def crawl_date(run_id: str) -> date:
    """The day (Vietnam time) a crawl run started, from its run id."""
    return run_time(run_id).astimezone(VN_TZ).date()


def parse_day(value: str | None, name: str) -> date | None:
    """A ``YYYY-MM-DD`` day, or None for an empty value; the error names the parameter."""
    if value is None or not str(value).strip():
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}={value!r}: not a date (YYYY-MM-DD)") from None


@dataclass
class RunReport:
    """The whole run: what ``runs/<run_id>.json`` holds, and how it reads."""

    data: dict[str, Any]
    path: Path

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def outcome(self) -> str:
        return str(self.data["outcome"])

    @property
    def ok(self) -> bool:
        return self.outcome == SUCCEEDED

    @property
    def failed_portals(self) -> dict[str, str]:
        return dict(self.data["failed_portals"])

    @property
    def validation_reports(self) -> list[str]:
        return list(self.data["validation_reports"])

    def headline(self) -> str:
        portals = self.data["portals"]
        done = sum(1 for p in portals.values() if p["outcome"] != FAILED)
        return (
            f"run {self.run_id} ({self.data['kind']}) {self.outcome}: {done} of {len(portals)} portals done, "
            f"{len(self.failed_portals)} failed, in {self.data['duration_s']:.1f}s"
        )

    def lines(self) -> list[str]:
        """The report for people: the headline, each step's lines, the failed portals."""
        out = [self.headline()]
        rolled = [Leftover.from_json(r) for r in self.data.get("rolled_forward", [])]
        if rolled:
            out.append(f"rolled forward {len(rolled)} batches that earlier runs left unfinished:")
            out += [f"  {r.line()}" for r in rolled]
        for step in STEPS[self.data["kind"]]:
            if step == "publish":
                record = self.data["publish"]
                out += [f"  publish  {line}" for line in (record or {}).get("lines", [])]
                continue
            for slug, portal in self.data["portals"].items():
                record = portal.get(step)
                if record is None:
                    continue
                texts = record["lines"] or [f"{slug}: FAILED: {record['failure']}"]
                out += [f"  {step:<8} {line}" for line in texts]
        for report in self.validation_reports:
            out.append(f"validation report: {report}")
        if self.failed_portals:
            out.append("failed portals:")
            out += [f"  {slug}: {why}" for slug, why in self.failed_portals.items()]
        layout = DataLayout(Path(self.data["data_dir"]))
        out.append(f"articles dataset: {layout.articles}  (hive partitions published_month=YYYY-MM)")
        out.append(f"raw archive:      {layout.raw}")
        out.append(f"quarantine:       {layout.quarantine}  (hive partitions run_date=YYYY-MM-DD)")
        out.append(f"run summary:      {self.path}")
        balance = self.data.get("balance", {})
        if balance:
            out.append("balance per portal (article pages fetched = published + quarantined + failed):")
            out += [f"  {b['line']}" for b in balance.values()]
        return out

    def failure_message(self) -> str:
        """One paragraph naming every failed portal and why (for an exception)."""
        portals = len(self.data["portals"])
        if not self.failed_portals:
            return f"run {self.run_id} {self.outcome} (run summary {self.path})"
        reasons = "; ".join(f"{slug}: {why}" for slug, why in self.failed_portals.items())
        return f"{len(self.failed_portals)} of {portals} portals failed: {reasons} (run summary {self.path})"


class Engine:
    """Plans runs, runs their steps and reports them, for one data dir and registry."""

    def __init__(self, data_dir: Path, registry_dir: Folders = None, progress: Progress = _quiet) -> None:
        # Absolute from here on: the crawl processes and Great Expectations' stores are handed
        # this path, and must not depend on the folder they run in.
        self.layout = DataLayout(data_dir.absolute())
        # One registry folder, several (their portals combined), or None for the bundled one.
        self.registry_dir = registry_dir
        self.progress = progress
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = read_registry(self.registry_dir)
        return self._registry

    @property
    def sites(self) -> dict[str, Site]:
        """The portals whose site config loads (a broken one is in ``registry.broken``)."""
        return self.registry.sites

    def choose(self, wanted: Sequence[str] | None) -> list[Site]:
        """The portals named (surrounding spaces and empty names ignored), or every enabled one."""
        return self._choose(wanted)[0]

    def _choose(self, wanted: Sequence[str] | None) -> tuple[list[Site], dict[str, str]]:
        """The portals chosen, and those chosen whose site config is broken (each with its
        error): a broken portal is chosen when named, or, named or not, when no portal is
        named (whether it is enabled cannot be read), and fails alone."""
        names = [w.strip() for w in wanted or [] if w.strip()]
        sites, broken = self.registry.sites, self.registry.broken
        where = describe_folders(self.registry_dir)
        if not names:
            chosen = [s for s in sites.values() if s.enabled]
            if not chosen and not broken:
                raise ValueError(f"no enabled portals in {where} (see 'vnportals sites')")
            for slug, why in broken.items():
                self.progress(f"plan: {slug}: broken site config, this portal fails and the others go on: {why}")
            return chosen, dict(broken)
        unknown = [w for w in names if w not in sites and w not in broken]
        if unknown:
            raise RegistryError(f"unknown portal {unknown[0]!r}; {where} has: {', '.join(sorted({*sites, *broken}))}")
        for slug, why in broken.items():
            if slug not in names:
                self.progress(f"plan: {slug} (not in this run) has a broken site config: {why}")
        return [sites[w] for w in dict.fromkeys(names) if w in sites], {w: broken[w] for w in names if w in broken}

    # -- planning ---------------------------------------------------------------------------
    def _plan(
        self,
        kind: str,
        sites: list[Site],
        batches: dict[str, list[str]] | None,
        run_id: str | None,
        orchestrator: dict[str, str] | None,
        broken: dict[str, str] | None = None,
        resume: tuple[Leftover, ...] = (),
    ) -> Plan:
        run_id = run_id or new_run_id()
        run_lock.claim(self.layout, run_id)
        path = self.layout.run_plan_path(run_id)
        started = _now().isoformat()
        if path.exists():  # a retried plan (Airflow): the run started the first time
            started = str(json.loads(path.read_text(encoding="utf-8"))["started_at"])
        broken = broken or {}
        batches = batches if batches is not None else {s.slug: [run_id] for s in sites}
        plan = Plan(
            run_id=run_id,
            kind=kind,
            portals=(*(s.slug for s in sites), *broken),
            batches={**batches, **{slug: [] for slug in broken}},
            started_at=started,
            orchestrator=orchestrator or {"name": "python"},
            data_dir=str(self.layout.root),
            registry=os.pathsep.join(map(str, registry_folders(self.registry_dir))) if self.registry_dir else None,
            broken=broken,
            resume=resume,
        )
        write_atomic(path, json.dumps(plan.to_json(), ensure_ascii=False, indent=1), durable=True)
        work = sum(len(b) for b in plan.batches.values())
        self.progress(
            f"plan: run {run_id} ({kind}: {', '.join(plan.steps)}): {len(plan.portals)} portals, {work} batches "
            f"({', '.join(plan.portals)})"
        )
        for leftover in resume:
            self.progress(f"plan: rolling forward {leftover.line()}")
        return plan

    def plan_night(
        self,
        wanted: Sequence[str] | None = None,
        *,
        run_id: str | None = None,
        orchestrator: dict[str, str] | None = None,
    ) -> Plan:
        """A night: every chosen portal is crawled, extracted, validated and published; and
        first, what earlier runs left unfinished of these portals' batches (a WARC not
        extracted, a batch not validated or not published) is rolled forward from the step
        it reached."""
        sites, broken = self._choose(wanted)
        run_id = run_id or new_run_id()
        left = tuple(leftovers(self.layout, [s.slug for s in sites], exclude=run_id))
        batches = {s.slug: [x.batch for x in left if x.portal == s.slug] + [run_id] for s in sites}
        return self._plan("night", sites, batches, run_id, orchestrator, broken, resume=left)

    def unfinished(self, wanted: Sequence[str] | None = None) -> list[Leftover]:
        """What the next night will roll forward for these portals (all enabled by default)."""
        return leftovers(self.layout, [s.slug for s in self.choose(wanted)])

    def plan_crawl(self, wanted: Sequence[str] | None = None, *, orchestrator: dict[str, str] | None = None) -> Plan:
        """The crawl step alone: the chosen portals into the raw archive."""
        sites, broken = self._choose(wanted)
        return self._plan("crawl", sites, None, None, orchestrator, broken)

    def plan_extract(
        self,
        wanted: Sequence[str] | None = None,
        *,
        everything: bool = False,
        date_from: str | None = None,
        date_to: str | None = None,
        kind: str = "extract",
        run_id: str | None = None,
        orchestrator: dict[str, str] | None = None,
    ) -> Plan:
        """Extraction from the raw archive: the crawls not extracted yet; every crawl with
        ``everything``; or (re-extraction) the crawls started between the two days,
        inclusive, Vietnam time, open-ended where a day is not given."""
        if kind not in ("extract", "reextract"):
            raise ValueError(f"not an extraction run: {kind!r}")
        first, last = parse_day(date_from, "date_from"), parse_day(date_to, "date_to")
        if first and last and first > last:
            raise ValueError(f"date_from {first} is after date_to {last}")
        by_date = first is not None or last is not None
        sites, broken = self._choose(wanted)
        batches: dict[str, list[str]] = {}
        for site in sites:
            runs = archived_runs(self.layout, site.slug, only_new=not (everything or by_date or kind == "reextract"))
            batches[site.slug] = [
                r for r in runs if (first is None or crawl_date(r) >= first) and (last is None or crawl_date(r) <= last)
            ]
            if by_date or kind == "reextract":
                self.progress(f"plan: {site.slug}: {len(batches[site.slug])} archived crawl runs in range")
        if (by_date or kind == "reextract") and not any(batches.values()):
            span = f"{first or 'the beginning'} to {last or 'today'}"
            raise ValueError(
                f"nothing to re-extract: no crawl runs from {span} in {self.layout.raw} for {len(sites)} portals"
            )
        return self._plan(kind, sites, batches, run_id, orchestrator, broken)

    def plan_validate(
        self,
        wanted: Sequence[str] | None = None,
        *,
        batch_run: str | None = None,
        everything: bool = False,
        orchestrator: dict[str, str] | None = None,
    ) -> Plan:
        """Validation of extracted batches: those not validated since they were extracted;
        one run's (``batch_run``); or every one (``everything``)."""
        sites, broken = self._choose(wanted)
        batches: dict[str, list[str]] = {s.slug: [] for s in sites}
        for run, found in pending_batches(self.layout, sites, batch_run, revalidate=everything).items():
            for site, _path in found:
                batches[site.slug].append(run)
        if batch_run is not None and not any(batches.values()):
            self._unknown_batch_run(batch_run, sites)
        return self._plan("validate", sites, batches, None, orchestrator, broken)

    def _unknown_batch_run(self, batch_run: str, sites: list[Site]) -> None:
        """Raise the error for a run id no chosen portal has a batch of, naming the latest ones."""
        known = sorted({DataLayout.run_id_of(p) for s in sites for p in self.layout.extracted_files(s.slug)})
        latest = f"the latest: {', '.join(known[-3:])}" if known else "there are none yet (run 'vnportals extract')"
        raise ValueError(
            f"run {batch_run}: no extracted batch of this run for the {len(sites)} portals chosen in "
            f"{self.layout.extracted}; {latest}"
        )

    def plan_publish(self, wanted: Sequence[str] | None = None, *, orchestrator: dict[str, str] | None = None) -> Plan:
        """Publication of every validated batch of the chosen portals (what passed only)."""
        sites, broken = self._choose(wanted)
        waiting = [p for s in sites for p in self.layout.extracted_files(s.slug) if is_stale(self.layout, s.slug, p)]
        if waiting:
            self.progress(
                f"plan: {len(waiting)} extracted batches not validated yet (run 'vnportals validate'), skipped"
            )
        batches = {s.slug: [DataLayout.run_id_of(p) for p in self.layout.validated_files(s.slug)] for s in sites}
        return self._plan("publish", sites, batches, None, orchestrator, broken)

    def load_plan(self, run_id: str) -> Plan:
        path = self.layout.run_plan_path(run_id)
        if not path.exists():
            raise FileNotFoundError(f"{path}: run {run_id} has no plan (was it planned in this data dir?)")
        return Plan.from_json(json.loads(path.read_text(encoding="utf-8")))

    # -- the ledger --------------------------------------------------------------------------
    def _write(self, plan: Plan, record: StepRecord) -> None:
        write_record(self.layout, plan.run_id, record)

    def record(self, plan: Plan, step: str, site: str | None = None) -> StepRecord | None:
        return read_record(self.layout, plan.run_id, step, site)

    @contextmanager
    def _step(self, plan: Plan, step: str, site: str | None) -> Iterator[StepRecord]:
        """A step for one portal (or the run): recorded as running, then as it ended. An
        exception fails the step with its message and does not reach the caller."""
        record = StepRecord(step=step, site=site, state="running", started_at=_now().isoformat())
        self._write(plan, record)
        clock = time.monotonic()
        try:
            yield record
            record.state = "failed" if record.failure else "ok"
        except Exception as exc:  # the step failed for this portal; the run goes on without it
            record.state, record.failure = "failed", f"{type(exc).__name__}: {exc}"
            self.progress(f"{step} {site or ''}: FAILED: {record.failure}".replace("  ", " "))
            log.info("%s %s failed", step, site or "(the run)", exc_info=True)  # the traceback, for the logs
        record.finished_at = _now().isoformat()
        record.duration_s = round(time.monotonic() - clock, 2)
        self._write(plan, record)

    @contextmanager
    def _steps(self, plan: Plan, step: str, slugs: list[str]) -> Iterator[dict[str, StepRecord]]:
        """One call that does a step for several portals at once (crawl, validate): every
        portal recorded as running, then as the call left it; a record the call did not
        fill in fails with the exception, or as "ended without a result"."""
        started = _now().isoformat()
        records = {s: StepRecord(step=step, site=s, state="running", started_at=started) for s in slugs}
        for record in records.values():
            self._write(plan, record)
        clock = time.monotonic()
        error: str | None = None
        try:
            yield records
        except Exception as exc:  # every portal of the call fails with it; the run goes on
            error = f"{type(exc).__name__}: {exc}"
            self.progress(f"{step}: FAILED: {error}")
            log.info("%s of %s failed", step, ", ".join(slugs), exc_info=True)  # the traceback, for the logs
        finished, duration = _now().isoformat(), round(time.monotonic() - clock, 2)
        for record in records.values():
            if record.summary is None and record.failure is None:
                record.failure = error or f"the {step} step ended without a result for this portal"
            record.state = "failed" if record.failure else "ok"
            record.finished_at, record.duration_s = finished, duration
            self._write(plan, record)

    def ready(self, plan: Plan, step: str, portals: Sequence[str] | None = None) -> list[str]:
        """The portals (of those given, or of the plan) that ``step`` works on: those with
        batches whose earlier steps of the run all ended well."""
        earlier = plan.steps[: plan.steps.index(step)]
        chosen = []
        for slug in portals if portals is not None else plan.portals:
            if not plan.batches.get(slug):
                continue
            records = [self.record(plan, s, slug) for s in earlier]
            if all(r is not None and r.ok for r in records):
                chosen.append(slug)
        return chosen

    # -- the steps ----------------------------------------------------------------------------
    def crawl(
        self,
        plan: Plan,
        portals: Sequence[str] | None = None,
        *,
        mirror_url: str | None = None,
        time_budget_s: float | None = None,
    ) -> list[StepRecord]:
        """Crawl the portals (those of the plan by default) into the raw archive, many at
        once in one crawl process; a portal whose crawl fails is recorded with why."""
        slugs = self.ready(plan, "crawl", portals)
        with self._steps(plan, "crawl", slugs) as records:
            summaries = crawl_sites(
                [self.sites[s] for s in slugs],
                self.layout.root,
                plan.run_id,
                registry_dir=self.registry_dir,
                mirror_url=mirror_url,
                time_budget_s=time_budget_s,
                progress=self.progress,
            )
            for summary in summaries:
                record = records[summary.site]
                record.summary, record.lines, record.failure = asdict(summary), [summary.line()], summary.failure
                if not summary.ok and not record.failure:
                    record.failure = "the crawl failed"
        return list(records.values())

    def extract(self, plan: Plan, portals: Sequence[str] | None = None) -> list[StepRecord]:
        """Extract each portal's batches from the raw archive, one portal at a time."""
        records = []
        for slug in self.ready(plan, "extract", portals):
            with self._step(plan, "extract", slug) as record:
                records.append(record)
                summary = extract_batches(self.sites[slug], self.layout.root, plan.batches_for("extract", slug))
                record.summary, record.lines = asdict(summary), [summary.line()]
                self.progress("extract " + summary.line())
        return records

    def validate(self, plan: Plan, portals: Sequence[str] | None = None) -> list[StepRecord]:
        """Validate the portals' extracted batches (one GX context per batch run); a portal
        whose batch fails is recorded with what it failed."""
        slugs = self.ready(plan, "validate", portals)
        runs: dict[str, list[tuple[Site, Path]]] = {}
        with self._steps(plan, "validate", slugs) as records:
            for slug in slugs:
                for run in plan.batches_for("validate", slug):
                    path = self.layout.extracted_path(slug, run)
                    if path.exists():
                        runs.setdefault(run, []).append((self.sites[slug], path))
                    else:
                        records[slug].failure = f"no extracted batch of run {run}: {path} is missing"
            summary = validate_batches(self.layout, dict(sorted(runs.items())), self.progress)
            for portal in summary.portals:
                record = records[portal.site]
                record.summary = [*(record.summary or []), asdict(portal)]
                record.lines.append(portal.line())
                failure = portal.failure()
                if failure:
                    record.failure = f"{record.failure}; {failure}" if record.failure else failure
            if not summary.ok:
                self.progress(summary.failure_message())
        return list(records.values())

    def publish(self, plan: Plan, portals: Sequence[str] | None = None) -> StepRecord | None:
        """Merge the validated batches of the portals that passed into the dataset; None
        when no portal has anything to publish."""
        slugs = self.ready(plan, "publish", portals)
        batches = [self.layout.validated_path(s, run) for s in slugs for run in plan.batches_for("publish", s)]
        batches = [path for path in batches if path.exists()]
        if not batches:
            self.progress("publish: nothing to publish")
            return None
        with self._step(plan, "publish", None) as record:
            summary = publish_batches(self.layout.root, batches)
            record.summary, record.lines = {**asdict(summary), "portals": slugs}, [summary.line()]
            self.progress("publish " + summary.line())
        return record

    # -- the report -----------------------------------------------------------------------------
    def finish(self, plan: Plan, *, cut_short: bool = False) -> RunReport:
        """Apply the failure policy to what the steps recorded and write ``runs/<run_id>.json``;
        ``cut_short`` for a run stopped before its end (its outcome is ``interrupted``, each
        portal's as far as it got)."""
        portals: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        publish = self.record(plan, "publish") if "publish" in plan.steps else None
        reports: set[str] = set()
        balances: dict[str, dict[str, Any]] = {}
        for slug in plan.portals:
            entry: dict[str, Any] = {"outcome": DONE, "failure": None, "batches": plan.batches.get(slug, [])}
            if slug in plan.broken:
                entry["failure"] = f"site config: {plan.broken[slug]}"
            elif not entry["batches"]:
                entry["outcome"] = NOTHING_TO_DO
            records = {s: self.record(plan, s, slug) for s in plan.steps if s in PORTAL_STEPS}
            for step in (s for s in plan.steps if s in PORTAL_STEPS):
                record = records[step]
                entry[step] = asdict(record) if record else None
                if record is not None and step == "validate":
                    reports.update(str(b["report"]) for b in record.summary or [] if b.get("report"))
                if entry["outcome"] != DONE or entry["failure"]:
                    continue
                if record is None:
                    entry["failure"] = f"{step}: did not run (see the {step} task's log)"
                elif record.state == "running":
                    entry["failure"] = (
                        f"{step}: started at {record.started_at} and never finished (killed or timed out)"
                    )
                elif not record.ok:
                    entry["failure"] = f"{step}: {record.failure}"
            if entry["outcome"] == DONE and not entry["failure"] and "publish" in plan.steps:
                if publish is None:
                    entry["failure"] = "publish: did not run (see the publish task's log)"
                elif publish.state == "running":
                    entry["failure"] = f"publish: started at {publish.started_at} and never finished"
                elif not publish.ok:
                    entry["failure"] = f"publish: {publish.failure}"
            balance = portal_balance(self.layout, plan, slug, records, publish)
            balances[slug] = {**balance.to_json(), "line": balance.line()}
            if not balance.holds:
                # Pages lost between steps: the run fails, whatever else went well.
                entry["failure"] = "; ".join(filter(None, [entry["failure"], f"balance: {balance.gap()}"]))
            if entry["failure"]:
                entry["outcome"] = FAILED
                failed[slug] = entry["failure"]
            portals[slug] = entry
        done = [p for p in portals.values() if p["outcome"] != FAILED]
        if cut_short:
            outcome = INTERRUPTED
        elif not all(b["holds"] for b in balances.values()):
            outcome = FAILED
        else:
            outcome = SUCCEEDED if not failed else PARTIAL if done else FAILED
        finished = _now()
        started = datetime.fromisoformat(plan.started_at)
        data = {
            "run_id": plan.run_id,
            "kind": plan.kind,
            "steps": list(plan.steps),
            "orchestrator": plan.orchestrator,
            "data_dir": plan.data_dir,
            "registry": plan.registry,
            "started_at": plan.started_at,
            "finished_at": finished.isoformat(),
            "duration_s": round((finished - started).total_seconds(), 2),
            "outcome": outcome,
            "portals": portals,
            "failed_portals": failed,
            "publish": asdict(publish) if publish else None,
            "validation_reports": sorted(reports),
            "rolled_forward": [asdict(r) for r in plan.resume],
            "balance": balances,
        }
        path = self.layout.run_summary_path(plan.run_id)
        write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1, default=str))
        return RunReport(data, path)

    def run(self, plan: Plan, *, mirror_url: str | None = None, time_budget_s: float | None = None) -> RunReport:
        """Every step of the plan, one after the other, then the report."""
        for step in plan.steps:
            if step == "crawl":
                self.crawl(plan, mirror_url=mirror_url, time_budget_s=time_budget_s)
            elif step == "extract":
                self.extract(plan)
            elif step == "validate":
                self.validate(plan)
            else:
                self.publish(plan)
        return self.finish(plan)

    # -- shards: a step for some of the plan's portals, done at most once -----------------------
    def pending(self, plan: Plan, step: str, portals: Sequence[str]) -> list[str]:
        """The portals (of those given) that ``step`` still has to do: ready for it, and with
        no record of it that ended well after their earlier steps did. A shard's task (or its
        retry) does only these, so a portal done in an earlier try is not done again, and one
        whose earlier step was done again since is."""
        earlier = plan.steps[: plan.steps.index(step)]
        todo = []
        for slug in self.ready(plan, step, portals):
            record = self.record(plan, step, slug)
            if record is None or not record.ok:
                todo.append(slug)
                continue
            started = datetime.fromisoformat(record.started_at)
            before = (self.record(plan, s, slug) for s in earlier)
            if any(r is not None and r.finished_at and datetime.fromisoformat(r.finished_at) > started for r in before):
                todo.append(slug)
        return todo

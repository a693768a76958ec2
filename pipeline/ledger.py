"""The run ledger: what every run planned, what each of its steps did per portal, and from
that, which step each portal's batch has reached.

A **batch** is one portal's crawl of one run (``raw/<site>/<crawl run>.warc.gz``) and what
is made of it: the extracted batch, the validated batch and the quarantine, and its rows in
the dataset. Its steps are crawl, extract, validate and publish. Each run writes its plan
(``runs/<run_id>/plan.json``) and, before and after each step, a record per portal
(``runs/<run_id>/<step>/<site>.json``; publish one for the run), each written aside, synced
and renamed into place: the records are the commit points. A run killed at any moment
leaves a ledger that says how far each batch got, and :func:`leftovers` reads every run's
ledger to find what the next night must roll forward:

* a batch whose WARC exists but that no run extracted (its crawl was killed, failed, or ran
  alone): extract, validate and publish it;
* extracted but not validated since: validate and publish it;
* validated with rows passing but not published since: publish it.

A step that ended in an error (an exception, a batch that could not be validated, a failed
publish) is tried again by the next run, once (:data:`MAX_TRIES`; then it is left for a
``reextract`` or ``validate --run`` by hand, and ``vnportals status`` names it); a batch
whose validation failed as a whole has its verdict (its rows are in quarantine) and is done.
Re-extracting a batch starts it over at validation. A run whose batches are all done gets
``runs/<run_id>/settled.json``, so the ledger read at the start of each run stays in
proportion to what is unfinished.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from kernel.layout import RUN_ID_RE, DataLayout, write_atomic

#: The steps of each kind of run, in order.
STEPS: dict[str, tuple[str, ...]] = {
    "night": ("crawl", "extract", "validate", "publish"),
    "reextract": ("extract", "validate", "publish"),
    "crawl": ("crawl",),
    "extract": ("extract",),
    "validate": ("validate",),
    "publish": ("publish",),
}
#: The steps a batch goes through, in order.
BATCH_STEPS = ("crawl", "extract", "validate", "publish")
#: Runs in a row in which a batch's step may end in an error before the nights stop trying
#: it (the run where it failed, and the next): a WARC that cannot be read fails the same way
#: every night, and ``vnportals reextract`` or ``validate --run`` redoes it once fixed.
MAX_TRIES = 2


@dataclass(frozen=True)
class Leftover:
    """A portal's batch that an earlier run left unfinished, and the step it goes on from."""

    portal: str
    batch: str  # the run that crawled it
    step: str  # the first step still to do: extract, validate or publish
    left_by: str  # the last run that worked on it
    rows: int | None = None  # validated rows waiting, when only publish is left

    def line(self) -> str:
        what = f"{self.portal}: batch {self.batch}"
        if self.left_by != self.batch:
            what += f" (last worked on by run {self.left_by})"
        rows = f", {self.rows} validated rows" if self.rows is not None else ""
        return f"{what}: from {self.step}{rows}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Leftover:
        return cls(**data)


@dataclass(frozen=True)
class Plan:
    """What a run sets out to do."""

    run_id: str
    kind: str
    portals: tuple[str, ...]
    # The batches (crawl run ids) each portal's steps work on: a night's own, after the
    # batches it rolls forward (oldest first).
    batches: dict[str, list[str]]
    started_at: str
    orchestrator: dict[str, str]
    data_dir: str
    registry: str | None
    # Batches earlier runs left unfinished, rolled forward by this run from their step.
    resume: tuple[Leftover, ...] = ()
    # Chosen portals whose site config is broken, with its error: they fail, the others run.
    broken: dict[str, str] = field(default_factory=dict)

    @property
    def steps(self) -> tuple[str, ...]:
        return STEPS[self.kind]

    def entry(self, site: str, batch: str) -> str:
        """The first step this run does for the portal's batch."""
        for leftover in self.resume:
            if leftover.portal == site and leftover.batch == batch:
                return leftover.step
        return self.steps[0]

    def batches_for(self, step: str, site: str) -> list[str]:
        """The portal's batches that ``step`` works on in this run."""
        order = BATCH_STEPS.index(step)
        return [b for b in self.batches.get(site, []) if BATCH_STEPS.index(self.entry(site, b)) <= order]

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "portals": list(self.portals),
            "steps": list(self.steps),
            "resume": [asdict(r) for r in self.resume],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            run_id=str(data["run_id"]),
            kind=str(data["kind"]),
            portals=tuple(data["portals"]),
            batches={str(k): [str(r) for r in v] for k, v in data["batches"].items()},
            started_at=str(data["started_at"]),
            orchestrator={str(k): str(v) for k, v in data["orchestrator"].items()},
            data_dir=str(data["data_dir"]),
            registry=data.get("registry"),
            resume=tuple(Leftover.from_json(r) for r in data.get("resume", [])),
            broken={str(k): str(v) for k, v in data.get("broken", {}).items()},
        )


@dataclass
class StepRecord:
    """What one step did for one portal (``site``), or for the whole run (publish)."""

    step: str
    site: str | None
    state: str  # "running", "ok" or "failed"
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    failure: str | None = None
    # The step's summary type as plain values, and its lines in the step's one wording.
    summary: Any = None
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        return cls(**data)


# -- reading and writing the ledger -----------------------------------------------------------
def write_record(layout: DataLayout, run_id: str, record: StepRecord) -> None:
    """Commit a step record: written aside, synced, renamed into place."""
    path = layout.step_record_path(run_id, record.step, record.site)
    write_atomic(path, json.dumps(asdict(record), ensure_ascii=False, indent=1, default=str), durable=True)


def read_record(layout: DataLayout, run_id: str, step: str, site: str | None = None) -> StepRecord | None:
    path = layout.step_record_path(run_id, step, site)
    if not path.exists():
        return None
    return StepRecord.from_json(_read_json(path))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable ledger file ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a readable ledger file (not a JSON object)")
    return data


def read_plans(layout: DataLayout, *, unsettled_only: bool = False) -> list[Plan]:
    """Every run's plan, oldest first; with ``unsettled_only`` not those of runs known to be
    done (settled, or a succeeded run that published)."""
    plans: list[Plan] = []
    if not layout.runs.is_dir():
        return plans
    for folder in sorted(layout.runs.iterdir()):
        if not (folder.is_dir() and RUN_ID_RE.match(folder.name)):
            continue
        path = folder / "plan.json"
        if not path.exists():
            continue
        if unsettled_only and _settled(layout, folder.name):
            continue
        plans.append(Plan.from_json(_read_json(path)))
    return plans


def _settled(layout: DataLayout, run_id: str) -> bool:
    if layout.run_settled_path(run_id).exists():
        return True
    summary = layout.run_summary_path(run_id)
    if not summary.exists():
        return False
    data = _read_json(summary)
    return data.get("outcome") == "succeeded" and "publish" in data.get("steps", [])


# -- how far each batch got -------------------------------------------------------------------
@dataclass
class BatchProgress:
    """How far one portal's batch got, over every run that worked on it."""

    portal: str
    batch: str
    reached: str | None = None  # the last step that ended well (crawl: it was crawled, however it ended)
    quarantined_whole: bool = False  # validated, and failed as a whole: its rows are in quarantine
    runs: list[str] = field(default_factory=list)
    # Runs in a row whose next step for the batch ended in an error, and the last error.
    failed_tries: int = 0
    last_failure: str | None = None

    @property
    def given_up(self) -> bool:
        return self.failed_tries >= MAX_TRIES

    def stopped(self, record: StepRecord | None) -> None:
        """The batch's next step did not end well in a run: an error counts as a try (a
        step killed, or one that never ran for it, does not)."""
        if record is not None and record.state == "failed":
            self.failed_tries += 1
            self.last_failure = f"{record.step}: {record.failure}"

    def advanced(self, step: str) -> None:
        self.reached, self.failed_tries, self.last_failure = step, 0, None


class _Records:
    """Step records of one run, each read once."""

    def __init__(self, layout: DataLayout, plan: Plan) -> None:
        self.layout, self.plan = layout, plan
        self._cache: dict[tuple[str, str | None], StepRecord | None] = {}

    def get(self, step: str, site: str | None) -> StepRecord | None:
        key = (step, site)
        if key not in self._cache:
            self._cache[key] = read_record(self.layout, self.plan.run_id, step, site)
        return self._cache[key]


def _advance(progress: BatchProgress, plan: Plan, records: _Records) -> None:
    """Follow one run's records for the batch, from the step it entered that run at, as far
    as they ended well."""
    site, batch = progress.portal, progress.batch
    entry = plan.entry(site, batch)
    if entry not in plan.steps:
        return
    for step in plan.steps[plan.steps.index(entry) :]:
        if step == "crawl":
            progress.advanced("crawl")  # whatever the crawl's end, its WARC holds what it archived
            record = records.get("crawl", site)
            if record is None or not record.ok:
                return
        elif step == "extract":
            record = records.get("extract", site)
            if record is None or not record.ok:
                progress.stopped(record)
                return
            progress.advanced("extract")
            progress.quarantined_whole = False
        elif step == "validate":
            record = records.get("validate", site)
            found = [b for b in (record.summary or [] if record else []) if b.get("run_id") == batch]
            if not found or found[-1].get("error") is not None:
                progress.stopped(record)
                return
            progress.advanced("validate")
            progress.quarantined_whole = bool(found[-1].get("batch_failures"))
            if record is None or not record.ok:
                return  # the portal was not published in this run
        else:
            record = records.get("publish", None)
            published = record.summary.get("portals", []) if record and record.ok and record.summary else []
            if site not in published:
                progress.stopped(record)
                return
            progress.advanced("publish")


def batch_progress(
    layout: DataLayout, plans: list[Plan], only: set[tuple[str, str]] | None = None
) -> dict[tuple[str, str], BatchProgress]:
    """How far each (portal, batch) the plans cover (of ``only``, when given) got, the plans
    read oldest first."""
    found: dict[tuple[str, str], BatchProgress] = {}
    for plan in plans:
        records = _Records(layout, plan)
        for site in plan.portals:
            for batch in plan.batches.get(site, []):
                if only is not None and (site, batch) not in only:
                    continue
                progress = found.setdefault((site, batch), BatchProgress(site, batch))
                progress.runs.append(plan.run_id)
                _advance(progress, plan, records)
    return found


def _next_step(layout: DataLayout, progress: BatchProgress) -> tuple[str, int | None] | None:
    """The step a batch goes on from (with its validated rows when only publish is left),
    or None when it is done, or has nothing to go on with."""
    site, batch = progress.portal, progress.batch
    reached = progress.reached
    if reached == "publish" or (reached == "validate" and progress.quarantined_whole) or progress.given_up:
        return None
    if reached == "validate":
        validated = layout.validated_path(site, batch)
        if validated.exists():
            return "publish", pq.ParquetFile(validated).metadata.num_rows
        reached = "extract"
    if reached == "extract" and layout.extracted_path(site, batch).exists():
        return "validate", None
    if layout.warc_path(site, batch).exists():
        return "extract", None
    return None  # never archived anything: nothing is known that is not fetched again


@dataclass(frozen=True)
class Survey:
    """The ledger read for some portals: what to roll forward, and what the nights gave up on."""

    leftovers: list[Leftover]
    # (portal, batch, the last error) of batches whose step failed MAX_TRIES runs in a row.
    given_up: list[tuple[str, str, str]]


def survey(layout: DataLayout, portals: list[str], *, exclude: str | None = None, settle: bool = True) -> Survey:
    """Read the ledger of every run but ``exclude`` for these portals: the batches earlier
    runs left unfinished, oldest first, with the step each goes on from (WARCs no run
    planned and never extracted among them), and the batches given up on. Runs found done
    are marked settled on the way (unless ``settle`` is False: a look that writes nothing)."""
    plans = [p for p in read_plans(layout) if p.run_id != exclude]
    open_runs = [p for p in plans if not _settled(layout, p.run_id)]
    covered = {(s, b) for p in open_runs for s in p.portals for b in p.batches.get(s, [])}
    progress = batch_progress(layout, plans, covered)
    next_steps = {key: _next_step(layout, item) for key, item in progress.items()}
    wanted = set(portals)
    found = [
        Leftover(site, batch, step[0], progress[(site, batch)].runs[-1], step[1])
        for (site, batch), step in next_steps.items()
        if step is not None and site in wanted
    ]
    every = {(s, b) for p in plans for s in p.portals for b in p.batches.get(s, [])}
    for site in portals:
        for warc in layout.warcs(site):
            batch = DataLayout.run_id_of(warc)
            if batch == exclude or (site, batch) in every or layout.extracted_path(site, batch).exists():
                continue
            found.append(Leftover(site, batch, "extract", batch))
    for plan in open_runs if settle else []:
        keys = [(s, b) for s in plan.portals for b in plan.batches.get(s, [])]
        if any(next_steps[key] is not None or progress[key].given_up for key in keys):
            continue
        # A run without a summary may be under way (a DAG run between tasks): settled only
        # once each of its batches has positively reached its end.
        ended = all(progress[key].reached == "publish" or progress[key].quarantined_whole for key in keys)
        if ended or layout.run_summary_path(plan.run_id).exists():
            write_atomic(layout.run_settled_path(plan.run_id), json.dumps({"run_id": plan.run_id}) + "\n")
    stuck = [(k[0], k[1], str(v.last_failure)) for k, v in sorted(progress.items()) if v.given_up and k[0] in wanted]
    return Survey(sorted(found, key=lambda left: (left.batch, left.portal)), stuck)


def leftovers(
    layout: DataLayout, portals: list[str], *, exclude: str | None = None, settle: bool = True
) -> list[Leftover]:
    """What the next night rolls forward for these portals (see :func:`survey`)."""
    return survey(layout, portals, exclude=exclude, settle=settle).leftovers

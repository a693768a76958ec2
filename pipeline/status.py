"""``vnportals status``: where the data dir stands, per portal, read from the run ledger.

For each portal: the last night that completed for it (its run summary says it was done),
what is unfinished (runs that never wrote their summary: killed, or under way), and what
the next run will roll forward (the batches and the step each goes on from). First, whether
a run holds the data dir now. It only reads: nothing is written, no lock is taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kernel.layout import DataLayout
from pipeline.ledger import MAX_TRIES, Leftover, Plan, read_plans, survey
from pipeline.run_lock import is_held, read_holder


@dataclass
class PortalStatus:
    """Where one portal stands."""

    portal: str
    last_night: str | None = None  # run id of the last night that was done for it
    last_night_finished: str | None = None
    last_failure: tuple[str, str] | None = None  # (run id, why) of a later run that failed it
    unfinished: list[str] = field(default_factory=list)  # run ids without a summary
    resume: list[Leftover] = field(default_factory=list)
    given_up: list[tuple[str, str]] = field(default_factory=list)  # (batch, the last error)

    def lines(self) -> list[str]:
        if self.last_night:
            night = f"last complete night: run {self.last_night} (finished {self.last_night_finished})"
        else:
            night = "no complete night yet"
        out = [f"{self.portal}: {night}"]
        if self.last_failure:
            out.append(f"  failed in run {self.last_failure[0]}: {self.last_failure[1]}")
        for run in self.unfinished:
            out.append(f"  unfinished: run {run} never wrote its summary (killed, or still under way)")
        if self.resume:
            out += [f"  next run resumes {r.line().removeprefix(self.portal + ': ')}" for r in self.resume]
        else:
            out.append("  next run resumes: nothing (every batch is done)")
        for batch, why in self.given_up:
            out.append(
                f"  given up: batch {batch} failed {MAX_TRIES} nights in a row ({why}); "
                "redo it by hand once fixed (vnportals reextract, or validate --run)"
            )
        return out


def _summary(layout: DataLayout, plan: Plan) -> dict[str, Any] | None:
    path = layout.run_summary_path(plan.run_id)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def portal_statuses(layout: DataLayout, portals: list[str]) -> list[PortalStatus]:
    """Every portal's status, from every run's plan and summary."""
    found = {slug: PortalStatus(slug) for slug in portals}
    for plan in read_plans(layout):
        summary = _summary(layout, plan)
        for slug in plan.portals:
            status = found.get(slug)
            if status is None:
                continue
            if summary is None:
                status.unfinished.append(plan.run_id)
                continue
            entry = summary.get("portals", {}).get(slug, {})
            if entry.get("outcome") == "failed":
                status.last_failure = (plan.run_id, str(entry.get("failure")))
            elif plan.kind == "night" and entry.get("outcome") == "done":
                status.last_night, status.last_night_finished = plan.run_id, str(summary.get("finished_at"))
                status.last_failure = None
    looked = survey(layout, portals, settle=False)
    for left in looked.leftovers:
        found[left.portal].resume.append(left)
    for slug, batch, why in looked.given_up:
        found[slug].given_up.append((batch, why))
    # A run without a summary whose batches the next run takes over is only history.
    for status in found.values():
        covered = {r.left_by for r in status.resume} | {r.batch for r in status.resume}
        status.unfinished = [run for run in status.unfinished if run in covered]
    return list(found.values())


def status_lines(layout: DataLayout, portals: list[str]) -> list[str]:
    """The whole status, for people."""
    holder = read_holder(layout)
    if is_held(layout):
        lines = [f"data dir {layout.root}: in use by {holder.describe() if holder else 'a run'}"]
    else:
        lines = [f"data dir {layout.root}: no run under way"]
        if holder is not None:
            lines.append(f"  the last run to hold it, {holder.describe()}, ended without releasing it (killed)")
    statuses = portal_statuses(layout, portals)
    waiting = sum(len(s.resume) for s in statuses)
    lines.append(f"{len(statuses)} portals; the next run rolls forward {waiting} unfinished batches")
    for status in statuses:
        lines += status.lines()
    return lines

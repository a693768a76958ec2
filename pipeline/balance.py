"""The balance of a run, per portal: every article page fetched is published, quarantined
(with what it failed) or failed (with the step and why); nothing is lost on the way.

It follows each of the portal's batches through the steps it went through in the run, from
the ledger's records: the article pages the crawl archived (for a batch rolled forward from
an earlier run, what the step it re-entered at found: the pages its WARC held, the rows of
its extracted or validated batch), then what extraction read of them, what validation did
with the rows, and whether publish took the passing ones. Where two steps disagree on a
count (the crawl said it archived 24 article pages and extraction read 23 from the WARC),
the balance does not hold, and the run fails naming the portal and the gap.

A step the run does not have (a crawl-only run) leaves its pages *waiting* for the next
step, a fourth term that nights never have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kernel.layout import DataLayout
from pipeline.ledger import Plan, StepRecord


@dataclass
class Balance:
    """One portal's article pages in the run, and where each went."""

    portal: str
    fetched: int = 0
    published: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    # Counts two steps disagreed on: (where, expected, found).
    gaps: list[str] = field(default_factory=list)

    @property
    def accounted(self) -> int:
        return self.published + sum(self.quarantined.values()) + sum(self.failed.values()) + sum(self.waiting.values())

    @property
    def holds(self) -> bool:
        return self.fetched == self.accounted and not self.gaps

    def _add(self, where: dict[str, int], reason: str, count: int) -> None:
        # A failure is named even when it held no pages: the step did not do its work.
        if count or where is self.failed:
            where[reason] = where.get(reason, 0) + count

    def line(self) -> str:
        def terms(counts: dict[str, int]) -> str:
            return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))

        text = (
            f"{self.portal}: {self.fetched} article pages fetched = {self.published} published"
            f" + {sum(self.quarantined.values())} quarantined"
            + (f" ({terms(self.quarantined)})" if self.quarantined else "")
            + f" + {sum(self.failed.values())} failed"
            + (f" ({terms(self.failed)})" if self.failed else "")
        )
        if self.waiting:
            text += f" + {sum(self.waiting.values())} waiting ({terms(self.waiting)})"
        if not self.holds:
            text += f"; DOES NOT HOLD: {self.gap()}"
        return text

    def gap(self) -> str:
        """What is missing, in one phrase."""
        parts = list(self.gaps)
        if self.fetched != self.accounted:
            missing = self.fetched - self.accounted
            parts.append(
                f"{self.fetched} fetched, {self.accounted} accounted for "
                f"({abs(missing)} {'missing' if missing > 0 else 'too many'})"
            )
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "published": self.published,
            "quarantined": self.quarantined,
            "failed": self.failed,
            "waiting": self.waiting,
            "holds": self.holds,
            "gaps": self.gaps,
        }


#: What a batch waits for after each step.
BATCH_NEXT = {"crawl": "extracted", "extract": "validated", "validate": "published"}


def _archived_articles(layout: DataLayout, site: str, batch: str) -> int:
    """Article records in a batch's WARC (0 for one that cannot be read: its step says why)."""
    from pipeline.extract import read_warc

    try:
        return sum(1 for page in read_warc(layout.warc_path(site, batch)) if page.kind == "article")
    except (OSError, ValueError):
        return 0


def _rows(path: Any) -> int:
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):
        return 0


def portal_balance(
    layout: DataLayout,
    plan: Plan,
    site: str,
    records: dict[str, StepRecord | None],
    publish: StepRecord | None,
) -> Balance:
    """The portal's balance in the run, from its step records (``records`` by step) and the
    run's publish record."""
    balance = Balance(site)
    crawl, extract, validate = records.get("crawl"), records.get("extract"), records.get("validate")
    published_portals = publish.summary.get("portals", []) if publish and publish.ok and publish.summary else []
    validations = [b for b in (validate.summary or [] if validate else []) if isinstance(b, dict)]
    leftover_rows = {r.batch: r.rows for r in plan.resume if r.portal == site}
    for batch in plan.batches.get(site, []):
        entry = plan.entry(site, batch)
        steps = plan.steps[plan.steps.index(entry) :] if entry in plan.steps else (entry,)
        flow = 0
        for step in steps:
            if step == "crawl":
                summary = crawl.summary if crawl and isinstance(crawl.summary, dict) else {}
                flow = int(summary.get("articles", 0))
                balance.fetched += flow
                if crawl is None or not crawl.ok:
                    why = crawl.failure if crawl else "did not run"
                    balance._add(balance.failed, f"crawl: {why} (its archive goes on in the next run)", flow)
                    break
            elif step == "extract":
                if entry == "extract":
                    flow = _archived_articles(layout, site, batch)
                    balance.fetched += flow
                if extract is None or not extract.ok:
                    why = extract.failure if extract else "did not run"
                    balance._add(balance.failed, f"extract: {why}", flow)
                    break
                read = int((extract.summary or {}).get("pages_by_batch", {}).get(batch, flow))
                if read != flow:
                    balance.gaps.append(f"batch {batch}: {flow} article pages archived, extraction read {read}")
                flow = read
            elif step == "validate":
                found = [b for b in validations if b.get("run_id") == batch]
                if entry == "validate":
                    flow = int(found[-1]["pages"]) if found else _rows(layout.extracted_path(site, batch))
                    balance.fetched += flow
                if not found or found[-1].get("error") is not None:
                    why = found[-1]["error"] if found else (validate.failure if validate else "did not run")
                    balance._add(balance.failed, f"validate: {why}", flow)
                    break
                result = found[-1]
                if int(result["pages"]) != flow:
                    balance.gaps.append(f"batch {batch}: {flow} pages extracted, validation read {result['pages']}")
                held = int(result["quarantined"])
                reasons = result.get("quarantine_reasons") or {"quarantined": held}
                for reason, count in reasons.items():
                    balance._add(balance.quarantined, reason, int(count))
                flow = int(result["passed"])
                if validate is not None and not validate.ok:
                    balance._add(balance.failed, "not published: the portal failed validation", flow)
                    break
            else:
                if entry == "publish":
                    flow = leftover_rows.get(batch) or _rows(layout.validated_path(site, batch))
                    balance.fetched += flow
                if site in published_portals:
                    balance.published += flow
                else:
                    why = (publish.failure if publish else None) or "did not run"
                    balance._add(balance.failed, f"publish: {why}", flow)
                flow = 0
        else:
            following = BATCH_NEXT.get(steps[-1]) if steps else None
            if following is not None:
                balance._add(balance.waiting, f"to be {following}", flow)
    return balance

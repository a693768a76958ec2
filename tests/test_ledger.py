"""The run ledger: a night finds what earlier runs left unfinished (a WARC a killed crawl left,
a batch extracted but not validated, one validated but not published) and rolls it forward
from the step it reached, exactly once; its report says what it rolled forward, and ends
with a balance per portal that holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawlers.archive import RawArchive
from kernel.layout import DataLayout
from pipeline.engine import Engine, Leftover, Plan, StepRecord
from pipeline.ledger import read_plans, survey, write_record
from pipeline.storage import read_articles
from tests.support.raw_archive import archive_gold

R1 = "20261123T010000000000Z"
R2 = "20261124T010000000000Z"
R3 = "20261125T010000000000Z"
STAMP = "2026-11-23T01:00:00+00:00"
PORTALS = ["longbien", "uongbi", "namdan"]


def committed(
    data: Path, run_id: str, step: str, site: str | None, state: str, summary: object = None, line: str = ""
) -> None:
    ended = None if state == "running" else STAMP
    record = StepRecord(step, site, state, STAMP, ended, 1.0, None, summary, [line] if line else [])
    write_record(DataLayout(data), run_id, record)


def crawled(data: Path, plan: Plan, site: str, pages: int) -> None:
    """What a crawl that archived ``pages`` article pages records for the portal."""
    summary = {"site": site, "articles": pages, "ok": True}
    committed(data, plan.run_id, "crawl", site, "ok", summary, f"{site}: {pages} article pages kept")


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Engine, list[str]]:
    """Night R1, killed: longbien's crawl mid-way (its WARC holds what it archived),
    namdan's after extraction, uongbi's publish mid-way (its batch validated)."""
    data = tmp_path_factory.mktemp("ledger") / "data"
    for site in PORTALS:
        archive_gold(data, site, R1)  # seven gold article pages each, namdan's six
    said: list[str] = []
    engine = Engine(data, progress=said.append)
    plan = engine.plan_night(PORTALS, run_id=R1)
    committed(data, R1, "crawl", "longbien", "running")
    crawled(data, plan, "uongbi", 7)
    crawled(data, plan, "namdan", 6)
    engine.extract(plan, ["uongbi", "namdan"])
    engine.validate(plan, ["uongbi"])
    committed(data, R1, "publish", None, "running")
    return data, engine, said


def test_a_night_rolls_forward_what_a_killed_night_left_from_the_step_it_reached(killed) -> None:  # type: ignore[no-untyped-def]
    data, engine, said = killed
    plan = engine.plan_night(PORTALS, run_id=R2)
    assert plan.resume == (
        Leftover("longbien", R1, "extract", R1),
        Leftover("namdan", R1, "validate", R1),
        Leftover("uongbi", R1, "publish", R1, rows=7),
    )
    assert plan.batches == {site: [R1, R2] for site in PORTALS}
    assert plan.batches_for("extract", "uongbi") == [R2] and plan.batches_for("publish", "uongbi") == [R1, R2]
    assert Plan.from_json(json.loads(DataLayout(data).run_plan_path(R2).read_text("utf-8"))) == plan
    assert "plan: rolling forward namdan: batch 20261123T010000000000Z: from validate" in said

    # The night's own crawl found nothing new: an empty WARC.
    for site in PORTALS:
        RawArchive(DataLayout(data), site, R2).close()
        crawled(data, plan, site, 0)
    engine.extract(plan)
    engine.validate(plan)
    engine.publish(plan)
    report = engine.finish(plan)

    assert report.ok, report.failed_portals
    assert read_articles(DataLayout(data)).num_rows == 20
    assert report.data["rolled_forward"][0] == {
        "portal": "longbien",
        "batch": R1,
        "step": "extract",
        "left_by": R1,
        "rows": None,
    }
    text = report.lines()
    assert text[1] == "rolled forward 3 batches that earlier runs left unfinished:"
    assert text[-4:] == [
        "balance per portal (article pages fetched = published + quarantined + failed):",
        "  longbien: 7 article pages fetched = 7 published + 0 quarantined + 0 failed",
        "  uongbi: 7 article pages fetched = 7 published + 0 quarantined + 0 failed",
        "  namdan: 6 article pages fetched = 6 published + 0 quarantined + 0 failed",
    ]
    assert all(b["holds"] for b in report.data["balance"].values())

    # Exactly once: the next night has nothing to roll forward; the killed run is settled (the
    # ledger skips it from now on), the one that succeeded is by its summary.
    assert engine.plan_night(PORTALS, run_id=R3).resume == ()
    assert [p.run_id for p in read_plans(DataLayout(data))] == [R1, R2, R3]
    assert DataLayout(data).run_settled_path(R1).exists()


def test_a_balance_that_does_not_hold_fails_the_run_naming_the_portal_and_the_gap(tmp_path: Path) -> None:
    data = tmp_path / "data"
    archive_gold(data, "longbien", R1)
    engine = Engine(data)
    plan = engine.plan_night(["longbien"], run_id=R1)
    crawled(data, plan, "longbien", 8)  # the crawl says it archived 8 article pages; the WARC holds 7
    engine.extract(plan)
    engine.validate(plan)
    engine.publish(plan)
    report = engine.finish(plan)
    assert report.outcome == "failed"
    gap = f"balance: batch {R1}: 8 article pages archived, extraction read 7; 8 fetched, 7 accounted for (1 missing)"
    assert report.failed_portals == {"longbien": gap}
    assert report.lines()[-1].endswith(f"; DOES NOT HOLD: {gap.removeprefix('balance: ')}")


def test_a_warc_no_run_planned_is_extracted_by_the_next_night(tmp_path: Path) -> None:
    data = tmp_path / "data"
    archive_gold(data, "uongbi", R1)  # a crawl run on its own, before the ledger knew of it
    plan = Engine(data).plan_night(["uongbi", "longbien"], run_id=R2)
    assert plan.resume == (Leftover("uongbi", R1, "extract", R1),)
    assert plan.batches == {"uongbi": [R1, R2], "longbien": [R2]}


def test_a_step_that_fails_two_nights_in_a_row_is_given_up_and_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    layout = DataLayout(data)
    damaged = layout.warc_path("namdan", R1)
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a WARC file")  # fails the same way every night
    engine = Engine(data)
    for run_id in (R1, R2):
        plan = engine.plan_night(["namdan"], run_id=run_id)
        if run_id == R2:
            RawArchive(layout, "namdan", R2).close()
        crawled(data, plan, "namdan", 0)
        (record,) = engine.extract(plan)
        assert record.state == "failed" and "not a readable WARC" in str(record.failure)
    # Tried by the night it failed in and the next: the third night leaves it, and says so.
    assert engine.plan_night(["namdan"], run_id=R3).resume == (Leftover("namdan", R2, "extract", R2),)
    looked = survey(layout, ["namdan"], exclude=R3)
    assert [(site, batch) for site, batch, _why in looked.given_up] == [("namdan", R1)]
    assert looked.given_up[0][2].startswith(f"extract: ValueError: {damaged}: not a readable WARC")

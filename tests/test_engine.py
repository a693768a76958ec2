"""The run engine: a run's plan, its ledger (a record per step and portal) and its one summary;
the one failure policy (a portal fails at its crawl, its extraction or its batch's validation,
or where a step never finished; the others are published; the outcome says so); and a new
portal of a bundled family, six lines long, run end to end."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from kernel.layout import DataLayout
from pipeline.engine import DONE, FAILED, PARTIAL, SUCCEEDED, Engine, StepRecord
from pipeline.storage import read_articles
from tests.support.portalserver import Page, PortalServer
from tests.support.raw_archive import archive_gold
from tests.support.validation_batches import PARAGRAPHS

RUN = "20261123T010000000000Z"
SUMMARY_FIELDS = {
    "run_id",
    "kind",
    "steps",
    "orchestrator",
    "data_dir",
    "registry",
    "started_at",
    "finished_at",
    "duration_s",
    "outcome",
    "portals",
    "failed_portals",
    "publish",
    "validation_reports",
    "rolled_forward",
    "balance",
}


def write_record(data: Path, run_id: str, record: StepRecord) -> None:
    path = DataLayout(data).step_record_path(run_id, record.step, record.site)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(record)), encoding="utf-8")


@pytest.fixture(scope="module")
def reextracted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Engine, object]:
    """A re-extraction of three portals' archived crawls; one archive is damaged."""
    data = tmp_path_factory.mktemp("engine") / "data"
    archive_gold(data, "longbien", RUN)
    archive_gold(data, "uongbi", RUN)
    damaged = DataLayout(data).warc_path("namdan", RUN)
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a WARC file")
    lines: list[str] = []
    engine = Engine(data, progress=lines.append)
    plan = engine.plan_extract(["longbien", "uongbi", "namdan"], kind="reextract")
    return data, engine, (plan, engine.run(plan), lines)


def test_a_run_writes_its_plan_a_record_per_step_and_portal_and_one_summary(reextracted) -> None:  # type: ignore[no-untyped-def]
    data, engine, (plan, report, _) = reextracted
    layout = DataLayout(data)
    assert plan.steps == ("extract", "validate", "publish")
    assert plan.batches == {"longbien": [RUN], "uongbi": [RUN], "namdan": [RUN]}
    saved = json.loads(layout.run_plan_path(plan.run_id).read_text("utf-8"))
    assert saved["portals"] == ["longbien", "uongbi", "namdan"] and saved["orchestrator"] == {"name": "python"}
    for slug in ("longbien", "uongbi"):
        for step in ("extract", "validate"):
            record = engine.record(plan, step, slug)
            assert record is not None and record.state == "ok" and record.finished_at and record.lines
    assert engine.record(plan, "validate", "namdan") is None  # its extraction failed: never validated
    summary = json.loads(layout.run_summary_path(plan.run_id).read_text("utf-8"))
    assert set(summary) == SUMMARY_FIELDS and summary == report.data  # type: ignore[attr-defined]
    assert summary["duration_s"] >= 0 and summary["started_at"] < summary["finished_at"]


def test_a_portal_that_fails_is_named_and_the_others_are_published(reextracted) -> None:  # type: ignore[no-untyped-def]
    data, _, (_, report, lines) = reextracted
    assert report.outcome == PARTIAL and not report.ok
    (why,) = report.failed_portals.values()
    assert list(report.failed_portals) == ["namdan"]
    assert why.startswith(f"extract: ValueError: {DataLayout(data).warc_path('namdan', RUN)}: not a readable WARC")
    portals = report.data["portals"]
    assert (portals["longbien"]["outcome"], portals["uongbi"]["outcome"], portals["namdan"]["outcome"]) == (
        DONE,
        DONE,
        FAILED,
    )
    assert report.data["publish"]["summary"]["portals"] == ["longbien", "uongbi"]
    assert set(read_articles(DataLayout(data)).column("site").to_pylist()) == {"longbien", "uongbi"}
    text = "\n".join(report.lines())
    assert "(reextract) partial: 2 of 3 portals done, 1 failed" in text
    assert "  extract  namdan: FAILED: ValueError: " in text and "failed portals:\n  namdan: extract: " in text
    assert report.failure_message().startswith("1 of 3 portals failed: namdan: extract: ValueError")
    assert any(line.startswith("extract namdan: FAILED") for line in lines)  # said as it happened


def test_the_failure_policy_reads_the_ledger_also_for_steps_that_never_ended(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    plan = engine.plan_night(["longbien", "uongbi", "namdan", "thanhhoa"], run_id=RUN)
    stamp = "2026-11-23T01:00:00+00:00"
    for step in ("crawl", "extract", "validate"):
        write_record(tmp_path, RUN, StepRecord(step, "longbien", "ok", stamp, stamp, 1.0, None, {}, ["ok"]))
    write_record(tmp_path, RUN, StepRecord("publish", None, "ok", stamp, stamp, 1.0, None, {}, ["published"]))
    # uongbi's crawl was killed mid-way; namdan's never started; thanhhoa's batch failed.
    write_record(tmp_path, RUN, StepRecord("crawl", "uongbi", "running", stamp))
    for step in ("crawl", "extract"):
        write_record(tmp_path, RUN, StepRecord(step, "thanhhoa", "ok", stamp, stamp, 1.0, None, {}, ["ok"]))
    bad = "batch of run X failed dated_share [...]: 3 of 8 articles have no date"
    write_record(tmp_path, RUN, StepRecord("validate", "thanhhoa", "failed", stamp, stamp, 1.0, bad, [], [bad]))
    assert engine.ready(plan, "extract") == ["longbien", "thanhhoa"]
    assert engine.ready(plan, "publish") == ["longbien"]

    report = engine.finish(plan)
    assert report.outcome == PARTIAL
    assert report.failed_portals == {
        "uongbi": f"crawl: started at {stamp} and never finished (killed or timed out)",
        "namdan": "crawl: did not run (see the crawl task's log)",
        "thanhhoa": f"validate: {bad}",
    }
    # Nobody done: the run failed; everybody done: it succeeded.
    write_record(tmp_path, RUN, StepRecord("publish", None, "failed", stamp, stamp, 1.0, "OSError: disk full"))
    assert engine.finish(plan).outcome == FAILED
    alone = engine.plan_night(["longbien"], run_id=RUN)
    write_record(tmp_path, RUN, StepRecord("publish", None, "ok", stamp, stamp, 1.0, None, {}, ["published"]))
    assert engine.finish(alone).outcome == SUCCEEDED


def test_a_replanned_run_keeps_the_time_it_started(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    first = engine.plan_night(["longbien"], run_id=RUN)
    again = Engine(tmp_path).plan_night(["longbien"], run_id=RUN)  # a retried plan task
    assert again.started_at == first.started_at and engine.load_plan(RUN) == again
    with pytest.raises(FileNotFoundError, match="has no plan"):
        engine.load_plan("20261124T010000000000Z")


def test_a_step_with_nothing_to_do_is_not_a_failure(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    report = engine.run(engine.plan_validate(["longbien"]))  # no extracted batch waits
    assert report.ok and report.data["portals"]["longbien"]["outcome"] == "nothing to do"


# -- a new portal of a bundled family -------------------------------------------------------------
def article_page(n: int) -> Page:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return Page(
        f"<html><head><title>Tin {n}</title></head><body><h1>Phường Mẫu chỉnh trang đô thị, đợt {n}</h1>"
        f"<p class='date'>Ngày đăng 0{n}/03/2024 08:00</p><div class='content'>{body}</div></body></html>"
    )


@pytest.mark.slow
def test_a_new_portal_of_a_bundled_family_in_six_lines_runs_end_to_end(tmp_path: Path) -> None:
    articles = {f"/tin-tuc/phuong-mau-chinh-trang-do-thi-dot-{n}-424030{n}080000001.htm": n for n in range(1, 5)}
    with PortalServer() as server:
        server.pages.update(
            {
                "/robots.txt": Page("User-agent: *\nDisallow:\n", content_type="text/plain"),
                "/tin-tuc.htm": Page(
                    "".join(f"<a href='{path}'>Tin {n}</a> " for path, n in list(articles.items())[:3])
                    + "<a href='/tin-tuc/trang-2.htm'>Trang 2</a> <a href='/lien-he.htm'>Liên hệ</a>"
                ),
                "/tin-tuc/trang-2.htm": Page("<a href='/tin-tuc.htm'>Trang 1</a>"),
                "/lien-he.htm": Page("<p>Điện thoại: 024 3827 1234</p>"),
                # The family's sitemap path: the only way to the fourth article.
                "/sitemap.xml": Page(
                    '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<url><loc>{server.base}{list(articles)[3]}</loc></url></urlset>",
                    content_type="application/xml",
                ),
                **{path: article_page(n) for path, n in articles.items()},
            }
        )
        registry = tmp_path / "sites"
        registry.mkdir()
        config = (
            'name = "Cổng thông tin điện tử phường Mẫu"\nkind = "government"\nprovince = "Hà Nội"\n'
            f'family = "hanoi-gov"\ndomains = ["127.0.0.1"]\nstart_urls = ["{server.base}/tin-tuc.htm"]\n'
        )
        assert len(config.splitlines()) == 6
        (registry / "phuongmau.toml").write_text(config, encoding="utf-8")
        engine = Engine(tmp_path / "data", registry)
        report = engine.run(engine.plan_night())
        fetched = set(server.paths())
    assert report.ok, report.failed_portals
    assert {"/sitemap.xml", "/tin-tuc/trang-2.htm", *articles} <= fetched
    assert "/lien-he.htm" not in fetched  # the family's fixed pages are not listings
    published = read_articles(DataLayout(tmp_path / "data"))
    assert sorted(published.column("url").to_pylist()) == sorted(server.base + path for path in articles)

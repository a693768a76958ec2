"""The quality gate paid once: one GX context per process serves every run, and the SUMMARY
result format of production decides every row exactly as the COMPLETE format of the tests
does, however many rows fail; the run page shows the numbers it is given."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import lxml.html
import pytest

from expectations import gate as gate_module
from expectations import report
from expectations.gate import COMPLETE, REPORT_EXAMPLES, SUMMARY, QualityGate, result_format_setting
from expectations.suites import ARTICLE
from expectations.verdict import Verdict
from tests.support.validation_batches import (
    ENGLISH,
    PARAGRAPHS,
    RUN,
    RUN_TIME,
    Row,
    batch,
    double_encoded,
    good_row,
    longbien,
    with_body,
)

BODY = "\n".join(PARAGRAPHS)
ROOT = Path(__file__).resolve().parents[1]

Defect = Callable[[Row], Row]
DEFECTS: list[Defect] = [
    lambda r: with_body(r, f"{BODY}\nLượt xem: 1.234"),
    lambda r: with_body({**r, "title": "District renovates twelve gardens"}, ENGLISH),
    lambda r: {**r, "legacy_encoding": "tcvn3"},
    lambda r: with_body(r, "Tin ngắn."),
    lambda r: {**r, "url": f"https://baomoi.com/tin/{r['article_id']}.epi"},
    lambda r: {**r, "title": "Cổng thông tin điện tử quận Long Biên"},
    lambda r: with_body(r, f"{BODY}\n{double_encoded('Điện lực quận Long Biên')}"),
    lambda r: {**r, "published_at": None},
]


def defective_rows(seed: int, count: int = 90, share: float = 0.3) -> list[Row]:
    """Good rows, each hit by every defect with probability ``share``, then a few copies of
    earlier rows (duplicate ids): most defects fail more rows than a SUMMARY result lists."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        row = good_row(n)
        for defect in DEFECTS:
            if rng.random() < share:
                row = defect(row)
        rows.append(row)
    rows += [dict(rng.choice(rows)) for _ in range(rng.randint(0, 25))]
    return rows


def verdicts(tmp_path: Path, rows: list[Row]) -> tuple[Verdict, Verdict]:
    site, table = longbien(), batch(rows)
    summary = QualityGate(RUN, RUN_TIME, tmp_path / "summary", result_format=SUMMARY)
    complete = QualityGate(RUN, RUN_TIME, tmp_path / "complete", result_format=COMPLETE)
    return (
        summary.check(site, table, min_articles=0, count_context="test"),
        complete.check(site, table, min_articles=0, count_context="test"),
    )


def stored_result(run_dir: Path, suite: str = ARTICLE) -> tuple[Path, dict[str, object]]:
    (path,) = sorted((run_dir / "gx" / suite).rglob("*.json"))
    return path, json.loads(path.read_text("utf-8"))


# -- one context per process ----------------------------------------------------------------
def test_every_run_of_the_process_uses_one_gx_context(tmp_path: Path) -> None:
    first = QualityGate(RUN, RUN_TIME, tmp_path / "a")
    builds = gate_module.engine_builds
    gates = [QualityGate(f"2026112{d}T010000000000Z", RUN_TIME, tmp_path / f"run{d}") for d in range(3)]
    for each in gates:
        assert each.check(longbien(), batch([good_row(1), good_row(2)]), min_articles=0).ok
    assert gate_module.engine_builds == builds
    assert all(each.context is first.context and each.engine is first.engine for each in gates)
    # Each run's results stay in its own folder.
    for d, each in enumerate(gates):
        assert [p.parent.parent.name for p in (each.run_dir / "gx").rglob("*.json")] == [
            f"2026112{d}T010000000000Z"
        ] * 2


def test_a_changed_suite_file_builds_a_new_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from expectations import suites

    before = QualityGate(RUN, RUN_TIME, tmp_path / "before")
    for name in suites.SUITE_NAMES:
        (tmp_path / f"{name}.json").write_text(suites.suite_path(name).read_text("utf-8"), "utf-8")
    changed = json.loads((tmp_path / "article.json").read_text("utf-8"))
    changed["meta"]["version"] += 1
    (tmp_path / "article.json").write_text(json.dumps(changed), "utf-8")
    monkeypatch.setattr(suites, "SUITES_DIR", tmp_path)
    after = QualityGate(RUN, RUN_TIME, tmp_path / "after")
    assert after.context is not before.context
    assert after.engine.suites[ARTICLE].meta["version"] == changed["meta"]["version"]


def test_a_relative_run_folder_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = QualityGate(RUN, RUN_TIME, Path("data") / "validation" / RUN)
    assert relative.check(longbien(), batch([good_row(1)]), min_articles=0).ok
    assert relative.build_report() == tmp_path / "data" / "validation" / RUN / "docs" / "index.html"
    assert (tmp_path / "data" / "validation" / RUN / "docs" / "index.html").exists()


def test_the_result_format_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gate_module.RESULT_FORMAT_ENV, raising=False)
    assert result_format_setting() == SUMMARY  # production's default
    monkeypatch.setenv(gate_module.RESULT_FORMAT_ENV, "complete")
    assert result_format_setting() == COMPLETE
    assert result_format_setting("summary") == SUMMARY  # the argument wins
    monkeypatch.setenv(gate_module.RESULT_FORMAT_ENV, "FULL")
    with pytest.raises(ValueError, match="VNPORTALS_VALIDATION_RESULT_FORMAT: 'FULL' is not a result format"):
        result_format_setting()


# -- SUMMARY decides as COMPLETE does --------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_summary_and_complete_give_the_same_verdict(tmp_path: Path, seed: int) -> None:
    rows = defective_rows(seed)
    summary, complete = verdicts(tmp_path, rows)
    assert summary.row_failures == complete.row_failures
    assert summary.batch_failures == complete.batch_failures
    counts = Counter(name for names in complete.row_failures for name in names)
    assert max(counts.values()) > REPORT_EXAMPLES, counts  # the case that needs GX asked again
    # The SUMMARY result stored for the report lists at most REPORT_EXAMPLES rows each.
    _, stored = stored_result(tmp_path / "summary")
    for result in stored["results"]:  # type: ignore[attr-defined]
        assert "unexpected_index_list" not in result["result"]
        assert len(result["result"].get("partial_unexpected_index_list") or []) <= REPORT_EXAMPLES


@pytest.mark.parametrize("failing", [REPORT_EXAMPLES, REPORT_EXAMPLES + 1, 60])
def test_every_failing_row_is_named_whatever_their_number(tmp_path: Path, failing: int) -> None:
    rows = [DEFECTS[0](good_row(n)) if n < failing else good_row(n) for n in range(80)]
    summary, complete = verdicts(tmp_path, rows)
    assert summary.ok and summary == complete
    assert [n for n, names in enumerate(summary.row_failures) if names] == list(range(failing))
    assert all(names == ["body_no_furniture"] for names in summary.row_failures[:failing])
    summary_path, stored = stored_result(tmp_path / "summary")
    (furniture,) = [r for r in stored["results"] if not r["success"]]  # type: ignore[attr-defined]
    assert furniture["result"]["unexpected_count"] == failing
    complete_path, _ = stored_result(tmp_path / "complete")
    if failing > REPORT_EXAMPLES:
        assert summary_path.stat().st_size < complete_path.stat().st_size


# -- the run page -----------------------------------------------------------------------------
def test_the_run_page_shows_the_numbers_it_is_given(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    crawl = {
        "longbien": {"pages": 41, "new_articles": 7, "bytes": 1_234_567, "duration_s": 12.5},
        "uongbi": {"pages": 12, "new_articles": 0, "errors": 2},
    }
    report.write_run_page(docs, RUN, {"crawl": crawl})
    report.write_run_page(docs, RUN, {"publish": {"new": 7, "updated": 1, "partitions": ["2026-11"]}})
    page = lxml.html.fromstring((docs / report.RUN_PAGE).read_text("utf-8"))
    assert RUN in page.text_content()
    crawl_rows = [
        [c.text_content() for c in tr.xpath("./td")] for tr in page.xpath("//section[@id='numbers-crawl']//tbody/tr")
    ]
    header = [th.text_content() for th in page.xpath("//section[@id='numbers-crawl']//thead//th")]
    assert header == ["", "pages", "new_articles", "bytes", "duration_s", "errors"]
    assert crawl_rows == [["longbien", "41", "7", "1,234,567", "12.50", ""], ["uongbi", "12", "0", "", "", "2"]]
    publish = {
        tr.xpath("./td")[0].text_content(): tr.xpath("./td")[1].text_content()
        for tr in page.xpath("//section[@id='numbers-publish']//tbody/tr")
    }
    assert publish == {"new": "7", "updated": "1", "partitions": '["2026-11"]'}
    assert set(report.read_run_numbers(docs)) == {"crawl", "publish"}  # the second call kept the first's


def test_the_report_links_the_run_page(tmp_path: Path) -> None:
    gate = QualityGate(RUN, RUN_TIME, tmp_path / RUN)
    gate.check(longbien(), batch([good_row(1)]), min_articles=0)
    index = gate.build_report({"crawl": {"longbien": {"pages": 3}}})
    links = lxml.html.fromstring(index.read_text("utf-8")).xpath("//a/@href")
    assert report.RUN_PAGE in links and (index.parent / report.RUN_PAGE).exists()
    gate.build_report()  # rebuilt without numbers: the ones given before stay
    assert report.read_run_numbers(index.parent) == {"crawl": {"longbien": {"pages": 3}}}


def test_a_rebuilt_report_renders_only_what_changed(tmp_path: Path) -> None:
    sites = [longbien(), replace(longbien(), slug="phuc_dong")]
    first = QualityGate(RUN, RUN_TIME, tmp_path / RUN)
    for site in sites:
        first.check(site, batch([{**good_row(1), "site": site.slug}]), min_articles=0)
    docs = first.build_report().parent

    def page(site: str, suite: str = ARTICLE) -> Path:
        (found,) = (docs / "validations" / suite).rglob(f"*-{site}.html")
        return found

    marker = "<!-- rendered by the first build -->"
    for site in sites:
        for suite in (ARTICLE, "portal_batch"):
            page(site.slug, suite).write_text(page(site.slug, suite).read_text("utf-8") + marker, "utf-8")
    page("phuc_dong", "portal_batch").unlink()  # as if a process had stopped before its build
    again = QualityGate(RUN, RUN_TIME, tmp_path / RUN)  # validate --run for one portal
    again.check(sites[0], batch([with_body(good_row(1), f"{BODY}\nLượt xem: 9")]), min_articles=0)
    again.build_report()
    assert marker not in page("longbien").read_text("utf-8")  # its new result
    assert marker not in page("longbien", "portal_batch").read_text("utf-8")
    assert marker in page("phuc_dong").read_text("utf-8")  # unchanged, not rendered again
    assert page("phuc_dong", "portal_batch").exists()  # missing, rendered
    rows = lxml.html.fromstring((docs / "index.html").read_text("utf-8")).xpath("//tbody/tr")
    assert sum("Failed" in row.text_content() for row in rows) == 1  # the index knows the new result


@pytest.mark.slow
def test_the_run_page_needs_no_great_expectations(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from expectations import report; "
        f"report.write_run_page(Path({str(tmp_path)!r}), {RUN!r}, {{'publish': {{'new': 1}}}}); "
        "assert 'great_expectations' not in sys.modules, 'GX imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / report.RUN_PAGE).exists()

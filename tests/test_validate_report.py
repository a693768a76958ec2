"""The report people open: a run's Data Docs, rendered by headless Chromium (Debian's
``chromium`` package), must show the run's results per portal and suite, and the suites'
expectations; a failing row's page names the expectation, the row and what was found.
Chromium resolves no host name (``--host-resolver-rules``), so the page is checked as an
offline reader sees it; nothing leaves the machine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest

from expectations.suites import ARTICLE, PORTAL_BATCH, expectation_names
from kernel.registry import load_registry
from tests.support.validation_batches import (
    PARAGRAPHS,
    RUN,
    batch,
    good_row,
    good_rows,
    uongbi_rows,
    validate_now,
    with_body,
    write_batch,
)

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = [
    pytest.mark.slow,  # a headless browser
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium not installed (Debian package 'chromium'; .ci/run installs it)"
    ),
]


def rendered(page: Path, profile: Path) -> lxml.html.HtmlElement:
    """The page's DOM after Chromium has loaded it and run its scripts."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return lxml.html.fromstring(result.stdout)


def visible_text(dom: lxml.html.HtmlElement) -> str:
    for element in dom.xpath("//script|//style"):
        element.drop_tree()
    return re.sub(r"\s+", " ", dom.text_content())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("report")
    leaked = with_body(good_row(50), "\n".join([*PARAGRAPHS, "Lượt xem: 1.234"]))
    write_batch(data, batch([*good_rows(6), leaked]))
    write_batch(data, batch(uongbi_rows(5)), "uongbi")
    registry = load_registry()
    summary = validate_now([registry["longbien"], registry["uongbi"]], data, RUN)
    assert summary.quarantined == {"longbien": 1, "uongbi": 0}
    return Path(summary.reports[RUN])


def test_the_index_lists_the_runs_results_per_portal_and_suite(report: Path, tmp_path: Path) -> None:
    dom = rendered(report, tmp_path / "profile")
    rows = [visible_text(row) for row in dom.xpath("//table[contains(@class, 'vnportals-static-table')]//tbody/tr")]
    results = [r for r in rows if RUN in r]
    assert len(results) == 4, rows  # two portals x two suites
    for portal, suite, status in [
        ("longbien", "article", "Failed"),
        ("longbien", "portal_batch", "Success"),
        ("uongbi", "article", "Success"),
        ("uongbi", "portal_batch", "Success"),
    ]:
        assert any(portal in r and f" {suite} " in f" {r} " and status in r for r in results), (portal, suite, rows)
    links = dom.xpath("//a[contains(@href, 'validations/article/') and contains(@href, 'longbien')]/@href")
    assert links and (report.parent / links[0]).exists()
    assert {"article", "portal_batch"} <= {r.strip() for r in rows}  # the suites table


def test_a_results_page_shows_expectations_and_the_failing_row(report: Path, tmp_path: Path) -> None:
    index = rendered(report, tmp_path / "profile")
    (link,) = index.xpath("//a[contains(@href, 'validations/article/') and contains(@href, 'longbien')]/@href")
    text = visible_text(rendered(report.parent / link, tmp_path / "profile"))
    assert "Expectation Suite: article" in text and "Status: Failed" in text and RUN in text
    assert "furniture_phrases" in text and "values must be null" in text
    assert "Lượt xem:" in text  # what was found, in the unexpected-values table
    failing = good_row(50)
    assert str(failing["article_id"]) in text and str(failing["url"]) in text
    assert "values must never be null" in text and "values must match this regular expression" in text


def test_the_suite_pages_list_every_expectation(report: Path, tmp_path: Path) -> None:
    for suite in (ARTICLE, PORTAL_BATCH):
        text = visible_text(rendered(report.parent / "expectations" / f"{suite}.html", tmp_path / "profile"))
        missing = [name for name in expectation_names(suite) if f"{name}:" not in text]
        assert missing == [], suite

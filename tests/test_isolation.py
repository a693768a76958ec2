"""Extraction of pathological pages is bounded by a per-document wall clock in an isolated
worker: one page never stalls or crashes the batch, and is kept in it with the reason."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kernel.article import Article, Rejection
from pipeline.isolation import ExtractionError, IsolatedExtractor
from tests.conftest import bundled_sites, gold_articles


def good_page() -> tuple[bytes, str]:
    gold = gold_articles("longbien")[0]
    return gold.html(), gold.url


@pytest.mark.slow  # waits on the worker's wall clock
def test_nested_divs_and_giant_tables_are_bounded() -> None:
    html, url = good_page()
    nested = b"<html><body>" + b"<div>" * 500_000 + b"text" + b"</div>" * 500_000 + b"</body></html>"
    giant = (
        b"<html><body><table>"
        + b"<tr>"
        + b"<td>x</td>" * 1000
        + b"</tr>" * 1
        + (b"<tr>" + b"<td>y</td>" * 1000 + b"</tr>") * 1000
        + b"</table></body></html>"
    )
    with IsolatedExtractor(timeout_s=5) as extractor:
        for page in (nested, giant):
            try:
                assert isinstance(extractor.extract(page, "https://example.vn/x"), Rejection)
            except ExtractionError as exc:
                # Out of time, out of memory, or refused by the parser: failed alone, with a reason.
                assert str(exc)
        # The worker that was killed or survived still serves the next page.
        article = extractor.extract(html, url, "longbien", hints=bundled_sites()["longbien"].extract)
    assert isinstance(article, Article) and article.title == gold_articles("longbien")[0].data["title"]


def test_a_crashing_worker_is_replaced() -> None:
    html, url = good_page()
    with IsolatedExtractor(timeout_s=20) as extractor:
        extractor.extract(html, url)
        os.kill(extractor._process.pid, signal.SIGKILL)
        with pytest.raises(ExtractionError, match="died"):
            extractor.extract(html, url)
        assert isinstance(extractor.extract(html, url, expect_article=True), Article)


@pytest.mark.slow  # waits on the worker's wall clock
def test_the_extract_step_keeps_a_stuck_page_with_the_reason_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.isolation as isolation
    from kernel.layout import DataLayout
    from pipeline.extract import extract_warc

    real = isolation.extract_page

    def slow_on_one(html: bytes, url: str, *args: object, **kwargs: object) -> object:
        if url.endswith("4220712152000274.htm"):
            import time

            time.sleep(60)
        return real(html, url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(isolation, "extract_page", slow_on_one)
    from crawlers.archive import PageItem, RawArchive

    layout = DataLayout(tmp_path)
    archive = RawArchive(layout, "longbien", "20261123T010000Z")
    for gold in gold_articles("longbien"):
        archive.write_page(
            PageItem(
                gold.url,
                "article",
                200,
                [("Content-Type", "text/html; charset=utf-8")],
                gold.html(),
                "2026-11-23T01:00:00+00:00",
            )
        )
    archive.close()
    summary = extract_warc(
        bundled_sites()["longbien"],
        layout.warc_path("longbien", "20261123T010000Z"),
        layout.extracted_path("longbien", "20261123T010000Z"),
        layout,
        timeout_s=3,
    )
    assert summary.failed == 1 and summary.reasons == {"extraction_failed: no result within N s": 1}
    assert summary.articles == len(gold_articles("longbien")) - 1
    rows = pq.read_table(layout.extracted_path("longbien", "20261123T010000Z")).to_pylist()
    stuck = [r for r in rows if r["rejection"] is not None]
    assert [(r["url"].rsplit("-", 1)[1], r["rejection"]) for r in stuck] == [
        ("4220712152000274.htm", "extraction_failed: no result within 3 s")
    ]
    assert len(rows) == len(gold_articles("longbien"))  # every article page is in the batch


def test_a_pool_returns_every_page_in_order_and_a_dead_worker_fails_only_its_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.isolation import ExtractorPool, Page, extract_workers

    golds = gold_articles("longbien")[:4]
    hints = bundled_sites()["longbien"].extract
    pages = [Page(g.html(), g.url, "longbien", hints, expect_article=True) for g in golds]
    # A page whose parsing kills its worker outright, between good ones.
    pages.insert(2, Page(b"<html>", "https://example.vn/kill", expect_article=True))
    import pipeline.isolation as isolation

    real = isolation.extract_page

    def dies_on_one(html: bytes, url: str, *args: object, **kwargs: object) -> object:
        if url.endswith("/kill"):
            os._exit(9)
        return real(html, url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(isolation, "extract_page", dies_on_one)  # the forked workers inherit it
    with ExtractorPool(workers=2, timeout_s=20) as pool:
        results = list(pool.extract_all(pages))
    assert len(results) == len(pages)
    assert isinstance(results[2], ExtractionError) and "died" in str(results[2])
    titles = [r.title for r in results if isinstance(r, Article)]
    assert titles == [g.data["title"] for g in golds]
    assert extract_workers({"VNPORTALS_EXTRACT_WORKERS": "3"}) == 3 and extract_workers({}) >= 1

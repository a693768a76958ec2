"""Raw archives as a crawl leaves them, without crawling: the gold pages of a bundled portal
written through the crawler's own archive writer."""

from __future__ import annotations

from pathlib import Path

from crawlers.archive import PageItem, RawArchive
from kernel.layout import DataLayout
from tests.conftest import gold_articles


def archive_gold(data: Path, site: str, run_id: str) -> list[str]:
    """The portal's gold article pages in ``raw/<site>/<run_id>.warc.gz``; their URLs."""
    archive = RawArchive(DataLayout(data), site, run_id)
    for gold in gold_articles(site):
        headers = [("Content-Type", "text/html; charset=utf-8")]
        archive.write_page(PageItem(gold.url, "article", 200, headers, gold.html(), "2026-11-23T01:00:00+00:00"))
    archive.close()
    return [g.url for g in gold_articles(site)]

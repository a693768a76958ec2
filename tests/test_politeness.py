"""Politeness against a local server: robots.txt Crawl-delay spaces every request to the
portal, and 429/503 with Retry-After hold the portal for that long before the retry."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from crawlers.politeness import retry_after_seconds
from kernel.layout import DataLayout, new_run_id
from kernel.registry import load_registry
from pipeline.crawl import crawl_sites
from tests.portalserver import Page, PortalServer
from tests.test_incremental import article, listing


def registry_for(server: PortalServer, tmp_path: Path) -> Path:
    registry = tmp_path / "sites"
    registry.mkdir()
    (registry / "chamcham.toml").write_text(
        'name = "Cổng chậm"\nkind = "government"\nprovince = "Hà Giang"\n'
        'domains = ["127.0.0.1"]\n'
        f'start_urls = ["{server.base}/tin-tuc"]\n'
        "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc$']\n"
        "[crawl]\ndownload_delay = 0\n",
        encoding="utf-8",
    )
    return registry


def crawl(registry: Path, data: Path) -> list[dict[str, object]]:
    run_id = new_run_id()
    (summary,) = crawl_sites(list(load_registry(registry).values()), data, run_id, registry_dir=registry)
    assert summary.ok, summary.failure
    log = DataLayout(data).crawl_log_path(summary.site, run_id)
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


@pytest.mark.slow
def test_crawl_delay_spaces_every_request(tmp_path: Path) -> None:
    with PortalServer() as server:
        server.pages["/robots.txt"] = Page("User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
        server.pages["/tin-tuc"] = listing([1, 2, 3], None)
        server.pages.update({f"/bai/{n}.html": article(n) for n in (1, 2, 3)})
        crawl(registry_for(server, tmp_path), tmp_path / "data")
        times = [hit.at for hit in server.hits]
    assert len(times) == 5  # robots.txt, the listing, three articles
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0, gaps


@pytest.mark.slow
def test_retry_after_is_honoured(tmp_path: Path) -> None:
    with PortalServer() as server:
        server.pages["/robots.txt"] = Page("User-agent: *\nAllow: /\n", content_type="text/plain")
        server.pages["/tin-tuc"] = listing([1], None)
        server.pages["/bai/1.html"] = article(1)
        server.pages["/bai/1.html"].statuses_first = [429, 503]
        server.pages["/bai/1.html"].headers = {"Retry-After": "1"}
        events = crawl(registry_for(server, tmp_path), tmp_path / "data")
        hits = [h.at for h in server.hits if h.path == "/bai/1.html"]
    assert len(hits) == 3  # 429, 503, then the page
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(hits)), hits
    assert any(e["outcome"] == "kept" and e["kind"] == "article" for e in events)


def test_retry_after_values() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0) == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None

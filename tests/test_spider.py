"""The generic spider against the offline mirror: real Scrapy, in its own process, over
HTTP on 127.0.0.1. It finds every article, follows pagination to the end, never fetches
what robots.txt disallows and never leaves the portal's domains."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawlers.spider import feed_links, sitemap_entries
from kernel.layout import DataLayout, new_run_id
from pipeline.crawl import CrawlSummary, crawl_sites
from pipeline.mirror import MirrorServer
from tests.conftest import bundled_sites, gold_articles, site_pages

SITES = bundled_sites()


@pytest.fixture(scope="module")
def crawled(
    mirror: MirrorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str, dict[str, CrawlSummary]]]:
    data = tmp_path_factory.mktemp("crawl")
    run_id = new_run_id()
    summaries = crawl_sites(list(SITES.values()), data, run_id, mirror_url=mirror.url, parallel=4)
    yield data, run_id, {s.site: s for s in summaries}


def log_events(data: Path, site: str, run_id: str) -> list[dict[str, object]]:
    path = DataLayout(data).crawl_log_path(site, run_id)
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def target(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.path + ("?" + parts.query if parts.query else ""))


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(SITES))
def test_finds_every_article_and_nothing_else(crawled, slug: str) -> None:  # type: ignore[no-untyped-def]
    data, run_id, summaries = crawled
    assert summaries[slug].ok, summaries[slug].failure
    kept = {e["url"] for e in log_events(data, slug, run_id) if e["outcome"] == "kept" and e["kind"] == "article"}
    expected = {a.url for a in gold_articles(slug)}
    assert kept == expected
    assert set(site_pages(slug).get("feed_only", [])) <= kept


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(SITES))
def test_follows_every_listing_page(crawled, slug: str) -> None:  # type: ignore[no-untyped-def]
    data, run_id, _ = crawled
    site = SITES[slug]
    fetched = {e["url"] for e in log_events(data, slug, run_id) if e["outcome"] == "kept"}
    listings = [u for u in site_pages(slug)["not_articles"] if site.is_listing_url(u)]
    assert len(listings) >= 4, f"{slug}: the mirror needs two categories with two pages each"
    missing = [u for u in listings if u not in fetched]
    assert not missing


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(SITES))
def test_obeys_robots_txt(crawled, mirror: MirrorServer, slug: str) -> None:  # type: ignore[no-untyped-def]
    data, run_id, summaries = crawled
    disallowed = site_pages(slug)["disallowed"]
    assert disallowed
    requested = {(r.host, r.path) for r in mirror.requests}
    for url in disallowed:
        assert target(url) not in requested, f"fetched {url}, which robots.txt disallows"
    blocked = {e["url"] for e in log_events(data, slug, run_id) if e["outcome"] == "robots"}
    assert set(disallowed) <= blocked, "the disallowed pages are linked; the crawl must log them as blocked"
    assert summaries[slug].robots_blocked >= len(disallowed)


@pytest.mark.slow
def test_never_leaves_the_portals_domains(crawled, mirror: MirrorServer) -> None:  # type: ignore[no-untyped-def]
    domains = {d for site in SITES.values() for d in site.domains}
    hosts = {r.host for r in mirror.requests}
    assert hosts <= domains


@pytest.mark.slow
def test_raw_archive_holds_every_kept_page(crawled) -> None:  # type: ignore[no-untyped-def]
    from pipeline.extract import read_warc

    data, run_id, summaries = crawled
    for slug, summary in summaries.items():
        pages = list(read_warc(DataLayout(data).warc_path(slug, run_id)))
        assert len(pages) == summary.pages_kept
        assert all(p.status == 200 and p.body for p in pages)
        assert {p.kind for p in pages} >= {"article", "listing"}


@pytest.mark.slow
def test_polite_identity(crawled, mirror: MirrorServer) -> None:  # type: ignore[no-untyped-def]
    agents = {r.user_agent for r in mirror.requests}
    assert agents and all(a.startswith("vnportals/") and "+http" in a for a in agents)


def test_feed_and_sitemap_parsing_is_safe() -> None:
    rss = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <rss><channel><item><link>https://a.vn/1.html</link></item><item><link>&x;</link></item></channel></rss>"""
    assert feed_links(rss)[0] == "https://a.vn/1.html"
    assert not any("root" in link for link in feed_links(rss))
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="https://a.vn/2.html"/></entry></feed>"""
    assert feed_links(atom) == ["https://a.vn/2.html"]
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://a.vn/s1.xml</loc></sitemap></sitemapindex>"""
    assert sitemap_entries(index) == ("sitemapindex", ["https://a.vn/s1.xml"])
    assert feed_links(b"not xml at all") == []

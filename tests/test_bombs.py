"""Hostile payloads are refused within bounds of time and memory: gzip bombs in pages and in
sitemap.xml.gz, and XML entities (internal expansion, external files) in feeds and sitemaps."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from crawlers.spider import feed_links, sitemap_entries
from kernel.layout import DataLayout, new_run_id
from kernel.registry import load_registry
from pipeline.crawl import crawl_sites
from pipeline.extract import read_warc
from tests.portalserver import Page, PortalServer
from tests.test_incremental import article, listing

BOMB = gzip.compress(b"<p>" + b"0" * (200 * 1024 * 1024) + b"</p>", compresslevel=9)  # ~200 KB on the wire


@pytest.mark.slow
def test_gzip_bombs_are_refused_and_the_crawl_goes_on(tmp_path: Path) -> None:
    sitemap_bomb = gzip.compress(
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + b"<url><loc>http://127.0.0.1/x</loc></url>" * 2_000_000
        + b"</urlset>",
        compresslevel=9,
    )
    with PortalServer() as server:
        server.pages.update(
            {
                "/robots.txt": Page("User-agent: *\nAllow: /\n", content_type="text/plain"),
                "/tin-tuc": listing([1, 2], None),
                "/bai/1.html": article(1),
                "/bai/2.html": Page(BOMB, headers={"Content-Encoding": "gzip"}),
                "/sitemap.xml.gz": Page(sitemap_bomb, content_type="application/x-gzip"),
            }
        )
        registry = tmp_path / "sites"
        registry.mkdir()
        (registry / "bom.toml").write_text(
            'name = "Cổng có bom"\nkind = "government"\nprovince = "Lạng Sơn"\ndomains = ["127.0.0.1"]\n'
            f'start_urls = ["{server.base}/tin-tuc"]\nsitemaps = ["{server.base}/sitemap.xml.gz"]\n'
            "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc$']\n[crawl]\ndownload_delay = 0\n",
            encoding="utf-8",
        )
        data, run_id = tmp_path / "data", new_run_id()
        (summary,) = crawl_sites(list(load_registry(registry).values()), data, run_id, registry_dir=registry)
    events = {
        str(e["url"]).rsplit("/", 1)[-1]: e
        for e in map(json.loads, DataLayout(data).crawl_log_path("bom", run_id).read_text("utf-8").splitlines())
    }
    assert summary.ok
    assert events["2.html"]["outcome"] == "error" and "DOWNLOAD_MAXSIZE" in str(events["2.html"]["error"])
    assert events["sitemap.xml.gz"]["outcome"] == "error" and "refused" in str(events["sitemap.xml.gz"]["error"])
    archived = {p.url.rsplit("/", 1)[-1] for p in read_warc(DataLayout(data).warc_path("bom", run_id))}
    assert "1.html" in archived and "2.html" not in archived


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
<!ENTITY xxe SYSTEM "file:///etc/hostname">]>
"""


@pytest.mark.parametrize("wrap", ["rss", "sitemap"])
def test_xml_entities_are_never_resolved(wrap: str) -> None:
    if wrap == "rss":
        doc = (
            LAUGHS + b"<rss><channel><item><link>&lol9;</link></item><item><link>&xxe;</link></item>"
            b"<item><link>https://a.vn/1.html</link></item></channel></rss>"
        )
        links = feed_links(doc)
    else:
        doc = (
            LAUGHS + b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol9;</loc></url>'
            b"<url><loc>&xxe;</loc></url><url><loc>https://a.vn/1.html</loc></url></urlset>"
        )
        links = sitemap_entries(doc)[1]
    assert "https://a.vn/1.html" in links
    assert all(len(link) < 100 for link in links)  # no expansion
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "\x00"
    assert not any(hostname and hostname in link for link in links)

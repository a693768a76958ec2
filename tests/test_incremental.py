"""Incremental crawling: a second night fetches listings, feeds and what is new or due, and
a revised article becomes a new version of the same row, never a second article."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from kernel.layout import DataLayout
from pipeline.engine import Engine
from pipeline.extract import read_warc
from tests.support.portalserver import Page, PortalServer

PARAGRAPH = (
    "Ủy ban nhân dân phường đã tổ chức hội nghị triển khai kế hoạch chỉnh trang đô thị, "
    "cải tạo vỉa hè, hệ thống chiếu sáng và cây xanh trên các tuyến phố chính trong năm nay."
)


def article(n: int, revision: str = "") -> Page:
    # Each article its own text: paragraphs shared by most articles are learned as furniture.
    paragraphs = "".join(f"<p>{i}. Bài {n}, đoạn {i}: {PARAGRAPH} {revision}</p>" for i in range(4))
    return Page(
        f"<html><head><title>Tin số {n} của phường mẫu - Cổng</title></head><body>"
        f"<h1>Tin số {n} của phường mẫu</h1><p class='date'>Ngày đăng 0{n}/03/2024 08:00</p>"
        f"<div class='content'>{paragraphs}</div></body></html>",
        etag=f'"v{n}{len(revision)}"',
    )


def listing(numbers: list[int], next_page: str | None) -> Page:
    links = "".join(f"<li><a href='/bai/{n}.html'>Tin số {n} của phường mẫu</a></li>" for n in numbers)
    more = f"<a href='{next_page}'>Trang sau</a>" if next_page else ""
    return Page(f"<html><body><h1>Tin tức</h1><ul>{links}</ul>{more}</body></html>")


def build(server: PortalServer, registry: Path, recrawl: str) -> None:
    server.pages.update(
        {
            "/robots.txt": Page("User-agent: *\nDisallow: /admin/\n", content_type="text/plain"),
            "/tin-tuc": listing([5, 4, 3], "/tin-tuc?page=2"),
            "/tin-tuc?page=2": listing([2, 1], None),
            **{f"/bai/{n}.html": article(n) for n in range(1, 6)},
        }
    )
    registry.mkdir()
    (registry / "phuongmau.toml").write_text(
        'name = "Cổng phường mẫu"\nkind = "government"\nprovince = "Hà Nội"\n'
        'domains = ["127.0.0.1"]\n'
        f'start_urls = ["{server.base}/tin-tuc"]\n'
        "article_urls = ['/bai/\\d+\\.html$']\n"
        "listing_urls = ['/tin-tuc(\\?page=\\d+)?$']\n"
        f"[crawl]\ndownload_delay = 0\n{recrawl}",
        encoding="utf-8",
    )


def night(registry: Path, data: Path) -> None:
    engine = Engine(data, registry)
    report = engine.run(engine.plan_night())
    crawls = {slug: portal["crawl"] for slug, portal in report.data["portals"].items()}
    assert all(c["state"] == "ok" for c in crawls.values()), report.failed_portals


def rows(data: Path) -> dict[str, dict[str, object]]:
    table = ds.dataset(data / "articles", partitioning="hive").to_table()
    return {str(r["url"]).rsplit("/", 1)[-1]: r for r in table.to_pylist()}


@pytest.mark.slow
@pytest.mark.parametrize("recrawl", ["", "recrawl_after_days = 0\n"], ids=["known-not-refetched", "recrawl-due"])
def test_second_night_fetches_only_what_is_new_or_due(tmp_path: Path, recrawl: str) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        build(server, registry, recrawl)
        night(registry, data)
        assert len(rows(data)) == 5
        first_night = len(server.hits)

        server.pages["/bai/6.html"] = article(6)
        server.pages["/tin-tuc"] = listing([6, 5, 4], "/tin-tuc?page=2")
        server.pages["/tin-tuc?page=2"] = listing([3, 2, 1], None)
        server.pages["/bai/2.html"] = article(2, revision="Bổ sung: kinh phí thực hiện là 12 tỷ đồng.")
        night(registry, data)
        second = server.hits[first_night:]

    fetched_articles = sorted(h.path for h in second if h.path.startswith("/bai/"))
    if recrawl:
        assert fetched_articles == [f"/bai/{n}.html" for n in range(1, 7)]
        conditional = [h for h in second if h.path.startswith("/bai/") and h.path != "/bai/6.html"]
        assert all("If-None-Match" in h.headers for h in conditional)
    else:
        assert fetched_articles == ["/bai/6.html"]

    published = rows(data)
    assert sorted(published) == [f"{n}.html" for n in range(1, 7)]  # one row per article
    revised = "Bổ sung: kinh phí" in str(published["2.html"]["body"])
    assert revised is bool(recrawl)
    if recrawl:
        # The raw archive keeps both versions of the revised article.
        versions = [
            page
            for warc in DataLayout(data).warcs("phuongmau")
            for page in read_warc(warc)
            if page.url.endswith("/bai/2.html")
        ]
        assert len(versions) == 2


@pytest.mark.slow
def test_pagination_stops_at_a_page_with_nothing_new(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        build(server, registry, "")
        night(registry, data)
        first_night = len(server.hits)
        night(registry, data)  # nothing changed
        second = [h.path for h in server.hits[first_night:]]
    assert "/tin-tuc" in second
    assert "/tin-tuc?page=2" not in second
    assert not [p for p in second if p.startswith("/bai/")]


def sitemap(entries: dict[int, str]) -> Page:
    urls = "".join(
        f"<url><loc>http://127.0.0.1:{{port}}/bai/{n}.html</loc><lastmod>{when}</lastmod></url>"
        for n, when in entries.items()
    )
    return Page(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
        content_type="application/xml",
    )


@pytest.mark.slow
def test_a_revision_announced_by_the_sitemap_is_fetched_and_nothing_else(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        build(server, registry, "")
        toml = registry / "phuongmau.toml"
        toml.write_text(
            toml.read_text("utf-8").replace("[crawl]", f'sitemaps = ["{server.base}/sitemap.xml"]\n[crawl]'),
            encoding="utf-8",
        )

        def publish_sitemap(entries: dict[int, str]) -> None:
            page = sitemap(entries)
            page.body = str(page.body).replace("{port}", str(server.port))
            server.pages["/sitemap.xml"] = page

        old = "2024-03-01T08:00:00+07:00"
        publish_sitemap(dict.fromkeys(range(1, 6), old))
        night(registry, data)
        first_night = len(server.hits)

        server.pages["/bai/2.html"] = article(2, revision="Bổ sung: kinh phí thực hiện là 12 tỷ đồng.")
        server.pages["/bai/6.html"] = article(6)
        server.pages["/tin-tuc"] = listing([6, 5, 4], "/tin-tuc?page=2")
        publish_sitemap({**dict.fromkeys(range(1, 6), old), 2: "2099-01-01T00:00:00+07:00", 6: old})
        night(registry, data)
        second = sorted({h.path for h in server.hits[first_night:]})

    assert [p for p in second if p.startswith("/bai/")] == ["/bai/2.html", "/bai/6.html"]
    published = rows(data)
    assert len(published) == 6
    assert "Bổ sung: kinh phí" in str(published["2.html"]["body"])

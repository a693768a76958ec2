"""Incremental crawling: a second night fetches listings, feeds and sitemaps conditionally and
articles only when new, due, or announced as revised (compared with what the portal announced
before, whatever its clock says); a revised article becomes a new version of the same row,
never a second article."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from kernel.layout import DataLayout, new_run_id
from kernel.registry import load_registry
from pipeline.crawl import CrawlSummary, crawl_sites
from pipeline.engine import Engine
from pipeline.extract import read_warc
from tests.support.portalserver import Page, PortalServer

pytestmark = pytest.mark.slow

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


@pytest.mark.parametrize(
    ("old", "revised_at"),
    [("2024-03-01T08:00:00+07:00", "2099-01-01T00:00:00+07:00"), ("2019-05-01T08:00:00+07:00", "2019-05-02T09:30:00")],
    ids=["clock-ahead", "clock-years-behind-no-offset"],
)
def test_a_revision_announced_by_the_sitemap_is_fetched_and_nothing_else(
    tmp_path: Path, old: str, revised_at: str
) -> None:
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

        publish_sitemap(dict.fromkeys(range(1, 6), old))
        night(registry, data)
        first_night = len(server.hits)

        server.pages["/bai/2.html"] = article(2, revision="Bổ sung: kinh phí thực hiện là 12 tỷ đồng.")
        server.pages["/bai/6.html"] = article(6)
        server.pages["/tin-tuc"] = listing([6, 5, 4], "/tin-tuc?page=2")
        publish_sitemap({**dict.fromkeys(range(1, 6), old), 2: revised_at, 6: old})
        night(registry, data)
        second = sorted({h.path for h in server.hits[first_night:]})

    assert [p for p in second if p.startswith("/bai/")] == ["/bai/2.html", "/bai/6.html"]
    published = rows(data)
    assert len(published) == 6
    assert "Bổ sung: kinh phí" in str(published["2.html"]["body"])


# -- conditional listings, feeds and sitemaps ----------------------------------------------
def crawl_only(registry: Path, data: Path) -> tuple[str, CrawlSummary]:
    run_id = new_run_id()
    (summary,) = crawl_sites(list(load_registry(registry).values()), data, run_id, registry_dir=registry)
    assert summary.ok, summary.failure
    return run_id, summary


def feed(port: int, numbers: list[int]) -> Page:
    items = "".join(f"<item><link>http://127.0.0.1:{port}/bai/{n}.html</link></item>" for n in numbers)
    return Page(f"<rss><channel>{items}</channel></rss>", content_type="application/rss+xml", etag='"feed-1"')


def test_unchanged_listings_feeds_and_sitemaps_are_answered_304_and_not_read_again(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        build(server, registry, "")
        toml = registry / "phuongmau.toml"
        toml.write_text(
            toml.read_text("utf-8").replace(
                "[crawl]", f'feeds = ["{server.base}/rss.xml"]\nsitemaps = ["{server.base}/sitemap.xml"]\n[crawl]'
            ),
            encoding="utf-8",
        )
        server.pages["/tin-tuc"].etag = '"tin-tuc-1"'
        server.pages["/rss.xml"] = feed(server.port, [5, 4])
        page = sitemap(dict.fromkeys(range(1, 6), "2024-03-01T08:00:00+07:00"))
        page.body = str(page.body).replace("{port}", str(server.port))
        page.last_modified = "Fri, 01 Mar 2024 01:00:00 GMT"  # no ETag: If-Modified-Since
        server.pages["/sitemap.xml"] = page
        # Article 3 fails on the first night (three 503s: the first try and two retries).
        server.pages["/bai/3.html"].statuses_first = [503, 503, 503]
        _, first = crawl_only(registry, data)
        assert first.new == 4 and first.errors == 1
        first_night = len(server.hits)

        _, second = crawl_only(registry, data)
        hits = server.hits[first_night:]

    by_path = {h.path: h for h in hits}
    assert by_path["/tin-tuc"].headers.get("If-None-Match") == '"tin-tuc-1"'
    assert by_path["/rss.xml"].headers.get("If-None-Match") == '"feed-1"'
    assert by_path["/sitemap.xml"].headers.get("If-Modified-Since") == "Fri, 01 Mar 2024 01:00:00 GMT"
    assert server.not_modified == 3
    # Page 2 has no validators: fetched (page 1 holds an article we still lack), but its
    # body is the same, so it is not read again either.
    assert second.listings_unchanged == 4 and second.listings == 0
    # Nothing was read again, yet the links the pages held last time were followed: the
    # article that failed last night is fetched now, the others count as known.
    assert sorted(h.path for h in hits if h.path.startswith("/bai/")) == ["/bai/3.html"]
    assert second.new == 1 and second.known_not_fetched == 4


# -- revisions, whatever the portal's clock says ------------------------------------------
def _naive(hours_ago: float) -> str:
    """A time this many hours ago, printed without an offset as a server on UTC would."""
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S")


CLOCKS = {
    # A server whose clock is years behind: every lastmod is long before our fetch time.
    "years-behind": ("2019-05-01T08:00:00+07:00", "2019-05-02T09:30:00+07:00"),
    # Local time without an offset, from a server on UTC: read as Vietnam time, both are
    # hours before our fetch time.
    "no-offset": (_naive(12), _naive(8)),
    # A clock in the future: the revision is fetched once, not every night.
    "future": ("2099-01-01T00:00:00+07:00", "2099-06-01T00:00:00+07:00"),
}


@pytest.mark.parametrize("clock", sorted(CLOCKS))
def test_a_revision_is_seen_whatever_the_portals_clock_says(tmp_path: Path, clock: str) -> None:
    before, revised_at = CLOCKS[clock]
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

        publish_sitemap(dict.fromkeys(range(1, 6), before))
        crawl_only(registry, data)
        first_night = len(server.hits)

        server.pages["/bai/2.html"] = article(2, revision="Bổ sung: kinh phí thực hiện là 12 tỷ đồng.")
        publish_sitemap({**dict.fromkeys(range(1, 6), before), 2: revised_at})
        run_id, second = crawl_only(registry, data)
        second_night = len(server.hits)

        crawl_only(registry, data)  # the same sitemap again
        third = server.hits[second_night:]

    fetched = [h for h in server.hits[first_night:second_night] if h.path.startswith("/bai/")]
    assert [h.path for h in fetched] == ["/bai/2.html"]
    assert fetched[0].headers.get("If-None-Match")  # conditionally
    assert second.changed == 1
    (page,) = [p for p in read_warc(DataLayout(data).warc_path("phuongmau", run_id)) if p.kind == "article"]
    assert "Bổ sung: kinh phí" in page.body.decode("utf-8")
    assert not [h for h in third if h.path.startswith("/bai/")]  # changed once, fetched once


def test_a_sitemap_added_later_sets_the_baseline_and_then_announces_revisions(tmp_path: Path) -> None:
    """Articles known before the portal had a sitemap (or from before this crawler remembered
    announcements) are not all fetched again the night one appears: its dates become what
    later ones are compared with."""
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        build(server, registry, "")
        crawl_only(registry, data)  # no sitemap yet
        toml = registry / "phuongmau.toml"
        toml.write_text(
            toml.read_text("utf-8").replace("[crawl]", f'sitemaps = ["{server.base}/sitemap.xml"]\n[crawl]'),
            encoding="utf-8",
        )
        page = sitemap(dict.fromkeys(range(1, 6), "2019-05-01T08:00:00+07:00"))  # a clock years behind
        page.body = str(page.body).replace("{port}", str(server.port))
        server.pages["/sitemap.xml"] = page
        second_night = len(server.hits)
        crawl_only(registry, data)
        third_night = len(server.hits)
        server.pages["/bai/4.html"] = article(4, revision="Bổ sung: kinh phí thực hiện là 12 tỷ đồng.")
        page.body = str(page.body).replace(
            "4.html</loc><lastmod>2019-05-01T08:00:00+07:00", "4.html</loc><lastmod>2019-05-03T10:00:00+07:00"
        )
        crawl_only(registry, data)
    assert not [h for h in server.hits[second_night:third_night] if h.path.startswith("/bai/")]
    assert [h.path for h in server.hits[third_night:] if h.path.startswith("/bai/")] == ["/bai/4.html"]

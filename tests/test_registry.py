"""The portal registry: the bundled configs and family templates load, each portal has its
fixtures, a portal of a family is six lines and overrides what differs, path patterns are
anchored on the portal's domains, and bad configs or templates fail with an error that names
the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.registry import FAMILIES_DIR, Family, RegistryError, load_families, load_registry, load_site, select_sites
from pipeline.mirror import MIRROR_DIR
from tests.conftest import GOLD_DIR, bundled_sites, gold_articles, site_pages

SITES = bundled_sites()

GOOD = """
name = "Cổng thông tin điện tử huyện Mẫu"
kind = "government"
province = "Hà Nội"
domains = ["mau.hanoi.gov.vn"]
start_urls = ["https://mau.hanoi.gov.vn/tin-tuc.htm"]
article_urls = ['-\\d{5,}\\.htm$']
listing_urls = ['/tin-tuc(/trang-\\d+)?\\.htm$']
"""


def write(tmp_path: Path, text: str, name: str = "mau.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_registry_has_the_four_seed_portals() -> None:
    assert {"longbien", "kinhtedothi", "uongbi", "hanoidcs"} <= set(SITES)


@pytest.mark.parametrize("slug", sorted(SITES))
def test_every_portal_has_a_mirror_and_gold(slug: str) -> None:
    site = SITES[slug]
    for domain in site.domains[:1]:
        assert (MIRROR_DIR / domain / "robots.txt").is_file(), f"{slug}: no mirror for {domain}"
    articles = gold_articles(slug)
    assert len(articles) >= 6, f"{slug}: needs at least six gold articles in {GOLD_DIR / slug}"
    pages = site_pages(slug)
    assert pages["not_articles"], f"{slug}: _site.json lists no pages that are not articles"
    for article in articles:
        assert site.owns(article.url) and site.is_article_url(article.url), article.url
    for url in pages["not_articles"]:
        assert not site.is_article_url(url), f"{slug}: {url} is not an article but matches article_urls"
    for url in pages["disallowed"]:
        assert site.is_article_url(url), f"{slug}: robots test needs {url} to look like an article"


def test_good_config_loads(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, GOOD))
    assert site.slug == "mau"
    assert site.is_article_url("https://mau.hanoi.gov.vn/tin-tuc/bai-viet-12345.htm")
    assert site.is_listing_url("https://mau.hanoi.gov.vn/tin-tuc/trang-2.htm")
    assert site.owns("https://sub.mau.hanoi.gov.vn/x") and not site.owns("https://evil.vn/x")
    assert site.max_listing_pages == 50 and site.enabled


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.replace('kind = "government"', 'kind = "blog"'), "kind"),
        (lambda t: t.replace('name = "Cổng thông tin điện tử huyện Mẫu"\n', ""), "name"),
        (lambda t: t.replace('["mau.hanoi.gov.vn"]', '"mau.hanoi.gov.vn"'), "domains"),
        (lambda t: t.replace('["mau.hanoi.gov.vn"]', '["https://mau.hanoi.gov.vn/"]'), "domains[0]"),
        (lambda t: t.replace("https://mau.hanoi.gov.vn/tin-tuc.htm", "https://other.vn/"), "start_urls[0]"),
        (
            lambda t: t.replace("https://mau.hanoi.gov.vn/tin-tuc.htm", "ftp://mau.hanoi.gov.vn/"),
            "start_urls[0]",
        ),
        (lambda t: t.replace("'-\\d{5,}\\.htm$'", "'([unclosed'"), "article_urls[0]"),
        (lambda t: t + "\nmax_listing_pages = 0\n", "max_listing_pages"),
        (lambda t: t + "\nmax_listing_pages = true\n", "max_listing_pages"),
        (lambda t: t + "\nstart_url = []\n", "start_url"),
        (lambda t: t + "\n[crawl]\ndownload_delay = -1\n", "crawl.download_delay"),
        (lambda t: t + "\n[crawl]\ndelay = 1\n", "crawl.delay"),
        (lambda t: t + "\n[extract]\ndrop_xpaths = [1]\n", "extract.drop_xpaths[0]"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, change, field: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, change(GOOD))
    with pytest.raises(RegistryError) as err:
        load_site(path)
    message = str(err.value)
    assert str(path) in message
    assert f"field '{field}'" in message


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "\nthis is = = not toml\n")
    with pytest.raises(RegistryError, match="not valid TOML") as err:
        load_site(path)
    assert str(path) in str(err.value)


def test_file_name_must_be_a_slug(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, name="Mẫu Portal.toml")
    with pytest.raises(RegistryError, match="slug"):
        load_site(path)


def test_empty_registry_and_unknown_portal(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no site configs"):
        load_registry(tmp_path)
    write(tmp_path, GOOD)
    sites = load_registry(tmp_path)
    with pytest.raises(RegistryError, match="unknown portal 'nope'"):
        select_sites(sites, ["nope"])
    assert [s.slug for s in select_sites(sites, None)] == ["mau"]


# -- CMS-family templates ---------------------------------------------------------------------
FAMILY = """
description = "Mẫu CMS of the tests"
sitemaps = ["/sitemap.xml"]
article_urls = ['/tin-tuc/[a-z0-9-]+-\\d{5,}\\.htm$']
listing_urls = ['/tin-tuc(?:/trang-\\d+)?\\.htm$']
max_listing_pages = 7
[crawl]
download_delay = 2.0
recrawl_after_days = 30
[extract]
drop_xpaths = ["//div[@class='share']"]
"""

SIX_LINES = """name = "Cổng thông tin điện tử huyện Mẫu"
kind = "government"
province = "Hà Nội"
family = "mau-cms"
domains = ["mau.hanoi.gov.vn"]
start_urls = ["/tin-tuc.htm"]
"""


def families(tmp_path: Path, text: str = FAMILY) -> dict[str, Family]:
    folder = tmp_path / "families"
    folder.mkdir(exist_ok=True)
    (folder / "mau-cms.toml").write_text(text, encoding="utf-8")
    return load_families(folder)


def test_the_bundled_families_load_and_every_bundled_portal_names_one() -> None:
    bundled = load_families()
    assert len(bundled) >= 7 and all(f.description for f in bundled.values())
    assert {site.family for site in SITES.values()} <= set(bundled)
    for site in SITES.values():
        assert site.family_path == FAMILIES_DIR / f"{site.family}.toml"


def test_a_portal_of_a_family_is_six_lines(tmp_path: Path) -> None:
    path = write(tmp_path, SIX_LINES)
    assert len(path.read_text("utf-8").splitlines()) == 6
    site = load_site(path, families(tmp_path))
    assert site.start_urls == ("https://mau.hanoi.gov.vn/tin-tuc.htm",)
    assert site.sitemaps == ("https://mau.hanoi.gov.vn/sitemap.xml",)
    assert site.is_article_url("https://mau.hanoi.gov.vn/tin-tuc/bai-viet-12345.htm")
    assert site.is_listing_url("https://mau.hanoi.gov.vn/tin-tuc/trang-2.htm")
    assert (site.max_listing_pages, site.crawl.download_delay, site.crawl.recrawl_after_days) == (7, 2.0, 30)
    assert site.extract.drop_xpaths == ("//div[@class='share']",)
    assert site.origins["article_urls"] == "family mau-cms" and site.origins["name"] == "portal"
    assert site.origins["crawl.download_delay"] == "family mau-cms"


@pytest.mark.parametrize(
    ("url", "article"),
    [
        ("https://mau.hanoi.gov.vn/tin-tuc/bai-viet-12345.htm", True),
        ("http://www.mau.hanoi.gov.vn:8080/tin-tuc/bai-viet-12345.htm", True),  # www., http, a port
        ("https://tin.mau.hanoi.gov.vn/tin-tuc/bai-viet-12345.htm", True),  # the portal's subdomains are its own
        ("https://MAU.hanoi.gov.vn/tin-tuc/bai-viet-12345.htm", True),
        ("https://mau.hanoi.gov.vn/in/tin-tuc/bai-viet-12345.htm", False),  # anchored at the path's start
        ("https://other.vn/tin-tuc/bai-viet-12345.htm", False),
        ("https://xmau.hanoi.gov.vn/tin-tuc/bai-viet-12345.htm", False),
        ("https://other.vn/?u=https://mau.hanoi.gov.vn/tin-tuc/bai-viet-12345.htm", False),
    ],
)
def test_path_patterns_are_anchored_on_the_portals_domains(tmp_path: Path, url: str, article: bool) -> None:
    site = load_site(write(tmp_path, SIX_LINES), families(tmp_path))
    assert site.is_article_url(url) is article


def test_the_portal_overrides_what_differs(tmp_path: Path) -> None:
    text = SIX_LINES + "max_listing_pages = 3\nsitemaps = []\n[crawl]\ndownload_delay = 0\n"
    site = load_site(write(tmp_path, text), families(tmp_path))
    assert (site.max_listing_pages, site.sitemaps) == (3, ())
    # Inside a table, key by key: the family's recrawl_after_days stays.
    assert (site.crawl.download_delay, site.crawl.recrawl_after_days) == (0.0, 30)
    assert site.origins["crawl.download_delay"] == "portal" and site.origins["crawl.recrawl_after_days"] != "portal"
    # A portal's own absolute patterns are searched in the URL, as always.
    text = SIX_LINES + "article_urls = ['-\\d{5,}\\.htm$']\n"
    site = load_site(write(tmp_path, text), families(tmp_path))
    assert site.is_article_url("https://mau.hanoi.gov.vn/in/tin-tuc/bai-viet-12345.htm")


def test_paths_are_relative_to_the_portals_own_start_url(tmp_path: Path) -> None:
    text = SIX_LINES.replace('["mau.hanoi.gov.vn"]', '["127.0.0.1"]').replace(
        '"/tin-tuc.htm"', '"http://127.0.0.1:8123/tin-tuc.htm"'
    )
    site = load_site(write(tmp_path, text), families(tmp_path))
    assert site.sitemaps == ("http://127.0.0.1:8123/sitemap.xml",)
    assert site.is_article_url("http://127.0.0.1:8123/tin-tuc/bai-viet-12345.htm")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda t: t.replace("'/tin-tuc/[a-z0-9-]+", "'/tin-tuc/([a-z0-9-]+"), "article_urls[0]", "bad regular"),
        (lambda t: t.replace("'/tin-tuc(?:", "'-tin-tuc(?:"), "listing_urls[0]", "must be a path"),
        (lambda t: t.replace('["/sitemap.xml"]', '["https://mau.vn/sitemap.xml"]'), "sitemaps[0]", "must be a path"),
        (lambda t: 'domains = ["mau.vn"]\n' + t, "domains", "belongs in the portal's own file"),
        (lambda t: t.replace("max_listing_pages = 7", "max_listing_pages = 0"), "max_listing_pages", "at least 1"),
        (lambda t: t.replace("download_delay = 2.0", "download_delay = -2.0"), "crawl.download_delay", "negative"),
        (lambda t: "start_url = []\n" + t, "start_url", "not a known field"),
        (lambda t: t.replace('description = "Mẫu CMS of the tests"\n', ""), "description", "required"),
    ],
)
def test_a_bad_template_names_its_file_and_field(tmp_path: Path, change, field: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryError) as err:
        families(tmp_path, change(FAMILY))
    assert str(tmp_path / "families" / "mau-cms.toml") in str(err.value)
    assert f"field '{field}'" in str(err.value) and message in str(err.value)


def test_a_family_with_no_start_point_needs_one_from_the_portal(tmp_path: Path) -> None:
    text = SIX_LINES.replace('start_urls = ["/tin-tuc.htm"]\n', "")
    with pytest.raises(RegistryError, match="field 'start_urls': a portal needs start_urls, feeds or sitemaps"):
        load_site(write(tmp_path, text), families(tmp_path, FAMILY.replace('sitemaps = ["/sitemap.xml"]\n', "")))
    assert load_site(write(tmp_path, text), families(tmp_path)).sitemaps  # the family's sitemap is enough

"""The portal registry: the bundled configs load, each has its fixtures, and bad configs
fail with an error that names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.registry import RegistryError, load_registry, load_site, select_sites
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

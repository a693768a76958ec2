"""Extraction on the gold set: seed titles, no furniture, not-articles are None, rejections
say why. The quality floors over every page set are the gate's (``test_extraction_gate.py``)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from kernel.article import Article, Rejection
from tests.conftest import FIXTURES, GoldArticle, bundled_sites, gold_articles, page_bytes, site_pages
from transforms import extract_article, extract_page
from transforms.text import fold

SITES = bundled_sites()
GOLD = gold_articles()


def ids(articles: list[GoldArticle]) -> list[str]:
    return [f"{a.site}/{a.name}" for a in articles]


@pytest.mark.parametrize("gold", GOLD, ids=ids(GOLD))
def test_title_and_no_furniture(gold: GoldArticle) -> None:
    article = extract_article(gold.html(), gold.url, site=gold.site, hints=SITES[gold.site].extract)
    assert article is not None
    assert article.title == gold.data["title"]
    for phrase in gold.data["must_not_contain"]:
        assert phrase not in article.body, f"furniture {phrase!r} leaked"
    assert unicodedata.is_normalized("NFC", article.body)
    if article.published_at is not None:
        assert article.published_at.utcoffset() is not None


@pytest.mark.parametrize("slug", sorted(SITES))
def test_pages_that_are_not_articles_give_none(slug: str) -> None:
    for url in site_pages(slug)["not_articles"]:
        assert extract_article(page_bytes(url), url, site=slug) is None, url


def test_seed_articles_are_all_in_the_gold_set() -> None:
    seeds = {a.data.get("seed") for a in GOLD} - {None}
    assert len(seeds) == 5


def test_a_rejection_says_why_and_the_url_prior_keeps_weak_cases() -> None:
    """A section page is rejected with its reason without the prior; an article URL
    (``expect_article``) is extracted unless the evidence is strong."""
    slug = "longbien"
    url = site_pages(slug)["not_articles"][1]
    found = extract_page(page_bytes(url), url, site=slug)
    assert isinstance(found, Rejection) and found.kind == "not_article" and ": " in found.reason
    assert isinstance(extract_page(page_bytes(url), url, site=slug, expect_article=True), Article)
    empty = extract_page(b"<html><body><div></div></body></html>", url, expect_article=True)
    assert isinstance(empty, Rejection) and empty.reason == "not_article: no text"
    assert extract_page(b"", url).reason == "not_html: empty or unparseable page"  # type: ignore[union-attr]


SEED_GOLD = sorted((FIXTURES / "seeds").glob("*.gold.json"))


@pytest.mark.parametrize("seed_path", SEED_GOLD, ids=[p.stem[:3] for p in SEED_GOLD])
def test_seed_pages_reach_the_seed_gold(seed_path: Path) -> None:
    seed = json.loads(seed_path.read_text("utf-8"))
    (gold,) = [a for a in GOLD if a.data.get("seed") == seed["seed"]]
    article = extract_article(gold.html(), gold.url, site=gold.site, hints=SITES[gold.site].extract)
    assert article is not None
    assert [fold(p) for p in article.paragraphs] == [fold(p) for p in seed["body"]]
    for phrase in seed["must_not_contain"]:
        assert phrase not in article.body
    got = {
        "title": article.title,
        "kicker": article.kicker,
        "category": article.category,
        "author": article.author,
        "source": article.source,
        "view_count": article.view_count,
        "published": article.published_at.isoformat() if article.published_at else None,
    }
    for field, value in got.items():
        if seed.get(field) is not None:
            assert value == seed[field], field

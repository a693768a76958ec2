"""Site-level repetition: paragraphs a portal prints on most of its articles are furniture,
learned from the crawl, never from too few pages."""

from __future__ import annotations

from pathlib import Path

from kernel.article import Article
from kernel.layout import DataLayout
from pipeline.extract import update_repetition
from transforms.repetition import learn_repeated, strip_repeated

PROMO = "Đặt mua báo in tại các bưu cục trên toàn quốc"


def bodies(n: int, with_promo: int) -> list[list[str]]:
    return [[f"Đoạn văn riêng của bài số {i}.", *([PROMO] if i < with_promo else [])] for i in range(n)]


def test_a_line_on_most_pages_is_learned() -> None:
    assert learn_repeated(bodies(10, 8)) == {PROMO}


def test_a_line_on_few_pages_is_kept() -> None:
    assert learn_repeated(bodies(10, 3)) == set()


def test_nothing_is_learned_from_too_few_pages() -> None:
    assert learn_repeated(bodies(4, 4)) == set()


def test_long_paragraphs_are_never_furniture() -> None:
    long = "Một đoạn văn rất dài " * 20
    assert learn_repeated([[long]] * 10) == set()


def test_strip_keeps_the_rest_in_order() -> None:
    article = Article(url="https://a.vn/x", title="T", body=f"một\n{PROMO}\nhai")
    assert strip_repeated(article, {PROMO}).body == "một\nhai"
    assert strip_repeated(article, set()) is article


def test_learning_accumulates_over_nightly_runs(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    # Each night brings three articles: too few alone, enough together.
    assert update_repetition(layout, "cong", "20261101T010000Z", bodies(3, 3)) == set()
    assert update_repetition(layout, "cong", "20261102T010000Z", bodies(3, 3)) == {PROMO}
    # Re-extracting a night replaces its counts instead of adding them again.
    assert update_repetition(layout, "cong", "20261102T010000Z", bodies(3, 0)) == set()

"""Page-type evidence, and the URL prior: only strong evidence rejects an article URL."""

from __future__ import annotations

import lxml.html

from transforms.metadata import PageMeta
from transforms.pagetype import Evidence, decide, looks_like_contact_page, not_article_evidence

PROSE = ["Sáng 12/4, UBND tỉnh tổ chức hội nghị đánh giá tình hình kinh tế - xã hội quý I năm 2024. " * 3] * 3


def tree_of(body: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><body>{body}</body></html>")


def meta(title: str, *, found: bool = True, agrees: bool = True, dated: bool = True) -> PageMeta:
    from datetime import datetime

    from kernel.timestamps import VN_TZ

    return PageMeta(
        title=title,
        title_found=found,
        title_agrees=agrees,
        published=datetime(2024, 4, 12, 8, 0, tzinfo=VN_TZ) if dated else None,
    )


def reasons(evidence: list[Evidence]) -> list[str]:
    return [e.reason for e in evidence]


def test_an_article_has_no_evidence() -> None:
    assert not_article_evidence(tree_of("<p>x</p>"), "https://x.gov.vn/tin/1.html", meta("Hội nghị quý I"), PROSE) == []


def test_a_menu_label_headline_is_evidence() -> None:
    tree = tree_of('<ul class="menu"><li><a href="/kinh-te">Kinh tế - Xã hội</a></li></ul>')
    found = not_article_evidence(tree, "https://x.gov.vn/kinh-te", meta("Kinh tế - Xã hội", dated=False), PROSE)
    assert "headline is a menu label" in reasons(found)


def test_a_dated_story_a_mega_menu_previews_is_not_a_menu_label() -> None:
    title = "New car sales plunge 10 percent in October"
    tree = tree_of(f'<div class="subnav"><a href="/business/article/1">{title}</a></div>')
    found = not_article_evidence(tree, "https://x.com/business/article/1", meta(title), PROSE)
    assert "headline is a menu label" not in reasons(found)


def test_a_short_body_is_evidence_unless_headline_and_date_confirm_an_article() -> None:
    short = ["Ngắn gọn vài chữ."]
    assert any(
        "words" in r
        for r in reasons(not_article_evidence(tree_of(""), "https://x.vn/a", meta("T", agrees=False), short))
    )
    assert not_article_evidence(tree_of(""), "https://x.vn/a", meta("T"), short) == []


def test_page_names_and_listing_titles_are_evidence() -> None:
    for title in ("Thông tin liên hệ", "Cơ cấu tổ chức", "Văn bản chỉ đạo điều hành", "Tags", "Tag: nông thôn mới"):
        assert not_article_evidence(tree_of(""), "https://x.vn/p", meta(title), PROSE), title
    assert (
        not_article_evidence(tree_of(""), "https://x.de/p", meta("Tag des Zweinutzungshuhns am Sonntag"), PROSE) == []
    )


def test_only_strong_evidence_outweighs_the_url_prior() -> None:
    weak, strong = Evidence("headline is a menu label"), Evidence("no text", strong=True)
    assert decide([weak], expect_article=True) is None
    assert decide([weak], expect_article=False) is weak
    assert decide([weak, strong], expect_article=True) is strong


def test_no_text_is_strong_evidence() -> None:
    found = not_article_evidence(tree_of(""), "https://x.vn/a", meta("T"), [])
    assert [e.strong for e in found] == [True]


def test_a_contact_page() -> None:
    lines = ["Địa chỉ: Số 4 Lê Lợi", "Điện thoại: 0227.3831.742", "Email: a@b.vn", "Giờ làm việc: sáng"]
    assert looks_like_contact_page(lines)
    assert not looks_like_contact_page(PROSE)

"""Page-type evidence, and the URL prior: only strong evidence rejects an article URL."""

from __future__ import annotations

import lxml.html

from transforms.metadata import PageMeta
from transforms.pagetype import (
    LONG_OWN_PROSE,
    MIN_OWN_PROSE,
    Evidence,
    decide,
    is_staff_table,
    looks_like_contact_page,
    not_article_evidence,
    own_prose_words,
    prose_chars,
)

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
    named = Evidence("a contact page (addresses and phone numbers)", named=True)
    assert decide([weak], expect_article=True) is None
    assert decide([named], expect_article=True) is None
    assert decide([weak, strong], expect_article=True) is strong


def test_without_the_prior_general_evidence_needs_confirmation() -> None:
    weak, other = Evidence("headline is a menu label"), Evidence("no date and no headline element")
    short, named = Evidence("40 words", short=True), Evidence("a contact page", named=True)
    prose, teasers = (lambda: MIN_OWN_PROSE + 200), (lambda: MIN_OWN_PROSE - 1)
    # An article whose headline its menu also prints (a blog's "About", a featured story).
    assert decide([weak], expect_article=False, own_prose=prose) is None
    assert decide([weak], expect_article=False, own_prose=teasers) is weak
    assert decide([weak, other], expect_article=False, own_prose=prose) is weak
    assert decide([weak, short], expect_article=False, own_prose=prose) is weak
    assert decide([short], expect_article=False, own_prose=teasers) is None  # a short article
    assert decide([named], expect_article=False, own_prose=prose) is named


def test_an_articles_length_of_own_prose_outweighs_general_evidence() -> None:
    weak, other = Evidence("headline is a menu label"), Evidence("the head names no headline and 8 headlines are links")
    long_story = lambda: LONG_OWN_PROSE  # noqa: E731
    assert decide([weak, other], expect_article=False, own_prose=long_story) is None
    named = Evidence("a table (names, posts and phone numbers), not prose, and no date", named=True)
    assert decide([named, weak], expect_article=False, own_prose=long_story) is named


def test_a_menu_label_the_head_agrees_with_needs_teasers_to_reject() -> None:
    label = Evidence("headline is a menu label", needs_teasers=True)
    # A short article whose menu links to it: 80 words, none of them teasers.
    assert decide([label], expect_article=False, own_prose=lambda: 80, body_words=80) is None
    # A section page: its headline is the menu's, its body the teasers of its articles.
    assert decide([label], expect_article=False, own_prose=lambda: 10, body_words=120) is label


def test_the_menu_label_evidence_says_whether_the_head_agrees() -> None:
    tree = tree_of('<ul class="menu"><li><a href="/kinh-te">Kinh tế - Xã hội</a></li></ul>')
    found = not_article_evidence(tree, "https://x.gov.vn/kinh-te", meta("Kinh tế - Xã hội", dated=False), PROSE)
    assert [e.needs_teasers for e in found if e.reason == "headline is a menu label"] == [True]


def test_without_teasers_a_short_body_confirms_only_when_it_holds_no_paragraph() -> None:
    other = Evidence("no date and no headline element")
    # A search page's leftovers: a slogan and form labels, no paragraph of prose.
    assert decide([other], expect_article=False, own_prose=lambda: 85, body_words=85, prose_chars=170) is other
    # A short page with a paragraph or two of its own (in any script).
    assert decide([other], expect_article=False, own_prose=lambda: 20, body_words=20, prose_chars=600) is None


def test_prose_chars_count_long_lines_that_are_not_links() -> None:
    lines = [
        "子どもへの体罰を禁止する法律ができる。" * 4,
        "Trang chủ",
        "Xem thêm các tin khác trong chuyên mục này nhé bạn",
    ]
    assert prose_chars(lines, {lines[2]}) == len(lines[0])


def test_teasers_are_not_the_pages_own_prose() -> None:
    summary = "Sáng 23/11, xã Kim Chính tổ chức lễ đón nhận Bằng công nhận xã đạt chuẩn nông thôn mới nâng cao."
    listing = tree_of(
        "".join(
            f'<div class="item"><h3><a href="/tin/{n}">Xã Kim Chính về đích nông thôn mới {n}</a></h3>'
            f'<span class="date">24/11/2023</span><span class="views">0</span><p>{summary}</p></div>'
            for n in range(3)
        )
    )
    lines = [line for n in range(3) for line in (f"Xã Kim Chính về đích nông thôn mới {n}", summary)]
    assert own_prose_words(listing, lines) == 0
    article = tree_of("".join(f"<p>{line}</p>" for line in lines))
    assert own_prose_words(article, lines) == sum(len(line.split()) for line in lines)


def test_a_teaser_in_one_cell_cut_by_brs() -> None:
    summary = "Huyện Kim Sơn phấn đấu hoàn thành các tiêu chí huyện đạt chuẩn nông thôn mới trong năm 2024."
    cell = tree_of(
        '<table><tr><td><a href="/t/1">Kim Sơn đẩy nhanh tiến độ nông thôn mới</a><span> - 12/10/2023</span>'
        f"<br><span>{summary}</span></td></tr></table>"
    )
    assert own_prose_words(cell, ["Kim Sơn đẩy nhanh tiến độ nông thôn mới - 12/10/2023", summary]) == 0


def test_no_text_is_strong_evidence() -> None:
    found = not_article_evidence(tree_of(""), "https://x.vn/a", meta("T"), [])
    assert [e.strong for e in found] == [True]


def test_a_staff_directory_is_a_table_with_phone_numbers() -> None:
    staff = [
        "TT | Họ và tên | Chức vụ | Điện thoại",
        "1 | Trần Minh Tuấn | Bí thư Huyện ủy | 0256.3850 201",
        "2 | Nguyễn Văn Hùng | Phó Bí thư Huyện ủy | 0905 316 447",
        "3 | Lê Thị Hoa | Chủ tịch UBND huyện | 0256.3850 203",
    ]
    assert is_staff_table(staff)
    figures = [
        "Hauptprodukt | 2020 | 2021 | Änderung",
        "Benzin | 16.128.400 | 16.401.211 | 1,7",
        "Diesel | 33.1 | 34.0 | 2,7",
    ]
    calendar = ["Su | Mo | Tu | We", "2 | 3 | 4 | 5", "9 | 10 | 11 | 12"]
    assert not is_staff_table(figures) and not is_staff_table(calendar)


def test_a_contact_page() -> None:
    lines = ["Địa chỉ: Số 4 Lê Lợi", "Điện thoại: 0227.3831.742", "Email: a@b.vn", "Giờ làm việc: sáng"]
    assert looks_like_contact_page(lines)
    assert not looks_like_contact_page(PROSE)

"""The body: lead, restored blocks, the vote of the two extractions, closing bylines."""

from __future__ import annotations

import lxml.html

from transforms.body import SHORT_BODY, clean_body, rescue_short, restore_dropped, vote, with_lead
from transforms.metadata import PageMeta

A = "Sáng 12/4, UBND tỉnh tổ chức hội nghị đánh giá tình hình kinh tế - xã hội quý I năm 2024 tại trụ sở."
B = "Theo báo cáo, tổng sản phẩm trên địa bàn tỉnh tăng 7,2% so với cùng kỳ, cao hơn mức bình quân cả nước."
C = "Kết luận hội nghị, Chủ tịch UBND tỉnh yêu cầu các sở, ngành tập trung tháo gỡ khó khăn cho doanh nghiệp."


def tree_of(body: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><body>{body}</body></html>")


def test_the_lead_comes_back_once() -> None:
    lead = "Tóm tắt: " + A
    tree = tree_of(f'<div class="sapo">{lead}</div><p>{B}</p>')
    assert with_lead(tree, [B]) == [lead, B]
    assert with_lead(tree, [lead, B]) == [lead, B]


def test_a_summary_wrapper_of_the_whole_article_is_not_a_lead() -> None:
    tree = tree_of(f'<div class="summary"><p>{A}</p><p>{B}</p></div>')
    assert with_lead(tree, [A, B]) == [A, B]


def test_a_dropped_paragraph_between_kept_ones_comes_back() -> None:
    tree = tree_of(f"<div><p>{A}</p><p>Ảnh: lễ khai mạc</p><p>{B}</p></div>")
    assert restore_dropped(tree, [A, B]) == [A, "Ảnh: lễ khai mạc", B]


def test_a_menu_between_kept_lines_does_not_come_back() -> None:
    menu = "".join(f"<li><a href='/c{i}'>Mục {i}</a></li>" for i in range(10))
    tree = tree_of(f"<div><p>{A}</p><ul>{menu}</ul><p>{B}</p></div>")
    assert restore_dropped(tree, [A, B]) == [A, B]


def test_the_vote_brings_back_a_paragraph_the_rules_kept_but_the_extraction_missed() -> None:
    kept_text = " ".join([A, B, C])
    assert vote([A, C], [A, B, C], kept_text, set()) == [A, B, C]


def test_the_vote_leaves_out_what_the_rules_removed_and_links() -> None:
    related = "Huyện Gia Lâm phát triển sản phẩm OCOP gắn với du lịch làng nghề (07/12/2020)"
    assert vote(
        [A, C], [A, related, C, "Tin liên quan khác ở đây"], " ".join([A, C]), {"Tin liên quan khác ở đây"}
    ) == [A, C]


def test_when_the_rules_left_nothing_the_untouched_page_extraction_stands() -> None:
    assert vote([], [A, B, "Chia sẻ Zalo"], "", set()) == [A, B]


def test_when_the_extractions_share_nothing_the_one_with_prose_stands() -> None:
    menu = ["Heidelberg", "Polizeibericht Heidelberg", "Campus Heidelberg", "Fotogalerien"] * 8
    # The cleaned page's extraction found a menu (or a teaser) after the rules removed the
    # article: the untouched page's prose is the article.
    assert vote(menu, [A, B, C], "", set(menu)) == [A, B, C]
    assert vote([A, B], [C], "", set()) == [A, B]  # both prose: the cleaned page's stands


def test_a_labelled_byline_above_the_text_is_lifted() -> None:
    meta = PageMeta()
    assert clean_body(["Bài, ảnh: Ngọc Tú", A, B], meta) == [A, B]
    assert meta.author == "Ngọc Tú"
    assert clean_body(["Minh Anh", A, B], PageMeta()) == ["Minh Anh", A, B]  # no label: a name stays


def test_a_short_body_is_rescued_by_the_fallback_extractors() -> None:
    lead = "L'évaluation et la bibliométrie sont au cœur des débats actuels."
    article = tree_of(f"<article><p>{lead}</p>" + "".join(f"<p>{x}</p>" for x in (A, B, C) * 3) + "</article>")
    rescued = rescue_short([lead], article, "https://x.fr/a", set())
    assert A in rescued and C in rescued
    long_body = [A, B, C] * (SHORT_BODY // 20 + 1)
    assert rescue_short(long_body, article, "https://x.fr/a", set()) is long_body


def test_a_closing_byline_is_lifted_and_the_scraps_after_it_go() -> None:
    meta = PageMeta(title="T")
    lines = [A, B, "Văn Tâm - Ban Tuyên giáo Huyện ủy", "VĂN KIỆN - NGHỊ QUYẾT", "Địa chỉ: Số 1 Quang Trung"]
    assert clean_body(lines, meta) == [A, B]
    assert meta.author == "Văn Tâm"


def test_an_attribution_gives_author_and_source() -> None:
    meta = PageMeta(title="T")
    assert clean_body([A, "Theo Ngọc Lan - Báo Ấp Bắc"], meta) == [A]
    assert (meta.author, meta.source) == ("Ngọc Lan", "Báo Ấp Bắc")


def test_the_headline_and_furniture_lines_are_not_body() -> None:
    assert clean_body(["T", A, "Lượt xem: 12", A, B], PageMeta(title="T")) == [A, B]

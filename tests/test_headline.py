"""The headline is the element that agrees with the head, not the first or biggest heading."""

from __future__ import annotations

import lxml.html

from transforms.headline import agreement, find_headline, head_titles, is_trail, words


def page(head: str, body: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def test_the_heading_that_agrees_with_og_title_wins_over_the_first_heading() -> None:
    tree = page(
        "<title>Khánh thành cầu mới ở xã Hòa Bình - Cổng thông tin điện tử huyện</title>"
        '<meta property="og:site_name" content="Cổng thông tin điện tử huyện">',
        "<h1>Cổng thông tin điện tử huyện</h1><h2>Tin tức sự kiện hôm nay</h2>"
        "<h2>Khánh thành cầu mới ở xã Hòa Bình</h2><p>...</p>",
    )
    headline, _ = find_headline(tree)
    assert headline is not None and headline.text == "Khánh thành cầu mới ở xã Hòa Bình"
    assert headline.agreement == 1.0 and not headline.names_site


def test_the_site_name_parts_of_the_title_are_not_headlines() -> None:
    titles = head_titles(page("<title>Hội nghị tổng kết năm 2023 | Báo Quảng Ninh</title>", ""))
    assert titles.headlines[0] == "Hội nghị tổng kết năm 2023"
    assert "báo quảng ninh" in titles.site_names


def test_a_table_site_headline_in_a_font_is_found_by_its_text() -> None:
    tree = page(
        "<title>Nông dân thu hoạch lúa Đông Xuân đạt năng suất cao</title>",
        '<table><tr><td><font size="3"><b>Nông dân thu hoạch lúa Đông Xuân đạt năng suất cao</b></font>'
        "</td></tr></table>",
    )
    headline, _ = find_headline(tree)
    assert headline is not None and headline.element is not None and headline.element.tag in ("b", "font")


def test_a_banner_that_repeats_a_site_only_head_names_the_site() -> None:
    tree = page(
        "<title>TRANG THÔNG TIN ĐIỆN TỬ HUYỆN NAM ĐÀN</title>",
        '<div id="header"><b>TRANG THÔNG TIN ĐIỆN TỬ HUYỆN NAM ĐÀN</b></div><p>' + "Tin ngắn. " * 30 + "</p>",
    )
    headline, _ = find_headline(tree)
    assert headline is not None and headline.names_site


def test_when_the_head_names_only_the_site_the_heading_the_prose_follows_is_the_headline() -> None:
    prose = "<p>" + "Sáng nay, huyện tổ chức hội nghị triển khai nhiệm vụ năm mới với nhiều nội dung. " * 4 + "</p>"
    tree = page(
        "<title>Đảng bộ huyện Kim Sơn - Tin hoạt động</title>",
        '<div id="header"><div class="title2">Đảng bộ huyện Kim Sơn</div></div>'
        '<div class="box"><h3>Thăm dò ý kiến</h3></div>'
        f'<h2 class="title-detail">Hội nghị Ban Chấp hành Đảng bộ huyện lần thứ 21</h2>{prose}'
        "<p><strong>Phạm Thu Hằng - Trung tâm VH-TT huyện</strong></p>",
    )
    headline, _ = find_headline(tree)
    assert headline is not None and headline.text == "Hội nghị Ban Chấp hành Đảng bộ huyện lần thứ 21"


def test_agreement_is_dice_over_words() -> None:
    assert agreement(words("a b c"), words("a b c")) == 1.0
    assert agreement(words("a b"), words("c d")) == 0.0
    assert round(agreement(words("a b c d"), words("a b")), 2) == 0.67


def test_a_breadcrumb_trail_is_never_the_headline() -> None:
    # A CMS that prints the trail as the page's <title> and as a heading above the article.
    tree = page(
        "<title>Trang chủ &gt; Chi tiết tin</title>",
        '<h2 class="title">Trang chủ &gt; Chi tiết tin</h2>'
        "<h3>Xã Tân Phú ra quân làm đường giao thông nông thôn năm 2024</h3>"
        "<p>Sáng 12/3, Ủy ban nhân dân xã Tân Phú tổ chức lễ ra quân làm đường giao thông nông thôn, "
        "với sự tham gia của hơn 300 người dân các ấp trong xã cùng đoàn viên thanh niên.</p>",
    )
    assert not any(is_trail(h) for h in head_titles(tree).headlines)
    headline, _ = find_headline(tree)
    assert headline is not None and headline.text == "Xã Tân Phú ra quân làm đường giao thông nông thôn năm 2024"
    assert is_trail("Home » News » Local") and not is_trail("Trang chủ mới của tỉnh ra mắt bạn đọc")

"""Metadata read from the untouched page: date near the headline, bylines, attributions."""

from __future__ import annotations

import lxml.html
import pytest

from transforms.metadata import byline_name, read_attribution, read_metadata


def page(body: str, head: str = "") -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def test_date_line_and_view_counter_under_the_headline() -> None:
    meta = read_metadata(
        page(
            "<h1>Khánh thành cầu mới ở xã Hòa Bình</h1>"
            "<div class='date'>Thứ Hai, 17/02/2023 09:15 | Lượt xem: 1.234</div>",
            "<title>Khánh thành cầu mới ở xã Hòa Bình - Cổng TTĐT</title>",
        )
    )
    assert meta.title == "Khánh thành cầu mới ở xã Hòa Bình" and meta.title_found and meta.title_agrees
    assert meta.published is not None and meta.published.isoformat() == "2023-02-17T09:15:00+07:00"
    assert meta.view_count == 1234


def test_the_date_near_a_site_name_is_not_the_page_date() -> None:
    meta = read_metadata(
        page(
            '<div id="header"><b>TRANG THÔNG TIN ĐIỆN TỬ HUYỆN</b></div><p><font>(22/09/2023 08:15)</font></p>',
            "<title>TRANG THÔNG TIN ĐIỆN TỬ HUYỆN</title>",
        )
    )
    assert not meta.title_found and meta.published is None


def test_a_right_aligned_link_is_not_a_byline() -> None:
    meta = read_metadata(
        page("<h1>Tin vui cho nông dân xã Hòa Bình</h1><p>...</p><p align='right'><a href='/x'>Xem thêm »</a></p>")
    )
    assert meta.author is None


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("Minh Anh", "Minh Anh"),
        ("Bài và ảnh: THU HÀ", "THU HÀ"),
        ("Bài, ảnh: Ngọc Tú", "Ngọc Tú"),
        ("Tin: Hoàng Minh Khôi", "Hoàng Minh Khôi"),
        ("QUANG TÂM", "QUANG TÂM"),
        ("Văn Tâm - Ban Tuyên giáo Huyện ủy", "Văn Tâm"),
        ("Minh Thư (Đài Truyền thanh huyện)", "Minh Thư"),
        ("Phòng Thông tin - Truyền thông", "Phòng Thông tin - Truyền thông"),
        ("PV", "PV"),
        ("Tác giả bài viết: Hoàng Thu Trang", "Hoàng Thu Trang"),
        ("Trần Văn Nam - Trung tâm Văn hóa - Thể thao và Truyền thanh thành phố", "Trần Văn Nam"),
    ],
)
def test_bylines(line: str, name: str) -> None:
    assert byline_name(line) == name


@pytest.mark.parametrize("line", ["Xem thêm »", "ĐVT: nghìn đồng/lượng", "Hội nghị đã thành công tốt đẹp."])
def test_not_bylines(line: str) -> None:
    assert byline_name(line) is None


def test_attributions() -> None:
    assert read_attribution("Theo Ngọc Lan - Báo Ấp Bắc") == ("Ngọc Lan", "Báo Ấp Bắc")
    assert read_attribution("Nguồn: baoquangninh.vn") == (None, "baoquangninh.vn")
    assert read_attribution("Theo Báo Quảng Ninh") == (None, "Báo Quảng Ninh")
    assert read_attribution("Theo kế hoạch, công trình sẽ hoàn thành trong năm nay.") is None

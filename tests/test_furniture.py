"""The furniture catalogue: containers by class words, boxes by their heading, lines by text."""

from __future__ import annotations

import pytest

from transforms.furniture import (
    attribute_words,
    is_furniture_container,
    is_furniture_line,
    is_menu_row,
    starts_with_box_heading,
)


@pytest.mark.parametrize("value", ["box-share", "shareBar", "tin_lienquan", "comment-form", "thongke", "sidebar"])
def test_containers_by_class_words(value: str) -> None:
    assert is_furniture_container(value)


@pytest.mark.parametrize(
    "value",
    [
        "post-1 type-post tag-chia-se category-tin-tuc",  # WordPress term classes on the article itself
        "elementor-widget elementor-widget-text-editor",  # a page builder's text block
        "content-detail",
    ],
)
def test_the_article_own_parts_are_not_containers(value: str) -> None:
    assert not is_furniture_container(value)


def test_attribute_words_split_camel_case_and_join() -> None:
    assert {"share", "bar", "sharebar"} <= attribute_words("shareBar")


@pytest.mark.parametrize(
    "line",
    [
        "Lượt xem: 1.234",
        "Số lần xem: 2063",
        "Chia sẻ Zalo",
        "[In bản tin] [Gửi cho bạn bè] [Về đầu trang] [Quay lại]",
        "[A-] [A] [A+] | In trang | Gửi email | Quay lại",
        "Trang chủ » Tin tức - Sự kiện » Kinh tế",
        "Giấy phép số 17/GP-TTĐT ngày 12/8/2009 của Sở Thông tin và Truyền thông",
        "Chịu trách nhiệm chính: Ông Võ Thanh Phong",
        "🎧Nghe bài viết 00:00 / 03:05",
        "Tệp đính kèm: TB_2024.pdf",
        "TRANG CHỦ | GIỚI THIỆU | TIN TỨC | LIÊN HỆ",
        "Thứ Hai, 17/02/2023 09:15",
    ],
)
def test_furniture_lines(line: str) -> None:
    assert is_furniture_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Sáng 12/4, UBND tỉnh tổ chức hội nghị đánh giá tình hình kinh tế - xã hội quý I.",
        "Xã | Diện tích (ha) | Năng suất (tấn/ha) | Sản lượng (tấn)",
        "Thanh Bình | 612 | 6,6 | 4.039",
        "Giấy phép xây dựng được cấp cho 12 hộ dân trong tháng.",
    ],
)
def test_prose_and_tables_are_not_furniture_lines(line: str) -> None:
    assert not is_furniture_line(line)


def test_menu_rows_are_in_capitals() -> None:
    assert is_menu_row("TRANG CHỦ | GIỚI THIỆU | LIÊN HỆ")
    assert not is_menu_row("Xã | Diện tích | Sản lượng")


def test_box_headings() -> None:
    assert starts_with_box_heading("Tin đọc nhiều")
    assert starts_with_box_heading("Thăm dò ý kiến")
    assert not starts_with_box_heading("Tin vui cho nông dân")

"""Vietnamese date formats read as timezone-aware Asia/Ho_Chi_Minh times."""

from __future__ import annotations

from datetime import datetime

import pytest

from kernel.timestamps import VN_TZ, parse_iso_date
from transforms.dates import parse_vietnamese_date, plausible


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ngày đăng 18/05/2022 | 08:40  | Lượt xem: 651", vn(2022, 5, 18, 8, 40)),
        ("(12:48 29/11/2020)", vn(2020, 11, 29, 12, 48)),
        ("Thứ Hai, 17/02/2023 09:15", vn(2023, 2, 17, 9, 15)),
        ("17/02/2023 - 09:15 GMT+7", vn(2023, 2, 17, 9, 15)),
        ("09:15 | 17/02/2023", vn(2023, 2, 17, 9, 15)),
        ("Cập nhật: 12/06/2018 10:30", vn(2018, 6, 12, 10, 30)),
        ("Ngày 5/3/2024", vn(2024, 3, 5)),
        ("Hà Nội, ngày 5 tháng 3 năm 2024", vn(2024, 3, 5)),
        ("không có ngày", None),
        ("31/02/2023", None),
    ],
)
def test_vietnamese_dates(text: str, expected: datetime | None) -> None:
    got = parse_vietnamese_date(text)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None and got.utcoffset().total_seconds() == 7 * 3600  # type: ignore[union-attr]


def test_other_offsets_are_converted() -> None:
    got = parse_vietnamese_date("17/02/2023 - 02:15 GMT+0")
    assert got == vn(2023, 2, 17, 9, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-05-18T08:40:00+07:00", vn(2022, 5, 18, 8, 40)),
        ("2022-05-18T01:40:00Z", vn(2022, 5, 18, 8, 40)),
        ("2022-05-18 08:40", vn(2022, 5, 18, 8, 40)),
        ("2022-05-18", vn(2022, 5, 18)),
        ("yesterday", None),
    ],
)
def test_iso_dates(text: str, expected: datetime | None) -> None:
    assert parse_iso_date(text) == expected


def test_plausible_bounds() -> None:
    assert plausible(vn(1990, 1, 1)) is None
    assert plausible(vn(2999, 1, 1)) is None
    assert plausible(vn(2020, 1, 1)) == vn(2020, 1, 1)

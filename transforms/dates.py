"""Vietnamese publication dates: the formats portals print, read as Asia/Ho_Chi_Minh.

Handles "Ngày đăng 18/05/2022 | 08:40", "(12:48 29/11/2020)", "Thứ Hai, 17/02/2023 09:15",
"17/02/2023 - 09:15 GMT+7", "09:15 | 17/02/2023", "Cập nhật: 12/06/2018 10:30",
"ngày 5 tháng 3 năm 2024", ISO 8601 strings from ``<time datetime>``, meta tags and JSON-LD.
A date without a time of day is read as midnight; every result is timezone-aware.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from kernel.timestamps import VN_TZ, local_datetime

_DMY = r"(?P<d>\d{1,2})\s*[/.-]\s*(?P<m>\d{1,2})\s*[/.-]\s*(?P<y>\d{4})"
_HM = r"(?P<H>\d{1,2})\s*[:hg]\s*(?P<M>\d{2})(?:\s*:\s*(?P<S>\d{2}))?"
_TIME_THEN_DATE = re.compile(_HM + r"\s*(?:[|,\-–]|ngày)?\s*(?:[A-Za-zÀ-ỹ ]+,\s*)?" + _DMY)
_DATE_THEN_TIME = re.compile(_DMY + r"(?:\s*(?:[|,\-–]|lúc)?\s*" + _HM + r")?")
_WORDS = re.compile(r"ngày\s+(?P<d>\d{1,2})\s+tháng\s+(?P<m>\d{1,2})\s+năm\s+(?P<y>\d{4})", re.IGNORECASE)
_OFFSET = re.compile(r"GMT\s*([+-])\s*(\d{1,2})")


def _offset_in(text: str) -> timezone | ZoneInfo:
    match = _OFFSET.search(text)
    if not match:
        return VN_TZ
    hours = int(match.group(2)) * (1 if match.group(1) == "+" else -1)
    return timezone(timedelta(hours=hours))


def parse_vietnamese_date(text: str) -> datetime | None:
    """The first date (with its time of day where printed) in a Vietnamese text, or None."""
    tz = _offset_in(text)
    candidates: list[tuple[int, datetime]] = []
    for match in _TIME_THEN_DATE.finditer(text):
        g = match.groupdict()
        dt = local_datetime(g["y"], g["m"], g["d"], g["H"], g["M"], g["S"], tz)
        if dt:
            candidates.append((match.start(), dt))
    for match in _DATE_THEN_TIME.finditer(text):
        g = match.groupdict()
        dt = local_datetime(g["y"], g["m"], g["d"], g.get("H"), g.get("M"), g.get("S"), tz)
        if dt:
            candidates.append((match.start(), dt))
    for match in _WORDS.finditer(text):
        dt = local_datetime(match["y"], match["m"], match["d"], None, None, None, tz)
        if dt:
            candidates.append((match.start(), dt))
    if not candidates:
        return None
    # Prefer a match that carries a time of day when two start at the same place.
    candidates.sort(key=lambda c: (c[0], c[1].hour == 0 and c[1].minute == 0))
    return candidates[0][1].astimezone(VN_TZ) if tz is not VN_TZ else candidates[0][1]


def plausible(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """The date if it could be a publication date (1995 up to one day ahead), else None."""
    if dt is None:
        return None
    now = now or datetime.now(VN_TZ)
    if dt.year < 1995 or dt > now + timedelta(days=1):
        return None
    return dt

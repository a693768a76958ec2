"""Vietnamese publication dates: the formats portals print, read as Asia/Ho_Chi_Minh.

Handles "Ngày đăng 18/05/2022 | 08:40", "(12:48 29/11/2020)", "Thứ Hai, 17/02/2023 09:15",
"17/02/2023 - 09:15 GMT+7", "09:15 | 17/02/2023", "Cập nhật: 12/06/2018 10:30",
"ngày 5 tháng 3 năm 2024", ISO 8601 strings from ``<time datetime>``, meta tags and JSON-LD.
A date without a time of day is read as midnight; every result is timezone-aware.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_DMY = r"(?P<d>\d{1,2})\s*[/.-]\s*(?P<m>\d{1,2})\s*[/.-]\s*(?P<y>\d{4})"
_HM = r"(?P<H>\d{1,2})\s*[:hg]\s*(?P<M>\d{2})(?:\s*:\s*(?P<S>\d{2}))?"
_TIME_THEN_DATE = re.compile(_HM + r"\s*(?:[|,\-–]|ngày)?\s*(?:[A-Za-zÀ-ỹ ]+,\s*)?" + _DMY)
_DATE_THEN_TIME = re.compile(_DMY + r"(?:\s*(?:[|,\-–]|lúc)?\s*" + _HM + r")?")
_WORDS = re.compile(r"ngày\s+(?P<d>\d{1,2})\s+tháng\s+(?P<m>\d{1,2})\s+năm\s+(?P<y>\d{4})", re.IGNORECASE)
_OFFSET = re.compile(r"GMT\s*([+-])\s*(\d{1,2})")
_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*"
    r"(Z|[+-]\d{2}:?\d{2})?\s*$"
)


def _build(
    y: str, m: str, d: str, hh: str | None, mm: str | None, ss: str | None, tz: timezone | ZoneInfo = VN_TZ
) -> datetime | None:
    try:
        return datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=tz)
    except ValueError:
        return None


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
        dt = _build(g["y"], g["m"], g["d"], g["H"], g["M"], g["S"], tz)
        if dt:
            candidates.append((match.start(), dt))
    for match in _DATE_THEN_TIME.finditer(text):
        g = match.groupdict()
        dt = _build(g["y"], g["m"], g["d"], g.get("H"), g.get("M"), g.get("S"), tz)
        if dt:
            candidates.append((match.start(), dt))
    for match in _WORDS.finditer(text):
        dt = _build(match["y"], match["m"], match["d"], None, None, None, tz)
        if dt:
            candidates.append((match.start(), dt))
    if not candidates:
        return None
    # Prefer a match that carries a time of day when two start at the same place.
    candidates.sort(key=lambda c: (c[0], c[1].hour == 0 and c[1].minute == 0))
    return candidates[0][1].astimezone(VN_TZ) if tz is not VN_TZ else candidates[0][1]


def parse_iso_date(text: str) -> datetime | None:
    """An ISO 8601 date or date-time; a value without offset is read in Vietnam time."""
    match = _ISO.match(text or "")
    if not match:
        return None
    y, m, d, hh, mm, ss, off = match.groups()
    dt = _build(y, m, d, hh, mm, ss)
    if dt is None:
        return None
    if off:
        if off == "Z":
            tz = UTC
        else:
            sign = 1 if off[0] == "+" else -1
            digits = off[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        dt = dt.replace(tzinfo=tz).astimezone(VN_TZ)
    return dt


def plausible(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """The date if it could be a publication date (1995 up to one day ahead), else None."""
    if dt is None:
        return None
    now = now or datetime.now(VN_TZ)
    if dt.year < 1995 or dt > now + timedelta(days=1):
        return None
    return dt

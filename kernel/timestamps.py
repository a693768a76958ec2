"""Time as the portals and the pipeline keep it: Vietnam's zone, and ISO 8601 stamps read
timezone-aware (a stamp without an offset is Vietnam time, as the portals mean it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*"
    r"(Z|[+-]\d{2}:?\d{2})?\s*$"
)


def local_datetime(
    y: str, m: str, d: str, hh: str | None, mm: str | None, ss: str | None, tz: timezone | ZoneInfo = VN_TZ
) -> datetime | None:
    """The datetime of the given fields (strings as a regex captured them), or None when
    they name no real date."""
    try:
        return datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=tz)
    except ValueError:
        return None


def parse_iso_date(text: str) -> datetime | None:
    """An ISO 8601 date or date-time; a value without offset is read in Vietnam time."""
    match = _ISO.match(text or "")
    if not match:
        return None
    y, m, d, hh, mm, ss, off = match.groups()
    dt = local_datetime(y, m, d, hh, mm, ss)
    if dt is None:
        return None
    if off:
        if off == "Z":
            tz: timezone | ZoneInfo = UTC
        else:
            sign = 1 if off[0] == "+" else -1
            digits = off[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        dt = dt.replace(tzinfo=tz).astimezone(VN_TZ)
    return dt

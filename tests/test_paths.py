"""File and partition names come only from validated slugs, run ids and dates: nothing a
page says can place a file outside the data dir."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.layout import DataLayout, new_run_id
from kernel.schema import partition_of

ROOT = Path("/srv/vnportals-data")
LAYOUT = DataLayout(ROOT)
HOSTILE = st.one_of(
    st.text(min_size=0, max_size=40),
    st.sampled_from(["..", "../etc", "a/../../b", "%2F..%2Fetc", "a\x00b", "/abs", "a/b", ".hidden", "A", ""]),
)


def inside(path: Path) -> bool:
    return ROOT in path.resolve().parents


@given(HOSTILE)
def test_a_site_name_is_a_slug_or_refused(site: str) -> None:
    try:
        paths = [LAYOUT.warc_path(site, new_run_id()), LAYOUT.extracted_path(site, new_run_id())]
    except ValueError:
        return
    assert all(inside(p) for p in paths)
    assert "/" not in site and ".." not in site and "\x00" not in site


@given(HOSTILE)
def test_a_run_id_is_a_timestamp_or_refused(run_id: str) -> None:
    try:
        path = LAYOUT.crawl_log_path("longbien", run_id)
    except ValueError:
        return
    assert inside(path)


@given(st.datetimes(timezones=st.just(timezone(timedelta(hours=7)))) | st.none())
def test_partition_names_are_months(published: datetime | None) -> None:
    month = partition_of(published)
    assert month == "undated" or (len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit())


def test_validated_names_pass() -> None:
    assert LAYOUT.warc_path("long-bien", "20261123T010000Z").name == "20261123T010000Z.warc.gz"
    with pytest.raises(ValueError, match="slug"):
        LAYOUT.warc_path("../etc", "20261123T010000Z")

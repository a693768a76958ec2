"""The raw archive's format holds up to a kill: a WARC cut at any byte is read up to its last
complete record, never a record cut short; and what a sitemap or feed announces is compared
in one form whatever way the portal writes its dates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawlers.archive import PageItem, RawArchive
from crawlers.spider import announced_value
from crawlers.warc import ReadReport, WarcFile, read_records
from kernel.layout import DataLayout
from pipeline.extract import read_warc


def write_warc(path: Path, bodies: list[bytes]) -> list[int]:
    """Write one record per body; returns the file size after each."""
    warc = WarcFile(path)
    ends = []
    for i, body in enumerate(bodies):
        headers = [("Content-Type", "text/html")]
        warc.write_response(f"http://a.vn/bai/{i}.html", 200, headers, body, "2026-03-01T01:00:00Z", {})
        ends.append(path.stat().st_size)
    warc.close()
    return ends


def test_a_warc_cut_anywhere_reads_up_to_its_last_complete_record(tmp_path: Path) -> None:
    # Incompressible bodies, so a cut inside a record is a cut inside its body too.
    bodies = [os.urandom(3000) + b"<html>%d</html>" % i for i in range(4)]
    full = tmp_path / "full.warc.gz"
    ends = write_warc(full, bodies)
    data = full.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    for size in range(0, len(data) + 1, 37):
        cut.write_bytes(data[:size])
        report = ReadReport()
        got = [r.content_stream().read() for r in read_records(cut, report)]
        complete = sum(end <= size for end in ends)
        assert got == bodies[:complete], size
        assert report.cut_short is (size not in (0, *ends))
    assert [p.body for p in read_warc(full)] == bodies


def test_garbage_after_the_last_record_is_not_a_record(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    write_warc(path, [b"<p>one</p>", b"<p>two</p>"])
    with path.open("ab") as fh:
        fh.write(b"\0" * 512)  # what a power cut can leave at the end of a file
    report = ReadReport()
    assert [r.content_stream().read() for r in read_records(path, report)] == [b"<p>one</p>", b"<p>two</p>"]
    assert report.cut_short


def test_the_raw_archive_keeps_the_page_as_fetched(tmp_path: Path) -> None:
    archive = RawArchive(DataLayout(tmp_path), "phuongmau", "20260301T010000Z")
    body = "<html><body><p>Ủy ban nhân dân phường</p></body></html>".encode()
    archive.write_page(
        PageItem("http://a.vn/bai/1.html", "article", 200, [("Content-Type", "text/html; charset=utf-8")], body, "x")
    )
    archive.close()
    (page,) = read_warc(DataLayout(tmp_path).warc_path("phuongmau", "20260301T010000Z"))
    assert (page.url, page.kind, page.status, page.body, page.charset) == (
        "http://a.vn/bai/1.html",
        "article",
        200,
        body,
        "utf-8",
    )


@pytest.mark.parametrize(
    ("written", "same_as"),
    [
        ("2026-03-01T08:00:00+07:00", "2026-03-01T01:00:00Z"),
        ("2026-03-01T08:00:00", "2026-03-01T01:00:00+00:00"),  # no offset: Vietnam time
        ("2026-03-01 08:00", "2026-03-01T08:00:00+07:00"),
        ("Sun, 01 Mar 2026 01:00:00 GMT", "2026-03-01T08:00:00+07:00"),
        (" 2019-05-01 ", "2019-05-01T00:00:00+07:00"),
    ],
)
def test_announcements_compare_as_instants(written: str, same_as: str) -> None:
    assert announced_value(written) == announced_value(same_as)


def test_announcements_that_are_not_dates_compare_as_text() -> None:
    assert announced_value("hôm qua") == announced_value(" hôm  qua ")
    assert announced_value("hôm qua") != announced_value("hôm nay")
    assert announced_value("") is None and announced_value(None) is None

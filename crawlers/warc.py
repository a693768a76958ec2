"""The raw archive's file format: gzipped WARC, one gzip member per record, written so that a
file cut short by a kill stays readable up to its last complete record.

Writing: each record is compressed whole in memory and appended with one ``write`` on an
unbuffered file, so the file on disk is always a run of complete members, possibly followed
by the start of one more (a kill or a full disk in the middle of the last write).
:meth:`WarcFile.sync` makes everything written so far durable (``fsync``); the crawl calls
it before it lets its state call those pages known.

Reading: :func:`read_records` checks every member's gzip trailer (CRC and length) before it
hands the record out, and stops at the first member that is incomplete or corrupt. warcio's
own reader does not: on a cut file it returns the last record's body cut short, or raises.

This module needs only warcio and the standard library (no Scrapy), so the extraction step
can read the archive without importing the crawler.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# Custom WARC header fields (WARC 1.1 allows extension fields).
SITE_FIELD = "VNPortals-Site"
KIND_FIELD = "VNPortals-Page-Kind"

_READ_CHUNK = 1 << 16


class WarcFile:
    """Appends response records to one ``.warc.gz`` file, a gzip member per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.records = 0

    def write_response(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        fetched_at: str,
        extra: dict[str, str],
    ) -> int:
        """Append one response record; returns the bytes written."""
        if self._fd is None:
            raise ValueError(f"{self.path}: the WARC file is closed")
        buffer = BytesIO()
        writer = WARCWriter(buffer, gzip=True)
        http_headers = StatusAndHeaders(f"{status} OK", headers, protocol="HTTP/1.1")
        record = writer.create_warc_record(
            url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Date": fetched_at,
                "WARC-Payload-Digest": "sha1:" + hashlib.sha1(body).hexdigest(),
                **extra,
            },
        )
        writer.write_record(record)
        member = memoryview(buffer.getbuffer())
        written = 0
        while written < len(member):
            written += os.write(self._fd, member[written:])
        self.records += 1
        return written

    def sync(self) -> None:
        """Everything written so far is on disk when this returns."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None


@dataclass
class ReadReport:
    """How far :func:`read_records` got: records read, and whether the file was cut short
    (an incomplete or corrupt member after them)."""

    records: int = 0
    cut_short: bool = False
    good_bytes: int = 0


def _members(fh: IO[bytes], report: ReadReport) -> Iterator[bytes]:
    """The decompressed content of each complete gzip member, in file order."""
    pending = b""
    while True:
        inflater = zlib.decompressobj(wbits=31)
        parts: list[bytes] = []
        data = pending
        consumed = 0
        while not inflater.eof:
            if not data:
                data = fh.read(_READ_CHUNK)
                if not data:
                    # End of file: clean between members, cut short inside one.
                    report.cut_short = bool(parts) or consumed > 0
                    return
            try:
                parts.append(inflater.decompress(data))
            except zlib.error:
                report.cut_short = True
                return
            consumed += len(data) - len(inflater.unused_data)
            data = b""
        pending = inflater.unused_data
        report.good_bytes += consumed
        yield b"".join(parts)


def read_records(path: Path, report: ReadReport | None = None) -> Iterator[Any]:
    """The WARC records of ``path`` (warcio records, their streams already in memory), up to
    the last complete one; ``report`` says how far it got."""
    report = report if report is not None else ReadReport()
    with path.open("rb") as fh:
        for member in _members(fh, report):
            for record in ArchiveIterator(BytesIO(member)):
                report.records += 1
                yield record

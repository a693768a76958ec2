"""Kill a night anywhere: two imitation portals on 127.0.0.1 and 127.0.0.2, a first night, a
second night with new and revised articles run as ``vnportals run`` in a process group of
its own and SIGKILLed (the whole group, as the OOM killer or a worker restart would) at a
point chosen by watching its ledger, then one normal run; the dataset it leaves, next to the
one an uninterrupted second night leaves. ``tests/test_kill_anywhere.py`` and
``bench/kill_anywhere.py`` use it.

A kill point is a condition on the killed run's files, polled every few milliseconds:
``crawl`` (its WARC holds an article of the night), ``crawl-committed`` (a portal's crawl
record says ok), ``extract``/``validate`` (a portal's record of the step says running),
``extract-committed``/``validate-committed`` (says ok), ``publish`` (the publish record says
running), ``publish-committed`` (says ok: killed before the report); or ``at:S``, S seconds
after the run started (for a benchmark spreading kills over a night's duration).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds

from crawlers.warc import read_records
from kernel.layout import RUN_ID_RE, DataLayout
from tests.support.cli import VNPORTALS, run_cli
from tests.support.portalserver import Page, PortalServer

PORTALS = {"phuonga": "127.0.0.1", "phuongb": "127.0.0.2"}
FIRST_NIGHT = 5  # articles per portal on the first night
NEW = (6, 7, 8)  # the second night's new articles
REVISED = (2,)  # announced by the sitemap only, from a clock years behind
OLD_LASTMOD = "2019-05-01T08:00:00+07:00"
NEW_LASTMOD = "2019-05-02T09:30:00+07:00"
POINTS = (
    "crawl",
    "crawl-committed",
    "extract",
    "extract-committed",
    "validate",
    "validate-committed",
    "publish",
    "publish-committed",
)
STEADY = "Ủy ban nhân dân {place} đã tổ chức hội nghị triển khai kế hoạch số {n}, giao các phòng ban rà soát"
WORDS = ["vỉa hè", "chiếu sáng", "cây xanh", "thoát nước", "chợ dân sinh", "trường học", "nhà văn hóa", "trạm y tế"]


def article(place: str, n: int, revision: str = "") -> Page:
    """An article page of its own text (text shared by many pages is learned as furniture)."""
    paragraphs = "".join(
        f"<p>{STEADY.format(place=place, n=n)} hạng mục {WORDS[(n + i) % len(WORDS)]}, đoạn {i} của bài {n}. "
        f"Kinh phí dự kiến {n * 7 + i} tỷ đồng, hoàn thành trong quý {i % 4 + 1}. {revision}</p>"
        for i in range(5)
    )
    return Page(
        f"<html><head><title>Tin {n} của {place}</title></head><body><h1>Tin {n} của {place}: kế hoạch số {n}</h1>"
        f"<p class='date'>Ngày đăng {n + 10:02d}/03/2024 08:00</p>"
        f"<div class='content'>{paragraphs}</div></body></html>",
        etag=f'"{place}-{n}-{len(revision)}"',
    )


def listing(numbers: list[int]) -> Page:
    links = "".join(f"<li><a href='/bai/{n}.html'>Tin số {n}</a></li>" for n in numbers)
    return Page(f"<html><body><h1>Tin tức</h1><ul>{links}</ul></body></html>")


def sitemap(base: str, entries: dict[int, str]) -> Page:
    urls = "".join(f"<url><loc>{base}/bai/{n}.html</loc><lastmod>{when}</lastmod></url>" for n, when in entries.items())
    return Page(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
        content_type="application/xml",
    )


@dataclass
class Portals:
    """The imitation portals, their registry, and which night they show."""

    servers: dict[str, PortalServer]
    registry: Path

    def first_night(self) -> None:
        for slug, server in self.servers.items():
            numbers = list(range(1, FIRST_NIGHT + 1))
            server.pages.update(
                {
                    "/robots.txt": Page("User-agent: *\nDisallow:\n", content_type="text/plain"),
                    "/tin-tuc": listing(numbers[::-1]),
                    "/sitemap.xml": sitemap(server.base, dict.fromkeys(numbers, OLD_LASTMOD)),
                    **{f"/bai/{n}.html": article(slug, n) for n in numbers},
                }
            )

    def second_night(self) -> None:
        for slug, server in self.servers.items():
            numbers = [*range(1, FIRST_NIGHT + 1), *NEW]
            for n in NEW:
                server.pages[f"/bai/{n}.html"] = article(slug, n)
            for n in REVISED:
                server.pages[f"/bai/{n}.html"] = article(slug, n, revision="Bổ sung: tiến độ điều chỉnh.")
            server.pages["/tin-tuc"] = listing(numbers[::-1])
            announced = {n: NEW_LASTMOD if n in REVISED else OLD_LASTMOD for n in numbers}
            server.pages["/sitemap.xml"] = sitemap(server.base, announced)


@contextmanager
def imitation_portals(root: Path) -> Iterator[Portals]:
    """The portals, serving their first night."""
    registry = root / "sites"
    registry.mkdir(parents=True)
    with ExitStack() as stack:
        servers = {slug: stack.enter_context(PortalServer(host)) for slug, host in PORTALS.items()}
        for slug, server in servers.items():
            (registry / f"{slug}.toml").write_text(
                f'name = "Cổng {slug}"\nkind = "government"\nprovince = "Hà Nội"\ndomains = ["{server.host}"]\n'
                f'start_urls = ["{server.base}/tin-tuc"]\nsitemaps = ["{server.base}/sitemap.xml"]\n'
                "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc$']\n"
                # A little politeness, so that a crawl lasts long enough to be killed in it.
                "[crawl]\ndownload_delay = 0.1\n",
                encoding="utf-8",
            )
        portals = Portals(servers, registry)
        portals.first_night()
        yield portals


def night(portals: Portals, data: Path) -> subprocess.CompletedProcess[str]:
    """One normal ``vnportals run``; fails loudly unless it succeeded."""
    result = run_cli("run", "--registry", str(portals.registry), "--data-dir", str(data), timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"vnportals run exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def dataset(data: Path) -> set[tuple[str, str, str]]:
    """The published dataset as (article_id, content_hash, body) rows."""
    table = ds.dataset(data / "articles", format="parquet", partitioning="hive").to_table(
        columns=["article_id", "content_hash", "body"]
    )
    rows = list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    return set(rows)


def _record_state(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["state"])
    except (OSError, ValueError, KeyError):
        return None


def _new_run(layout: DataLayout, known: set[str]) -> str | None:
    if not layout.runs.is_dir():
        return None
    fresh = [p.name for p in layout.runs.iterdir() if RUN_ID_RE.match(p.name) and p.name not in known]
    return max(fresh) if fresh else None


def _reached(layout: DataLayout, run_id: str, point: str, elapsed: float) -> bool:
    if point.startswith("at:"):
        return elapsed >= float(point[3:])
    step, _, committed = point.partition("-")
    wanted = "ok" if committed else "running"
    if step == "publish":
        return _record_state(layout.step_record_path(run_id, "publish")) == wanted
    for slug in PORTALS:
        if point == "crawl":
            warc = layout.warc_path(slug, run_id)
            try:
                if warc.exists() and any(
                    r.rec_headers.get_header("VNPortals-Page-Kind") == "article" for r in read_records(warc)
                ):
                    return True
            except OSError:
                continue
        elif _record_state(layout.step_record_path(run_id, step, slug)) == wanted:
            return True
    return False


@dataclass(frozen=True)
class Kill:
    point: str
    run_id: str | None
    reached: bool  # False: the run ended before the point was seen
    seconds: float


def killed_night(portals: Portals, data: Path, point: str, timeout_s: float = 300) -> Kill:
    """A ``vnportals run`` in its own process group, SIGKILLed (the group) at ``point``."""
    layout = DataLayout(data)
    known = {p.name for p in layout.runs.iterdir()} if layout.runs.is_dir() else set()
    cmd = [VNPORTALS, "run", "--registry", str(portals.registry), "--data-dir", str(data)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
    run_id: str | None = None
    reached = False
    try:
        while time.monotonic() - start < timeout_s and proc.poll() is None:
            run_id = run_id or _new_run(layout, known)
            if run_id is not None and _reached(layout, run_id, point, time.monotonic() - start):
                reached = True
                break
            time.sleep(0.002)
    finally:
        with suppress(ProcessLookupError):  # it ended before the point was seen
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return Kill(point, run_id, reached, round(time.monotonic() - start, 2))


def copy_data(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target

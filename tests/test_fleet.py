"""Many portals in one crawl process: each with its own state, archive, log, politeness and
end; a portal that fails or hangs ends alone; portals on one host share its politeness; a cap
on portals in flight; memory bounded by spilling the frontier to disk; and the crawl process
imports nothing heavy it does not use."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernel.layout import DataLayout, new_run_id
from kernel.registry import load_registry
from pipeline.crawl import CrawlSummary, crawl_sites
from pipeline.extract import read_warc
from tests.support.portalserver import Page, PortalServer
from tests.test_incremental import article, listing

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def write_site(registry: Path, slug: str, server: PortalServer, prefix: str = "", crawl: str = "") -> None:
    """A site config for a portal on ``server`` (under ``prefix``); no delay unless ``crawl`` sets one."""
    if "download_delay" not in crawl:
        crawl = "download_delay = 0\n" + crawl
    registry.mkdir(exist_ok=True)
    (registry / f"{slug}.toml").write_text(
        f'name = "Cổng {slug}"\nkind = "government"\nprovince = "Hà Nội"\ndomains = ["{server.host}"]\n'
        f'start_urls = ["{server.base}{prefix}/tin-tuc"]\n'
        f"article_urls = ['{prefix}/bai/\\d+\\.html$']\nlisting_urls = ['{prefix}/tin-tuc$']\n"
        f"[crawl]\n{crawl}",
        encoding="utf-8",
    )


def serve_portal(server: PortalServer, numbers: list[int], prefix: str = "", robots: str = "Allow: /") -> None:
    server.pages["/robots.txt"] = Page(f"User-agent: *\n{robots}\n", content_type="text/plain")
    page = listing(numbers, None)
    page.body = str(page.body).replace("/bai/", f"{prefix}/bai/")
    server.pages[f"{prefix}/tin-tuc"] = page
    server.pages.update({f"{prefix}/bai/{n}.html": article(n) for n in numbers})


def crawl(registry: Path, data: Path, **kwargs: object) -> tuple[str, dict[str, CrawlSummary]]:
    run_id = new_run_id()
    summaries = crawl_sites(list(load_registry(registry).values()), data, run_id, registry_dir=registry, **kwargs)  # type: ignore[arg-type]
    return run_id, {s.site: s for s in summaries}


def kept_articles(data: Path, site: str, run_id: str) -> set[str]:
    pages = read_warc(DataLayout(data).warc_path(site, run_id))
    return {p.url.rsplit("/", 1)[-1] for p in pages if p.kind == "article"}


def stats(data: Path, site: str, run_id: str) -> dict[str, object]:
    return dict(json.loads(DataLayout(data).crawl_stats_path(site, run_id).read_text("utf-8")))


def test_one_process_many_portals_and_one_failure_or_hang_stops_no_other(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with (
        PortalServer("127.0.0.2") as good,
        PortalServer("127.0.0.3") as hanging,
        PortalServer("127.0.0.4") as broken,
        PortalServer("127.0.0.5") as other,
    ):
        serve_portal(good, [1, 2, 3])
        serve_portal(other, [4, 5])
        serve_portal(hanging, [6, 7])
        for n in (6, 7):
            hanging.pages[f"/bai/{n}.html"].fault = "hang"
        serve_portal(broken, [8])
        write_site(registry, "tot", good)
        write_site(registry, "treo", hanging, crawl="download_timeout = 4\nconcurrent_requests = 2\n")
        write_site(registry, "hong", broken)
        write_site(registry, "khac", other)
        # The broken portal's crawl state cannot be opened: a folder where its file should be.
        DataLayout(data).crawl_state_path("hong").mkdir(parents=True)
        finished_order: list[str] = []
        run_id, summaries = crawl(registry, data, parallel=4, on_summary=lambda s: finished_order.append(s.site))

    assert summaries["tot"].ok and kept_articles(data, "tot", run_id) == {"1.html", "2.html", "3.html"}
    assert summaries["khac"].ok and kept_articles(data, "khac", run_id) == {"4.html", "5.html"}
    assert not summaries["hong"].ok and "crawl state" in str(summaries["hong"].failure)
    hung = summaries["treo"]
    assert hung.errors == 2 and hung.errors_by_kind  # both articles timed out, logged with the reason
    # The hanging portal held up nobody: the others were over before its timeouts.
    assert finished_order.index("tot") < finished_order.index("treo")
    assert finished_order.index("khac") < finished_order.index("treo")
    assert summaries["tot"].duration_s < hung.duration_s
    # All four in one crawl process.
    pids = {stats(data, slug, run_id)["process"]["pid"] for slug in ("tot", "treo", "khac")}  # type: ignore[index]
    assert len(pids) == 1


def test_portals_on_one_host_share_its_politeness(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        serve_portal(server, [1, 2, 3], prefix="/a")
        serve_portal(server, [4, 5, 6], prefix="/b")
        write_site(registry, "phuonga", server, "/a", crawl="download_delay = 0.4\n")
        write_site(registry, "phuongb", server, "/b", crawl="download_delay = 0.8\nconcurrent_requests = 4\n")
        _, summaries = crawl(registry, data)
        spans = sorted(server.spans, key=lambda s: s.start)
    assert all(s.ok for s in summaries.values())
    assert len(spans) == 9  # one robots.txt, two listings, six articles
    # One request at a time to the host, and the stricter portal's delay between any two.
    for first, second in itertools.pairwise(spans):
        assert second.start >= first.end, (first, second)
        assert second.start - first.start >= 0.8, (first, second)


def test_the_cap_on_portals_in_flight(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer("127.0.0.2") as first, PortalServer("127.0.0.3") as second:
        serve_portal(first, [1, 2, 3])
        serve_portal(second, [4, 5, 6])
        write_site(registry, "a-mot", first)
        write_site(registry, "b-hai", second)
        _, summaries = crawl(registry, data, parallel=1)
        first_done = max(s.end for s in first.spans)
        second_began = min(s.start for s in second.spans)
    assert all(s.ok for s in summaries.values())
    assert second_began >= first_done  # the second portal in registry order waited for the first


def test_a_time_budget_spent_leaves_later_portals_not_started(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer("127.0.0.2") as slow, PortalServer("127.0.0.3") as later:
        serve_portal(slow, list(range(1, 21)), robots="Crawl-delay: 1")
        serve_portal(later, [1])
        write_site(registry, "a-cham", slow)
        write_site(registry, "b-sau", later)
        run_id, summaries = crawl(registry, data, parallel=1, time_budget_s=8)
    slow_summary = summaries["a-cham"]
    assert slow_summary.ok and 0 < slow_summary.articles < 20
    assert slow_summary.finish_reason == "time budget"
    assert len(kept_articles(data, "a-cham", run_id)) == slow_summary.articles
    assert not summaries["b-sau"].ok and "not started" in str(summaries["b-sau"].failure)


def run_crawl_process(registry: Path, data: Path, slugs: list[str], *extra: str) -> list[dict[str, object]]:
    """``python -m crawlers.run`` itself, its status lines returned."""
    read_end, write_end = os.pipe()
    cmd = [sys.executable, "-m", "crawlers.run", "--registry", str(registry), "--data-dir", str(data)]
    cmd += ["--run-id", new_run_id(), "--status-fd", str(write_end), "--log-file", str(data / "crawl.log"), *extra]
    for slug in slugs:
        cmd += ["--site", slug]
    data.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(cmd, cwd=ROOT, pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as status:
        lines = [json.loads(line) for line in status]
    assert process.wait(timeout=120) == 0
    return lines


def test_the_frontier_spills_to_disk_and_nothing_is_lost(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    queue = tmp_path / "queue"
    with PortalServer() as server:
        serve_portal(server, list(range(1, 41)))
        write_site(registry, "lon", server, crawl="concurrent_requests = 2\n")
        run_crawl_process(registry, data, ["lon"], "--memory-queue-max", "3", "--queue-dir", str(queue))
    (warc,) = DataLayout(data).warcs("lon")
    run_id = DataLayout.run_id_of(warc)
    assert len(kept_articles(data, "lon", run_id)) == 40
    process = stats(data, "lon", run_id)["process"]
    assert process["scheduler/enqueued/disk"] > 0  # type: ignore[index]
    assert not queue.exists()  # the scratch queue is removed when the crawl ends


def test_the_crawl_process_imports_only_what_it_uses(tmp_path: Path) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        serve_portal(server, [1])
        write_site(registry, "nhe", server)
        lines = run_crawl_process(registry, data, ["nhe"])
    (done,) = [line for line in lines if line["event"] == "done"]
    loaded = set(done["modules"])  # type: ignore[arg-type]
    assert "scrapy" in loaded and "crawlers" in loaded
    heavy = {"trafilatura", "pandas", "pyarrow", "great_expectations", "airflow", "duckdb", "numpy"}
    ours = {"transforms", "expectations", "pipeline"}
    assert not loaded & (heavy | ours)

"""A crawl killed with SIGKILL loses nothing: its WARC reads up to its last complete record,
its state knows only pages that are in that WARC, and the next crawl fetches the rest."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawlers.warc import read_records
from kernel.layout import DataLayout, new_run_id
from kernel.registry import load_registry
from pipeline.crawl import crawl_sites
from pipeline.extract import read_warc
from tests.support.portalserver import Page, PortalServer
from tests.test_incremental import article, listing

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 30


def known_articles(data: Path) -> set[str]:
    path = DataLayout(data).crawl_state_path("bikill")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {url for (url,) in db.execute("SELECT url FROM urls WHERE kind = 'article'")}


@pytest.mark.parametrize("kill_after", [4, 15])
def test_a_killed_crawl_knows_only_what_it_archived(tmp_path: Path, kill_after: int) -> None:
    registry, data = tmp_path / "sites", tmp_path / "data"
    with PortalServer() as server:
        server.pages["/robots.txt"] = Page("User-agent: *\nAllow: /\n", content_type="text/plain")
        server.pages["/tin-tuc"] = listing(list(range(1, ARTICLES + 1)), None)
        server.pages.update({f"/bai/{n}.html": article(n) for n in range(1, ARTICLES + 1)})
        registry.mkdir()
        (registry / "bikill.toml").write_text(
            'name = "Cổng bị dừng"\nkind = "government"\nprovince = "Hà Nội"\ndomains = ["127.0.0.1"]\n'
            f'start_urls = ["{server.base}/tin-tuc"]\n'
            "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc$']\n[crawl]\ndownload_delay = 0.15\n",
            encoding="utf-8",
        )
        run_id = new_run_id()
        warc = DataLayout(data).warc_path("bikill", run_id)
        cmd = [sys.executable, "-m", "crawlers.run", "--site", "bikill", "--registry", str(registry)]
        cmd += ["--data-dir", str(data), "--run-id", run_id, "--log-file", str(tmp_path / "crawl.log")]
        crawl = subprocess.Popen(cmd, cwd=ROOT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and crawl.poll() is None:
            if warc.exists() and sum(1 for _ in read_records(warc)) >= kill_after:
                break
            time.sleep(0.05)
        assert crawl.poll() is None, "the crawl ended before it could be killed"
        crawl.send_signal(signal.SIGKILL)
        crawl.wait()

        archived = {p.url for p in read_warc(warc) if p.kind == "article"}  # reads, whatever the cut
        known = known_articles(data)
        assert known <= archived, f"known but not archived: {sorted(known - archived)}"
        assert len(archived) < ARTICLES

        hits_before = len(server.hits)
        (summary,) = crawl_sites(list(load_registry(registry).values()), data, new_run_id(), registry_dir=registry)
        fetched = {f"{server.base}{h.path}" for h in server.hits[hits_before:] if h.path.startswith("/bai/")}

    assert summary.ok, summary.failure
    every = {f"{server.base}/bai/{n}.html" for n in range(1, ARTICLES + 1)}
    assert fetched == every - known  # what the killed crawl had not made known is fetched again
    assert known_articles(data) == every

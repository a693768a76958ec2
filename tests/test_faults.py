"""Faults a small government server produces, survived: the crawl goes on, keeps what it
could fetch whole, logs the rest with a reason, and never archives a broken page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel.layout import DataLayout, new_run_id
from kernel.registry import load_registry
from pipeline.crawl import crawl_sites
from pipeline.extract import read_warc
from tests.support.portalserver import Page, PortalServer
from tests.test_incremental import article, listing

GOOD = [1, 2]
FAULTY = {
    3: Page(b"", fault="hang"),
    4: Page(b"", fault="reset"),
    5: Page(b"", fault="short"),
    6: Page(b"", fault="endless"),
    7: Page(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n"),
    8: Page(b""),
    9: Page("<html><body><h1>Không tìm thấy trang</h1></body></html>"),
    10: Page(b"<html><body>" + b"<div>" * 1000 + b"x" * (20 * 1024 * 1024) + b"</body></html>"),
    11: Page(b"", status=302, headers={"Location": "/bai/12.html"}),
    12: Page(b"", status=302, headers={"Location": "/bai/11.html"}),
}


def crawl(
    server: PortalServer, tmp_path: Path, budget: float | None = None
) -> tuple[Path, str, list[dict[str, object]]]:
    registry = tmp_path / "sites"
    registry.mkdir(exist_ok=True)
    (registry / "loi.toml").write_text(
        'name = "Cổng hay lỗi"\nkind = "government"\nprovince = "Cao Bằng"\ndomains = ["127.0.0.1"]\n'
        f'start_urls = ["{server.base}/tin-tuc"]\n'
        "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc$']\n"
        "[crawl]\ndownload_delay = 0\ndownload_timeout = 3\nconcurrent_requests = 4\n",
        encoding="utf-8",
    )
    data, run_id = tmp_path / "data", new_run_id()
    (_summary,) = crawl_sites(
        list(load_registry(registry).values()), data, run_id, registry_dir=registry, time_budget_s=budget
    )
    log = DataLayout(data).crawl_log_path("loi", run_id)
    return data, run_id, [json.loads(line) for line in log.read_text("utf-8").splitlines()]


@pytest.fixture
def faulty_portal() -> PortalServer:
    server = PortalServer()
    server.pages["/robots.txt"] = Page("User-agent: *\nAllow: /\n", content_type="text/plain")
    server.pages["/tin-tuc"] = listing([*GOOD, *FAULTY], None)
    server.pages.update({f"/bai/{n}.html": article(n) for n in GOOD})
    for n, page in FAULTY.items():
        if n not in (7, 8, 9, 10, 11, 12):
            page.body = article(n).body
        server.pages[f"/bai/{n}.html"] = page
    server.pages["/bai/2.html"].statuses_first = [503, 503]
    return server


@pytest.mark.slow
def test_faults_are_survived_and_never_archived(faulty_portal: PortalServer, tmp_path: Path) -> None:
    with faulty_portal as server:
        data, run_id, events = crawl(server, tmp_path)
    archived = {
        p.url.rsplit("/", 1)[-1] for p in read_warc(DataLayout(data).warc_path("loi", run_id)) if p.kind == "article"
    }
    assert archived == {"1.html", "2.html", "9.html"}  # 2 after two 503s; 9 is a 200 "not found" page
    outcome = {str(e["url"]).rsplit("/", 1)[-1]: e for e in events if e["kind"] == "article"}
    for n in (3, 4, 5, 6, 10):  # timeout, reset, short body, endless and oversized bodies
        assert outcome[f"{n}.html"]["outcome"] == "error", outcome[f"{n}.html"]
    assert "PDF" in str(outcome["7.html"]["error"])
    assert outcome["8.html"]["error"] == "empty body"
    loop = [e for e in events if str(e["url"]).endswith(("/bai/11.html", "/bai/12.html")) and e["outcome"] == "error"]
    assert loop and "redirect" in str(loop[-1]["error"])  # a redirect loop ends, logged


def test_a_200_not_found_page_is_not_an_article() -> None:
    from transforms import extract_article

    body = FAULTY[9].body
    assert extract_article(body if isinstance(body, bytes) else body.encode(), "http://127.0.0.1/bai/9.html") is None


@pytest.mark.slow
def test_a_crawl_over_its_budget_ends_gracefully(tmp_path: Path) -> None:
    with PortalServer() as server:
        server.pages["/robots.txt"] = Page("User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
        server.pages["/tin-tuc"] = listing(list(range(1, 21)), None)
        server.pages.update({f"/bai/{n}.html": article(n) for n in range(1, 21)})
        data, run_id, events = crawl(server, tmp_path, budget=8)
    kept = [e for e in events if e["outcome"] == "kept" and e["kind"] == "article"]
    assert 0 < len(kept) < 20  # it stopped early, and what it fetched is kept
    pages = list(read_warc(DataLayout(data).warc_path("loi", run_id)))  # the WARC is complete
    assert len([p for p in pages if p.kind == "article"]) == len(kept)


@pytest.mark.slow
def test_a_page_whose_parsing_raises_is_logged_and_the_crawl_goes_on(tmp_path: Path) -> None:
    import subprocess
    import sys

    with PortalServer() as server:
        server.pages["/robots.txt"] = Page("User-agent: *\nAllow: /\n", content_type="text/plain")
        server.pages["/tin-tuc"] = listing([1, 2, 3], None)
        server.pages.update({f"/bai/{n}.html": article(n) for n in (1, 2, 3)})
        registry = tmp_path / "sites"
        registry.mkdir()
        (registry / "loi.toml").write_text(
            'name = "Cổng lỗi"\nkind = "government"\nprovince = "Cao Bằng"\ndomains = ["127.0.0.1"]\n'
            f'start_urls = ["{server.base}/tin-tuc"]\n'
            "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc$']\n[crawl]\ndownload_delay = 0\n",
            encoding="utf-8",
        )
        data, run_id = tmp_path / "data", new_run_id()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.support.raising_spider",
                "--site",
                "loi",
                "--registry",
                str(registry),
                "--data-dir",
                str(data),
                "--run-id",
                run_id,
            ],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    events = [
        json.loads(line) for line in DataLayout(data).crawl_log_path("loi", run_id).read_text("utf-8").splitlines()
    ]
    by_page = {str(e["url"]).rsplit("/", 1)[-1]: e for e in events}
    assert by_page["2.html"]["outcome"] == "error" and "parse error" in str(by_page["2.html"]["error"])
    assert by_page["1.html"]["outcome"] == by_page["3.html"]["outcome"] == "kept"

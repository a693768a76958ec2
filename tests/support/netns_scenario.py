"""A crawl that pages try to steer into internal addresses, run inside a loopback-only
network namespace by ``tests/test_safety.py`` (so a broken guard cannot send a packet off
the machine). Prints a JSON report of what the server saw and what the crawl logged.

    python -m tests.support.netns_scenario WORKDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kernel.layout import DataLayout, new_run_id
from kernel.registry import load_registry
from pipeline.crawl import crawl_sites
from tests.support.portalserver import Page, PortalServer
from tests.test_incremental import article

HOSTS = """127.0.0.1 localhost
127.0.0.1 portal.test
127.0.0.1 sneaky.portal.test
10.9.9.9 evil.portal.test
169.254.169.254 meta.portal.test
"""


def redirect(to: str) -> Page:
    return Page("", status=302, headers={"Location": to})


def main(workdir: Path) -> None:
    with PortalServer() as server:
        port = server.port
        links = [
            "/bai/1.html",
            f"http://sneaky.portal.test:{port}/bai/2.html",
            f"http://evil.portal.test:{port}/bai/3.html",
            "http://169.254.169.254/bai/4.html",
            f"http://127.0.0.1:{port}/bai/5.html",
            "/bai/6.html",
            "/bai/8.html",
            "/bai/10.html",
        ]
        anchors = "".join(f"<a href='{href}'>Tin số {i} rất dài ở đây</a>" for i, href in enumerate(links))
        server.pages.update(
            {
                "/robots.txt": Page("User-agent: *\nAllow: /\n", content_type="text/plain"),
                "/tin-tuc": Page(f"<html><body>{anchors}</body></html>"),
                "/bai/1.html": article(1),
                "/bai/2.html": article(2),
                "/bai/5.html": article(5),
                "/bai/6.html": redirect("http://10.0.0.1/bai/7.html"),
                "/bai/8.html": redirect(f"http://meta.portal.test:{port}/bai/9.html"),
                "/bai/9.html": article(9),
                "/bai/10.html": redirect("file:///etc/passwd"),
            }
        )
        registry = workdir / "sites"
        registry.mkdir()
        (registry / "portal.toml").write_text(
            'name = "Cổng thử"\nkind = "government"\nprovince = "Hà Nội"\ndomains = ["portal.test"]\n'
            f'start_urls = ["http://portal.test:{port}/tin-tuc"]\n'
            "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc$']\n"
            "[crawl]\ndownload_delay = 0\ndownload_timeout = 3\n",
            encoding="utf-8",
        )
        run_id = new_run_id()
        data = workdir / "data"
        (summary,) = crawl_sites(list(load_registry(registry).values()), data, run_id, registry_dir=registry)
        log = DataLayout(data).crawl_log_path("portal", run_id)
        events = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
        hosts = sorted({hit.headers.get("Host", "") for hit in server.hits})
        paths = sorted({hit.path for hit in server.hits})
        dead = dead_portal(workdir, port)
    print(json.dumps({"ok": summary.ok, "hosts": hosts, "paths": paths, "events": events, "port": port, "dead": dead}))


def dead_portal(workdir: Path, port: int) -> dict[str, object]:
    """A portal whose host name does not resolve (there is no DNS server in the namespace)."""
    registry = workdir / "dead-sites"
    registry.mkdir()
    (registry / "khongco.toml").write_text(
        'name = "Cổng không tồn tại"\nkind = "government"\nprovince = "Hà Nội"\ndomains = ["khongco.test"]\n'
        f"start_urls = [\"http://khongco.test:{port}/tin-tuc\"]\narticle_urls = ['/bai/']\n"
        "[crawl]\ndownload_delay = 0\n",
        encoding="utf-8",
    )
    (summary,) = crawl_sites(
        list(load_registry(registry).values()), workdir / "data", new_run_id(), registry_dir=registry
    )
    return {"ok": summary.ok, "failure": summary.failure}


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Crawler memory on large portals: peak RSS of the crawl process for portals of growing size.

    uv run python bench/crawl_memory.py [--sizes 500,2000,4000]

Each size is an imitation portal on 127.0.0.1 with that many articles behind paginated
listings (100 links a page). The crawl runs exactly as at night (a crawl process, raw
archive, crawl state); the table shows pages fetched, wall time and the peak resident memory
of the crawl process (sampled by the crawl itself, see ``crawl_sites``' summaries). Memory
should stay nearly flat as the portal grows: responses are not kept alive, the archive
streams to disk and a frontier past ``VNPORTALS_MEMORY_QUEUE_MAX`` requests spills to disk.
``bench/crawl_scale.py`` measures the other axis, many portals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kernel.layout import new_run_id  # noqa: E402
from kernel.registry import load_registry  # noqa: E402
from pipeline.crawl import crawl_sites  # noqa: E402
from tests.support.portalserver import Page, PortalServer  # noqa: E402

PARAGRAPH = "Ủy ban nhân dân huyện đã tổ chức hội nghị triển khai nhiệm vụ phát triển kinh tế - xã hội. " * 30


def portal(server: PortalServer, articles: int) -> None:
    per_page = 100
    pages = (articles + per_page - 1) // per_page
    server.pages["/robots.txt"] = Page("User-agent: *\nAllow: /\n", content_type="text/plain")
    for p in range(1, pages + 1):
        numbers = range((p - 1) * per_page + 1, min(p * per_page, articles) + 1)
        links = "".join(f"<li><a href='/bai/{n}.html'>Tin số {n}</a></li>" for n in numbers)
        more = f"<a href='/tin-tuc?page={p + 1}'>Sau</a>" if p < pages else ""
        server.pages[f"/tin-tuc?page={p}"] = Page(f"<html><body><ul>{links}</ul>{more}</body></html>")
    body = "".join(f"<p>{i}. {PARAGRAPH}</p>" for i in range(6))
    for n in range(1, articles + 1):
        server.pages[f"/bai/{n}.html"] = Page(
            f"<html><head><title>Tin {n}</title></head><body><h1>Tin số {n} của huyện</h1>{body}</body></html>"
        )


def measure(articles: int) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as tmp, PortalServer() as server:
        portal(server, articles)
        registry = Path(tmp) / "sites"
        registry.mkdir()
        (registry / "lon.toml").write_text(
            'name = "Cổng lớn"\nkind = "government"\nprovince = "Hà Nội"\ndomains = ["127.0.0.1"]\n'
            f'start_urls = ["{server.base}/tin-tuc?page=1"]\n'
            "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc\\?page=\\d+$']\n"
            "max_listing_pages = 1000\n[crawl]\ndownload_delay = 0\nconcurrent_requests = 8\n",
            encoding="utf-8",
        )
        start = time.perf_counter()
        (summary,) = crawl_sites(
            list(load_registry(registry).values()), Path(tmp) / "data", new_run_id(), registry_dir=registry
        )
        return summary.pages_kept, time.perf_counter() - start, summary.peak_memory_mb or 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500,2000,4000", help="portal sizes in articles")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    print(f"{'articles':>9}{'pages kept':>12}{'seconds':>10}{'peak RSS MB':>13}")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        # A fresh process per size, so the peak measured is that size's crawl alone.
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True
        ).stdout
        pages, seconds, peak = json.loads(out.strip().splitlines()[-1])
        results.append(peak)
        print(f"{size:>9}{pages:>12}{seconds:>10.1f}{peak:>13.1f}")
    if len(results) > 1 and results[0]:
        print(f"\npeak RSS, largest / smallest portal: {results[-1] / results[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

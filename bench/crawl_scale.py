"""The crawl step at scale: many imitation portals on 127.0.0.1, our crawl against a bare
Scrapy spider over the same pages.

    uv run python bench/crawl_scale.py [--portals 10,100,300] [--articles 30] [--polite]

Each portal is its own host (``127.0.X.Y``, one loopback address per portal, all served by
one asyncio server in its own process) with paginated listings (10 links a page), a
sitemap with ``lastmod`` and article pages of about 28 KB; the server answers ETag and
``If-None-Match`` as many portal CMSs do. Politeness is off in the site configs
(``download_delay = 0``, ``concurrent_requests = 8``) unless ``--polite`` (1 s, one request
at a time: only our crawl is run then, the floor being the politeness itself).

For each N the table shows wall time, CPU seconds and the peak RSS of the crawl's process
tree (the parent that calls ``crawl_sites`` and the crawl processes it starts; each run in
a fresh process, so peaks do not carry over), pages the server answered and pages per
second; then a bare Scrapy spider (no robots.txt, archive, state or politeness: it follows
the listing and article links with Scrapy's defaults) over the same pages, and our figures
as ratios to it. A second night (10% new articles, 5% revised and announced by the sitemap)
shows requests, bytes and wall time against the first.

``--code DIR`` runs the crawl of another checkout (e.g. an older commit exported with
``git archive``) for before/after figures; the imitation portals and the bare spider stay.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

PER_LISTING = 10
WORDS = [
    "ủy",
    "ban",
    "nhân",
    "dân",
    "huyện",
    "tổ",
    "chức",
    "hội",
    "nghị",
    "triển",
    "khai",
    "nhiệm",
    "vụ",
    "phát",
    "triển",
    "kinh",
    "tế",
    "xã",
    "hội",
    "năm",
    "đồng",
    "chí",
    "bí",
    "thư",
    "chủ",
    "tịch",
    "phó",
    "chủ",
    "tịch",
    "thường",
    "trực",
    "đảng",
    "ủy",
    "các",
    "xã",
    "thị",
    "trấn",
    "trên",
    "địa",
    "bàn",
    "nông",
    "thôn",
    "mới",
    "chương",
    "trình",
    "mục",
    "tiêu",
    "quốc",
    "gia",
    "giảm",
    "nghèo",
    "bền",
    "vững",
    "đầu",
    "tư",
    "xây",
    "dựng",
    "công",
    "trình",
    "giao",
    "thông",
    "thủy",
    "lợi",
    "trường",
    "học",
    "trạm",
    "y",
    "tế",
    "văn",
    "hóa",
    "thể",
    "thao",
    "du",
    "lịch",
    "an",
    "ninh",
    "quốc",
    "phòng",
    "cải",
    "cách",
    "hành",
    "chính",
    "chuyển",
    "đổi",
    "số",
    "dịch",
    "vụ",
    "công",
    "trực",
    "tuyến",
    "người",
    "dân",
    "doanh",
    "nghiệp",
]


def portal_host(index: int) -> str:
    return f"127.0.{index // 250}.{index % 250 + 1}"


def night_articles(articles: int, night: int) -> int:
    return articles if night == 1 else articles + max(1, articles // 10)


def revised(n: int, articles: int, night: int) -> bool:
    """5% of the first night's articles are revised on the second night."""
    return night >= 2 and n <= articles and n % 20 == 7


def _sentences() -> list[str]:
    rng = random.Random(13)
    out = []
    for _ in range(997):
        sentence = " ".join(rng.choice(WORDS) for _ in range(12))
        out.append(sentence[0].upper() + sentence[1:] + ".")
    return out


SENTENCES = _sentences()


def _text(seed: str, words: int) -> str:
    """Deterministic text of about ``words`` words, different for each seed (cheap to make,
    so the server is not what the benchmark measures)."""
    start = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=4).digest(), "big")
    return " ".join(SENTENCES[(start + 7 * i) % len(SENTENCES)] for i in range(words // 12))


@functools.cache
def article_page(host: str, n: int, total: int, articles: int, night: int) -> bytes:
    version = 2 if revised(n, articles, night) else 1
    nav = "".join(f"<li><a href='/chuyen-muc/{c}'>Chuyên mục {c}</a></li>" for c in range(30))
    paragraphs = "".join(f"<p>{_text(f'{host}/{n}/{p}/{version}', 180)}</p>" for p in range(24 if version == 1 else 25))
    others = "".join(
        f"<li><a href='/bai/{m}.html'>Tin số {m} của huyện</a></li>" for m in range(total, max(total - 10, 0), -1)
    )
    html = (
        "<!DOCTYPE html><html lang='vi'><head><meta charset='utf-8'>"
        f"<title>Tin số {n} của huyện - Cổng thông tin điện tử</title></head><body>"
        f"<div class='header'><ul class='menu'>{nav}</ul></div>"
        f"<div class='content'><h1>Tin số {n} của huyện</h1><p class='date'>Ngày đăng: 0{1 + n % 9}/03/2026 08:00</p>"
        f"{paragraphs}<p class='author'>Văn phòng HĐND-UBND huyện</p></div>"
        f"<div class='sidebar'><h3>Tin đọc nhiều</h3><ul>{others}</ul></div>"
        "<div class='footer'>Cơ quan chủ quản: Ủy ban nhân dân huyện. Địa chỉ: số 1 đường Trần Phú.</div>"
        "</body></html>"
    )
    return html.encode("utf-8")


def listing_page(total: int, page: int) -> bytes:
    first = total - (page - 1) * PER_LISTING
    numbers = range(first, max(first - PER_LISTING, 0), -1)
    links = "".join(f"<li><a href='/bai/{n}.html'>Tin số {n} của huyện</a></li>" for n in numbers)
    more = f"<a href='/tin-tuc?page={page + 1}'>Trang sau</a>" if first - PER_LISTING > 0 else ""
    return f"<html><head><meta charset='utf-8'></head><body><ul>{links}</ul>{more}</body></html>".encode()


def sitemap(host: str, port: int, total: int, articles: int, night: int) -> bytes:
    entries = "".join(
        f"<url><loc>http://{host}:{port}/bai/{n}.html</loc>"
        f"<lastmod>2026-03-0{1 + n % 9}T0{2 if revised(n, articles, night) else 1}:00:00+07:00</lastmod></url>"
        for n in range(total, 0, -1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</urlset>"
    ).encode()


# -- the imitation portals' server (its own process) -------------------------------------
class Portals:
    def __init__(self, portals: int, articles: int, port: int) -> None:
        self.hosts = {portal_host(i): i for i in range(portals)}
        self.articles = articles
        self.port = port
        self.night = 1
        self.requests = 0
        self.bytes = 0
        self.not_modified = 0
        # Politeness as the portals see it: the shortest gap between two arrivals at one
        # host, and requests that arrived while another to the same host was in progress.
        self.last_arrival: dict[str, float] = {}
        self.in_progress: dict[str, int] = {}
        self.min_gap = float("inf")
        self.overlaps = 0

    def answer(self, host: str, target: str, headers: dict[str, str]) -> tuple[int, str, bytes, str | None]:
        """(status, content type, body, etag)."""
        if target.startswith("/_control/"):
            command = target.rsplit("/", 1)[-1]
            if command.startswith("night"):
                self.night = int(command[5:])
            stats = {
                "requests": self.requests,
                "bytes": self.bytes,
                "not_modified": self.not_modified,
                "min_gap": self.min_gap if self.min_gap != float("inf") else None,
                "overlaps": self.overlaps,
            }
            if command == "reset":
                self.requests = self.bytes = self.not_modified = self.overlaps = 0
                self.min_gap = float("inf")
                self.last_arrival.clear()
            return 200, "application/json", json.dumps(stats).encode(), None
        if host not in self.hosts:
            return 404, "text/plain", b"no such portal", None
        total = night_articles(self.articles, self.night)
        if target == "/robots.txt":
            body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
        elif target == "/sitemap.xml":
            body, ctype = sitemap(host, self.port, total, self.articles, self.night), "application/xml"
        elif target.startswith("/tin-tuc?page="):
            page = int(target.rsplit("=", 1)[-1])
            if (page - 1) * PER_LISTING >= total:
                return 404, "text/plain", b"not found", None
            body, ctype = listing_page(total, page), "text/html; charset=utf-8"
        elif target.startswith("/bai/") and target.endswith(".html"):
            n = int(target[5:-5])
            if not 1 <= n <= total:
                return 404, "text/plain", b"not found", None
            body, ctype = article_page(host, n, total, self.articles, self.night), "text/html; charset=utf-8"
        else:
            return 404, "text/plain", b"not found", None
        etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        if headers.get("if-none-match") == etag:
            self.not_modified += 1
            return 304, ctype, b"", etag
        return 200, ctype, body, etag

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                target = line.split()[1].decode("latin-1")
                headers = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                host = headers.get("host", "").rsplit(":", 1)[0]
                control = target.startswith("/_control/")
                if not control:
                    arrived = time.monotonic()
                    if host in self.last_arrival:
                        self.min_gap = min(self.min_gap, arrived - self.last_arrival[host])
                    self.last_arrival[host] = arrived
                    self.overlaps += self.in_progress.get(host, 0) > 0
                    self.in_progress[host] = self.in_progress.get(host, 0) + 1
                status, ctype, body, etag = self.answer(host, target, headers)
                if not control:
                    self.requests += 1
                    self.bytes += len(body)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                if etag:
                    head += f"ETag: {etag}\r\n"
                try:
                    writer.write(head.encode("latin-1") + b"\r\n" + body)
                    await writer.drain()
                finally:
                    if not control:
                        self.in_progress[host] -= 1
        except (ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(portals: int, articles: int, port: int) -> None:
    state = Portals(portals, articles, port)

    # Every page made before the server says it is ready: the crawl measures the crawl.
    for night in (1, 2):
        total = night_articles(articles, night)
        for i in range(portals):
            for n in range(1, total + 1):
                article_page(portal_host(i), n, total, articles, night)

    async def main() -> None:
        hosts = [portal_host(i) for i in range(portals)]
        server = await asyncio.start_server(state.handle, host=hosts, port=port, backlog=1024)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def keepalive_rate(
    connect: Callable[[int], str], request: Callable[[int, int], bytes], port: int, seconds: float
) -> float:
    """Responses a second a server on ``port`` gives 32 kept-alive connections, connection
    ``i`` opened to host ``connect(i)`` and asking ``request(i, n)`` for its n-th page."""

    async def client(index: int, done: list[int], until: float) -> None:
        reader, writer = await asyncio.open_connection(connect(index), port)
        n = 0
        while time.monotonic() < until:
            n += 1
            writer.write(request(index, n))
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done[0] += 1
        writer.close()

    async def main() -> int:
        done = [0]
        until = time.monotonic() + seconds
        await asyncio.gather(*(client(i, done, until) for i in range(32)))
        return done[0]

    return asyncio.run(main()) / seconds


def server_rate(portals: int, articles: int, port: int, seconds: float = 5.0) -> float:
    """Pages a second the server answers to 32 kept-alive connections fetching articles
    (what it can give, to compare with what a crawl takes)."""

    def request(index: int, n: int) -> bytes:
        host = portal_host(index % portals)
        return f"GET /bai/{(n - 1) % articles + 1}.html HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()

    return keepalive_rate(lambda index: portal_host(index % portals), request, port, seconds)


def control(port: int, command: str) -> dict[str, Any]:
    from urllib.request import urlopen

    with urlopen(f"http://{portal_host(0)}:{port}/_control/{command}", timeout=10) as answer:
        return dict(json.loads(answer.read()))


# -- what is measured (each in a fresh process) ------------------------------------------
def write_registry(registry: Path, portals: int, port: int, polite: bool) -> None:
    registry.mkdir(parents=True, exist_ok=True)
    crawl = (
        "download_delay = 1\nconcurrent_requests = 1\n" if polite else "download_delay = 0\nconcurrent_requests = 8\n"
    )
    for i in range(portals):
        host = portal_host(i)
        (registry / f"p{i:04d}.toml").write_text(
            f'name = "Cổng huyện {i}"\nkind = "government"\nprovince = "Nghệ An"\ndomains = ["{host}"]\n'
            f'start_urls = ["http://{host}:{port}/tin-tuc?page=1"]\nsitemaps = ["http://{host}:{port}/sitemap.xml"]\n'
            "article_urls = ['/bai/\\d+\\.html$']\nlisting_urls = ['/tin-tuc\\?page=\\d+$']\n"
            f"max_listing_pages = 1000\n[crawl]\n{crawl}",
            encoding="utf-8",
        )


def run_ours(registry: Path, data: Path, parallel: int | None, processes: int) -> dict[str, Any]:
    from kernel.layout import new_run_id
    from kernel.registry import load_registry
    from pipeline.crawl import crawl_sites

    kwargs: dict[str, Any] = {"registry_dir": registry}
    if parallel is not None:
        kwargs["parallel"] = parallel
    if processes != 1:
        kwargs["processes"] = processes
    summaries = crawl_sites(list(load_registry(registry).values()), data, new_run_id(), **kwargs)
    failed = [s.failure for s in summaries if not s.ok]
    return {
        "articles": sum(s.articles for s in summaries),
        "failed": len(failed),
        "failure": failed[0] if failed else None,
    }


def run_bare(portals: int, port: int) -> dict[str, Any]:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self) -> Any:
            for i in range(portals):
                yield scrapy.Request(f"http://{portal_host(i)}:{port}/tin-tuc?page=1")

        def parse(self, response: Any) -> Any:
            for href in response.css("a::attr(href)").getall():
                if href.startswith(("/bai/", "/tin-tuc")):
                    yield response.follow(href, self.parse)

    process = CrawlerProcess(
        {"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False, "CONCURRENT_REQUESTS": 64},
        install_root_handler=True,
    )
    process.crawl(Bare)
    process.start()
    return {}


def measured(args: list[str]) -> dict[str, Any]:
    """Run this file with ``args`` in a fresh process; its result plus wall, CPU and peak RSS."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def one(kind: str, argv: list[str]) -> None:
    """Inside the fresh process: run one measurement, print its JSON."""
    if kind == "ours":
        code, registry, data, parallel, processes = argv
        sys.path.insert(0, code)
        os.chdir(code)
        result = run_ours(Path(registry), Path(data), int(parallel) if parallel != "-" else None, int(processes))
    else:
        portals, port = argv
        result = run_bare(int(portals), int(port))
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu"] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    result["peak_mb"] = max(me.ru_maxrss, kids.ru_maxrss) / 1024
    result["parent_mb"] = me.ru_maxrss / 1024
    print(json.dumps(result))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("--serve", "--ours", "--bare"):
        if sys.argv[1] == "--serve":
            serve(*(int(a) for a in sys.argv[2:5]))
        else:
            one(sys.argv[1][2:], sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portals", default="10,100,300", help="numbers of portals, comma-separated")
    parser.add_argument("--articles", type=int, default=30, help="articles per portal on the first night")
    parser.add_argument("--polite", action="store_true", help="1 s delay, one request at a time per portal")
    parser.add_argument("--parallel", default="-", help="portals in flight (crawl_sites' parallel); default its own")
    parser.add_argument("--processes", default="1", help="crawl processes (crawl_sites' processes)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Scrapy spider")
    parser.add_argument("--no-second-night", action="store_true")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose crawl is measured")
    args = parser.parse_args()

    code = str(args.code.resolve())
    print(
        f"crawl code: {code}; {args.articles} articles per portal; politeness {'on' if args.polite else 'off'}; "
        f"portals in flight {args.parallel}; crawl processes {args.processes}"
    )
    head = f"{'portals':>8}{'run':>8}{'wall s':>9}{'CPU s':>8}{'peak MB':>9}{'pages':>8}{'pages/s':>9}{'articles':>9}"
    print(head)
    for portals in (int(n) for n in args.portals.split(",")):
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(portals), str(args.articles), str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            print(
                f"{portals:>8}{'server':>8}   answers {server_rate(portals, args.articles, port):.0f} article pages/s"
            )
            with tempfile.TemporaryDirectory() as tmp:
                registry, data = Path(tmp) / "sites", Path(tmp) / "data"
                write_registry(registry, portals, port, args.polite)
                rows: dict[str, dict[str, Any]] = {}
                ours = ["--ours", code, str(registry), str(data), args.parallel, args.processes]
                runs = [("night 1", ours)]
                if not args.no_second_night:
                    runs.append(("night 2", ours))
                if not args.polite and not args.no_bare:
                    runs.append(("bare", ["--bare", str(portals), str(port)]))
                for label, run in runs:
                    control(port, "night2" if label == "night 2" else "night1")
                    control(port, "reset")
                    result = measured(run)
                    served = control(port, "reset")
                    result.update(served)
                    rows[label] = result
                    print(
                        f"{portals:>8}{label:>8}{result['wall']:>9.1f}{result['cpu']:>8.1f}{result['peak_mb']:>9.0f}"
                        f"{served['requests']:>8}{served['requests'] / result['wall']:>9.0f}"
                        f"{result.get('articles', '-'):>9}"
                        + (f"  FAILED {result['failed']}: {result['failure']}" if result.get("failed") else "")
                        + (f"  ({served['not_modified']} answered 304)" if served["not_modified"] else "")
                    )
                    if args.polite:
                        gap = served["min_gap"]
                        print(
                            f"{'':>16}politeness seen by the portals: shortest gap between two requests to one "
                            f"host {gap if gap is None else round(gap, 3)} s, {served['overlaps']} requests while "
                            "another to the same host was in progress"
                        )
                if "bare" in rows:
                    ours, bare = rows["night 1"], rows["bare"]
                    print(
                        f"{'':>8}{'ratio':>8}{ours['wall'] / bare['wall']:>9.2f}{ours['cpu'] / bare['cpu']:>8.2f}"
                        f"{ours['peak_mb'] / bare['peak_mb']:>9.2f}   (night 1 / bare)"
                    )
                if "night 2" in rows:
                    first, second = rows["night 1"], rows["night 2"]
                    print(
                        f"{'':>8}{'2nd/1st':>8}{second['wall'] / first['wall']:>9.2f}{'':>8}{'':>9}"
                        f"{second['requests'] / max(first['requests'], 1):>8.2f}   requests; bytes "
                        f"{second['bytes'] / max(first['bytes'], 1):.2f}"
                    )
        finally:
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

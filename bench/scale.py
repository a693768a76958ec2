"""The whole night at scale: N imitation portals x M articles through ``vnportals run``, beside
the floors the work sets (a bare Scrapy spider over the same pages, plain trafilatura over the
same articles).

    uv run python bench/scale.py [--portals 10,100,300] [--articles 30] [--polite]
    uv run python bench/scale.py --profile-extract 200

The mirror is generated and deterministic. Portal ``i`` takes the style of one bundled portal
(round robin over the eight, so over the seven CMS families): its article pages are that
portal's own fixture article with the headline, the body and the page's own URL put in anew,
its links to other articles pointed at this portal's generated articles and its category
links at the generated listing, padded with menu links and an inline script to a size drawn
from 30-120 KB; listings (10 articles a page) and a sitemap with ``lastmod`` follow the
family's URL scheme. One host name per portal (the style's host with a number,
``longbien17.hanoi.gov.vn``), all served from 127.0.0.1 by one asyncio process from memory,
with ETags; the crawl reaches it in mirror mode. Politeness is off in the site configs
(``download_delay = 0``, ``concurrent_requests = 8``) unless ``--polite`` (1 s, one request
at a time).

For each N: the server's own rate, then night 1 and night 2 (10% new articles, 5% revised and
announced by the sitemap) as ``vnportals run`` does them, each printed with its wall time,
each stage's wall time (from ``runs/<id>.json``), requests and MB served, pages per second of
the crawl stage, CPU seconds of the process tree (``CPU/art``: per article page fetched),
peak RSS of the process tree (sampled), articles in the dataset and its Parquet files; then
the floors and the ratios to them. Every generated article must be in the dataset exactly
once, or the run says which are not. At the end, a night of as many articles as the largest N
brings is published into a month that already holds ``--month-rows`` rows (the generator of ``bench/publish.py``), with
its wall time and peak RSS.

``--profile-extract K`` runs cProfile over ``extract_page`` on K generated articles (the
styles in turn) and prints the functions that take the time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import itertools
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import psutil  # noqa: E402
from crawl_scale import free_port, keepalive_rate, night_articles, revised  # noqa: E402

from kernel.registry import Site, load_registry  # noqa: E402
from pipeline.mirror import MIRROR_DIR, mirror_file  # noqa: E402
from tests.support.imitation_portals import copy_host  # noqa: E402

GOLD = ROOT / "tests" / "fixtures" / "gold"
PER_LISTING = 10
RELATED = 8  # links to other articles of the portal that an article page keeps
MB = 2**20
COLUMNS = (
    "portals",
    "run",
    "wall s",
    "crawl s",
    "extract s",
    "validate s",
    "publish s",
    "requests",
    "MB",
    "pages/s",
    "CPU s",
    "CPU/art",
    "peak MB",
    "articles",
    "files",
    "parquet MB",
)
WIDTHS = (7, 9, 8, 8, 10, 11, 10, 9, 7, 8, 8, 8, 8, 9, 6, 11)

# Each family's URL scheme for the generated pages, matching the family's patterns:
# (article n, listing page 1, listing page p); {big} is a larger id built from n.
URLS: dict[str, tuple[str, str, str]] = {
    "hanoi-gov": ("/tin-moi/bai-viet-so-{n}-42603010800{n:05d}.htm", "/tin-moi.htm", "/tin-moi/trang-{p}.htm"),
    "liferay": ("/tin-tuc/-/view_content/{big}-bai-viet-so-{n}.html", "/tin-tuc/tin-moi", "/tin-tuc/tin-moi?cur={p}"),
    "liferay-asset-publisher": (
        "/web/trang-chu/chi-tiet/-/asset_publisher/bai-viet-so-{n}-{big}.html",
        "/web/trang-chu/tin-tuc/tin-moi",
        "/web/trang-chu/tin-tuc/tin-moi?page={p}",
    ),
    "newspaper-cms": ("/bai-viet-so-{n}-{big}.html", "/tin-moi", "/tin-moi?page={p}"),
    "wordpress": ("/2026/03/{day:02d}/bai-viet-so-{n}/", "/category/tin-moi/", "/category/tin-moi/page/{p}/"),
    "dotnetnuke": ("/Default.aspx?tabid=62&ID={n}", "/Default.aspx?tabid=62", "/Default.aspx?tabid=62&page={p}"),
    "quangninh-sharepoint": (
        "/Trang/ChiTietTinTuc.aspx?nid={n}",
        "/Trang/TinTuc.aspx?dm=1",
        "/Trang/TinTuc.aspx?dm=1&p={p}",
    ),
}


# -- the generated mirror ----------------------------------------------------------------------
@dataclass(frozen=True)
class Style:
    """A bundled portal whose fixture article is the template of its imitations' articles."""

    site: Site
    host: str
    template: str  # the article page with ⟦marks⟧ where the generated parts go
    paragraph_tag: str  # the element the body's paragraphs are in


def _template(site: Site, gold: dict[str, Any]) -> tuple[str, str] | None:
    """The fixture article of ``gold`` with marks in place of its own parts, and the tag its
    paragraphs sit in; None if the page is not UTF-8 or its gold text is not there verbatim."""
    url = str(gold["url"])
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    found = mirror_file(MIRROR_DIR, parts.hostname or "", target)
    if found is None or found.with_name(found.name + ".headers.json").exists():
        return None  # a legacy charset: the generated text is UTF-8
    text = found.read_text(encoding="utf-8")
    title = str(gold["title"])
    for form in {title, html.escape(title), html.escape(title, quote=False)}:
        text = text.replace(form, "⟦title⟧")
    at = {p: _in_text(text, p) for p in gold["body"]}
    if "⟦title⟧" not in text or None in at.values():
        return None
    # The generated body goes where the first paragraph in a block of its own was (not the
    # lead in <strong>, nor the meta description that repeats it); the others are taken out.
    tags = {p: re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)\b", text[: at[p]])[-1].lower() for p in gold["body"]}
    blocks = [p for p in gold["body"] if tags[p] in ("p", "div", "td", "br")]
    if not blocks:
        return None
    for paragraph in sorted(gold["body"], key=lambda p: -(at[p] or 0)):  # from the end: positions hold
        position = at[paragraph] or 0
        mark = "⟦body⟧" if paragraph == blocks[0] else ""
        text = text[:position] + mark + text[position + len(paragraph) :]
    for form in (url, url.replace("&", "&amp;"), url.replace("https://", "http://")):
        text = text.replace(form, "⟦self⟧")
    for quote in "\"'":
        for form in (target, target.replace("&", "&amp;")):
            text = text.replace(f"{quote}{form}{quote}", f"{quote}⟦self⟧{quote}")
    related = itertools.count()

    def link(match: re.Match[str]) -> str:
        value = html.unescape(match[2])
        if "⟦" in value:
            return match[0]
        absolute = urljoin(url, value)
        if site.is_article_url(absolute):
            return f"href={match[1]}⟦rel{next(related) % RELATED}⟧{match[1]}"
        if site.is_listing_url(absolute):
            return f"href={match[1]}⟦list⟧{match[1]}"
        return match[0]

    text = re.sub(r"""href=(["'])(.*?)\1""", link, text, flags=re.S)
    text = text.replace(parts.hostname or "", "⟦host⟧")
    text = text.replace("</body>", "⟦pad⟧</body>", 1) if "</body>" in text else text + "⟦pad⟧"
    return text, tags[blocks[0]]


def _in_text(text: str, paragraph: str) -> int | None:
    """Where ``paragraph`` is the text of an element (not an attribute's value), or None."""
    start = 0
    while (at := text.find(paragraph, start)) >= 0:
        if text[:at].rstrip().endswith(">"):
            return at
        start = at + 1
    return None


@cache
def styles() -> tuple[Style, ...]:
    """One style per bundled portal: the first of its gold articles that can be a template."""
    found = []
    for slug, site in sorted(load_registry().items()):
        for path in sorted((GOLD / slug).glob("*.json")):
            if path.name.startswith("_"):
                continue
            made = _template(site, json.loads(path.read_text(encoding="utf-8")))
            if made is not None:
                found.append(Style(site, site.domains[0], *made))
                break
        else:
            raise ValueError(f"{GOLD / slug}: no gold article whose page can be a template (UTF-8, text verbatim)")
    return tuple(found)


@cache
def sentences() -> tuple[str, ...]:
    """Random Vietnamese-looking sentences (bench/publish.py's corpus), a smaller pool."""
    from publish import Corpus

    return tuple(str(s) for s in Corpus(13).sentences[:50_000])


@dataclass(frozen=True)
class Portal:
    index: int
    style: Style

    @property
    def host(self) -> str:
        return copy_host(self.style.host, self.index + 2)

    @property
    def slug(self) -> str:
        return f"p{self.index:04d}-{self.style.site.slug}"

    def article_path(self, n: int) -> str:
        return URLS[self.style.site.family][0].format(n=n, big=3_000_000 + n, day=1 + n % 28)

    def listing_path(self, page: int) -> str:
        scheme = URLS[self.style.site.family]
        return scheme[1] if page == 1 else scheme[2].format(p=page)

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"


def portals_of(count: int) -> list[Portal]:
    return [Portal(i, styles()[i % len(styles())]) for i in range(count)]


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(sentences()) for _ in range(rng.randint(low, high)))


def headline(portal: Portal, n: int) -> str:
    rng = random.Random(f"{portal.host}/{n}/title")
    words = _words(rng, 3, 3).rstrip(".").split()
    return " ".join(words[: rng.randint(10, 20)]) + f" (số {n})"


def padding(rng: random.Random, size: int) -> str:
    """Furniture of about ``size`` bytes: a menu of links that are neither articles nor
    listings, and an inline script, as portal pages carry."""
    if size <= 0:
        return ""
    links: list[str] = []
    length = 0
    while length < size * 0.4:
        links.append(f"<li><a href='/lien-ket/muc-{len(links)}'>{_words(rng, 1, 1)[:60]}</a></li>")
        length += len(links[-1].encode())
    blob = rng.randbytes(max(0, int(size - length - 120) // 2)).hex()
    return f"<div class='menu-lien-ket'><ul>{''.join(links)}</ul></div><script>window.__state='{blob}';</script>"


def article_page(portal: Portal, n: int, version: int) -> bytes:
    rng = random.Random(f"{portal.host}/{n}")
    target = 30_000 + rng.randrange(90_000)
    tag = portal.style.paragraph_tag
    paragraphs = [_words(rng, 2, 6) for _ in range(rng.randint(6, 16))]
    if version > 1:
        paragraphs.append(f"Cập nhật lần {version}: {_words(rng, 1, 2)}")
    joiner = "<br /><br />" if tag == "br" else f"</{tag}><{tag}>"
    page = portal.style.template.replace("⟦title⟧", headline(portal, n)).replace("⟦body⟧", joiner.join(paragraphs))
    page = page.replace("⟦self⟧", portal.url(portal.article_path(n))).replace("⟦list⟧", portal.listing_path(1))
    for k in range(RELATED):
        other = n - 1 - k if n - 1 - k >= 1 else k % n + 1  # older articles, as "Tin khác" boxes list
        page = page.replace(f"⟦rel{k}⟧", portal.article_path(other))
    page = page.replace("⟦host⟧", portal.host)
    return page.replace("⟦pad⟧", padding(rng, target - len(page.encode()))).encode()


def listing_page(portal: Portal, total: int, page: int) -> bytes:
    first = total - (page - 1) * PER_LISTING
    items = "".join(
        f"<li><a href='{portal.article_path(n)}'>{headline(portal, n)}</a></li>"
        for n in range(first, max(first - PER_LISTING, 0), -1)
    )
    more = f"<a href='{portal.listing_path(page + 1)}'>Trang sau</a>" if first - PER_LISTING > 0 else ""
    rng = random.Random(f"{portal.host}/listing/{page}")
    return (
        f"<!DOCTYPE html><html lang='vi'><head><meta charset='utf-8'><title>Tin mới - trang {page}</title></head>"
        f"<body><h1>Tin mới</h1><ul class='danh-sach'>{items}</ul>{more}{padding(rng, 25_000)}</body></html>"
    ).encode()


def sitemap(portal: Portal, total: int, articles: int, night: int) -> bytes:
    entries = "".join(
        f"<url><loc>{html.escape(portal.url(portal.article_path(n)))}</loc>"
        f"<lastmod>2026-03-0{1 + n % 9}T0{2 if revised(n, articles, night) else 1}:00:00+07:00</lastmod></url>"
        for n in range(total, 0, -1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{entries}</urlset>"
    ).encode()


def article_urls(portals: int, articles: int, night: int) -> list[str]:
    """Every article the mirror has on ``night``."""
    return [
        p.url(p.article_path(n)) for p in portals_of(portals) for n in range(1, night_articles(articles, night) + 1)
    ]


@dataclass(frozen=True)
class Page:
    ctype: str
    body: bytes
    etag: str
    article: bool


Pages = dict[tuple[str, str], Page]  # (host, path and query) -> the page


def mirror_pages(portals: int, articles: int, night: int, made: dict[tuple[str, int, int], bytes]) -> Pages:
    """Every page of ``night``; article pages come from (and go into) ``made``, so the
    nights share the pages they have in common."""
    pages: Pages = {}
    html_type = "text/html; charset=utf-8"
    total = night_articles(articles, night)

    def put(host: str, path: str, ctype: str, body: bytes, article: bool = False) -> None:
        pages[host, path] = Page(ctype, body, f'"{hashlib.blake2b(body, digest_size=8).hexdigest()}"', article)

    for portal in portals_of(portals):
        put(portal.host, "/robots.txt", "text/plain", b"User-agent: *\nAllow: /\n")
        put(portal.host, "/sitemap.xml", "application/xml", sitemap(portal, total, articles, night))
        for page in range(1, (total - 1) // PER_LISTING + 2):
            put(portal.host, portal.listing_path(page), html_type, listing_page(portal, total, page))
        for n in range(1, total + 1):
            version = 2 if revised(n, articles, night) else 1
            key = (portal.host, n, version)
            if key not in made:
                made[key] = article_page(portal, n, version)
            put(portal.host, portal.article_path(n), html_type, made[key], article=True)
    return pages


# -- the server (a process of its own) ---------------------------------------------------------
class Server:
    """The mirror from memory; ``/_control/<command>`` on any host switches nights and
    returns (and resets) what was served."""

    def __init__(self, portals: int, articles: int) -> None:
        made: dict[tuple[str, int, int], bytes] = {}
        self.nights = {night: mirror_pages(portals, articles, night, made) for night in (1, 2)}
        self.night = 1
        self.served: Counter[str] = Counter()

    def answer(self, host: str, target: str, if_none_match: str | None) -> tuple[int, str, bytes, str | None]:
        if target.startswith("/_control/"):
            command = target.rsplit("/", 1)[-1]
            if command.startswith("night"):
                self.night = int(command[5:])
            served, self.served = dict(self.served), Counter()
            return 200, "application/json", json.dumps(served).encode(), None
        found = self.nights[self.night].get((host, target))
        self.served["requests"] += 1
        if found is None:
            self.served["not_found"] += 1
            return 404, "text/plain", b"not found", None
        self.served["article_requests"] += found.article
        if if_none_match == found.etag:
            self.served["not_modified"] += 1
            return 304, found.ctype, b"", found.etag
        self.served["bytes"] += len(found.body)
        return 200, found.ctype, found.body, found.etag

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                target = line.split()[1].decode("latin-1")
                headers = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                host = headers.get("host", "").rsplit(":", 1)[0]
                if target.startswith("http"):  # a proxy's request (the bare spider): the host is in it
                    parts = urlsplit(target)
                    host, target = parts.hostname or "", parts.path + (f"?{parts.query}" if parts.query else "")
                status, ctype, body, etag = self.answer(host, target, headers.get("if-none-match"))
                head = f"HTTP/1.1 {status} {'OK' if status == 200 else 'X'}\r\nContent-Type: {ctype}\r\n"
                head += f"Content-Length: {len(body)}\r\n" + (f"ETag: {etag}\r\n" if etag else "") + "\r\n"
                writer.write(head.encode("latin-1") + body)
                await writer.drain()
        except (ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()


def serve(portals: int, articles: int, port: int) -> None:
    server = Server(portals, articles)

    async def main() -> None:
        listening = await asyncio.start_server(server.handle, host="127.0.0.1", port=port, backlog=1024)
        print("ready", flush=True)
        async with listening:
            await listening.serve_forever()

    asyncio.run(main())


def control(port: int, command: str) -> dict[str, int]:
    from urllib.request import urlopen

    with urlopen(f"http://127.0.0.1:{port}/_control/{command}", timeout=30) as answer:
        return dict(json.loads(answer.read()))


def server_rate(portals: int, articles: int, port: int, seconds: float = 3.0) -> float:
    """Article pages a second the server answers to 32 kept-alive connections."""
    hosts = portals_of(portals)

    def request(index: int, n: int) -> bytes:
        portal = hosts[index % portals]
        path = portal.article_path((n - 1) % articles + 1)
        return f"GET {path} HTTP/1.1\r\nHost: {portal.host}\r\n\r\n".encode()

    return keepalive_rate(lambda _index: "127.0.0.1", request, port, seconds)


# -- the registry and the runs -------------------------------------------------------------
def write_registry(registry: Path, portals: int, polite: bool) -> None:
    registry.mkdir(parents=True, exist_ok=True)
    # Our own benchmark politeness, off by default: the crawl's default is 1 s and one at a time.
    crawl = (
        "download_delay = 1\nconcurrent_requests = 1\n" if polite else "download_delay = 0\nconcurrent_requests = 8\n"
    )
    for portal in portals_of(portals):
        site = portal.style.site
        (registry / f"{portal.slug}.toml").write_text(
            f'name = "{site.name} ({portal.index})"\nkind = "{site.kind}"\nprovince = "{site.province}"\n'
            f'family = "{site.family}"\ndomains = ["{portal.host}"]\n'
            f'start_urls = ["{portal.url(portal.listing_path(1))}"]\n'
            f'sitemaps = ["{portal.url("/sitemap.xml")}"]\nfeeds = []\n[crawl]\n{crawl}',
            encoding="utf-8",
        )
    sites = load_registry(registry)
    for portal in portals_of(min(portals, len(styles()))):
        site = sites[portal.slug]
        if not site.is_article_url(portal.url(portal.article_path(7))) or not site.is_listing_url(
            portal.url(portal.listing_path(2))
        ):
            raise ValueError(f"{site.path}: the generated URLs do not match family {site.family}'s patterns")


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_mb: float
    output: str


def measured(command: list[str], check: bool = True) -> Measured:
    """``command`` as a process of its own: wall time, CPU seconds of its process tree, and
    the peak of its tree's summed RSS, sampled every 0.1 s. ``check``: fail on a non-zero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    peak = [0]

    def sample() -> None:
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if check and process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... exited {process.returncode}:\n{output[-4000:]}")
    return Measured(wall, cpu, peak[0] / MB, output)


def stages(data: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """Each stage's wall time in the newest run summary: first start to last end."""
    summary = json.loads(max((data / "runs").glob("*.json")).read_text(encoding="utf-8"))
    spans: dict[str, float] = {}
    for step in ("crawl", "extract", "validate"):
        records = [p[step] for p in summary["portals"].values() if p.get(step)]
        if records:
            spans[step] = max(_seconds(r["finished_at"]) for r in records) - min(
                _seconds(r["started_at"]) for r in records
            )
    if summary.get("publish"):
        spans["publish"] = float(summary["publish"]["duration_s"])
    return spans, summary


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def dataset(data: Path) -> tuple[list[str], list[int]]:
    """The URLs of every row in the articles dataset, and its files' sizes."""
    import pyarrow.parquet as pq

    files = sorted((data / "articles").resolve().glob("*/*.parquet"))
    urls = [u for f in files for u in pq.read_table(f, columns=["url"]).column("url").to_pylist()]
    return urls, [f.stat().st_size for f in files]


def check_published(urls: list[str], expected: list[str]) -> str:
    counts = Counter(urls)
    missing = [u for u in expected if counts[u] == 0]
    twice = [u for u, c in counts.items() if c > 1]
    if not missing and not twice:
        return f"every one of the {len(expected)} generated articles published exactly once"
    return f"NOT EXACTLY ONCE: {len(missing)} missing (e.g. {missing[:3]}), {len(twice)} more than once ({twice[:3]})"


# -- the floors (each in a process of its own) --------------------------------------------------
def bare(registry: Path, port: int) -> None:
    """Scrapy with its defaults (no robots.txt, archive, state or politeness) following the
    links the site configs call articles and listings, from each portal's first listing."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    sites = load_registry(registry)
    proxy = f"http://127.0.0.1:{port}"

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self) -> Any:
            for slug, site in sites.items():
                yield scrapy.Request(site.start_urls[0], meta={"proxy": proxy, "site": slug})

        def parse(self, response: Any) -> Any:
            site = sites[response.meta["site"]]
            for href in response.css("a::attr(href)").getall():
                url = response.urljoin(href)
                if site.is_article_url(url) or site.is_listing_url(url):
                    yield scrapy.Request(url, self.parse, meta={"proxy": proxy, "site": site.slug})

    # Scrapy's default is 16 requests in all; ours crawls 64 portals at a time.
    process = CrawlerProcess({"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False, "CONCURRENT_REQUESTS": 64})
    process.crawl(Bare)
    process.start()


def _plain(page: tuple[str, bytes]) -> int:
    import trafilatura

    return len(trafilatura.extract(page[1], url=page[0]) or "")


def plain_trafilatura(portals: int, articles: int, cores: int) -> None:
    """Plain ``trafilatura.extract`` over night 1's articles; prints its wall and CPU."""
    import multiprocessing

    import trafilatura  # noqa: F401  (imported before the clock starts)

    pages = [
        (p.url(p.article_path(n)), article_page(p, n, 1)) for p in portals_of(portals) for n in range(1, articles + 1)
    ]
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    if cores == 1:
        empty = sum(1 for page in pages if not _plain(page))
    else:
        with multiprocessing.get_context("fork").Pool(cores) as pool:
            empty = sum(1 for length in pool.imap_unordered(_plain, pages, chunksize=8) if not length)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True))
    print(json.dumps({"wall": wall, "cpu": cpu, "pages": len(pages), "empty": empty}))


def profile_extract(pages: int) -> None:
    """cProfile of ``extract_page`` over ``pages`` generated articles (the extract stage's
    own work, without the worker around it)."""
    import cProfile
    import pstats

    from transforms import extract_page

    chosen = [(p, n) for n in range(1, pages + 1) for p in portals_of(len(styles()))][:pages]
    made = [(p, p.url(p.article_path(n)), article_page(p, n, 1)) for p, n in chosen]
    profiler = cProfile.Profile()
    profiler.enable()
    for portal, url, body in made:
        extract_page(body, url, portal.style.site.slug, hints=portal.style.site.extract, expect_article=True)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)


# -- the benchmark ---------------------------------------------------------------------------
def row(values: dict[str, Any]) -> str:
    """One line of the table: the value of each column, blank where there is none."""
    out = []
    for column, width in zip(COLUMNS, WIDTHS, strict=True):
        value = values.get(column, "")
        out.append((f"{value:.1f}" if isinstance(value, float) else str(value)).rjust(width))
    return "".join(out)


def night_row(
    portals: int, label: str, m: Measured, spans: dict[str, float], served: dict[str, int], data: Path
) -> str:
    urls, sizes = dataset(data)
    values: dict[str, Any] = {f"{s} s": spans.get(s, 0.0) for s in ("crawl", "extract", "validate", "publish")}
    values |= {
        "portals": portals,
        "run": label,
        "wall s": m.wall,
        "requests": served.get("requests", 0),
        "MB": served.get("bytes", 0) / MB,
        "pages/s": served.get("requests", 0) / max(spans.get("crawl", m.wall), 1e-9),
        "CPU s": m.cpu,
        "CPU/art": f"{m.cpu / max(served.get('article_requests', 0), 1):.3f}",
        "peak MB": m.peak_mb,
        "articles": len(urls),
        "files": len(sizes),
        "parquet MB": sum(sizes) / MB,
    }
    return row(values)


def bench(portals: int, articles: int, polite: bool, keep: Path | None, with_floors: bool) -> None:
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(portals), str(articles), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        print(
            f"\n{portals} portals: mirror made in {time.perf_counter() - started:.1f} s; the server alone answers "
            f"{server_rate(portals, articles, port):.0f} article pages/s"
        )
        print(row(dict(zip(COLUMNS, COLUMNS, strict=True))))
        control(port, "reset")
        with tempfile.TemporaryDirectory(prefix="vnportals-scale-") as tmp:
            work = Path(tmp) if keep is None else keep / str(portals)
            nights(portals, articles, port, polite, work, with_floors and not polite)
    finally:
        server.terminate()
        server.wait()


def nights(portals: int, articles: int, port: int, polite: bool, work: Path, with_floors: bool) -> None:
    registry, data = work / "sites", work / "data"
    write_registry(registry, portals, polite)
    command = [str(Path(sys.executable).with_name("vnportals")), "run", "--registry", str(registry)]
    command += ["--data-dir", str(data), "--mirror-url", f"http://127.0.0.1:{port}"]
    runs: dict[int, tuple[Measured, dict[str, float], dict[str, int]]] = {}
    for night in (1, 2):
        control(port, f"night{night}")
        m = measured(command, check=False)
        served = control(port, "reset")
        spans, summary = stages(data)
        if summary["outcome"] != "succeeded":
            print(f"night {night}: {summary['outcome']}: {summary['failed_portals']}")
        runs[night] = (m, spans, served)
        print(night_row(portals, f"night {night}", m, spans, served, data))
        print(f"{'':>16}{check_published(dataset(data)[0], article_urls(portals, articles, night))}")
    (m1, spans1, served1), (m2, _, served2) = runs[1], runs[2]

    def ratio(key: str) -> float:
        return served2.get(key, 0) / max(served1.get(key, 0), 1)

    print(
        f"{'':>16}night 2 / night 1: requests {ratio('requests'):.2f}, article requests "
        f"{ratio('article_requests'):.2f}, bytes {ratio('bytes'):.2f}, wall {m2.wall / m1.wall:.2f}"
    )
    if not with_floors:
        return
    control(port, "night1")
    b = measured([sys.executable, __file__, "--bare", str(registry), str(port)])
    served = control(port, "reset")
    bare_row = {
        "portals": portals,
        "run": "bare",
        "wall s": b.wall,
        "crawl s": b.wall,
        "requests": served["requests"],
        "CPU s": b.cpu,
    }
    bare_row |= {"MB": served.get("bytes", 0) / MB, "pages/s": served["requests"] / b.wall, "peak MB": b.peak_mb}
    print(row(bare_row) + "   (a bare Scrapy spider)")
    plain = {}
    for cores in (1, 2):
        run = measured([sys.executable, __file__, "--trafilatura", str(portals), str(articles), str(cores)])
        plain[cores] = found = json.loads(run.output.strip().splitlines()[-1])
        plain_row = {
            "portals": portals,
            "run": f"plain {cores}",
            "wall s": found["wall"],
            "extract s": found["wall"],
            "CPU s": found["cpu"],
        }
        plain_row["CPU/art"] = f"{found['cpu'] / found['pages']:.3f}"
        print(
            row(plain_row)
            + f"   (trafilatura.extract, {cores} core{'s' if cores > 1 else ''}; {found['empty']} returned nothing)"
        )
    crawl, extract = spans1.get("crawl", 0.0), spans1.get("extract", 0.0)
    print(
        f"{'':>16}night 1 against the floors: wall / bare {m1.wall / b.wall:.2f}, crawl / bare {crawl / b.wall:.2f}, "
        f"extract / plain on 1 core {extract / plain[1]['wall']:.2f}, on 2 cores {extract / plain[2]['wall']:.2f}, "
        f"CPU / (bare + plain) {m1.cpu / (b.cpu + plain[1]['cpu']):.2f}, peak RSS / bare {m1.peak_mb / b.peak_mb:.2f}"
    )


def publish_into_month(rows: int, night: int) -> None:
    """A night of ``night`` articles (95% new, 5% revisions of the last week's) published into a
    month that already holds ``rows`` (bench/publish.py's generator and measurement)."""
    import publish as month_bench

    corpus = month_bench.Corpus()
    with tempfile.TemporaryDirectory(prefix="vnportals-scale-month-") as tmp:
        started = time.perf_counter()
        month = month_bench.fill_month(Path(tmp), corpus, rows, min(rows, 90_000), 300)
        filled = time.perf_counter() - started
        batches = month_bench.measured_night(corpus, month, "recent", night, 300, Path(tmp) / "night")
        result = month_bench.run_measured(month.data, batches, baseline=False)
        files = month_bench.month_files(month.data)
        print(
            f"publish of {night:,} articles into a month of {rows:,} rows (filled in {filled:.0f} s): wall "
            f"{result['wall']:.1f} s, peak RSS {result['peak_rss'] / MB:.0f} MB; the month afterwards: {len(files)} "
            f"files, {sum(f.stat().st_size for f in files) / MB:.0f} MB; {result['summary']['line']}"
        )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("--serve", "--bare", "--trafilatura", "--profile-extract"):
        kind, argv = sys.argv[1], sys.argv[2:]
        if kind == "--serve":
            serve(*(int(a) for a in argv))
        elif kind == "--bare":
            bare(Path(argv[0]), int(argv[1]))
        elif kind == "--trafilatura":
            plain_trafilatura(*(int(a) for a in argv))
        else:
            profile_extract(int(argv[0]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portals", default="10,100,300", help="numbers of portals, comma-separated")
    parser.add_argument("--articles", type=int, default=30, help="articles per portal on the first night")
    parser.add_argument("--polite", action="store_true", help="1 s delay, one request at a time per portal")
    parser.add_argument("--no-floors", action="store_true", help="skip the bare Scrapy spider and plain trafilatura")
    parser.add_argument("--month-rows", type=int, default=270_000, help="rows of the month published into (0: skip)")
    parser.add_argument("--keep", type=Path, default=None, help="keep each N's registry and data dir under DIR/N")
    args = parser.parse_args()
    counts = [int(n) for n in args.portals.split(",")]
    print(
        f"{args.articles} articles per portal on night 1; politeness {'on' if args.polite else 'off'}; styles: "
        + ", ".join(f"{s.site.slug} ({s.site.family})" for s in styles())
    )
    for portals in counts:
        bench(portals, args.articles, args.polite, args.keep, not args.no_floors)
    if args.month_rows:
        publish_into_month(args.month_rows, max(counts) * args.articles)
    return 0


if __name__ == "__main__":
    sys.exit(main())

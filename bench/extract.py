"""Extraction benchmark over every fixture article with gold.

    uv run python bench/extract.py [--repeat N]

One row per extractor: vnportals' ``extract_article``, plain ``trafilatura.extract`` with
its defaults, readability-lxml and jusText (Vietnamese stop list). Columns: token precision,
recall and F1 of the body against the gold body (NFC, case-folded word tokens); leak rate
(share of pages whose body holds any ``must_not_contain`` string); title, date and author
accuracy where the extractor gives them; pages per second on one core (all extractors timed
side by side in this one process). A per-family table of leaks follows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import justext  # noqa: E402
import lxml.html  # noqa: E402
import trafilatura  # noqa: E402
from readability import Document  # noqa: E402

from kernel.registry import load_registry  # noqa: E402
from pipeline.mirror import MIRROR_DIR, mirror_file  # noqa: E402
from transforms import extract_article  # noqa: E402
from transforms.evaluation import Gold, load_gold, token_score  # noqa: E402
from transforms.text import decode_html  # noqa: E402

GOLD_DIR = ROOT / "tests" / "fixtures" / "gold"


@dataclass
class Output:
    body: str
    title: str | None = None
    published: str | None = None
    author: str | None = None


Extractor = Callable[[bytes, str, str], Output]


def run_vnportals(html: bytes, url: str, site: str) -> Output:
    hints = SITES[site].extract if site in SITES else None
    article = extract_article(html, url, site=site, hints=hints)
    if article is None:
        return Output("")
    published = article.published_at.isoformat() if article.published_at else None
    return Output(article.body, article.title, published, article.author)


def run_trafilatura(html: bytes, url: str, site: str) -> Output:
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if document is None:
        return Output("")
    return Output(document.text or "", document.title, document.date, document.author)


def run_readability(html: bytes, url: str, site: str) -> Output:
    doc = Document(decode_html(html))
    summary = lxml.html.fromstring(doc.summary(html_partial=True))
    lines = [p.text_content() for p in summary.iter("p", "li", "h2", "h3", "td", "figcaption")]
    return Output("\n".join(line for line in lines if line.strip()), doc.short_title())


def run_justext(html: bytes, url: str, site: str) -> Output:
    blocks = justext.justext(html, justext.get_stoplist("Vietnamese"))
    return Output("\n".join(b.text for b in blocks if not b.is_boilerplate))


EXTRACTORS: dict[str, Extractor] = {
    "vnportals extract_article": run_vnportals,
    "trafilatura.extract (defaults)": run_trafilatura,
    "readability-lxml": run_readability,
    "jusText (Vietnamese)": run_justext,
}
SITES = load_registry()


@dataclass
class Row:
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    leaked: int = 0
    titles: list[bool] = field(default_factory=list)
    dates: list[bool] = field(default_factory=list)
    authors: list[bool] = field(default_factory=list)
    seconds: float = 0.0
    pages: int = 0
    leaks_by_family: dict[str, int] = field(default_factory=dict)


def page_of(gold: Gold) -> bytes:
    from urllib.parse import urlsplit

    parts = urlsplit(gold.url)
    path = mirror_file(MIRROR_DIR, parts.hostname or "", parts.path + ("?" + parts.query if parts.query else ""))
    if path is None:
        raise FileNotFoundError(f"{gold.url}: no page in the offline mirror")
    return path.read_bytes()


def measure(golds: list[Gold], pages: list[bytes], repeat: int) -> dict[str, Row]:
    rows = {name: Row() for name in EXTRACTORS}
    for name, extractor in EXTRACTORS.items():
        row = rows[name]
        for gold, html in zip(golds, pages, strict=True):
            out = extractor(html, gold.url, gold.site)
            score = token_score(out.body, gold.body)
            row.precision.append(score.precision)
            row.recall.append(score.recall)
            row.f1.append(score.f1)
            family = SITES[gold.site].family if gold.site in SITES else gold.site
            leaked = bool(gold.leaks(out.body))
            row.leaked += leaked
            row.leaks_by_family[family] = row.leaks_by_family.get(family, 0) + leaked
            if out.title is not None:
                row.titles.append(out.title == gold.data["title"])
            if gold.data.get("published") and name.startswith("vnportals"):
                row.dates.append(out.published == gold.data["published"])
            elif gold.data.get("published") and out.published is not None:
                row.dates.append(out.published[:10] == gold.data["published"][:10])
            if gold.data.get("author") and (out.author is not None or name.startswith(("vnportals", "trafil"))):
                row.authors.append(out.author == gold.data["author"])
        start = time.perf_counter()
        for _ in range(repeat):
            for gold, html in zip(golds, pages, strict=True):
                extractor(html, gold.url, gold.site)
        row.seconds = time.perf_counter() - start
        row.pages = repeat * len(golds)
    return rows


def share(values: list[bool]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timing passes over the gold set")
    args = parser.parse_args()
    golds = load_gold(GOLD_DIR)
    pages = [page_of(g) for g in golds]
    families = sorted({SITES[g.site].family for g in golds if g.site in SITES})
    print(f"{len(golds)} gold articles from {len({g.site for g in golds})} portals, {len(families)} CMS families")
    rows = measure(golds, pages, args.repeat)
    header = f"{'extractor':<32}{'P':>7}{'R':>7}{'F1':>7}{'leak':>7}{'title':>7}{'date':>7}{'author':>7}{'pages/s':>9}"
    print(header)
    print("-" * len(header))
    base_speed = None
    for name, row in rows.items():
        speed = row.pages / row.seconds if row.seconds else float("inf")
        base_speed = base_speed or speed
        print(
            f"{name:<32}{statistics.mean(row.precision):>7.3f}{statistics.mean(row.recall):>7.3f}"
            f"{statistics.mean(row.f1):>7.3f}{row.leaked / len(golds):>7.2f}{share(row.titles):>7}"
            f"{share(row.dates):>7}{share(row.authors):>7}{speed:>9.1f}"
        )
    ours, plain = rows["vnportals extract_article"], rows["trafilatura.extract (defaults)"]
    ratio = (ours.pages / ours.seconds) / (plain.pages / plain.seconds)
    print("(date: exact time with offset for vnportals; the day only for the others, which give no time)")
    print(f"\nspeed ratio extract_article / trafilatura.extract: {ratio:.2f}")
    print("\npages leaking furniture, by CMS family:")
    short = {name: name.split()[0].split(".")[0] for name in rows}
    print(f"{'family':<24}" + "".join(f"{short[n]:>14}" for n in rows))
    for family in families:
        count = sum(1 for g in golds if g.site in SITES and SITES[g.site].family == family)
        cells = "".join(f"{f'{rows[n].leaks_by_family.get(family, 0)}/{count}':>14}" for n in rows)
        print(f"{family:<24}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

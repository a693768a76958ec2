"""What decoding legacy font encodings costs.

    uv run python bench/legacy.py [--repeat N]

On every fixture article page with gold (Unicode pages: only the cheap first test runs)
and on the legacy fixtures (TCVN3, VNI: the whole decoding runs), side by side in one
process: milliseconds per page in ``decode_page`` alone, in ``parse_page`` (which calls it)
and in the whole ``extract_article``, and decoding's share of the extraction.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from pipeline.mirror import MIRROR_DIR, mirror_file  # noqa: E402
from transforms import extract_article  # noqa: E402
from transforms.evaluation import Gold, load_gold  # noqa: E402
from transforms.legacy import decode_page  # noqa: E402
from transforms.page import parse_page  # noqa: E402
from transforms.text import decode_html  # noqa: E402

GOLD_DIR = ROOT / "tests" / "fixtures" / "gold"
LEGACY_DIR = ROOT / "tests" / "fixtures" / "legacy"


def page_of(gold: Gold) -> bytes:
    parts = urlsplit(gold.url)
    path = mirror_file(MIRROR_DIR, parts.hostname or "", parts.path + ("?" + parts.query if parts.query else ""))
    if path is None:
        raise FileNotFoundError(f"{gold.url}: no page in the offline mirror")
    return path.read_bytes()


def best_ms(pages: list[tuple[bytes, str]], run: Callable[[bytes, str], object], repeat: int) -> float:
    """Milliseconds per page, the best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for html, url in pages:
            run(html, url)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(pages)


def decode_ms(pages: list[tuple[bytes, str]], repeat: int) -> float:
    """Milliseconds per page in ``decode_page`` alone, on trees parsed beforehand (fresh
    ones for each pass, as it decodes them in place), the best of ``repeat`` passes."""
    sources = [decode_html(html) for html, _ in pages]
    best = float("inf")
    for _ in range(repeat):
        trees = [lxml.html.document_fromstring(source) for source in sources]
        start = time.perf_counter()
        for tree, source in zip(trees, sources, strict=True):
            decode_page(tree, source)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    unicode_pages = [(page_of(g), g.url) for g in load_gold(GOLD_DIR)]
    legacy_files = sorted(LEGACY_DIR.glob("*.html"))
    legacy_pages = [(p.read_bytes(), f"http://legacy.example.vn/{p.stem}.htm") for p in legacy_files]
    print(f"{'pages':<26} {'n':>3} {'decode_page':>12} {'parse_page':>11} {'extract':>9} {'share':>7}")
    for label, pages in (("Unicode (gold fixtures)", unicode_pages), ("TCVN3 / VNI fixtures", legacy_pages)):
        decode = decode_ms(pages, args.repeat)
        parse = best_ms(pages, lambda h, u: parse_page(h), args.repeat)
        extract = best_ms(pages, lambda h, u: extract_article(h, u), args.repeat)
        share = decode / extract
        print(f"{label:<26} {len(pages):>3} {decode:>10.3f}ms {parse:>9.3f}ms {extract:>7.2f}ms {share:>6.1%}")


if __name__ == "__main__":
    main()

"""Extraction benchmark: every page set, every extractor, side by side in one run.

    uv run python bench/extract.py [--repeat N] [--corpus DIR] [--trafilatura-eval DIR]
    uv run python bench/extract.py --record [--allow-lower]

Page sets: ``tuning`` (the gold set over the offline mirror plus the corpus's tuning split),
``unseen`` (the corpus's unseen split: only aggregate scores are printed, per family) and
``scrapinghub`` (vendored, every page an article). Extractors: ``extract_page`` with the site
config and URL prior, ``extract_page`` as a user with no site config calls it, plain
``trafilatura.extract`` with its defaults, readability-lxml and jusText.

Columns: token precision, recall and F1 of the body (macro over article pages, a refused page
scores 0), furniture leak rate, article pages rejected (a Rejection, or None from a plain
extractor) and returned empty, title, date and author accuracy (date: the exact time and
offset for extract_page, the day for the others, which print no time), the share of
not-article pages rejected, pages per second on one core and the speed ratio to trafilatura.

``--trafilatura-eval DIR`` adds trafilatura's own evaluation set (a checkout's ``tests``
folder: ``evaldata.json``, ``eval/``, ``cache/``), scored its way: snippets that must and must
not be in the text. ``--record`` writes the quality gate's baseline
(``tests/extraction_baseline.json``): it refuses to lower a floor unless ``--allow-lower``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import justext  # noqa: E402
import lxml.html  # noqa: E402
import trafilatura  # noqa: E402
from readability import Document  # noqa: E402

from kernel.article import Article, Rejection  # noqa: E402
from pipeline.mirror import MIRROR_DIR, mirror_file  # noqa: E402
from transforms import extract_page  # noqa: E402
from transforms.evaluation import (  # noqa: E402
    Extractor,
    Output,
    Page,
    SetScore,
    corpus_pins,
    extract_page_runner,
    gate_measure,
    interleaved_speed,
    load_sets,
    record_baseline,
    run_set,
    snippet_counts,
    snippet_f1,
)
from transforms.text import decode_html  # noqa: E402

BASELINE = ROOT / "tests" / "extraction_baseline.json"
OURS = "extract_page (site config)"
OURS_BARE = "extract_page (no config)"
PLAIN = "trafilatura.extract"


def page_for(url: str) -> bytes:
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    path = mirror_file(MIRROR_DIR, parts.hostname or "", target)
    if path is None:
        raise FileNotFoundError(f"{url}: no page in the offline mirror")
    return path.read_bytes()


def run_trafilatura(page: Page) -> Output:
    text = trafilatura.extract(page.html, url=page.url)
    if text is None:
        return Output("", rejected="none: trafilatura returned None")
    return Output(text)


def trafilatura_fields(page: Page, out: Output) -> Output:
    """Title, date and author as trafilatura's metadata gives them (not timed)."""
    if out.rejected is not None:
        return out
    document = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True)
    if document is None:
        return out
    return Output(out.body, document.title, document.date, document.author)


def run_readability(page: Page) -> Output:
    doc = Document(decode_html(page.html, page.charset))
    summary = lxml.html.fromstring(doc.summary(html_partial=True))
    lines = [p.text_content() for p in summary.iter("p", "li", "h2", "h3", "h4", "td", "figcaption", "pre")]
    return Output("\n".join(line.strip() for line in lines if line.strip()), doc.short_title())


_STOPLISTS = {"vi": "Vietnamese", "en": "English", "de": "German", "fr": "French", "es": "Spanish"}
_LANG_RE = re.compile(rb"<html[^>]*\blang=[\"']?([a-zA-Z]{2})", re.I)


def run_justext(page: Page) -> Output:
    match = _LANG_RE.search(page.html[:5000])
    language = _STOPLISTS.get(match.group(1).decode().lower() if match else "", "English")
    if page.family != "scrapinghub":
        language = "Vietnamese"
    blocks = justext.justext(page.html, justext.get_stoplist(language))
    return Output("\n".join(b.text for b in blocks if not b.is_boilerplate))


EXTRACTORS: dict[str, Extractor] = {
    OURS: extract_page_runner(configured=True),
    OURS_BARE: extract_page_runner(configured=False),
    PLAIN: run_trafilatura,
    "readability-lxml": run_readability,
    "jusText": run_justext,
}
# Untimed second passes that add the fields an extractor's timed call does not give.
FIELDS: dict[str, Callable[[Page, Output], Output]] = {PLAIN: trafilatura_fields}


def fmt(value: float | None, width: int = 7, digits: int = 3) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def measure(pages: list[Page]) -> dict[str, SetScore]:
    scores: dict[str, SetScore] = {}
    for name, extractor in EXTRACTORS.items():
        score, outputs = run_set(extractor, pages)
        if name in FIELDS:
            add_fields, by_page = FIELDS[name], dict(zip((id(p) for p in pages), outputs, strict=True))
            rescored, _ = run_set(lambda p, f=add_fields, o=by_page: f(p, o[id(p)]), pages)  # type: ignore[misc]
            rescored.seconds = score.seconds  # the speed is the extractor's own call's
            score = rescored
        scores[name] = score
    return scores


def print_table(title: str, scores: dict[str, SetScore]) -> None:
    print(f"\n== {title}")
    head = (
        f"{'extractor':<28}{'P':>7}{'R':>7}{'F1':>7}{'leak':>7}{'rej':>5}{'empty':>6}"
        f"{'title':>7}{'date':>7}{'author':>7}{'non-art':>8}{'pages/s':>9}{'x traf':>7}"
    )
    print(head)
    print("-" * len(head))
    plain = scores[PLAIN].pages_per_second or 1.0
    for name, s in scores.items():
        non_art = s.not_articles_rejected / s.not_articles if s.not_articles else None
        print(
            f"{name:<28}{fmt(s.mean(s.precision))}{fmt(s.mean(s.recall))}{fmt(s.mean_f1)}{fmt(s.leak_rate, 7, 2)}"
            f"{s.rejected:>5}{s.empty:>6}{fmt(s.share(s.titles), 7, 2)}{fmt(s.share(s.dates), 7, 2)}"
            f"{fmt(s.share(s.authors), 7, 2)}{fmt(non_art, 8, 2)}{s.pages_per_second:>9.1f}"
            f"{s.pages_per_second / plain:>7.2f}"
        )
    for name in (OURS, OURS_BARE):
        if scores[name].reasons:
            reasons = ", ".join(f"{r} x{n}" for r, n in scores[name].reasons.most_common())
            print(f"  {name} rejected articles: {reasons}")


def print_families(pages: list[Page], names: tuple[str, ...]) -> None:
    """Aggregate F1, leaks and rejections per family (no page is named)."""
    families = sorted({p.family for p in pages})
    cols = "".join(f"{n[:22]:>24}" for n in names)
    print(f"{'family':<22}{'art':>4}{'non':>4}{cols}   (F1 / leaks / rejected articles / non-articles rejected)")
    for family in families:
        subset = [p for p in pages if p.family == family]
        cells = []
        for name in names:
            s, _ = run_set(EXTRACTORS[name], subset)
            non = f"{s.not_articles_rejected}/{s.not_articles}" if s.not_articles else "-"
            cells.append(f"{s.mean_f1:.3f}/{s.leaked}/{s.rejected}/{non}")
        arts = sum(p.is_article for p in subset)
        print(f"{family:<22}{arts:>4}{len(subset) - arts:>4}" + "".join(f"{c:>24}" for c in cells))


def body_of(found: Article | Rejection) -> str | None:
    return found.body if isinstance(found, Article) else None


def trafilatura_eval(folder: Path) -> None:
    """extract_page (no config) against plain trafilatura on trafilatura's evaluation set."""
    evaldata = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
    runners: dict[str, Callable[[bytes, str], str | None]] = {
        OURS_BARE: lambda html, url: body_of(extract_page(html, url, None, expect_article=False)),
        "extract_page (URL prior: article)": lambda html, url: body_of(extract_page(html, url, expect_article=True)),
        PLAIN: lambda html, url: trafilatura.extract(html, url=url),
        PLAIN + " (its eval options)": lambda html, url: trafilatura.extract(
            html, url=url, include_comments=False, include_tables=True
        ),
    }
    counts: dict[str, list[tuple[int, int, int, int]]] = {name: [] for name in runners}
    nones = dict.fromkeys(runners, 0)
    for url, item in evaldata.items():
        path = next((p for p in (folder / "cache" / item["file"], folder / "eval" / item["file"]) if p.is_file()), None)
        if path is None:
            continue
        html = path.read_bytes()
        for name, run in runners.items():
            try:
                text = run(html, url)
            except Exception as error:  # a crash counts as a miss, as trafilatura's own harness does
                print(f"  {name}: {item['file']}: {type(error).__name__}: {error}")
                text = None
            nones[name] += text is None
            counts[name].append(snippet_counts(text, item["with"], item["without"]))
    print(f"\n== trafilatura's evaluation set ({len(counts[PLAIN])} pages; snippet precision, recall, F1)")
    for name, found in counts.items():
        p, r, f = snippet_f1(found)
        print(f"{name:<44}{p:>7.3f}{r:>7.3f}{f:>7.3f}   None: {nones[name]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timing passes (each page's best counts; 0: none)")
    parser.add_argument("--corpus", type=Path, help="corpus folder (default tests/fixtures/corpus)")
    parser.add_argument("--sets", default="tuning,unseen,scrapinghub", help="page sets to run, comma-separated")
    parser.add_argument("--trafilatura-eval", type=Path, help="trafilatura's tests folder, measured locally")
    parser.add_argument("--quick", action="store_true", help="only extract_page and trafilatura (an inner loop)")
    parser.add_argument("--record", action="store_true", help="write the quality gate's baseline")
    parser.add_argument("--allow-lower", action="store_true", help="with --record: accept lower floors")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, for every extractor alike
    sets = load_sets(ROOT / "tests", page_for, args.corpus)
    if args.record:
        lowered = record_baseline(BASELINE, gate_measure(sets), corpus_pins(sets), allow_lower=args.allow_lower)
        if lowered:
            print("re-pinned the corpus only; refusing to lower these floors (--allow-lower accepts them):")
            print("\n".join(lowered))
            return 1
        print(f"recorded {BASELINE.relative_to(ROOT)}")
        return 0
    if args.quick:
        for name in ("readability-lxml", "jusText"):
            del EXTRACTORS[name]
    wanted = args.sets.split(",")
    everything: list[Page] = []
    for name in wanted:
        pages = sets.get(name, [])
        if not pages:
            print(f"\n== {name}: no pages")
            continue
        everything += pages
        families = len({p.family for p in pages})
        arts = sum(p.is_article for p in pages)
        print_table(f"{name}: {arts} articles, {len(pages) - arts} not articles, {families} families", measure(pages))
        if name != "scrapinghub":
            print_families(pages, tuple(n for n in (OURS, OURS_BARE, PLAIN, "readability-lxml") if n in EXTRACTORS))
    if everything and args.repeat:
        print(f"\n== speed over all {len(everything)} pages, one core, page by page in turn, best of {args.repeat}")
        speeds = interleaved_speed(EXTRACTORS, everything, args.repeat)
        for name, speed in speeds.items():
            print(f"{name:<28}{speed:>9.1f} pages/s{speed / speeds[PLAIN]:>7.2f} x trafilatura")
    if args.trafilatura_eval:
        trafilatura_eval(args.trafilatura_eval)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scoring extraction against gold pages: the page sets, the one scoring harness every
extractor goes through, and the quality gate's baseline (floors and a hash of the corpus).

Used by the benchmark (``bench/extract.py``) and the gate test. Page sets:

* the gold set: ``tests/fixtures/gold/<slug>/<name>.json`` over the offline mirror (articles,
  and the not-articles each ``_site.json`` names);
* the corpus: ``tests/fixtures/corpus/<split>/<family>/<page>.html`` + ``<page>.json``
  (``kind`` article or not_article) with ``_family.json`` naming each portal's
  ``article_urls``;
* ScrapingHub's article-extraction benchmark, vendored under ``tests/data/scrapinghub``
  (every page an article);
* trafilatura's own evaluation set (``evaldata.json`` with "with"/"without" snippets), which
  is measured locally and never committed.

Scores: token precision, recall and F1 of the body (NFC, case-folded word tokens, bag of
tokens), macro over article pages, a rejected or empty article scoring 0; furniture leak rate
(share of article pages whose body holds a ``must_not_contain`` string); pages rejected or
returned empty; title, date and author accuracy; the share of not-article pages rejected.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TOKEN_RE = re.compile(r"\w+")
_SPACE_RE = re.compile(r"\s+")


def tokens(text: str) -> list[str]:
    """Word tokens, NFC and case-folded."""
    return _TOKEN_RE.findall(unicodedata.normalize("NFC", text).casefold())


@dataclass(frozen=True)
class TokenScore:
    precision: float
    recall: float
    f1: float


def token_score(got: str, want: str) -> TokenScore:
    """Bag-of-tokens precision, recall and F1 of an extracted body against the gold body."""
    g, w = Counter(tokens(got)), Counter(tokens(want))
    overlap = sum((g & w).values())
    if not overlap:
        return TokenScore(0.0, 0.0, 0.0)
    precision, recall = overlap / sum(g.values()), overlap / sum(w.values())
    return TokenScore(precision, recall, 2 * precision * recall / (precision + recall))


def _fold(text: str) -> str:
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


# -- page sets --------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    """One page with its gold answer. ``kind`` is ``"article"`` or ``"not_article"``."""

    family: str
    name: str
    url: str
    html: bytes
    kind: str = "article"
    body: str = ""
    title: str | None = None
    published: str | None = None
    author: str | None = None
    must_not_contain: tuple[str, ...] = ()
    charset: str | None = None
    # The configured portal, where the page set has one: its slug (gold set only), and
    # whether its site config's ``article_urls`` call this URL an article (the URL prior).
    site: str | None = None
    url_prior: bool = False

    @property
    def is_article(self) -> bool:
        return self.kind == "article"

    def leaks(self, body: str) -> list[str]:
        return [phrase for phrase in self.must_not_contain if phrase in body]


def _gold_page(data: dict[str, Any], *, family: str, name: str, html: bytes, **config: Any) -> Page:
    return Page(
        family=family,
        name=name,
        url=str(data["url"]),
        html=html,
        kind=str(data.get("kind", "article")),
        body="\n".join(data.get("body") or []),
        title=data.get("title"),
        published=data.get("published"),
        author=data.get("author"),
        must_not_contain=tuple(data.get("must_not_contain") or ()),
        charset=data.get("charset"),
        **config,
    )


def load_gold_set(
    gold_dir: Path,
    page_for: Callable[[str], bytes],
    families: dict[str, str],
    is_article_url: Callable[[str, str], bool],
) -> list[Page]:
    """The gold set: every ``<slug>/<name>.json`` article and the not-articles of each
    ``<slug>/_site.json``. ``page_for`` gives a URL's page bytes (the offline mirror),
    ``families`` each portal's CMS family, ``is_article_url(slug, url)`` the portal's URL prior."""
    pages: list[Page] = []
    for path in sorted(gold_dir.glob("*/*.json")):
        slug = path.parent.name
        family = families.get(slug, slug)
        data = json.loads(path.read_text(encoding="utf-8"))
        if path.name == "_site.json":
            for url in data.get("not_articles", []):
                name = "_not_article:" + url.rsplit("/", 1)[-1]
                prior = is_article_url(slug, url)
                pages.append(Page(family, name, url, page_for(url), kind="not_article", site=slug, url_prior=prior))
        elif not path.name.startswith("_"):
            url = data["url"]
            prior = is_article_url(slug, url)
            html = page_for(url)
            pages.append(_gold_page(data, family=family, name=path.stem, html=html, site=slug, url_prior=prior))
    return pages


def load_corpus_split(split_dir: Path) -> list[Page]:
    """Every ``<family>/<page>.json`` with its ``<page>.html`` under one split of the corpus."""
    pages: list[Page] = []
    if not split_dir.is_dir():
        return pages
    for family_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        family_file = family_dir / "_family.json"
        patterns: tuple[str, ...] = ()
        if family_file.is_file():
            info = json.loads(family_file.read_text(encoding="utf-8"))
            patterns = tuple(p for portal in info.get("portals", []) for p in portal.get("article_urls", []))
        for path in sorted(family_dir.glob("*.json")):
            html_path = path.with_suffix(".html")
            if path.name.startswith("_") or not html_path.is_file():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: not valid JSON ({error})") from error
            pages.append(
                _gold_page(
                    data,
                    family=family_dir.name,
                    name=path.stem,
                    html=html_path.read_bytes(),
                    url_prior=any(re.search(p, str(data["url"])) for p in patterns),
                )
            )
    return pages


def load_scrapinghub(folder: Path) -> list[Page]:
    """ScrapingHub's benchmark: ``ground-truth.json`` and ``html/<id>.html.gz``."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        Page(
            family="scrapinghub",
            name=key,
            url=item["url"],
            html=gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()),
            body=item["articleBody"],
            # No site config comes with these pages; were they a portal's, its article_urls
            # would call every one an article.
            url_prior=True,
        )
        for key, item in sorted(truth.items())
    ]


def files_digest(paths: Iterable[Path], root: Path) -> str:
    """A SHA-256 over the files' paths (relative to ``root``) and bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\x00")
        digest.update(path.read_bytes())
        digest.update(b"\x00")
    return digest.hexdigest()


# -- one harness for every extractor ----------------------------------------------------
@dataclass(frozen=True)
class Output:
    """What an extractor returned for a page: the body (empty when nothing), the fields it
    gives (None where it gives none) and, for a refused page, why."""

    body: str
    title: str | None = None
    published: str | None = None  # ISO 8601
    author: str | None = None
    rejected: str | None = None
    exact_dates: bool = False  # the date carries a time of day and offset to compare exactly


Extractor = Callable[[Page], Output]


@dataclass
class SetScore:
    """One extractor's scores on one page set."""

    articles: int = 0
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    leaked: int = 0
    rejected: int = 0  # article pages refused (a Rejection, or None from a plain extractor)
    empty: int = 0  # article pages returned with an empty body
    reasons: Counter[str] = field(default_factory=Counter)
    titles: list[bool] = field(default_factory=list)
    dates: list[bool] = field(default_factory=list)
    authors: list[bool] = field(default_factory=list)
    not_articles: int = 0
    not_articles_rejected: int = 0
    seconds: float = 0.0
    timed_pages: int = 0

    def mean(self, values: list[float]) -> float:
        return statistics.mean(values) if values else 0.0

    @property
    def mean_f1(self) -> float:
        return self.mean(self.f1)

    @property
    def leak_rate(self) -> float:
        return self.leaked / self.articles if self.articles else 0.0

    @property
    def pages_per_second(self) -> float:
        return self.timed_pages / self.seconds if self.seconds else 0.0

    @staticmethod
    def share(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    def summary(self) -> dict[str, float | int | None]:
        return {
            "articles": self.articles,
            "f1": round(self.mean_f1, 4),
            "precision": round(self.mean(self.precision), 4),
            "recall": round(self.mean(self.recall), 4),
            "leak_rate": round(self.leak_rate, 4),
            "rejected": self.rejected,
            "empty": self.empty,
            "title": None if (t := self.share(self.titles)) is None else round(t, 4),
            "date": None if (d := self.share(self.dates)) is None else round(d, 4),
            "author": None if (a := self.share(self.authors)) is None else round(a, 4),
            "not_articles": self.not_articles,
            "not_articles_rejected": self.not_articles_rejected,
        }


def _date_matches(got: str | None, want: str, exact: bool) -> bool:
    if got is None:
        return False
    return got == want if exact else got[:10] == want[:10]


def score_page(score: SetScore, page: Page, out: Output) -> None:
    """Add one page's result to a set's scores."""
    if not page.is_article:
        score.not_articles += 1
        score.not_articles_rejected += out.rejected is not None or not out.body.strip()
        return
    score.articles += 1
    result = token_score(out.body, page.body)
    score.precision.append(result.precision)
    score.recall.append(result.recall)
    score.f1.append(result.f1)
    score.leaked += bool(page.leaks(out.body))
    if out.rejected is not None:
        score.rejected += 1
        score.reasons[out.rejected.split(":", 1)[0] + ":" + re.sub(r"\d+", "N", out.rejected.split(":", 1)[-1])] += 1
    elif not out.body.strip():
        score.empty += 1
    if page.title is not None and out.rejected is None:
        score.titles.append(out.title is not None and _fold(out.title) == _fold(page.title))
    if page.published and out.rejected is None:
        score.dates.append(_date_matches(out.published, page.published, out.exact_dates))
    if page.author and out.rejected is None:
        score.authors.append(out.author == page.author)


def run_set(extractor: Extractor, pages: Sequence[Page]) -> tuple[SetScore, list[Output]]:
    """Run one extractor over a page set, scoring and timing it."""
    score = SetScore()
    outputs: list[Output] = []
    start = time.perf_counter()
    for page in pages:
        outputs.append(extractor(page))
    score.seconds = time.perf_counter() - start
    score.timed_pages = len(pages)
    for page, out in zip(pages, outputs, strict=True):
        score_page(score, page, out)
    return score, outputs


# -- trafilatura's evaluation set (snippets that must and must not be in the text) --------
def snippet_counts(text: str | None, with_: Sequence[str], without: Sequence[str]) -> tuple[int, int, int, int]:
    """(true positives, false positives, false negatives, true negatives) of one page of
    trafilatura's evaluation set: which "with" and "without" snippets the text holds, white
    space folded."""
    if not text:
        return 0, 0, len(with_), len(without)
    folded = _SPACE_RE.sub(" ", text).strip()
    tp = sum(1 for s in with_ if _SPACE_RE.sub(" ", s).strip() in folded)
    fp = sum(1 for s in without if _SPACE_RE.sub(" ", s).strip() in folded)
    return tp, fp, len(with_) - tp, len(without) - fp


def snippet_f1(counts: Iterable[tuple[int, int, int, int]]) -> tuple[float, float, float]:
    """Precision, recall and F1 over summed snippet counts."""
    tp = fp = fn = 0
    for a, b, c, _ in counts:
        tp, fp, fn = tp + a, fp + b, fn + c
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return precision, recall, f1


# -- the gate's baseline ----------------------------------------------------------------
# Scores are deterministic, but a floor this far under the measured value absorbs rounding.
EPSILON = 0.0005
# Per set: scores that may only go up (floors) and counts that may only go down (ceilings).
FLOOR_KEYS = ("f1", "title", "date", "author", "not_articles_rejected_share")
CEILING_KEYS = ("leak_rate", "rejected", "empty")


def gate_figures(score: SetScore) -> dict[str, float]:
    """The figures the gate pins for one set."""
    summary = score.summary()
    figures = {k: float(v) for k, v in summary.items() if k in FLOOR_KEYS + CEILING_KEYS and v is not None}
    if score.not_articles:
        figures["not_articles_rejected_share"] = round(score.not_articles_rejected / score.not_articles, 4)
    return figures


def gate_failures(measured: dict[str, dict[str, float]], floors: dict[str, dict[str, float]]) -> list[str]:
    """Every pinned figure the measured ones fall short of, one line each."""
    failures = []
    for name, pinned in floors.items():
        got = measured.get(name, {})
        for key, bound in pinned.items():
            value = got.get(key)
            if value is None:
                failures.append(f"{name}: {key} not measured (pinned {bound})")
            elif key in CEILING_KEYS and value > bound + EPSILON:
                failures.append(f"{name}: {key} {value} above its ceiling {bound}")
            elif key not in CEILING_KEYS and value < bound - EPSILON:
                failures.append(f"{name}: {key} {value} below its floor {bound}")
    return failures


def record_baseline(
    path: Path, measured: dict[str, dict[str, float]], corpus: dict[str, Any], *, allow_lower: bool
) -> list[str]:
    """Write the baseline: the corpus pins always, the measured figures as the new floors
    unless one would lower a floor (then the old floors stay, unless ``allow_lower``).
    Returns the lowered figures, empty when none."""
    old: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    lowered = gate_failures(measured, old.get("floors", {}))
    floors = measured if (allow_lower or not lowered) else old.get("floors", {})
    baseline = {
        "about": "Extraction quality gate: re-record with `uv run python bench/extract.py --record`.",
        "corpus": corpus,
        "floors": floors,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(baseline, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return [] if allow_lower else lowered


def pages_digest(pages: Iterable[Page]) -> str:
    """A SHA-256 over the pages and their gold answers: editing a gold file or a page, adding
    or removing one changes it (the files' places do not)."""
    digest = hashlib.sha256()
    for page in sorted(pages, key=lambda p: (p.family, p.name, p.url)):
        gold = [page.family, page.name, page.url, page.kind, page.body, page.title, page.published, page.author]
        digest.update(json.dumps([*gold, list(page.must_not_contain), page.charset, page.url_prior]).encode("utf-8"))
        digest.update(hashlib.sha256(page.html).digest())
    return digest.hexdigest()


# -- extract_page through the harness ----------------------------------------------------
def extract_page_runner(*, configured: bool) -> Extractor:
    """``extract_page`` as the pipeline calls it: with the portal's slug, hints and URL prior
    (``configured``), or as a user with no site config would (``site=None``, no prior)."""
    from kernel.article import Article
    from transforms.extract import extract_page

    hints_of: dict[str, Any] = {}
    if configured:
        from kernel.registry import load_registry

        hints_of = {slug: site.extract for slug, site in load_registry().items()}

    def run(page: Page) -> Output:
        if configured:
            found = extract_page(
                page.html,
                page.url,
                page.site,
                hints=hints_of.get(page.site or ""),
                charset=page.charset,
                expect_article=page.url_prior,
            )
        else:
            found = extract_page(page.html, page.url, None, charset=page.charset, expect_article=False)
        if not isinstance(found, Article):
            return Output("", rejected=found.reason)
        published = found.published_at.isoformat() if found.published_at else None
        return Output(found.body, found.title, published, found.author, exact_dates=True)

    return run


MODES = {"config": True, "no_config": False}


def gate_measure(sets: dict[str, list[Page]]) -> dict[str, dict[str, float]]:
    """The gate's figures: ``<set>/<mode>`` for each page set and each way of calling
    ``extract_page`` (with the site config and URL prior, and without)."""
    measured: dict[str, dict[str, float]] = {}
    for mode, configured in MODES.items():
        runner = extract_page_runner(configured=configured)
        for name, pages in sets.items():
            if pages:
                measured[f"{name}/{mode}"] = gate_figures(run_set(runner, pages)[0])
    return measured


def corpus_pins(sets: dict[str, list[Page]]) -> dict[str, Any]:
    """What the baseline was recorded on: per set, the page count and the pages' digest."""
    return {name: {"pages": len(pages), "sha256": pages_digest(pages)} for name, pages in sets.items()}


SET_NAMES = ("tuning", "unseen", "scrapinghub")


def load_sets(
    tests_dir: Path, page_for: Callable[[str], bytes], corpus_dir: Path | None = None
) -> dict[str, list[Page]]:
    """The benchmark's page sets: ``tuning`` (the gold set plus the corpus's tuning split),
    ``unseen`` (the corpus's unseen split) and ``scrapinghub``. ``corpus_dir`` defaults to
    ``tests/fixtures/corpus``."""
    from kernel.registry import load_registry

    registry = load_registry()
    families = {slug: site.family for slug, site in registry.items()}

    def is_article_url(slug: str, url: str) -> bool:
        return slug in registry and registry[slug].is_article_url(url)

    corpus = corpus_dir or tests_dir / "fixtures" / "corpus"
    gold = load_gold_set(tests_dir / "fixtures" / "gold", page_for, families, is_article_url)
    return {
        "tuning": gold + load_corpus_split(corpus / "tuning"),
        "unseen": load_corpus_split(corpus / "unseen"),
        "scrapinghub": load_scrapinghub(tests_dir / "data" / "scrapinghub"),
    }


def interleaved_speed(extractors: dict[str, Extractor], pages: Sequence[Page], passes: int) -> dict[str, float]:
    """Pages per second of each extractor, measured page by page in turn (every extractor
    runs each page before the next page) and keeping each page's fastest of ``passes``
    runs: a shared, busy machine slows all extractors alike and a slow moment counts once."""
    best: dict[str, list[float]] = {name: [float("inf")] * len(pages) for name in extractors}
    for _ in range(max(passes, 1)):
        for index, page in enumerate(pages):
            for name, extractor in extractors.items():
                start = time.perf_counter()
                extractor(page)
                elapsed = time.perf_counter() - start
                best[name][index] = min(best[name][index], elapsed)
    return {name: len(pages) / sum(times) for name, times in best.items()}

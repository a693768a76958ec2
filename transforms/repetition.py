"""Site-level repetition: a paragraph that recurs across many articles of one portal is the
portal's furniture (a promo line, a slogan, a standing notice), whatever markup holds it.

Learned from the crawl itself: :func:`learn_repeated` counts paragraphs over a portal's
articles; :func:`strip_repeated` removes the learned ones from an article. A floor keeps a
portal with few pages from being stripped bare: nothing is learned from fewer than
:data:`MIN_PAGES` articles, and a paragraph must appear in at least :data:`MIN_SHARE` of
them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from kernel.article import Article

MIN_PAGES = 5
MIN_SHARE = 0.5
# Long paragraphs are never furniture, however often a portal reprints them (a standing
# legal notice is rare and would rather be kept than a reprinted article lost).
MAX_LENGTH = 200


def paragraph_counts(bodies: Iterable[list[str]]) -> tuple[Counter[str], int]:
    """How many articles each short paragraph appears in, and how many articles there were."""
    counts: Counter[str] = Counter()
    pages = 0
    for paragraphs in bodies:
        pages += 1
        counts.update({p for p in paragraphs if len(p) <= MAX_LENGTH})
    return counts, pages


def repeated_from_counts(
    counts: Counter[str], pages: int, *, min_pages: int = MIN_PAGES, min_share: float = MIN_SHARE
) -> set[str]:
    """The paragraphs found in at least ``min_share`` of ``pages`` articles (and in at least
    ``min_pages`` of them); empty when there are fewer than ``min_pages`` articles."""
    if pages < min_pages:
        return set()
    threshold = max(min_pages, min_share * pages)
    return {p for p, n in counts.items() if n >= threshold}


def learn_repeated(bodies: Iterable[list[str]]) -> set[str]:
    """The repeated paragraphs of one portal's articles."""
    counts, pages = paragraph_counts(bodies)
    return repeated_from_counts(counts, pages)


def strip_repeated(article: Article, repeated: set[str]) -> Article:
    """The article without the learned furniture paragraphs."""
    if not repeated:
        return article
    kept = [p for p in article.paragraphs if p not in repeated]
    if len(kept) == len(article.paragraphs):
        return article
    return replace(article, body="\n".join(kept))

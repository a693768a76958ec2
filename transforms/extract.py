"""Raw page -> :class:`Article` or :class:`Rejection`: metadata from the page, furniture
out, a vote of two main-text extractions, our line rules after it, then the page type.

The order matters, and each step is its own module:

1. :mod:`transforms.metadata` (with :mod:`transforms.headline`) reads headline, kicker,
   section, date, view counter and byline from the untouched page (the elements that carry
   them are furniture themselves);
2. :mod:`transforms.cleanup` normalises the layout of a copy and removes the furniture;
3. :mod:`transforms.body` has trafilatura find the main text of the cleaned copy, repairs
   what it dropped, lets trafilatura on the untouched page vote on it, and cleans the lines;
4. :mod:`transforms.pagetype` weighs the evidence that the page is not an article at all,
   against the URL prior (``expect_article``).
"""

from __future__ import annotations

import copy

from kernel.article import Article, Rejection
from kernel.registry import ExtractHints
from transforms.body import clean_body, main_text, plain_text, rescue_short, restore_dropped, vote, with_lead
from transforms.cleanup import strip_furniture
from transforms.legacy import typed_in
from transforms.metadata import PageMeta, read_metadata
from transforms.page import parse_page, text_of
from transforms.pagetype import Evidence, decide, not_article_evidence, own_prose_words, prose_chars
from transforms.text import legacy_encoding


def extract_article(
    html: bytes | str,
    url: str,
    site: str | None = None,
    *,
    hints: ExtractHints | None = None,
    charset: str | None = None,
    expect_article: bool = False,
) -> Article | None:
    """The article on a page, or None when the page is not an article (see
    :func:`extract_page` for why)."""
    found = extract_page(html, url, site, hints=hints, charset=charset, expect_article=expect_article)
    return found if isinstance(found, Article) else None


def extract_page(
    html: bytes | str,
    url: str,
    site: str | None = None,
    *,
    hints: ExtractHints | None = None,
    charset: str | None = None,
    expect_article: bool = False,
) -> Article | Rejection:
    """The article on a page, or a :class:`Rejection` saying why the page is not one.

    ``site`` is the portal's slug where known (``None`` for a portal with no config: the
    rules are general and need none); ``hints`` are the portal's optional extraction hints
    from its site config; ``charset`` is the one the server declared in ``Content-Type``;
    ``expect_article`` is True when the portal's ``article_urls`` call the URL an article:
    the page is then rejected only on strong evidence.
    """
    tree = parse_page(html, charset)
    if tree is None:
        return Rejection("not_html: empty or unparseable page")
    meta = read_metadata(tree)
    work = copy.deepcopy(tree)
    # The metadata elements were found in ``tree``; find them again in the copy by path.
    paths = [tree.getroottree().getpath(el) for el in meta.used]
    work_meta = PageMeta(used=[found[0] for found in (work.xpath(p) for p in paths) if found])
    strip_furniture(work, work_meta, hints)
    lines = restore_dropped(work, with_lead(work, main_text(work, url, hints)))
    links = {text_of(a) for a in tree.iter("a")}
    if not (hints and hints.body_xpaths):
        kept_text = " ".join(work.text_content().split())
        lines = vote(lines, plain_text(tree, url), kept_text, links)
    lines = clean_body(lines, meta)
    body = "\n".join(lines)
    evidence = not_article_evidence(tree, url, meta, lines)
    if not meta.title:
        evidence.append(Evidence("no headline"))
    rejected = decide(
        evidence,
        expect_article=expect_article,
        own_prose=lambda: own_prose_words(work, lines),
        body_words=sum(len(line.split()) for line in lines),
        prose_chars=prose_chars(lines, links),
    )
    if rejected is not None:
        return Rejection(f"not_article: {rejected.reason}")
    if not (hints and hints.body_xpaths):
        # After the page type is decided on what the two extractions found: the fallback
        # extractors would read a listing's teasers as prose.
        rescued = rescue_short(lines, tree, url, links)
        if rescued is not lines:
            lines = clean_body(rescued, meta)
            body = "\n".join(lines)
    return Article(
        url=url,
        title=meta.title or "",
        body=body,
        published_at=meta.published,
        author=meta.author,
        source=meta.source,
        category=meta.category,
        kicker=meta.kicker,
        view_count=meta.view_count,
        # What the page was typed in, decoded or not (text left undecoded is marked too).
        legacy_encoding=typed_in(tree) or legacy_encoding((meta.title or "") + "\n" + body),
    )

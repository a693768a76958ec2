"""Telling an article page from a listing, section, tag, search, home, contact or
organisation page.

The decision weighs evidence, each piece with a strength. The registry's ``article_urls``
are a strong prior: a page the portal's URL patterns call an article is rejected only on
strong evidence (no text at all, a page that is plainly a list of links to other
articles). Without that prior (a page of a portal nobody configured) a page is rejected on
strong evidence, on a page that names its own kind (a listing's or contact page's headline,
a contact block, a table of names), or on general evidence (a menu label for a headline, no
headline element, linked headlines) that something else confirms: a second piece, or a body
with little prose of its own (what remains is teasers: linked headlines, each followed by
its summary). General evidence alone is common on articles of every language (a blog's
"About" page, a story its menu links to), so it never rejects a page that has prose.
Every piece of evidence is a sentence for the quarantine's reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.html

from transforms.metadata import PageMeta
from transforms.page import text_of

# Fewer words than this, on a page whose headline and date do not both say "article", is a
# stub, a teaser or a contact page.
MIN_BODY_WORDS = 60
MIN_BODY_CHARS = 350


@dataclass(frozen=True)
class Evidence:
    """Why a page reads as not an article; ``strong`` evidence outweighs the URL prior."""

    reason: str
    strong: bool = False
    # The page names its kind (a listing's headline, a contact block): no confirmation needed.
    named: bool = False
    # The body is short: confirmation of other evidence, but no evidence on its own.
    short: bool = False
    # Only teasers confirm it, not a short body: the page has a headline the head agrees
    # with (a short article's headline may well be a menu entry too).
    needs_teasers: bool = False


_CONTACT_LINE_RE = re.compile(
    r"^(?:địa chỉ|điện thoại|đt|fax|email|e-mail|hotline|website|trụ sở|số tài khoản)\s*[:：]", re.IGNORECASE
)


def looks_like_contact_page(lines: list[str]) -> bool:
    contact = sum(1 for line in lines if _CONTACT_LINE_RE.match(line))
    return contact >= 2 and contact >= 0.25 * len(lines)


_LISTING_TITLE_RE = re.compile(
    r"^(?:chuyên mục|danh mục|lưu trữ|từ khóa|từ khoá|kết quả tìm kiếm|tìm kiếm|trang chủ|danh sách)\b"
    # "Tag des ..." is a German headline: a tag page says "Tag: x" or "Tags".
    r"|^(?:thẻ|tag|tags)\s*(?:[:：]|$)|^tin tức\s*$",
    re.IGNORECASE,
)
# Whole headlines that name a kind of page, not an article.
_PAGE_TITLE_RE = re.compile(
    r"^(?:(?:thông tin )?liên hệ|giới thiệu(?: chung)?|giới thiệu - liên hệ|cơ cấu tổ chức|sơ đồ tổ chức"
    r"|sơ đồ (?:cổng|trang|site)|thư viện (?:ảnh|video|hình ảnh)|video|videos|hình ảnh|album ảnh|danh bạ.*"
    r"|văn bản(?: chỉ đạo điều hành| pháp luật| quy phạm pháp luật| mới)?|lịch công tác|hỏi đáp"
    r"|ban biên tập(?: .*)?|contact(?: us)?|about(?: us)?)$",
    re.IGNORECASE,
)


_MENU_XPATH = (
    'ancestor::nav or ancestor::*[contains(@class, "menu") or contains(@id, "menu")'
    ' or contains(@class, "nav") or contains(@id, "nav")]'
)


def _is_menu_label(tree: lxml.html.HtmlElement, text: str) -> bool:
    """An entry of the page's menu reads exactly ``text``: the page is the section the menu
    names. (A link elsewhere, in a list of popular or related articles, may well read as the
    page's own headline.)"""
    return any(text_of(a) == text and a.xpath(_MENU_XPATH) for a in tree.xpath("//a[@href]"))


def _linked_share(tree: lxml.html.HtmlElement, lines: list[str]) -> tuple[float, int]:
    """The share of the body's text that is the text of links (teaser headlines), and how
    many lines are."""
    headlines = {t for t in (text_of(a) for a in tree.xpath("//a[@href]")) if len(t.split()) >= 4}
    linked = [line for line in lines if line in headlines]
    total = max(sum(len(line) for line in lines), 1)
    return sum(len(line) for line in linked) / total, len(linked)


_TABLE_ROW = " | "
# A telephone number in a cell: "0239.3861.250", "0913 457 218", "+84 24 3825 3536".
_PHONE_RE = re.compile(r"^(?:\+|0)[\d .()-]{7,18}$")


def _is_phone(cell: str) -> bool:
    return bool(_PHONE_RE.match(cell)) and 9 <= sum(c.isdigit() for c in cell) <= 13


def is_staff_table(lines: list[str]) -> bool:
    """The body is a table (half its lines rows, three at least) whose rows give telephone
    numbers (a third of them): a directory of people or offices, not a table of figures or
    a calendar."""
    rows = [line for line in lines if _TABLE_ROW in line]
    if len(rows) < max(3, 0.5 * len(lines)):
        return False
    phones = sum(any(_is_phone(cell.strip()) for cell in re.split(r" \| |\s{2,}", row)) for row in rows)
    return phones >= len(rows) / 3


def not_article_evidence(tree: lxml.html.HtmlElement, url: str, meta: PageMeta, lines: list[str]) -> list[Evidence]:
    """Everything on the page that says it is not an article (empty when nothing does)."""
    found: list[Evidence] = []
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        found.append(Evidence("the portal's home page"))
    words = sum(len(line.split()) for line in lines)
    if words == 0:
        return [*found, Evidence("no text", strong=True)]
    confirmed = meta.title_found and meta.title_agrees and meta.published is not None
    # Characters too, for scripts written without spaces (60 words of Vietnamese are about
    # 330 characters).
    chars = sum(len(line) for line in lines)
    if words < MIN_BODY_WORDS and chars < MIN_BODY_CHARS and not confirmed:
        found.append(Evidence(f"{words} words", short=True))
    title = meta.title or ""
    if title and _LISTING_TITLE_RE.match(title):
        found.append(Evidence(f"headline {title!r} names a listing", named=True))
    if title and _PAGE_TITLE_RE.match(title):
        found.append(Evidence(f"headline {title!r} names a page, not an article", named=True))
    # Section names are short ("Kinh tế - Xã hội"); a longer dated headline that a menu
    # also prints is a story the menu previews.
    title_words = len(re.findall(r"\w+", title))
    short_label = title_words <= 5 or (title_words <= 8 and meta.published is None)
    if title and meta.title_found and short_label and _is_menu_label(tree, title):
        found.append(Evidence("headline is a menu label", needs_teasers=meta.title_agrees))
    headline_links = {
        a.get("href")
        for a in tree.xpath("//h2//a[@href] | //h3//a[@href] | //h4//a[@href]")
        if len(text_of(a).split()) >= 4
    }
    if not meta.title_found and len(headline_links) >= 3:
        found.append(Evidence(f"no headline element and {len(headline_links)} linked headlines"))
    if meta.title_found and not meta.title_agrees and len(headline_links) >= 3:
        found.append(Evidence(f"the head names no headline and {len(headline_links)} headlines are links"))
    share, linked_lines = _linked_share(tree, lines)
    if share > 0.3:
        strong = share > 0.6 and linked_lines >= 5
        found.append(Evidence(f"{share:.0%} of the text is links to other pages", strong=strong))
    articles = tree.xpath("//article")
    dates = {t.get("datetime", "")[:10] for t in tree.xpath("//time[@datetime]")}
    if len(articles) >= 2 and len(dates) >= 2 and len(headline_links) >= 2 and (share > 0.15 or not confirmed):
        found.append(Evidence(f"{len(articles)} dated <article> teasers"))
    if meta.published is None and not meta.title_found:
        found.append(Evidence("no date and no headline element"))
    if meta.published is None and looks_like_contact_page(lines):
        found.append(Evidence("a contact page (addresses and phone numbers)", named=True))
    if meta.published is None and is_staff_table(lines):
        found.append(Evidence("a table (names, posts and phone numbers), not prose, and no date", named=True))
    return found


_TEASER_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "div", "td", "dd", "dt", "a", "span", "time")
_INLINE_TEASER = frozenset({"a", "span", "time"})
_HOLDS_BLOCKS = "./p | ./div | ./li | ./td | ./h2 | ./h3 | ./h4 | ./ul | ./table"
_IN_BLOCK = "ancestor::p | ancestor::li | ancestor::h1 | ancestor::h2 | ancestor::h3 | ancestor::h4 | ancestor::dd"
# Between a teaser's linked headline and its summary: a date, an author, a comment count
# (nested inline elements print one text more than once).
_TEASER_GAP_BLOCKS = 8
_TEASER_GAP_WORDS = 12


def _pieces(el: lxml.html.HtmlElement) -> list[tuple[str, int]]:
    """An element's text cut at its ``<br>``s (old CMSs print a teaser's headline, date and
    summary in one cell), each piece with how many of its characters are link text."""
    texts: list[list[str]] = [[]]
    linked: list[int] = [0]

    def add(text: str | None, in_link: bool) -> None:
        if text:
            texts[-1].append(text)
            linked[-1] += len(text.strip()) if in_link else 0

    def walk(node: lxml.html.HtmlElement, in_link: bool) -> None:
        if node.tag == "br":
            texts.append([])
            linked.append(0)
            return
        inside = in_link or (node.tag == "a" and node.get("href") is not None)
        add(node.text, inside)
        for child in node:
            if isinstance(child.tag, str):
                walk(child, inside)
            add(child.tail, inside)

    walk(el, False)
    folded = (" ".join("".join(parts).split()) for parts in texts)
    return [(text, count) for text, count in zip(folded, linked, strict=True) if text]


def _text_blocks(tree: lxml.html.HtmlElement) -> list[tuple[str, bool]]:
    """The page's innermost text blocks in document order (cut at ``<br>``s), each with
    whether it is a linked headline (mostly the text of a link, four words or more). A link
    or span is a block of its own only outside every other block (a headline link beside a
    summary paragraph)."""
    found: list[tuple[str, bool]] = []
    taken: set[lxml.html.HtmlElement] = set()
    for el in tree.iter(*_TEASER_BLOCKS):
        if el.tag in _INLINE_TEASER:
            if el.xpath(_IN_BLOCK) or any(a in taken for a in el.iterancestors()):
                continue
        elif el.xpath(_HOLDS_BLOCKS):
            continue
        taken.add(el)
        for text, linked in _pieces(el):
            found.append((text, linked >= 0.6 * len(text) and len(text.split()) >= 4))
    return found


def own_prose_words(tree: lxml.html.HtmlElement, lines: list[str]) -> int:
    """The body's words that are not teasers: a teaser is a linked headline or a line
    printed just after one (a date, an author or a count between them at most), as
    listings, search results and tag pages print each entry."""
    blocks = _text_blocks(tree)
    position: dict[str, int] = {}
    for at, (text, _) in enumerate(blocks):
        position.setdefault(text, at)
    own = 0
    for line in lines:
        words = len(line.split())
        found = position.get(line)
        teaser = found is not None and blocks[found][1]
        if found is not None and not teaser:
            gap = 0
            for text, linked in reversed(blocks[max(found - 1 - _TEASER_GAP_BLOCKS, 0) : found]):
                if linked:
                    teaser = True
                    break
                gap += len(text.split())
                if gap > _TEASER_GAP_WORDS:
                    break
        own += 0 if teaser else words
    return own


# Fewer words of the body's own (not teasers) than this confirm general evidence.
MIN_OWN_PROSE = 150
# This many words of the body's own or more: an article, whatever the general evidence (a
# story whose head names no headline and whose page links to many others).
LONG_OWN_PROSE = 400
# Evidence that only teasers confirm: at least this share of the body is teasers.
MIN_TEASER_SHARE = 1 / 3


def decide(
    evidence: list[Evidence],
    *,
    expect_article: bool,
    own_prose: Callable[[], int] | None = None,
    body_words: int = 0,
    prose_chars: int = 0,
) -> Evidence | None:
    """The evidence that rejects the page, or None when it is taken for an article.

    With the URL prior only strong evidence counts. Without it, strong evidence and a page
    that names its kind reject it; general evidence never rejects a body with
    :data:`LONG_OWN_PROSE` words of its own, and otherwise rejects it when confirmed by a
    second piece, or by ``own_prose()`` (the body's words that are not teasers, computed
    only when needed) under :data:`MIN_OWN_PROSE` when the rest, the teasers, are
    :data:`MIN_TEASER_SHARE` of the ``body_words`` or the body has under
    :data:`MIN_BODY_CHARS` of ``prose_chars`` (not for evidence that ``needs_teasers``).
    """
    for item in evidence:
        if item.strong or (item.named and not expect_article):
            return item
    if expect_article:
        return None
    general = [item for item in evidence if not item.short]
    if not general:
        return None
    own = own_prose() if own_prose is not None else None
    if own is not None and own >= LONG_OWN_PROSE:
        return None  # an article's length of its own prose outweighs any general evidence
    if len(evidence) >= 2:
        return general[0]
    if own is None or own >= MIN_OWN_PROSE:
        return None
    if body_words - own >= MIN_TEASER_SHARE * body_words:
        return general[0]  # a third of the body or more is teasers
    if not general[0].needs_teasers and prose_chars < MIN_BODY_CHARS:
        return general[0]  # no teasers, but hardly a paragraph of prose either
    return None


# A line of prose has at least this many characters (counted in characters, not words, for
# scripts written without spaces).
PROSE_LINE_CHARS = 50


def prose_chars(lines: list[str], links: set[str]) -> int:
    """Characters in lines of prose: lines of :data:`PROSE_LINE_CHARS` or more that are not
    the text of a link."""
    return sum(len(line) for line in lines if len(line) >= PROSE_LINE_CHARS and line not in links)

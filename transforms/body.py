"""The article body: trafilatura's main text, repaired and cleaned line by line.

trafilatura finds the main text in the cleaned page; the lead it left out and blocks it
dropped from between kept paragraphs are put back; then line rules drop what furniture
it let through, fold captions printed twice, and lift end-of-article bylines and
"Theo X/Y" attributions into metadata.
"""

from __future__ import annotations

import re

import lxml.html
import trafilatura

from kernel.registry import ExtractHints
from transforms.furniture import is_furniture_line
from transforms.metadata import PageMeta, byline_name, has_byline_prefix, read_attribution
from transforms.page import class_words, text_of
from transforms.text import paragraphs


# -- body -------------------------------------------------------------------------------
def main_text(tree: lxml.html.HtmlElement, url: str, hints: ExtractHints | None) -> list[str]:
    if hints and hints.body_xpaths:
        for xpath in hints.body_xpaths:
            nodes = tree.xpath(xpath)
            if nodes:
                lines: list[str] = []
                for node in nodes:
                    for block in node.xpath(".//p | .//figcaption | .//h2 | .//h3 | .//li"):
                        if not block.xpath("ancestor::p | ancestor::figcaption"):
                            lines.extend(paragraphs(block.text_content()))
                return lines
    text = trafilatura.extract(
        tree,
        url=url,
        # Default changed: fast, no fallback extractors (readability, jusText) here, since the
        # vote with the untouched page's extraction is the fallback.
        fast=True,
        include_comments=False,
        include_tables=True,
        favor_precision=False,
        deduplicate=False,
        with_metadata=False,
    )
    return [unformat(line) for line in paragraphs(text or "")]


_LEAD_WORDS = {"sapo", "lead", "summary", "tomtat", "mota", "intro", "chapeau", "description", "detailsapo"}
# A lead is a paragraph or two; a "summary" block longer than this holds the article itself.
_MAX_LEAD = 1000


def with_lead(tree: lxml.html.HtmlElement, lines: list[str]) -> list[str]:
    """Put back the lead paragraph (sapo) where the main-text extractor left it out: the
    first block whose class says lead, when it is a paragraph's length and holds none of the
    lines kept (a wrapper of the whole article may be called "summary" too)."""
    if not lines:
        return lines
    for el in tree.xpath("//body//*[@class]"):
        if not (_LEAD_WORDS & class_words(el)):
            continue
        lead = text_of(el)
        if not 60 <= len(lead) <= _MAX_LEAD or any(line in lead or lead in line for line in lines):
            break
        return [lead, *lines]
    return lines


_LEAF_BLOCKS = ("p", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "dd")


# A longer run of blocks than this between two kept paragraphs is not a dropped caption or
# sub-heading but another part of the page (a menu, a sidebar) the extractor rightly skipped.
MAX_RESTORED_RUN = 3


def _is_link_block(block: lxml.html.HtmlElement, text: str) -> bool:
    linked = sum(len(text_of(a)) for a in block.iter("a"))
    return linked >= 0.5 * len(text)


def restore_dropped(tree: lxml.html.HtmlElement, lines: list[str]) -> list[str]:
    """Put back the blocks the main-text extractor dropped from inside the article: a
    paragraph, list item, sub-heading or caption printed between two paragraphs it kept
    (a short run, or the items of one list; never a block of links)."""
    blocks = [b for b in tree.iter(*_LEAF_BLOCKS) if not b.xpath(".//p | .//li")]
    # A block broken by <br>s is several lines, as the extractor prints it.
    texts = [paragraphs(b.text_content()) for b in blocks]
    position: dict[str, int] = {}
    for index in range(len(texts) - 1, -1, -1):
        for text in texts[index]:
            position[text] = index
    present = set(lines)

    def restorable(index: int) -> bool:
        found = texts[index]
        if not found or any(t in present or is_furniture_line(t) for t in found):
            return False
        return not _is_link_block(blocks[index], " ".join(found))

    def restore(index: int, into: list[str]) -> None:
        if restorable(index):
            into.extend(texts[index])
            present.update(texts[index])

    def short_or_one_list(start: int, end: int) -> bool:
        if end - start <= MAX_RESTORED_RUN:
            return True
        # A longer run is one list or block of the article's own (its items in one parent).
        return end - start <= 40 and len({blocks[i].getparent() for i in range(start, end)}) == 1

    result: list[str] = []
    previous: int | None = None
    for line in lines:
        at = position.get(line)
        if at is not None and previous is not None and previous + 1 < at and short_or_one_list(previous + 1, at):
            for index in range(previous + 1, at):
                restore(index, result)
        result.append(line)
        if at is not None:
            previous = at if previous is None else max(previous, at)
    if previous is not None:
        # Paragraphs after the last one kept, in the same block as it (the closing lines).
        parent = blocks[previous].getparent()
        for index in range(previous + 1, min(previous + 1 + MAX_RESTORED_RUN, len(blocks))):
            if blocks[index].getparent() is not parent:
                break
            restore(index, result)
    return result


_TABLE_ROW_RE = re.compile(r"^\|\s*(.*?)\s*\|$")


_BULLET_RE = re.compile(r"^[-•*]\s+")


def unformat(line: str) -> str:
    """trafilatura's plain-text marks off: table rows "| a | b |" and list bullets "- "."""
    row = _TABLE_ROW_RE.match(line)
    if row:
        cells = [c.strip() for c in row.group(1).split("|")]
        line = " | ".join(c for c in cells if c)
    return _BULLET_RE.sub("", line)


# How far from the end a closing byline may sit with page scraps after it.
_BYLINE_REACH = 8
_MAX_SCRAP_WORDS = 25
_CONTACT_RE = re.compile(r"^(?:địa chỉ|điện thoại|đt|fax|email|e-mail|hotline|website)\s*[:：]", re.IGNORECASE)


def _cut_after_closing_byline(kept: list[str]) -> None:
    """A byline or attribution near the end closes the article: the scraps after it (a
    toolbar, a widget, the footer's address), none of them a paragraph, go."""
    for index in range(len(kept) - 1, max(len(kept) - 1 - _BYLINE_REACH, 0), -1):
        line = kept[index]
        if read_attribution(line) is None and byline_name(line) is None:
            if len(line.split()) > _MAX_SCRAP_WORDS and not _CONTACT_RE.match(line):
                return
            continue
        if index < len(kept) - 1:
            del kept[index + 1 :]
        return


def clean_body(lines: list[str], meta: PageMeta) -> list[str]:
    skip = {x for x in (meta.title, meta.kicker, meta.category) if x}
    kept: list[str] = []
    for line in (unformat(raw) for raw in lines):
        if not line:
            continue
        if line in skip or is_furniture_line(line):
            continue
        if kept and line == kept[-1]:
            continue  # a caption printed twice
        kept.append(line)
    _cut_after_closing_byline(kept)
    # Attribution and byline lines at the end of the article.
    while kept:
        last = kept[-1]
        found = read_attribution(last)
        if found is not None:
            who, src = found
            meta.author = meta.author or who
            meta.source = meta.source or src
            kept.pop()
            continue
        name = byline_name(last)
        if name is not None:
            meta.author = meta.author or name
            kept.pop()
            continue
        break
    if kept and meta.author and kept[0] == meta.author:
        kept.pop(0)
    elif kept and has_byline_prefix(kept[0]) and (name := byline_name(kept[0])) is not None:
        # A labelled byline above the text ("Bài, ảnh: Ngọc Tú").
        meta.author = meta.author or name
        kept.pop(0)
    return kept


# -- the vote with trafilatura on the untouched page ------------------------------------
def plain_text(tree: lxml.html.HtmlElement, url: str) -> list[str]:
    """trafilatura's main text of the untouched page, leaning to recall: the second voice
    that tells what the cleaned page's extraction missed."""
    # Defaults changed: favor_recall (the rules after the vote give the precision), fast
    # (no fallback extractors: the vote is the fallback), no comments (never article text).
    text = trafilatura.extract(
        tree,
        url=url,
        fast=True,
        favor_recall=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        with_metadata=False,
    )
    return [unformat(line) for line in paragraphs(text or "")]


# A body with less prose than this (a lead, a caption, a teaser, a menu) is checked against
# trafilatura with its fallback extractors: on some pages only readability's or jusText's
# view finds the text.
SHORT_BODY = 100


def rescue_short(lines: list[str], tree: lxml.html.HtmlElement, url: str, links: set[str]) -> list[str]:
    """A body with little prose, or the untouched page's extraction with trafilatura's fallback
    extractors (its default, which both extractions above skip for speed) when that finds
    :data:`DISJOINT_PROSE_RATIO` times the prose or more (the extractors stopped at a lead
    or a first block)."""
    ours = prose_words(lines, links)
    if ours >= SHORT_BODY:
        return lines
    text = trafilatura.extract(
        tree,
        url=url,
        # Default kept: fast=False, the fallback extractors run. Others as in plain_text.
        favor_recall=True,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        with_metadata=False,
    )
    found = [unformat(line) for line in paragraphs(text or "")]
    if prose_words(found, links) >= DISJOINT_PROSE_RATIO * max(ours, 1):
        return [line for line in found if not is_furniture_line(line)]
    return lines


def _survived(line: str, kept: str) -> bool:
    """Every part of the line (each cell of a table row) is in the text the cleanup kept."""
    return all(" ".join(part.split()) in kept for part in line.split(" | "))


# The cleaned page's extraction missed much of the article when what only the untouched
# page's extraction found (and the rules kept) is this share of its words, or more.
MISSED_SHARE = 0.25
# A line found only by the untouched page's extraction, between two lines both found, is
# taken for a paragraph the cleaned page's extraction dropped when it is this long.
MIN_DROPPED_WORDS = 12
# Fewer words than this from the cleaned page: the rules removed the article itself.
NEARLY_NOTHING = 20
# A line of prose (not a menu entry, a date or a caption) has at least this many words.
PROSE_LINE_WORDS = 8
# Two extractions that share no line found different parts of the page; the untouched
# page's stands when the cleaned page's holds less prose than this (a few sentences) and
# the untouched page's this many times as much, or more.
SCANT_PROSE = 60
DISJOINT_PROSE_RATIO = 2
# ... or, whatever the cleaned page's holds, this many times as much (a lead paragraph
# against the whole article).
FAR_MORE_PROSE = 8


def prose_words(lines: list[str], links: set[str]) -> int:
    """Words in lines of prose: lines of :data:`PROSE_LINE_WORDS` words or more that are not
    the text of a link."""
    return sum(n for line in lines if (n := len(line.split())) >= PROSE_LINE_WORDS and line not in links)


def vote(ours: list[str], plain: list[str], kept_text: str, links: set[str]) -> list[str]:
    """The body both extractions agree on, plus what only the untouched page's extraction
    found that the furniture rules did not remove (``kept_text`` is the text of the cleaned
    page) and that is not a link, a furniture line or a scrap of a few words. When that is
    much (the cleaned page's extraction missed the article) it all comes back; else only
    paragraphs between two lines both found."""
    if not plain:
        return ours
    ours_words = sum(len(line.split()) for line in ours)
    if ours_words < NEARLY_NOTHING:
        # The rules left (almost) nothing: they removed the article itself. The untouched
        # page's extraction stands, less its furniture lines.
        return [line for line in plain if not is_furniture_line(line)] or ours
    kept = set(ours)
    ours_prose = prose_words(ours, links)
    plain_prose = prose_words(plain, links)
    if not kept & set(plain) and (
        (ours_prose < SCANT_PROSE and plain_prose >= DISJOINT_PROSE_RATIO * max(ours_prose, 1))
        or plain_prose >= FAR_MORE_PROSE * ours_prose
    ):
        # No line in common: the cleaned page's extraction found another part of the page (a
        # menu, a form, a teaser) after the rules removed the article; the one that reads
        # as prose is the article.
        return [line for line in plain if not is_furniture_line(line)]
    ours_text = " ".join(" ".join(line.split()) for line in ours)
    candidates = {
        index
        for index, line in enumerate(plain)
        if line not in kept
        # Not the cleaned page's own lines joined differently (a <br>-broken paragraph).
        and " ".join(line.split()) not in ours_text
        and len(line.split()) >= 4
        and line not in links
        and not is_furniture_line(line)
        and _survived(line, kept_text)
    }
    if not candidates:
        return ours
    missed = sum(len(plain[i].split()) for i in candidates)
    if missed < MISSED_SHARE * ours_words:
        shared = [i for i, line in enumerate(plain) if line in kept]
        candidates = {
            i
            for i in candidates
            if shared and shared[0] < i < shared[-1] and len(plain[i].split()) >= MIN_DROPPED_WORDS
        }
    result: list[str] = []
    position = 0  # how much of ``ours`` is already in ``result``
    for index, line in enumerate(plain):
        if line in kept:
            if line in ours[position:]:
                upto = ours.index(line, position) + 1
                result.extend(ours[position:upto])
                position = upto
        elif index in candidates and line not in result:
            result.append(line)
    result.extend(ours[position:])
    return _trim_unshared(result, set(plain), links)


def _trim_unshared(lines: list[str], plain: set[str], links: set[str]) -> list[str]:
    """Scraps only the cleaned page's extraction found, before the first line or after the
    last line both extractions agree on (a sidebar's entries, a banner's name), go; the lead,
    sub-headings and bylines stay (a byline is lifted into metadata later)."""
    shared = [i for i, line in enumerate(lines) if line in plain]
    if not shared:
        return lines

    def scrap(line: str) -> bool:
        if line in plain or byline_name(line) or read_attribution(line) is not None:
            return False
        return line in links or (len(line.split()) < MIN_DROPPED_WORDS and not line.endswith((".", ":", "?", "!")))

    head = [line for line in lines[: shared[0]] if not scrap(line)]
    tail = [line for line in lines[shared[-1] + 1 :] if not scrap(line)]
    return head + lines[shared[0] : shared[-1] + 1] + tail

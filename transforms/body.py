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
from transforms.metadata import (
    AGENCY_BYLINES,
    BYLINE_WITH_UNIT_RE,
    NAME_RE,
    PageMeta,
    byline_with_unit,
    read_attribution,
)
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
        unit = BYLINE_WITH_UNIT_RE.match(last) or byline_with_unit(last)
        if NAME_RE.match(last) or AGENCY_BYLINES.match(last) or unit:
            meta.author = meta.author or (unit.group("name") if unit else last)
            kept.pop()
            continue
        break
    if kept and meta.author and kept[0] == meta.author:
        kept.pop(0)
    return kept

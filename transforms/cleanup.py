"""Preparing a page for main-text extraction: layout normalised, furniture removed.

Old CMSs lay pages out with tables, print paragraphs as loose text between ``<br>``s and
captions as table rows or ``<figure>``s; these become plain blocks. Then the furniture
catalogue (:mod:`transforms.furniture`) removes containers, titled boxes and trailing
lists of other articles.
"""

from __future__ import annotations

from collections.abc import Callable

import lxml.html

from kernel.registry import ExtractHints
from transforms.furniture import (
    is_furniture_container,
    names_only_a_place,
    starts_with_box_heading,
    starts_with_ending_box_heading,
)
from transforms.metadata import PageMeta
from transforms.page import class_words, content_mass, drop, first_text, has_prose, has_text, short_text, text_of
from transforms.text import fold


def _unwrap_figure_tables(tree: lxml.html.HtmlElement) -> None:
    """Tables of one column (how many CMSs lay out an image and its caption) become
    paragraphs, so the caption reads as prose and not as a table row."""
    for table in tree.xpath("//table[not(ancestor::table)]"):
        rows = table.xpath("./tr | ./tbody/tr | ./thead/tr")
        if not rows or len(rows) > 4 or any(len(r.xpath("./td | ./th")) > 1 for r in rows):
            continue
        if not table.xpath(".//img") or table.xpath(".//table") or len(text_of(table)) > 400:
            continue
        replacement = lxml.html.Element("div")
        for cell in table.xpath(".//td | .//th"):
            text = text_of(cell)
            if text:
                para = lxml.html.Element("p")
                para.text = text
                replacement.append(para)
        replacement.tail = table.tail
        table.getparent().replace(table, replacement)


_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "table",
        "ul",
        "ol",
        "li",
        "section",
        "article",
        "figure",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "form",
        "dl",
        "tr",
        "td",
        "header",
        "footer",
    }
)


def _is_data_table(table: lxml.html.HtmlElement) -> bool:
    """A table of figures (rows of short cells), as opposed to a table used for layout."""
    if table.xpath(".//table | .//p | .//div | .//img | .//ul | .//form"):
        return False
    rows = table.xpath("./tr | ./tbody/tr | ./thead/tr")
    if len(rows) < 2:
        return False
    widths = [len(r.xpath("./td | ./th")) for r in rows]
    cells = table.xpath(".//td | .//th")
    return sum(w >= 2 for w in widths) >= 0.8 * len(rows) and all(len(text_of(c)) <= 200 for c in cells)


def _unwrap_layout_tables(tree: lxml.html.HtmlElement) -> None:
    """Tables that lay out a page (old ASP.NET and table-built portals) become plain blocks,
    so a whole news column is not read as one table cell; tables of figures stay tables."""
    for table in reversed(tree.xpath("//table")):
        if _is_data_table(table):
            continue
        own = [
            el
            for el in table.xpath(".//tbody | .//thead | .//tfoot | .//tr | .//td | .//th")
            if el.xpath("ancestor::table[1]")[0] is table
        ]
        for el in [table, *own]:
            el.tag = "div"
            for attr in ("width", "height", "cellpadding", "cellspacing", "border", "valign", "bgcolor"):
                el.attrib.pop(attr, None)


_INLINE_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "font",
        "span",
        "sup",
        "sub",
        "small",
        "big",
        "abbr",
        "code",
        "mark",
        "s",
        "strike",
        "q",
        "cite",
        "img",
        "nobr",
    }
)


def _append_text(para: lxml.html.HtmlElement, text: str) -> None:
    if len(para):
        para[-1].tail = (para[-1].tail or "") + text
    else:
        para.text = (para.text or "") + text


def _split_loose_text(box: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """The children of ``box`` with its loose text and inline runs wrapped in ``<p>``s, a
    ``<br>`` or a block element ending each run."""
    children: list[lxml.html.HtmlElement] = []
    runs = [lxml.html.Element("p")]
    if box.text and box.text.strip():
        runs[-1].text = box.text
    box.text = None
    for child in list(box):
        tail, child.tail = child.tail, None
        box.remove(child)
        if not isinstance(child.tag, str) or child.tag in _INLINE_TAGS:
            runs[-1].append(child)
        else:
            if fold(runs[-1].text_content()):
                children.append(runs[-1])
            runs.append(lxml.html.Element("p"))
            if child.tag != "br":
                children.append(child)
        if tail and tail.strip():
            _append_text(runs[-1], tail)
    if fold(runs[-1].text_content()):
        children.append(runs[-1])
    return children


def _paragraphise(tree: lxml.html.HtmlElement) -> None:
    """Loose text in a block (text between ``<br>``s or after a table, as old CMSs print
    paragraphs) becomes ``<p>``s, so it is prose and not the tail of something else. A
    ``<font>`` or ``<span>`` that holds paragraphs between ``<br>``s (2000s table-built sites
    wrap a whole article in one) is a block."""
    for inline in list(tree.iter("font", "span")):
        if (
            any(c.tag == "br" for c in inline)
            and len((inline.text or "").strip()) + sum(len((c.tail or "").strip()) for c in inline) >= 80
        ):
            inline.tag = "div"
    for box in list(tree.iter("div", "td")):
        loose = bool(box.text and box.text.strip()) or any(c.tail and c.tail.strip() for c in box)
        if loose and any(isinstance(c.tag, str) and c.tag not in _INLINE_TAGS for c in box):
            box.extend(_split_loose_text(box))


def _normalise_blocks(tree: lxml.html.HtmlElement) -> None:
    """Blocks that CMSs print as captions or bare ``<div>``s of text become paragraphs, so
    the main-text extractor treats a lead, a caption or a ``<div>`` paragraph as prose."""
    for figure in list(tree.iter("figure")):
        if figure.xpath(".//table"):
            for caption in figure.iter("figcaption"):
                caption.tag = "p"
            figure.drop_tag()  # a table in a figure: keep the table, lose the wrapper
            continue
        captions = [fold(c.text_content()) for c in figure.iter("figcaption")]
        replacement = lxml.html.Element("div")
        for caption in filter(None, captions):
            para = lxml.html.Element("p")
            para.set("class", "caption")
            para.text = caption
            replacement.append(para)
        replacement.tail = figure.tail
        parent = figure.getparent()
        if parent is not None:
            parent.replace(figure, replacement)
    for heading in list(tree.iter("h2", "h3", "h4", "h5", "h6")):
        if len(text_of(heading)) > 120:  # a "heading" that long is the lead (sapo), not a title
            heading.tag = "p"
    holds_blocks: set[lxml.html.HtmlElement] = set()
    for el in tree.iter(*_BLOCK_TAGS):
        for ancestor in el.iterancestors():
            if ancestor in holds_blocks:
                break
            holds_blocks.add(ancestor)
    for el in list(tree.iter("figcaption", "div")):
        if el.tag == "figcaption" or (el not in holds_blocks and len(text_of(el)) >= 20):
            el.tag = "p"


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def strip_furniture(tree: lxml.html.HtmlElement, meta: PageMeta, hints: ExtractHints | None) -> None:
    """Normalise the layout and remove the furniture: page chrome, boxes and the elements
    the metadata was read from."""
    remove = drop
    for el in meta.used:
        remove(el)
    _unwrap_figure_tables(tree)
    _unwrap_layout_tables(tree)
    _paragraphise(tree)
    _normalise_blocks(tree)
    for xpath in hints.drop_xpaths if hints else ():
        for el in tree.xpath(xpath):
            remove(el)
    for el in tree.xpath(
        "//script | //style | //noscript | //iframe | //nav | //select | //button"
        " | //input | //textarea | //footer | //aside"
        # The page's header, not an article's own (HTML5 puts the headline and lead there).
        " | //header[not(ancestor::article or ancestor::main)]"
    ):
        remove(el)
    _drop_trailing_boxes(tree, remove)
    _drop_titled_boxes(tree, remove)
    total = max(content_mass(tree), 1)
    for el in list(tree.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        attrs = f"{el.get('class', '')} {el.get('id', '')}".strip()
        is_box = False
        if el.tag == "blockquote":
            continue  # a quoted post or tweet is the article's ("twitter-tweet")
        if attrs and is_furniture_container(attrs):
            # A sub-heading's id ("nav_...") names an anchor, not a box; a header or widget
            # that holds prose is the article's own.
            is_box = el.tag not in _HEADINGS and not (names_only_a_place(attrs) and has_prose(el))
        elif el.tag in ("div", "section", "ul", "table", "td", "form", "fieldset", "span", "p"):
            first = first_text(el)
            is_box = bool(first) and starts_with_box_heading(first) and len(first) < 60
        elif el.tag == "form":
            is_box = True
        if is_box and content_mass(el) < 0.3 * total:
            remove(el)


def _is_box_title(el: lxml.html.HtmlElement) -> bool:
    text = short_text(el, 40)
    return bool(text) and starts_with_ending_box_heading(text or "")


def _drop_trailing_boxes(tree: lxml.html.HtmlElement, remove: Callable[[lxml.html.HtmlElement], None]) -> None:
    """A box title printed on its own ("Tin đọc nhiều", "Các bài mới đăng") ends the
    article: it goes, and so do the siblings after it up to the next real prose."""
    for title in [
        el for el in tree.iter("h2", "h3", "h4", "h5", "h6", "p", "div", "span", "strong") if _is_box_title(el)
    ]:
        if title.getparent() is None:
            continue
        sibling = title.getnext()
        remove(title)
        while sibling is not None:
            following = sibling.getnext()
            if isinstance(sibling.tag, str) and has_prose(sibling):
                break
            remove(sibling)
            sibling = following


_TITLE_CLASS_WORDS = ("title", "header", "heading", "tieude", "caption")


def _box_title_child(el: lxml.html.HtmlElement) -> bool:
    """The element opens with a short title of its own: a heading, or a child whose class
    says title (portlets, web parts, widget boxes)."""
    first = next((c for c in el if isinstance(c.tag, str) and has_text(c)), None)
    if first is None or first.tag == "h1" or short_text(first, 40) is None:
        return False
    if first.tag in ("h2", "h3", "h4", "h5", "h6"):
        return True
    words = " ".join(class_words(first))
    return any(w in words for w in _TITLE_CLASS_WORDS)


def _drop_titled_boxes(tree: lxml.html.HtmlElement, remove: Callable[[lxml.html.HtmlElement], None]) -> None:
    """Boxes with a title of their own and only short items in them (a portlet of new
    documents, a work calendar, a link list) are not the article."""
    total = max(len(text_of(tree)), 1)
    for el in list(tree.iter("div", "section", "aside", "table", "td", "ul")):
        if el.getparent() is None or not _box_title_child(el):
            continue
        size = len(text_of(el))
        if size < 0.3 * total and size < 2000 and not has_prose(el):
            remove(el)

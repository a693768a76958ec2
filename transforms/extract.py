"""Raw page -> :class:`Article`: metadata from the page, furniture out, trafilatura for the
main text, our line rules after it.

The order matters: metadata (title, kicker, category, date, view counter, byline) is read
from the untouched page first, because the elements that carry it are themselves
furniture; then furniture containers and boxes are removed; then trafilatura finds the main
text in what is left; then line rules drop what it let through, fold the captions that
portals print twice, and lift "Theo X/Y" attributions and end-of-article bylines into
metadata.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
import trafilatura

from crawlers.registry import ExtractHints
from transforms.article import Article
from transforms.dates import parse_iso_date, parse_vietnamese_date, plausible
from transforms.furniture import (
    is_furniture_container,
    is_furniture_line,
    starts_with_box_heading,
    starts_with_ending_box_heading,
)
from transforms.text import decode_html, fold, paragraphs

# Fewer words than this is a stub, a listing teaser or a contact page, not an article.
MIN_BODY_WORDS = 60

_TITLE_STAMP_RE = re.compile(
    r"\s*[(\[]\s*(\d{1,2}[:h]\d{2}\s*[,|-]?\s*\d{1,2}/\d{1,2}/\d{4}|\d{1,2}/\d{1,2}/\d{4}"
    r"(?:\s*[,|-]?\s*\d{1,2}[:h]\d{2})?)\s*[)\]]\s*$"
)
_VIEWS_RE = re.compile(r"(?:lượt xem|số lượt xem|lượt đọc)\s*[:：]?\s*([\d.,]+)|([\d.,]+)\s+lượt (?:xem|đọc)", re.I)
_ATTRIBUTION_RE = re.compile(
    r"^(?:theo|nguồn)\s*[:：]?\s*(?P<who>[^/()]+?)?\s*(?:[/(]\s*(?P<src>[\w.-]+\.[a-z]{2,}[\w./-]*)\s*\)?)?\s*$",
    re.IGNORECASE,
)
_NAME_WORD = r"[A-ZĐÀ-Ỹ][a-zđà-ỹ]+"
_NAME_RE = re.compile(rf"^(?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{1,4}}$")
_AGENCY_BYLINES = re.compile(r"^(?:PV|CTV|Nhóm PV|Nhóm phóng viên|BTV|Phóng viên|P\.V)$")
_BYLINE_WITH_UNIT_RE = re.compile(rf"^(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,4}})\s*\([^)]{{2,80}}\)$")
_DOMAIN_RE = re.compile(r"^[\w-]+(?:\.[\w-]+)+$")
_PUBLISHER_RE = re.compile(
    r"^(?:báo|tạp chí|đài|cổng|trang|thông tấn|tttxvn|ttxvn|vov|vtv|vna|tuổi trẻ|thanh niên|nhân dân)\b|^[A-ZĐ]{2,}$",
    re.IGNORECASE,
)
_NAME_WITH_UNIT_RE = re.compile(rf"^(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,4}})\s+[-–]\s+(?P<unit>.{{2,80}})$")

_BYLINE_WORDS = {"author", "byline", "tacgia", "tac", "gia"}
_KICKER_WORDS = {"kicker", "supertitle", "subtitle", "series", "chuyende", "tieudephu", "sub"}
_CATEGORY_WORDS = {"cate", "category", "cat", "chuyenmuc", "section", "catname"}
_BYLINE_XPATH = " | ".join(
    f'//*[contains(translate(@class, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"), "{word}")]'
    for word in ("author", "byline", "tacgia", "tac-gia", "tac_gia")
)
_CRUMB_SKIP = {
    "trang chủ",
    "home",
    "trang nhất",
    "chi tiết",
    "chi tiết tin",
    "chi tiết bài viết",
    "nội dung",
    "xem tin",
    "bài viết",
    "tin chi tiết",
}


def _is_crumb_label(text: str) -> bool:
    return bool(re.search(r"\w", text)) and text.lower() not in _CRUMB_SKIP and len(text) <= 60


_DATE_WORDS = {"date", "time", "datetime", "ngaydang", "publish", "published", "posted", "ngay"}


@dataclass
class _Meta:
    title: str | None = None
    title_found: bool = False  # a headline element, not only <title>
    kicker: str | None = None
    category: str | None = None
    published: datetime | None = None
    author: str | None = None
    source: str | None = None
    view_count: int | None = None
    used: list[lxml.html.HtmlElement] = field(default_factory=list)


def _words(el: lxml.html.HtmlElement) -> set[str]:
    value = f"{el.get('class', '')} {el.get('id', '')}".lower()
    return set(re.findall(r"[a-z]+", value)) | {re.sub(r"[^a-z]", "", p) for p in value.split()}


def _text(el: lxml.html.HtmlElement) -> str:
    return fold(el.text_content())


def _parse(html: bytes | str, charset: str | None = None) -> lxml.html.HtmlElement | None:
    text = decode_html(html, charset) if isinstance(html, bytes) else html
    # One form for every page: windows-1258 decodes to combining marks, some CMSs store NFD.
    text = unicodedata.normalize("NFC", re.sub(r"^\s*<\?xml[^>]*\?>", "", text))
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None


# -- metadata ---------------------------------------------------------------------------
def _meta_content(tree: lxml.html.HtmlElement, *names: str) -> str | None:
    for name in names:
        for el in tree.xpath(f'//meta[@property="{name}" or @name="{name}" or @itemprop="{name}"]'):
            content = fold(el.get("content", ""))
            if content:
                return content
    return None


def _jsonld_dates(tree: lxml.html.HtmlElement) -> list[str]:
    found: list[str] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except json.JSONDecodeError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if isinstance(item.get("datePublished"), str):
                    found.append(item["datePublished"])
                stack.extend(v for v in item.values() if isinstance(v, (list, dict)))
    return found


def _pick_title_element(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    page_title = fold(" ".join(tree.xpath("//title//text()"))).lower()
    og_title = (_meta_content(tree, "og:title") or "").lower()
    headings = [h for h in tree.xpath("//h1 | //h2") if len(_text(h).split()) >= 4]
    for heading in headings:
        text = _TITLE_STAMP_RE.sub("", _text(heading)).lower()
        if text and (text in page_title or text in og_title or page_title.startswith(text[:40])):
            return heading
    h1s = [h for h in headings if h.tag == "h1"]
    if h1s:
        return h1s[0]
    return _element_with_title_text(tree, page_title, og_title)


def _element_with_title_text(
    tree: lxml.html.HtmlElement, page_title: str, og_title: str
) -> lxml.html.HtmlElement | None:
    """The outermost element in the body whose whole text is the headline that ``<title>`` or
    ``og:title`` gives (table-layout sites print the headline in a ``<td>`` or ``<font>``)."""
    separator = r"\s+[-|–]\s+"
    candidates = [og_title, page_title, re.split(separator, page_title)[0]]
    parts = re.split(separator, page_title)
    if len(parts) > 1:
        candidates += [" - ".join(parts[:-1]), " - ".join(parts[1:])]
    site_name = (_meta_content(tree, "og:site_name") or "").lower()
    for wanted in (c for c in candidates if len(c.split()) >= 4 and c != site_name):
        for el in tree.iter("td", "div", "p", "span", "b", "strong", "font", "h2", "h3"):
            if _TITLE_STAMP_RE.sub("", _text(el)).lower() != wanted:
                continue
            if el.xpath(
                'ancestor-or-self::*[self::header or contains(@class, "logo") or contains(@class, "banner")'
                ' or contains(@id, "header") or contains(@class, "header")]'
            ):
                continue
            return el
    return None


def _elements_before(el: lxml.html.HtmlElement, limit: int = 3) -> list[lxml.html.HtmlElement]:
    """Up to ``limit`` non-empty elements printed just before ``el`` (siblings, then the
    parent's siblings)."""
    found: list[lxml.html.HtmlElement] = []
    node: lxml.html.HtmlElement | None = el
    while node is not None and len(found) < limit:
        prev = node.getprevious()
        while prev is not None and len(found) < limit:
            if isinstance(prev.tag, str) and prev.tag not in ("script", "style") and _text(prev):
                found.append(prev)
                break
            prev = prev.getprevious()
        if found:
            break
        node = node.getparent()
        if node is not None and node.tag in ("body", "html"):
            break
    return found


_DATE_NOISE_RE = re.compile(
    r"\d{1,2}\s*[/.:hg-]\s*\d{1,2}(?:\s*[/.-]\s*\d{2,4})?|gmt\s*[+-]?\s*\d+|[|,()\-–:]|"
    r"\b(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy)|chủ nhật|ngày đăng|ngày|cập nhật|lúc|đăng|lượt xem|"
    r"lượt đọc|xem|views?)\b|\d+",
    re.IGNORECASE,
)


def _is_date_line(text: str) -> bool:
    """A line that is a date stamp (with its labels and a view counter), not a sentence."""
    return len(text) <= 120 and len(_DATE_NOISE_RE.sub("", text).strip()) <= 12


def _following_small(el: lxml.html.HtmlElement, limit: int = 60) -> list[lxml.html.HtmlElement]:
    """Short elements printed after ``el`` in document order (where date lines, counters
    and bylines sit), innermost first."""
    found = []
    for nxt in el.xpath("following::*")[:limit]:
        if not isinstance(nxt.tag, str) or nxt.tag in ("script", "style"):
            continue
        text = _text(nxt)
        if text and len(text) <= 150:
            found.append(nxt)
    return found


def _elements_after(el: lxml.html.HtmlElement, limit: int = 6) -> list[lxml.html.HtmlElement]:
    """Elements printed after ``el`` in document order (its following siblings' subtrees
    first, then the parent's)."""
    found: list[lxml.html.HtmlElement] = []
    node: lxml.html.HtmlElement | None = el
    while node is not None and len(found) < limit:
        nxt = node.getnext()
        while nxt is not None and len(found) < limit:
            if isinstance(nxt.tag, str) and nxt.tag not in ("script", "style"):
                found.append(nxt)
            nxt = nxt.getnext()
        node = node.getparent()
        if node is None or node.tag in ("body", "html"):
            break
    return found


def _read_kicker_and_category(title_el: lxml.html.HtmlElement, meta: _Meta) -> None:
    for prev in _elements_before(title_el):
        text = _text(prev)
        if len(text) > 250 or _DATE_WORDS & _words(prev):
            continue
        words = _words(prev)
        links = prev.xpath(".//a") if prev.tag != "a" else [prev]
        is_link_label = bool(links) and fold(" ".join(_text(a) for a in links)) == text
        if _KICKER_WORDS & words or (text.endswith(":") and not is_link_label):
            meta.kicker = text.rstrip(":： ").strip()
            meta.used.append(prev)
        elif _CATEGORY_WORDS & words or (is_link_label and len(text.split()) <= 8):
            meta.category = text
            meta.used.append(prev)


def _read_breadcrumb(tree: lxml.html.HtmlElement, meta: _Meta) -> None:
    if meta.category:
        return
    for crumb in tree.xpath('//*[contains(@class,"breadcrumb") or contains(@id,"breadcrumb")]'):
        linked = [fold(a.text_content()) for a in crumb.iter("a")]
        plain = [fold(t) for t in crumb.xpath(".//text()[not(ancestor::a)]")]
        for items in (linked, plain):
            items = [i for i in items if _is_crumb_label(i) and i != meta.title]
            if items:
                meta.category = items[-1]
                return
    section = _meta_content(tree, "article:section")
    if section:
        meta.category = section


def _read_date_views_byline(title_el: lxml.html.HtmlElement | None, tree: lxml.html.HtmlElement, meta: _Meta) -> None:
    near = _following_small(title_el) if title_el is not None else []
    for el in near:
        text = _text(el)
        if not text or len(text) > 300:
            continue
        words = _words(el)
        dt = plausible(parse_vietnamese_date(text)) if _is_date_line(text) else None
        if dt is not None:
            meta.published = meta.published or dt
            if el not in meta.used:
                meta.used.append(el)
        views = _VIEWS_RE.search(text)
        if views and meta.view_count is None:
            digits = re.sub(r"[.,]", "", views.group(1) or views.group(2))
            meta.view_count = int(digits) if digits.isdigit() else None
            if el not in meta.used:
                meta.used.append(el)
        if meta.author is None and _BYLINE_WORDS & words:
            name = _clean_byline(text)
            if name:
                meta.author = name
                meta.used.append(el)
    if meta.author is None:
        _read_end_byline(tree, meta)
    if meta.author is None:
        for el in tree.xpath(_BYLINE_XPATH):
            name = _clean_byline(_text(el)) if len(_text(el)) < 80 else None
            if name:
                meta.author = name
                meta.used.append(el)
                break
    if meta.view_count is None:
        for el in tree.xpath('//*[contains(@class,"view") or contains(@class,"luotxem")]'):
            views = _VIEWS_RE.search(_text(el))
            if views:
                digits = re.sub(r"[.,]", "", views.group(1) or views.group(2))
                meta.view_count = int(digits) if digits.isdigit() else None
                break


def _read_end_byline(tree: lxml.html.HtmlElement, meta: _Meta) -> None:
    """The right-aligned line closing an article: a byline or a "Theo X/Y" attribution."""
    candidates = tree.xpath(
        '//body//*[self::p or self::div or self::td][contains(translate(@style, "RIGHT", "right"), "right")'
        ' or @align="right"]'
    )
    for el in reversed(candidates):
        text = _text(el)
        if not text or len(text) > 80 or text.endswith((".", ":")) or is_furniture_line(text):
            continue
        if starts_with_box_heading(text) or re.search(r"\d{1,2}/\d{1,2}/\d{4}|[\[\]|]", text):
            continue
        if el.xpath('ancestor::*[contains(@class, "quote") or self::blockquote]'):
            continue
        attribution = _attribution(text)
        if attribution is not None:
            meta.author = meta.author or attribution[0]
            meta.source = meta.source or attribution[1]
        elif len(text.split()) <= 8:
            unit = _BYLINE_WITH_UNIT_RE.match(text) or _byline_with_unit(text)
            meta.author = meta.author or (unit.group("name") if unit else text)
        else:
            continue
        meta.used.append(el)
        return


def _clean_byline(text: str) -> str | None:
    text = re.sub(r"^(?:bài|tác giả|bài và ảnh|ảnh)\s*[:：]\s*", "", text.strip(), flags=re.I)
    text = re.split(r"\s*[|•]\s*|\s{2,}|\s+-\s+", text)[0].strip()
    if _NAME_RE.match(text) or _AGENCY_BYLINES.match(text):
        return text
    return None


def _read_metadata(tree: lxml.html.HtmlElement) -> _Meta:
    meta = _Meta()
    title_el = _pick_title_element(tree)
    if title_el is not None:
        raw_title = _text(title_el)
        meta.title_found = True
        meta.used.append(title_el)
        _read_kicker_and_category(title_el, meta)
    else:
        raw_title = _meta_content(tree, "og:title") or fold(" ".join(tree.xpath("//title//text()")))
    if raw_title and raw_title.isupper():
        meta.title_found = False  # a site name in capitals, not a headline
    stamp = _TITLE_STAMP_RE.search(raw_title or "")
    if stamp:
        meta.published = plausible(parse_vietnamese_date(stamp.group(1)))
        raw_title = raw_title[: stamp.start()]
    meta.title = fold(raw_title or "") or None

    for value in [
        _meta_content(tree, "article:published_time", "datePublished", "pubdate", "publishdate"),
        *_jsonld_dates(tree),
        *[t.get("datetime", "") for t in tree.xpath("//time[@datetime]")],
    ]:
        dt = plausible(parse_iso_date(value or ""))
        if dt is not None and meta.published is None:
            meta.published = dt
            break
    _read_date_views_byline(title_el, tree, meta)
    _read_breadcrumb(tree, meta)
    if meta.author is None:
        author = _meta_content(tree, "author", "article:author")
        if author and _clean_byline(author):
            meta.author = _clean_byline(author)
    return meta


# -- furniture --------------------------------------------------------------------------
def _content_mass(el: lxml.html.HtmlElement) -> int:
    return sum(len(_text(p)) for p in el.iter("p"))


def _unwrap_figure_tables(tree: lxml.html.HtmlElement) -> None:
    """Tables of one column (how many CMSs lay out an image and its caption) become
    paragraphs, so the caption reads as prose and not as a table row."""
    for table in tree.xpath("//table[not(ancestor::table)]"):
        rows = table.xpath("./tr | ./tbody/tr | ./thead/tr")
        if not rows or len(rows) > 4 or any(len(r.xpath("./td | ./th")) > 1 for r in rows):
            continue
        if not table.xpath(".//img") or table.xpath(".//table") or len(_text(table)) > 400:
            continue
        replacement = lxml.html.Element("div")
        for cell in table.xpath(".//td | .//th"):
            text = _text(cell)
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
    return sum(w >= 2 for w in widths) >= 0.8 * len(rows) and all(len(_text(c)) <= 200 for c in cells)


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


def _paragraphise(tree: lxml.html.HtmlElement) -> None:
    """Loose text in a block (text between ``<br>``s or after a table, as old CMSs print
    paragraphs) becomes ``<p>``s, so it is prose and not the tail of something else."""
    for box in list(tree.iter("div", "td")):
        loose = bool(box.text and box.text.strip()) or any(c.tail and c.tail.strip() for c in box)
        if not loose or not any(isinstance(c.tag, str) and c.tag not in _INLINE_TAGS for c in box):
            continue
        children: list[lxml.html.HtmlElement] = []
        para = lxml.html.Element("p")

        def flush() -> None:
            nonlocal para
            if fold(para.text_content()):
                children.append(para)
            para = lxml.html.Element("p")

        if box.text and box.text.strip():
            para.text = box.text
        box.text = None
        for child in list(box):
            tail, child.tail = child.tail, None
            box.remove(child)
            if not isinstance(child.tag, str) or child.tag in _INLINE_TAGS:
                para.append(child)
            elif child.tag == "br":
                flush()
            else:
                flush()
                children.append(child)
            if tail and tail.strip():
                _append_text(para, tail)
        flush()
        box.extend(children)


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
        if len(_text(heading)) > 120:  # a "heading" that long is the lead (sapo), not a title
            heading.tag = "p"
    for el in list(tree.iter("figcaption", "div")):
        if el.tag == "figcaption" or (
            not any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in el.iterdescendants())
            and len(_text(el)) >= 20
        ):
            el.tag = "p"


def _strip_furniture(tree: lxml.html.HtmlElement, meta: _Meta, hints: ExtractHints | None) -> None:
    for el in meta.used:
        _drop(el)
    _unwrap_figure_tables(tree)
    _unwrap_layout_tables(tree)
    _paragraphise(tree)
    _normalise_blocks(tree)
    for xpath in hints.drop_xpaths if hints else ():
        for el in tree.xpath(xpath):
            _drop(el)
    for el in tree.xpath(
        "//script | //style | //noscript | //iframe | //nav | //select | //button"
        " | //input | //textarea | //footer | //header | //aside"
    ):
        _drop(el)
    _drop_trailing_boxes(tree)
    _drop_titled_boxes(tree)
    total = max(_content_mass(tree), 1)
    for el in list(tree.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        attrs = f"{el.get('class', '')} {el.get('id', '')}".strip()
        is_box = False
        if attrs and is_furniture_container(attrs):
            is_box = True
        elif el.tag in ("div", "section", "ul", "table", "td", "form", "fieldset", "span", "p"):
            first = _first_text(el)
            is_box = bool(first) and starts_with_box_heading(first) and len(first) < 60
        elif el.tag == "form":
            is_box = True
        if is_box and _content_mass(el) < 0.3 * total:
            _drop(el)


def _is_box_title(el: lxml.html.HtmlElement) -> bool:
    text = _text(el)
    return 0 < len(text) <= 40 and starts_with_ending_box_heading(text)


def _has_prose(el: lxml.html.HtmlElement) -> bool:
    """True when an element holds a run of text longer than a headline or a link."""
    return any(len(fold(t)) > 160 for t in el.itertext())


def _drop_trailing_boxes(tree: lxml.html.HtmlElement) -> None:
    """A box title printed on its own ("Tin đọc nhiều", "Các bài mới đăng") ends the
    article: it goes, and so do the siblings after it up to the next real prose."""
    for title in [
        el for el in tree.iter("h2", "h3", "h4", "h5", "h6", "p", "div", "span", "strong") if _is_box_title(el)
    ]:
        if title.getparent() is None:
            continue
        sibling = title.getnext()
        _drop(title)
        while sibling is not None:
            following = sibling.getnext()
            if isinstance(sibling.tag, str) and _has_prose(sibling):
                break
            _drop(sibling)
            sibling = following


_TITLE_CLASS_WORDS = ("title", "header", "heading", "tieude", "caption")


def _box_title_child(el: lxml.html.HtmlElement) -> bool:
    """The element opens with a short title of its own: a heading, or a child whose class
    says title (portlets, web parts, widget boxes)."""
    first = next((c for c in el if isinstance(c.tag, str) and _text(c)), None)
    if first is None or len(_text(first)) > 40 or first.tag == "h1":
        return False
    if first.tag in ("h2", "h3", "h4", "h5", "h6"):
        return True
    words = " ".join(_words(first))
    return any(w in words for w in _TITLE_CLASS_WORDS)


def _drop_titled_boxes(tree: lxml.html.HtmlElement) -> None:
    """Boxes with a title of their own and only short items in them (a portlet of new
    documents, a work calendar, a link list) are not the article."""
    total = max(len(_text(tree)), 1)
    for el in list(tree.iter("div", "section", "aside", "table", "td", "ul")):
        if el.getparent() is None or not _box_title_child(el):
            continue
        size = len(_text(el))
        if size < 0.3 * total and size < 2000 and not _has_prose(el):
            _drop(el)


def _first_text(el: lxml.html.HtmlElement) -> str:
    for text in el.itertext():
        folded = fold(text)
        if folded:
            return folded
    return ""


def _drop(el: lxml.html.HtmlElement) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    parent.remove(el)
    if tail and tail.strip():
        prev = parent[-1] if len(parent) else None
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


# -- body -------------------------------------------------------------------------------
def _main_text(tree: lxml.html.HtmlElement, url: str, hints: ExtractHints | None) -> list[str]:
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
    return [_unformat(line) for line in paragraphs(text or "")]


_LEAD_WORDS = {"sapo", "lead", "summary", "tomtat", "mota", "intro", "chapeau", "description", "detailsapo"}


def _with_lead(tree: lxml.html.HtmlElement, lines: list[str]) -> list[str]:
    """Put back the lead paragraph (sapo) where the main-text extractor left it out."""
    if not lines:
        return lines
    for el in tree.xpath("//body//*[@class]"):
        if not (_LEAD_WORDS & _words(el)):
            continue
        lead = _text(el)
        if len(lead) >= 60 and lead not in lines and not any(lead in line for line in lines):
            return [lead, *lines]
        break
    return lines


def _byline_with_unit(line: str) -> re.Match[str] | None:
    """ "Văn Tâm - Trung tâm VH-TT&TT huyện": a name, a dash, a short unit with no sentence."""
    match = _NAME_WITH_UNIT_RE.match(line)
    if match and len(match.group("unit").split()) <= 8 and not match.group("unit").rstrip().endswith("."):
        return match
    return None


_LEAF_BLOCKS = ("p", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "dd")


def _restore_dropped(tree: lxml.html.HtmlElement, lines: list[str]) -> list[str]:
    """Put back the blocks the main-text extractor dropped from inside the article: a
    paragraph, list item, sub-heading or caption printed between two paragraphs it kept."""
    blocks = [b for b in tree.iter(*_LEAF_BLOCKS) if not b.xpath(".//p | .//li")]
    texts = [_text(b) for b in blocks]
    position = {t: i for i, t in reversed(list(enumerate(texts))) if t}
    present = set(lines)
    result: list[str] = []
    previous: int | None = None
    for line in lines:
        at = position.get(line)
        if at is not None and previous is not None and at > previous + 1:
            for text in texts[previous + 1 : at]:
                if text and text not in present and not is_furniture_line(text):
                    result.append(text)
                    present.add(text)
        result.append(line)
        if at is not None:
            previous = at if previous is None else max(previous, at)
    if previous is not None:
        # Paragraphs after the last one kept, in the same block as it (the closing lines).
        parent = blocks[previous].getparent()
        for block, text in zip(blocks[previous + 1 :], texts[previous + 1 :], strict=True):
            if block.getparent() is not parent:
                break
            if text and text not in present and not is_furniture_line(text):
                result.append(text)
                present.add(text)
    return result


def _byline_with_unit(line: str) -> re.Match[str] | None:
    """ "Văn Tâm - Trung tâm VH-TT&TT huyện": a name, a dash, a short unit with no sentence."""
    match = _NAME_WITH_UNIT_RE.match(line)
    if match and len(match.group("unit").split()) <= 8 and not match.group("unit").rstrip().endswith("."):
        return match
    return None


def _caption_texts(tree: lxml.html.HtmlElement) -> set[str]:
    found = set()
    for el in tree.xpath("//body//*[@class]"):
        if {w for w in _words(el) if "caption" in w or "chuthich" in w}:
            text = _text(el)
            if 0 < len(text) <= 400:
                found.add(text)
    return found


def _with_captions(tree: lxml.html.HtmlElement, lines: list[str]) -> list[str]:
    """Put back image captions the main-text extractor dropped, each after the paragraph
    printed before it."""
    captions = _caption_texts(tree) - set(lines)
    if not captions or not lines:
        return lines
    present = set(lines)
    result = list(lines)
    previous: str | None = None
    for el in tree.xpath("//body//p | //body//*[@class]"):
        text = _text(el)
        if text in present:
            previous = text
        elif text in captions and previous is not None and text not in result:
            at = len(result) - 1 - result[::-1].index(previous)
            result.insert(at + 1, text)
            present.add(text)
            previous = text
    return result


def _attribution(line: str) -> tuple[str | None, str | None] | None:
    """(author, source) of a "Theo X/Y" or "Nguồn: Y" line, or None."""
    match = _ATTRIBUTION_RE.match(line)
    if not match or len(line) > 120:
        return None
    who = (match.group("who") or "").strip(" .,-") or None
    src = match.group("src")
    if who and not src and (_DOMAIN_RE.match(who) or _PUBLISHER_RE.match(who)):
        who, src = None, who
    if who and not (_NAME_RE.match(who) or _AGENCY_BYLINES.match(who)):
        if src is None and not line.lower().startswith("nguồn"):
            return None
        # "Theo Báo Quảng Ninh" names a publisher, not a person.
        return None, src or who
    return who, src


_TABLE_ROW_RE = re.compile(r"^\|\s*(.*?)\s*\|$")
_BULLET_RE = re.compile(r"^[-•*]\s+")


def _unformat(line: str) -> str:
    """trafilatura's plain-text marks off: table rows "| a | b |" and list bullets "- "."""
    row = _TABLE_ROW_RE.match(line)
    if row:
        cells = [c.strip() for c in row.group(1).split("|")]
        line = " | ".join(c for c in cells if c)
    return _BULLET_RE.sub("", line)


def _clean_body(lines: list[str], meta: _Meta) -> list[str]:
    skip = {x for x in (meta.title, meta.kicker, meta.category) if x}
    kept: list[str] = []
    for line in (_unformat(raw) for raw in lines):
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
        attribution = _attribution(last)
        if attribution is not None:
            who, src = attribution
            meta.author = meta.author or who
            meta.source = meta.source or src
            kept.pop()
            continue
        unit = _BYLINE_WITH_UNIT_RE.match(last) or _byline_with_unit(last)
        if _NAME_RE.match(last) or _AGENCY_BYLINES.match(last) or unit:
            meta.author = meta.author or (unit.group("name") if unit else last)
            kept.pop()
            continue
        break
    if kept and meta.author and kept[0] == meta.author:
        kept.pop(0)
    return kept


_CONTACT_LINE_RE = re.compile(
    r"^(?:địa chỉ|điện thoại|đt|fax|email|e-mail|hotline|website|trụ sở|số tài khoản)\s*[:：]", re.IGNORECASE
)


def _looks_like_contact_page(lines: list[str]) -> bool:
    contact = sum(1 for line in lines if _CONTACT_LINE_RE.match(line))
    return contact >= 2 and contact >= 0.25 * len(lines)


_LISTING_TITLE_RE = re.compile(
    r"^(?:chuyên mục|danh mục|lưu trữ|thẻ|tag|tags|từ khóa|từ khoá|kết quả tìm kiếm|tìm kiếm|trang chủ"
    r"|tin tức\s*$|danh sách)\b",
    re.IGNORECASE,
)


def _is_link_label(tree: lxml.html.HtmlElement, url: str, text: str) -> bool:
    """Some link on the page, to another page, reads exactly ``text``."""
    here = url.split("#")[0].rstrip("/")
    for a in tree.xpath("//a[@href]"):
        if _text(a) != text:
            continue
        if urljoin(url, a.get("href", "")).split("#")[0].rstrip("/") != here:
            return True
        if a.xpath(
            'ancestor::nav or ancestor::*[contains(@class, "menu") or contains(@id, "menu")'
            ' or contains(@class, "nav") or contains(@id, "nav")]'
        ):
            return True  # the menu's own entry for this page: a section page
    return False


def _looks_like_listing(tree: lxml.html.HtmlElement, url: str, meta: _Meta, lines: list[str]) -> bool:
    """A listing, tag, search or home page: teasers of other articles, not one article."""
    if urlsplit(url).path in ("", "/") and not urlsplit(url).query:
        return True
    if meta.title and _LISTING_TITLE_RE.match(meta.title):
        return True
    if meta.title and len(meta.title.split()) <= 8 and _is_link_label(tree, url, meta.title):
        return True  # the "headline" is a section name from the menu: a section page
    headline_links = {
        a.get("href")
        for a in tree.xpath("//h2//a[@href] | //h3//a[@href] | //h4//a[@href]")
        if len(_text(a).split()) >= 4
    }
    if not meta.title_found and len(headline_links) >= 3:
        return True
    dates = {t.get("datetime", "")[:10] for t in tree.xpath("//time[@datetime]")}
    if len(tree.xpath("//article")) >= 2 and len(dates) >= 2 and len(headline_links) >= 2:
        return True
    headlines = {_text(a) for a in tree.xpath("//a") if len(_text(a).split()) >= 4}
    linked = sum(len(line) for line in lines if line in headlines)
    return linked > 0.3 * max(sum(len(line) for line in lines), 1)


def extract_article(
    html: bytes | str,
    url: str,
    site: str | None = None,
    *,
    hints: ExtractHints | None = None,
    charset: str | None = None,
) -> Article | None:
    """The article on a page, or None when the page is not an article.

    ``site`` is the portal's slug where known (``None`` for a portal with no config);
    ``hints`` are the portal's optional extraction hints from its site config; ``charset`` is
    the one the server declared in ``Content-Type``, if any.
    """
    tree = _parse(html, charset)
    if tree is None:
        return None
    meta = _read_metadata(tree)
    if not meta.title:
        return None
    work = copy.deepcopy(tree)
    # The metadata elements were found in ``tree``; find them again in the copy by path.
    roottree = tree.getroottree()
    work_meta = _Meta(
        used=[work.xpath(roottree.getpath(el))[0] for el in meta.used if work.xpath(roottree.getpath(el))]
    )
    _strip_furniture(work, work_meta, hints)
    lines = _clean_body(_restore_dropped(work, _with_lead(work, _main_text(work, url, hints))), meta)
    body = "\n".join(lines)
    if len(body.split()) < MIN_BODY_WORDS or _looks_like_listing(tree, url, meta, lines):
        return None
    if meta.published is None and (not meta.title_found or _looks_like_contact_page(lines)):
        return None  # no date, and no headline or only addresses: a home or contact page
    return Article(
        url=url,
        title=meta.title,
        body=body,
        published_at=meta.published,
        author=meta.author,
        source=meta.source,
        category=meta.category,
        kicker=meta.kicker,
        view_count=meta.view_count,
    )

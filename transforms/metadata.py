"""Reading an article's metadata from its page: headline, kicker, section, publication
date, view counter, byline and "Theo X/Y" attribution.

It runs on the untouched page, before any furniture is removed, because the elements that
carry metadata are furniture themselves; every element it reads is recorded in
:attr:`PageMeta.used` so the cleanup can remove it from the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import lxml.html

from kernel.timestamps import parse_iso_date
from transforms.dates import parse_vietnamese_date, plausible
from transforms.furniture import is_furniture_line, starts_with_box_heading
from transforms.headline import MIN_AGREEMENT, TITLE_STAMP_RE, find_headline
from transforms.page import class_words, first_text, has_text, meta_content, short_text, text_of
from transforms.text import fold

_VIEWS_RE = re.compile(r"(?:lượt xem|số lượt xem|lượt đọc)\s*[:：]?\s*([\d.,]+)|([\d.,]+)\s+lượt (?:xem|đọc)", re.I)


_ATTRIBUTION_RE = re.compile(
    r"^(?:theo|nguồn)\s*[:：]?\s*(?P<who>[^/()]+?)?\s*(?:[/(]\s*(?P<src>[\w.-]+\.[a-z]{2,}[\w./-]*)\s*\)?)?\s*$",
    re.IGNORECASE,
)


_NAME_WORD = r"[A-ZĐÀ-Ỹ][a-zđà-ỹ]+"


NAME_RE = re.compile(rf"^(?:{_NAME_WORD})(?:\s+{_NAME_WORD}){{1,4}}$")


AGENCY_BYLINES = re.compile(r"^(?:PV|CTV|Nhóm PV|Nhóm phóng viên|BTV|Phóng viên|P\.V)$")


BYLINE_WITH_UNIT_RE = re.compile(rf"^(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,4}})\s*\([^)]{{2,80}}\)$")


_DOMAIN_RE = re.compile(r"^[\w-]+(?:\.[\w-]+)+$")


_PUBLISHER_RE = re.compile(
    r"^(?:báo|tạp chí|đài|cổng|trang|thông tấn|tttxvn|ttxvn|vov|vtv|vna|tuổi trẻ|thanh niên|nhân dân)\b|^[A-ZĐ]{2,}$",
    re.IGNORECASE,
)


_NAME_WITH_UNIT_RE = re.compile(rf"^(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,4}})\s+[-–]\s+(?P<unit>.{{2,80}})$")


_BYLINE_WORDS = {"author", "byline", "tacgia", "tac", "gia"}


_KICKER_WORDS = {"kicker", "supertitle", "subtitle", "series", "chuyende", "tieudephu", "sub"}


_CATEGORY_WORDS = {"cate", "category", "cat", "chuyenmuc", "section", "catname"}


_BYLINE_CLASS_WORDS = ("author", "byline", "tacgia", "tac-gia", "tac_gia")


def _byline_elements(tree: lxml.html.HtmlElement) -> Iterator[lxml.html.HtmlElement]:
    """Elements whose class names an author or byline, in document order (one pass; an
    XPath of five case-folding tests reads every element five times)."""
    for el in tree.iter():
        value = el.get("class") if isinstance(el.tag, str) else None
        if value and any(word in value.lower() for word in _BYLINE_CLASS_WORDS):
            yield el


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


_BOX_TAGS = ("div", "table", "td", "section", "aside", "ul")


_DATE_WORDS = {"date", "time", "datetime", "ngaydang", "publish", "published", "posted", "ngay"}


@dataclass
class PageMeta:
    title: str | None = None
    title_found: bool = False  # a headline element, not only <title>
    title_agrees: bool = False  # ... whose words agree with the head's title, og:title or JSON-LD
    kicker: str | None = None
    category: str | None = None
    published: datetime | None = None
    author: str | None = None
    source: str | None = None
    view_count: int | None = None
    used: list[lxml.html.HtmlElement] = field(default_factory=list)


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


def _elements_before(el: lxml.html.HtmlElement, limit: int = 3) -> list[lxml.html.HtmlElement]:
    """Up to ``limit`` non-empty elements printed just before ``el`` (siblings, then the
    parent's siblings)."""
    found: list[lxml.html.HtmlElement] = []
    node: lxml.html.HtmlElement | None = el
    while node is not None and len(found) < limit:
        prev = node.getprevious()
        while prev is not None and len(found) < limit:
            if isinstance(prev.tag, str) and prev.tag not in ("script", "style") and has_text(prev):
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
    for nxt in el.xpath(f"following::*[position() <= {limit}]"):
        if not isinstance(nxt.tag, str) or nxt.tag in ("script", "style"):
            continue
        if short_text(nxt, 150):
            found.append(nxt)
    return found


def _read_kicker_and_category(title_el: lxml.html.HtmlElement, meta: PageMeta) -> None:
    for prev in _elements_before(title_el):
        text = text_of(prev)
        if len(text) > 250 or _DATE_WORDS & class_words(prev):
            continue
        words = class_words(prev)
        links = prev.xpath(".//a") if prev.tag != "a" else [prev]
        is_link_label = bool(links) and fold(" ".join(text_of(a) for a in links)) == text
        if _KICKER_WORDS & words or (text.endswith(":") and not is_link_label):
            meta.kicker = text.rstrip(":： ").strip()
            meta.used.append(prev)
        elif _CATEGORY_WORDS & words or (is_link_label and len(text.split()) <= 8):
            meta.category = text
            meta.used.append(prev)


def _read_breadcrumb(tree: lxml.html.HtmlElement, meta: PageMeta) -> None:
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
    section = meta_content(tree, "article:section")
    if section:
        meta.category = section


def _read_date_views_byline(
    title_el: lxml.html.HtmlElement | None, tree: lxml.html.HtmlElement, meta: PageMeta
) -> None:
    near = _following_small(title_el) if title_el is not None else []
    for el in near:
        text = text_of(el)
        if not text or len(text) > 300:
            continue
        words = class_words(el)
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
        for el in _byline_elements(tree):
            short = short_text(el, 79)
            name = _clean_byline(short) if short else None
            if name:
                meta.author = name
                meta.used.append(el)
                break
    if meta.view_count is None:
        for el in tree.xpath('//*[contains(@class,"view") or contains(@class,"luotxem")]'):
            views = _VIEWS_RE.search(short_text(el, 300) or "")
            if views:
                digits = re.sub(r"[.,]", "", views.group(1) or views.group(2))
                meta.view_count = int(digits) if digits.isdigit() else None
                break


def _read_end_byline(tree: lxml.html.HtmlElement, meta: PageMeta) -> None:
    """The right-aligned line closing an article: a byline or a "Theo X/Y" attribution."""
    candidates = tree.xpath(
        '//body//*[self::p or self::div or self::td][contains(translate(@style, "RIGHT", "right"), "right")'
        ' or @align="right"]'
    )
    for el in reversed(candidates):
        text = short_text(el, 80)
        if not text or text.endswith((".", ":")) or is_furniture_line(text):
            continue
        if starts_with_box_heading(text) or re.search(r"\d{1,2}/\d{1,2}/\d{4}|[\[\]|]", text):
            continue
        if el.xpath('ancestor::*[contains(@class, "quote") or self::blockquote]'):
            continue
        if any(starts_with_box_heading(first_text(box)) for box in el.iterancestors() if box.tag in _BOX_TAGS):
            continue  # the source line of an exchange-rate or gold-price widget
        if el.xpath("ancestor::table[1][count(.//tr[count(td) >= 2]) >= 2]"):
            continue  # a line of a table of figures ("Nguồn: Vietcombank" under the rates)
        found = read_attribution(text)
        name = byline_name(text)
        if found is not None:
            meta.author = meta.author or found[0]
            meta.source = meta.source or found[1]
        elif name is not None:
            meta.author = meta.author or name
        else:
            continue  # right-aligned, but not a name ("Xem thêm »", a unit of measure)
        meta.used.append(el)
        return


_BYLINE_PREFIX_RE = re.compile(
    r"^(?:bài|tác giả(?: bài viết)?|người viết|bài và ảnh|bài, ảnh|bài - ảnh|ảnh|tin|tin và ảnh|tin, ảnh"
    r"|tin - ảnh)\s*[:：]\s*",
    re.IGNORECASE,
)
# A name in capitals, as many papers print bylines: "QUANG TÂM", "THU HÀ".
_CAPS_NAME_RE = re.compile(r"^[A-ZĐÀ-Ỹ]{2,}(?:\s+[A-ZĐÀ-Ỹ]{2,}){1,4}$")


# A unit signing an article: "Phòng Thông tin - Truyền thông", "Ban Tuyên giáo Huyện ủy".
_UNIT_BYLINE_RE = re.compile(
    r"^(?:Phòng|Ban|Trung tâm|Sở|Văn phòng|Đài|Ủy ban|UBND|Hội|Đoàn|Công an|Bộ Chỉ huy|Nhóm)\s[^.\d:;!?]{2,60}$"
)


def byline_name(line: str) -> str | None:
    """The journalist's name when a line is a byline: "Minh Anh", "Bài và ảnh: THU HÀ",
    "Tin: Hoàng Minh Khôi", "Văn Tâm - Ban Tuyên giáo Huyện ủy", "Minh Thư (Đài Truyền thanh
    huyện)", "PV"; else None."""
    text = _BYLINE_PREFIX_RE.sub("", line.strip())
    if len(text) > 100:
        return None
    unit = BYLINE_WITH_UNIT_RE.match(text) or byline_with_unit(text)
    if unit:
        return unit.group("name")
    if NAME_RE.match(text) or AGENCY_BYLINES.match(text) or (_CAPS_NAME_RE.match(text) and text.isupper()):
        return text
    if _UNIT_BYLINE_RE.match(text) and len(text.split()) <= 8:
        return text
    return None


def _clean_byline(text: str) -> str | None:
    text = _BYLINE_PREFIX_RE.sub("", text.strip())
    text = re.split(r"\s*[|•]\s*|\s{2,}|\s+-\s+", text)[0].strip()
    if NAME_RE.match(text) or AGENCY_BYLINES.match(text) or (_CAPS_NAME_RE.match(text) and text.isupper()):
        return text
    return None


def read_metadata(tree: lxml.html.HtmlElement) -> PageMeta:
    meta = PageMeta()
    headline, _ = find_headline(tree)
    # A "headline" that names the site (a listing's or contact page's head) has no date,
    # kicker or byline of its own: the dates printed near it are other articles'.
    title_el = headline.element if headline and not headline.names_site else None
    raw_title = text_of(headline.element) if headline and headline.element is not None else ""
    raw_title = raw_title or (headline.text if headline else "")
    if headline is not None and title_el is not None:
        meta.title_found = True
        meta.title_agrees = headline.agreement >= MIN_AGREEMENT
        meta.used.append(title_el)
        _read_kicker_and_category(title_el, meta)
    stamp = TITLE_STAMP_RE.search(raw_title or "")
    if stamp:
        meta.published = plausible(parse_vietnamese_date(stamp.group(1)))
        raw_title = raw_title[: stamp.start()]
    meta.title = fold(raw_title or "") or None

    for value in [
        meta_content(tree, "article:published_time", "datePublished", "pubdate", "publishdate"),
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
        author = meta_content(tree, "author", "article:author")
        if author and _clean_byline(author):
            meta.author = _clean_byline(author)
    return meta


def has_byline_prefix(line: str) -> bool:
    """The line opens with a byline's label: "Bài, ảnh:", "Tác giả bài viết:"."""
    return bool(_BYLINE_PREFIX_RE.match(line.strip()))


def byline_with_unit(line: str) -> re.Match[str] | None:
    """ "Văn Tâm - Trung tâm VH-TT&TT huyện": a name, a dash, a short unit with no sentence."""
    match = _NAME_WITH_UNIT_RE.match(line)
    # Up to 12 words: "Trung tâm Văn hóa - Thể thao và Truyền thanh thành phố".
    if match and len(match.group("unit").split()) <= 12 and not match.group("unit").rstrip().endswith("."):
        return match
    return None


def read_attribution(line: str) -> tuple[str | None, str | None] | None:
    """(author, source) of a "Theo X/Y" or "Nguồn: Y" line, or None."""
    match = _ATTRIBUTION_RE.match(line)
    if not match or len(line) > 120:
        return None
    who = (match.group("who") or "").strip(" .,-") or None
    src = match.group("src")
    if who and len(who.split()) > 12:
        return None  # "Theo báo cáo, tổng sản phẩm ... tăng 7,2%": a sentence, not a source
    if who and not src and (_DOMAIN_RE.match(who) or _PUBLISHER_RE.match(who)):
        who, src = None, who
    if who and re.search(r"\s[-–]\s", who):
        # "Theo Ngọc Lan - Báo Ấp Bắc": the journalist, then the paper.
        name, publisher = (part.strip() for part in re.split(r"\s[-–]\s", who, maxsplit=1))
        if NAME_RE.match(name):
            return name, src or publisher
    if who and not (NAME_RE.match(who) or AGENCY_BYLINES.match(who)):
        if src is None and not line.lower().startswith("nguồn"):
            return None
        # "Theo Báo Quảng Ninh" names a publisher, not a person.
        return None, src or who
    return who, src

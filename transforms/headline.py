"""Finding an article's headline: the element whose text agrees with what the page's head
says the headline is (``og:title``, ``twitter:title``, JSON-LD ``headline``, ``<title>``).

Not the first or the biggest heading: portals print the site name, a menu label or a box
title in ``<h1>``/``<h2>`` above the headline, and table-built sites print the headline in a
``<td>`` or ``<font>``. The head's titles are the one evidence every CMS family gives, so a
heading is the headline when its words agree with one of them; the site name (``og:site_name``
and the shorter parts of a "headline - site" title) never counts as the headline.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

import lxml.html

from transforms.furniture import is_furniture_line, starts_with_box_heading
from transforms.page import meta_content, short_text, text_of
from transforms.text import fold

# A time stamp printed at the end of a headline, "(12:48 29/11/2020)".
TITLE_STAMP_RE = re.compile(
    r"\s*[(\[]\s*(\d{1,2}[:h]\d{2}\s*[,|-]?\s*\d{1,2}/\d{1,2}/\d{4}|\d{1,2}/\d{1,2}/\d{4}"
    r"(?:\s*[,|-]?\s*\d{1,2}[:h]\d{2})?)\s*[)\]]\s*$"
)
# What CMSs put between the headline and the site name in <title>.
_SEPARATOR_RE = re.compile(r"\s+[-|–—:»·]\s+|\s*\|\s*|\s+::\s+")
_WORD_RE = re.compile(r"\w+")
_SPACE_RE = re.compile(r"\s+")
# Agreement (Dice over words) a heading needs to be taken for the headline.
MIN_AGREEMENT = 0.6
_HEADING_TAGS = ("h1", "h2", "h3")
# "Trang chủ > Tin tức > Chi tiết tin", "Home » News": a breadcrumb trail, in a page's <title>
# or a heading, names where the page sits, never what an article is called.
_TRAIL_RE = re.compile(
    r"^\s*(?:trang\s+chủ|trang\s+nhất|home(?:\s*page)?|startseite|accueil|inicio|início)\s*[>»›/|→]", re.IGNORECASE
)


def is_trail(text: str) -> bool:
    """Whether ``text`` is a breadcrumb trail that starts at the home page."""
    return bool(_TRAIL_RE.match(text))


_TITLE_CLASS_RE = re.compile(r"title|headline|tieude|tieu-de|heading", re.I)


def words(text: str) -> Counter[str]:
    return Counter(_WORD_RE.findall(text.casefold()))


def agreement(a: Counter[str], b: Counter[str]) -> float:
    """Dice coefficient of two bags of words."""
    total = sum(a.values()) + sum(b.values())
    return 2 * sum((a & b).values()) / total if total else 0.0


def _jsonld_headlines(tree: lxml.html.HtmlElement) -> list[str]:
    found: list[str] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, ValueError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if isinstance(item.get("headline"), str):
                    found.append(fold(item["headline"]))
                stack.extend(v for v in item.values() if isinstance(v, (list, dict)))
    return [h for h in found if h]


@dataclass(frozen=True)
class HeadTitles:
    """What the page's head says the headline is, and what it says the site is called."""

    headlines: tuple[str, ...]  # best first: JSON-LD, og:title, twitter:title, <title>
    site_names: frozenset[str]  # case-folded

    def only_site_name(self, folded: str) -> bool:
        """The head's titles all read ``folded`` and nothing else (no "headline - site")."""
        return bool(self.headlines) and all(h.casefold() == folded for h in self.headlines)


def head_titles(tree: lxml.html.HtmlElement) -> HeadTitles:
    """The headline candidates of the head, each with its site-name parts cut off."""
    page_title = fold(" ".join(tree.xpath("//head/title//text()") or tree.xpath("//title//text()")))
    site_name = meta_content(tree, "og:site_name", "application-name")
    raw = [
        *_jsonld_headlines(tree),
        meta_content(tree, "og:title"),
        meta_content(tree, "twitter:title"),
        page_title,
    ]
    sites = {site_name.casefold()} if site_name else set()
    headlines: list[str] = []
    for text in filter(None, raw):
        cuts = list(_SEPARATOR_RE.finditer(text))
        candidates = [text]
        if cuts:
            # "Headline - Section - Site": the headline is the longest part, the others name
            # the site or the section; a headline may hold a separator itself, so the text
            # without its first or last part is a candidate too.
            parts = [p.strip() for p in _SEPARATOR_RE.split(text) if p.strip()]
            longest = max(parts, key=len)
            sites.update(p.casefold() for p in parts if p != longest)
            candidates = [longest, text[: cuts[-1].start()], text[cuts[0].end() :], text]
        for candidate in candidates:
            candidate = TITLE_STAMP_RE.sub("", candidate).strip()
            if (
                candidate
                and candidate.casefold() not in sites
                and candidate not in headlines
                and not is_trail(candidate)
            ):
                headlines.append(candidate)
    # Best first: the candidate most of the head's titles hold (the headline without the
    # site name that only some of them append), then the longer.
    texts = [t.casefold() for t in raw if t]

    def rank(h: str) -> tuple[int, bool, int]:
        holds_site = any(part.strip().casefold() in sites for part in _SEPARATOR_RE.split(h))
        return sum(h.casefold() in t for t in texts), not holds_site, len(h)

    headlines.sort(key=rank, reverse=True)
    return HeadTitles(tuple(headlines), frozenset(sites))


@dataclass(frozen=True)
class Headline:
    text: str
    element: lxml.html.HtmlElement | None  # None: only the head gives it
    agreement: float
    # The "headline" names the site, not an article: what the head of a listing, contact
    # or home page says, printed in the page's banner or footer, or in capitals.
    names_site: bool = False


_SITE_REGION_WORDS = frozenset(
    {"header", "footer", "logo", "banner", "brand", "branding", "sitename", "masthead", "copyright"}
)
# "entry-header", "article-header", "portlet-header": the header of a part, not of the page.
_PART_WORDS = frozenset({"entry", "post", "article", "news", "content", "detail", "portlet", "title", "box", "item"})
_CLASS_WORD_RE = re.compile(r"[a-z]+")


def _in_site_region(el: lxml.html.HtmlElement) -> bool:
    """Inside the page's banner, header, footer or logo, or a link to the home page."""
    node: lxml.html.HtmlElement | None = el
    while node is not None and node.tag not in ("body", "html"):
        if node.tag in ("header", "footer") and not node.xpath("ancestor::article | ancestor::main"):
            return True
        value = f"{node.get('class', '')} {node.get('id', '')}".lower()
        found = set(_CLASS_WORD_RE.findall(value))
        if _SITE_REGION_WORDS & found and not _PART_WORDS & found:
            return True
        if node.tag == "a" and (node.get("href") or "").rstrip("/") in ("", "/", "/index.html", "/default.aspx"):
            return True
        node = node.getparent()
    return False


def names_site(text: str, element: lxml.html.HtmlElement | None, titles: HeadTitles) -> bool:
    """The text is the site's name rather than a headline: in capitals, one of the head's
    site names, or printed in the banner, header or footer by an element that is not a
    heading, or by a heading when the head names nothing else (a portal's listing, contact
    and home pages have such a head)."""
    if text.isupper() and len(text.split()) >= 3:
        return True
    folded = text.casefold()
    if folded in titles.site_names:
        return True
    if element is None or not _in_site_region(element):
        return False
    # A heading in the page's header region may be the headline (Drupal prints it there); a
    # banner's <div> or <span> that agrees with the head only agrees with the site's name.
    return element.tag not in _HEADING_TAGS or titles.only_site_name(folded)


def _structural_candidates(body: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Headings and title-like elements of the body."""
    found: list[lxml.html.HtmlElement] = list(body.iter(*_HEADING_TAGS))
    seen = set(found)
    for el in body.xpath('.//*[@itemprop="headline" or @itemprop="name"]'):
        if el not in seen and el.tag != "meta":
            found.append(el)
            seen.add(el)
    for el in body.iter("div", "p", "span", "td", "a", "strong", "b", "font"):
        if el in seen or len(el) > 3:
            continue
        cls = f"{el.get('class', '')} {el.get('id', '')}"
        if cls.strip() and _TITLE_CLASS_RE.search(cls):
            found.append(el)
    return found


def _text_candidates(body: lxml.html.HtmlElement, titles: HeadTitles) -> list[lxml.html.HtmlElement]:
    """Elements whose text starts like one of the head's headlines (how table-built sites
    print the headline: in a <td>, a <font>, a <b>)."""
    starts = {h[:24].casefold() for h in titles.headlines if len(h) >= 16}
    if not starts:
        return []
    found: list[lxml.html.HtmlElement] = []
    for text_node in body.xpath(".//text()"):
        head = text_node.lstrip()[:60]
        if len(head) < 16 or _SPACE_RE.sub(" ", head)[:24].casefold() not in starts:
            continue
        el = text_node.getparent()
        if el is not None and el.tag not in ("script", "style", "title", "a") and el not in found:
            found.append(el)
    return found


def _best_agreeing(
    candidates: list[lxml.html.HtmlElement], titles: HeadTitles, refs: list[Counter[str]]
) -> tuple[lxml.html.HtmlElement | None, float]:
    best: tuple[float, int, int] | None = None
    chosen: lxml.html.HtmlElement | None = None
    for order, el in enumerate(candidates):
        raw = short_text(el, 300)
        if raw is None:
            continue
        text = TITLE_STAMP_RE.sub("", raw)
        if len(text) < 3 or text.casefold() in titles.site_names or is_trail(text):
            continue
        score = max((agreement(words(text), ref) for ref in refs), default=0.0)
        if score < MIN_AGREEMENT:
            continue
        rank = {"h1": 0, "h2": 1}.get(el.tag, 2)
        key = (round(score, 2), -rank, -order)
        if best is None or key > best:
            best, chosen = key, el
    return chosen, best[0] if best else 0.0


def find_headline(tree: lxml.html.HtmlElement) -> tuple[Headline | None, HeadTitles]:
    """The headline element whose words best agree with the head's headlines (an ``<h1>``
    before an ``<h2>`` before anything else when they agree as well), or the head's headline
    alone when no element agrees; None when the page has neither."""
    titles = head_titles(tree)
    refs = [words(h) for h in titles.headlines]
    body = tree.find("body")
    if body is None:
        return None, titles
    chosen, score = _best_agreeing(_structural_candidates(body), titles, refs) if refs else (None, 0.0)
    if chosen is None and refs:
        chosen, score = _best_agreeing(_text_candidates(body, titles), titles, refs)
    if chosen is not None:
        text = TITLE_STAMP_RE.sub("", text_of(chosen))
        found = Headline(text, chosen, score, names_site(text, chosen, titles))
        if not found.names_site:
            return found, titles
    above = _heading_above_text(tree)
    if above is not None:
        text = TITLE_STAMP_RE.sub("", text_of(above))
        return Headline(text, above, 0.0, names_site(text, above, titles)), titles
    if not refs:
        return None, titles
    return Headline(titles.headlines[0], None, 0.0, names_site(titles.headlines[0], None, titles)), titles


def _own_text_size(el: lxml.html.HtmlElement) -> int:
    """Characters of text an element holds itself (its text and its children's tails): a
    paragraph's size whether it is a <p> or loose text between <br>s."""
    return len((el.text or "").strip()) + sum(len((c.tail or "").strip()) for c in el)


def _is_heading_like(el: lxml.html.HtmlElement) -> bool:
    if el.tag in _HEADING_TAGS:
        return True
    if (
        el.tag in ("div", "p", "span", "td", "strong", "b")
        and len(el) <= 3
        and _TITLE_CLASS_RE.search(f"{el.get('class', '')} {el.get('id', '')}")
    ):
        return True
    if el.tag in ("b", "strong", "font"):
        # A bold line that is all its block holds (how table-built sites print a headline).
        parent = el.getparent()
        if parent is None or parent.tag not in ("td", "div", "p", "font") or text_of(parent) != text_of(el):
            return False
        # Not a cell of a table of figures (a row of several cells).
        return not el.xpath("ancestor::td[1][preceding-sibling::td or following-sibling::td]")
    return False


# Lines printed near a headline that are not one: bylines, weather, counters.
_NOT_HEADLINE_RE = re.compile(
    r"^(?:bài|ảnh|tin|bài và ảnh|bài, ảnh|tác giả|nguồn|theo)\s*[:,]|°|\d{1,2}/\d{1,2}/\d{4}", re.IGNORECASE
)


# "Phạm Thu Hằng - Trung tâm VH-TT&TT huyện", "Minh Hà (Trung tâm Truyền thông)": a byline.
_BYLINE_RE = re.compile(r"^(?:[A-ZĐÀ-Ỹ][a-zđà-ỹ]*\s+){1,4}[A-ZĐÀ-Ỹ][a-zđà-ỹ]*\s*(?:[-–]\s|\()")


def _could_be_headline(el: lxml.html.HtmlElement) -> bool:
    text = text_of(el)
    if not 4 <= len(text.split()) <= 40 or text.endswith((".", ":")) or _NOT_HEADLINE_RE.search(text):
        return False
    if re.match(r"(?:theo|nguồn)\b", text, re.IGNORECASE) and len(text.split()) <= 10:
        return False  # an attribution line, "Theo Ngọc Lan - Báo Ấp Bắc"
    if starts_with_box_heading(text) or is_furniture_line(text) or is_trail(text):
        return False
    if _BYLINE_RE.match(text):
        return False
    if el.xpath("ancestor::*[position() <= 2][.//input[@type='radio' or @type='checkbox']]"):
        return False  # a poll's question
    return not el.xpath(".//a[@href] | ancestor::a[@href]")


def _heading_above_text(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """When the head names no headline (its title is the site's name and a section): the
    heading or bold line (not a link, a byline, a box title, nor in the banner) followed by
    the most prose before the next such line: an article's text follows its headline."""
    body = tree.find("body")
    if body is None:
        return None
    current: lxml.html.HtmlElement | None = None
    followed: dict[lxml.html.HtmlElement, int] = {}
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in ("script", "style"):
            continue
        size = _own_text_size(el)
        if size < 150 and _is_heading_like(el) and _could_be_headline(el) and not _in_site_region(el):
            current = el
            followed.setdefault(el, 0)
        elif current is not None and size and el.tag != "a" and not el.xpath("ancestor::a | ancestor::select"):
            followed[current] += size
    if not followed:
        return None
    best = max(followed, key=lambda el: followed[el])
    return best if followed[best] >= 150 else None

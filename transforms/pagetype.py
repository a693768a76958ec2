"""Telling an article page from a listing, section, tag, search, home, contact or
organisation page.

The decision weighs evidence, each piece with a strength. The registry's ``article_urls``
are a strong prior: a page the portal's URL patterns call an article is rejected only on
strong evidence (no text at all, a page that is plainly a list of links to other
articles). Without that prior (a page of a portal nobody configured) any evidence rejects
it. Every piece of evidence is a sentence for the quarantine's reason.
"""

from __future__ import annotations

import re
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
        found.append(Evidence(f"{words} words"))
    title = meta.title or ""
    if title and _LISTING_TITLE_RE.match(title):
        found.append(Evidence(f"headline {title!r} names a listing"))
    if title and _PAGE_TITLE_RE.match(title):
        found.append(Evidence(f"headline {title!r} names a page, not an article"))
    # Section names are short ("Kinh tế - Xã hội"); a longer dated headline that a menu
    # also prints is a story the menu previews.
    title_words = len(re.findall(r"\w+", title))
    short_label = title_words <= 5 or (title_words <= 8 and meta.published is None)
    if title and meta.title_found and short_label and _is_menu_label(tree, title):
        found.append(Evidence("headline is a menu label"))
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
        found.append(Evidence("a contact page (addresses and phone numbers)"))
    if meta.published is None and sum(_TABLE_ROW in line for line in lines) >= max(3, 0.5 * len(lines)):
        found.append(Evidence("a table (names, posts and phone numbers), not prose, and no date"))
    return found


def decide(evidence: list[Evidence], *, expect_article: bool) -> Evidence | None:
    """The evidence that rejects the page, or None when it is taken for an article: with
    the URL prior only strong evidence counts."""
    for item in evidence:
        if item.strong or not expect_article:
            return item
    return None

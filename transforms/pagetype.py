"""Telling an article page from a listing, section, tag, home or contact page."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.html

from transforms.metadata import PageMeta
from transforms.page import text_of

_CONTACT_LINE_RE = re.compile(
    r"^(?:địa chỉ|điện thoại|đt|fax|email|e-mail|hotline|website|trụ sở|số tài khoản)\s*[:：]", re.IGNORECASE
)


def looks_like_contact_page(lines: list[str]) -> bool:
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
        if text_of(a) != text:
            continue
        if urljoin(url, a.get("href", "")).split("#")[0].rstrip("/") != here:
            return True
        if a.xpath(
            'ancestor::nav or ancestor::*[contains(@class, "menu") or contains(@id, "menu")'
            ' or contains(@class, "nav") or contains(@id, "nav")]'
        ):
            return True  # the menu's own entry for this page: a section page
    return False


def listing_evidence(tree: lxml.html.HtmlElement, url: str, meta: PageMeta, lines: list[str]) -> str | None:
    """Why the page reads as a listing, tag, search or home page (teasers of other
    articles, not one article), or None when nothing says so."""
    if urlsplit(url).path in ("", "/") and not urlsplit(url).query:
        return "the portal's home page"
    if meta.title and _LISTING_TITLE_RE.match(meta.title):
        return f"headline {meta.title!r} names a listing"
    if meta.title and len(meta.title.split()) <= 8 and _is_link_label(tree, url, meta.title):
        return "headline is a menu label"  # the "headline" is a section name from the menu
    headline_links = {
        a.get("href")
        for a in tree.xpath("//h2//a[@href] | //h3//a[@href] | //h4//a[@href]")
        if len(text_of(a).split()) >= 4
    }
    if not meta.title_found and len(headline_links) >= 3:
        return f"no headline element and {len(headline_links)} linked headlines"
    dates = {t.get("datetime", "")[:10] for t in tree.xpath("//time[@datetime]")}
    if len(tree.xpath("//article")) >= 2 and len(dates) >= 2 and len(headline_links) >= 2:
        return f"{len(tree.xpath('//article'))} dated <article> teasers"
    headlines = {text_of(a) for a in tree.xpath("//a") if len(text_of(a).split()) >= 4}
    linked = sum(len(line) for line in lines if line in headlines)
    total = max(sum(len(line) for line in lines), 1)
    if linked > 0.3 * total:
        return f"{linked / total:.0%} of the text is links to other pages"
    return None

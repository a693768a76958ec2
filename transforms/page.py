"""The parsed page and the small DOM helpers the extraction modules share."""

from __future__ import annotations

import re
import unicodedata

import lxml.etree
import lxml.html

from transforms.legacy import decode_page
from transforms.text import decode_html, fold


def class_words(el: lxml.html.HtmlElement) -> set[str]:
    value = f"{el.get('class', '')} {el.get('id', '')}".lower()
    return set(re.findall(r"[a-z]+", value)) | {re.sub(r"[^a-z]", "", p) for p in value.split()}


# What :func:`transforms.text.fold` folds, less the NFC step: a parsed page is NFC already.
_SPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")


def text_of(el: lxml.html.HtmlElement) -> str:
    """An element's text, white space folded (the page is NFC from :func:`parse_page`)."""
    return _SPACE_RE.sub(" ", el.text_content()).strip()


def short_text(el: lxml.html.HtmlElement, limit: int) -> str | None:
    """:func:`text_of` for an element whose text is at most ``limit`` characters, else None,
    without reading the whole text of a big element (a page's column, the whole body)."""
    pieces: list[str] = []
    size = 0
    for piece in el.itertext():
        size += len(piece.strip())
        if size > limit:
            return None
        pieces.append(piece)
    text = _SPACE_RE.sub(" ", "".join(pieces)).strip()
    return text if len(text) <= limit else None


def has_text(el: lxml.html.HtmlElement) -> bool:
    """The element holds some text (stops at the first piece)."""
    return any(piece.strip() for piece in el.itertext())


def parse_page(html: bytes | str, charset: str | None = None) -> lxml.html.HtmlElement | None:
    text = decode_html(html, charset) if isinstance(html, bytes) else html
    # One form for every page: windows-1258 decodes to combining marks, some CMSs store NFD.
    text = unicodedata.normalize("NFC", re.sub(r"^\s*<\?xml[^>]*\?>", "", text))
    if not text.strip():
        return None
    try:
        tree = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None
    decode_page(tree, text)  # TCVN3 / VNI text to Unicode; the root records which it was
    return tree


# -- metadata ---------------------------------------------------------------------------
def meta_content(tree: lxml.html.HtmlElement, *names: str) -> str | None:
    for name in names:
        for el in tree.xpath(f'//meta[@property="{name}" or @name="{name}" or @itemprop="{name}"]'):
            content = fold(el.get("content", ""))
            if content:
                return content
    return None


def drop(el: lxml.html.HtmlElement) -> None:
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


def has_prose(el: lxml.html.HtmlElement) -> bool:
    """True when an element holds a run of text longer than a headline or a link."""
    return any(len(t) > 160 and len(_SPACE_RE.sub(" ", t).strip()) > 160 for t in el.itertext())


# -- furniture --------------------------------------------------------------------------
def content_mass(el: lxml.html.HtmlElement) -> int:
    return sum(len(text_of(p)) for p in el.iter("p"))


def first_text(el: lxml.html.HtmlElement) -> str:
    for text in el.itertext():
        if text.strip():
            return _SPACE_RE.sub(" ", text).strip()
    return ""

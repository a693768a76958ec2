"""Text normalisation: Unicode NFC, folded white space, paragraphs as lines, decoding."""

from __future__ import annotations

import re
import unicodedata

_SPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_-]+)""", re.I)

# Vietnamese legacy code page names browsers accept, mapped to Python's codec names.
_CHARSET_ALIASES = {"windows-1258": "cp1258", "x-cp1258": "cp1258", "utf8": "utf-8"}


def fold(text: str) -> str:
    """NFC, every run of white space (no-break spaces included) as one space, trimmed."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def paragraphs(text: str) -> list[str]:
    """Non-empty, folded lines of a text."""
    return [p for p in (fold(line) for line in text.splitlines()) if p]


def declared_charset(html: bytes) -> str | None:
    """The charset a page declares in its first bytes (``<meta charset>``), if any."""
    match = _META_CHARSET_RE.search(html[:4096])
    if not match:
        return None
    name = match.group(1).decode("ascii", "ignore").lower()
    return _CHARSET_ALIASES.get(name, name)


def decode_html(html: bytes, header_charset: str | None = None) -> str:
    """Decode a page: UTF-8 when it is valid UTF-8, else the declared charset, else cp1258.

    Strict UTF-8 first because many portals declare one charset and serve another; a
    page that decodes as UTF-8 without error almost never is anything else.
    """
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = [n for n in (header_charset, declared_charset(html)) if n]
    if not declared:
        # Undeclared and not UTF-8: windows-1258, unless it reads as a legacy font encoding
        # (TCVN3, VNI) in a Western code page, where it must stay so to be recognised.
        western = html.decode("cp1252", errors="replace")
        if legacy_encoding(western):
            return western
    for name in (*declared, "cp1258"):
        if not name:
            continue
        name = _CHARSET_ALIASES.get(name.lower(), name.lower())
        try:
            return html.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return html.decode("utf-8", errors="replace")


# Letters only Unicode Vietnamese has (precomposed with tone or vowel marks).
_VIETNAMESE_RE = re.compile(r"[ăđơưĂĐƠƯ\u1ea0-\u1ef9]")
# Glyphs that TCVN3 (ABC) fonts put where Vietnamese letters should be, as a page read
# with a Western code page shows them ("Th«ng tin ®iÖn tö", "quËn", "nghÞ"): symbols, or
# capitals inside a lower-case word, which no Western language writes.
_TCVN3_RE = re.compile(r"[¸µ¶·¹¨»¾¼½©®ª«¬\xad]|(?<=[a-z])[ÆÇÈÉÊËÌÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞ]")
# VNI fonts write a tone or vowel mark as its own glyph after the vowel ("Vieät Nam",
# "ñieän töû").
_VNI_RE = re.compile(r"(?i)[aeiouy][øùûõïåä]|[aeo][áàã](?=[a-z]|\b)|\bñ[aeiou]")
_LETTER_RE = re.compile(r"[^\W\d_]")


def legacy_encoding(text: str) -> str | None:
    """``"tcvn3"`` or ``"vni"`` when a text is Vietnamese typed in a legacy font encoding
    (it reads as mojibake in Unicode), else None."""
    letters = len(_LETTER_RE.findall(text))
    if letters < 40 or len(_VIETNAMESE_RE.findall(text)) > 0.02 * letters:
        return None
    words = max(len(text.split()), 1)
    vni = len(_VNI_RE.findall(text)) / words
    tcvn3 = len(_TCVN3_RE.findall(text)) / words
    if max(vni, tcvn3) < 0.15:
        return None
    return "vni" if vni >= tcvn3 else "tcvn3"

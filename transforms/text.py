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
    for name in (header_charset, declared_charset(html), "cp1258"):
        if not name:
            continue
        name = _CHARSET_ALIASES.get(name.lower(), name.lower())
        try:
            return html.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return html.decode("utf-8", errors="replace")

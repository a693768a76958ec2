"""Text normalisation: Unicode NFC, folded white space, paragraphs as lines, decoding.

:func:`legacy_encoding` (from :mod:`kernel.legacy`) says whether a text is typed in the TCVN3
or VNI font encodings."""

from __future__ import annotations

import re
import unicodedata

from kernel.legacy import legacy_encoding as legacy_encoding  # the name callers import from here

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
    page that decodes as UTF-8 without error almost never is anything else. A page typed in
    a legacy font encoding (TCVN3, VNI) is returned as a Western code page shows it, the
    form :mod:`transforms.legacy` decodes, whatever Latin code page it declares.
    """
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = [_CHARSET_ALIASES.get(n.lower(), n.lower()) for n in (header_charset, declared_charset(html)) if n]
    if all(name in _LATIN_CHARSETS for name in declared):
        # Not through cp1258 even when declared: it differs from windows-1252 on 13 of the
        # bytes the legacy fonts draw as letters, five of them combining tone marks that NFC
        # would then merge with the letter before.
        western = html.decode("latin-1").translate(_CP1252_FOR_C1)
        if legacy_encoding(western):
            return western
    for name in (*declared, "cp1258"):
        try:
            return html.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return html.decode("utf-8", errors="replace")


# Charsets a page typed in a legacy font encoding may declare: the fonts need the bytes to
# reach them unchanged, which any of these single-byte Latin code pages (or none) gives.
_LATIN_CHARSETS = frozenset(
    {"iso-8859-1", "latin-1", "latin1", "l1", "windows-1252", "cp1252", "us-ascii", "ascii", "cp1258", "utf-8"}
)
# windows-1252's characters for the bytes 0x80-0x9F (Latin-1 has C1 controls there), so that
# one translation gives windows-1252 with the five bytes it leaves undefined kept as Latin-1.
_CP1252_FOR_C1 = {code: ch for code in range(0x80, 0xA0) if (ch := bytes([code]).decode("cp1252", errors="ignore"))}

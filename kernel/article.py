"""The article record, the record of a page that is not one (:class:`Rejection`), and the
stable identity of an article: its canonical URL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that never change which article a URL points to.
_TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "zarsrc", "zlsid", "_ga")


def canonical_url(url: str) -> str:
    """The URL that names an article: https, lower-case host without ``www.`` and default
    port, no fragment, no tracking parameters, remaining query parameters sorted."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith(_TRACKING_PARAMS)
    )
    path = parts.path or "/"
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


def article_id(url: str) -> str:
    """A stable 16-hex-digit id derived from the canonical URL (http and https agree)."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Rejection:
    """Why the extractor did not return an article for a page: ``"not_article: 40 words"``,
    ``"not_article: headline is a menu label"``. The part before the colon is the kind of
    rejection; the rest is the evidence, for people to read."""

    reason: str

    @property
    def kind(self) -> str:
        return self.reason.split(":", 1)[0]


@dataclass
class Article:
    """One article as the extractor returns it."""

    url: str
    title: str
    body: str  # paragraphs joined with "\n"
    published_at: datetime | None = None  # timezone-aware, Asia/Ho_Chi_Minh
    author: str | None = None
    source: str | None = None
    category: str | None = None
    kicker: str | None = None
    view_count: int | None = None
    language: str = "vi"
    # "tcvn3" or "vni" when the page was typed in a legacy Vietnamese font encoding; the
    # extractor decodes its text to Unicode, and validation holds back what it could not.
    legacy_encoding: str | None = None

    @property
    def article_id(self) -> str:
        return article_id(self.url)

    @property
    def paragraphs(self) -> list[str]:
        return self.body.split("\n") if self.body else []

    @property
    def word_count(self) -> int:
        return len(self.body.split())

    def content_hash(self) -> str:
        """A hash of what a reader sees: changes when the article is revised."""
        digest = hashlib.sha256()
        for part in (self.title, self.kicker or "", self.body, self.author or "", self.source or ""):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        return digest.hexdigest()[:32]

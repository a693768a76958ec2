"""Raw page -> article record: extraction, cleaning, metadata, normalisation.

Pure functions from bytes to records; nothing here fetches or stores.
"""

from __future__ import annotations

from transforms.article import Article, article_id, canonical_url
from transforms.extract import extract_article

__all__ = ["Article", "article_id", "canonical_url", "extract_article"]

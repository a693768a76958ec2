"""Raw page -> article record: extraction, cleaning, metadata, normalisation.

Pure functions from bytes to records; nothing here fetches or stores.
"""

from __future__ import annotations

from transforms.extract import extract_article, extract_page

__all__ = ["extract_article", "extract_page"]

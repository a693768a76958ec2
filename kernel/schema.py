"""The article record's columns: the ``articles`` dataset's schema, the extracted batches'
and the quarantine's, the partition an article belongs to, and how an
:class:`~kernel.article.Article` (or a page the extractor rejected) becomes a row.

One definition for everyone: the extract step writes batches with it, validation checks
batches against it (the GX suite's schema expectations are built from it), publish writes the
dataset with it, and the README's column table describes it.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from kernel.article import Article, article_id, canonical_url
from kernel.timestamps import VN_TZ

EXTRACTOR_VERSION = "0.1.0"
PARTITION = "published_month"
UNDATED = "undated"

ARTICLE_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("site", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("kicker", pa.string()),
        pa.field("category", pa.string()),
        pa.field("published_at", pa.timestamp("us", tz="Asia/Ho_Chi_Minh")),
        pa.field("author", pa.string()),
        pa.field("source", pa.string()),
        pa.field("body", pa.string(), nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("view_count", pa.int64()),
        pa.field("language", pa.string(), nullable=False),
        pa.field("legacy_encoding", pa.string()),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("extractor_version", pa.string(), nullable=False),
    ]
)


def article_row(article: Article, site: str, fetched_at: datetime, extracted_at: datetime) -> dict[str, object]:
    """One dataset row for an extracted article."""
    return {
        "article_id": article_id(article.url),
        "site": site,
        "url": article.url,
        "canonical_url": canonical_url(article.url),
        "title": article.title,
        "kicker": article.kicker,
        "category": article.category,
        "published_at": article.published_at,
        "author": article.author,
        "source": article.source,
        "body": article.body,
        "word_count": article.word_count,
        "view_count": article.view_count,
        "language": article.language,
        "legacy_encoding": article.legacy_encoding,
        "content_hash": article.content_hash(),
        "fetched_at": fetched_at,
        "extracted_at": extracted_at,
        "extractor_version": EXTRACTOR_VERSION,
    }


def partition_of(published_at: datetime | None) -> str:
    if published_at is None:
        return UNDATED
    local = published_at.astimezone(VN_TZ)
    return f"{local.year:04d}-{local.month:02d}"  # strftime("%Y") does not pad years below 1000


# The articles columns, every one nullable: a row may be held back for a missing value.
QUARANTINED_ARTICLE_SCHEMA = pa.schema([f.with_nullable(True) for f in ARTICLE_SCHEMA])

# Why the extractor did not make an article of an article page ("not_article: 40 words",
# "extraction_failed: no result within 20 s"); null for an article.
REJECTION = pa.field("rejection", pa.string())

# An extracted batch: one row per article page of a crawl. A page the extractor rejected has
# its identity (article_id, site, url, canonical_url, fetched_at, extracted_at,
# extractor_version) and its ``rejection``; every other column is null.
EXTRACTED_SCHEMA = pa.schema([*QUARANTINED_ARTICLE_SCHEMA, REJECTION])


def rejected_row(url: str, site: str, reason: str, fetched_at: datetime, extracted_at: datetime) -> dict[str, object]:
    """The batch row of an article page the extractor rejected or could not extract."""
    return {
        "article_id": article_id(url),
        "site": site,
        "url": url,
        "canonical_url": canonical_url(url),
        "fetched_at": fetched_at,
        "extracted_at": extracted_at,
        "extractor_version": EXTRACTOR_VERSION,
        "rejection": reason,
    }


QUARANTINE_SCHEMA = pa.schema(
    [
        *QUARANTINED_ARTICLE_SCHEMA,
        REJECTION,
        pa.field("failed_expectations", pa.list_(pa.string()), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("validated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

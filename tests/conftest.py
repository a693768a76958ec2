"""Shared fixtures: the bundled registry, the offline mirror, the gold set."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kernel.registry import Site, load_registry
from pipeline.mirror import MIRROR_DIR, MirrorServer, mirror_file

# The tests validate with GX's COMPLETE result format (production uses SUMMARY);
# tests/test_gate.py checks that both give the same verdicts.
os.environ.setdefault("VNPORTALS_VALIDATION_RESULT_FORMAT", "COMPLETE")

FIXTURES = Path(__file__).parent / "fixtures"
GOLD_DIR = FIXTURES / "gold"


@dataclass(frozen=True)
class GoldArticle:
    site: str
    name: str
    data: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.data["url"])

    def html(self) -> bytes:
        return page_bytes(self.url)


def page_bytes(url: str) -> bytes:
    """The mirror file that answers a URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    path = mirror_file(MIRROR_DIR, parts.hostname or "", target)
    assert path is not None, f"no mirror file for {url}"
    return path.read_bytes()


def bundled_sites() -> dict[str, Site]:
    return load_registry()


def gold_articles(site: str | None = None) -> list[GoldArticle]:
    found = []
    for path in sorted(GOLD_DIR.glob("*/*.json")):
        if path.name.startswith("_"):
            continue
        if site is not None and path.parent.name != site:
            continue
        found.append(GoldArticle(path.parent.name, path.stem, json.loads(path.read_text("utf-8"))))
    return found


def site_pages(site: str) -> dict[str, list[str]]:
    return dict(json.loads((GOLD_DIR / site / "_site.json").read_text("utf-8")))


@pytest.fixture(scope="session")
def mirror() -> Iterator[MirrorServer]:
    with MirrorServer(MIRROR_DIR) as server:
        yield server

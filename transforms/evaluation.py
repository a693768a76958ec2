"""Scoring extraction against the gold set: token precision, recall and F1 of the body,
furniture leaks, and metadata accuracy. Used by the quality-floor tests and the benchmark.

Gold files are JSON in the seeds' format (``tests/fixtures/README.md``); each names the URL
it was made for, and the offline mirror holds the page.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TOKEN_RE = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Word tokens, NFC and case-folded."""
    return _TOKEN_RE.findall(unicodedata.normalize("NFC", text).casefold())


@dataclass(frozen=True)
class TokenScore:
    precision: float
    recall: float
    f1: float


def token_score(got: str, want: str) -> TokenScore:
    """Bag-of-tokens precision, recall and F1 of an extracted body against the gold body."""
    g, w = Counter(tokens(got)), Counter(tokens(want))
    overlap = sum((g & w).values())
    if not overlap:
        return TokenScore(0.0, 0.0, 0.0)
    precision, recall = overlap / sum(g.values()), overlap / sum(w.values())
    return TokenScore(precision, recall, 2 * precision * recall / (precision + recall))


@dataclass(frozen=True)
class Gold:
    """One gold article."""

    site: str
    name: str
    data: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.data["url"])

    @property
    def body(self) -> str:
        return "\n".join(self.data["body"])

    def leaks(self, body: str) -> list[str]:
        return [phrase for phrase in self.data.get("must_not_contain", []) if phrase in body]


def load_gold(folder: Path) -> list[Gold]:
    """Every ``<site>/<name>.json`` under a gold folder (``_*.json`` are not articles)."""
    return [
        Gold(path.parent.name, path.stem, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*/*.json"))
        if not path.name.startswith("_")
    ]

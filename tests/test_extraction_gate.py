"""The extraction quality gate: scores on every page set may not fall below the floors in
``tests/extraction_baseline.json``, the corpus may not change without the baseline being
re-recorded, and on ScrapingHub extract_page is at least as good as plain trafilatura
measured in the same run.

Re-record after a corpus change or an improvement: ``uv run python bench/extract.py --record``
(it refuses to lower a floor unless given ``--allow-lower``).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trafilatura

from pipeline.mirror import MIRROR_DIR, mirror_file
from transforms.evaluation import (
    EPSILON,
    Page,
    corpus_pins,
    extract_page_runner,
    gate_failures,
    gate_measure,
    load_sets,
    run_set,
    token_score,
)

TESTS = Path(__file__).parent
BASELINE = TESTS / "extraction_baseline.json"
RECORD = "uv run python bench/extract.py --record"

pytestmark = pytest.mark.slow  # about half a minute: every page set, both ways of calling


def page_for(url: str) -> bytes:
    parts = urlsplit(url)
    path = mirror_file(MIRROR_DIR, parts.hostname or "", parts.path + ("?" + parts.query if parts.query else ""))
    assert path is not None, f"{url}: no page in the offline mirror"
    return path.read_bytes()


@pytest.fixture(scope="module")
def sets() -> dict[str, list[Page]]:
    return load_sets(TESTS, page_for)


@pytest.fixture(scope="module")
def baseline() -> dict[str, object]:
    return dict(json.loads(BASELINE.read_text(encoding="utf-8")))


def test_the_corpus_is_the_one_the_floors_were_recorded_on(
    sets: dict[str, list[Page]], baseline: dict[str, object]
) -> None:
    pinned = baseline["corpus"]
    measured = corpus_pins(sets)
    changed = [name for name in measured if measured[name] != pinned.get(name)]  # type: ignore[attr-defined]
    assert not changed, f"page sets changed since the baseline was recorded: {changed}; re-record with `{RECORD}`"


def test_no_score_falls_below_its_floor(sets: dict[str, list[Page]], baseline: dict[str, object]) -> None:
    failures = gate_failures(gate_measure(sets), baseline["floors"])  # type: ignore[arg-type]
    assert not failures, "\n".join(failures)


def test_scrapinghub_at_least_plain_trafilatura_in_the_same_run(sets: dict[str, list[Page]]) -> None:
    pages = sets["scrapinghub"]
    plain = statistics.mean(token_score(trafilatura.extract(p.html, url=p.url) or "", p.body).f1 for p in pages)
    for configured in (True, False):
        score, _ = run_set(extract_page_runner(configured=configured), pages)
        assert score.mean_f1 >= plain - EPSILON, (
            f"configured={configured}: {score.mean_f1:.4f} < trafilatura {plain:.4f}"
        )
        assert score.rejected <= 1, f"configured={configured}: {score.rejected} articles rejected: {score.reasons}"

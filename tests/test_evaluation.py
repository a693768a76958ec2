"""The scoring harness and the gate's baseline logic, on small made-up figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transforms.evaluation import (
    Output,
    Page,
    SetScore,
    gate_failures,
    pages_digest,
    record_baseline,
    score_page,
    snippet_counts,
    snippet_f1,
    token_score,
)


def test_token_score_is_a_bag_of_case_folded_words() -> None:
    assert token_score("Hà Nội hôm nay", "hà nội hôm nay").f1 == 1.0
    half = token_score("a b", "a b c d")
    assert (half.precision, half.recall) == (1.0, 0.5)
    assert token_score("", "a").f1 == 0.0


def test_a_rejected_article_scores_zero_and_is_counted() -> None:
    score = SetScore()
    page = Page("f", "p", "https://x.vn/a", b"", body="một hai ba", must_not_contain=("Tin đọc nhiều",))
    score_page(score, page, Output("", rejected="not_article: 3 words"))
    score_page(score, page, Output("một hai ba Tin đọc nhiều"))
    assert score.f1[0] == 0.0 and score.rejected == 1 and score.leaked == 1
    assert score.reasons == {"not_article: N words": 1}


def test_a_not_article_counts_as_rejected_when_refused_or_empty() -> None:
    score = SetScore()
    page = Page("f", "listing", "https://x.vn/tin-tuc", b"", kind="not_article")
    score_page(score, page, Output("", rejected="not_article: 90% of the text is links to other pages"))
    score_page(score, page, Output("some text"))
    assert (score.not_articles, score.not_articles_rejected, score.articles) == (2, 1, 0)


def test_snippets_are_matched_with_white_space_folded() -> None:
    assert snippet_counts("a  b\nc", ["a b c", "x"], ["c", "y"]) == (1, 1, 1, 1)
    assert snippet_counts(None, ["a"], ["b"]) == (0, 0, 1, 1)
    assert snippet_f1([(1, 1, 1, 1)]) == (0.5, 0.5, 0.5)


def test_the_digest_changes_with_a_gold_answer_or_a_page() -> None:
    page = Page("f", "p", "https://x.vn/a", b"<html>", body="x")
    assert pages_digest([page]) != pages_digest([Page("f", "p", "https://x.vn/a", b"<html>", body="y")])
    assert pages_digest([page]) != pages_digest([Page("f", "p", "https://x.vn/a", b"<html> ", body="x")])


def test_floors_and_ceilings() -> None:
    floors = {"tuning/config": {"f1": 0.99, "leak_rate": 0.0}}
    assert gate_failures({"tuning/config": {"f1": 0.995, "leak_rate": 0.0}}, floors) == []
    failures = gate_failures({"tuning/config": {"f1": 0.98, "leak_rate": 0.1}}, floors)
    assert len(failures) == 2 and "below its floor" in failures[0] and "above its ceiling" in failures[1]
    assert gate_failures({}, floors) == [
        "tuning/config: f1 not measured (pinned 0.99)",
        "tuning/config: leak_rate not measured (pinned 0.0)",
    ]


def test_recording_refuses_to_lower_a_floor_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    corpus = {"tuning": {"pages": 1, "sha256": "a"}}
    assert record_baseline(path, {"s": {"f1": 0.9}}, corpus, allow_lower=False) == []
    new_corpus = {"tuning": {"pages": 2, "sha256": "b"}}
    lowered = record_baseline(path, {"s": {"f1": 0.8}}, new_corpus, allow_lower=False)
    saved = json.loads(path.read_text())
    assert lowered and saved["floors"] == {"s": {"f1": 0.9}} and saved["corpus"] == new_corpus
    assert record_baseline(path, {"s": {"f1": 0.8}}, new_corpus, allow_lower=True) == []
    assert json.loads(path.read_text())["floors"] == {"s": {"f1": 0.8}}


@pytest.mark.parametrize("value", [0.9, 0.95])
def test_raising_a_floor_is_always_allowed(tmp_path: Path, value: float) -> None:
    path = tmp_path / "baseline.json"
    record_baseline(path, {"s": {"f1": 0.85}}, {}, allow_lower=False)
    assert record_baseline(path, {"s": {"f1": value}}, {}, allow_lower=False) == []
    assert json.loads(path.read_text())["floors"]["s"]["f1"] == value

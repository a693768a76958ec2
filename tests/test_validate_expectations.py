"""Every expectation of both suites, with a small good and a small bad example, through real
Great Expectations: a batch of good Long Biên articles plus one row made bad one way must
quarantine exactly that row for exactly that expectation; batch-level expectations fail the
batch with a sentence and example rows. A last test checks that no expectation in the suite
files goes without a case here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from expectations.columns import (
    DERIVED_COLUMNS,
    double_encoding,
    furniture_phrases,
    legacy_mojibake,
    vietnamese_letter_share,
    with_derived_columns,
)
from expectations.gate import QualityGate, to_pandas
from expectations.suites import ARTICLE, PORTAL_BATCH, batch_parameters, expectation_names, suite_definition
from expectations.verdict import Verdict
from kernel.furniture import FURNITURE_PHRASES
from kernel.legacy import encode
from kernel.registry import Site
from kernel.schema import ARTICLE_SCHEMA
from kernel.timestamps import VN_TZ
from tests.conftest import gold_articles
from tests.support.validation_batches import (
    ENGLISH,
    PARAGRAPHS,
    RUN,
    RUN_TIME,
    Row,
    batch,
    double_encoded,
    good_row,
    good_rows,
    longbien,
    with_body,
)

BODY = "\n".join(PARAGRAPHS)
TCVN3_LINE = encode("Thông tin điện tử của quận được cập nhật thường xuyên.", "tcvn3")
REQUIRED = (
    "article_id",
    "site",
    "canonical_url",
    "word_count",
    "language",
    "content_hash",
    "fetched_at",
    "extracted_at",
    "extractor_version",
)

Change = Callable[[Row], Row]

# name -> ways to break one row for that expectation alone
BAD_ROWS: dict[str, list[tuple[str, Change]]] = {
    "url_not_null": [("null", lambda r: {**r, "url": None})],
    "title_not_null": [("null", lambda r: {**r, "title": None})],
    "body_not_null": [("null", lambda r: {**r, "body": None})],
    "published_at_not_null": [("null", lambda r: {**r, "published_at": None})],
    **{f"{c}_not_null": [("null", lambda r, c=c: {**r, c: None})] for c in REQUIRED},  # type: ignore[misc]
    "site_is_portal": [("other portal", lambda r: {**r, "site": "uongbi"})],
    "body_length": [
        ("four words", lambda r: with_body(r, "Tin ngắn về hội nghị.")),
        ("whole page", lambda r: with_body(r, " ".join(["chỉnh trang"] * 10_001))),
    ],
    "published_at_in_range": [
        ("1994", lambda r: {**r, "published_at": datetime(1994, 12, 31, 23, 0, tzinfo=VN_TZ)}),
        ("after the run", lambda r: {**r, "published_at": RUN_TIME + timedelta(days=1, minutes=1)}),
    ],
    "text_is_vietnamese": [
        ("english", lambda r: with_body({**r, "title": "District renovates twelve gardens"}, ENGLISH)),
    ],
    "body_no_furniture": [
        (phrase, lambda r, p=phrase: with_body(r, f"{BODY}\n{p} 1.234"))  # type: ignore[misc]
        for phrase in ("Lượt xem:", "Chia sẻ Zalo", "Tin đọc nhiều", "Họ tên:(*)")
    ],
    "not_legacy_encoded": [
        ("tcvn3 line left undecoded", lambda r: with_body({**r, "legacy_encoding": "tcvn3"}, f"{BODY}\n{TCVN3_LINE}")),
        ("vni title left undecoded", lambda r: {**r, "title": encode(str(r["title"]), "vni")}),
    ],
    "not_double_encoded": [
        ("cp1252 body line", lambda r: with_body(r, f"{BODY}\n{double_encoded('Điện lực quận Long Biên')}")),
        ("cp1252 title", lambda r: {**r, "title": double_encoded(str(r["title"]))}),
        ("replacement char", lambda r: with_body(r, BODY.replace("đô thị", "\ufffd\ufffd thị"))),
    ],
    "title_not_portal_name": [
        ("exact", lambda r: {**r, "title": "Cổng thông tin điện tử quận Long Biên"}),
        ("case and spaces", lambda r: {**r, "title": "  CỔNG THÔNG TIN ĐIỆN TỬ   quận Long Biên "}),
    ],
    "url_on_portal_domains": [
        ("foreign host", lambda r: {**r, "url": "https://baomoi.com/quan-long-bien/c/12345.epi"}),
        ("look-alike host", lambda r: {**r, "url": "https://longbien.hanoi.gov.vn.example.com/tin.htm"}),
        ("user-info trick", lambda r: {**r, "url": "https://longbien.hanoi.gov.vn@example.com/tin.htm"}),
        ("not http", lambda r: {**r, "url": "ftp://longbien.hanoi.gov.vn/tin.htm"}),
    ],
}

# Rows near the edge that must pass every expectation.
GOOD_ROWS: list[tuple[str, Change]] = [
    ("subdomain, http, port", lambda r: {**r, "url": "http://www.longbien.hanoi.gov.vn:8080/tin-1.htm"}),
    ("title mentions the portal", lambda r: {**r, "title": "Cổng thông tin điện tử quận Long Biên có giao diện mới"}),
    ("exactly min words", lambda r: with_body(r, " ".join(["Ủy ban nhân dân quận"] * 4))),
    ("first day of 1995", lambda r: {**r, "published_at": datetime(1995, 1, 1, 0, 0, tzinfo=VN_TZ)}),
    ("later on the day after the run", lambda r: {**r, "published_at": RUN_TIME + timedelta(hours=23)}),
    ("'lượt xem' in prose", lambda r: with_body(r, f"{BODY}\nVideo về lễ hội đã đạt hơn một triệu lượt xem.")),
    ("capitals and abbreviations", lambda r: with_body(r, f"{BODY}\nNGÃ BA CẦU CHUI, UBND, HĐND, COVID-19, WHO.")),
    ("quotes and guillemets", lambda r: with_body(r, f"{BODY}\nÔng nói: «Đã xong việc» và “sẽ làm tiếp”.")),
    ("typed in tcvn3, decoded", lambda r: {**r, "legacy_encoding": "tcvn3"}),
    ("typed in vni, decoded", lambda r: {**r, "legacy_encoding": "vni"}),
    ("french quotation", lambda r: with_body(r, f"{BODY}\nLe maire a déclaré: « Où est né le projet? À côté. »")),
]


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> QualityGate:
    return QualityGate(RUN, RUN_TIME, tmp_path_factory.mktemp("gate"))


def check(gate: QualityGate, rows: list[Row], site: Site | None = None, min_articles: int = 0) -> Verdict:
    return gate.check(site or longbien(), batch(rows), min_articles=min_articles, count_context="test")


def test_good_rows_pass_every_expectation(gate: QualityGate) -> None:
    rows = good_rows(6) + [change(good_row(10 + i)) for i, (_, change) in enumerate(GOOD_ROWS)]
    verdict = check(gate, rows)
    assert verdict.ok, [f.line() for f in verdict.batch_failures]
    failing = {GOOD_ROWS[i - 6][0]: names for i, names in enumerate(verdict.row_failures) if names}
    assert failing == {}


BAD_CASES = [(name, how, change) for name, cases in BAD_ROWS.items() for how, change in cases]


@pytest.fixture(scope="module")
def bad_rows_verdict(gate: QualityGate) -> Verdict:
    """One batch: good rows, then each bad row once (one GX run for all the cases)."""
    return check(gate, [*good_rows(40), *(change(good_row(100 + i)) for i, (_, _, change) in enumerate(BAD_CASES))])


@pytest.mark.parametrize(
    ("case", "name"), [pytest.param(i, n, id=f"{n}-{how}") for i, (n, how, _) in enumerate(BAD_CASES)]
)
def test_a_bad_row_fails_exactly_its_expectation(bad_rows_verdict: Verdict, case: int, name: str) -> None:
    assert bad_rows_verdict.ok, [f.line() for f in bad_rows_verdict.batch_failures]
    assert bad_rows_verdict.failed_expectations(40 + case) == [name]


def test_good_rows_beside_bad_ones_pass(bad_rows_verdict: Verdict) -> None:
    assert bad_rows_verdict.row_failures[:40] == [[]] * 40


def test_duplicate_ids_hold_back_every_copy(gate: QualityGate) -> None:
    rows = [*good_rows(5), {**good_row(0), "fetched_at": RUN_TIME}]
    verdict = check(gate, rows)
    assert verdict.row_failures == [["article_id_unique"], [], [], [], [], ["article_id_unique"]]


def test_a_tcvn3_article_is_mojibake_twice_over(gate: QualityGate) -> None:
    tcvn3 = (
        "Uû ban nh©n d©n quËn Long Biªn tæ chøc héi nghÞ tæng kÕt c«ng t¸c n¨m 2023 vµ triÓn khai nhiÖm vô n¨m 2024."
    )
    row = {**with_body(good_row(1), "\n".join([tcvn3] * 3)), "title": "Héi nghÞ tæng kÕt", "legacy_encoding": "tcvn3"}
    verdict = check(gate, [*good_rows(6, start=10), row])
    assert sorted(verdict.row_failures[6]) == ["not_legacy_encoded", "text_is_vietnamese"]


# -- batch level ----------------------------------------------------------------------------
def batch_failures(verdict: Verdict) -> dict[str, list[str]]:
    return {f.name: f.examples for f in verdict.batch_failures}


def test_article_count_against_recent_runs(gate: QualityGate) -> None:
    assert check(gate, good_rows(1), min_articles=1).ok
    empty = check(gate, [], min_articles=2)
    assert list(batch_failures(empty)) == ["article_count"]
    assert "0 articles, at least 2 expected" in empty.batch_failures[0].detail


def test_undated_share(gate: QualityGate) -> None:
    one = [{**good_row(0), "published_at": None}, *good_rows(5, start=1)]  # 1 of 6: 17%
    assert check(gate, one).ok
    two = [{**r, "published_at": None} if r["title"].endswith(("0", "1")) else r for r in good_rows(6)]
    verdict = check(gate, two)
    assert list(batch_failures(verdict)) == ["dated_share"]
    failure = verdict.batch_failures[0]
    assert "2 of 6 articles have no date (33%; at most 20% allowed)" in failure.detail
    assert [e.split()[0] for e in failure.examples] == [str(two[0]["url"]), str(two[1]["url"])]
    assert check(gate, two, site=longbien(max_undated_share=0.5)).ok


def test_empty_body_share(gate: QualityGate) -> None:
    empty = with_body(good_row(0), "")
    assert check(gate, [empty, *good_rows(11, start=1)]).ok  # 1 of 12: 8%
    verdict = check(gate, [empty, *good_rows(5, start=1)])  # 1 of 6: 17%
    assert list(batch_failures(verdict)) == ["nonempty_body_share"]
    assert "1 of 6 articles have an empty body" in verdict.batch_failures[0].detail
    assert verdict.batch_failures[0].examples[0].startswith(str(empty["url"]))
    assert verdict.row_failures[0] == ["body_length"]
    # A failed batch holds back every row, each with the batch-level names.
    assert verdict.failed_expectations(1) == ["nonempty_body_share"]
    assert check(gate, [empty, *good_rows(5, start=1)], site=longbien(max_empty_body_share=0.2)).ok


def test_missing_column(gate: QualityGate) -> None:
    table = batch(good_rows(3)).drop_columns(["kicker"])
    verdict = gate.check(longbien(), table, min_articles=0)
    failures = batch_failures(verdict)
    assert "columns" in failures
    assert "missing ['kicker']" in next(f.detail for f in verdict.batch_failures if f.name == "columns")


def _wrong_type(field: pa.Field) -> pa.DataType:
    if pa.types.is_string(field.type):
        return pa.binary()
    if pa.types.is_int32(field.type):
        return pa.int64()
    if pa.types.is_int64(field.type):
        return pa.int32()
    if pa.types.is_timestamp(field.type):
        return pa.timestamp("ns", tz="UTC" if field.type.tz != "UTC" else "Asia/Ho_Chi_Minh")
    if pa.types.is_floating(field.type):
        return pa.float32()
    raise AssertionError(f"no wrong type for {field}")


@pytest.mark.parametrize("column", ARTICLE_SCHEMA.names)
def test_a_column_of_another_type_fails_the_batch(gate: QualityGate, column: str) -> None:
    table = batch(good_rows(3))
    index = table.schema.get_field_index(column)
    field = table.schema.field(index)
    table = table.set_column(index, field.with_type(_wrong_type(field)), table.column(index).cast(_wrong_type(field)))
    verdict = gate.check(longbien(), table, min_articles=0)
    assert f"type_{column}" in batch_failures(verdict)


@pytest.mark.parametrize("column", DERIVED_COLUMNS)
def test_derived_column_types(gate: QualityGate, column: str) -> None:
    """The derived columns come from expectations/columns.py; a change there that alters a
    type must fail the batch too."""
    table = with_derived_columns(batch(good_rows(3)))
    good = gate.run_suite("longbien", PORTAL_BATCH, to_pandas(table), batch_parameters(longbien().validate, 0))
    assert good.success
    index = table.schema.get_field_index(column)
    wrong = pa.array([str(v) for v in table.column(index).to_pylist()], pa.binary())
    frame = to_pandas(table.set_column(index, pa.field(column, pa.binary()), wrong))
    bad = gate.run_suite("longbien", PORTAL_BATCH, frame, batch_parameters(longbien().validate, 0))
    failed = {r.expectation_config.meta["name"] for r in bad.results if not r.success}
    assert failed == {f"type_{column}"}


def test_a_row_level_expectation_that_cannot_run_fails_the_batch(gate: QualityGate) -> None:
    table = batch(good_rows(3)).drop_columns(["url"])
    verdict = gate.check(longbien(), table, min_articles=0)
    failures = {f.name: f.detail for f in verdict.batch_failures}
    assert failures["url_not_null"].startswith("could not be evaluated")
    assert all(verdict.failed_expectations(i) for i in range(3))


def test_every_expectation_has_cases() -> None:
    covered = set(BAD_ROWS) | {"article_id_unique", "article_count", "dated_share", "nonempty_body_share", "columns"}
    covered |= {f"type_{c}" for c in (*ARTICLE_SCHEMA.names, *DERIVED_COLUMNS)}
    names = set(expectation_names(ARTICLE)) | set(expectation_names(PORTAL_BATCH))
    assert names - covered == set(), "expectations without a test case"
    assert covered - names == set(), "cases for expectations the suites no longer have"


def test_suites_know_the_articles_schema() -> None:
    columns = next(
        e["kwargs"]["column_list"]
        for e in suite_definition(PORTAL_BATCH)["expectations"]
        if e["meta"]["name"] == "columns"
    )
    assert columns == [*ARTICLE_SCHEMA.names, *DERIVED_COLUMNS]
    required = {f.name for f in ARTICLE_SCHEMA if not f.nullable}
    not_null = {n.removesuffix("_not_null") for n in expectation_names(ARTICLE) if n.endswith("_not_null")}
    assert required <= not_null


# -- derived columns ------------------------------------------------------------------------
def test_vietnamese_letter_share_separates_languages() -> None:
    shares = [vietnamese_letter_share(f"{g.data['title']}\n{g.data['body']}") for g in gold_articles()]
    assert len(shares) == 52 and min(shares) > 0.15
    french = "Le conseil municipal a décidé de rénover la place de l'église; le maire a présenté le budget prévu."
    assert vietnamese_letter_share(french) == 0.0
    assert vietnamese_letter_share(ENGLISH) == 0.0
    assert vietnamese_letter_share("") == 0.0


VIETNAMESE_LETTERS = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_double_encoding_of_every_vietnamese_letter_is_found(codec: str) -> None:
    for letter in VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper():
        word = f"tr{letter}n"
        assert double_encoding(word.encode("utf-8").decode(codec, errors="replace")) is not None, (letter, codec)


def test_no_double_encoding_in_real_articles() -> None:
    for gold in gold_articles():
        assert double_encoding(f"{gold.data['title']}\n{gold.data['body']}") is None, gold.url
        assert furniture_phrases(gold.data["body"]) is None, gold.url


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_text_left_undecoded_is_found_in_every_gold_article(encoding: str) -> None:
    for gold in gold_articles():
        title, lines = gold.data["title"], gold.data["body"]
        assert legacy_mojibake("\n".join([title, *lines])) is None, gold.url
        # One paragraph typed in the legacy encoding, the rest decoded: still found, and named.
        one_line = "\n".join([*lines[:-1], _encodable(lines[-1], encoding)])
        found = legacy_mojibake(f"{title}\n{one_line}")
        if len(lines[-1].split()) >= 8:
            assert found is not None and found.startswith(f"{encoding}: "), (gold.url, found)


def _encodable(text: str, encoding: str) -> str:
    """The text in a legacy encoding, with the characters it cannot write (“ ” – …) left as
    they are, as a page pasted from a legacy font shows them."""
    return "".join(encode(ch, encoding) if _can_encode(ch, encoding) else ch for ch in text)


def _can_encode(ch: str, encoding: str) -> bool:
    try:
        encode(ch, encoding)
    except ValueError:
        return False
    return True


def test_furniture_phrases_are_the_extractors_catalogue() -> None:
    for phrase in FURNITURE_PHRASES:
        assert furniture_phrases(f"Đoạn văn.\n{phrase} 12") == phrase


def test_derived_columns_tolerate_a_batch_without_text(tmp_path: Path) -> None:
    table = with_derived_columns(batch(good_rows(2)).drop_columns(["title", "body"]))
    assert table.column("vietnamese_letter_share").to_pylist() == [0.0, 0.0]
    assert table.column("batch_row").to_pylist() == [0, 1]


def test_an_expectation_gx_rejects_is_an_error_not_a_silent_drop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from expectations import suites

    for name in (ARTICLE, PORTAL_BATCH):
        (tmp_path / f"{name}.json").write_text(suites.suite_path(name).read_text("utf-8"), "utf-8")
    broken = json.loads((tmp_path / "article.json").read_text("utf-8"))
    monkeypatch.setattr(suites, "SUITES_DIR", tmp_path)
    broken["expectations"][0]["type"] = "expect_column_values_to_be_tidy"  # GX logs it and drops it
    (tmp_path / "article.json").write_text(json.dumps(broken), "utf-8")
    with pytest.raises(suites.SuiteError, match=r"article.json: GX rejected the expectations \['url_not_null'\]"):
        QualityGate(RUN, RUN_TIME, tmp_path / "run")
    broken["expectations"][0]["type"] = "expect_column_values_to_not_be_null"
    broken["expectations"][0]["kwargs"]["mostly"] = 5
    (tmp_path / "article.json").write_text(json.dumps(broken), "utf-8")
    with pytest.raises(suites.SuiteError, match=r"article.json: .*mostly"):
        QualityGate(RUN, RUN_TIME, tmp_path / "run")

    broken["expectations"][1]["meta"]["name"] = "url_not_null"
    (tmp_path / "article.json").write_text(json.dumps(broken), "utf-8")
    with pytest.raises(suites.SuiteError, match="expectation name 'url_not_null' is used twice"):
        suites.suite_definition(ARTICLE)

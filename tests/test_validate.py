"""The validate step between extract and publish: real extracted batches pass; crafted bad
rows and the pages the extractor rejected land in the quarantine dataset with their reasons;
bad batches (too many rejections among them) fail with a message naming what failed; every
extracted row ends up in the articles dataset or in quarantine, never in neither; publish sees
only validated rows; a page rejected once and extracted later leaves quarantine."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from kernel.layout import DataLayout
from kernel.registry import SITES_DIR, RegistryError, load_registry
from kernel.schema import ARTICLE_SCHEMA, article_row
from pipeline.engine import Engine
from pipeline.storage import read_articles
from pipeline.validate import ValidationSummary, is_stale, read_quarantine
from tests.conftest import gold_articles
from tests.support.cli import run_cli
from tests.support.portalserver import Page, PortalServer
from tests.support.raw_archive import archive_gold
from tests.support.validation_batches import (
    FETCHED,
    PARAGRAPHS,
    RUN,
    Row,
    article,
    batch,
    double_encoded,
    extracted,
    good_row,
    good_rows,
    longbien,
    publish_validated,
    rejected,
    row_from,
    uongbi_rows,
    validate_now,
    with_body,
    write_batch,
)
from transforms import extract_article

BODY = "\n".join(PARAGRAPHS)
TCVN3 = (
    "Uû ban nh©n d©n quËn Long Biªn tæ chøc héi nghÞ tæng kÕt c«ng t¸c n¨m 2023 vµ triÓn khai "
    "nhiÖm vô n¨m 2024. Th«ng tin ®iÖn tö cña quËn ®­îc cËp nhËt th­êng xuyªn."
)


def tcvn3_row() -> Row:
    """A page typed in the TCVN3 font encoding, through the real extractor (which decodes it)."""
    body = "".join(f"<p>{i}. {TCVN3}</p>" for i in range(4))
    page = (
        "<html><head><title>Héi nghÞ tæng kÕt - Cæng th«ng tin</title></head><body>"
        f"<h1>Héi nghÞ tæng kÕt c«ng t¸c n¨m 2023</h1><p>Ngµy ®¨ng 12/01/2024 08:00</p>{body}</body></html>"
    )
    url = "https://longbien.hanoi.gov.vn/tin-tuc/hoi-nghi-tong-ket-4240112080000001.htm"
    found = extract_article(page.encode("cp1252"), url, site="longbien")
    assert found is not None and found.legacy_encoding == "tcvn3"
    assert "Thông tin điện tử của quận" in found.body
    return row_from(found)


def undecoded_tcvn3_row() -> Row:
    """A row whose text is still TCVN3 (an extractor that could not decode it)."""
    return {**with_body(good_row(55), "\n".join([TCVN3] * 4)), "title": "Héi nghÞ tæng kÕt", "legacy_encoding": "tcvn3"}


def failing(summary: ValidationSummary) -> str:
    """The failure message of a validation in which some batch failed."""
    assert not summary.ok
    return summary.failure_message()


def ids_and_hashes(table: pa.Table) -> list[tuple[str, str]]:
    return list(zip(table.column("article_id").to_pylist(), table.column("content_hash").to_pylist(), strict=True))


def keys(table: pa.Table) -> Counter[tuple[str, str, str]]:
    return Counter(zip(*(table.column(c).to_pylist() for c in ("article_id", "content_hash", "url")), strict=True))


def reasons_by_url(data: Path) -> dict[str, list[str]]:
    table = read_quarantine(DataLayout(data))
    return {
        str(url): sorted(names)
        for url, names in zip(
            table.column("url").to_pylist(), table.column("failed_expectations").to_pylist(), strict=True
        )
    }


# -- real articles ----------------------------------------------------------------------------
def test_the_bundled_portals_real_articles_all_pass(tmp_path: Path) -> None:
    sites = load_registry()
    for slug, site in sites.items():
        rows = []
        for gold in gold_articles(slug):
            found = extract_article(gold.html(), gold.url, site=slug, hints=site.extract)
            assert found is not None, gold.url
            rows.append(article_row(found, slug, FETCHED, FETCHED))
        write_batch(tmp_path, batch(rows), slug)
    lines: list[str] = []
    summary = validate_now(list(sites.values()), tmp_path, RUN, progress=lines.append)
    assert summary.ok
    assert sum(summary.passed.values()) == 52 and sum(summary.quarantined.values()) == 0
    assert len(summary.passed) == 8
    # Nothing held, yet every batch has its quarantine file: the README's query works on day one.
    held = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{DataLayout(tmp_path).quarantine}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert held == [(0,)]
    assert len(list(DataLayout(tmp_path).quarantine.glob("run_date=*/*.parquet"))) == len(sites)
    for slug in sites:
        layout = DataLayout(tmp_path)
        extracted = pq.read_table(layout.extracted_path(slug, RUN))
        assert keys(pq.read_table(layout.validated_path(slug, RUN))) == keys(extracted)
    report = DataLayout(tmp_path).data_docs_index(RUN)
    assert summary.reports == {RUN: str(report)} and report.exists()
    assert f"validate report: {report}" in lines
    results = json.loads(DataLayout(tmp_path).validation_results_path(RUN).read_text("utf-8"))
    assert sorted(results["portals"]) == sorted(sites) and results["suite_versions"] == {
        "article": 1,
        "portal_batch": 2,
    }


# -- crafted bad rows -------------------------------------------------------------------------
def test_bad_rows_land_in_quarantine_with_their_reasons(tmp_path: Path) -> None:
    good = [*good_rows(14), tcvn3_row()]
    bad = {
        "leaked counter": with_body(good_row(50), f"{BODY}\nLượt xem: 1.234"),
        "missing date": {**good_row(51), "published_at": None},
        "empty body": with_body(good_row(52), ""),
        "foreign domain": row_from(article(53, host="baomoi.com")),
        "tcvn3 mojibake": undecoded_tcvn3_row(),
        "double encoding": with_body(good_row(54), double_encoded(BODY)),
        "duplicate id": {**good[0], "fetched_at": FETCHED.replace(hour=2)},
    }
    write_batch(tmp_path, batch([*good, *bad.values()]))
    summary = validate_now([longbien()], tmp_path, RUN)
    assert summary.ok and summary.passed == {"longbien": 14} and summary.quarantined == {"longbien": 8}

    reasons = reasons_by_url(tmp_path)
    expected = {
        "leaked counter": ["body_no_furniture"],
        "missing date": ["published_at_not_null"],
        "empty body": ["body_length"],
        "foreign domain": ["url_on_portal_domains"],
        "tcvn3 mojibake": ["not_legacy_encoded", "text_is_vietnamese"],
        "double encoding": ["not_double_encoded", "text_is_vietnamese"],
    }
    for case, names in expected.items():
        assert reasons[str(bad[case]["url"])] == names, case
    duplicates = read_quarantine(DataLayout(tmp_path)).filter(pc.field("url") == good[0]["url"])
    assert duplicates.num_rows == 2
    assert duplicates.column("failed_expectations").to_pylist() == [["article_id_unique"]] * 2

    validated = pq.read_table(DataLayout(tmp_path).validated_path("longbien", RUN))
    assert validated.schema.equals(ARTICLE_SCHEMA)
    assert sorted(validated.column("url").to_pylist()) == sorted(str(r["url"]) for r in good[1:])
    # The decoded TCVN3 page is published, and still says what it was typed in.
    assert validated.filter(pc.field("legacy_encoding") == "tcvn3").column("url").to_pylist() == [good[-1]["url"]]

    quarantine_file = DataLayout(tmp_path).quarantine_path("longbien", RUN)
    assert quarantine_file.parent.name == "run_date=2026-11-20"
    rows = duckdb.sql(
        f"select run_date, run_id, len(failed_expectations) as n from "
        f"read_parquet('{tmp_path}/quarantine/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert len(rows) == 8 and {(str(d), r) for d, r, _ in rows} == {("2026-11-20", RUN)}
    assert all(n >= 1 for *_, n in rows)


def test_too_many_undated_articles_fail_the_step_and_name_it(tmp_path: Path) -> None:
    rows = [{**r, "published_at": None} if i < 3 else r for i, r in enumerate(good_rows(8))]
    write_batch(tmp_path, batch(rows))
    write_batch(tmp_path, batch(uongbi_rows(6)), "uongbi")
    sites = [longbien(), load_registry()["uongbi"]]
    summary = validate_now(sites, tmp_path, RUN)
    message = failing(summary)
    assert "longbien" in message and "dated_share" in message
    assert "3 of 8 articles have no date (38%; at most 20% allowed)" in message
    assert f"e.g. {rows[0]['url']}" in message and "uongbi" not in message
    assert str(DataLayout(tmp_path).data_docs_index(RUN)) in message

    assert summary.passed == {"longbien": 0, "uongbi": 6} and summary.quarantined == {"longbien": 8, "uongbi": 0}
    reasons = reasons_by_url(tmp_path)
    assert reasons[str(rows[0]["url"])] == ["dated_share", "published_at_not_null"]
    assert reasons[str(rows[5]["url"])] == ["dated_share"]
    results = json.loads(DataLayout(tmp_path).validation_results_path(RUN).read_text("utf-8"))
    assert [f["name"] for f in results["portals"]["longbien"]["batch_failures"]] == ["dated_share"]

    published = publish_validated(sites, tmp_path)
    assert published.new == 6
    assert set(read_articles(DataLayout(tmp_path)).column("site").to_pylist()) == {"uongbi"}


def test_too_many_empty_bodies_fail_the_step(tmp_path: Path) -> None:
    rows = [with_body(r, "") if i < 2 else r for i, r in enumerate(good_rows(8))]
    write_batch(tmp_path, batch(rows))
    message = failing(validate_now([longbien()], tmp_path, RUN))
    assert re.search(r"nonempty_body_share .*2 of 8 articles have an empty body", message)


def test_a_portal_that_suddenly_yields_nothing_fails(tmp_path: Path) -> None:
    site = longbien()
    runs = [f"2026111{d}T010000000000Z" for d in range(1, 5)]
    for run in runs[:2]:
        write_batch(tmp_path, batch(good_rows(6)), run_id=run)
        validate_now([site], tmp_path, run)
    # Two earlier runs are not enough to judge (min_history_runs = 3): an empty night passes.
    write_batch(tmp_path, batch([]), run_id=runs[2])
    assert validate_now([site], tmp_path, runs[2]).ok
    write_batch(tmp_path, batch(good_rows(7)), run_id=runs[2])  # re-extracted: replaces its count
    validate_now([site], tmp_path, runs[2])
    write_batch(tmp_path, batch([]), run_id=runs[3])
    message = failing(validate_now([site], tmp_path, runs[3]))
    assert "article_count" in message
    assert "0 articles, at least 1 expected (median of the last 3 runs: 6, ratio 0.2)" in message
    counts = json.loads((tmp_path / "state" / "longbien" / "article_counts.json").read_text("utf-8"))
    assert counts == {runs[0]: 6, runs[1]: 6, runs[2]: 7, runs[3]: 0}


def test_a_column_of_the_wrong_type_quarantines_the_batch(tmp_path: Path) -> None:
    table = batch(good_rows(4))
    index = table.schema.get_field_index("word_count")
    write_batch(
        tmp_path, table.set_column(index, pa.field("word_count", pa.int64()), table.column(index).cast(pa.int64()))
    )
    message = failing(validate_now([longbien()], tmp_path, RUN))
    assert re.search(r"type_word_count .*word_count is Int64, expected Int32", message)
    quarantined = read_quarantine(DataLayout(tmp_path))
    assert quarantined.num_rows == 4 and quarantined.schema.field("word_count").type == pa.int32()


def test_a_batch_that_cannot_be_quarantined_is_left_to_validate_again(tmp_path: Path) -> None:
    table = batch(good_rows(3))
    index = table.schema.get_field_index("published_at")
    dates = pa.array(["hôm qua"] * 3, pa.string())
    path = write_batch(tmp_path, table.set_column(index, pa.field("published_at", pa.string()), dates))
    message = failing(validate_now([longbien()], tmp_path))
    assert re.search(r"cannot be quarantined .*left to be validated again", message)
    layout = DataLayout(tmp_path)
    assert not layout.validated_path("longbien", RUN).exists() and is_stale(layout, "longbien", path)


# -- nothing lost -----------------------------------------------------------------------------
def test_every_extracted_row_is_published_or_quarantined(tmp_path: Path) -> None:
    sites = [longbien(), load_registry()["uongbi"]]
    runs = ["20261118T010000000000Z", "20261119T010000000000Z", RUN]
    write_batch(tmp_path, batch(good_rows(6)), run_id=runs[0])
    write_batch(tmp_path, batch(uongbi_rows(5)), "uongbi", run_id=runs[0])
    # Night two: revised articles, a leaked counter, a duplicate.
    night_two = [with_body(r, r["body"] + "\nBổ sung: kinh phí 12 tỷ đồng.") for r in good_rows(3)]
    night_two += [with_body(good_row(20), f"{BODY}\nĐang online: 12"), dict(night_two[0]), *good_rows(3, start=30)]
    write_batch(tmp_path, batch(night_two), run_id=runs[1])
    # Night three: a batch that fails as a whole (half undated), and a good one.
    write_batch(
        tmp_path,
        batch([{**r, "published_at": None} if i % 2 else r for i, r in enumerate(good_rows(6, 40))]),
        run_id=RUN,
    )
    write_batch(tmp_path, batch(uongbi_rows(7)), "uongbi", run_id=RUN)

    assert not validate_now(sites, tmp_path).ok  # every batch not yet validated, run by run
    publish_validated(sites, tmp_path)

    layout = DataLayout(tmp_path)
    quarantine = read_quarantine(layout)
    articles = read_articles(layout)
    published, held = set(ids_and_hashes(articles)), set(ids_and_hashes(quarantine))
    extracted_rows = 0
    for site in sites:
        for path in layout.extracted_files(site.slug):
            run_id = DataLayout.run_id_of(path)
            extracted = pq.read_table(path)
            extracted_rows += extracted.num_rows
            validated = pq.read_table(layout.validated_path(site.slug, run_id))
            quarantined = quarantine.filter((pc.field("run_id") == run_id) & (pc.field("site") == site.slug))
            # Each row of each batch is in exactly one of the two.
            assert keys(validated) + keys(quarantined) == keys(extracted), (site.slug, run_id)
            for key in ids_and_hashes(extracted):
                assert key in published or key in held, (site.slug, run_id, key)
    assert extracted_rows == 6 + 5 + 8 + 6 + 7
    assert quarantine.num_rows == 2 + 1 + 6  # the duplicate pair, the leaked counter, the failed batch
    # Longbien 0-5 (1 and 2 revised in place) and 30-32; Uông Bí 0-6.
    assert articles.num_rows == len(published) == 9 + 7


# -- the extractor's rejections ----------------------------------------------------------------
def test_rejected_pages_go_to_quarantine_with_their_reason(tmp_path: Path) -> None:
    rows = [*good_rows(9), rejected(60, "not_article: 40 words")]
    write_batch(tmp_path, extracted(rows))
    summary = validate_now([longbien()], tmp_path, RUN)
    assert summary.ok and summary.passed == {"longbien": 9} and summary.quarantined == {"longbien": 1}
    (portal,) = summary.portals
    assert (portal.pages, portal.rejected, portal.rejections) == (10, 1, {"not_article: N words": 1})
    assert portal.failed_rows == {"rejected_by_extractor": 1}
    held = read_quarantine(DataLayout(tmp_path)).to_pylist()
    assert [(r["url"], r["rejection"], r["failed_expectations"], r["run_id"]) for r in held] == [
        (rows[-1]["url"], "not_article: 40 words", ["rejected_by_extractor"], RUN)
    ]
    assert held[0]["article_id"] == rows[-1]["article_id"] and held[0]["title"] is None
    results = json.loads(DataLayout(tmp_path).validation_results_path(RUN).read_text("utf-8"))
    assert results["portals"]["longbien"]["rejected"] == 1
    assert results["portals"]["longbien"]["rejections"] == {"not_article: N words": 1}


def test_too_many_rejected_pages_fail_the_batch_naming_the_reasons(tmp_path: Path) -> None:
    rows = [
        *good_rows(5),
        rejected(60, "not_article: headline is a menu label"),
        rejected(61, "not_article: headline is a menu label"),
        rejected(62, "extraction_failed: no result within 20 s"),
    ]
    write_batch(tmp_path, extracted(rows))
    message = failing(validate_now([longbien()], tmp_path, RUN))
    assert "rejected_share" in message
    assert (
        "3 of 8 article pages rejected by the extractor (38%; at most 20% allowed): "
        "not_article: headline is a menu label x2, extraction_failed: no result within N s x1"
    ) in message
    assert f"e.g. {rows[5]['url']} (not_article: headline is a menu label)" in message
    reasons = reasons_by_url(tmp_path)
    assert reasons[str(rows[0]["url"])] == ["rejected_share"]  # the whole batch is held
    assert reasons[str(rows[5]["url"])] == ["rejected_by_extractor", "rejected_share"]
    # The portal's threshold decides: at most half rejected is fine for this one.
    assert validate_now([longbien(max_rejected_share=0.5)], tmp_path, revalidate=True).ok
    assert reasons_by_url(tmp_path)[str(rows[5]["url"])] == ["rejected_by_extractor"]


def test_a_page_rejected_once_and_extracted_later_leaves_quarantine_for_the_dataset(tmp_path: Path) -> None:
    """Bad rules reject every page of a night; once they are fixed, re-extraction brings the
    pages back: published, and out of quarantine."""
    registry, data, run_id = tmp_path / "sites", tmp_path / "data", "20261123T010000000000Z"
    registry.mkdir()
    config = (SITES_DIR / "longbien.toml").read_text("utf-8")
    # A body hint that points at the wrong element: no article text on any page.
    (registry / "longbien.toml").write_text(config + '\n[extract]\nbody_xpaths = ["//title"]\n', "utf-8")
    urls = archive_gold(data, "longbien", run_id)

    engine = Engine(data, registry)
    first = engine.run(engine.plan_extract(["longbien"]))
    assert first.ok and first.data["portals"]["longbien"]["extract"]["summary"]["rejected"] == len(urls)
    validated = engine.run(engine.plan_validate(["longbien"]))
    assert validated.failed_portals["longbien"].startswith(f"validate: batch of run {run_id} failed rejected_share")
    held = read_quarantine(DataLayout(data))
    assert sorted(held.column("url").to_pylist()) == sorted(urls)
    assert set(held.column("rejection").to_pylist()) == {"not_article: no text"}
    assert engine.run(engine.plan_publish(["longbien"])).data["publish"]["summary"]["new"] == 0  # nothing passed

    (registry / "longbien.toml").write_text(config, "utf-8")  # the rules are fixed
    fixed = Engine(data, registry)
    again = fixed.run(fixed.plan_extract(["longbien"], kind="reextract"))
    assert again.ok, again.failed_portals
    assert read_quarantine(DataLayout(data)).num_rows == 0
    assert sorted(read_articles(DataLayout(data)).column("url").to_pylist()) == sorted(urls)


# -- the step in the pipeline -----------------------------------------------------------------
def test_publish_sees_only_validated_rows(tmp_path: Path) -> None:
    write_batch(tmp_path, batch([*good_rows(5), {**good_row(9), "published_at": None}]))
    lines: list[str] = []
    engine = Engine(tmp_path, progress=lines.append)
    assert engine.run(engine.plan_publish(["longbien"])).data["publish"] is None
    assert any("1 extracted batches not validated yet" in line for line in lines)
    validate_now([longbien()], tmp_path)
    published = engine.run(engine.plan_publish(["longbien"]))
    assert published.data["publish"]["summary"]["new"] == 5


def test_validating_again_replaces_what_it_wrote(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    write_batch(tmp_path, batch([*good_rows(5), with_body(good_row(9), f"{BODY}\nChia sẻ Zalo")]))
    validate_now([longbien()], tmp_path)
    first = read_quarantine(layout)
    assert validate_now([longbien()], tmp_path).portals == []  # nothing new to validate
    validate_now([longbien()], tmp_path, revalidate=True)
    assert read_quarantine(layout).drop_columns(["validated_at"]) == first.drop_columns(["validated_at"])
    results = sorted((layout.validation_dir(RUN) / "gx").rglob("*.json"))
    assert len(results) == 2, results  # one per suite for the portal, replaced in place
    # The extractor is fixed and the batch extracted again: validated again, nothing held.
    write_batch(tmp_path, batch(good_rows(6)))
    summary = validate_now([longbien()], tmp_path)
    assert summary.quarantined == {"longbien": 0} and read_quarantine(layout).num_rows == 0


def test_thresholds_come_from_the_site_config(tmp_path: Path) -> None:
    registry = tmp_path / "sites"
    registry.mkdir()
    config = load_registry()["longbien"].path.read_text("utf-8")
    (registry / "longbien.toml").write_text(config + "\n[validate]\nmax_undated_share = 0.5\n", "utf-8")
    site = load_registry(registry)["longbien"]
    assert site.validate.max_undated_share == 0.5
    rows = [{**r, "published_at": None} if i < 3 else r for i, r in enumerate(good_rows(8))]
    write_batch(tmp_path / "data", batch(rows))
    summary = validate_now([site], tmp_path / "data", RUN)
    assert summary.ok and summary.quarantined == {"longbien": 3}

    (registry / "longbien.toml").write_text(config + "\n[validate]\nmax_undated_share = 2\n", "utf-8")
    with pytest.raises(
        RegistryError, match=r"longbien.toml: field 'validate.max_undated_share': must be between 0 and 1"
    ):
        load_registry(registry)


@pytest.mark.slow
def test_cli_validate_exit_status_and_report(tmp_path: Path) -> None:
    rows = [with_body(r, "") if i < 2 else r for i, r in enumerate(good_rows(8))]
    write_batch(tmp_path, batch(rows))
    args = ["validate", "--sites", "longbien", "--data-dir", str(tmp_path)]
    failed = run_cli(*args, timeout=300)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "validate longbien: 8 article pages, 0 passed, 8 quarantined" in failed.stdout
    assert "nonempty_body_share" in failed.stdout
    assert f"validation report: {DataLayout(tmp_path).data_docs_index(RUN)}" in failed.stdout
    bad_run = run_cli(*args, "--run", "yesterday", timeout=300)
    assert bad_run.returncode == 2 and "--run 'yesterday' is not a run id" in bad_run.stderr


@pytest.mark.slow
def test_a_run_validates_between_extract_and_publish(tmp_path: Path) -> None:
    """A night against a local portal: an English page is quarantined, the rest published."""
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    english = "".join(
        f"<p>{n}. The district renovated {n} gardens and playgrounds this year, the committee said in its "
        "report on the urban plan for the next five years.</p>"
        for n in ("Twelve", "Eight", "Five", "Three", "Nine")
    )

    def page(n: int, body: str) -> Page:
        return Page(
            f"<html><head><title>Tin {n}</title></head><body><h1>Phường mẫu chỉnh trang đô thị, đợt {n}</h1>"
            f"<p class='date'>Ngày đăng 0{n}/03/2024 08:00</p><div class='content'>{body}</div></body></html>"
        )

    with PortalServer() as server:
        server.pages.update(
            {
                "/robots.txt": Page("User-agent: *\nDisallow:\n", content_type="text/plain"),
                "/tin-tuc": Page("".join(f"<a href='/bai/{n}.html'>Tin {n}</a> " for n in range(1, 5))),
                **{f"/bai/{n}.html": page(n, paragraphs) for n in range(1, 4)},
                "/bai/4.html": page(4, english),
            }
        )
        registry = tmp_path / "sites"
        registry.mkdir()
        (registry / "phuongmau.toml").write_text(
            'name = "Cổng phường mẫu"\nkind = "government"\nprovince = "Hà Nội"\ndomains = ["127.0.0.1"]\n'
            f"start_urls = [\"{server.base}/tin-tuc\"]\narticle_urls = ['/bai/\\d+\\.html$']\n"
            "[crawl]\ndownload_delay = 0\n",
            encoding="utf-8",
        )
        engine = Engine(tmp_path / "data", registry)
        report = engine.run(engine.plan_night())
    assert report.ok, report.failed_portals
    (validation,) = report.data["portals"]["phuongmau"]["validate"]["summary"]
    assert (validation["passed"], validation["quarantined"]) == (3, 1)
    assert report.data["publish"]["summary"]["new"] == 3
    assert reasons_by_url(tmp_path / "data") == {f"{server.base}/bai/4.html": ["text_is_vietnamese"]}
    run_summary = json.loads(DataLayout(tmp_path / "data").run_summary_path(report.run_id).read_text("utf-8"))
    assert run_summary["portals"]["phuongmau"]["validate"]["summary"][0]["quarantined"] == 1


def test_reports_of_different_runs_share_one_copy_of_the_static_assets(tmp_path: Path) -> None:
    runs = ["20261118T010000000000Z", "20261119T010000000000Z"]
    for run in runs:
        write_batch(tmp_path, batch(good_rows(6)), run_id=run)
        validate_now([longbien()], tmp_path, run)
    first, second = (DataLayout(tmp_path).data_docs_index(run).parent / "static" for run in runs)
    assets = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(assets) > 10
    assert all((first / a).samefile(second / a) for a in assets)

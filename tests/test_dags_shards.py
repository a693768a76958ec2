"""Shards of portals, what the DAGs map over: how a night's portals are cut (every portal
once, the plan's order, hosts kept together, labels that name the first and last portal),
and a shard's steps done at most once per portal (the ledger says what is still to do, so
a retried shard task does only the portals that did not finish)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from kernel.layout import DataLayout
from kernel.registry import Site, load_registry
from pipeline.airflow.settings import run_settings
from pipeline.airflow.shards import host_groups, make_shards, shard_label
from pipeline.airflow.tasks import NOT_READY, ShardError, extract_shard, plan_night
from pipeline.engine import Engine, StepRecord
from tests.support.raw_archive import archive_gold

RUN = "20261122T180000000000Z"


def district(template: Site, number: int, host: str | None = None) -> Site:
    """An imitation district portal: its own host, or a folder on a shared ``host``."""
    own = host or f"huyen{number:03d}.example.gov.vn"
    start = f"https://{own}/huyen-{number:03d}/" if host else f"https://{own}/"
    return replace(template, slug=f"huyen{number:03d}", domains=(own,), start_urls=(start,), feeds=(), sitemaps=())


@pytest.fixture(scope="module")
def template() -> Site:
    return load_registry()["longbien"]


def test_a_night_of_700_portals_is_28_shards_of_25_in_the_plans_order(template: Site) -> None:
    sites = [district(template, n) for n in range(700)]
    shards = make_shards(sites, 25)
    assert len(shards) == 28
    assert [len(s["portals"]) for s in shards] == [25] * 28
    assert [p for s in shards for p in s["portals"]] == [s.slug for s in sites]
    assert shards[0]["label"] == "huyen000 .. huyen024 (25 portals)"
    assert shards[-1]["label"] == "huyen675 .. huyen699 (25 portals)"
    assert [len(s["portals"]) for s in make_shards(sites[:8], 3)] == [3, 3, 2]
    assert make_shards(sites[:1], 25) == [{"label": "huyen000", "portals": ["huyen000"]}]
    assert shard_label(["a", "b"]) == "a .. b (2 portals)"
    with pytest.raises(ValueError, match="at least 1"):
        make_shards(sites, 0)


def test_portals_that_share_a_host_share_a_shard(template: Site) -> None:
    # 1, 4 and 6 are folders of one provincial server; 8 names that server among its domains.
    shared = "tinh.example.gov.vn"
    sites = [district(template, n, shared if n in (1, 4, 6) else None) for n in range(10)]
    sites[8] = replace(sites[8], domains=(*sites[8].domains, shared))
    assert host_groups(sites)[1] == ["huyen001", "huyen004", "huyen006", "huyen008"]
    shards = [s["portals"] for s in make_shards(sites, 3)]
    assert sorted(p for s in shards for p in s) == sorted(s.slug for s in sites)  # each once
    (together,) = [s for s in shards if "huyen001" in s]
    assert {"huyen004", "huyen006", "huyen008"} <= set(together)  # larger than 3: kept whole
    assert len(shards) < len(sites)


def test_the_plan_hands_out_shards_of_the_setting(tmp_path: Path) -> None:
    settings = run_settings(lambda _n: None, {"VNPORTALS_DATA_DIR": str(tmp_path), "VNPORTALS_PORTALS_PER_TASK": "3"})
    said: list[str] = []
    shards = plan_night(None, settings, RUN, dag_id="vnportals_nightly", dag_run_id="manual__x", say=said.append)
    portals = sorted(s.slug for s in load_registry().values() if s.enabled)
    assert [len(s["portals"]) for s in shards] == [3, 3, 2]
    assert [p for s in shards for p in s["portals"]] == portals
    assert f"plan: {len(portals)} portals in 3 shards of at most 3 " in "\n".join(said)
    assert json.loads(DataLayout(tmp_path).run_plan_path(RUN).read_text("utf-8"))["portals"] == portals


def _record(data: Path, step: str, site: str, state: str, started: str, finished: str | None) -> None:
    record = StepRecord(step=step, site=site, state=state, started_at=started, finished_at=finished)
    path = DataLayout(data).step_record_path(RUN, step, site)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(record)), encoding="utf-8")


def test_the_ledger_says_which_portals_a_shard_still_has_to_do(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    plan = engine.plan_night(["longbien", "uongbi", "namdan", "baolam"], run_id=RUN)
    shard = ["longbien", "uongbi", "namdan"]
    assert engine.pending(plan, "crawl", shard) == shard
    _record(tmp_path, "crawl", "longbien", "ok", "2026-11-22T18:00:01+00:00", "2026-11-22T18:01:00+00:00")
    _record(tmp_path, "crawl", "uongbi", "failed", "2026-11-22T18:00:01+00:00", "2026-11-22T18:01:00+00:00")
    _record(tmp_path, "crawl", "namdan", "running", "2026-11-22T18:00:01+00:00", None)  # its worker died
    assert engine.pending(plan, "crawl", shard) == ["uongbi", "namdan"]
    assert engine.pending(plan, "extract", shard) == ["longbien"]  # the only one crawled
    _record(tmp_path, "extract", "longbien", "ok", "2026-11-22T18:02:00+00:00", "2026-11-22T18:02:30+00:00")
    assert engine.pending(plan, "extract", shard) == []
    # The portal crawled again after its extraction (a cleared task): extract it again.
    _record(tmp_path, "crawl", "longbien", "ok", "2026-11-22T18:05:00+00:00", "2026-11-22T18:06:00+00:00")
    assert engine.pending(plan, "extract", shard) == ["longbien"]
    assert engine.pending(plan, "crawl", ["baolam"]) == ["baolam"]  # another shard's, untouched


@pytest.mark.slow  # extraction runs in a worker process
def test_a_retried_shard_redoes_only_its_portals_that_did_not_finish(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = run_settings(lambda _n: None, {"VNPORTALS_DATA_DIR": str(data)})
    engine = Engine(data)
    plan = engine.plan_night(["longbien", "uongbi", "namdan", "baolam"], run_id=RUN)
    for slug in ("longbien", "uongbi", "namdan"):
        _record(data, "crawl", slug, "ok", "2026-11-22T18:00:01+00:00", "2026-11-22T18:01:00+00:00")
    _record(data, "crawl", "baolam", "failed", "2026-11-22T18:00:01+00:00", "2026-11-22T18:01:00+00:00")
    archive_gold(data, "longbien", RUN)
    archive_gold(data, "uongbi", RUN)
    damaged = DataLayout(data).warc_path("namdan", RUN)
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a WARC file")
    shard = ["baolam", "longbien", "namdan", "uongbi"]

    said: list[str] = []
    with pytest.raises(ShardError, match=r"extract: 1 of 4 portals of shard baolam \.\. uongbi \(4 portals\) failed"):
        extract_shard(shard, RUN, settings, say=said.append)
    log = "\n".join(said)
    assert "extract shard baolam .. uongbi (4 portals): 3 of 4 portals to do; not ready" in log
    assert "extract shard baolam .. uongbi (4 portals): 2 ok, 1 failed, 1 not ready" in log
    assert f"  {NOT_READY} baolam: not ready: an earlier step of the run failed" in log
    assert "  failed    namdan: FAILED: " in log
    assert "  ok        longbien: 7 articles from 7 article pages" in log
    first = {slug: engine.record(plan, "extract", slug) for slug in ("longbien", "uongbi")}

    # The retry, once the archive is mended: only namdan is extracted, and now it works.
    damaged.unlink()
    archive_gold(data, "namdan", RUN)
    said.clear()
    outcome = extract_shard(shard, RUN, settings, say=said.append)
    assert {slug: o["state"] for slug, o in outcome.items()} == {
        "baolam": NOT_READY,
        "longbien": "ok",
        "namdan": "ok",
        "uongbi": "ok",
    }
    log = "\n".join(said)
    assert "1 of 4 portals to do; done in an earlier try: longbien, uongbi" in log
    assert "  ok        longbien: 7 articles from 7 article pages (0 rejected, 0 failed)  (in an earlier try)" in log
    for slug, record in first.items():
        assert engine.record(plan, "extract", slug) == record  # not done again
    assert DataLayout(data).extracted_path("namdan", RUN).exists()

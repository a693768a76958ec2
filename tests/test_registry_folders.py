"""A user's own registry folder next to the bundled one: folders combined, a broken portal file
that fails only its portal (in the engine and in the DAG's plan, which leaves it out of every
shard and names it in the report), and the crawl's check of the portals it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.run import main as crawl_main
from kernel.registry import SITES_DIR, RegistryError, load_registry, parse_folders, read_registry
from pipeline.airflow.settings import RunSettings, run_settings
from pipeline.airflow.tasks import PartialRunError, plan_night, report_run
from pipeline.engine import Engine

RUN = "20261123T010000000000Z"
OWN = 'name = "Xã Mẫu"\nkind = "government"\nprovince = "Hà Nội"\nfamily = "wordpress"\ndomains = ["xamau.gov.vn"]\n'


def own_folder(root: Path, *, broken: bool = True) -> Path:
    mine = root / "mine"
    mine.mkdir()
    (mine / "xamau.toml").write_text(OWN, encoding="utf-8")
    if broken:
        (mine / "hong.toml").write_text(OWN.replace("kind =", "loai ="), encoding="utf-8")
    return mine


def test_folders_are_combined_in_order(tmp_path: Path) -> None:
    registry = read_registry([SITES_DIR, own_folder(tmp_path, broken=False)])
    assert list(registry.sites)[-1] == "xamau" and len(registry.sites) == len(load_registry()) + 1
    assert registry.sites["xamau"].feeds == ("https://xamau.gov.vn/feed/",)
    assert not registry.broken
    assert parse_folders(f"bundled:{tmp_path / 'mine'}") == (SITES_DIR, tmp_path / "mine")


def test_a_broken_file_is_kept_apart_and_the_strict_loader_still_refuses_it(tmp_path: Path) -> None:
    mine = own_folder(tmp_path)
    registry = read_registry(mine)
    assert set(registry.sites) == {"xamau"}
    assert registry.broken["hong"].startswith(f"{mine / 'hong.toml'}: field 'kind': is required")
    with pytest.raises(RegistryError, match="field 'kind'"):
        load_registry(mine)


def test_the_engine_plans_a_broken_portal_as_failed_and_the_others_as_usual(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "data", [SITES_DIR, own_folder(tmp_path)])
    plan = engine.plan_night(run_id=RUN)
    assert "hong" in plan.portals and plan.batches["hong"] == [] and "xamau" in plan.portals
    assert engine.ready(plan, "crawl") == [s for s in plan.portals if s != "hong"]
    assert engine.load_plan(RUN).broken == plan.broken
    report = engine.finish(plan)
    assert report.failed_portals["hong"].startswith("site config: ")


def test_the_dags_plan_leaves_a_broken_portal_out_of_the_shards_and_the_report_names_it(tmp_path: Path) -> None:
    mine = own_folder(tmp_path)
    settings = RunSettings(tmp_path / "data", (SITES_DIR, mine), None, 4)
    said: list[str] = []
    shards = plan_night(None, settings, RUN, dag_id="d", dag_run_id="r", say=said.append)
    portals = [p for shard in shards for p in shard["portals"]]
    assert "hong" not in portals and "xamau" in portals and "longbien" in portals
    assert any("hong: broken site config" in line for line in said)
    with pytest.raises(PartialRunError, match=r"hong: site config: .*hong\.toml: field 'kind'"):
        report_run(RUN, settings, say=said.append)


def test_the_dags_read_several_registry_folders_from_one_setting(tmp_path: Path) -> None:
    settings = run_settings(lambda _name: None, {"VNPORTALS_REGISTRY": f"bundled:{tmp_path}"})
    assert settings.registry_dir == (SITES_DIR, tmp_path)


def test_a_crawl_process_refuses_a_broken_portal_with_its_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = own_folder(tmp_path)
    args = ["--registry", str(SITES_DIR), "--registry", str(mine), "--data-dir", str(tmp_path), "--run-id", RUN]
    assert crawl_main(["--site", "hong", *args]) == 2
    assert "hong.toml: field 'kind'" in capsys.readouterr().err

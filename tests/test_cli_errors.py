"""Every error a user can cause, answered by one line on stderr and the documented exit status
(0 ok, 1 some portal failed, 2 usage or configuration, 3 environment, 130 interrupted), with
nothing written where nothing should be; paths taken against the user's working directory;
``--version`` and a help that gives examples and the exit codes. The CLI's ``main()`` in this
process: no crawl, no server."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from kernel.registry import SITES_DIR, load_registry
from pipeline.cli import EXIT_CODES, main, resolve_paths
from pipeline.engine import Engine

Capture = pytest.CaptureFixture[str]


def one_error_line(capsys: Capture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# -- the data dir -----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["run", "crawl", "extract", "validate", "publish", "reextract", "demo"])
def test_a_data_dir_that_is_a_file_is_an_environment_error(tmp_path: Path, capsys: Capture, command: str) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder", encoding="utf-8")
    assert main([command, "--data-dir", str(data)]) == 3
    line = one_error_line(capsys)
    assert f"data dir {data}: is a file, not a folder" in line and "--data-dir" in line
    assert data.read_text(encoding="utf-8") == "not a folder"


def test_a_data_dir_that_cannot_be_created_is_an_environment_error(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert main(["extract", "--data-dir", str(tmp_path / "afile" / "data")]) == 3
    assert f"data dir {tmp_path / 'afile' / 'data'}: cannot be created: Not a directory" in one_error_line(capsys)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a Linux /proc, where no one can write")
def test_a_data_dir_no_one_can_write_is_an_environment_error(capsys: Capture) -> None:
    assert main(["validate", "--data-dir", "/proc"]) == 3
    assert "data dir /proc: cannot be written" in one_error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder: the case cannot arise")
def test_a_read_only_data_dir_is_an_environment_error(tmp_path: Path, capsys: Capture) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o555)
    try:
        assert main(["extract", "--data-dir", str(data)]) == 3
        assert f"data dir {data}: cannot be written: Permission denied" in one_error_line(capsys)
    finally:
        data.chmod(0o755)


# -- the registry -----------------------------------------------------------------------------------
def test_a_registry_that_is_a_file_or_empty_is_a_configuration_error(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "sites.toml").write_text("", encoding="utf-8")
    assert main(["run", "--registry", str(tmp_path / "sites.toml"), "--data-dir", str(tmp_path / "d")]) == 2
    assert f"{tmp_path / 'sites.toml'}: not a folder" in one_error_line(capsys)
    (tmp_path / "empty").mkdir()
    assert main(["sites", "--registry", str(tmp_path / "empty")]) == 2
    assert "no site configs (*.toml)" in one_error_line(capsys)
    assert not (tmp_path / "d" / "runs").exists()


def test_a_broken_portal_file_fails_only_that_portal(tmp_path: Path, capsys: Capture) -> None:
    registry = tmp_path / "mine"
    registry.mkdir()
    good = SITES_DIR / "longbien.toml"
    (registry / "longbien.toml").write_text(good.read_text(encoding="utf-8"), encoding="utf-8")
    broken = good.read_text(encoding="utf-8").replace('province = "Hà Nội"', 'province = ["Hà Nội"]')
    (registry / "hong.toml").write_text(broken, encoding="utf-8")
    (registry / "cu.toml").write_text("name = 'unterminated\n", encoding="utf-8")

    # Listing: the good portal listed, each broken file one line naming file and field, exit 2.
    assert main(["sites", "--registry", str(registry)]) == 2
    captured = capsys.readouterr()
    assert "longbien" in captured.out and "3 portals in" in captured.out and "2 broken" in captured.out
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert any(f"{registry / 'hong.toml'}: field 'province'" in e for e in errors)
    assert any(f"{registry / 'cu.toml'}: not valid TOML" in e for e in errors)

    # A run: the broken portals fail, named with their file and field, the good one goes on.
    data = tmp_path / "data"
    assert main(["validate", "--registry", str(registry), "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert "plan: hong: broken site config, this portal fails and the others go on" in out
    (summary_path,) = (data / "runs").glob("*.json")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["portals"]["longbien"]["outcome"] == "nothing to do"
    assert summary["failed_portals"]["hong"].startswith(f"site config: {registry / 'hong.toml'}: field 'province'")
    assert set(summary["failed_portals"]) == {"hong", "cu"}
    assert f"  hong: site config: {registry / 'hong.toml'}: field 'province'" in out

    # Naming only the good portal: it runs, the broken ones are mentioned and not in the run.
    assert main(["validate", "--sites", "longbien", "--registry", str(registry), "--data-dir", str(data)]) == 0
    assert "plan: hong (not in this run) has a broken site config" in capsys.readouterr().out


def test_a_slug_in_two_registry_folders_fails_naming_both(tmp_path: Path, capsys: Capture) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "uongbi.toml").write_text((SITES_DIR / "uongbi.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["sites", "--registry", "bundled", "--registry", str(mine)]) == 2
    line = one_error_line(capsys)
    assert str(mine / "uongbi.toml") in line and str(SITES_DIR / "uongbi.toml") in line


def test_unknown_portal_and_empty_sites(tmp_path: Path, capsys: Capture) -> None:
    assert main(["run", "--sites", "atlantis", "--data-dir", str(tmp_path)]) == 2
    assert "unknown portal 'atlantis'" in one_error_line(capsys)
    assert main(["sites", "--sites", "atlantis"]) == 2
    assert "unknown portal 'atlantis'" in one_error_line(capsys)
    assert main(["crawl", "--sites", ",", "--data-dir", str(tmp_path)]) == 2
    assert "names no portal" in one_error_line(capsys)
    assert not (tmp_path / "runs").exists()


# -- run ids ----------------------------------------------------------------------------------------
def test_an_unknown_run_id_is_a_usage_error(tmp_path: Path, capsys: Capture) -> None:
    assert main(["validate", "--run", "20990101T000000Z", "--data-dir", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert "run 20990101T000000Z: no extracted batch of this run" in line and str(tmp_path / "extracted") in line
    assert main(["validate", "--run", "yesterday", "--data-dir", str(tmp_path)]) == 2
    assert "--run 'yesterday' is not a run id" in one_error_line(capsys)
    assert not (tmp_path / "runs").exists()


def test_an_unknown_run_id_names_the_latest_runs_there_are(tmp_path: Path, capsys: Capture) -> None:
    batch = tmp_path / "extracted" / "longbien" / "20261123T010000Z.parquet"
    batch.parent.mkdir(parents=True)
    batch.write_bytes(b"")
    assert main(["validate", "--run", "20261124T010000Z", "--sites", "longbien", "--data-dir", str(tmp_path)]) == 2
    assert "the latest: 20261123T010000Z" in one_error_line(capsys)


# -- paths ------------------------------------------------------------------------------------------
def test_relative_paths_are_taken_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(data_dir="rel/data", registry=["bundled", "mine", f"a{os.pathsep}b"])
    resolve_paths(args, {})
    assert args.data_dir == tmp_path / "rel" / "data"
    assert args.registry == (SITES_DIR, tmp_path / "mine", tmp_path / "a", tmp_path / "b")
    from_env = argparse.Namespace(data_dir=None, registry=None)
    resolve_paths(from_env, {"VNPORTALS_DATA_DIR": "env-data", "VNPORTALS_REGISTRY": f"bundled{os.pathsep}mine"})
    assert from_env.data_dir == tmp_path / "env-data" and from_env.registry == (SITES_DIR, tmp_path / "mine")
    default = argparse.Namespace(data_dir=None, registry=None)
    resolve_paths(default, {})
    assert default.data_dir == tmp_path / "data" and default.registry is None
    # The engine under the DAGs and the Python API takes a relative data dir the same way.
    assert Engine(Path("rel/data")).layout.root == tmp_path / "rel" / "data"


# -- version and help -------------------------------------------------------------------------------
def test_version_and_a_help_with_examples_and_exit_codes(capsys: Capture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == "vnportals 0.1.0"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "vnportals demo" in text
    for code, meaning in EXIT_CODES.items():
        assert f"  {code:<4} {meaning}" in text
    assert set(EXIT_CODES) == {0, 1, 2, 3, 130}
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for code in EXIT_CODES:
        assert f"| {code} |" in readme, f"README's exit status table has no row for {code}"


# -- a portal file to start from --------------------------------------------------------------------
@pytest.mark.parametrize("family", ["generic", "wordpress", "hanoi-gov"])
def test_sites_new_writes_a_portal_file_that_loads(tmp_path: Path, capsys: Capture, family: str) -> None:
    mine = tmp_path / "mine"
    assert main(["sites", "new", "phuongmau", "--family", family, "--registry", str(mine)]) == 0
    assert f"wrote {mine / 'phuongmau.toml'}" in capsys.readouterr().out
    site = load_registry(mine)["phuongmau"]
    assert site.family == family and not site.enabled  # a placeholder host until --domain names one
    assert main(["sites", "new", "xa", "--family", family, "--domain", "xa.gov.vn", "--registry", str(mine)]) == 0
    named = load_registry(mine)["xa"]
    assert named.enabled and named.domains == ("xa.gov.vn",) and named.start_urls == ("https://xa.gov.vn/",)
    assert main(["sites", "--registry", str(mine)]) == 0


def test_sites_new_refuses_what_it_cannot_write(tmp_path: Path, capsys: Capture) -> None:
    mine = tmp_path / "mine"
    assert main(["sites", "new", "Phuong Mau", "--registry", str(mine)]) == 2
    assert "is not a slug" in one_error_line(capsys)
    assert main(["sites", "new", "xa", "--family", "joomla", "--registry", str(mine)]) == 2
    assert "'joomla' is not a known family" in one_error_line(capsys)
    assert main(["sites", "new", "xa", "--registry", "bundled"]) == 2
    assert "the bundled registry is for the bundled portals" in one_error_line(capsys)
    assert main(["sites", "new", "xa", "--registry", str(mine)]) == 0
    capsys.readouterr()
    assert main(["sites", "new", "xa", "--registry", str(mine)]) == 2
    assert "already exists" in one_error_line(capsys)
    assert not (SITES_DIR / "xa.toml").exists()

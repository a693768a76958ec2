"""The command line: the registry listing, and errors as one clear line with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

from tests.test_demo import run_cli


def test_sites_lists_and_validates_the_registry() -> None:
    result = run_cli("sites")
    assert result.returncode == 0, result.stderr
    for slug in ("longbien", "kinhtedothi", "uongbi", "hanoidcs"):
        assert slug in result.stdout


def test_unknown_portal_is_one_line_naming_it(tmp_path: Path) -> None:
    result = run_cli("crawl", "--sites", "atlantis", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "atlantis" in lines[0]


def test_bad_registry_names_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "hong.toml").write_text('name = "x"\nkind = "government"\n', encoding="utf-8")
    result = run_cli("sites", "--registry", str(tmp_path))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "hong.toml" in line and "field" in line


def test_missing_registry_folder(tmp_path: Path) -> None:
    result = run_cli("sites", "--registry", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "registry folder not found" in result.stderr


def test_an_unreachable_portal_fails_with_a_reason_and_the_run_goes_on(tmp_path: Path) -> None:
    registry = tmp_path / "sites"
    registry.mkdir()
    # A port on loopback where nothing listens: the crawl must fail fast and say why.
    (registry / "dead.toml").write_text(
        'name = "Cổng chết"\nkind = "government"\nprovince = "Hà Nội"\n'
        'domains = ["127.0.0.1"]\nstart_urls = ["http://127.0.0.1:9/tin-tuc"]\n'
        "article_urls = ['-\\d+\\.html$']\n[crawl]\ndownload_delay = 0\n",
        encoding="utf-8",
    )
    result = run_cli("run", "--registry", str(registry), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "dead: FAILED" in result.stdout
    assert "publish" in result.stdout

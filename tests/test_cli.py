"""The command line: the registry listing and a portal's effective config, errors as one clear
line with exit status 2, and a run in which a portal is down: exit status 1, the others go on."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.registry import load_registry, load_site
from pipeline.cli import main
from tests.support.cli import run_cli

BUNDLED = load_registry()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_sites_lists_and_validates_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sites"]) == 0
    out = capsys.readouterr().out
    for site in BUNDLED.values():
        line = next(line for line in out.splitlines() if line.strip().startswith(site.slug + " "))
        assert site.family in line and site.name in line


def test_sites_shows_only_the_portals_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sites", "--sites", "uongbi,longbien"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert listed == ["uongbi", "longbien"]


@pytest.mark.parametrize("slug", sorted(BUNDLED))
def test_the_effective_config_is_a_portal_file_equal_to_the_portal(
    slug: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sites", "--show", slug]) == 0
    shown = capsys.readouterr().out
    site = BUNDLED[slug]
    assert f"# family {site.family}" in shown
    assert "article_urls = [" in shown and f"# family {site.family}" in shown.split("article_urls = ")[1].split("\n")[0]
    (tmp_path / f"{slug}.toml").write_text(shown, "utf-8")
    copy = load_site(tmp_path / f"{slug}.toml", families={})  # no family: everything is in the file
    assert copy.family == "generic"
    for field in ("name", "kind", "province", "domains", "start_urls", "feeds", "sitemaps", "max_listing_pages"):
        assert getattr(copy, field) == getattr(site, field), field
    for field in ("article_urls", "listing_urls", "deny_urls"):
        assert [p.pattern for p in getattr(copy, field)] == [p.pattern for p in getattr(site, field)], field
    assert (copy.crawl, copy.extract, copy.validate) == (site.crawl, site.extract, site.validate)


def test_an_unknown_family_names_the_file_the_field_and_the_families(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = BUNDLED["longbien"].path.read_text("utf-8").replace('family = "hanoi-gov"', 'family = "liferay7"')
    (tmp_path / "longbien.toml").write_text(config, "utf-8")
    assert main(["sites", "--registry", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert str(tmp_path / "longbien.toml") in line and "field 'family'" in line and "'liferay7'" in line
    assert "hanoi-gov" in line and "wordpress" in line


def test_unknown_portal_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crawl", "--sites", "atlantis", "--data-dir", str(tmp_path)]) == 2
    assert "atlantis" in one_error_line(capsys)
    assert main(["sites", "--show", "atlantis"]) == 2
    assert "atlantis" in one_error_line(capsys)


def test_sites_that_names_no_portal_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An unset shell variable: --sites "$PORTALS" must not mean every portal.
    assert main(["run", "--sites", " , ", "--data-dir", str(tmp_path)]) == 2
    assert "names no portal" in one_error_line(capsys)
    assert not (tmp_path / "runs").exists()


def test_bad_registry_names_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hong.toml").write_text('name = "x"\nkind = "government"\n', encoding="utf-8")
    assert main(["sites", "--registry", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert "hong.toml" in line and "field" in line


def test_missing_registry_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sites", "--registry", str(tmp_path / "nowhere")]) == 2
    assert "registry folder not found" in one_error_line(capsys)


def test_reextraction_of_days_with_no_crawl_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reextract", "--from", "2025-01-01", "--to", "2025-01-31", "--data-dir", str(tmp_path)]) == 2
    assert "nothing to re-extract: no crawl runs from 2025-01-01 to 2025-01-31" in one_error_line(capsys)
    assert main(["extract", "--from", "1/1/2025", "--data-dir", str(tmp_path)]) == 2
    assert "date_from='1/1/2025': not a date (YYYY-MM-DD)" in one_error_line(capsys)


@pytest.mark.slow
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
    assert "crawl    dead: FAILED: no page could be fetched" in result.stdout
    assert "(first: http://127.0.0.1:9/" in result.stdout  # the failure names the URL
    assert "(night) failed: 0 of 1 portals done, 1 failed" in result.stdout
    assert "failed portals:\n  dead: crawl: no page could be fetched" in result.stdout

"""The first hour as a user, for real: the README's quick start typed literally in a fresh
clone; the demo from another folder with relative paths and a portal of the user's own, on
127.0.0.1 in a folder of their own, next to the bundled ones and a broken portal file; and a
run interrupted with Ctrl-C, which still leaves its summary."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import duckdb
import pytest

from kernel.layout import DataLayout
from kernel.registry import SITES_DIR
from pipeline.storage import read_articles
from tests.conftest import gold_articles
from tests.support.cli import VNPORTALS, run_cli
from tests.support.portalserver import Page, PortalServer
from tests.test_engine import article_page

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def user_env() -> dict[str, str]:
    """The environment of a user's shell: none of this test run's virtual env or settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env = {k: v for k, v in env.items() if not k.startswith(("VNPORTALS_", "UV_PROJECT"))}
    env["UV_OFFLINE"] = "1"  # the tests stay offline: uv installs from its cache
    return env


def quarantine_query() -> str:
    """The README's DuckDB query of the quarantine, as printed there."""
    found = re.search(r'duckdb\.sql\("""(.*?)"""\)', README[README.index("### The quarantine") :], re.S)
    assert found, "the README's quarantine section has no DuckDB query"
    return found.group(1)


@pytest.mark.slow
def test_the_quick_start_typed_literally_in_a_fresh_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv is needed (.ci/run installs it)"
    clone = tmp_path / "vnportals"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    quick_start = README[README.index("## Quick start") :]
    first = quick_start.split("```sh\n", 1)[1].splitlines()[0].split("#")[0].strip()
    assert first == "uv sync && uv run vnportals demo"
    done = subprocess.run(
        ["bash", "-c", first], cwd=clone, env=user_env(), capture_output=True, text=True, timeout=1200, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "(night) succeeded: 8 of 8 portals done" in done.stdout
    # The default data dir is the clone's own data/, and every README path is printed as it is.
    rows = read_articles(DataLayout(clone / "data"))
    assert rows.num_rows == len(gold_articles())
    assert f"articles dataset: {clone / 'data' / 'articles'}" in done.stdout
    # The README's quarantine query works on the first run, with nothing held.
    monkeypatch.chdir(clone)
    assert duckdb.sql(quarantine_query()).fetchall() == []


def own_portal(server: PortalServer) -> str:
    """A small portal of the hanoi-gov family on the server; its site config."""
    articles = {f"/tin-tuc/phuong-mau-chinh-trang-do-thi-dot-{n}-424030{n}080000001.htm": n for n in range(1, 4)}
    server.pages.update(
        {
            "/robots.txt": Page("User-agent: *\nDisallow:\n", content_type="text/plain"),
            "/tin-tuc.htm": Page("".join(f"<a href='{path}'>Tin {n}</a> " for path, n in articles.items())),
            **{path: article_page(n) for path, n in articles.items()},
        }
    )
    return (
        'name = "Cổng thông tin điện tử phường Mẫu"\nkind = "government"\nprovince = "Hà Nội"\n'
        f'family = "hanoi-gov"\ndomains = ["127.0.0.1"]\nstart_urls = ["{server.base}/tin-tuc.htm"]\n'
        "sitemaps = []\n"
    )


@pytest.mark.slow
def test_the_demo_from_another_folder_with_relative_paths_and_a_portal_of_ones_own(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    mine = elsewhere / "rel" / "mine"
    mine.mkdir(parents=True)
    project_runs = sorted((REPO / "data" / "runs").glob("*.json")) if (REPO / "data" / "runs").is_dir() else []
    broken = (SITES_DIR / "uongbi.toml").read_text(encoding="utf-8").replace("kind = ", "kinds = ", 1)
    (mine / "hong.toml").write_text(broken, encoding="utf-8")
    with PortalServer() as server:
        (mine / "phuongmau.toml").write_text(own_portal(server), encoding="utf-8")
        result = run_cli(
            "demo", "--data-dir", "rel/data", "--registry", "bundled", "--registry", "rel/mine", cwd=elsewhere
        )
    out = result.stdout
    assert result.returncode == 1, out[-3000:] + result.stderr[-3000:]
    assert "(night) partial: 9 of 10 portals done, 1 failed" in out
    assert "crawl    phuongmau: 4 pages kept" in out and "validate phuongmau: 3 article pages, 3 passed" in out
    assert f"  hong: site config: {mine / 'hong.toml'}: field 'kind': is required" in out
    data = elsewhere / "rel" / "data"
    published = read_articles(DataLayout(data)).column("site").to_pylist()
    assert published.count("phuongmau") == 3 and len(published) == len(gold_articles()) + 3
    (summary,) = (data / "runs").glob("*.json")
    assert json.loads(summary.read_text(encoding="utf-8"))["data_dir"] == str(data)
    # Nothing went to the project's own data dir.
    after = sorted((REPO / "data" / "runs").glob("*.json")) if (REPO / "data" / "runs").is_dir() else []
    assert after == project_runs


@pytest.mark.slow
def test_a_run_interrupted_with_ctrl_c_still_leaves_its_summary(tmp_path: Path) -> None:
    # Ctrl-C goes to the terminal's whole process group: the CLI and its crawl process.
    proc = subprocess.Popen(
        [VNPORTALS, "demo", "--data-dir", "data"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if re.match(r"crawl \S+: started", line):
            break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, "".join(seen) + out + err
    assert "vnportals: interrupted" in err
    (path,) = (tmp_path / "data" / "runs").glob("*.json")
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert summary["outcome"] == "interrupted"
    assert summary["started_at"] <= summary["finished_at"] and summary["duration_s"] >= 0
    assert f"cut short; its summary: {path}" in err

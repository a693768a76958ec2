"""The report people open: a Data Docs site per run, ``validation/<run_id>/docs/``, that reads
without the internet.

The site is GX Data Docs (built by :mod:`expectations.gate`): the index lists the run's
validation results (one per portal and suite) and the suites; each result page shows every
expectation with what it observed and the failing rows (``batch_row``, ``article_id``,
``url``). GX's own page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome and
more from CDNs; ours (``report_templates/``, looked up before GX's) load the same versions
from the site's ``static/vendor/`` folder, copied from ``report_assets/`` (each package with
its licence), so a page references no external URL and opens fully styled offline. Beside
the GX pages, ``run.html`` shows the run's crawl and publish numbers (:func:`write_run_page`).

This module does not import Great Expectations: the run page can be written by a process
that never validates (the publish step, for instance).

Every run's site would otherwise hold its own copy of the ~1.4 MB of assets;
:func:`install_static_assets` keeps one copy for all runs (``validation/.static/``) and
hard-links it into each site, so a year of nightly reports costs pages, not assets.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from kernel.layout import write_atomic

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "report_templates"
ASSETS_DIR = PACKAGE_DIR / "report_assets"
SITE_NAME = "vnportals"
VENDOR = "static/vendor"
RUN_PAGE = "run.html"
RUN_NUMBERS = "run_numbers.json"


def static_root(renderer_type: str, suite_name: str | None = None) -> str:
    """The relative path from a page of the site to the site's root folder.

    Result pages live at ``validations/<suite>/<run name>/<run time>/<batch>.html`` and
    suite pages at ``expectations/<suite>.html``, a dotted suite name adding one folder per
    dot (GX's HtmlSiteStore layout); the index and the run page sit at the root."""
    dots = (suite_name or "").count(".")
    if "ValidationResults" in renderer_type or "ProfilingResults" in renderer_type:
        return "../" * (dots + 4)
    if "ExpectationSuite" in renderer_type:
        return "../" * (dots + 1)
    return ""


def asset_files() -> list[Path]:
    """The bundled files, relative to ``report_assets/`` (licences and notes included)."""
    return sorted(p.relative_to(ASSETS_DIR) for p in ASSETS_DIR.rglob("*") if p.is_file())


def install_static_assets(docs_dir: Path, shared_dir: Path) -> None:
    """Put the bundled assets into the site's ``static/vendor/``: hard links to one shared
    copy under ``shared_dir/vendor/`` (refreshed when the bundle changes; an older run keeps
    the files it was built with). Where hard links are impossible (another file system),
    the site gets copies."""
    for relative in asset_files():
        source = ASSETS_DIR / relative
        shared = shared_dir / "vendor" / relative
        target = docs_dir / VENDOR / relative
        if not (shared.is_file() and filecmp.cmp(source, shared, shallow=False)):
            _copy_aside(source, shared)
        if target.exists() and target.samefile(shared):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        linked = target.with_name(f".{target.name}.{os.getpid()}.link")
        try:
            os.link(shared, linked)
        except OSError:
            shutil.copyfile(shared, linked)
        linked.replace(target)


def _copy_aside(source: Path, path: Path) -> None:
    """A new file (a new inode) at ``path``: files linked from it elsewhere stay as they were."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(path)


# -- the run page -----------------------------------------------------------------------------
Numbers = Mapping[str, Any]


def read_run_numbers(docs_dir: Path) -> dict[str, Any]:
    """The numbers the run page shows, as last written (empty when none were given)."""
    path = docs_dir / RUN_NUMBERS
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return dict(data.get("sections", {}))


def write_run_page(docs_dir: Path, run_id: str, numbers: Numbers | None = None) -> Path:
    """Write ``run.html``: the run's numbers by section ("crawl", "extract", "publish"...).

    ``numbers`` maps a section name to its numbers; a section given again replaces the one
    written before, the others stay, so the validation step can write the crawl's numbers
    and the publish step add its own later. A section's value is shown as a table with a
    row per key when it maps names (portals) to mappings of numbers, as a two-column table
    when it maps names to numbers, and as text otherwise."""
    sections = read_run_numbers(docs_dir)
    for name, value in (numbers or {}).items():
        sections[str(name)] = _plain(value)
    updated = datetime.now(UTC).isoformat(timespec="seconds")
    write_atomic(
        docs_dir / RUN_NUMBERS,
        json.dumps({"run_id": run_id, "updated": updated, "sections": sections}, ensure_ascii=False, indent=1),
    )
    template = _environment().get_template("run_numbers.j2")
    page = template.render(
        run_id=run_id,
        updated=updated,
        sections=[_section(name, value) for name, value in sections.items()],
        static_root="",
        home_url="index.html",
        page_title=f"Run {run_id}",
    )
    path = docs_dir / RUN_PAGE
    write_atomic(path, page)
    return path


def _plain(value: Any) -> Any:
    """The value as JSON would keep it (tuples as lists, keys as strings, others as text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _section(name: str, value: Any) -> dict[str, Any]:
    """One section of the run page: a title and either a table or a line of text."""
    title = name.replace("_", " ").capitalize()
    if isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):
        columns: list[str] = []
        for row in value.values():
            columns += [c for c in row if c not in columns]
        rows = [[key, *(_cell(row.get(c)) for c in columns)] for key, row in value.items()]
        return {"name": name, "title": title, "header": ["", *columns], "rows": rows}
    if isinstance(value, Mapping):
        return {"name": name, "title": title, "header": [], "rows": [[k, _cell(v)] for k, v in value.items()]}
    return {"name": name, "title": title, "text": _cell(value)}


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )

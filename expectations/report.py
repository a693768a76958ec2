"""The report people open: a GX Data Docs site per run, ``validation/<run_id>/docs/``.

Data Docs are static HTML: the index lists the run's validation results (one per portal
and suite) and the suites; each result page shows every expectation with what it observed
and the failing rows (``batch_row``, ``article_id``, ``url``). GX draws the index's tables
with scripts fetched from CDNs, so on a machine without internet they would stay empty;
:class:`StaticIndexPageView` renders them as plain HTML tables instead (the result pages
are plain HTML already). Styles and icons still come from the CDNs when they can.

GX copies its ~4 MB of fonts and images into every site; :func:`share_static_assets` keeps
one copy for all runs (hard links), so a year of nightly reports costs pages, not assets.
"""

from __future__ import annotations

import filecmp
import os
from pathlib import Path
from typing import Any

from great_expectations.render.view.view import DefaultJinjaIndexPageView
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

TEMPLATES_DIR = Path(__file__).resolve().parent / "report_templates"
SITE_NAME = "vnportals"


class StaticIndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, with our ``bootstrap_table.j2`` looked up first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        loaders: list[BaseLoader] = [FileSystemLoader(str(TEMPLATES_DIR))]
        if self.env.loader is not None:
            loaders.append(self.env.loader)
        self.env.loader = ChoiceLoader(loaders)


def site_config(docs_dir: Path) -> dict[str, Any]:
    """A Data Docs site (SiteBuilder config) writing to ``docs_dir``."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "show_cta_footer": False,
            "view": {"module_name": __name__, "class_name": StaticIndexPageView.__name__},
        },
    }


def share_static_assets(docs_dir: Path, shared_dir: Path) -> None:
    """Replace the site's static files by hard links to one shared copy of each (same
    content only; where hard links are impossible the copies stay)."""
    static = docs_dir / "static"
    for path in sorted(static.rglob("*")):
        if not path.is_file():
            continue
        shared = shared_dir / path.relative_to(static)
        try:
            if not shared.exists():
                shared.parent.mkdir(parents=True, exist_ok=True)
                os.link(path, shared)
            elif not path.samefile(shared) and filecmp.cmp(path, shared, shallow=False):
                linked = path.with_name(f".{path.name}.link")
                os.link(shared, linked)
                linked.replace(path)
        except OSError:
            continue  # another file system, or no hard links: keep the copy

"""Many imitation portals from a few bundled ones, for runs that need a crowd of portals.

Each copy of a bundled portal is the same site under a host name of its own
(``uongbi.quangninh.gov.vn`` becomes ``uongbi2.quangninh.gov.vn``): its mirror folder with
every mention of the host rewritten, and its site config with the new domain and slug.
The result is a registry folder and a mirror folder that :class:`pipeline.mirror.MirrorServer`
serves, with the originals in both, so the originals' gold articles still apply to them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kernel.registry import load_registry
from pipeline.mirror import MIRROR_DIR

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ImitationPortals:
    registry: Path  # one site config per portal
    mirror: Path  # one folder per host, as the bundled mirror
    portals: list[str]  # every slug, originals included, in registry order


def copy_host(host: str, number: int) -> str:
    """The host of copy ``number``: the first label numbered, the rest kept."""
    first, _, rest = host.partition(".")
    return f"{first}{number}.{rest}"


def imitation_portals(root: Path, originals: list[str], copies: int) -> ImitationPortals:
    """The ``originals`` (bundled slugs) and ``copies`` copies of each under ``root``."""
    sites = load_registry()
    registry, mirror = root / "sites", root / "mirror"
    registry.mkdir(parents=True)
    mirror.mkdir(parents=True)
    for slug in originals:
        site = sites[slug]
        (host,) = site.domains
        config = (REPO / "kernel" / "sites" / f"{slug}.toml").read_text(encoding="utf-8")
        (registry / f"{slug}.toml").write_text(config, encoding="utf-8")
        shutil.copytree(MIRROR_DIR / host, mirror / host)
        for number in range(2, copies + 2):
            new_host = copy_host(host, number)
            (registry / f"{slug}{number}.toml").write_text(config.replace(host, new_host), encoding="utf-8")
            for path in sorted((MIRROR_DIR / host).rglob("*")):
                target = mirror / new_host / path.relative_to(MIRROR_DIR / host)
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes().replace(host.encode(), new_host.encode()))
    portals = sorted(load_registry(registry))
    return ImitationPortals(registry, mirror, portals)

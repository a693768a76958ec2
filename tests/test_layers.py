"""The packages' layers, read from the code's own imports: the kernel at the bottom imports
nothing of ours; crawlers, transforms and expectations import only the kernel; pipeline may
import all of those; the DAG files only pipeline. No arrow points up and no cycle exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("kernel", "crawlers", "transforms", "expectations", "pipeline", "dags")
# What each package may import of ours (besides itself).
ALLOWED: dict[str, set[str]] = {
    "kernel": set(),
    "crawlers": {"kernel"},
    "transforms": {"kernel"},
    "expectations": {"kernel"},
    "pipeline": {"kernel", "crawlers", "transforms", "expectations"},
    "dags": {"pipeline"},
}


def imported_packages(path: Path) -> set[str]:
    """Our top-level packages that a module imports (at any depth of the file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in OURS)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", OURS)
def test_no_import_points_up(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(bad)}"
        for path in modules(package)
        if (bad := imported_packages(path) - ALLOWED[package] - {package})
    ]
    assert not offenders, "\n".join(offenders)


def test_the_allowed_graph_has_no_cycle() -> None:
    done: set[str] = set()

    def visit(package: str, trail: tuple[str, ...]) -> None:
        assert package not in trail, " -> ".join((*trail, package))
        if package in done:
            return
        for lower in ALLOWED[package]:
            visit(lower, (*trail, package))
        done.add(package)

    for package in OURS:
        visit(package, ())


def test_every_package_is_checked() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(OURS), f"packages without a layer: {sorted(packages - set(OURS))}"

"""The crawler never reaches an address the registry did not name: checked on resolved
addresses and IP literals, for links and for redirects. The crawl runs in a network
namespace with only loopback, so even a broken guard cannot send a packet off the machine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crawlers.safety import is_public_address
from tests.netns_scenario import HOSTS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("203.113.131.1", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:10.0.0.1", False),
        ("2001:4860:4860::8888", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not shutil.which("unshare"):
        pytest.skip("util-linux 'unshare' is needed to build a loopback-only network namespace")
    work = tmp_path_factory.mktemp("netns")
    hosts = work / "hosts"
    hosts.write_text(HOSTS, encoding="utf-8")
    script = (
        f"mount --bind {hosts} /etc/hosts && ip link set lo up && exec {sys.executable} -m tests.netns_scenario {work}"
    )
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--net", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def events_for(scenario: dict[str, object], fragment: str) -> list[dict[str, object]]:
    return [e for e in scenario["events"] if fragment in str(e["url"])]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_only_the_registry_host_was_contacted(scenario: dict[str, object]) -> None:
    # Only the registry's host reached the server: sneaky.portal.test resolves to the same
    # 127.0.0.1 but is not named by the registry, so it was refused before connecting.
    assert scenario["hosts"] == [f"portal.test:{scenario['port']}"]
    assert "/bai/2.html" not in scenario["paths"]
    kept = {str(e["url"]) for e in scenario["events"] if e["outcome"] == "kept"}  # type: ignore[attr-defined]
    assert any(u.endswith("/bai/1.html") for u in kept)


@pytest.mark.slow
@pytest.mark.parametrize("fragment", ["sneaky.portal.test", "evil.portal.test", "meta.portal.test"])
def test_portal_subdomains_resolving_inside_are_refused(scenario: dict[str, object], fragment: str) -> None:
    (event,) = events_for(scenario, fragment)
    assert event["outcome"] == "error"
    assert str(event["error"]).startswith(f"refused: {fragment} resolves to")


@pytest.mark.slow
@pytest.mark.parametrize("fragment", ["169.254.169.254", "127.0.0.1:", "10.0.0.1", "file://"])
def test_off_portal_links_and_redirects_are_dropped(scenario: dict[str, object], fragment: str) -> None:
    events = events_for(scenario, fragment)
    assert all(e["outcome"] != "kept" for e in events)


@pytest.mark.slow
def test_a_portal_whose_name_does_not_resolve_fails_with_the_reason(scenario: dict[str, object]) -> None:
    dead = scenario["dead"]
    assert dead["ok"] is False  # type: ignore[index]
    assert "CannotResolveHostError" in str(dead["failure"]) or "DNS" in str(dead["failure"])  # type: ignore[index]

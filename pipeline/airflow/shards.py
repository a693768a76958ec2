"""Shards: the portals of a run cut into groups of a few dozen, one mapped task each.

A night of 700 portals as one task instance per portal and step would be 1,400 interpreter
start-ups, each importing Airflow and the pipeline for half a second of crawling. A shard
is ``VNPORTALS_PORTALS_PER_TASK`` portals (25 by default) that one crawl task crawls in one
crawl process and one extract task then extracts: tens of task instances a night.

Portals that share a host (district portals on one provincial server) always share a
shard, so that one crawl process holds the host's politeness for all of them; a shard may
therefore be larger than asked when such a group is. Otherwise the plan's order is kept,
so a shard is a run of neighbouring portals and its label (its first and last portal) says
where a portal is in the Grid view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict
from urllib.parse import urlsplit

from kernel.registry import Site


class Shard(TypedDict):
    """One mapped task's portals, as the plan task hands them on (plain values: XCom)."""

    label: str
    portals: list[str]


def portal_hosts(site: Site) -> set[str]:
    """The host names a portal's crawl talks to: its domains and the hosts of its absolute
    start URLs, feeds and sitemaps."""
    urls = (*site.start_urls, *site.feeds, *site.sitemaps)
    hosts = {d.lower() for d in site.domains} | {(urlsplit(u).hostname or "").lower() for u in urls}
    return (hosts - {""}) or {site.slug}


def host_groups(sites: Sequence[Site]) -> list[list[str]]:
    """The portals in groups that share no host with another group, in the order of each
    group's first portal; within a group, the order given."""
    owner: dict[str, int] = {}  # host -> index of the group that has it
    groups: list[list[int]] = []  # indexes into sites
    for index, site in enumerate(sites):
        found = sorted({owner[h] for h in portal_hosts(site) if h in owner})
        if not found:
            group = len(groups)
            groups.append([index])
        else:  # joins the first group it shares a host with, and merges any other into it
            group = found[0]
            groups[group].append(index)
            for other in found[1:]:
                groups[group] += groups[other]
                groups[other] = []
        for member in groups[group]:
            for host in portal_hosts(sites[member]):
                owner[host] = group
    return [[sites[i].slug for i in sorted(g)] for g in groups if g]


def shard_label(portals: Sequence[str]) -> str:
    """How a shard is named in the UI (its map index): its first and last portal."""
    if not portals:
        raise ValueError("a shard has at least one portal")
    if len(portals) == 1:
        return portals[0]
    return f"{portals[0]} .. {portals[-1]} ({len(portals)} portals)"


def make_shards(sites: Sequence[Site], per_task: int) -> list[Shard]:
    """The portals in shards of ``per_task`` (at least one), host groups kept whole."""
    if per_task < 1:
        raise ValueError(f"portals per task must be at least 1, not {per_task}")
    shards: list[list[str]] = []
    current: list[str] = []
    for group in host_groups(sites):
        if current and len(current) + len(group) > per_task:
            shards.append(current)
            current = []
        current = current + group
        if len(current) >= per_task:
            shards.append(current)
            current = []
    if current:
        shards.append(current)
    return [Shard(label=shard_label(portals), portals=portals) for portals in shards]

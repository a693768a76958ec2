"""The portal registry: one TOML file per portal under ``kernel/sites/``.

A portal is data, not code. Its file says where the crawl starts (listing pages, feeds,
sitemaps), which URLs are articles and which are listings worth following, which domains
the crawl may visit, and optional politeness overrides and extraction hints. This module
loads those files into typed, validated :class:`Site` objects; every error names the file
and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SITES_DIR = Path(__file__).resolve().parent / "sites"

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_KINDS = ("government", "party", "newspaper")


class RegistryError(ValueError):
    """A site config that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class Politeness:
    """Per-portal overrides of the crawl settings (``[crawl]`` table)."""

    download_delay: float | None = None
    concurrent_requests: int | None = None
    autothrottle_max_delay: float | None = None
    user_agent: str | None = None
    # Incremental crawling: a known article is fetched again (conditionally) only after this
    # many days; None never. Listing pagination stops at the first page with nothing new.
    recrawl_after_days: int | None = None
    stop_when_nothing_new: bool = True
    download_timeout: float | None = None


@dataclass(frozen=True)
class ExtractHints:
    """Optional extraction hints (``[extract]`` table): XPaths to drop or to keep."""

    drop_xpaths: tuple[str, ...] = ()
    body_xpaths: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidateThresholds:
    """Per-portal data-quality thresholds (``[validate]`` table), read by the validation step
    (see ``expectations/``). Row-level bounds quarantine single articles; batch-level shares
    and the article count fail the portal's whole batch."""

    min_body_words: int = 20
    max_body_words: int = 20_000
    # Share of the letters that only Vietnamese writes (ă đ ơ ư and tone-marked letters);
    # Vietnamese prose has 0.15-0.25, French or English text 0.
    min_vietnamese_share: float = 0.08
    max_undated_share: float = 0.2
    max_empty_body_share: float = 0.1
    # A batch fails when it has fewer than ratio x the median article count of the portal's
    # last count_history_runs runs (checked once min_history_runs runs are known).
    min_count_ratio: float = 0.2
    count_history_runs: int = 7
    min_history_runs: int = 3


@dataclass(frozen=True)
class Site:
    """One portal, as its site config describes it."""

    slug: str
    name: str
    kind: str
    province: str
    family: str
    domains: tuple[str, ...]
    start_urls: tuple[str, ...]
    feeds: tuple[str, ...]
    sitemaps: tuple[str, ...]
    article_urls: tuple[re.Pattern[str], ...]
    listing_urls: tuple[re.Pattern[str], ...]
    deny_urls: tuple[re.Pattern[str], ...]
    max_listing_pages: int
    enabled: bool
    path: Path
    crawl: Politeness = field(default_factory=Politeness)
    extract: ExtractHints = field(default_factory=ExtractHints)
    validate: ValidateThresholds = field(default_factory=ValidateThresholds)

    def is_article_url(self, url: str) -> bool:
        return _matches(self.article_urls, url) and not _matches(self.deny_urls, url)

    def is_listing_url(self, url: str) -> bool:
        return (
            _matches(self.listing_urls, url)
            and not _matches(self.deny_urls, url)
            and not _matches(self.article_urls, url)
        )

    def owns(self, url: str) -> bool:
        """True when the URL's host is one of the portal's domains or a subdomain of one."""
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.domains)


def _matches(patterns: tuple[re.Pattern[str], ...], url: str) -> bool:
    return any(p.search(url) for p in patterns)


class _Fields:
    """Reads typed fields out of one TOML table, raising errors that name file and field."""

    def __init__(self, path: Path, table: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.table = table
        self.prefix = prefix
        self.seen: set[str] = set()

    def error(self, name: str, message: str) -> RegistryError:
        return RegistryError(f"{self.path}: field '{self.prefix}{name}': {message}")

    def get(self, name: str, kind: type, default: Any = ..., *, required: bool = False) -> Any:
        self.seen.add(name)
        if name not in self.table:
            if required or default is ...:
                raise self.error(name, "is required")
            return default
        value = self.table[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(name, f"must be {kind.__name__}, got {type(value).__name__}")
        return value

    def text(self, name: str, default: Any = ...) -> Any:
        value = self.get(name, str, default)
        if isinstance(value, str) and not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def strings(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        values = self.get(name, list, [] if not required else ..., required=required)
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise self.error(f"{name}[{i}]", "must be a non-empty string")
        return tuple(values)

    def urls(self, name: str, domains: tuple[str, ...], *, required: bool = False) -> tuple[str, ...]:
        values = self.strings(name, required=required)
        for i, url in enumerate(values):
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            if parts.scheme not in ("http", "https") or not host:
                raise self.error(f"{name}[{i}]", f"{url!r} is not an http(s) URL")
            if not any(host == d or host.endswith("." + d) for d in domains):
                raise self.error(f"{name}[{i}]", f"{url!r} is not on the portal's domains {list(domains)}")
        return values

    def patterns(self, name: str, *, required: bool = False) -> tuple[re.Pattern[str], ...]:
        compiled = []
        for i, pattern in enumerate(self.strings(name, required=required)):
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise self.error(f"{name}[{i}]", f"bad regular expression {pattern!r}: {exc}") from exc
        return tuple(compiled)

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.error(unknown[0], "is not a known field")


def _domain_list(fields: _Fields) -> tuple[str, ...]:
    domains = fields.strings("domains", required=True)
    if not domains:
        raise fields.error("domains", "must list at least one domain")
    for i, domain in enumerate(domains):
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", domain):
            raise fields.error(f"domains[{i}]", f"{domain!r} must be a lower-case host name (no scheme, port or path)")
    return domains


def _validate_thresholds(fields: _Fields) -> ValidateThresholds:
    """The ``[validate]`` table: every field optional, defaults from :class:`ValidateThresholds`."""
    default = ValidateThresholds()
    values: dict[str, Any] = {}
    for name, value in vars(default).items():
        values[name] = fields.get(name, type(value), value)
    fields.reject_unknown()
    for name in ("min_vietnamese_share", "max_undated_share", "max_empty_body_share", "min_count_ratio"):
        if not 0.0 <= values[name] <= 1.0:
            raise fields.error(name, "must be between 0 and 1")
    for name in ("min_body_words", "count_history_runs", "min_history_runs"):
        if values[name] < (0 if name == "min_body_words" else 1):
            raise fields.error(name, "must not be negative" if name == "min_body_words" else "must be at least 1")
    if values["max_body_words"] < values["min_body_words"]:
        raise fields.error("max_body_words", "must not be below min_body_words")
    if values["min_history_runs"] > values["count_history_runs"]:
        raise fields.error("min_history_runs", "must not exceed count_history_runs")
    return ValidateThresholds(**values)


def load_site(path: Path) -> Site:
    """Load and validate one site config; raises :class:`RegistryError` naming file and field."""
    slug = path.stem
    if not SLUG_RE.match(slug):
        raise RegistryError(f"{path}: the file name must be a slug (lower-case letters, digits and '-'), got {slug!r}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot be read: {exc}") from exc

    fields = _Fields(path, data)
    kind = fields.text("kind")
    if kind not in _KINDS:
        raise fields.error("kind", f"must be one of {list(_KINDS)}, got {kind!r}")
    domains = _domain_list(fields)
    start_urls = fields.urls("start_urls", domains)
    feeds = fields.urls("feeds", domains)
    sitemaps = fields.urls("sitemaps", domains)
    if not (start_urls or feeds or sitemaps):
        raise fields.error("start_urls", "a portal needs start_urls, feeds or sitemaps")
    max_pages = fields.get("max_listing_pages", int, 50)
    if max_pages < 1:
        raise fields.error("max_listing_pages", "must be at least 1")

    crawl_table = fields.get("crawl", dict, {})
    crawl_fields = _Fields(path, crawl_table, "crawl.")
    politeness = Politeness(
        download_delay=crawl_fields.get("download_delay", float, None),
        concurrent_requests=crawl_fields.get("concurrent_requests", int, None),
        autothrottle_max_delay=crawl_fields.get("autothrottle_max_delay", float, None),
        user_agent=crawl_fields.text("user_agent", None),
        recrawl_after_days=crawl_fields.get("recrawl_after_days", int, None),
        stop_when_nothing_new=crawl_fields.get("stop_when_nothing_new", bool, True),
        download_timeout=crawl_fields.get("download_timeout", float, None),
    )
    crawl_fields.reject_unknown()
    if politeness.download_delay is not None and politeness.download_delay < 0:
        raise crawl_fields.error("download_delay", "must not be negative")
    if politeness.recrawl_after_days is not None and politeness.recrawl_after_days < 0:
        raise crawl_fields.error("recrawl_after_days", "must not be negative")
    if politeness.concurrent_requests is not None and politeness.concurrent_requests < 1:
        raise crawl_fields.error("concurrent_requests", "must be at least 1")

    extract_table = fields.get("extract", dict, {})
    extract_fields = _Fields(path, extract_table, "extract.")
    hints = ExtractHints(
        drop_xpaths=extract_fields.strings("drop_xpaths"),
        body_xpaths=extract_fields.strings("body_xpaths"),
    )
    extract_fields.reject_unknown()
    thresholds = _validate_thresholds(_Fields(path, fields.get("validate", dict, {}), "validate."))

    site = Site(
        slug=slug,
        name=fields.text("name"),
        kind=kind,
        province=fields.text("province"),
        family=fields.text("family", "generic"),
        domains=domains,
        start_urls=start_urls,
        feeds=feeds,
        sitemaps=sitemaps,
        article_urls=fields.patterns("article_urls", required=True),
        listing_urls=fields.patterns("listing_urls"),
        deny_urls=fields.patterns("deny_urls"),
        max_listing_pages=max_pages,
        enabled=fields.get("enabled", bool, True),
        path=path,
        crawl=politeness,
        extract=hints,
        validate=thresholds,
    )
    if not site.article_urls:
        raise fields.error("article_urls", "must list at least one pattern")
    fields.reject_unknown()
    return site


def load_registry(directory: Path | None = None) -> dict[str, Site]:
    """Load every ``*.toml`` in the directory (the bundled registry by default), by slug."""
    directory = directory or SITES_DIR
    if not directory.is_dir():
        raise RegistryError(f"{directory}: registry folder not found")
    sites: dict[str, Site] = {}
    for path in sorted(directory.glob("*.toml")):
        site = load_site(path)
        sites[site.slug] = site
    if not sites:
        raise RegistryError(f"{directory}: no site configs (*.toml) in the registry folder")
    return sites


def select_sites(sites: dict[str, Site], wanted: list[str] | None) -> list[Site]:
    """The portals named in ``wanted`` (all enabled portals when None), in registry order."""
    if not wanted:
        return [s for s in sites.values() if s.enabled]
    unknown = [w for w in wanted if w not in sites]
    if unknown:
        raise RegistryError(f"unknown portal {unknown[0]!r}; the registry has: {', '.join(sorted(sites))}")
    return [sites[w] for w in wanted]

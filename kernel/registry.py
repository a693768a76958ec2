"""The portal registry: one TOML file per portal under ``kernel/sites/``, and the CMS-family
templates under ``kernel/families/`` that the portal files build on.

A portal is data, not code. Its file says where the crawl starts (listing pages, feeds,
sitemaps), which URLs are articles and which are listings worth following, which domains
the crawl may visit, and optional politeness overrides, extraction hints and data-quality
thresholds. Most of that is the same for every portal built on one CMS, so a portal names
its ``family`` and the family's template brings the rest: URL patterns written relative to
the portal's domains, default feed and sitemap paths, hints. The portal file overrides what
differs, field by field (inside ``[crawl]``, ``[extract]`` and ``[validate]``, key by key).

Two forms are read relative to the portal, in templates and portal files alike:

* a URL pattern that starts with ``/`` (after an optional inline flag group such as
  ``(?i)``) is a path: it is anchored on the portal's domains (and their subdomains, any
  port), so it must match from the start of the path, query included; any other pattern is
  searched anywhere in the absolute URL (``re.search``);
* a start URL, feed or sitemap that starts with ``/`` is a path on the portal's site root:
  the scheme and host of its first absolute start URL, feed or sitemap, else
  ``https://<first domain>``.

This module loads the files into typed, validated :class:`Site` objects; every error names
the file (the template's, for a value the template brought) and the field. A registry is one
folder or several, combined (a user's own folder next to the bundled one):
:func:`read_registry` keeps each broken file's error apart, so that a broken portal fails
alone; :func:`load_registry` refuses the first one.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SITES_DIR = Path(__file__).resolve().parent / "sites"
FAMILIES_DIR = Path(__file__).resolve().parent / "families"

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_KINDS = ("government", "party", "newspaper")
#: The family of a portal that names none: no template, the portal file says everything.
GENERIC = "generic"

# Fields only a portal can have; a template may set every other field of a portal file.
_PORTAL_ONLY = ("name", "kind", "province", "family", "domains", "enabled")
_TABLES = ("crawl", "extract", "validate")
_URL_FIELDS = ("start_urls", "feeds", "sitemaps")
_PATTERN_FIELDS = ("article_urls", "listing_urls", "deny_urls")
_TEMPLATE_FIELDS = ("description", *_URL_FIELDS, *_PATTERN_FIELDS, "max_listing_pages", *_TABLES)
# A path pattern: "/..." or an inline flag group, then "/...".
_PATH_PATTERN_RE = re.compile(r"^(\(\?[aiLmsux]+\))?/")


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
    # Share of the article pages (URLs the portal's article_urls match) that the extractor
    # rejected or could not extract: above it the batch fails, naming the reasons.
    max_rejected_share: float = 0.2
    # A batch fails when it has fewer than ratio x the median article count of the portal's
    # last count_history_runs runs (checked once min_history_runs runs are known).
    min_count_ratio: float = 0.2
    count_history_runs: int = 7
    min_history_runs: int = 3


@dataclass(frozen=True)
class Family:
    """A CMS-family template: the fields it brings to every portal that names it."""

    name: str
    path: Path
    description: str
    table: Mapping[str, Any]


@dataclass(frozen=True)
class Site:
    """One portal, as its site config (with its family's template) describes it."""

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
    # Where each field's value came from: "portal", "family <name>" or "default"; keys are
    # field names, "crawl.<name>" etc. inside the tables.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    family_path: Path | None = None

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


def anchored_pattern(pattern: str, domains: tuple[str, ...]) -> str:
    """A path pattern (``/...``) anchored on the domains and their subdomains, any port;
    any other pattern as it is."""
    found = _PATH_PATTERN_RE.match(pattern)
    if not found:
        return pattern
    flags = found.group(1) or ""
    hosts = "|".join(re.escape(d) for d in domains)
    return f"{flags}^(?i:https?://(?:[a-z0-9-]+\\.)*(?:{hosts})(?::\\d+)?){pattern[len(flags) :]}"


class _Fields:
    """Reads typed fields out of one TOML table, raising errors that name file and field.

    ``origins`` maps a field to the template file it came from, so an error in a value the
    family brought names the template (and the portal that used it)."""

    def __init__(
        self, path: Path, table: Mapping[str, Any], prefix: str = "", origins: Mapping[str, Path] | None = None
    ) -> None:
        self.path = path
        self.table = table
        self.prefix = prefix
        self.origins = origins or {}
        self.seen: set[str] = set()

    def error(self, name: str, message: str) -> RegistryError:
        base = name.split("[", 1)[0]
        source = self.origins.get(self.prefix + base)
        where = f"{source} (the family template of {self.path})" if source else str(self.path)
        return RegistryError(f"{where}: field '{self.prefix}{name}': {message}")

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

    def paths(self, name: str) -> tuple[str, ...]:
        """A template's list of paths or path patterns: each must start with '/'."""
        values = self.strings(name)
        for i, value in enumerate(values):
            if not _PATH_PATTERN_RE.match(value):
                raise self.error(f"{name}[{i}]", f"{value!r} must be a path starting with '/' (relative to the portal)")
        return values

    def urls(self, name: str, domains: tuple[str, ...], root: str) -> tuple[str, ...]:
        resolved = []
        for i, value in enumerate(self.strings(name)):
            url = root + value if value.startswith("/") else value
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            if parts.scheme not in ("http", "https") or not host:
                raise self.error(f"{name}[{i}]", f"{value!r} is not an http(s) URL or a path starting with '/'")
            if not any(host == d or host.endswith("." + d) for d in domains):
                raise self.error(f"{name}[{i}]", f"{url!r} is not on the portal's domains {list(domains)}")
            resolved.append(url)
        return tuple(resolved)

    def patterns(
        self, name: str, domains: tuple[str, ...] = (), *, required: bool = False
    ) -> tuple[re.Pattern[str], ...]:
        compiled = []
        for i, pattern in enumerate(self.strings(name, required=required)):
            try:
                compiled.append(re.compile(anchored_pattern(pattern, domains) if domains else pattern))
            except re.error as exc:
                raise self.error(f"{name}[{i}]", f"bad regular expression {pattern!r}: {exc}") from exc
        return tuple(compiled)

    def reject_unknown(self, known: tuple[str, ...] | None = None) -> None:
        unknown = sorted(set(self.table) - (set(known) if known is not None else self.seen))
        if unknown:
            raise self.error(unknown[0], "is not a known field")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot be read: {exc}") from exc


def _domain_list(fields: _Fields) -> tuple[str, ...]:
    domains = fields.strings("domains", required=True)
    if not domains:
        raise fields.error("domains", "must list at least one domain")
    for i, domain in enumerate(domains):
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?", domain):
            raise fields.error(f"domains[{i}]", f"{domain!r} must be a lower-case host name (no scheme, port or path)")
    return domains


def _politeness(fields: _Fields) -> Politeness:
    """The ``[crawl]`` table."""
    politeness = Politeness(
        download_delay=fields.get("download_delay", float, None),
        concurrent_requests=fields.get("concurrent_requests", int, None),
        autothrottle_max_delay=fields.get("autothrottle_max_delay", float, None),
        user_agent=fields.text("user_agent", None),
        recrawl_after_days=fields.get("recrawl_after_days", int, None),
        stop_when_nothing_new=fields.get("stop_when_nothing_new", bool, True),
        download_timeout=fields.get("download_timeout", float, None),
    )
    fields.reject_unknown()
    if politeness.download_delay is not None and politeness.download_delay < 0:
        raise fields.error("download_delay", "must not be negative")
    if politeness.recrawl_after_days is not None and politeness.recrawl_after_days < 0:
        raise fields.error("recrawl_after_days", "must not be negative")
    if politeness.concurrent_requests is not None and politeness.concurrent_requests < 1:
        raise fields.error("concurrent_requests", "must be at least 1")
    return politeness


def _hints(fields: _Fields) -> ExtractHints:
    """The ``[extract]`` table."""
    hints = ExtractHints(drop_xpaths=fields.strings("drop_xpaths"), body_xpaths=fields.strings("body_xpaths"))
    fields.reject_unknown()
    return hints


def _validate_thresholds(fields: _Fields) -> ValidateThresholds:
    """The ``[validate]`` table: every field optional, defaults from :class:`ValidateThresholds`."""
    default = ValidateThresholds()
    values: dict[str, Any] = {}
    for name, value in vars(default).items():
        values[name] = fields.get(name, type(value), value)
    fields.reject_unknown()
    shares = ("min_vietnamese_share", "max_undated_share", "max_empty_body_share", "max_rejected_share")
    for name in (*shares, "min_count_ratio"):
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


# -- families -----------------------------------------------------------------------------
def load_family(path: Path) -> Family:
    """Load and check one CMS-family template; errors name the file and the field."""
    name = path.stem
    if not SLUG_RE.match(name):
        raise RegistryError(f"{path}: the file name must be a family name (lower-case letters, digits and '-')")
    data = _read_toml(path)
    fields = _Fields(path, data)
    description = fields.text("description")
    for url_field in _URL_FIELDS:
        fields.paths(url_field)
    for pattern_field in _PATTERN_FIELDS:
        fields.paths(pattern_field)
        fields.patterns(pattern_field)
    if fields.get("max_listing_pages", int, 50) < 1:
        raise fields.error("max_listing_pages", "must be at least 1")
    _politeness(_Fields(path, fields.get("crawl", dict, {}), "crawl."))
    _hints(_Fields(path, fields.get("extract", dict, {}), "extract."))
    _validate_thresholds(_Fields(path, fields.get("validate", dict, {}), "validate."))
    for portal_field in _PORTAL_ONLY:
        if portal_field in data:
            raise fields.error(portal_field, "belongs in the portal's own file, not in a family template")
    fields.reject_unknown(_TEMPLATE_FIELDS)
    return Family(name=name, path=path, description=description, table=data)


def load_families(directory: Path | None = None) -> dict[str, Family]:
    """Every template ``<family>.toml`` in the folder (the bundled ``kernel/families`` by default)."""
    directory = directory or FAMILIES_DIR
    if not directory.is_dir():
        return {}
    return {family.name: family for family in (load_family(p) for p in sorted(directory.glob("*.toml")))}


def _merged(
    portal: Mapping[str, Any], path: Path, family: Family | None
) -> tuple[dict[str, Any], dict[str, Path], dict[str, str]]:
    """The portal's table laid over its family's, the template file of each value it brought,
    and the origin of every field (for ``vnportals sites --show``)."""
    merged: dict[str, Any] = {}
    from_template: dict[str, Path] = {}
    origins: dict[str, str] = {}
    if family is not None:
        for key, value in family.table.items():
            if key == "description":
                continue
            merged[key] = dict(value) if key in _TABLES and isinstance(value, dict) else value
            names = [f"{key}.{sub}" for sub in value] if key in _TABLES and isinstance(value, dict) else [key]
            for name in names:
                from_template[name] = family.path
                origins[name] = f"family {family.name}"
    for key, value in portal.items():
        if key in _TABLES and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
            names = [f"{key}.{sub}" for sub in value]
        else:
            merged[key] = value
            names = [f"{key}.{sub}" for sub in value] if key in _TABLES and isinstance(value, dict) else [key]
        for name in names:
            from_template.pop(name, None)
            origins[name] = "portal"
    return merged, from_template, origins


def _site_root(table: Mapping[str, Any], domains: tuple[str, ...]) -> str:
    """Scheme and host of the first absolute start URL, feed or sitemap; else https://<first domain>."""
    for name in _URL_FIELDS:
        values = table.get(name)
        for value in values if isinstance(values, list) else []:
            if isinstance(value, str) and not value.startswith("/"):
                parts = urlsplit(value)
                if parts.scheme in ("http", "https") and parts.netloc:
                    return f"{parts.scheme}://{parts.netloc}"
    return f"https://{domains[0]}"


# -- portals ------------------------------------------------------------------------------
def load_site(path: Path, families: Mapping[str, Family] | None = None) -> Site:
    """Load and validate one site config over its family's template (the bundled families
    by default); raises :class:`RegistryError` naming file and field."""
    slug = path.stem
    if not SLUG_RE.match(slug):
        raise RegistryError(f"{path}: the file name must be a slug (lower-case letters, digits and '-'), got {slug!r}")
    data = _read_toml(path)
    families = load_families() if families is None else families
    portal_fields = _Fields(path, data)
    family_name = portal_fields.text("family", GENERIC)
    family = families.get(family_name)
    if family is None and family_name != GENERIC:
        known = ", ".join(sorted([GENERIC, *families]))
        raise portal_fields.error("family", f"unknown CMS family {family_name!r}; known families: {known}")
    table, from_template, origins = _merged(data, path, family)

    fields = _Fields(path, table, origins=from_template)
    fields.seen.add("family")
    kind = fields.text("kind")
    if kind not in _KINDS:
        raise fields.error("kind", f"must be one of {list(_KINDS)}, got {kind!r}")
    domains = _domain_list(fields)
    root = _site_root(table, domains)
    start_urls = fields.urls("start_urls", domains, root)
    feeds = fields.urls("feeds", domains, root)
    sitemaps = fields.urls("sitemaps", domains, root)
    if not (start_urls or feeds or sitemaps):
        raise fields.error("start_urls", "a portal needs start_urls, feeds or sitemaps (its own or its family's)")
    max_pages = fields.get("max_listing_pages", int, 50)
    if max_pages < 1:
        raise fields.error("max_listing_pages", "must be at least 1")

    def table_fields(name: str) -> _Fields:
        return _Fields(path, fields.get(name, dict, {}), f"{name}.", from_template)

    politeness = _politeness(table_fields("crawl"))
    hints = _hints(table_fields("extract"))
    thresholds = _validate_thresholds(table_fields("validate"))
    article_urls = fields.patterns("article_urls", domains, required=True)
    if not article_urls:
        raise fields.error("article_urls", "must list at least one pattern (its own or its family's)")
    site = Site(
        slug=slug,
        name=fields.text("name"),
        kind=kind,
        province=fields.text("province"),
        family=family_name,
        domains=domains,
        start_urls=start_urls,
        feeds=feeds,
        sitemaps=sitemaps,
        article_urls=article_urls,
        listing_urls=fields.patterns("listing_urls", domains),
        deny_urls=fields.patterns("deny_urls", domains),
        max_listing_pages=max_pages,
        enabled=fields.get("enabled", bool, True),
        path=path,
        crawl=politeness,
        extract=hints,
        validate=thresholds,
        origins=origins,
        family_path=family.path if family else None,
    )
    fields.reject_unknown()
    return site


#: The word that stands for the bundled registry in a list of registry folders.
BUNDLED_NAME = "bundled"

#: One registry folder, several (combined), or None for the bundled one.
Folders = Path | Sequence[Path] | None


def registry_folders(folders: Folders = None) -> tuple[Path, ...]:
    """The folders of a registry: the bundled one when None."""
    if folders is None:
        return (SITES_DIR,)
    if isinstance(folders, Path):
        return (folders,)
    return tuple(folders) or (SITES_DIR,)


def parse_folders(value: str, base: Path | None = None) -> tuple[Path, ...]:
    """Registry folders written as one string (``VNPORTALS_REGISTRY``): separated like
    ``PATH`` entries, ``bundled`` for the bundled registry, a relative folder taken against
    ``base`` (the working directory by default)."""
    base = base or Path.cwd()
    found = []
    for part in value.split(os.pathsep):
        part = part.strip()
        if part:
            found.append(SITES_DIR if part == BUNDLED_NAME else (base / Path(part).expanduser()).absolute())
    return tuple(found)


def describe_folders(folders: Folders = None) -> str:
    """The registry as a user reads it: 'the bundled registry' or its folders."""
    names = [BUNDLED_NAME if f == SITES_DIR else str(f) for f in registry_folders(folders)]
    return "the bundled registry" if names == [BUNDLED_NAME] else os.pathsep.join(names)


@dataclass(frozen=True)
class Registry:
    """Every portal of one or more registry folders: those that load, and those whose file is
    broken, each with its one-line error (file and field), so that a broken portal fails alone."""

    folders: tuple[Path, ...]
    sites: dict[str, Site]
    broken: dict[str, str]


def read_registry(folders: Folders = None, families: Mapping[str, Family] | None = None) -> Registry:
    """Load every ``*.toml`` of the folders (the bundled registry by default), keeping the
    broken files' errors by slug instead of raising. A folder that is missing or holds no
    portal at all is still an error for the whole registry; so is a slug found in two folders
    (which of the two to crawl is not ours to guess), for that slug."""
    dirs = registry_folders(folders)
    families = load_families() if families is None else families
    sites: dict[str, Site] = {}
    broken: dict[str, str] = {}
    where: dict[str, Path] = {}
    for directory in dirs:
        if not directory.is_dir():
            what = "not a folder" if directory.exists() else "registry folder not found"
            raise RegistryError(f"{directory}: {what}")
        paths = sorted(directory.glob("*.toml"))
        if not paths:
            raise RegistryError(f"{directory}: no site configs (*.toml) in the registry folder")
        for path in paths:
            slug = path.stem
            if slug in where:
                sites.pop(slug, None)
                broken[slug] = f"{path}: portal {slug!r} is also defined in {where[slug]}; keep one of the two"
                continue
            where[slug] = path
            try:
                sites[slug] = load_site(path, families)
            except RegistryError as exc:
                broken[slug] = str(exc)
    return Registry(folders=dirs, sites=sites, broken=broken)


def load_registry(folders: Folders = None, families: Mapping[str, Family] | None = None) -> dict[str, Site]:
    """Load every ``*.toml`` of the folders (the bundled registry by default), by slug; the
    first broken file raises :class:`RegistryError`."""
    registry = read_registry(folders, families)
    if registry.broken:
        raise RegistryError(next(iter(registry.broken.values())))
    return registry.sites


def select_sites(sites: dict[str, Site], wanted: list[str] | None) -> list[Site]:
    """The portals named in ``wanted``, in that order (every enabled portal, in registry order,
    when None)."""
    if not wanted:
        return [s for s in sites.values() if s.enabled]
    unknown = [w for w in wanted if w not in sites]
    if unknown:
        raise RegistryError(f"unknown portal {unknown[0]!r}; the registry has: {', '.join(sorted(sites))}")
    return [sites[w] for w in wanted]


# -- the effective config -------------------------------------------------------------------
def _toml_string(value: str) -> str:
    if "'" not in value and "\n" not in value:
        return f"'{value}'"  # a literal string: regexes read as written
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, re.Pattern):
        return _toml_string(value.pattern)
    if isinstance(value, str):
        return _toml_string(value) if "\\" in value else '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def effective_config(site: Site) -> str:
    """The portal's effective config as TOML: every field the crawl and the pipeline use,
    with patterns anchored and paths resolved, each marked with where it came from. It is a
    valid portal file in its own right (with no family), equivalent to the portal's."""
    lines = [f"# {site.slug}: {site.path}"]
    if site.family_path is not None:
        lines.append(f"# family {site.family}: {site.family_path}")
    top = (
        ("name", site.name),
        ("kind", site.kind),
        ("province", site.province),
        ("domains", site.domains),
        ("start_urls", site.start_urls),
        ("feeds", site.feeds),
        ("sitemaps", site.sitemaps),
        ("article_urls", site.article_urls),
        ("listing_urls", site.listing_urls),
        ("deny_urls", site.deny_urls),
        ("max_listing_pages", site.max_listing_pages),
        ("enabled", site.enabled),
    )
    for name, value in top:
        lines.append(f"{name} = {_toml_value(value)}  # {site.origins.get(name, 'default')}")
    for table, values in (("crawl", site.crawl), ("extract", site.extract), ("validate", site.validate)):
        lines.append(f"\n[{table}]")
        for item in dataclass_fields(values):
            value = getattr(values, item.name)
            if value is None:
                continue
            origin = site.origins.get(f"{table}.{item.name}", "default")
            lines.append(f"{item.name} = {_toml_value(value)}  # {origin}")
    return "\n".join(lines) + "\n"

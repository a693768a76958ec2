"""The ``vnportals`` command line: sites, crawl, extract, validate, publish, run, demo.

Every subcommand takes ``--data-dir`` (default ``./data``), ``--sites`` (comma-separated
slugs; all enabled portals by default) and ``--registry`` (a folder of site configs; the
bundled ``kernel/sites`` by default). Errors are one line naming the portal, file or URL,
with exit status 2; a run in which some portal failed exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from kernel.layout import DataLayout
from kernel.registry import RegistryError, Site, load_registry, select_sites
from pipeline.mirror import MIRROR_DIR, MirrorServer
from pipeline.steps import (
    RunSummary,
    ValidationFailed,
    crawl_step,
    extract_step,
    publish_step,
    run_all,
    validate_step,
)


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _say(message: str) -> None:
    print(message, flush=True)


def _sites(args: argparse.Namespace) -> list[Site]:
    registry = load_registry(args.registry)
    wanted = [s.strip() for s in args.sites.split(",") if s.strip()] if args.sites else None
    chosen = select_sites(registry, wanted)
    if not chosen:
        raise CliError("no enabled portals to work on (see 'vnportals sites')")
    return chosen


def cmd_sites(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    _say(f"{len(registry)} portals in {args.registry or 'the bundled registry'}, all valid:")
    for site in registry.values():
        state = "" if site.enabled else "  (disabled)"
        sources = len(site.start_urls) + len(site.feeds) + len(site.sitemaps)
        _say(
            f"  {site.slug:<14} {site.kind:<10} {site.province:<12} {site.name}  "
            f"[{', '.join(site.domains)}; {sources} start points]{state}"
        )
    return 0


def cmd_crawl(args: argparse.Namespace) -> int:
    sites = _sites(args)
    summaries = crawl_step(sites, args.data_dir, registry_dir=args.registry, mirror_url=args.mirror_url, progress=_say)
    return 1 if any(not s.ok for s in summaries) else 0


def cmd_extract(args: argparse.Namespace) -> int:
    sites = _sites(args)
    results = extract_step(sites, args.data_dir, reextract=args.all, progress=_say)
    return 1 if any(r.failed for r in results) else 0


def cmd_validate(args: argparse.Namespace) -> int:
    sites = _sites(args)
    try:
        validate_step(sites, args.data_dir, run_id=args.run, revalidate=args.all, progress=_say)
    except ValidationFailed as failed:
        _say(str(failed))
        return 1
    layout = DataLayout(args.data_dir)
    _say(f"validated batches: {layout.validated}  quarantine: {layout.quarantine}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    sites = _sites(args)
    publish_step(sites, args.data_dir, progress=_say)
    _say(f"dataset: {DataLayout(args.data_dir).articles}")
    return 0


def _report(summary: RunSummary, data_dir: Path) -> int:
    layout = DataLayout(data_dir)
    _say("")
    _say(f"run {summary.run_id} done:")
    for crawl in summary.crawl:
        _say("  crawl   " + crawl.line())
    for extract in summary.extract:
        _say("  extract " + extract.line())
    if summary.validate:
        for portal in summary.validate.portals:
            _say("  validate " + portal.line())
    if summary.publish:
        _say("  publish " + summary.publish.line())
    _say(f"articles dataset: {layout.articles}  (hive partitions published_month=YYYY-MM)")
    _say(f"raw archive:      {layout.raw}")
    _say(f"quarantine:       {layout.quarantine}  (hive partitions run_date=YYYY-MM-DD)")
    if summary.validate and summary.validate.report_path:
        _say(f"validation report: {summary.validate.report_path}")
    _say(f"run summary:      {layout.run_summary_path(summary.run_id)}")
    if summary.validation_failure:
        _say(summary.validation_failure)
    if summary.failed_sites:
        _say("failed portals: " + "; ".join(c.line() for c in summary.failed_sites))
        return 1
    return 1 if summary.validation_failure else 0


def cmd_run(args: argparse.Namespace) -> int:
    sites = _sites(args)
    summary = run_all(sites, args.data_dir, registry_dir=args.registry, mirror_url=args.mirror_url, progress=_say)
    return _report(summary, args.data_dir)


def cmd_demo(args: argparse.Namespace) -> int:
    sites = _sites(args)
    if not MIRROR_DIR.is_dir():
        raise CliError(f"{MIRROR_DIR}: the bundled offline mirror is missing (run from a clone)")
    with MirrorServer(MIRROR_DIR) as mirror:
        _say(f"offline mirror of {len(mirror.hosts())} portals serving on {mirror.url}")
        summary = run_all(sites, args.data_dir, registry_dir=args.registry, mirror_url=mirror.url, progress=_say)
    return _report(summary, args.data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vnportals",
        description="Crawl, clean and publish articles from Vietnamese news portals.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="where raw pages, batches and the dataset live (default: ./data)",
    )
    common.add_argument("--sites", default=None, help="comma-separated portal slugs (default: all enabled portals)")
    common.add_argument(
        "--registry",
        type=Path,
        default=None,
        help="folder of site configs (default: the bundled kernel/sites)",
    )
    commands: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
        "sites": ("list and validate the portal registry", cmd_sites),
        "crawl": ("crawl the portals into the raw archive", cmd_crawl),
        "extract": ("extract articles from the raw archive", cmd_extract),
        "validate": ("check extracted batches: passing rows to publish, failing ones to quarantine", cmd_validate),
        "publish": ("merge validated articles into the Parquet dataset", cmd_publish),
        "run": ("crawl, extract, validate and publish against the real portals", cmd_run),
        "demo": ("serve the bundled offline mirror and run every step against it", cmd_demo),
    }
    for name, (help_text, func) in commands.items():
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name in ("crawl", "run"):
            p.add_argument("--mirror-url", default=None, help="answer every request from this mirror server (testing)")
        if name == "extract":
            p.add_argument("--all", action="store_true", help="re-extract every WARC, not only the new ones")
        if name == "validate":
            p.add_argument("--run", default=None, help="validate (again) this run's batches, e.g. 20261123T010000Z")
            p.add_argument("--all", action="store_true", help="validate every extracted batch again")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"vnportals: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vnportals: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

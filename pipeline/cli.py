"""The ``vnportals`` command line: a thin adapter over the run engine (:mod:`pipeline.engine`).

Every subcommand takes ``--data-dir`` (default ``./data``), ``--sites`` (comma-separated
slugs; all enabled portals by default) and ``--registry`` (a folder of site configs; the
bundled ``kernel/sites`` by default). Each command that works on the data is one run of the
engine: it prints what each step does as it goes, then the run's report, and writes the
run's summary to ``runs/<run_id>.json``. Exit status: 0 when every portal is done, 1 when
some portal failed (the others were published), 2 for a usage or configuration error (one
line naming the portal, file, field or URL), 3 when the data dir is in use by another run,
130 when interrupted.

The commands that work on the data hold the data dir's run lock (:mod:`pipeline.run_lock`)
for their whole run: one run at a time per data dir. ``vnportals status`` only reads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from kernel.layout import DataLayout
from kernel.registry import RegistryError, effective_config, load_registry, select_sites
from pipeline.engine import Engine, RunReport
from pipeline.mirror import BUNDLED, serving
from pipeline.run_lock import DataDirBusyError, run_lock
from pipeline.status import status_lines


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _say(message: str) -> None:
    print(message, flush=True)


def _wanted(args: argparse.Namespace) -> list[str] | None:
    if args.sites is None:
        return None
    names = [s.strip() for s in args.sites.split(",") if s.strip()]
    if not names:
        raise CliError(f"--sites {args.sites!r} names no portal (leave it out for every enabled portal)")
    return names


def _engine(args: argparse.Namespace) -> Engine:
    # Paths are taken against the user's working directory, once, here: the crawl processes
    # and Great Expectations' stores are handed absolute paths.
    registry = args.registry.absolute() if args.registry else None
    return Engine(args.data_dir.absolute(), registry, progress=_say)


def _by(args: argparse.Namespace) -> dict[str, str]:
    """The run report's ``orchestrator`` field for this command."""
    return {"name": "cli", "command": str(args.command)}


def _report(report: RunReport) -> int:
    _say("")
    for line in report.lines():
        _say(line)
    return 0 if report.ok else 1


def cmd_sites(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    if args.show:
        (site,) = select_sites(registry, [args.show])
        _say(effective_config(site).rstrip("\n"))
        return 0
    chosen = select_sites(registry, _wanted(args))
    where = args.registry or "the bundled registry"
    _say(f"{len(registry)} portals in {where}, all valid; {len(chosen)} shown:")
    for site in chosen:
        state = "" if site.enabled else "  (disabled)"
        sources = len(site.start_urls) + len(site.feeds) + len(site.sitemaps)
        _say(
            f"  {site.slug:<14} {site.kind:<10} {site.family:<24} {site.province:<12} {site.name}  "
            f"[{', '.join(site.domains)}; {sources} start points]{state}"
        )
    _say("the effective config of one portal: vnportals sites --show SLUG")
    return 0


def cmd_crawl(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_crawl(_wanted(args), orchestrator=_by(args))
    return _report(engine.run(plan, mirror_url=args.mirror_url))


def cmd_extract(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_extract(
        _wanted(args), everything=args.all, date_from=args.date_from, date_to=args.date_to, orchestrator=_by(args)
    )
    return _report(engine.run(plan))


def cmd_reextract(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_extract(
        _wanted(args), kind="reextract", date_from=args.date_from, date_to=args.date_to, orchestrator=_by(args)
    )
    return _report(engine.run(plan))


def cmd_validate(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_validate(_wanted(args), batch_run=args.run, everything=args.all, orchestrator=_by(args))
    return _report(engine.run(plan))


def cmd_publish(args: argparse.Namespace) -> int:
    engine = _engine(args)
    return _report(engine.run(engine.plan_publish(_wanted(args), orchestrator=_by(args))))


def cmd_run(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_night(_wanted(args), orchestrator=_by(args))
    return _report(engine.run(plan, mirror_url=args.mirror_url))


def cmd_demo(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_night(_wanted(args), orchestrator=_by(args))
    with serving(BUNDLED) as url:
        _say(f"the bundled offline mirror is serving on {url}: nothing leaves this machine")
        report = engine.run(plan, mirror_url=url)
    return _report(report)


def cmd_status(args: argparse.Namespace) -> int:
    engine = _engine(args)
    portals = [s.slug for s in engine.choose(_wanted(args))]
    for line in status_lines(engine.layout, portals):
        _say(line)
    return 0


#: The commands that change the data dir: they hold its run lock.
WRITERS = frozenset({"crawl", "extract", "reextract", "validate", "publish", "run", "demo"})


def _data_dir_lock(args: argparse.Namespace) -> AbstractContextManager[None]:
    if args.command not in WRITERS:
        return nullcontext()
    return _held(args)


@contextmanager
def _held(args: argparse.Namespace) -> Iterator[None]:
    """The data dir's run lock for this command; raises DataDirBusyError when another run has it."""
    layout = DataLayout(args.data_dir.absolute())
    with run_lock(layout, command=f"vnportals {args.command}") as taken_over:
        if taken_over is not None:
            _say(
                f"run lock of data dir {layout.root}: taken over from {taken_over.describe()}, "
                "which ended without releasing it"
            )
        yield


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vnportals",
        description="Crawl, clean, validate and publish articles from Vietnamese news portals.",
        epilog="exit status: 0 every portal done, 1 some portal failed (the others published), "
        "2 usage or configuration error, 3 the data dir is in use by another run, 130 interrupted",
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
        "sites": ("list and validate the portal registry; --show SLUG prints a portal's effective config", cmd_sites),
        "crawl": ("crawl the portals into the raw archive", cmd_crawl),
        "extract": ("extract articles from the raw archive", cmd_extract),
        "validate": ("check extracted batches: passing rows to publish, failing ones to quarantine", cmd_validate),
        "publish": ("merge validated articles into the Parquet dataset", cmd_publish),
        "run": ("crawl, extract, validate and publish: one night", cmd_run),
        "reextract": ("extract archived crawls again, validate and publish them: no fetching", cmd_reextract),
        "demo": ("serve the bundled offline mirror and run a night against it", cmd_demo),
        "status": (
            "per portal: the last complete night, what is unfinished, what the next run resumes",
            cmd_status,
        ),
    }
    for name, (help_text, func) in commands.items():
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name == "sites":
            p.add_argument("--show", metavar="SLUG", default=None, help="print the portal's effective config as TOML")
        if name in ("crawl", "run"):
            p.add_argument("--mirror-url", default=None, help="answer every request from this mirror server (testing)")
        if name == "extract":
            p.add_argument("--all", action="store_true", help="re-extract every WARC, not only the new ones")
        if name in ("extract", "reextract"):
            p.add_argument(
                "--from", dest="date_from", metavar="DAY", help="crawls from this day on (YYYY-MM-DD, Vietnam time)"
            )
            p.add_argument("--to", dest="date_to", metavar="DAY", help="crawls up to this day (YYYY-MM-DD, inclusive)")
        if name == "validate":
            p.add_argument("--run", default=None, help="validate (again) this run's batches, e.g. 20261123T010000Z")
            p.add_argument("--all", action="store_true", help="validate every extracted batch again")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _data_dir_lock(args):
            return int(args.func(args))
    except DataDirBusyError as exc:
        print(f"vnportals: error: {exc}", file=sys.stderr)
        return 3
    except (CliError, RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"vnportals: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vnportals: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

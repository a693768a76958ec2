"""The ``vnportals`` command line: a thin adapter over the run engine (:mod:`pipeline.engine`).

Every subcommand takes ``--data-dir`` (default ``$VNPORTALS_DATA_DIR``, else ``./data``),
``--sites`` (comma-separated slugs; all enabled portals by default) and ``--registry`` (a
folder of site configs, repeatable, ``bundled`` for the bundled one; default
``$VNPORTALS_REGISTRY``, else the bundled ``kernel/sites``). Paths are taken against the
working directory once, before anything starts, and handed on absolute. Each command that
works on the data is one run of the engine: it prints what each step does as it goes, then
the run's report, and writes the run's summary to ``runs/<run_id>.json`` (also when the run
is interrupted). Every error a user can cause is one line on stderr and an exit status of
:data:`EXIT_CODES`.

The commands that work on the data hold the data dir's run lock (:mod:`pipeline.run_lock`)
for their whole run: one run at a time per data dir; ``vnportals status`` only reads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from kernel.layout import DataLayout
from kernel.registry import (
    SITES_DIR,
    SLUG_RE,
    RegistryError,
    describe_folders,
    effective_config,
    load_families,
    load_site,
    parse_folders,
    read_registry,
    select_sites,
)
from pipeline.engine import Engine, Plan, RunReport
from pipeline.mirror import BUNDLED, serving
from pipeline.run_lock import DataDirBusyError, run_lock
from pipeline.status import status_lines

OK, PORTAL_FAILED, USAGE, ENVIRONMENT, INTERRUPTED = 0, 1, 2, 3, 130
#: Every exit status, as ``--help`` and the README give them.
EXIT_CODES: dict[int, str] = {
    OK: "every portal done",
    PORTAL_FAILED: "some portal failed (its crawl, extraction, validation or site config); the others were published",
    USAGE: "usage or configuration error: a bad option, an unknown portal or run id, a broken or missing registry",
    ENVIRONMENT: (
        "environment error: the data dir is a file, cannot be created or written, or is in use by another run; "
        "a local Airflow is running"
    ),
    INTERRUPTED: "interrupted (Ctrl-C); the run's summary is written with outcome 'interrupted'",
}
EXAMPLES = """\
examples:
  vnportals demo                                   a night against the bundled offline mirror, into ./data
  vnportals run --sites longbien,uongbi            crawl, extract, validate and publish two portals
  vnportals sites new mytown --family wordpress --domain mytown.gov.vn --registry my-portals
  vnportals run --registry bundled --registry my-portals   your portals next to the bundled ones
  vnportals validate --run 20261123T010000Z        validate one run's batches again
"""


class CliError(Exception):
    """A usage or configuration error: printed as one line, exit status 2."""


class MachineError(Exception):
    """The machine stands in the way (a data dir that is a file, unwritable, a full disk):
    printed as one line, exit status 3."""


def _say(message: str) -> None:
    print(message, flush=True)


def _package_version() -> str:
    try:
        return version("vnportals")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


# -- paths: resolved once, against the user's working directory ----------------------------------
def resolve_paths(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> None:
    """Turn ``--data-dir`` and ``--registry`` (or their environment variables) into absolute
    paths, in place: ``args.data_dir`` a Path, ``args.registry`` a tuple of folders or None."""
    env = os.environ if environ is None else environ
    cwd = Path.cwd()
    raw_data = args.data_dir or env.get("VNPORTALS_DATA_DIR", "").strip() or "data"
    args.data_dir = (cwd / Path(raw_data).expanduser()).absolute()
    folders: tuple[Path, ...] = ()
    for value in args.registry or [env.get("VNPORTALS_REGISTRY", "")]:
        folders += parse_folders(value, cwd)
    if args.registry and not folders:
        raise CliError(f"--registry {args.registry[0]!r} names no folder")
    args.registry = folders or None


def usable_data_dir(path: Path) -> None:
    """Check that the data dir is a folder this process can write (creating it when missing);
    raises :class:`MachineError` saying what is wrong and what to do."""
    hint = "choose another with --data-dir or VNPORTALS_DATA_DIR"
    if path.exists() and not path.is_dir():
        raise MachineError(f"data dir {path}: is a file, not a folder; {hint}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MachineError(f"data dir {path}: cannot be created: {exc.strerror or exc}; {hint}") from exc
    try:
        handle, probe = tempfile.mkstemp(dir=path, prefix=".vnportals-probe-")
        os.close(handle)
        Path(probe).unlink()
    except OSError as exc:
        raise MachineError(f"data dir {path}: cannot be written: {exc.strerror or exc}; {hint}") from exc


def _wanted(args: argparse.Namespace) -> list[str] | None:
    if args.sites is None:
        return None
    names = [s.strip() for s in args.sites.split(",") if s.strip()]
    if not names:
        raise CliError(f"--sites {args.sites!r} names no portal (leave it out for every enabled portal)")
    return names


def _engine(args: argparse.Namespace) -> Engine:
    usable_data_dir(args.data_dir)
    return Engine(args.data_dir, args.registry, progress=_say)


def _by(args: argparse.Namespace) -> dict[str, str]:
    """The run report's ``orchestrator`` field for this command."""
    return {"name": "cli", "command": str(args.command)}


def _report(report: RunReport) -> int:
    _say("")
    for line in report.lines():
        _say(line)
    return OK if report.ok else PORTAL_FAILED


def _run(engine: Engine, plan: Plan, mirror_url: str | None = None) -> int:
    """Run the plan and print its report; a run cut short (Ctrl-C, an error no step held)
    still gets its summary, with outcome ``interrupted``, before the error goes on."""
    try:
        report = engine.run(plan, mirror_url=mirror_url)
    except BaseException:
        with contextlib.suppress(Exception):
            cut = engine.finish(plan, cut_short=True)
            print(f"vnportals: run {plan.run_id} cut short; its summary: {cut.path}", file=sys.stderr)
        raise
    return _report(report)


# -- the commands --------------------------------------------------------------------------------
def cmd_sites(args: argparse.Namespace) -> int:
    if args.action == "new":
        return _new_site(args)
    if args.slug is not None:
        raise CliError(f"unexpected {args.slug!r}: did you mean 'vnportals sites new {args.slug}'?")
    registry = read_registry(args.registry)
    where = describe_folders(args.registry)
    if args.show:
        if args.show in registry.broken:
            raise RegistryError(registry.broken[args.show])
        (site,) = select_sites(registry.sites, [args.show])
        _say(effective_config(site).rstrip("\n"))
        return OK
    wanted = _wanted(args)
    unknown = [w for w in wanted or [] if w not in registry.sites and w not in registry.broken]
    if unknown:
        known = ", ".join(sorted({*registry.sites, *registry.broken}))
        raise RegistryError(f"unknown portal {unknown[0]!r}; {where} has: {known}")
    shown = [registry.sites[w] for w in wanted or registry.sites if w in registry.sites]
    broken = {slug: why for slug, why in registry.broken.items() if wanted is None or slug in wanted}
    valid = "all valid" if not registry.broken else f"{len(registry.broken)} broken"
    _say(f"{len(registry.sites) + len(registry.broken)} portals in {where}, {valid}; {len(shown)} shown:")
    for site in shown:
        state = "" if site.enabled else "  (disabled)"
        sources = len(site.start_urls) + len(site.feeds) + len(site.sitemaps)
        _say(
            f"  {site.slug:<14} {site.kind:<10} {site.family:<24} {site.province:<12} {site.name}  "
            f"[{', '.join(site.domains)}; {sources} start points]{state}"
        )
    _say("the effective config of one portal: vnportals sites --show SLUG")
    for why in broken.values():
        print(f"vnportals: error: {why}", file=sys.stderr)
    return USAGE if broken else OK


def starting_file(slug: str, family: str, domain: str | None) -> str:
    """A portal file to start from: valid as it is, with what to change marked."""
    enabled = domain is not None
    host = domain or f"{slug}.example"
    fields = [
        (f'name = "{slug}"', "the portal's name, as it calls itself"),
        ('kind = "government"', "government | party | newspaper"),
        ('province = "Hà Nội"', "the province or city it belongs to"),
        (
            f'family = "{family}"',
            "no template: this file says everything" if family == "generic" else "its template brings the patterns",
        ),
        (f'domains = ["{host}"]', "the crawl never leaves these" + ("" if enabled else " (.example never resolves)")),
        ('start_urls = ["/"]', "listing pages to start from (a path is on the first domain)"),
    ]
    if family == "generic":
        fields.append(("article_urls = ['/tin-tuc/.+[.]html$']", "regexes of article URLs (a path is anchored)"))
    if not enabled:
        fields.append(("enabled = false", "true once domains names the portal's host"))
    lines = [f"# {slug}: check it with 'vnportals sites --registry <this folder>'"]
    lines += [f"{field:<40} # {comment}" for field, comment in fields]
    return "\n".join(lines) + "\n"


def _new_site(args: argparse.Namespace) -> int:
    slug = args.slug
    if slug is None:
        raise CliError("vnportals sites new SLUG --family FAMILY: name the portal (its file is SLUG.toml)")
    if not SLUG_RE.match(slug):
        raise CliError(f"{slug!r} is not a slug: lower-case letters, digits and '-', starting with a letter or digit")
    families = load_families()
    family = args.family or "generic"
    if family != "generic" and family not in families:
        raise CliError(f"--family {family!r} is not a known family; known: {', '.join(['generic', *families])}")
    folders = [f for f in args.registry or () if f != SITES_DIR]
    if args.registry and not folders:
        raise CliError("--registry bundled: the bundled registry is for the bundled portals; give your own folder")
    folder = folders[0] if folders else Path.cwd() / "portals"
    path = folder / f"{slug}.toml"
    if path.exists():
        raise CliError(f"{path}: already exists; edit it, or choose another slug")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(starting_file(slug, family, args.domain), encoding="utf-8")
    except OSError as exc:
        raise MachineError(f"{path}: cannot be written: {exc.strerror or exc}") from exc
    try:
        load_site(path, families)
    except RegistryError as exc:  # a --domain the registry refuses: say so, keep the file to edit
        raise CliError(f"wrote {path}, but it does not load: {exc}") from exc
    _say(f"wrote {path}")
    _say(f"edit it, then check it: vnportals sites --registry {folder}")
    _say(f"and crawl it with the bundled portals: vnportals run --registry bundled --registry {folder}")
    return OK


def cmd_crawl(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_crawl(_wanted(args), orchestrator=_by(args))
    return _run(engine, plan, args.mirror_url)


def cmd_extract(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_extract(
        _wanted(args), everything=args.all, date_from=args.date_from, date_to=args.date_to, orchestrator=_by(args)
    )
    return _run(engine, plan)


def cmd_reextract(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_extract(
        _wanted(args), kind="reextract", date_from=args.date_from, date_to=args.date_to, orchestrator=_by(args)
    )
    return _run(engine, plan)


def cmd_validate(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.run is not None:
        try:
            DataLayout.run_id_of(Path(args.run))
        except ValueError:
            raise CliError(f"--run {args.run!r} is not a run id (like 20261123T010000Z)") from None
    plan = engine.plan_validate(_wanted(args), batch_run=args.run, everything=args.all, orchestrator=_by(args))
    return _run(engine, plan)


def cmd_publish(args: argparse.Namespace) -> int:
    engine = _engine(args)
    return _run(engine, engine.plan_publish(_wanted(args), orchestrator=_by(args)))


def cmd_run(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_night(_wanted(args), orchestrator=_by(args))
    return _run(engine, plan, args.mirror_url)


def cmd_demo(args: argparse.Namespace) -> int:
    engine = _engine(args)
    plan = engine.plan_night(_wanted(args), orchestrator=_by(args))
    with serving(BUNDLED) as url:
        _say(f"the bundled offline mirror is serving on {url}: nothing leaves this machine")
        return _run(engine, plan, url)


def cmd_airflow(args: argparse.Namespace) -> int:
    """``vnportals airflow start|stop``: a local Airflow with laptop settings (pipeline.airflow.local)."""
    from pipeline.airflow.local import LocalAirflow, LocalAirflowError

    raw_home = args.airflow_home or os.environ.get("AIRFLOW_HOME", "").strip() or "airflow-home"
    local = LocalAirflow((Path.cwd() / Path(raw_home).expanduser()).absolute())
    try:
        if args.action == "stop":
            if not local.stop(say=_say):
                _say(f"airflow: nothing of {local.home} was running")
            return OK
        usable_data_dir(args.data_dir)
        environ = dict(os.environ)
        if args.registry:
            environ["VNPORTALS_REGISTRY"] = os.pathsep.join(str(f) for f in args.registry)
        url = local.start(
            args.data_dir,
            port=args.port,
            parallelism=args.parallelism,
            mirror=args.mirror,
            environ=environ,
            say=_say,
        )
    except LocalAirflowError as exc:
        raise MachineError(str(exc)) from exc
    _say(f"airflow: the UI is on {url}; log in as admin, the password is in")
    _say(f"  {local.home / 'simple_auth_manager_passwords.json.generated'}")
    _say("airflow: unpause vnportals_nightly and press Trigger; the data goes to " + str(args.data_dir))
    _say("airflow: stop every process of it with: vnportals airflow stop" + _home_option(args))
    return OK


def _home_option(args: argparse.Namespace) -> str:
    return f" --airflow-home {args.airflow_home}" if args.airflow_home else ""


def cmd_status(args: argparse.Namespace) -> int:
    engine = _engine(args)
    portals = [s.slug for s in engine.choose(_wanted(args))]
    for line in status_lines(engine.layout, portals):
        _say(line)
    return OK


#: The commands that change the data dir: they hold its run lock.
WRITERS = frozenset({"crawl", "extract", "reextract", "validate", "publish", "run", "demo"})


def _data_dir_lock(args: argparse.Namespace) -> AbstractContextManager[None]:
    if args.command not in WRITERS:
        return nullcontext()
    usable_data_dir(args.data_dir)  # one line and exit 3 for a data dir that cannot hold the lock
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
    codes = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="vnportals",
        description="Crawl, clean, validate and publish articles from Vietnamese news portals.",
        epilog=f"{EXAMPLES}\nexit status:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vnportals {_package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=None,
        help="where raw pages, batches and the dataset live (default: $VNPORTALS_DATA_DIR, else ./data)",
    )
    common.add_argument("--sites", default=None, help="comma-separated portal slugs (default: all enabled portals)")
    common.add_argument(
        "--registry",
        action="append",
        default=None,
        metavar="DIR",
        help="a folder of site configs; repeat to combine folders, 'bundled' for the bundled one "
        "(default: $VNPORTALS_REGISTRY, folders separated by ':', else the bundled kernel/sites)",
    )
    commands: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
        "sites": (
            "list and validate the portal registry; --show SLUG prints a portal's effective config; "
            "'sites new SLUG --family F' writes a portal file to start from",
            cmd_sites,
        ),
        "crawl": ("crawl the portals into the raw archive", cmd_crawl),
        "extract": ("extract articles from the raw archive", cmd_extract),
        "validate": ("check extracted batches: passing rows to publish, failing ones to quarantine", cmd_validate),
        "publish": ("merge validated articles into the Parquet dataset", cmd_publish),
        "run": ("crawl, extract, validate and publish: one night", cmd_run),
        "reextract": ("extract archived crawls again, validate and publish them: no fetching", cmd_reextract),
        "demo": ("serve the bundled offline mirror and run a night against it", cmd_demo),
        "airflow": ("start or stop a local Airflow with laptop settings (see the README)", cmd_airflow),
        "status": (
            "per portal: the last complete night, what is unfinished, what the next run resumes",
            cmd_status,
        ),
    }
    for name, (help_text, func) in commands.items():
        p = sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=help_text,
            epilog=f"exit status:\n{codes}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        if name == "sites":
            p.add_argument("action", nargs="?", choices=["new"], help="new: write a portal file to start from")
            p.add_argument("slug", nargs="?", help="the new portal's slug (its file name)")
            p.add_argument("--family", default=None, help="the new portal's CMS family (default: generic)")
            p.add_argument("--domain", default=None, help="the new portal's host name (default: a placeholder)")
            p.add_argument("--show", metavar="SLUG", default=None, help="print the portal's effective config as TOML")
        if name == "airflow":
            p.add_argument("action", choices=["start", "stop"])
            p.add_argument(
                "--airflow-home", default=None, help="AIRFLOW_HOME (default: $AIRFLOW_HOME, else ./airflow-home)"
            )
            p.add_argument("--port", type=int, default=8080, help="the API server's port on 127.0.0.1 (default 8080)")
            p.add_argument("--parallelism", type=int, default=2, help="task processes at once (default 2)")
            p.add_argument(
                "--mirror",
                default=None,
                help="VNPORTALS_MIRROR_URL of the tasks: 'bundled' crawls the offline mirror (default: real portals)",
            )
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
        resolve_paths(args)
        with _data_dir_lock(args):
            return int(args.func(args))
    except DataDirBusyError as exc:
        print(f"vnportals: error: {exc}", file=sys.stderr)
        return ENVIRONMENT
    except (CliError, RegistryError, FileNotFoundError, ValueError) as exc:
        print(f"vnportals: error: {exc}", file=sys.stderr)
        return USAGE
    except MachineError as exc:
        print(f"vnportals: error: {exc}", file=sys.stderr)
        return ENVIRONMENT
    except OSError as exc:  # the machine, mid-run: a full disk, a folder taken away
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"vnportals: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return ENVIRONMENT
    except KeyboardInterrupt:
        print("vnportals: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

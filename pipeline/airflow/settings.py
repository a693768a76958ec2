"""What the Airflow DAGs are configured with, where each value comes from, and its default.

Two kinds of settings:

* **Run settings** (data root, registry, mirror mode, portals per task) are read when a task
  runs: an Airflow
  Variable of the setting's name wins, then the environment variable of the same name, then
  the default. Changing one in the UI (Admin > Variables) takes effect at the next task (the
  portals per task at the next run's plan).
* **Shape settings** (the crawl pool, retries, time limits) decide how the DAG is built, so
  they are read from the environment only: the DAG files must not touch the metadata
  database while they are parsed.

:data:`SETTINGS` lists them all with their defaults (the README's table says the same; a test
keeps the two in step). Nothing here imports Airflow at module level, and nothing here does
I/O: the DAG files import this module while they are parsed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

# absolute(), not resolve(): this module is imported while DAG files are parsed, where no
# file system access belongs.
PROJECT_DIR = Path(__file__).absolute().parents[2]


@dataclass(frozen=True)
class Setting:
    """One configuration value of the DAGs."""

    name: str
    default: str
    meaning: str
    runtime: bool  # True: Variable, then env, read by tasks; False: env only, read at parse time


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "VNPORTALS_DATA_DIR",
        str(PROJECT_DIR / "data"),
        "data root: raw archive, batches, the articles dataset, run summaries "
        "(default: `data/` in the project folder, `/opt/vnportals/data` in the image)",
        runtime=True,
    ),
    Setting(
        "VNPORTALS_REGISTRY",
        "",
        "folder of site configs, or several separated by `:` (their portals combined; `bundled` is the "
        "bundled registry); default: the bundled `kernel/sites`",
        runtime=True,
    ),
    Setting(
        "VNPORTALS_MIRROR_URL",
        "",
        "mirror mode for demos and tests: the URL of a running mirror server, or `bundled` to serve "
        "the bundled offline mirror inside each crawl task; empty crawls the real portals",
        runtime=True,
    ),
    Setting(
        "VNPORTALS_PORTALS_PER_TASK",
        "25",
        "portals in one shard: each shard is one mapped crawl task (one crawl process for its "
        "portals) and one mapped extract task; portals that share a host always share a shard",
        runtime=True,
    ),
    Setting("VNPORTALS_CRAWL_POOL", "vnportals_crawl", "Airflow pool the crawl tasks run in", runtime=False),
    Setting(
        "VNPORTALS_CRAWL_POOL_SLOTS",
        "4",
        "shards crawling at once: the size the pool is created with when it does not exist "
        "(change it later under Admin > Pools)",
        runtime=False,
    ),
    Setting("VNPORTALS_TASK_RETRIES", "2", "retries of every task but the run report", runtime=False),
    Setting(
        "VNPORTALS_RETRY_DELAY_S",
        "300",
        "first retry delay in seconds; doubles on each retry (exponential backoff), at most an hour",
        runtime=False,
    ),
    Setting("VNPORTALS_CRAWL_TIMEOUT_S", "7200", "execution timeout of one shard's crawl task", runtime=False),
    Setting(
        "VNPORTALS_STEP_TIMEOUT_S",
        "3600",
        "execution timeout of every other task (plan, extract, validate, publish, report)",
        runtime=False,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}

#: How long before the crawl task's timeout the crawl is asked to wind down, so that it
#: finishes its WARC and its summary instead of being killed mid-write.
CRAWL_WIND_DOWN = timedelta(minutes=5)


def _env(name: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(name) or _BY_NAME[name].default


def _positive_int(name: str, environ: Mapping[str, str] | None, raw: str | None = None) -> int:
    raw = _env(name, environ) if raw is None else raw
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: not a whole number") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r}: must not be negative")
    return value


# -- shape settings (environment only; safe at parse time) -------------------------------
@dataclass(frozen=True)
class DagShape:
    """How the DAGs are built: pool, retries, time limits."""

    crawl_pool: str
    crawl_pool_slots: int
    retries: int
    retry_delay: timedelta
    crawl_timeout: timedelta
    step_timeout: timedelta

    @property
    def max_retry_delay(self) -> timedelta:
        return timedelta(hours=1)

    @property
    def crawl_time_budget_s(self) -> float:
        """Seconds the crawl itself may take inside its task's timeout."""
        budget = self.crawl_timeout - CRAWL_WIND_DOWN
        return max(budget.total_seconds(), self.crawl_timeout.total_seconds() / 2)


def dag_shape(environ: Mapping[str, str] | None = None) -> DagShape:
    """The shape settings from the environment (no I/O: safe while a DAG file is parsed)."""
    return DagShape(
        crawl_pool=_env("VNPORTALS_CRAWL_POOL", environ),
        crawl_pool_slots=max(_positive_int("VNPORTALS_CRAWL_POOL_SLOTS", environ), 1),
        retries=_positive_int("VNPORTALS_TASK_RETRIES", environ),
        retry_delay=timedelta(seconds=_positive_int("VNPORTALS_RETRY_DELAY_S", environ)),
        crawl_timeout=timedelta(seconds=max(_positive_int("VNPORTALS_CRAWL_TIMEOUT_S", environ), 60)),
        step_timeout=timedelta(seconds=max(_positive_int("VNPORTALS_STEP_TIMEOUT_S", environ), 60)),
    )


# -- run settings (Variable, then environment, then default; read inside tasks) ----------
@dataclass(frozen=True)
class RunSettings:
    """Where a task reads and writes, and whether it crawls the real portals or a mirror."""

    data_dir: Path
    registry_dir: tuple[Path, ...] | None
    mirror: str | None  # a mirror server's URL, "bundled" (pipeline.mirror.BUNDLED), or None for the real portals
    portals_per_task: int = 25


VariableLookup = Callable[[str], str | None]


def airflow_variable(name: str) -> str | None:
    """The Airflow Variable ``name``, or None (only callable inside a running task)."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return None if value is None else str(value)


def run_settings(variable: VariableLookup = airflow_variable, environ: Mapping[str, str] | None = None) -> RunSettings:
    """The run settings: each from its Airflow Variable, else the environment, else the default."""

    def get(name: str) -> str:
        value = variable(name)
        return value.strip() if value and value.strip() else _env(name, environ)

    from kernel.registry import parse_folders  # here, not at module level: the DAG files import this module

    registry = get("VNPORTALS_REGISTRY")
    mirror = get("VNPORTALS_MIRROR_URL")
    raw_per_task = get("VNPORTALS_PORTALS_PER_TASK")
    per_task = _positive_int("VNPORTALS_PORTALS_PER_TASK", environ, raw_per_task)
    if per_task < 1:
        raise ValueError(f"VNPORTALS_PORTALS_PER_TASK={raw_per_task!r}: a shard needs at least one portal")
    return RunSettings(
        # Relative values are taken against the task's working directory, once, here.
        data_dir=Path(get("VNPORTALS_DATA_DIR")).expanduser().absolute(),
        registry_dir=parse_folders(registry) or None,
        mirror=mirror or None,
        portals_per_task=per_task,
    )


def default_args(shape: DagShape) -> dict[str, object]:
    """Every task's defaults: retries with exponential backoff and an execution timeout."""
    return {
        "owner": "vnportals",
        "retries": shape.retries,
        "retry_delay": shape.retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": shape.max_retry_delay,
        "execution_timeout": shape.step_timeout,
    }

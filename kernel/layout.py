"""Where everything lives under the data dir, and how files get there safely.

All names built here come from validated portal slugs, run ids and dates, never from
scraped text, so nothing a page says can place a file outside the data dir.

```
<data>/raw/<site>/<run_id>.warc.gz        raw archive of one crawl run
<data>/raw/<site>/<run_id>.crawl.jsonl    per-URL crawl log of that run
<data>/raw/<site>/<run_id>.summary.json   what the crawl run did, in numbers
<data>/raw/.crawl/<run_id>.<n>.log        the Scrapy log of crawl process n of that run (many portals each)
<data>/extracted/<site>/<run_id>.parquet  article records extracted from that run's WARC
<data>/validated/<site>/<run_id>.parquet  the rows of that batch that passed validation (publish reads these)
<data>/quarantine/run_date=YYYY-MM-DD/<site>-<run_id>.parquet  the rows that failed, with the reasons
<data>/validation/<run_id>/results.json   what validation found in that run, per portal
<data>/validation/<run_id>/gx/            the run's Great Expectations validation results (JSON)
<data>/validation/<run_id>/docs/index.html  the run's Data Docs (static HTML report)
<data>/validation/.static/                the reports' fonts and images, hard-linked into each run's docs
<data>/articles -> articles-versions/NNNNNN   the published dataset: a symlink to its current version
<data>/articles-versions/NNNNNN/published_month=YYYY-MM/part-*.parquet   one whole version (hive partitions)
<data>/articles-versions/NNNNNN.manifest.json  that version's files, in layers per partition, with row counts
<data>/articles-versions/NNNNNN.ids.parquet    that version's article_id -> published_month index
<data>/runs/<run_id>.json                 the summary of one CLI/DAG run
<data>/runs/<run_id>/plan.json            what the run set out to do (portals, batches, steps)
<data>/runs/<run_id>/<step>/<site>.json   what one step did for one portal (the run's ledger)
<data>/runs/<run_id>/<step>.json          what a step of the whole run did (publish)
<data>/runs/<run_id>/settled.json         every batch of the run is done (the ledger skips it)
<data>/.run.lock, .run.lock.json          the run lock (one run at a time) and who holds it
<data>/state/<site>/crawl.sqlite          the crawl's memory of every URL it kept
<data>/state/<site>/repetition.json       paragraphs counted per run, for site-level repetition
<data>/state/<site>/article_counts.json   articles per run, for the count check
<data>/.staging/                          scratch space, renamed into place when complete
```

Every file is written aside on the same file system and renamed into place
(:func:`write_atomic`), so a reader or a killed run sees the old file or the new one;
:func:`exclusive_lock` serialises writers of one thing across processes.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RUN_ID_RE = re.compile(r"^\d{8}T\d{6}(?:\d{6})?Z$")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_STEP_RE = re.compile(r"^[a-z]{1,32}$")


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id from the UTC time, e.g. ``20261123T010000123456Z``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def run_date(run_id: str) -> str:
    """The UTC date a run started, ``YYYY-MM-DD`` (the quarantine's partition)."""
    _check_run_id(run_id)
    return f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]}"


def run_time(run_id: str) -> datetime:
    """When a run started, from its id (``20261123T010000123456Z`` or without microseconds)."""
    for pattern in ("%Y%m%dT%H%M%S%fZ", "%Y%m%dT%H%M%SZ"):
        try:
            return datetime.strptime(run_id, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"not a run id: {run_id!r}")


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str, *, durable: bool = False) -> None:
    """Write ``path`` aside in its own folder, then rename it into place: a reader or a killed
    process sees the old content or the new, never half. ``durable`` also fsyncs the file and
    the folder (for commit points)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with open(tmp, "wb") as fh:
        fh.write(payload)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    tmp.replace(path)
    if durable:
        fsync_dir(path.parent)


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block;
    another process asking for the same lock waits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_slug(site: str) -> str:
    if not _SLUG_RE.match(site):
        raise ValueError(f"not a portal slug: {site!r}")
    return site


def _check_version(version: int) -> int:
    if not 0 < version < 1_000_000:
        raise ValueError(f"not a dataset version: {version!r}")
    return version


def _check_run_id(run_id: str) -> str:
    if not RUN_ID_RE.match(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    return run_id


@dataclass(frozen=True)
class DataLayout:
    """The folders and files under one data dir."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def extracted(self) -> Path:
        return self.root / "extracted"

    @property
    def articles(self) -> Path:
        return self.root / "articles"

    @property
    def articles_versions(self) -> Path:
        """The dataset's versions; ``articles`` is a symlink to the current one."""
        return self.root / "articles-versions"

    def articles_version_dir(self, version: int) -> Path:
        return self.articles_versions / f"{_check_version(version):06d}"

    def articles_manifest_path(self, version: int) -> Path:
        return self.articles_versions / f"{_check_version(version):06d}.manifest.json"

    def articles_index_path(self, version: int) -> Path:
        return self.articles_versions / f"{_check_version(version):06d}.ids.parquet"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def validated(self) -> Path:
        return self.root / "validated"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def validation(self) -> Path:
        return self.root / "validation"

    @property
    def state(self) -> Path:
        """What the pipeline learns and remembers between runs, per portal."""
        return self.root / "state"

    @property
    def staging(self) -> Path:
        """Scratch space on the same file system, so finished files can be renamed in."""
        return self.root / ".staging"

    def _raw_file(self, site: str, run_id: str, suffix: str) -> Path:
        return self.raw / _check_slug(site) / f"{_check_run_id(run_id)}{suffix}"

    def warc_path(self, site: str, run_id: str) -> Path:
        return self._raw_file(site, run_id, ".warc.gz")

    def crawl_log_path(self, site: str, run_id: str) -> Path:
        return self._raw_file(site, run_id, ".crawl.jsonl")

    def crawl_summary_path(self, site: str, run_id: str) -> Path:
        return self._raw_file(site, run_id, ".summary.json")

    def crawl_stats_path(self, site: str, run_id: str) -> Path:
        """Scrapy's own counters of a crawl (retries, finish reason, memory)."""
        return self._raw_file(site, run_id, ".stats.json")

    def scrapy_log_path(self, site: str, run_id: str) -> Path:
        return self._raw_file(site, run_id, ".scrapy.log")

    def crawl_process_log_path(self, run_id: str, process: int) -> Path:
        """The Scrapy log of one crawl process of a run (it crawls many portals)."""
        return self.raw / ".crawl" / f"{_check_run_id(run_id)}.{int(process)}.log"

    def crawl_queue_dir(self, run_id: str, process: int) -> Path:
        """Scratch space for the requests one crawl process spills to disk."""
        return self.staging / f"crawl-queue-{_check_run_id(run_id)}-{int(process)}"

    def site_state(self, site: str) -> Path:
        """What is remembered about one portal between runs."""
        return self.state / _check_slug(site)

    def crawl_state_path(self, site: str) -> Path:
        return self.site_state(site) / "crawl.sqlite"

    def repetition_path(self, site: str) -> Path:
        return self.site_state(site) / "repetition.json"

    def article_counts_path(self, site: str) -> Path:
        return self.site_state(site) / "article_counts.json"

    @property
    def publish_lock_path(self) -> Path:
        return self.root / ".publish.lock"

    @property
    def publish_journal_path(self) -> Path:
        """The journal of the earlier, per-partition publish; read once to finish its work."""
        return self.root / ".publish-journal.json"

    def validation_lock_path(self, run_id: str) -> Path:
        return self.validation_dir(run_id) / ".lock"

    @property
    def shared_report_assets(self) -> Path:
        return self.validation / ".static"

    def extracted_path(self, site: str, run_id: str) -> Path:
        return self.extracted / _check_slug(site) / f"{_check_run_id(run_id)}.parquet"

    def validated_path(self, site: str, run_id: str) -> Path:
        return self.validated / _check_slug(site) / f"{_check_run_id(run_id)}.parquet"

    def quarantine_path(self, site: str, run_id: str) -> Path:
        return self.quarantine / f"run_date={run_date(run_id)}" / f"{_check_slug(site)}-{run_id}.parquet"

    def validation_dir(self, run_id: str) -> Path:
        return self.validation / _check_run_id(run_id)

    def validation_results_path(self, run_id: str) -> Path:
        return self.validation_dir(run_id) / "results.json"

    def data_docs_index(self, run_id: str) -> Path:
        return self.validation_dir(run_id) / "docs" / "index.html"

    def run_summary_path(self, run_id: str) -> Path:
        return self.runs / f"{_check_run_id(run_id)}.json"

    def run_ledger(self, run_id: str) -> Path:
        """What a run planned and what each of its steps did, one file per step and portal."""
        return self.runs / _check_run_id(run_id)

    def run_plan_path(self, run_id: str) -> Path:
        return self.run_ledger(run_id) / "plan.json"

    def run_settled_path(self, run_id: str) -> Path:
        """Written once every batch of the run is done: the ledger need not be read for it again."""
        return self.run_ledger(run_id) / "settled.json"

    @property
    def run_lock_path(self) -> Path:
        """Held (``flock``) by the run that works on this data dir."""
        return self.root / ".run.lock"

    @property
    def run_lock_holder_path(self) -> Path:
        """Who holds the run lock: run id, PID, host, start time."""
        return self.root / ".run.lock.json"

    def step_record_path(self, run_id: str, step: str, site: str | None = None) -> Path:
        """The record of one step of a run, for one portal or (``site`` None) the whole run."""
        if not _STEP_RE.match(step):
            raise ValueError(f"not a step name: {step!r}")
        if site is None:
            return self.run_ledger(run_id) / f"{step}.json"
        return self.run_ledger(run_id) / step / f"{_check_slug(site)}.json"

    def warcs(self, site: str) -> list[Path]:
        return sorted((self.raw / _check_slug(site)).glob("*.warc.gz"))

    def extracted_files(self, site: str) -> list[Path]:
        return sorted((self.extracted / _check_slug(site)).glob("*.parquet"))

    def validated_files(self, site: str) -> list[Path]:
        return sorted((self.validated / _check_slug(site)).glob("*.parquet"))

    @staticmethod
    def run_id_of(path: Path) -> str:
        return _check_run_id(path.name.split(".", 1)[0])

"""One run at a time per data dir: the run lock.

``<data>/.run.lock`` is held with ``flock`` by the run that works on the data dir, and
``<data>/.run.lock.json`` beside it says who: the run id, PID, host and when it started. The
kernel releases a ``flock`` when its holder dies however it died (SIGKILL, OOM), so a lock a
killed run leaves behind is simply free; the next run takes it over, and says whose it was
(the JSON still names the dead holder).

A CLI command holds the lock exclusively for its whole run and does not wait: a second run
on the same data dir exits at once naming the running one. The Airflow tasks of a night wait
for it (a manual run may be under way): the run-wide tasks (plan, validate, publish, report)
hold it exclusively, the shard tasks (crawl, extract) share it, so that the shards of one
night run side by side while nothing else writes.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import IO, Any

from kernel.layout import DataLayout, write_atomic

# How often a waiting task tries the lock again.
_POLL_S = 0.5


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the run lock."""

    run_id: str | None  # None while the run is being planned
    pid: int
    host: str
    started_at: str
    command: str

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else f"{self.command} (its run not planned yet)"
        where = f"pid {self.pid}" if self.host == socket.gethostname() else f"pid {self.pid} on {self.host}"
        return f"{run} ({where}, started {self.started_at})"

    def alive(self) -> bool | None:
        """Whether the holder's process still runs (None: on another host, not known)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class DataDirBusyError(RuntimeError):
    """Another run holds the data dir's run lock."""

    def __init__(self, layout: DataLayout, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another run (it left no record of itself)"
        super().__init__(
            f"data dir {layout.root} is in use by {who}; wait for it to end "
            f"('vnportals status --data-dir {layout.root}' shows it)"
        )
        self.holder = holder


def read_holder(layout: DataLayout) -> Holder | None:
    """Who holds or last held the lock, from its JSON (None when there is none, or unreadable)."""
    try:
        data: dict[str, Any] = json.loads(layout.run_lock_holder_path.read_text(encoding="utf-8"))
        return Holder(
            run_id=data.get("run_id"),
            pid=int(data["pid"]),
            host=str(data["host"]),
            started_at=str(data["started_at"]),
            command=str(data.get("command", "a run")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_held(layout: DataLayout) -> bool:
    """Whether some process holds the lock now (tried without taking it for long)."""
    if not layout.run_lock_path.exists():
        return False
    with open(layout.run_lock_path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return True
            raise
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def claim(layout: DataLayout, run_id: str) -> None:
    """Name the run in the lock's JSON, when this process holds the lock (called once the
    run is planned)."""
    holder = read_holder(layout)
    if holder is not None and holder.pid == os.getpid() and holder.run_id != run_id:
        _write_holder(layout, Holder(run_id, holder.pid, holder.host, holder.started_at, holder.command))


def _write_holder(layout: DataLayout, holder: Holder) -> None:
    write_atomic(layout.run_lock_holder_path, json.dumps(asdict(holder), indent=1) + "\n")


def _try(fh: IO[str], shared: bool) -> bool:
    try:
        fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


@contextmanager
def run_lock(
    layout: DataLayout,
    *,
    command: str,
    run_id: str | None = None,
    shared: bool = False,
    wait_s: float = 0.0,
) -> Iterator[Holder | None]:
    """Hold the data dir's run lock for the ``with`` block (shared by a night's shard tasks,
    else exclusive), waiting up to ``wait_s`` for it; raise :class:`DataDirBusyError` naming the
    holder when it stays taken. Yields the holder a dead run left on record, when this one
    took the lock over from it."""
    layout.root.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    fh = open(layout.run_lock_path, "a")  # noqa: SIM115 - held across the yield
    try:
        while not _try(fh, shared):
            if time.monotonic() >= deadline:
                raise DataDirBusyError(layout, read_holder(layout))
            time.sleep(_POLL_S)
        left = read_holder(layout)
        # The lock is ours, yet its record names another process: that one ended without
        # releasing it (killed). A shared lock may have live co-holders: only a dead one counts.
        stale = left is not None and left.pid != os.getpid() and (not shared or left.alive() is False)
        taken_over = left if stale else None
        if not shared or taken_over is not None or left is None:
            started = datetime.now(UTC).isoformat(timespec="seconds")
            _write_holder(layout, Holder(run_id, os.getpid(), socket.gethostname(), started, command))
        try:
            yield taken_over
        finally:
            # The last holder out removes the record (a shared holder only when alone).
            if not shared or _try(fh, shared=False):
                mine = read_holder(layout)
                if mine is not None and mine.pid == os.getpid():
                    layout.run_lock_holder_path.unlink(missing_ok=True)
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()

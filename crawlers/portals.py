"""Many portals in one Scrapy process: each portal's own crawl inside one engine.

A :class:`Fleet` opens portals in registry order, at most ``VNPORTALS_PORTALS_IN_FLIGHT``
at a time, and gives each a :class:`PortalCrawl`: its own crawl state, raw archive and
crawl log, its own deadline, counters, summary and end. Scrapy's engine, scheduler and
downloader are shared; its download slots are per host, so politeness is per host (see
:mod:`crawlers.politeness`).

A portal's crawl is over when none of its requests is left anywhere in Scrapy. Every
request the spider makes carries the portal's slug and a ticket number in its meta; the
ticket is live from the moment the request is made until its callback or errback has run
(their last output is a :class:`~crawlers.archive.Settled` marker) or Scrapy drops it.
Retries and redirects keep their ticket (Scrapy copies the meta). When a portal has no live
ticket and no item on its way to the archive, it is finished: its state is committed after
its archive is on disk, its files are closed, its stats written, and the next portal may
start. One portal that fails (its state or archive cannot be written) or hangs (its server
never answers) is finished alone; the others go on.

Settings read:

* ``VNPORTALS_DATA_DIR``, ``VNPORTALS_RUN_ID`` (required).
* ``VNPORTALS_PORTALS_IN_FLIGHT`` (default 64): portals crawled at once.
* ``VNPORTALS_DEADLINE`` (a ``time.time()`` value, optional): when every portal stops asking
  for pages (the run's time budget); requests still queued are dropped, and those in flight
  may finish for ``VNPORTALS_GRACE_S`` (default 30) more seconds.
* ``VNPORTALS_STATUS_FD`` (optional): a file descriptor for one JSON line per event
  (a portal started, its progress, its end), read by :mod:`pipeline.crawl`.
* ``VNPORTALS_COMMIT_INTERVAL_S`` (default 1.0): how often a portal's archive is synced and
  its state committed (and always when it ends).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from crawlers.archive import CrawlEvent, PageItem, RawArchive, Settled
from crawlers.queues import PORTAL_META
from crawlers.state import CrawlState
from kernel.layout import DataLayout, write_atomic
from kernel.registry import Site

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

TICKET_META = "vn_ticket"
PROGRESS_EVERY = 10  # crawl-log lines between progress events


class PortalStopped(IgnoreRequest):
    """A request of a portal whose crawl is winding down (time budget) or over."""


def resident_bytes() -> int:
    """This process's resident memory now. (``getrusage``'s peak would do, but on Linux it
    keeps the parent's size from before ``exec``, so a crawl started by a big process would
    report that process's size.)"""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class StatusPipe:
    """One JSON line per event on a file descriptor the parent reads; silent without one."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def send(self, event: str, **fields: Any) -> None:
        if self.fd is None:
            return
        line = json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n"
        try:
            os.write(self.fd, line.encode("utf-8"))
        except OSError:
            self.fd = None  # the parent is gone; the crawl still finishes its files


class PortalCrawl:
    """One portal's crawl inside a process that crawls many."""

    def __init__(self, site: Site, layout: DataLayout, run_id: str) -> None:
        self.site = site
        self.slug = site.slug
        self.layout = layout
        self.run_id = run_id
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.state: CrawlState | None = None
        self.archive: RawArchive | None = None
        self.live: set[int] = set()
        self.retry_seen: dict[int, int] = {}
        self.items_pending = 0
        self.opened = False
        self.finished = False
        self.finish_scheduled = False
        self.stopping: str | None = None  # why it winds down (time budget)
        self.failure: str | None = None
        # What this run has asked for, reported and fetched (article URLs).
        self.requested: set[str] = set()
        self.reported_known: set[str] = set()
        self.fetched: set[str] = set()
        self.pending_announced: dict[str, str] = {}
        self.owned_hosts: dict[str, bool] = {}  # netloc -> on the portal's domains
        self.retries = 0
        self.retry_after_waits = 0
        self.budget_dropped = 0
        self.shown = 0
        self.last_commit = time.monotonic()
        self.syncing = False
        self.commit_interval = 1.0
        self.on_failure: Callable[[PortalCrawl], None] | None = None
        self.peak_rss = 0  # bytes; the fleet's sampled peak of the process
        # (delay, concurrency, AutoThrottle cap), set by the spider when it opens the portal.
        self.politeness: tuple[float, int, float] | None = None

    def open(self) -> None:
        self.state = CrawlState(self.layout, self.slug)
        try:
            self.archive = RawArchive(self.layout, self.slug, self.run_id)
        except OSError:
            self.state.close()
            raise

    def idle(self) -> bool:
        return self.opened and not self.finished and not self.live and self.items_pending <= 0

    def commit(self) -> None:
        """When due: set aside what the state holds, sync the archive in a thread (the crawl
        goes on), then commit what was set aside; a URL is known only once its page is on
        disk."""
        state, archive = self.state, self.archive
        if state is None or archive is None or self.syncing or self.failure is not None:
            return
        if time.monotonic() - self.last_commit < self.commit_interval or not state.begin_commit():
            return
        self.syncing = True
        synced = deferToThread(archive.sync)
        synced.addCallbacks(self._synced, self._sync_failed)

    def _synced(self, _: object) -> None:
        self.syncing = False
        self.last_commit = time.monotonic()
        if not self.finished and self.state is not None:
            try:
                self.state.finish_commit()
            except Exception as exc:
                self.fail(f"cannot write its crawl state: {type(exc).__name__}: {exc}")

    def _sync_failed(self, failure: Failure) -> None:
        self.syncing = False
        if not self.finished and self.state is not None:
            self.state.abandon_commit()
            self.fail(f"cannot sync its raw archive: {failure.getErrorMessage()}")

    def fail(self, failure: str) -> None:
        """The portal cannot go on (its archive or state cannot be written): it ends now."""
        self.failure = self.failure or failure
        if self.on_failure is not None:
            self.on_failure(self)

    def commit_all(self) -> None:
        """At the end: sync the archive here and now, then commit everything."""
        if self.state is None or self.archive is None or not self.state.uncommitted:
            return
        self.archive.sync()
        self.state.commit()

    def keep(self, page: PageItem) -> None:
        """Write a kept page to the archive, then remember it in the state, then log it."""
        assert self.archive is not None and self.state is not None
        self.archive.write_page(page)
        if page.content_hash is not None:
            headers = {k.lower(): v for k, v in page.headers}
            announced = page.announced
            if page.kind == "article":
                announced = announced or self.pending_announced.pop(page.url, None)
            self.state.record(
                page.url,
                page.kind,
                page.content_hash,
                headers.get("etag"),
                headers.get("last-modified"),
                announced=announced,
                links_kind=page.links_kind,
                links=page.links,
            )
            if page.kind == "article":
                self.fetched.add(page.url)
        self.archive.log(
            CrawlEvent(
                page.url, page.kind, page.status, len(page.body), "kept", referer=page.referer, change=page.change
            )
        )
        self.commit()

    def stats(self, reason: str, process_stats: dict[str, Any]) -> dict[str, Any]:
        return {
            "finish_reason": reason,
            "failure": self.failure,
            "started_at": self.started_at,
            "elapsed_time_seconds": round(time.monotonic() - self.started, 3),
            "retry/count": self.retries,
            "vnportals/retry_after_waits": self.retry_after_waits,
            "vnportals/budget_dropped": self.budget_dropped,
            # The process's peak so far: it crawls many portals, the peak is shared.
            "memusage/max": self.peak_rss,
            "process": {"pid": os.getpid(), **process_stats},
        }

    def close(self, reason: str, process_stats: dict[str, Any]) -> None:
        """Commit what is safely archived, close the files, write the stats; never raises."""
        try:
            if self.failure is None:
                self.commit_all()
        except Exception as exc:  # a full disk: what was not committed is fetched again
            self.failure = f"could not finish the raw archive or crawl state: {type(exc).__name__}: {exc}"
        for closing in (self.state, self.archive):
            try:
                if closing is not None:
                    closing.close()
            except Exception as exc:
                self.failure = self.failure or f"could not close {type(closing).__name__}: {exc}"
        try:
            stats = self.stats(reason, process_stats)
            write_atomic(self.layout.crawl_stats_path(self.slug, self.run_id), json.dumps(stats, default=str, indent=1))
        except Exception as exc:
            self.failure = self.failure or f"could not write the crawl stats: {exc}"


class Fleet:
    """The portals of one crawl process: which run, which wait, and when each is over."""

    def __init__(self, crawler: Crawler, sites: list[Site]) -> None:
        settings = crawler.settings
        data_dir = settings.get("VNPORTALS_DATA_DIR")
        run_id = settings.get("VNPORTALS_RUN_ID")
        if not data_dir or not run_id:
            raise ValueError("VNPORTALS_DATA_DIR and VNPORTALS_RUN_ID must be set")
        self.crawler = crawler
        self.layout = DataLayout(Path(data_dir))
        self.run_id: str = run_id
        self.parallel = max(settings.getint("VNPORTALS_PORTALS_IN_FLIGHT", 64), 1)
        deadline = settings.getfloat("VNPORTALS_DEADLINE", 0.0)
        self.deadline: float | None = deadline or None
        self.grace_s = settings.getfloat("VNPORTALS_GRACE_S", 30.0)
        self.commit_interval = settings.getfloat("VNPORTALS_COMMIT_INTERVAL_S", 1.0)
        fd = settings.get("VNPORTALS_STATUS_FD")
        self.status = StatusPipe(int(fd) if fd not in (None, "") else None)
        self.pending: deque[Site] = deque(sites)
        self.running: dict[str, PortalCrawl] = {}
        self.done: dict[str, str | None] = {}  # slug -> failure (None when it went well)
        self._tickets = 0
        self._closing: set[Deferred[None]] = set()
        self.peak_rss = resident_bytes()
        self._room: Deferred[None] | None = None
        self._watchdog: LoopingCall | None = None
        crawler.signals.connect(self.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    # -- opening ---------------------------------------------------------------------
    def past_deadline(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    async def portals(self) -> AsyncIterator[PortalCrawl]:
        """Open the portals one by one as room frees up; yields each opened portal."""
        while self.pending:
            while len(self.running) >= self.parallel:
                self._room = Deferred()
                await maybe_deferred_to_future(self._room)
            site = self.pending.popleft()
            if self.past_deadline():
                self._end_unopened(site, "not started: the crawl's time budget ran out before its turn")
                continue
            portal = PortalCrawl(site, self.layout, self.run_id)
            portal.commit_interval = self.commit_interval
            portal.on_failure = lambda failed: self.finish(failed, "failed")
            try:
                # Opening and closing a state file waits on the disk: not in the reactor's thread.
                await maybe_deferred_to_future(deferToThread(portal.open))
            except Exception as exc:
                self._end_unopened(site, f"cannot open its crawl state or raw archive: {type(exc).__name__}: {exc}")
                continue
            self.running[site.slug] = portal
            self.status.send("started", site=site.slug)
            yield portal

    def _end_unopened(self, site: Site, failure: str) -> None:
        self.done[site.slug] = failure
        stats = {"finish_reason": "not started", "failure": failure}
        with contextlib.suppress(OSError):  # the summary then says the portal never started
            write_atomic(self.layout.crawl_stats_path(site.slug, self.run_id), json.dumps(stats, indent=1))
        self.status.send("finished", site=site.slug, reason="not started", failure=failure)

    def ticket(self, portal: PortalCrawl) -> int:
        """A new live ticket for a request the spider is making for ``portal``."""
        self._tickets += 1
        portal.live.add(self._tickets)
        return self._tickets

    # -- whose is it -----------------------------------------------------------------
    def portal_of(self, request: Request) -> PortalCrawl | None:
        slug = request.meta.get(PORTAL_META)
        return self.running.get(slug) if slug is not None else None

    def portal_named(self, slug: str | None) -> PortalCrawl | None:
        return self.running.get(slug) if slug is not None else None

    # -- signals ---------------------------------------------------------------------
    def request_scheduled(self, request: Request, spider: Any) -> None:
        slug = request.meta.get(PORTAL_META)
        if slug is None:
            return
        portal = self.running.get(slug)
        if portal is None:
            raise PortalStopped(f"the crawl of {slug} is over")
        ticket = int(request.meta.get(TICKET_META, 0))
        attempts = int(request.meta.get("retry_times", 0))
        if attempts > portal.retry_seen.get(ticket, 0):
            portal.retries += attempts - portal.retry_seen.get(ticket, 0)
            portal.retry_seen[ticket] = attempts
        if portal.stopping:
            portal.budget_dropped += 1
            self.settle(portal, ticket)
            raise PortalStopped(portal.stopping)
        if not portal.site.owns(request.url):
            # A redirect off the portal (links are checked before they become requests).
            hops = request.meta.get("redirect_urls") or []
            reason = "off the portal's domains" + (": " + " -> ".join([*hops, request.url]) if hops else "")
            self._log(portal, request, "error", reason)
            self.settle(portal, ticket)
            raise PortalStopped(reason)
        portal.live.add(ticket)

    def request_dropped(self, request: Request, spider: Any) -> None:
        """The scheduler's duplicate filter dropped it: an ordinary duplicate, or a redirect
        back to a page already seen (a loop, logged with its hops)."""
        portal = self.portal_of(request)
        if portal is None:
            return
        if request.meta.get("redirect_urls"):
            hops = " -> ".join([*request.meta["redirect_urls"], request.url])
            self._log(portal, request, "error", f"redirect loop: {hops}")
        self.settle(portal, int(request.meta.get(TICKET_META, 0)))

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        """Something raised outside the spider's own guard (a spider middleware): the page
        is logged with the error; its request is settled once its outputs had their turn."""
        request: Request | None = getattr(response, "request", None)
        portal = self.portal_of(request) if request is not None else None
        if request is None or portal is None or portal.archive is None:
            return
        error = f"parse error: {type(failure.value).__name__}: {failure.getErrorMessage()}"
        kind = str(request.meta.get("page_kind", ""))
        portal.archive.log(CrawlEvent(response.url, kind, response.status, len(response.body), "error", error))
        call_later(0.5, self.settle, portal, int(request.meta.get(TICKET_META, 0)))

    def spider_opened(self, spider: Any) -> None:
        self._watchdog = LoopingCall(self.tick)
        self._watchdog.start(1.0, now=False)

    def spider_closed(self, spider: Any, reason: str) -> Deferred[Any]:
        """Every portal still running ends with the crawl; Scrapy waits for their files."""
        if self._watchdog is not None and self._watchdog.running:
            self._watchdog.stop()
        for portal in list(self.running.values()):
            self.finish(portal, (portal.stopping and "time budget") or reason)
        while self.pending:
            self._end_unopened(self.pending.popleft(), f"not started: the crawl stopped ({reason})")
        closed = DeferredList(list(self._closing))
        closed.addBoth(lambda _: self.status.send("done", modules=sorted({m.split(".")[0] for m in sys.modules})))
        return closed

    def count_retry_after(self, request: Request) -> None:
        portal = self.portal_of(request)
        if portal is not None:
            portal.retry_after_waits += 1

    # -- items -----------------------------------------------------------------------
    def take(self, item: Any) -> None:
        """An item from the spider: a settled request, a page to keep or a log line."""
        if isinstance(item, Settled):
            portal = self.portal_named(item.site)
            if portal is not None:
                self.settle(portal, item.ticket)
            return
        portal = self.portal_named(getattr(item, "site", None))
        if portal is None:
            logger.warning("%s: an item after its portal's crawl was over, not kept", getattr(item, "url", item))
            return
        portal.items_pending -= 1
        try:
            if isinstance(item, PageItem):
                portal.keep(item)
            elif isinstance(item, CrawlEvent) and portal.archive is not None:
                portal.archive.log(item)
        except Exception as exc:  # the archive or state cannot be written: this portal ends
            logger.error("%s: cannot keep %s: %s", portal.slug, getattr(item, "url", ""), exc, exc_info=True)
            portal.fail(f"cannot write its raw archive or crawl state: {type(exc).__name__}: {exc}")
            return
        self.maybe_finish(portal)

    def _log(self, portal: PortalCrawl, request: Request, outcome: str, error: str) -> None:
        if portal.archive is not None:
            portal.archive.log(
                CrawlEvent(
                    request.url,
                    str(request.meta.get("page_kind", "")),
                    None,
                    0,
                    outcome,
                    error,
                    request.meta.get("referer_url"),
                )
            )

    # -- ending ----------------------------------------------------------------------
    def settle(self, portal: PortalCrawl, ticket: int) -> None:
        portal.live.discard(ticket)
        portal.retry_seen.pop(ticket, None)
        self.maybe_finish(portal)

    def maybe_finish(self, portal: PortalCrawl) -> None:
        if portal.idle() and not portal.finish_scheduled:
            portal.finish_scheduled = True
            # On the next turn of the reactor: outputs already on their way get theirs first.
            call_later(0, self._finish_if_idle, portal)

    def _finish_if_idle(self, portal: PortalCrawl) -> None:
        portal.finish_scheduled = False
        if portal.idle():
            self.finish(portal, "time budget" if portal.stopping else "finished")

    def finish(self, portal: PortalCrawl, reason: str) -> None:
        if portal.finished:
            return
        portal.finished = True
        self.running.pop(portal.slug, None)
        self._drop_queued(portal)
        self.peak_rss = max(self.peak_rss, resident_bytes())
        portal.peak_rss = self.peak_rss
        scheduler = getattr(self.crawler.engine, "scheduler", None) if self.crawler.engine else None
        if hasattr(scheduler, "forget"):
            scheduler.forget(portal.slug)  # type: ignore[union-attr]
        # Nothing in this thread touches the portal from now on: it closes in a worker thread.
        closing = deferToThread(portal.close, reason, self._process_stats())
        self._closing.add(closing)
        closing.addBoth(self._closed, portal, reason, closing)

    def _closed(self, _: object, portal: PortalCrawl, reason: str, closing: Deferred[None]) -> None:
        self._closing.discard(closing)
        self.done[portal.slug] = portal.failure
        self.status.send("finished", site=portal.slug, reason=reason, failure=portal.failure)
        room, self._room = self._room, None
        if room is not None and not room.called:
            room.callback(None)

    def _drop_queued(self, portal: PortalCrawl) -> None:
        """Requests of ``portal`` waiting in a download slot for their turn (its delay) fail
        at once: they passed the gate before the portal began to wind down."""
        engine = getattr(self.crawler, "engine", None)
        if engine is None:
            return
        for slot in engine.downloader.slots.values():
            waiting = list(slot.queue)
            slot.queue.clear()
            for request, deferred in waiting:
                if request.meta.get(PORTAL_META) == portal.slug:
                    deferred.errback(Failure(PortalStopped(portal.stopping or "its crawl is over")))
                else:
                    slot.queue.append((request, deferred))

    def _process_stats(self) -> dict[str, Any]:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        return {k: v for k, v in stats.items() if k.startswith("scheduler/")}

    def tick(self) -> None:
        """Once a second: progress, commits, the time budget, and portals left idle."""
        try:
            self._tick()
        except Exception:  # a LoopingCall that raises stops for good: log, and tick on
            logger.error("the crawl's watchdog failed", exc_info=True)

    def _tick(self) -> None:
        now = time.time()
        self.peak_rss = max(self.peak_rss, resident_bytes())
        for portal in list(self.running.values()):
            if portal.archive is not None and portal.archive.lines >= portal.shown + PROGRESS_EVERY:
                portal.shown = portal.archive.lines
                self.status.send("progress", site=portal.slug, urls=portal.archive.lines)
            portal.commit()
            if portal.finished:
                continue
            if self.deadline is not None and now >= self.deadline and not portal.stopping:
                portal.stopping = "the crawl's time budget is spent"
                self._drop_queued(portal)
            if self.deadline is not None and now >= self.deadline + self.grace_s:
                # Requests still in flight well past the budget: the portal ends without them.
                self.finish(portal, "time budget")
            elif portal.stopping:
                self.maybe_finish(portal)
        engine = self.crawler.engine
        if engine is None or engine.scheduler is None or not self.running:
            return
        scraper_idle = engine.scraper.slot is None or engine.scraper.slot.is_idle()
        if not engine.downloader.active and not engine.scheduler.has_pending_requests() and scraper_idle:
            # Nothing of any portal is left in Scrapy: whatever a portal still counts is stale.
            for portal in list(self.running.values()):
                if portal.opened and (portal.live or portal.items_pending > 0):
                    logger.warning(
                        "%s: %d requests and %d items unaccounted for; ending it",
                        portal.slug,
                        len(portal.live),
                        portal.items_pending,
                    )
                    portal.live.clear()
                    portal.items_pending = 0
                    self.maybe_finish(portal)


class PortalGateMiddleware:
    """Downloader middleware: requests of a portal that winds down or is over go no further
    (they were queued before its time budget ran out)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PortalGateMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        slug = request.meta.get(PORTAL_META)
        fleet: Fleet | None = getattr(self.crawler.spider, "fleet", None)
        if slug is None or fleet is None:
            return
        portal = fleet.running.get(slug)
        if portal is None:
            raise PortalStopped(f"the crawl of {slug} is over")
        if portal.stopping:
            raise PortalStopped(portal.stopping)

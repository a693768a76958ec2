"""The vnportals Airflow plugin: creates the crawl pool where Airflow runs the DAGs.

The nightly DAG's crawl tasks run in an Airflow pool (``VNPORTALS_CRAWL_POOL``, default
``vnportals_crawl``); a task in a pool that does not exist is never scheduled. DAG files
must not write to the metadata database, so the pool is made here instead: when an Airflow
job (scheduler, DAG processor, triggerer) starts, the pool is created with
``VNPORTALS_CRAWL_POOL_SLOTS`` slots if it is missing. A pool that exists is left alone, so
a size changed under Admin > Pools stays.

Airflow finds the plugin through the ``airflow.plugins`` entry point in ``pyproject.toml``
wherever vnportals is installed.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

POOL_DESCRIPTION = "vnportals: portals crawling at once (VNPORTALS_CRAWL_POOL_SLOTS sets the size it is created with)"


def ensure_crawl_pool() -> bool:
    """Create the crawl pool if it is missing; True when it was created here."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqlalchemy.exc import IntegrityError

    from pipeline.airflow.settings import dag_shape

    shape = dag_shape()
    try:
        with create_session() as session:
            if Pool.get_pool(shape.crawl_pool, session=session) is not None:
                return False
            session.add(
                Pool(
                    pool=shape.crawl_pool,
                    slots=shape.crawl_pool_slots,
                    description=POOL_DESCRIPTION,
                    include_deferred=False,
                )
            )
    except IntegrityError:
        return False  # another component created it at the same moment
    log.info("created Airflow pool %r with %d slots", shape.crawl_pool, shape.crawl_pool_slots)
    return True


class CrawlPoolListener:
    """Airflow listener: makes sure the crawl pool exists whenever an Airflow job starts."""

    @hookimpl
    def on_starting(self, component: object) -> None:
        # Task processes are components too, and they have no database access.
        if type(component).__name__ != "Job":
            return
        try:
            ensure_crawl_pool()
        except Exception:  # the database may not be migrated yet; the next job start tries again
            log.exception("could not make sure the vnportals crawl pool exists")


class VnportalsPlugin(AirflowPlugin):
    name = "vnportals"
    listeners = [CrawlPoolListener()]  # noqa: RUF012 (Airflow reads this class attribute)

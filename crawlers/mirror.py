"""Mirror mode: answer every HTTP(S) request from the bundled offline mirror.

Settings read:

* ``VNPORTALS_MIRROR_URL``: base URL of a mirror server (``http://127.0.0.1:PORT``). When
  set, :func:`crawlers.run` installs :class:`MirrorDownloadHandler` for ``http`` and
  ``https``. The request keeps its real URL everywhere in Scrapy (robots.txt, offsite
  checks, links, the raw archive); only the wire goes to the mirror, with the portal's
  host name in the ``Host`` header, so the same site configs serve the demo, the tests and
  the real portals.

A portal that is itself on this machine (a host of ``127.0.0.1``, ``localhost`` or ``::1``:
a user's own test portal next to the bundled ones in ``vnportals demo``) is fetched
directly: the mirror imitates remote portals only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


#: Hosts that are on this machine already: never sent to the mirror.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def mirrored_url(url: str, mirror_url: str) -> str:
    """The URL on the mirror server that stands for ``url`` (path and query kept)."""
    parts = urlsplit(url)
    mirror = urlsplit(mirror_url)
    return urlunsplit((mirror.scheme, mirror.netloc, parts.path or "/", parts.query, ""))


class MirrorDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, pointed at the mirror server for every host."""

    def __init__(self, crawler: Crawler) -> None:
        mirror = crawler.settings.get("VNPORTALS_MIRROR_URL")
        if not mirror:
            raise NotConfigured("VNPORTALS_MIRROR_URL is not set")
        super().__init__(crawler)
        self._mirror_url: str = mirror

    async def download_request(self, request: Request) -> Response:
        if (urlsplit(request.url).hostname or "") in LOOPBACK_HOSTS:
            return await super().download_request(request)
        host = urlsplit(request.url).netloc
        wire = request.replace(url=mirrored_url(request.url, self._mirror_url))
        wire.headers[b"Host"] = host.encode("ascii")
        response = await super().download_request(wire)
        return response.replace(url=request.url)

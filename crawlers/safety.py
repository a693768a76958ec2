"""Keeping the crawler out of places a page can point it at: internal addresses and
non-HTTP schemes.

Settings read:

* ``VNPORTALS_TRUSTED_HOSTS``: host names the registry names (a portal's ``domains`` and
  the hosts of its start URLs, feeds and sitemaps). These are trusted whatever address they
  resolve to: that is how a registry reaches a portal on 127.0.0.1. Every other host, a
  portal's subdomains included, must resolve to a public address.

Two guards, because Twisted resolves host names but never IP literals:
:class:`GuardedResolver` (``TWISTED_DNS_RESOLVER``) checks the address a name resolves to
before any connection is made, and :class:`AddressGuardMiddleware` refuses IP-literal
URLs to non-public addresses and any scheme but http(s). Redirects are new requests, so
both guards see every hop; Scrapy's OffsiteMiddleware already drops off-portal hops.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred

# Shared address space (RFC 6598) is not "private" to the ipaddress module, but is internal.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def is_public_address(address: str) -> bool:
    """True for an address on the public internet; False for loopback, private, link-local
    (cloud metadata at 169.254.169.254 included), CGNAT, multicast, reserved, unspecified."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and ip not in _CGNAT and not ip.is_multicast


def ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _trusted(crawler: Crawler) -> frozenset[str]:
    return frozenset(h.lower() for h in crawler.settings.getlist("VNPORTALS_TRUSTED_HOSTS"))


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing names outside the registry that resolve to
    non-public addresses (the lookup fails, so no connection is attempted)."""

    trusted: frozenset[str] = frozenset()
    # Host -> the address it was refused for, so the crawl log can say why a lookup "failed".
    refused: dict[str, str] = {}  # noqa: RUF012 (one crawl per process: shared on purpose)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> GuardedResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.trusted = _trusted(crawler)
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:  # noqa: N802 (Twisted's API)
        deferred = super().getHostByName(name, timeout)
        if name.lower() in self.trusted:
            return deferred
        return deferred.addCallback(self._refuse_internal, name)

    @classmethod
    def _refuse_internal(cls, address: str, name: str) -> str:
        if not is_public_address(address):
            cls.refused[name.lower()] = address
            raise DNSLookupError(f"{name} resolves to {address}, not a public address: refused")
        return address


def refusal(url: str) -> str | None:
    """Why the resolver refused the host of ``url``, if it did."""
    host = (urlsplit(url).hostname or "").lower()
    address = GuardedResolver.refused.get(host)
    return f"refused: {host} resolves to {address}, not a public address" if address else None


class AddressGuardMiddleware:
    """Downloader middleware: only http(s), and no IP literal outside the registry that is
    not a public address."""

    def __init__(self, trusted: frozenset[str]) -> None:
        self.trusted = trusted

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(_trusted(crawler))

    def process_request(self, request: Request) -> Any:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            raise IgnoreRequest(f"refused: {parts.scheme!r} is not http(s)")
        host = (parts.hostname or "").lower()
        literal = ip_literal(host)
        if literal is not None and host not in self.trusted and not is_public_address(literal):
            raise IgnoreRequest(f"refused: {host} is not a public address")
        return None

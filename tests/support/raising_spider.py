"""Run one portal's crawl with a spider callback that raises on one page, for
``tests/test_faults.py``: ``python -m tests.support.raising_spider ARGS-OF-crawlers.run``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from crawlers import run
from crawlers.spider import PortalSpider

original = PortalSpider.parse_article


def parse_article(self: PortalSpider, response: Any) -> Iterator[Any]:
    if response.url.endswith("/bai/2.html"):
        raise RuntimeError("a page our parser chokes on")
    yield from original(self, response)


PortalSpider.parse_article = parse_article  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(run.main(sys.argv[1:]))

"""The report people open, a run's Data Docs, works offline.

Every generated page, read by a parser, references nothing off the machine (no http(s) or
protocol-relative URL in a link, script, image, anchor, ``@import`` or ``url()``), and every
local file it references exists. Then headless Chromium (Debian's ``chromium``) opens the
index, the result pages, a suite page and the run page with every request sent to a proxy
on 127.0.0.1 that records and refuses it, so nothing can leave the machine: each page
renders styled by the bundled CSS (Bootstrap's flex navbar and collapsed table borders, Font
Awesome's icon font loaded), bootstrap-table draws the result tables, no resource fails to
load, and no request comes from the pages. A control page with one CDN link shows that the
proxy would have seen a leak. The pages also show what the report is for: results per
portal and suite, the failing row with its id, URL and what was found, every expectation.
"""

from __future__ import annotations

import json
import re
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest

from expectations import report
from expectations.suites import ARTICLE, PORTAL_BATCH, expectation_names
from kernel.layout import DataLayout
from kernel.registry import load_registry
from tests.support.validation_batches import (
    PARAGRAPHS,
    RUN,
    batch,
    good_row,
    good_rows,
    uongbi_rows,
    validate_now,
    with_body,
    write_batch,
)

# The browser itself, not Debian's wrapper script, which adds remote extension updates.
CHROMIUM = next(
    (
        p
        for p in ("/usr/lib/chromium/chromium", *map(shutil.which, ("chromium", "chromium-browser")))
        if p and Path(p).exists()
    ),
    None,
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian package 'chromium'; .ci/run installs it)"
)
# Chromium's own component-update and sign-in calls, which it makes for a blank page too;
# they reach the refusing proxy like everything else and never leave the machine.
BROWSER_SERVICE_HOSTS = re.compile(r"(^|\.)(google\.com|googleapis\.com|gvt1\.com)(:\d+)?$")
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.IGNORECASE | re.DOTALL)
LOCAL_SCHEMES = ("data:", "#", "javascript:", "about:", "mailto:")


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run's report as production builds it (SUMMARY results): two portals, one leaked
    counter, and the run's crawl numbers."""
    data = tmp_path_factory.mktemp("report")
    leaked = with_body(good_row(50), "\n".join([*PARAGRAPHS, "Lượt xem: 1.234"]))
    write_batch(data, batch([*good_rows(6), leaked]))
    write_batch(data, batch(uongbi_rows(5)), "uongbi")
    registry = load_registry()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VNPORTALS_VALIDATION_RESULT_FORMAT", "SUMMARY")
        summary = validate_now([registry["longbien"], registry["uongbi"]], data, RUN)
    assert summary.quarantined == {"longbien": 1, "uongbi": 0}
    index = Path(summary.reports[RUN])
    assert index == DataLayout(data).data_docs_index(RUN)
    report.write_run_page(index.parent, RUN, {"crawl": {"longbien": {"pages": 9, "new_articles": 7}}})
    return index.parent


def pages(docs: Path) -> list[Path]:
    return sorted(docs.rglob("*.html"))


# -- read by a parser ---------------------------------------------------------------------------
def references(page: Path) -> list[tuple[str, str]]:
    """(where, reference) for everything a page can load or link: element attributes, and
    ``url()`` / ``@import`` in its style elements and style attributes."""
    dom = lxml.html.fromstring(page.read_bytes())
    found = []
    for element in dom.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in ("href", "src", "srcset", "data", "poster", "action", "formaction"):
            value = element.get(attribute)
            if value:
                found.append((f"<{element.tag} {attribute}>", value))
        if element.tag == "style":
            found += [("<style>", ref) for ref in css_references(element.text_content())]
        if element.get("style"):
            found += [("style=", ref) for ref in css_references(element.get("style", ""))]
    return found


def css_references(css: str) -> list[str]:
    return [m.group(2) if m.group(2) is not None else m.group(4) for m in CSS_URL.finditer(css)]


def local_target(base: Path, reference: str) -> Path | None:
    """The file a relative reference names, or None for fragments and data URIs."""
    if reference.startswith(LOCAL_SCHEMES) or not reference.strip():
        return None
    path = unquote(urlsplit(reference).path)
    return (base.parent / path).resolve() if path else None


def test_no_page_references_anything_off_the_machine(docs: Path) -> None:
    checked = pages(docs)
    assert len(checked) == 8  # index, run page, two suites, two portals x two suites
    external = [
        (p.relative_to(docs), where, ref) for p in checked for where, ref in references(p) if EXTERNAL.match(ref)
    ]
    assert external == []
    # The bundled style sheets reference only their own fonts (and data URIs).
    for sheet in (docs / report.VENDOR).rglob("*.css"):
        for ref in css_references(sheet.read_text("utf-8")):
            assert not EXTERNAL.match(ref), (sheet, ref)
            target = local_target(sheet, ref)
            assert target is None or target.is_file(), (sheet, ref)


def test_every_local_reference_exists(docs: Path) -> None:
    missing = []
    for page in pages(docs):
        for where, ref in references(page):
            target = local_target(page, ref)
            if target is not None and not target.is_file():
                missing.append((page.relative_to(docs), where, ref))
    assert missing == []
    used = {
        target
        for page in pages(docs)
        for _, ref in references(page)
        if (target := local_target(page, ref)) is not None and report.VENDOR in str(target)
    }
    bundled_sheets_and_scripts = {
        (docs / report.VENDOR / p).resolve() for p in report.asset_files() if p.suffix in (".css", ".js")
    }
    assert bundled_sheets_and_scripts <= used  # nothing is bundled that no page loads


def test_reports_share_one_copy_of_the_assets(docs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / "docs"
    report.install_static_assets(other, docs.parent.parent / ".static")
    assets = [p.relative_to(docs) for p in (docs / report.VENDOR).rglob("*") if p.is_file()]
    assert len(assets) == len(report.asset_files())
    if (docs / assets[0]).stat().st_dev == other.stat().st_dev:
        assert all((docs / a).samefile(other / a) for a in assets)


# -- opened in Chromium, the network cut off -------------------------------------------------------
class RefusingProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy on 127.0.0.1 that records the first line of every request and refuses it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _RefusingHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def hosts(self) -> list[str]:
        """The hosts asked for: ``CONNECT host:443`` or ``GET http://host/...``."""
        found = []
        for line in self.requests:
            parts = line.split()
            target = parts[1] if len(parts) > 1 else ""
            found.append(target if parts and parts[0] == "CONNECT" else (urlsplit(target).netloc or target))
        return found


class _RefusingHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(5)
        try:
            line = self.request.recv(8192).split(b"\r\n", 1)[0]
        except OSError:
            return
        assert isinstance(self.server, RefusingProxy)
        if line:  # a connection opened ahead of time (a browser's preconnect) and closed unused asks for nothing
            self.server.requests.append(line.decode("latin-1"))
        self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


PROBE_HEAD = """<script>
window.__probe = {errors: []};
window.addEventListener("error", function (event) {
  var target = event.target;
  window.__probe.errors.push(target && target !== window
    ? "failed to load " + (target.src || target.href) : String(event.message));
}, true);
</script>"""

PROBE_END = """<script>
window.addEventListener("load", function () {
  document.fonts.ready.then(function () {
    // jQuery runs ready handlers asynchronously, in the order they were added: this one
    // comes after bootstrap-table's, which draws the tables.
    if (window.jQuery) { window.jQuery(function () { setTimeout(measure, 0); }); } else { measure(); }
  });
  function measure() {
    function style(selector, property, pseudo) {
      var element = document.querySelector(selector);
      return element ? getComputedStyle(element, pseudo || null).getPropertyValue(property) : null;
    }
    var found = {
      errors: window.__probe.errors,
      resources: performance.getEntriesByType("resource").map(function (e) { return e.name; }),
      sheets: Array.prototype.map.call(document.querySelectorAll("link[rel=stylesheet]"),
        function (link) { return [link.getAttribute("href"), link.sheet !== null]; }),
      navbar_display: style("nav.navbar", "display"),
      table_border_collapse: style("table", "border-collapse"),
      icon_font: style(".fas, .far", "font-family", "::before"),
      icon_font_loaded: document.fonts.check('900 16px "Font Awesome 6 Free"'),
      bootstrap_table: !!(window.jQuery && window.jQuery.fn.bootstrapTable),
      collapse: !!(window.jQuery && window.jQuery.fn.collapse),
      drawn_tables: document.querySelectorAll(".bootstrap-table").length
    };
    var out = document.createElement("pre");
    out.id = "vnportals-probe";
    out.textContent = JSON.stringify(found);
    document.body.appendChild(out);
  }
});
</script>"""


@dataclass
class Rendered:
    dom: lxml.html.HtmlElement
    probe: dict[str, Any]

    def text(self) -> str:
        dom = lxml.html.fromstring(lxml.html.tostring(self.dom))
        for element in dom.xpath("//script|//style|//pre[@id='vnportals-probe']"):
            element.drop_tree()
        return re.sub(r"\s+", " ", dom.text_content())


def open_in_chromium(page: Path, proxy: RefusingProxy, profile: Path) -> Rendered:
    """The page's DOM after Chromium loaded it, ran its scripts and its fonts arrived, with
    what the probe measured; the page is opened from a copy beside it with the probe added."""
    assert CHROMIUM is not None
    html = page.read_text("utf-8")
    probed = page.with_name(f".{page.stem}.probe.html")
    probed.write_text(html.replace("<head>", "<head>" + PROBE_HEAD, 1).replace("</body>", PROBE_END + "</body>", 1))
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--proxy-server={proxy.url}",
            "--proxy-bypass-list=<-loopback>",  # loopback too goes through the proxy
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--no-first-run",
            "--window-size=1400,1000",
            "--virtual-time-budget=10000",  # let the scripts and the fonts finish first
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    probed.unlink()
    assert result.returncode == 0, result.stderr[-2000:]
    dom = lxml.html.fromstring(result.stdout)
    (probe,) = dom.xpath("//pre[@id='vnportals-probe']/text()")
    return Rendered(dom, json.loads(probe))


@pytest.fixture(scope="module")
def proxy() -> Iterator[RefusingProxy]:
    server = RefusingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def rendered(docs: Path, proxy: RefusingProxy, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Every page of the report that a person opens, opened once."""
    profile = tmp_path_factory.mktemp("chromium")
    names = {
        "index": docs / "index.html",
        "run": docs / report.RUN_PAGE,
        "suite": docs / "expectations" / f"{ARTICLE}.html",
        "batch_suite": docs / "expectations" / f"{PORTAL_BATCH}.html",
    }
    for suite in (ARTICLE, PORTAL_BATCH):
        for site in ("longbien", "uongbi"):
            (names[f"{suite}-{site}"],) = (docs / "validations" / suite).rglob(f"*-{site}.html")
    return {name: open_in_chromium(path, proxy, profile) for name, path in names.items()}


@pytest.mark.slow
@pytest.mark.slow  # a headless browser
@needs_chromium
def test_every_page_renders_styled_from_the_bundle_alone(rendered: dict[str, Rendered], docs: Path) -> None:
    for name, page in rendered.items():
        probe = page.probe
        assert probe["errors"] == [], name
        assert probe["sheets"] and all(loaded for _, loaded in probe["sheets"]), (name, probe["sheets"])
        assert all(r.startswith("file://") for r in probe["resources"]), (name, probe["resources"])
        assert any(href.endswith("static/vendor/bootstrap-4.3.1/bootstrap.min.css") for href, _ in probe["sheets"])
        assert probe["navbar_display"] == "flex", name  # Bootstrap's .navbar; a browser's nav is a block
        assert probe["table_border_collapse"] == "collapse", name  # Bootstrap's reboot; browsers separate
        assert probe["bootstrap_table"] and probe["collapse"], name  # the bundled scripts ran
    for name in (f"{s}-{p}" for s in (ARTICLE, PORTAL_BATCH) for p in ("longbien", "uongbi")):
        assert rendered[name].probe["drawn_tables"] > 0, name  # bootstrap-table drew the result tables
        assert "Font Awesome" in str(rendered[name].probe["icon_font"]), name
        assert rendered[name].probe["icon_font_loaded"], name


@pytest.mark.slow
@pytest.mark.slow  # a headless browser
@needs_chromium
def test_no_request_left_for_the_network(rendered: dict[str, Rendered], proxy: RefusingProxy, tmp_path: Path) -> None:
    from_pages = [host for host in proxy.hosts() if not BROWSER_SERVICE_HOSTS.search(host)]
    assert from_pages == [], proxy.requests
    # The rig sees a leak: a page with one CDN style sheet is refused at the proxy.
    control = tmp_path / "control.html"
    control.write_text(
        '<html><head><link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@4.3.1/dist/css/'
        'bootstrap.min.css"></head><body><nav class="navbar">x</nav><table><tr><td>1</td></tr></table></body></html>'
    )
    seen = len(proxy.requests)
    leaked = open_in_chromium(control, proxy, tmp_path / "profile")
    assert "cdn.jsdelivr.net:443" in proxy.hosts()[seen:]
    assert leaked.probe["navbar_display"] == "block"  # and the page stays unstyled


@pytest.mark.slow
@pytest.mark.slow  # a headless browser
@needs_chromium
def test_the_index_lists_the_runs_results_per_portal_and_suite(rendered: dict[str, Rendered], docs: Path) -> None:
    dom = rendered["index"].dom
    rows = [
        re.sub(r"\s+", " ", row.text_content())
        for row in dom.xpath("//table[contains(@class, 'vnportals-static-table')]//tbody/tr")
    ]
    results = [r for r in rows if RUN in r]
    assert len(results) == 4, rows  # two portals x two suites
    for portal, suite, status in [
        ("longbien", "article", "Failed"),
        ("longbien", "portal_batch", "Success"),
        ("uongbi", "article", "Success"),
        ("uongbi", "portal_batch", "Success"),
    ]:
        assert any(portal in r and f" {suite} " in f" {r} " and status in r for r in results), (portal, suite, rows)
    links = dom.xpath("//a[contains(@href, 'validations/article/') and contains(@href, 'longbien')]/@href")
    assert links and (docs / links[0]).exists()
    assert {"article", "portal_batch"} <= {r.strip() for r in rows}  # the suites table
    assert dom.xpath(f"//a[@href='{report.RUN_PAGE}']")  # the run's numbers, one click away


@pytest.mark.slow
@pytest.mark.slow  # a headless browser
@needs_chromium
def test_a_results_page_names_the_failing_row_and_what_was_found(rendered: dict[str, Rendered]) -> None:
    text = rendered[f"{ARTICLE}-longbien"].text()
    assert "Expectation Suite: article" in text and "Status: Failed" in text and RUN in text
    assert "furniture_phrases" in text and "values must be null" in text
    assert "Lượt xem:" in text  # what was found, in the unexpected-values table
    failing = good_row(50)
    assert str(failing["article_id"]) in text and str(failing["url"]) in text
    assert "values must never be null" in text and "values must match this regular expression" in text


@pytest.mark.slow
@pytest.mark.slow  # a headless browser
@needs_chromium
def test_the_suite_pages_list_every_expectation(rendered: dict[str, Rendered]) -> None:
    for suite, page in ((ARTICLE, "suite"), (PORTAL_BATCH, "batch_suite")):
        text = rendered[page].text()
        missing = [name for name in expectation_names(suite) if f"{name}:" not in text]
        assert missing == [], suite


@pytest.mark.slow
@pytest.mark.slow  # a headless browser
@needs_chromium
def test_the_run_page_shows_the_crawl_numbers(rendered: dict[str, Rendered]) -> None:
    dom = rendered["run"].dom
    cells = [td.text_content() for td in dom.xpath("//section[@id='numbers-crawl']//tbody/tr/td")]
    assert cells == ["longbien", "9", "7"]
    assert dom.xpath("//a[@href='index.html']")

"""Pages typed in the TCVN3 (``.VnTime``) and VNI (``VNI-Times``) font encodings, decoded to
Unicode in the parsed page, element by element where the page names its fonts and over the
whole text otherwise.

The tables and the word-level test of what is legacy text live in :mod:`kernel.legacy`; this
module reads the page: which elements are set in which font (``<font face>``, ``style``
attributes, rules of the page's ``<style>`` sheets, inherited as a browser would), and which
text to decode:

* text set in a legacy font is decoded, in capitals for the TCVN3 "H" fonts, unless the text
  set in that encoding's fonts reads as Unicode as a whole (a page converted to Unicode that
  kept its old font names);
* text set in no legacy font (``<title>``, ``<meta>`` contents, pages styled by a sheet we
  do not have, text in Arial) is decoded only where it reads as legacy text by itself;
* any text holding letters only Unicode has is left alone, so a page that mixes Unicode and
  legacy text decodes only the legacy parts.

Pages that show no sign of either encoding (characters that only legacy text has) cost one
scan of their source for them and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html

from kernel.legacy import (
    ENCODINGS,
    VIETNAMESE_ONLY_RE,
    Evidence,
    decode,
    evidence,
    might_be_legacy,
    reads_as,
)

# Where the decoded page records what it was typed in (on the root element).
TYPED_IN_ATTRIBUTE = "data-vnportals-typed-in"

# (encoding, capitals); PLAIN for a font that is neither (Arial, Times New Roman...).
Font = tuple[str, bool]
PLAIN: Font = ("", False)

_DECLARATION_RE = re.compile(r"(?i)(?:^|[;{\s])(font-family|font)\s*:\s*([^;}]+)")
# In the ``font`` shorthand the families follow the size: "bold 12pt/14pt .VnTime, serif".
_SHORTHAND_FAMILIES_RE = re.compile(
    r"(?i)(?:^|\s)(?:[\d.]+[a-z%]*|(?:xx?-)?(?:small|large)|medium|smaller|larger)(?:\s*/\s*[\d.]+[a-z%]*)?\s+(.+)$"
)
_RULE_RE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)
_COMPOUND_RE = re.compile(r"(\*|[a-z][\w-]*)?((?:[.#][\w-]+)*)", re.I)
_SKIPPED_TAGS = frozenset({"script", "style"})


def font_encoding(family: str) -> Font:
    """What a font name says about the text set in it: ``("tcvn3", capitals)`` for the ABC
    fonts (``.VnTime``; ``.VnTimeH``, ``.VnArialH``... draw capitals), ``("vni", False)``
    for ``VNI-Times``, ``VNI-Helve``..., :data:`PLAIN` for any other font."""
    name = family.strip().strip("'\"").strip()
    if re.match(r"(?i)vni[-_ ]", name):
        return ("vni", False)
    if re.match(r"(?i)\.?vn[a-z]", name):
        return ("tcvn3", name.endswith("H"))
    return PLAIN


def _declared_font(declarations: str) -> Font | None:
    """The font a CSS declaration block sets (the last ``font``/``font-family`` wins, and of
    its families the first, which is the one the page's readers had installed), or None."""
    font: Font | None = None
    for prop, value in _DECLARATION_RE.findall(declarations):
        families = value
        if prop.lower() == "font":
            match = _SHORTHAND_FAMILIES_RE.search(value.strip())
            if match is None:
                continue
            families = match.group(1)
        first = families.split(",")[0].replace("!important", "")
        if first.strip():
            font = font_encoding(first)
    return font


@dataclass(frozen=True)
class _Rule:
    tag: str | None
    classes: frozenset[str]
    id: str | None
    specificity: tuple[int, int, int, int]
    font: Font

    def matches(self, tag: str, classes: set[str], element_id: str | None) -> bool:
        return (
            (self.tag is None or self.tag == tag)
            and self.classes <= classes
            and (self.id is None or self.id == element_id)
        )


class _Sheet:
    """The rules of the page's ``<style>`` sheets that set a font, indexed by what they
    select. Each selector is reduced to its last compound (``div.news p`` is read as ``p``):
    a page's legacy fonts are set on broad selectors (``body``, ``td``, ``.content``), and a
    near miss only widens the text we then test word by word. A sheet that sets no legacy
    font is left out altogether: its other fonts would change nothing we decode."""

    def __init__(self, root: lxml.html.HtmlElement) -> None:
        self.rules: dict[tuple[str, str], list[_Rule]] = {}
        order = 0
        found: list[_Rule] = []
        for style in root.iter("style"):
            sheet = _COMMENT_RE.sub(" ", style.text or "")
            for selectors, declarations in _RULE_RE.findall(sheet):
                font = _declared_font(declarations)
                if font is None:
                    continue
                for selector in selectors.split(","):
                    order += 1
                    rule = _rule(selector, font, order)
                    if rule is not None:
                        found.append(rule)
        if not any(rule.font[0] for rule in found):
            return
        for rule in found:
            key = ("#", rule.id) if rule.id else (".", min(rule.classes)) if rule.classes else ("t", rule.tag or "*")
            self.rules.setdefault(key, []).append(rule)

    def font(self, el: lxml.html.HtmlElement) -> Font | None:
        """The font of the most specific rule that selects an element, or None."""
        if not self.rules:
            return None
        classes = set(el.get("class", "").split())
        element_id = el.get("id")
        keys = [("t", el.tag), ("t", "*"), *((".", c) for c in classes)]
        if element_id:
            keys.append(("#", element_id))
        best: _Rule | None = None
        for key in keys:
            for rule in self.rules.get(key, ()):
                if rule.matches(el.tag, classes, element_id) and (best is None or rule.specificity > best.specificity):
                    best = rule
        return best.font if best is not None else None


def _rule(selector: str, font: Font, order: int) -> _Rule | None:
    parts = re.split(r"[\s>+~]+", selector.strip())
    last = re.sub(r"::?[\w-]+(\([^)]*\))?", "", parts[-1]) if parts else ""
    match = _COMPOUND_RE.fullmatch(last)
    if not last or match is None:
        return None
    tag = match.group(1).lower() if match.group(1) and match.group(1) != "*" else None
    names = re.findall(r"([.#])([\w-]+)", match.group(2))
    classes = frozenset(n for kind, n in names if kind == ".")
    ids = [n for kind, n in names if kind == "#"]
    specificity = (len(ids), len(classes), int(tag is not None), order)
    return _Rule(tag, classes, ids[0] if ids else None, specificity, font)


def _own_font(el: lxml.html.HtmlElement, sheet: _Sheet) -> Font | None:
    """The font an element sets for itself (inline style, then ``<font face>``, then the
    most specific sheet rule), or None when it inherits its parent's."""
    style = el.get("style")
    if style:
        font = _declared_font(style)
        if font is not None:
            return font
    if el.tag == "font" and el.get("face"):
        return font_encoding(el.get("face", "").split(",")[0])
    return sheet.font(el)


@dataclass
class _Segment:
    """One run of text of the page: an element's text, its tail, or a meta's content."""

    el: lxml.html.HtmlElement
    where: str  # "text", "tail" or "content"
    font: Font | None  # None when nothing on the page says which font it is set in
    value: str

    def replace(self, value: str) -> None:
        if self.where == "text":
            self.el.text = value
        elif self.where == "tail":
            self.el.tail = value
        else:
            self.el.set("content", value)


def _segments(root: lxml.html.HtmlElement) -> list[_Segment]:
    sheet = _Sheet(root)
    found: list[_Segment] = []
    stack: list[tuple[lxml.html.HtmlElement, Font | None]] = [(root, None)]
    while stack:
        el, inherited = stack.pop()
        if not isinstance(el.tag, str):  # a comment or processing instruction
            continue
        own = _own_font(el, sheet)
        font = inherited if own is None else own
        if el.text and el.tag not in _SKIPPED_TAGS:
            found.append(_Segment(el, "text", font, el.text))
        if el.tag == "meta" and el.get("content") and not el.get("http-equiv"):
            found.append(_Segment(el, "content", None, el.get("content", "")))
        for child in el:
            stack.append((child, font))
            if child.tail:
                found.append(_Segment(child, "tail", font, child.tail))
    return found


def _unicode(text: str) -> bool:
    return VIETNAMESE_ONLY_RE.search(text) is not None


def _joined(segments: list[_Segment]) -> str:
    return "\n".join(s.value for s in segments)


def decode_page(root: lxml.html.HtmlElement, source: str) -> str | None:
    """Decode, in place, the text of a parsed page that is typed in a legacy font encoding;
    ``source`` is the page as the parser got it (for the cheap first test). Returns the
    encoding the page was typed in (the one most of its decoded text was in), or None; the
    page's root element records it too (see :func:`typed_in`)."""
    # Legacy text shows its signature characters wherever it is; a page that names legacy
    # fonts without them has nothing to decode (ASCII, or Unicode that kept the font names).
    if not might_be_legacy(source):
        return None
    segments = _segments(root)
    decoded = dict.fromkeys(ENCODINGS, 0)

    def apply(segment: _Segment, encoding: str, capitals: bool = False) -> None:
        new = decode(segment.value, encoding, capitals=capitals)
        if new != segment.value:
            segment.replace(new)
            decoded[encoding] += len(new)

    # Text set in legacy fonts, one encoding at a time, unless that text reads as Unicode.
    for encoding in ENCODINGS:
        covered = [s for s in segments if s.font is not None and s.font[0] == encoding]
        if covered and _reads_as_legacy(evidence(_joined(covered)), encoding):
            for segment in covered:
                if not _unicode(segment.value):
                    apply(segment, encoding, capitals=segment.font is not None and segment.font[1])

    # Text set in no legacy font: decoded where it reads as legacy text by itself (a font we
    # read from the page's sheets may be wrong, and the page may have sheets we lack).
    unset = [s for s in segments if s.font is None or not s.font[0]]
    loose = [s for s in unset if not s.value.isascii() and not _unicode(s.value)]
    if loose:
        whole = evidence(_joined(unset))
        found = reads_as(whole)
        if found is not None:
            # The whole page is in it when no Unicode-only letter shows anywhere: then a run
            # of text decodes unless it reads as Unicode by itself.
            strict = whole.vietnamese_only > 0
        elif any(decoded.values()):
            # The fonts said which encoding the page is in; its other runs of text (the
            # <title>, the metas) decode where they read as that encoding by themselves.
            found, strict = max(ENCODINGS, key=lambda e: decoded[e]), True
        if found is not None:
            for segment in loose:
                if _decodes(evidence(segment.value), found, strict=strict):
                    apply(segment, found)

    if not any(decoded.values()):
        return None
    typed = max(ENCODINGS, key=lambda e: decoded[e])
    root.set(TYPED_IN_ATTRIBUTE, typed)
    return typed


def _reads_as_legacy(found: Evidence, encoding: str) -> bool:
    """Text set in a legacy font is legacy text unless more of its words read as Unicode."""
    return found.unicode[encoding] + found.vietnamese_only <= found.legacy[encoding]


def _decodes(found: Evidence, encoding: str, *, strict: bool) -> bool:
    if strict:
        return found.legacy[encoding] > found.unicode[encoding]
    return found.unicode[encoding] <= found.legacy[encoding]


def typed_in(root: lxml.html.HtmlElement) -> str | None:
    """The legacy encoding :func:`decode_page` found the page typed in, or None."""
    value = root.get(TYPED_IN_ATTRIBUTE)
    return value if value in ENCODINGS else None

"""Columns computed from each article row before validation, for the checks GX has no
built-in expectation for. The suites then hold plain expectations on these columns
(``expect_column_values_to_be_null(furniture_phrases)``...), so the report shows, for each
failing row, *what* was found: the furniture phrase, the mojibake, the share.

* ``batch_row``: the row's position in its extracted batch file; names rows in the results.
* ``vietnamese_letter_share``: share of the letters of title and body that only Vietnamese
  writes (ă đ ơ ư and the tone-marked letters of U+1EA0-U+1EF9). Vietnamese prose has
  0.15-0.25; French, English, and TCVN3/VNI text left undecoded have none.
* ``furniture_phrases``: the phrases of the extractor's catalogue
  (:data:`kernel.furniture.FURNITURE_PHRASES`, the one source of truth) found in the
  body, joined with " | "; null when there are none.
* ``double_encoding``: a snippet around the first sign of UTF-8 text decoded as
  windows-1252 or Latin-1 ("Ä‘" for "đ", "á»™" for "ộ"), or of U+FFFD replacement
  characters, in title or body; null when there is none.
* ``legacy_mojibake``: the encoding and a snippet around the first word of title or body
  that still reads as TCVN3 or VNI font encoding ("tcvn3: …Th«ng tin ®iÖn…"), text the
  extractor could not decode (:func:`kernel.legacy.legacy_residue`, the detector the
  extractor decodes with); null when there is none. A page typed in TCVN3 and decoded has
  none: its ``legacy_encoding`` still says ``tcvn3``, and it passes.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from kernel.furniture import FURNITURE_PHRASES
from kernel.legacy import legacy_residue

DERIVED_COLUMNS = ("batch_row", "vietnamese_letter_share", "furniture_phrases", "double_encoding", "legacy_mojibake")

_VIETNAMESE_ONLY_RE = re.compile(r"[ăđơưĂĐƠƯ\u1ea0-\u1ef9]")
_LETTER_RE = re.compile(r"[^\W\d_]")

# The first character of a Vietnamese letter's UTF-8 bytes read as windows-1252 or Latin-1,
# followed by what its continuation bytes become. Each lead character is a letter Vietnamese
# does not use (Ä Å Æ), or Ã/á followed by a symbol no Vietnamese word puts there.
_CP1252_CONTINUATION = (
    "\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)
DOUBLE_ENCODING_RE = re.compile(
    "|".join(
        (
            "Ã[\u0080-\u00bf\u0152\u0160\u0161\u0192\u02c6\u2019\u201a\u201c\u201d\u2022\u2030\u20ac\u2122]",
            "Ä[\u0080-\u00bf\u0192\u2018\u201a]",
            "Å[\u00a8\u00a9]",
            "Æ[\u00a0\u00a1\u00af\u00b0]",
            f"á[\u00ba\u00bb][{_CP1252_CONTINUATION}]",
            "\ufffd",
        )
    )
)


def vietnamese_letter_share(text: str) -> float:
    """Share of the letters of a text that only Vietnamese writes (0.0 for no letters)."""
    letters = len(_LETTER_RE.findall(text))
    if not letters:
        return 0.0
    return len(_VIETNAMESE_ONLY_RE.findall(text)) / letters


def furniture_phrases(body: str) -> str | None:
    """The catalogue's furniture phrases found in a body, joined with " | ", or None."""
    found = [phrase for phrase in FURNITURE_PHRASES if phrase in body]
    return " | ".join(found) if found else None


def double_encoding(text: str) -> str | None:
    """A short snippet around the first double-encoding signature in a text, or None."""
    match = DOUBLE_ENCODING_RE.search(text)
    if match is None:
        return None
    start, end = max(match.start() - 8, 0), min(match.end() + 8, len(text))
    return text[start:end]


def legacy_mojibake(text: str) -> str | None:
    """Where a text still reads as TCVN3 or VNI ("vni: …Vieät Nam…"), or None."""
    return legacy_residue(text)


def _texts(table: pa.Table, name: str) -> list[str]:
    if name not in table.column_names:
        return [""] * table.num_rows
    return [value if isinstance(value, str) else "" for value in table.column(name).to_pylist()]


def with_derived_columns(table: pa.Table) -> pa.Table:
    """The batch with the derived columns appended (whatever columns the batch has; a
    missing title or body counts as empty, and the schema expectations report it)."""
    titles, bodies = _texts(table, "title"), _texts(table, "body")
    texts = [f"{t}\n{b}" for t, b in zip(titles, bodies, strict=True)]
    derived: dict[str, Any] = {
        "batch_row": pa.array(range(table.num_rows), pa.int64()),
        "vietnamese_letter_share": pa.array([vietnamese_letter_share(t) for t in texts], pa.float64()),
        "furniture_phrases": pa.array([furniture_phrases(b) for b in bodies], pa.string()),
        "double_encoding": pa.array([double_encoding(t) for t in texts], pa.string()),
        "legacy_mojibake": pa.array([legacy_mojibake(t) for t in texts], pa.string()),
    }
    for name, values in derived.items():
        table = table.append_column(name, values)
    return table

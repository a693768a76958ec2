"""Vietnamese legacy font encodings (TCVN3 and VNI): their code tables, decoding to Unicode,
and telling text typed in them from Unicode.

The contract between extraction and validation, like :mod:`kernel.furniture`: the extractor
(``transforms.legacy``) decodes what it finds typed in these encodings, and the
``not_legacy_encoded`` expectation quarantines a row whose text still reads as one.

Both encodings were made for 8-bit "ANSI" fonts: the page's bytes are shown by a font whose
glyphs are Vietnamese letters. A browser (or Word) without the font, or our parser, reads the
same bytes through a Western code page, so this module works on that *Western view*: the text
as windows-1252 / Latin-1 shows it ("Th«ng tin ®iÖn tö" for TCVN3, "Thoâng tin ñieän töû"
for VNI). Both encodings use only bytes 0xA1-0xFF besides ASCII, where windows-1252 and
Latin-1 agree, so one table serves pages read either way and Unicode pages whose text was
pasted from such a font.

Traps the tables cannot show by themselves:

* TCVN3 has no capitals with tone marks. They are typed with the "H" fonts (``.VnTimeH``,
  ``.VnArialH``), which draw capitals on the lower-case code points; so the case of a
  decoded TCVN3 letter comes from the font, or else from its word (see ``decode_tcvn3``).
* VNI writes most letters as a base letter followed by a mark byte (``a`` + ``ù`` = ``á``,
  ``o`` + ``â`` = ``ô``, ``ô`` alone = ``ơ``).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

ENCODINGS = ("tcvn3", "vni")

_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT = "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"
TONES = (_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT)


def _toned(base: str, tone: str) -> str:
    return unicodedata.normalize("NFC", base + tone)


# -- TCVN3 ------------------------------------------------------------------------------------
# TCVN 5712:1993, table VN3 (the "ABC" font encoding): the byte of each lower-case vowel with
# its tone, in the order acute, grave, hook above, tilde, dot below. The table follows the
# standard as glibc's TCVN5712-1 converter (table VN1, whose upper half holds VN3) and
# Unikey's converter (vnconv, table TCVN3) give it; both agree with it byte for byte (a
# test checks against glibc's where iconv is installed). VN1 also puts a few capitals in bytes VN3 leaves free; we
# decode VN3 only, as those bytes are letters of Western text (à, Á, Û...) in a VN3 font.
_TCVN3_TONED = {
    "a": (0xB8, 0xB5, 0xB6, 0xB7, 0xB9),
    "ă": (0xBE, 0xBB, 0xBC, 0xBD, 0xC6),
    "â": (0xCA, 0xC7, 0xC8, 0xC9, 0xCB),
    "e": (0xD0, 0xCC, 0xCE, 0xCF, 0xD1),
    "ê": (0xD5, 0xD2, 0xD3, 0xD4, 0xD6),
    "i": (0xDD, 0xD7, 0xD8, 0xDC, 0xDE),
    "o": (0xE3, 0xDF, 0xE1, 0xE2, 0xE4),
    "ô": (0xE8, 0xE5, 0xE6, 0xE7, 0xE9),
    "ơ": (0xED, 0xEA, 0xEB, 0xEC, 0xEE),
    "u": (0xF3, 0xEF, 0xF1, 0xF2, 0xF4),
    "ư": (0xF8, 0xF5, 0xF6, 0xF7, 0xF9),
    "y": (0xFD, 0xFA, 0xFB, 0xFC, 0xFE),
}
# The letters without a tone that ASCII lacks; the seven capitals are the only capitals VN3 has.
_TCVN3_BARE = {
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
    "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
}  # fmt: skip

TCVN3_ENCODE: dict[str, str] = {
    **{
        _toned(base, tone): chr(code)
        for base, codes in _TCVN3_TONED.items()
        for tone, code in zip(TONES, codes, strict=True)
    },
    **{letter: chr(code) for letter, code in _TCVN3_BARE.items()},
}
TCVN3_DECODE: dict[str, str] = {byte: letter for letter, byte in TCVN3_ENCODE.items()}
_TCVN3_TABLE = str.maketrans(TCVN3_DECODE)

# -- VNI ----------------------------------------------------------------------------------------
# VNI for Windows, the encoding of VNI Software's fonts (VNI-Times, VNI-Helve...): a vowel
# is its base letter followed by one mark byte, lower-case marks after lower-case letters and
# upper-case ones after capitals; a few letters are single bytes. Checked against two
# independent implementations, Unikey's converter (vnconv, table VNI-WIN) and xvnkb's
# vni.h: all three agree on all 146 letters, lower and upper case.
# The mark bytes, (after a lower-case letter, after a capital), for each tone: the tone
# alone, with a circumflex (â ê ô), with a breve (ă). Tone "" is the vowel mark alone.
#      tone       alone         circumflex    breve
_VNI_MARK_BYTES = {
    "":     (None,         (0xE2, 0xC2), (0xEA, 0xCA)),
    _ACUTE: ((0xF9, 0xD9), (0xE1, 0xC1), (0xE9, 0xC9)),
    _GRAVE: ((0xF8, 0xD8), (0xE0, 0xC0), (0xE8, 0xC8)),
    _HOOK:  ((0xFB, 0xDB), (0xE5, 0xC5), (0xFA, 0xDA)),
    _TILDE: ((0xF5, 0xD5), (0xE3, 0xC3), (0xFC, 0xDC)),
    _DOT:   ((0xEF, 0xCF), (0xE4, 0xC4), (0xEB, 0xCB)),
}  # fmt: skip
# Letters that are one byte: đ, ơ and ư (which then take tone marks like a base letter), and
# i and y with tones.
_VNI_SINGLE = {
    "đ": (0xF1, 0xD1), "ơ": (0xF4, 0xD4), "ư": (0xF6, 0xD6),
    "í": (0xED, 0xCD), "ì": (0xEC, 0xCC), "ỉ": (0xE6, 0xC6), "ĩ": (0xF3, 0xD3), "ị": (0xF2, 0xD2),
    "ỵ": (0xEE, 0xCE),
}  # fmt: skip


def _vni_table() -> dict[str, str]:
    """Unicode letter (NFC) -> its VNI bytes in the Western view, lower and upper case."""
    table: dict[str, str] = {}

    def add(lower: str, lower_bytes: str, upper_bytes: str) -> None:
        table[lower] = lower_bytes
        table[lower.upper()] = upper_bytes

    for letter, (low, up) in _VNI_SINGLE.items():
        add(letter, chr(low), chr(up))
    for tone, (alone, circumflex, breve) in _VNI_MARK_BYTES.items():
        if alone is not None:
            for base in "aeouy":
                if not (base == "y" and tone == _DOT):  # ỵ is a single byte
                    add(_toned(base, tone), base + chr(alone[0]), base.upper() + chr(alone[1]))
            for base in "ơư":  # themselves single bytes
                add(_toned(base, tone), table[base] + chr(alone[0]), table[base.upper()] + chr(alone[1]))
        for base in "aeo":
            add(_toned(base + "\u0302", tone), base + chr(circumflex[0]), base.upper() + chr(circumflex[1]))
        add(_toned("a\u0306", tone), "a" + chr(breve[0]), "A" + chr(breve[1]))
    return table


VNI_ENCODE: dict[str, str] = _vni_table()
_VNI_DECODE: dict[str, str] = {code: letter for letter, code in VNI_ENCODE.items() if code != letter}
# Decoding is lenient about the case of a mark byte (the base letter's case wins), as VNI
# fonts draw it: "Aù" reads as "Á" too.
for _code, _letter in list(_VNI_DECODE.items()):
    if len(_code) == 2:
        _other = _code[0] + (_code[1].lower() if _code[1].isupper() else _code[1].upper())
        _VNI_DECODE.setdefault(_other, _letter)
_VNI_BASES = "".join(sorted({code[0] for code in _VNI_DECODE if len(code) == 2}))
_VNI_MARKS = "".join(sorted({code[1] for code in _VNI_DECODE if len(code) == 2}))
_VNI_SINGLES = "".join(sorted(code for code in _VNI_DECODE if len(code) == 1))
_VNI_RE = re.compile(f"[{re.escape(_VNI_BASES)}][{re.escape(_VNI_MARKS)}]|[{re.escape(_VNI_SINGLES)}]")


def _vni_letter(match: re.Match[str]) -> str:
    code = match.group()
    letter = _VNI_DECODE.get(code)
    if letter is not None:
        return letter
    # A base and a mark that do not combine (a circumflex on u): each stands alone.
    return _VNI_DECODE.get(code[0], code[0]) + code[1:]


# -- decoding -----------------------------------------------------------------------------------
_SEPARATORS = r"\s\d!-/:-@\[-`{-~\u2000-\u206f"
_WORD_RE = re.compile(f"[^{_SEPARATORS}]+")
_UNLOWERED_WORD_RE = re.compile(f"(?<![^{_SEPARATORS}])[^{_SEPARATORS}a-z]+(?![^{_SEPARATORS}])")


def decode_tcvn3(text: str, *, capitals: bool = False) -> str:
    """TCVN3 text (Western view) in Unicode NFC.

    ``capitals`` when the text is set in an "H" font, which draws every letter as a capital.
    Otherwise the toned letters of a word typed in capitals ("NGHÞ": two or more ASCII
    capitals, no ASCII lower case) are capitals too, as are those of a word that shows no
    case of its own ("§µ", "Uû") next to such words; the whole text likewise.
    """
    decoded = text.translate(_TCVN3_TABLE)
    if capitals or _typed_case(text):
        return decoded.upper()
    # Only words without an ASCII lower-case letter that decoding changed can be capitals
    # (one character for one: a word's place in ``text`` is its place in ``decoded``).
    spans = [m.span() for m in _UNLOWERED_WORD_RE.finditer(text) if decoded[m.start() : m.end()] != m.group()]
    if not spans:
        return decoded
    words: list[tuple[int, int]] = []
    cases: list[bool | None] = []
    pieces: list[str] = []
    done = 0
    for start, end in spans:
        case = _typed_case(text[start:end])
        if case is None:
            if not words:
                words = [m.span() for m in _WORD_RE.finditer(text)]
                cases = [_typed_case(text[a:b]) for a, b in words]
            # The nearest word that shows its case, after this one, else before it.
            i = bisect_left(words, (start, end))
            case = next((c for c in cases[i + 1 : i + 4] if c is not None), None)
            if case is None:
                case = next((c for c in reversed(cases[max(i - 3, 0) : i]) if c is not None), False)
        if case:
            pieces += [decoded[done:start], decoded[start:end].upper()]
            done = end
    return "".join([*pieces, decoded[done:]])


def _typed_case(text: str) -> bool | None:
    """True when typed with caps on (two or more ASCII capitals, no ASCII lower case), False
    when it has an ASCII lower-case letter, None when it does not say."""
    upper = 0
    for ch in text:
        if "A" <= ch <= "Z":
            upper += 1
        elif "a" <= ch <= "z":
            return False
    return True if upper >= 2 else None


def decode_vni(text: str) -> str:
    """VNI text (Western view) in Unicode NFC."""
    return _VNI_RE.sub(_vni_letter, text)


def decode(text: str, encoding: str, *, capitals: bool = False) -> str:
    """Text typed in ``encoding`` (``"tcvn3"`` or ``"vni"``) in Unicode NFC."""
    if encoding == "tcvn3":
        return decode_tcvn3(text, capitals=capitals)
    if encoding == "vni":
        decoded = decode_vni(text)
        return decoded.upper() if capitals else decoded
    raise ValueError(f"unknown legacy encoding {encoding!r} (known: {', '.join(ENCODINGS)})")


def encode(text: str, encoding: str) -> str:
    """Unicode Vietnamese as typed in ``encoding`` (Western view). TCVN3 writes toned
    capitals on the lower-case code points, as the "H" fonts expect. A character the
    encoding cannot write is an error naming it."""
    table = TCVN3_ENCODE if encoding == "tcvn3" else VNI_ENCODE if encoding == "vni" else None
    if table is None:
        raise ValueError(f"unknown legacy encoding {encoding!r} (known: {', '.join(ENCODINGS)})")
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        code = table.get(ch)
        if code is None and encoding == "tcvn3":
            code = table.get(ch.lower())
        if code is None:
            if not ch.isascii():
                raise ValueError(f"{encoding} cannot write {ch!r} (U+{ord(ch):04X})")
            code = ch
        out.append(code)
    return "".join(out)


# -- telling legacy text from Unicode ---------------------------------------------------------
# Letters that only Unicode Vietnamese has: no legacy text in a Western view contains them.
VIETNAMESE_ONLY_RE = re.compile(
    "[\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9]"
)
# Characters of the two encodings that Unicode Vietnamese prose does not use (Vietnamese
# letters of Latin-1 and page furniture such as « » © · are left out): the cheap first test.
_SIGNATURE_RE = re.compile("[¡¢£¤¥¦§¨ª¬µ¶¸¹¼½¾ÄÅÆÇËÎÏÑÖ×ØÛÜßäåæçëîïñö÷øûüþ]")

_ONSET = "(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
_NO_CODA = "iêu|yêu|oai|oao|oay|oeo|uây|uôi|uya|uyu|ươi|ươu|ai|ao|au|ay|âu|ây|eo|êu|ia|iu|oi|ôi|ơi|ua|ui|uơ|ưa|ưi|ưu"
_NEEDS_CODA = "uyê|iê|yê|uô|ươ|oă|uâ|ă|â"
_MAY_CODA = "oa|oe|uê|uy|a|e|ê|i|o|ô|ơ|u|ư|y"
_CODA = "(?:ch|ng|nh|[cmnpt])"
_SYLLABLE_RE = re.compile(f"{_ONSET}(?:{_NO_CODA}|(?:{_NEEDS_CODA}){_CODA}|(?:{_MAY_CODA}){_CODA}?)")
_TONE_SET = frozenset(TONES)


def is_syllable(word: str) -> bool:
    """True when a word is one Vietnamese syllable: an onset, a vowel group that Vietnamese
    writes, a final consonant it allows, and at most one tone mark."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = sum(1 for ch in decomposed if ch in _TONE_SET)
    if tones > 1:
        return False
    if tones:
        decomposed = "".join(ch for ch in decomposed if ch not in _TONE_SET)
    return _SYLLABLE_RE.fullmatch(unicodedata.normalize("NFC", decomposed)) is not None


def _plain_case(word: str) -> bool:
    return word.islower() or word.isupper() or word.istitle()


@dataclass
class Evidence:
    """What the words of a text say about one encoding.

    Per encoding, ``legacy``: words that are not Vietnamese as they stand and become a
    Vietnamese syllable when decoded; ``unicode``: words that are Vietnamese as they stand
    and stop being so when decoded. For both, ``vietnamese_only``: words holding letters only
    Unicode has; ``broken``: words with a Latin-1 character that are not Vietnamese as they
    stand (the legacy words among them); ``first``: where the first legacy word is.
    """

    legacy: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENCODINGS, 0))
    unicode: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENCODINGS, 0))
    vietnamese_only: int = 0
    broken: int = 0
    first: dict[str, tuple[int, int]] = field(default_factory=dict)


def evidence(text: str, *, limit: int = 3_000) -> Evidence:
    """Weigh the words of a text: the first ``limit`` with a non-ASCII character, enough to
    decide what a text is typed in, in a time that does not grow with the page."""
    found = Evidence()
    seen = 0
    for match in _WORD_RE.finditer(text):
        word = match.group()
        if word.isascii():
            continue
        seen += 1
        if seen > limit:
            break
        weight = _weigh(word)
        if weight is None:
            found.vietnamese_only += 1
            continue
        as_is, outcomes = weight
        if not as_is:
            found.broken += 1
        for encoding, outcome in zip(ENCODINGS, outcomes, strict=True):
            if outcome is None:
                continue
            # A lone sign is no evidence: "£" and "×" in an English page read as TCVN3's "Ê"
            # and "Ô", one-letter syllables; a legacy word counts from two characters on.
            if outcome and not as_is and len(word) > 1:
                found.legacy[encoding] += 1
                if encoding not in found.first:
                    found.first[encoding] = match.span()
            elif not outcome and as_is:
                found.unicode[encoding] += 1
    return found


# Vietnamese has some 7,000 syllables and a page repeats a few hundred of them: weighing each
# distinct word once makes a long legacy page cost little more than a short one.
@lru_cache(maxsize=1 << 16)
def _weigh(word: str) -> tuple[bool, tuple[bool | None, ...]] | None:
    """None for a word with letters only Unicode has; else whether it is a Vietnamese
    syllable as it stands, and for each encoding whether it becomes one when decoded (None
    when decoding does not change it)."""
    if VIETNAMESE_ONLY_RE.search(word):
        return None
    outcomes: list[bool | None] = []
    for encoding in ENCODINGS:
        decoded = decode_vni(word) if encoding == "vni" else word.translate(_TCVN3_TABLE)
        outcomes.append(None if decoded == word else is_syllable(decoded))
    return _plain_case(word) and is_syllable(word), tuple(outcomes)


def might_be_legacy(text: str, *, signatures: int = 3) -> bool:
    """The cheap test: does the text hold a few characters only legacy text has?"""
    return sum(1 for _ in islice(_SIGNATURE_RE.finditer(text), signatures)) >= signatures


def reads_as(found: Evidence, *, min_words: int = 3) -> str | None:
    """The encoding that a text's evidence says it is typed in, all or in part, or None: at
    least ``min_words`` words that decode into Vietnamese, and at least half of the words
    that are not Vietnamese as they stand. (Words that read as Unicode do not count against
    it: a page may mix both; which parts to decode is for the caller to weigh.)"""
    encoding = max(ENCODINGS, key=lambda e: found.legacy[e])
    legacy = found.legacy[encoding]
    if legacy < min_words or 2 * legacy < found.broken:
        return None
    return encoding


def legacy_encoding(text: str) -> str | None:
    """``"tcvn3"`` or ``"vni"`` when a text is Vietnamese typed in a legacy font encoding
    (it reads as mojibake in Unicode), else None. Unicode Vietnamese, French or German with
    their accents, and windows-1258 text read as windows-1252 are None."""
    if not might_be_legacy(text):
        return None
    return reads_as(evidence(text))


def legacy_residue(text: str) -> str | None:
    """``"tcvn3: …Th«ng tin ®iÖn…"``: the encoding and a snippet around the first word of a
    text that still reads as legacy font encoding, or None when the text does not."""
    if not might_be_legacy(text):
        return None
    found = evidence(text, limit=50_000)  # all of any article: residue may be anywhere
    encoding = reads_as(found)
    if encoding is None:
        return None
    start, end = found.first[encoding]
    return f"{encoding}: {text[max(start - 12, 0) : end + 12]}"

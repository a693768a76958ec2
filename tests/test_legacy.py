"""Pages typed in the TCVN3 and VNI font encodings decoded to Unicode: the tables, every
Vietnamese letter and tone through both encodings and back, real sentences, telling legacy
text from Unicode and from Western languages, and whole pages through the real extractor
(fonts named inline and in style sheets, the "H" capitals fonts, pages served as
windows-1252 or undeclared, pages that mix Unicode and legacy text, pages that are neither)."""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from kernel.legacy import (
    TCVN3_DECODE,
    TCVN3_ENCODE,
    VNI_ENCODE,
    decode,
    decode_tcvn3,
    decode_vni,
    encode,
    is_syllable,
    legacy_encoding,
    legacy_residue,
    might_be_legacy,
)
from pipeline.mirror import MIRROR_DIR
from tests.conftest import gold_articles
from transforms import extract_article
from transforms.legacy import decode_page, font_encoding, typed_in
from transforms.page import parse_page
from transforms.text import decode_html, fold

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
PAGES = ("tcvn3-namdan-2004", "vni-sokhdt-2002")

TONES = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # none, acute, grave, hook, tilde, dot
VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")
LETTERS = [unicodedata.normalize("NFC", v + t) for v in VOWELS for t in TONES] + ["đ"]


def fixture(name: str) -> tuple[bytes, dict[str, Any]]:
    return (FIXTURES / f"{name}.html").read_bytes(), json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def page_text(html: bytes | str, charset: str | None = None) -> str:
    tree = parse_page(html, charset)
    assert tree is not None
    return "\n".join(line for line in (fold(t) for t in tree.itertext()) if line)


# -- the tables ---------------------------------------------------------------------------------
def test_every_vietnamese_letter_has_its_codes() -> None:
    assert len(LETTERS) == 73 and len(set(LETTERS)) == 73
    # TCVN3 writes each lower-case letter in one byte of 0xA1-0xFE, plus seven untoned capitals.
    plain = {"a", "e", "i", "o", "u", "y"}
    assert set(TCVN3_ENCODE) == (set(LETTERS) - plain) | {"Ă", "Â", "Ê", "Ô", "Ơ", "Ư", "Đ"}
    assert all(len(code) == 1 and 0xA1 <= ord(code) <= 0xFE for code in TCVN3_ENCODE.values())
    assert len(set(TCVN3_ENCODE.values())) == len(TCVN3_ENCODE) == len(TCVN3_DECODE)
    # VNI writes every letter in both cases, in one or two bytes of 0xC0-0xFF after the base.
    assert set(VNI_ENCODE) == {c for letter in set(LETTERS) - plain for c in (letter, letter.upper())}
    for letter, code in VNI_ENCODE.items():
        assert 1 <= len(code) <= 2 and all(ord(c) >= 0xC0 for c in code[-1:]), letter
    assert len(set(VNI_ENCODE.values())) == len(VNI_ENCODE)


@pytest.mark.parametrize(
    ("typed", "encoding", "unicode"),
    [
        # As pages read through a Western code page show them (the issue's own examples).
        ("Th«ng tin ®iÖn tö", "tcvn3", "Thông tin điện tử"),
        ("Vieät Nam", "vni", "Việt Nam"),
        ("Thoâng tin ñieän töû", "vni", "Thông tin điện tử"),
        ("§µ N½ng", "tcvn3", "Đà Nẵng"),
        ("ng­êi d©n", "tcvn3", "người dân"),  # ư is the soft hyphen byte 0xAD
        ("ngöôøi daân", "vni", "người dân"),
        ("UÛY BAN NHAÂN DAÂN", "vni", "ỦY BAN NHÂN DÂN"),
        ("Aùo daøi", "vni", "Áo dài"),  # a lower-case mark after a capital: the base decides
    ],
)
def test_known_words(typed: str, encoding: str, unicode: str) -> None:
    assert decode(typed, encoding) == unicode


@pytest.mark.slow
def test_tcvn3_table_agrees_with_glibc() -> None:
    """glibc's TCVN5712-1 converter is an independent reading of the standard; its upper half
    is VN3 plus capitals where VN3 has none, so on VN3's bytes the two must agree."""
    if shutil.which("iconv") is None:
        pytest.skip("no iconv here")
    codes = sorted(TCVN3_DECODE)
    raw = "".join(codes).encode("latin-1")
    done = subprocess.run(["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=raw, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("iconv here has no TCVN5712-1")
    theirs = unicodedata.normalize("NFC", done.stdout.decode("utf-8"))
    assert list(theirs) == [TCVN3_DECODE[c] for c in codes]


# -- every letter, there and back -------------------------------------------------------------
@pytest.mark.parametrize("letter", LETTERS)
def test_vni_round_trip_of_every_letter(letter: str) -> None:
    for text in (letter, letter.upper(), f"ng{letter}n", f"NG{letter.upper()}N", f"{letter.upper()}nh"):
        typed = encode(text, "vni")
        assert decode_vni(typed) == text, (text, typed)


@pytest.mark.parametrize("letter", LETTERS)
def test_tcvn3_round_trip_of_every_letter(letter: str) -> None:
    upper = letter.upper()
    # Lower case in the ordinary fonts (.VnTime).
    for text in (letter, f"ng{letter}n", f"{letter}nh"):
        assert decode_tcvn3(encode(text, "tcvn3")) == text, text
    # Capitals: in an "H" font (.VnTimeH), or in a word typed in capitals.
    for text in (upper, f"NG{upper}N", f"{upper}NH"):
        assert decode_tcvn3(encode(text, "tcvn3"), capitals=True) == text, text
    assert decode_tcvn3(encode(f"NG{upper}N", "tcvn3")) == f"NG{upper}N"
    assert decode_tcvn3(encode(f"{upper}NH TR{upper}N", "tcvn3")) == f"{upper}NH TR{upper}N"


def test_characters_an_encoding_cannot_write_are_named() -> None:
    with pytest.raises(ValueError, match=r"tcvn3 cannot write 'ç' \(U\+00E7\)"):
        encode("façade", "tcvn3")
    with pytest.raises(ValueError, match="unknown legacy encoding 'viscii'"):
        decode("x", "viscii")


@pytest.mark.parametrize("encoding", ["vni", "tcvn3"])
def test_real_articles_round_trip(encoding: str) -> None:
    """Every gold article's title and paragraphs, typed in the encoding and decoded again."""
    checked = 0
    for gold in gold_articles():
        for line in [gold.data["title"], *gold.data["body"]]:
            writable = "".join(ch for ch in line if ch.isascii() or ch.lower() in TCVN3_ENCODE or ch in VNI_ENCODE)
            back = decode(encode(writable, encoding), encoding)
            checked += 1
            if encoding == "vni":
                assert back == writable
                continue
            # TCVN3 has no toned capitals outside the H fonts: a word with one comes back as it
            # was when typed in capitals (two ASCII capitals say so), else in lower case; every
            # other word comes back as it was.
            for word, returned in zip(writable.split(" "), back.split(" "), strict=True):
                if any(ch.isupper() and ch not in TCVN3_ENCODE and not ch.isascii() for ch in word):
                    in_capitals = word.isupper() and sum("A" <= ch <= "Z" for ch in word) >= 2
                    assert returned == word if in_capitals else returned.lower() == word.lower(), (word, returned)
                else:
                    assert returned == word, (word, returned)
    assert checked > 500


# -- legacy or not ------------------------------------------------------------------------------
UNICODE_SENTENCE = "Ủy ban nhân dân quận tổ chức hội nghị tổng kết công tác năm 2023 và triển khai nhiệm vụ."
TCVN3_SENTENCE = encode(UNICODE_SENTENCE.replace("Ủy", "Uỷ"), "tcvn3")  # .VnTime has no Ủ
VNI_SENTENCE = encode(UNICODE_SENTENCE, "vni")
NEITHER = [
    "Le comité a présenté à la réunion le rapport annuel très détaillé sur la qualité de l'eau; où est né le projet?",
    "Die Größe der Straße und die Qualität des Wassers wurden für Bürger ausführlich geprüft. Schön, übermäßig.",
    "El año pasado la información llegó más tarde: según él, también está aquí, en la región de Castilla y León.",
    "A naïve café owner in Zürich served crème brûlée and piña colada to the façade's résumé writers.",
    "Não há informação sobre a eleição: a população está à espera de ações do governo português.",
    # Signs alone read as one-letter TCVN3 syllables ("£" as "Ê", "×" as "Ô"): no evidence.
    "The fee was £71.6 million, then £38 million and £11.99 a year; the 3 × 4 grid was a cliché.",
]


def cp1258_read_as_cp1252(text: str) -> str:
    """Unicode Vietnamese as a windows-1258 page stores it, read through windows-1252."""
    from tests.test_text import cp1258

    return cp1258(text).decode("cp1252", errors="replace")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TCVN3_SENTENCE, "tcvn3"),
        (VNI_SENTENCE, "vni"),
        (UNICODE_SENTENCE, None),
        (cp1258_read_as_cp1252(UNICODE_SENTENCE * 3), None),
        *[(text, None) for text in NEITHER],
    ],
)
def test_legacy_encoding_tells_them_apart(text: str, expected: str | None) -> None:
    assert legacy_encoding(text) == expected
    assert legacy_encoding(f"{UNICODE_SENTENCE}\n{text}") == expected  # beside Unicode text too


def test_no_gold_article_reads_as_legacy() -> None:
    for gold in gold_articles():
        text = "\n".join([gold.data["title"], *gold.data["body"]])
        assert legacy_encoding(text) is None and legacy_residue(text) is None, gold.url


def test_residue_names_the_encoding_and_the_place() -> None:
    found = legacy_residue(f"{UNICODE_SENTENCE}\nTin cũ: {TCVN3_SENTENCE}")
    assert found is not None and found.startswith("tcvn3: ") and "Uû ban" in found
    assert legacy_residue(UNICODE_SENTENCE) is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [("nghiêng", True), ("khuya", True), ("được", True), ("quyết", True), ("gì", True), ("ăn", True),
     ("ă", False), ("tauc", False), ("comité", False), ("trốs", False), ("hồà", False), ("fỹr", False)],
)  # fmt: skip
def test_is_syllable(word: str, expected: bool) -> None:
    assert is_syllable(word) is expected


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        (".VnTime", ("tcvn3", False)),
        ("'.VnTimeH'", ("tcvn3", True)),
        (".VnArial NarrowH", ("tcvn3", True)),
        ('"VNI-Times"', ("vni", False)),
        ("VNI-Helve", ("vni", False)),
        ("Times New Roman", ("", False)),
        ("Arial", ("", False)),
    ],
)
def test_font_names(family: str, expected: tuple[str, bool]) -> None:
    assert font_encoding(family) == expected


# -- whole pages ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PAGES)
def test_a_legacy_article_page_is_decoded(name: str) -> None:
    raw, expected = fixture(name)
    article = extract_article(raw, expected["url"], charset=expected["charset"])
    assert article is not None
    assert article.title == expected["title"]
    lines = article.body.split("\n")
    assert [p for p in expected["paragraphs"] if p not in lines] == []
    assert article.published_at is not None and article.published_at.date().isoformat() == expected["published_at"]
    assert article.legacy_encoding == expected["legacy_encoding"]
    assert legacy_residue(f"{article.title}\n{article.body}") is None
    assert unicodedata.is_normalized("NFC", article.body)
    # Every part of the page decodes: menus, the H font's capitals, the date, the <title>.
    text = page_text(raw, expected["charset"]).split("\n")
    assert [line for line in expected["page_lines"] if line not in text] == []


@pytest.mark.parametrize(
    "served",
    ["windows-1252", "iso-8859-1", "windows-1258", None, "undeclared"],
)
def test_the_tcvn3_page_whatever_latin_charset_it_is_served_with(served: str | None) -> None:
    raw, expected = fixture("tcvn3-namdan-2004")
    if served == "undeclared":
        raw = raw.replace(b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">', b"")
        served = None
    elif served is not None:
        raw = raw.replace(b"charset=windows-1252", f"charset={served}".encode())
    western = decode_html(raw, served)
    assert "Th\u00ad\u00eang" in western or "n\u00a8m" in western  # kept as the fonts need it
    article = extract_article(raw, expected["url"], charset=served)
    assert article is not None and article.title == expected["title"]
    assert expected["paragraphs"][0] in article.body.split("\n")


def test_a_legacy_page_in_utf8_decodes_too() -> None:
    """Text pasted from a .VnTime document into a UTF-8 CMS keeps the Western characters."""
    raw, expected = fixture("tcvn3-namdan-2004")
    utf8 = raw.decode("latin-1").replace("charset=windows-1252", "charset=utf-8").encode("utf-8")
    article = extract_article(utf8, expected["url"])
    assert article is not None and article.title == expected["title"] and article.legacy_encoding == "tcvn3"
    assert expected["paragraphs"][1] in article.body.split("\n")


MIXED = """<html><head><meta charset="utf-8"><title>Thông báo - Cổng thông tin điện tử huyện</title></head>
<body><ul class="menu"><li>Thông báo</li><li>Bé khỏe bé ngoan</li><li>Tin tức</li><li>Giới thiệu</li></ul>
<p>Ủy ban nhân dân huyện thông báo lịch tiếp công dân tháng 3 năm 2024 như sau.</p>
<div class="archive"><p><b>Tin cũ (2003):</b> <font face=".VnTime">{tcvn3}</font></p>
<p style="font-family: VNI-Times">{vni}</p><p style="font: 11pt '.VnTimeH', serif">{capitals}</p></div>
<p>Mọi thắc mắc xin liên hệ văn phòng, điện thoại 0238 3821 234. Có, không, chờ.</p></body></html>"""


def test_a_mixed_page_decodes_only_its_legacy_elements() -> None:
    old = "Huyện tổ chức hội nghị tổng kết công tác năm 2003 và triển khai nhiệm vụ năm 2004."
    heading = "hội nghị tổng kết"
    html = MIXED.format(tcvn3=encode(old, "tcvn3"), vni=encode(old, "vni"), capitals=encode(heading, "tcvn3"))
    tree = parse_page(html.encode("utf-8"))
    assert tree is not None and typed_in(tree) in ("tcvn3", "vni")
    lines = page_text(html.encode("utf-8")).split("\n")
    # Unicode parts unchanged, short ones that a decoder would garble ("Bé" is "Bộ" in TCVN3) too.
    for unchanged in ["Thông báo - Cổng thông tin điện tử huyện", "Thông báo", "Bé khỏe bé ngoan", "Tin cũ (2003):",
                      "Mọi thắc mắc xin liên hệ văn phòng, điện thoại 0238 3821 234. Có, không, chờ."]:  # fmt: skip
        assert unchanged in lines, unchanged
    assert lines.count(old) == 2
    assert heading.upper() in lines


def test_a_unicode_page_that_kept_its_old_font_names_is_left_alone() -> None:
    body = "".join(f"<p>{line}</p>" for line in [UNICODE_SENTENCE, "Thông báo", "Bé ngoan", "Có thể"])
    sheet = "<style>body { font-family: .VnTime }</style>"
    html = f'<html><head>{sheet}</head><body><font face=".VnTime">{body}</font></body></html>'
    tree = parse_page(html.encode("utf-8"))
    assert tree is not None and typed_in(tree) is None
    assert page_text(html).split("\n")[1:] == [UNICODE_SENTENCE, "Thông báo", "Bé ngoan", "Có thể"]


@pytest.mark.parametrize("text", NEITHER)
@pytest.mark.parametrize("codec", ["cp1252", "utf-8"])
def test_western_pages_are_not_decoded(text: str, codec: str) -> None:
    paragraphs = "".join(f"<p>{text}</p>" for _ in range(5))
    html = f'<html><head><meta charset="{codec}"><title>{text[:40]}</title></head><body>{paragraphs}</body></html>'
    assert page_text(html.encode(codec)).split("\n") == [text[:40], *[text] * 5]
    tree = parse_page(html.encode(codec))
    assert tree is not None and typed_in(tree) is None


def test_tcvn3_capitals_without_a_font_come_from_the_word() -> None:
    heading = encode("HỘI NGHỊ TỔNG KẾT", "tcvn3")
    body = "".join(f"<p>{TCVN3_SENTENCE}</p>" for _ in range(3))
    html = f"<html><body><b>{heading}</b>{body}<p>{encode('Đà Nẵng, ĐÀ NẴNG', 'tcvn3')}</p></body></html>"
    lines = page_text(html.encode("cp1252")).split("\n")
    assert lines[0] == "HỘI NGHỊ TỔNG KẾT"
    assert lines[1] == "Uỷ ban nhân dân quận tổ chức hội nghị tổng kết công tác năm 2023 và triển khai nhiệm vụ."
    assert lines[-1] == "Đà Nẵng, ĐÀ NẴNG"


def test_pages_that_are_not_legacy_take_the_cheap_path() -> None:
    """No mirror page (real Unicode Vietnamese portals) gets past the first test, so
    decoding costs them one scan of their source."""
    pages = [p for p in MIRROR_DIR.rglob("*") if p.is_file() and p.suffix not in (".xml", ".rss", ".txt", ".json")]
    assert len(pages) > 50
    for path in pages:
        source = decode_html(path.read_bytes())
        assert not might_be_legacy(source), path.relative_to(MIRROR_DIR)
        tree = parse_page(source)
        assert tree is None or decode_page(tree, source) is None

"""Decoding and normalising Vietnamese text: legacy code pages, NFD, legacy font encodings."""

from __future__ import annotations

import unicodedata

import pytest

from transforms import extract_article
from transforms.text import declared_charset, decode_html, fold, legacy_encoding, paragraphs

SENTENCE = "Ủy ban nhân dân huyện tổ chức hội nghị tổng kết công tác năm 2023 và triển khai nhiệm vụ."


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """How a windows-1258 page stores Vietnamese: base letters with separate tone marks."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            # Vowel marks (circumflex, breve, horn) stay on the letter; the tone mark follows.
            decomposed = unicodedata.normalize("NFD", ch)
            tones = [c for c in decomposed if c in TONE_MARKS]
            base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
            out += base.encode("cp1258") + "".join(tones).encode("cp1258")
    return bytes(out)


def test_fold_is_nfc_and_folds_white_space() -> None:
    nfd = unicodedata.normalize("NFD", "Hà  Nội\u00a0 mới")
    assert fold(nfd) == "Hà Nội mới"
    assert unicodedata.is_normalized("NFC", fold(nfd))
    assert paragraphs(" a \n\n  \n b ") == ["a", "b"]


@pytest.mark.parametrize("declared", [True, False])
def test_windows_1258_with_or_without_declaration(declared: bool) -> None:
    head = '<meta charset="windows-1258">' if declared else ""
    page = f"<html><head>{head}</head><body><p>{SENTENCE}</p></body></html>"
    raw = cp1258(page)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert (declared_charset(raw) == "cp1258") is declared
    assert fold(decode_html(raw)).endswith(f"<p>{SENTENCE}</p></body></html>")


def test_utf8_without_declaration_wins_over_a_wrong_one() -> None:
    page = f'<html><head><meta charset="windows-1258"></head><body>{SENTENCE}</body></html>'.encode()
    assert SENTENCE in decode_html(page)
    assert SENTENCE in decode_html(page, "iso-8859-1")


TCVN3 = (
    "Uû ban nh©n d©n quËn Long Biªn tæ chøc héi nghÞ tæng kÕt c«ng t¸c n¨m 2023 vµ triÓn khai "
    "nhiÖm vô n¨m 2024. Th«ng tin ®iÖn tö cña quËn ®­îc cËp nhËt th­êng xuyªn."
)
VNI = (
    "UÛy ban nhaân daân quaän Long Bieân toå chöùc hoäi nghò toång keát coâng taùc naêm 2023 vaø "
    "trieån khai nhieäm vuï naêm 2024. Thoâng tin ñieän töû cuûa quaän ñöôïc caäp nhaät thöôøng xuyeân."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TCVN3, "tcvn3"),
        (VNI, "vni"),
        (SENTENCE * 2, None),
        ("Le comité a présenté à la réunion le rapport annuel très détaillé sur la qualité de l'eau.", None),
        ("Die Größe der Straße und die Qualität des Wassers wurden für Bürger ausführlich geprüft.", None),
    ],
)
def test_legacy_font_encodings_are_detected(text: str, expected: str | None) -> None:
    assert legacy_encoding(text) == expected


@pytest.mark.parametrize("head", ["", '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'])
def test_a_tcvn3_page_is_extracted_and_marked(head: str) -> None:
    body = "".join(f"<p>{i}. {TCVN3}</p>" for i in range(4))
    page = (
        f"<html><head>{head}<title>Héi nghÞ tæng kÕt c«ng t¸c n¨m 2023 - Cæng th«ng tin</title></head><body>"
        f"<h1>Héi nghÞ tæng kÕt c«ng t¸c n¨m 2023</h1><p>Ngµy ®¨ng 12/01/2024 08:00</p>{body}</body></html>"
    )
    article = extract_article(page.encode("cp1252"), "https://quan.example.vn/tin-tuc/hoi-nghi-123456.htm")
    assert article is not None
    assert article.legacy_encoding == "tcvn3"

"""Layout normalisation and furniture removal before the main-text extractor runs."""

from __future__ import annotations

import lxml.html

from transforms.cleanup import strip_furniture
from transforms.metadata import PageMeta
from transforms.page import text_of

PARA = "Sáng nay, huyện tổ chức hội nghị triển khai nhiệm vụ năm mới với nhiều nội dung quan trọng. " * 3


def cleaned(body: str) -> lxml.html.HtmlElement:
    tree = lxml.html.document_fromstring(f"<html><body>{body}</body></html>")
    strip_furniture(tree, PageMeta(), None)
    return tree


def test_share_bars_and_related_boxes_go_the_article_stays() -> None:
    tree = cleaned(
        f'<div class="content"><p>{PARA}</p><div class="box-share">Chia sẻ Facebook Zalo</div>'
        '<div class="other"><h3>Tin liên quan</h3><ul><li><a href="/a">Tin khác một</a></li></ul></div></div>'
    )
    text = text_of(tree)
    assert PARA.strip() in text and "Chia sẻ" not in text and "Tin khác một" not in text


def test_a_box_title_ends_the_article() -> None:
    tree = cleaned(f"<div><p>{PARA}</p><p>Tin đọc nhiều</p><p><a href='/b'>Bài khác</a></p></div>")
    assert "Bài khác" not in text_of(tree) and PARA.strip() in text_of(tree)


def test_loose_text_between_brs_becomes_paragraphs() -> None:
    tree = cleaned(
        f'<table><tr><td><font size="2">{PARA}<br><br>{PARA}</font><table><tr><td>x</td></tr></table></td></tr></table>'
    )
    assert len([p for p in tree.iter("p") if PARA.strip() in text_of(p)]) == 2


def test_a_layout_table_becomes_blocks_a_table_of_figures_stays() -> None:
    tree = cleaned(
        f"<table><tr><td><p>{PARA}</p></td><td><p>menu</p></td></tr></table>"
        "<table><tr><td>Xã</td><td>Diện tích</td></tr><tr><td>Thanh Bình</td><td>612</td></tr></table>"
    )
    assert len(tree.xpath("//table")) == 1 and tree.xpath("//table//td")[0].text == "Xã"


def test_the_page_header_goes_an_article_header_stays() -> None:
    tree = cleaned(
        '<header><a href="/">Cổng thông tin</a></header>'
        f"<article><header><p>Lead: {PARA}</p></header><p>{PARA}</p></article>"
    )
    assert "Cổng thông tin" not in text_of(tree) and "Lead:" in text_of(tree)


def test_a_figure_becomes_its_caption() -> None:
    caption = "Đồng chí Bí thư Huyện ủy phát biểu khai mạc hội chợ nông sản năm 2024"
    tree = cleaned(f'<figure><img src="a.jpg"><figcaption>{caption}</figcaption></figure><p>{PARA}</p>')
    assert next(text_of(p) for p in tree.iter("p")) == caption


def test_an_article_header_with_its_lead_stays_the_page_header_goes() -> None:
    lead = "In einem ersten Gespräch zeigte sich die Ministerin offen für eine Prämie, die Gründern hilft. " * 2
    tree = cleaned(
        '<div class="site-header"><a href="/">Startseite</a> <a href="/politik">Politik</a></div>'
        f'<section class="article__header"><p>{lead}</p></section><p>{PARA}</p>'
    )
    text = text_of(tree)
    assert lead.strip() in text and PARA.strip() in text and "Startseite" not in text


def test_a_sub_heading_whose_id_names_an_anchor_stays() -> None:
    tree = cleaned(f'<p>{PARA}</p><h3 class="subheading" id="nav_nur_die_folie">Nur die Folie bleibt</h3><p>{PARA}</p>')
    assert "Nur die Folie bleibt" in text_of(tree)


def test_print_only_blocks_still_go() -> None:
    notice = "This document is subject to copyright. Apart from any fair dealing for private study, " * 2
    tree = cleaned(f'<p>{PARA}</p><p>{PARA}</p><div class="d-none d-print-block"><p>{notice}</p></div>')
    assert "subject to copyright" not in text_of(tree)

"""The catalogue of Vietnamese portal furniture: what is on a page but not in the article.

Three kinds of rule, all general (they name patterns of these CMS families, not pages):

* containers, by the words their ``class``/``id`` attributes are made of (share bars,
  comment forms, counters, weather and exchange-rate widgets, related-news boxes...);
* boxes, by the heading they open with ("Tin đọc nhiều", "Các bài mới đăng"...);
* lines, by their text (view counters, "Chia sẻ Zalo", captcha prompts, print/back links).

The same catalogue is the one source of truth for validation: :data:`FURNITURE_PHRASES`
must never appear in a published body.
"""

from __future__ import annotations

import functools
import re

from kernel.furniture import FURNITURE_PHRASES as FURNITURE_PHRASES

# Words inside class/id values that mark a container as furniture. Matched against the
# tokens of the attribute split on non-letters, so "box-share" and "shareBar" both hit.
CONTAINER_WORDS = frozenset(
    {
        "share",
        "sharing",
        "social",
        "zalo",
        "facebook",
        "fb",
        "twitter",
        "addthis",
        "comment",
        "comments",
        "binhluan",
        "ykien",
        "captcha",
        "form",
        "counter",
        "thongke",
        "visitor",
        "visitors",
        "online",
        "luottruycap",
        "statistic",
        "weather",
        "thoitiet",
        "tygia",
        "exchange",
        "rate",
        "gold",
        "giavang",
        "related",
        "lienquan",
        "tinlienquan",
        "other",
        "tinkhac",
        "docnhieu",
        "mostread",
        "mostview",
        "popular",
        "xemnhieu",
        "newest",
        "moidang",
        "dadang",
        "samecat",
        "cungchuyenmuc",
        "tags",
        "tag",
        "keyword",
        "keywords",
        "tukhoa",
        "print",
        "inbai",
        "email",
        "sendmail",
        "toolbar",
        "tools",
        "back",
        "quaylai",
        "breadcrumb",
        "breadcrumbs",
        "menu",
        "nav",
        "navbar",
        "banner",
        "adv",
        "ads",
        "advert",
        "quangcao",
        "footer",
        "header",
        "sidebar",
        "widget",
        "promo",
        "subscribe",
        "rating",
        "vote",
        "poll",
        "search",
        "login",
        "hotline",
        "copyright",
        "pager",
        "pagination",
        "paging",
    }
)

# Box headings: an element whose own text starts with one of these is a box, not prose.
BOX_HEADINGS = (
    "tin đọc nhiều",
    "đọc nhiều",
    "xem nhiều",
    "tin xem nhiều",
    "tin liên quan",
    "bài liên quan",
    "tin cùng chuyên mục",
    "tin cùng danh mục",
    "các bài mới đăng",
    "các bài đã đăng",
    "tin mới đăng",
    "tin mới nhất",
    "tin khác",
    "các tin khác",
    "các tin đã đưa",
    "các tin mới",
    "tin tức khác",
    "bài viết khác",
    "có thể bạn quan tâm",
    "thống kê truy cập",
    "thời tiết",
    "tỷ giá",
    "tỉ giá",
    "giá vàng",
    "liên kết website",
    "ý kiến bạn đọc",
    "bình luận",
    "viết bình luận",
    "gửi bình luận",
    "gửi ý kiến",
    "từ khóa",
    "từ khoá",
    "tags",
    "chủ đề",
    "chia sẻ",
    "thăm dò ý kiến",
    "lịch công tác",
    "liên kết web",
)


def _alternatives(*phrases: str) -> str:
    return "(?:" + "|".join(re.escape(p) for p in phrases) + ")"


_BUTTONS = _alternatives(
    "a+",
    "a-",
    "a",
    "cỡ chữ",
    "in trang",
    "in bản tin",
    "gửi cho bạn bè",
    "gửi bạn bè",
    "gửi cho bạn",
    "zalo",
    "facebook",
    "twitter",
    "email",
    "in bài viết",
    "in bài",
    "in tin",
    "gửi email",
    "gửi bài",
    "quay lại",
    "về đầu trang",
    "lên đầu trang",
    "bản in",
    "lưu bài",
    "chia sẻ",
)
_FORM_LABELS = _alternatives(
    "họ và tên",
    "họ tên",
    "số điện thoại",
    "điện thoại",
    "email",
    "địa chỉ email",
    "tiêu đề",
    "nội dung",
    "mã xác nhận",
    "mã bảo mật",
)
_BOX_LINES = _alternatives(
    "thời tiết",
    "tỷ giá ngoại tệ",
    "tỷ giá",
    "thống kê truy cập",
    "tin đọc nhiều",
    "tin liên quan",
    "các bài mới đăng",
    "các bài đã đăng",
    "tin khác",
    "các tin đã đưa",
)
_DATE_LABELS = _alternatives("ngày đăng", "ngày cập nhật", "cập nhật", "đăng lúc", "ngày xuất bản")
_COUNTERS = _alternatives(
    "đang online",
    "đang truy cập",
    "tổng lượt truy cập",
    "lượt truy cập",
    "số lượt truy cập",
    "đang trực tuyến",
    "số người online",
    "tổng số lượt",
    "lượt online",
    "hôm nay",
    "hôm qua",
    "tuần này",
    "tháng này",
    "truy cập",
)
_DMY = r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}"
_HOUR = r"\(?\d{1,2}[:hg]\d{2}\)?"
_WEEKDAY = r"(?:(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ nhật)\s*,?\s*)"

# Whole lines that are furniture whatever element holds them.
LINE_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(?:lượt xem|số lượt xem|số lần xem|lượt đọc|views?)\s*[:：]?\s*[\d.,]+$",
        # The licence and ownership lines every portal's footer must print.
        r"(?:^|\s)(?:cơ quan chủ quản|chịu trách nhiệm chính|chịu trách nhiệm nội dung)\s*[:：]",
        r"^giấy phép(?: số)?\s*[:：]?\s*\d+/(?:gp|gp-[\wđ-]+)\b",
        r"^(?:bản quyền thuộc|ghi rõ nguồn|xem tốt nhất|©|copyright\b)",
        r"^[\d.,]+\s+lượt (?:xem|đọc)$",
        rf"^{_COUNTERS}\b.*\d",
        rf"^{_BUTTONS}(?:\s*[|/·]?\s*{_BUTTONS})*$",
        rf"^{_FORM_LABELS}\s*:?\s*(?:\(\*\))?\s*:?\s*$",
        r"^mã xác nhận\b.*",
        r"^lấy lại mã(?: bảo mật)?$",
        r"^(?:gửi|gửi bình luận|gửi ý kiến|nhập lại|hủy|làm lại)$",
        r"^bài viết\s+xem$",
        r"^tìm kiếm\s*:?$",
        r"^viết bình luận$",
        r"^xem thêm\s*[:：].*",
        r"^(?:từ khóa|từ khoá|tags?)\s*[:：].*",
        rf"^{_BOX_LINES}\s*[:：]?$",
        rf"^{_DATE_LABELS}\s*[:：]?\s*{_DMY}.*$",
        r"^trang chủ(?:\s*[>»/|].*|\s+\S.{0,80})?$",
        # An audio player ("Nghe bài viết 00:00 / 03:05") and attachment lines.
        r"^\W*nghe bài viết\b",
        r"^(?:tệp|file) đính kèm\s*[:：]",
        rf"^{_WEEKDAY}?(?:{_HOUR}\s*[|,-]?\s*)?{_DMY}(?:\s*[|,-]?\s*{_HOUR})?(?:\s*GMT\s*[+-]\s*\d+)?$",
    )
)


_TOKEN_RE = re.compile(r"[a-z]+")


# Class tokens that name what a post is about, not what a box is: WordPress prints
# "tag-nong-thon-moi category-tin-tuc" on the article itself.
_TERM_TOKEN_RE = re.compile(r"(?:^|\s)(?:tag|category|categories|topic)-[\w-]+", re.IGNORECASE)
# Words that, beside "widget", name a block of the article's own: page builders wrap every
# text block in one ("elementor-widget-text-editor").
_PART_WORDS = frozenset({"entry", "article", "post", "content", "detail", "story", "body", "main", "text", "editor"})
# Furniture words that only mark a box when no part word qualifies them. Only "widget":
# with "header", "tools" or "toolbar" too, the article's toolbar rows of an unseen CMS
# family leaked (unseen leaks 0.095 -> 0.167) and ScrapingHub fell (0.9521 -> 0.9503).
_QUALIFIABLE = frozenset({"widget"})


def attribute_words(value: str) -> set[str]:
    """The words of a class/id value: "box-shareBar tin_lienquan" -> share, bar, tin, lienquan."""
    value = _TERM_TOKEN_RE.sub(" ", value)
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", value)
    words = set(_TOKEN_RE.findall(spaced.lower()))
    # Joined forms too, for "tinlienquan", "most-read" -> "mostread".
    joined = re.sub(r"[^a-z]", "", value.lower())
    words.add(joined)
    for piece in re.split(r"\s+", value.lower()):
        words.add(re.sub(r"[^a-z]", "", piece))
    return words


# Box titles after which nothing of the article follows (lists of other articles, forms).
_NOT_ENDING = ("chia sẻ", "từ khóa", "từ khoá", "tags", "chủ đề", "thời tiết", "tỷ giá", "tỉ giá", "giá vàng")
ENDING_BOX_HEADINGS = tuple(h for h in BOX_HEADINGS if h not in _NOT_ENDING)


def starts_with_ending_box_heading(text: str) -> bool:
    lowered = text.strip().lower()
    return any(lowered.startswith(h) for h in ENDING_BOX_HEADINGS)


@functools.lru_cache(maxsize=4096)
def is_furniture_container(class_id: str) -> bool:
    # Cached: a page repeats the same few class values on hundreds of elements.
    words = attribute_words(class_id)
    found = words & CONTAINER_WORDS
    if found and found <= _QUALIFIABLE and words & _PART_WORDS:
        return False  # "entry-header", "elementor-widget-text-editor" hold the article
    return bool(found)


# Furniture words that name a place on the page rather than a kind of box: an article's own
# header (headline and lead) or a page builder's widget holds prose, the page's header or a
# widget of links does not. ("print" is not one: "hide-on-print", "d-print-block" wrap
# copyright notices and scraps as well as prose.)
_PLACE_WORDS = frozenset({"header", "widget"})


@functools.lru_cache(maxsize=4096)
def names_only_a_place(class_id: str) -> bool:
    """The class/id's furniture words are only :data:`_PLACE_WORDS`: the container is
    furniture unless it holds prose."""
    found = attribute_words(class_id) & CONTAINER_WORDS
    return bool(found) and found <= _PLACE_WORDS


def starts_with_box_heading(text: str) -> bool:
    lowered = text.strip().lower()
    return any(lowered.startswith(h) for h in BOX_HEADINGS)


def is_menu_row(line: str) -> bool:
    """A row of menu entries in capitals, "TRANG CHỦ | GIỚI THIỆU | TIN TỨC | LIÊN HỆ" (a
    table of figures has digits or lower-case cells)."""
    parts = [p.strip() for p in line.split("|")]
    return len(parts) >= 3 and all(p and p.isupper() and len(p.split()) <= 4 for p in parts)


def is_furniture_line(line: str) -> bool:
    bare = re.sub(r"\s+", " ", re.sub(r"[\[\]«»›‹]", " ", line)).strip()
    return is_menu_row(bare) or any(p.search(bare) for p in LINE_PATTERNS)

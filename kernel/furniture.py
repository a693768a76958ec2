"""Phrases of portal furniture that must never appear in a published body.

The contract between extraction and validation: the extractor's furniture catalogue
(``transforms.furniture``) removes them, and the ``body_no_furniture`` expectation
quarantines any row whose body still holds one.
"""

from __future__ import annotations

FURNITURE_PHRASES = (
    "Lượt xem:",
    "Chia sẻ Zalo",
    "Tin đọc nhiều",
    "Các bài mới đăng",
    "Các bài đã đăng",
    "Viết bình luận",
    "Mã xác nhận",
    "Lấy lại mã bảo mật",
    "Đang online",
    "Tổng lượt truy cập",
    "Thống kê truy cập",
    "Tỷ giá ngoại tệ",
    "Họ tên:(*)",
    "Nội dung:(*)",
)

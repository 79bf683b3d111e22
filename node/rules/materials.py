"""Material scans (材料扫描件): what a file really is, by its first bytes, never by its name.

Pure. A photo of an ID card or a PDF from a scanner passes; anything else, however it is
named (an .exe called 身份证.jpg), is refused with a message the agent understands.
"""

from __future__ import annotations

MAX_SCAN_BYTES = 10 * 1024 * 1024  # a scanned page is well under this; a phone photo too

SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
NAMES = {"image/jpeg": "JPEG 图片", "image/png": "PNG 图片", "application/pdf": "PDF 文件"}


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves declare, if it is one we accept."""
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), None)


def scan_problem(data: bytes) -> str | None:
    """Why a file cannot be kept as a scan, in Chinese; None if it can."""
    if not data:
        return "上传的文件是空的"
    if len(data) > MAX_SCAN_BYTES:
        return f"文件太大（{len(data) / 1024 / 1024:.1f} MB），扫描件不能超过 {MAX_SCAN_BYTES // 1024 // 1024} MB"
    if sniff(data) is None:
        return "只能上传 JPEG、PNG 图片或 PDF 文件：这个文件的内容不是其中任何一种（与文件名无关）"
    return None

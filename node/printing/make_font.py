"""Regenerate the print font `node/printing/fonts/wqy-microhei-gbk.ttf` from Debian's fonts-wqy-microhei.

Run by a developer, never by a node (fontTools is a dev dependency), from the repository root:

    apt-get download fonts-wqy-microhei && dpkg-deb -x fonts-wqy-microhei_*.deb /tmp/wqy
    .venv/bin/python -m node.printing.make_font /tmp/wqy/usr/share/fonts/truetype/wqy/wqy-microhei.ttc

The collection's first face is cut to what a form prints: ASCII and Latin-1, and every character of
GBK, which holds the rare characters of residents' names (堃, 玥, 喆…) that GB2312 lacks.
"""

from __future__ import annotations

import sys
from pathlib import Path

FONT_PATH = Path(__file__).with_name("fonts") / "wqy-microhei-gbk.ttf"
# Tables reportlab never reads: layout and vertical metrics only grow the file.
UNUSED_TABLES = ["GDEF", "GPOS", "GSUB", "vhea", "vmtx", "FFTM"]


def gbk_characters() -> set[int]:
    """Every code point GBK's two-byte plane decodes to."""
    found = set()
    for lead in range(0x81, 0xFF):
        for trail in range(0x40, 0xFF):
            try:
                found.add(ord(bytes((lead, trail)).decode("gbk")))
            except UnicodeDecodeError:
                continue
    return found


def main(argv: list[str]) -> int:
    from fontTools import subset  # only here: cutting the font is the one use
    from fontTools.ttLib import TTCollection

    if len(argv) != 1:
        print(__doc__)
        return 2
    font = TTCollection(argv[0]).fonts[0]
    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    options.drop_tables += UNUSED_TABLES
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.name_languages = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=set(range(0x20, 0x7F)) | set(range(0xA0, 0x100)) | gbk_characters())
    subsetter.subset(font)
    font.save(FONT_PATH)
    print(f"wrote {FONT_PATH} ({FONT_PATH.stat().st_size} bytes, {len(font.getBestCmap())} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

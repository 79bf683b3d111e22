"""The seal's image, drawn by us: a red ring, the organisation's name along the upper arc, the
five-pointed star, the seal's name across. Pure: one geometry, two renderings (SVG here, the PDF
in `node.printing.layout`), so the seal on screen and on paper cannot differ.

Coordinates are millimetres from the seal's centre, y upwards.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

RED = "#d0121b"
SIZE_MM = 42  # the usual round seal of an office
SPAN_MAX = 220.0  # degrees of arc the organisation's name may take, leaving the bottom to the seal's name
FONT_FAMILY = "OneTripHei"
FONT_URL = "/fonts/wqy-microhei-gbk.ttf"  # served by the web app: the SVG needs no font on the PC


@dataclass(frozen=True)
class Glyph:
    char: str
    x: float
    y: float
    size: float  # em height
    turn: float  # degrees clockwise from upright


@dataclass(frozen=True)
class SealDrawing:
    diameter: float
    ring: float  # stroke width of the outer ring
    star: tuple[tuple[float, float], ...]  # ten corners, outer and inner alternating
    glyphs: tuple[Glyph, ...]


def draw(owner: str, name: str, size_mm: float = SIZE_MM) -> SealDrawing:
    """The seal of `owner` named `name`: the name along the arc spreads wider the longer it is."""
    radius = size_mm / 2
    ring = size_mm * 0.03
    # A long name gets smaller characters before the arc may reach below the star's level.
    room = 2 * math.pi * (radius - ring - size_mm * 0.1) * SPAN_MAX / 360
    arc_size = min(size_mm * 0.15, room / max(len(owner), 1) * 0.92)
    text_radius = radius - ring - arc_size * 0.62
    span = min(SPAN_MAX, math.degrees(len(owner) * arc_size * 1.05 / text_radius))
    arc = []
    for index, char in enumerate(owner):
        step = span / (len(owner) - 1) if len(owner) > 1 else 0
        angle = 90 + span / 2 - index * step  # counter-clockwise from east, left to right over the top
        theta = math.radians(angle)
        arc.append(Glyph(char, text_radius * math.cos(theta), text_radius * math.sin(theta), arc_size, 90 - angle))
    star_outer = radius * 0.3
    star = tuple(
        (r * math.cos(math.radians(90 + 36 * i)), r * math.sin(math.radians(90 + 36 * i)))
        for i, r in enumerate([star_outer, star_outer * 0.382] * 5)
    )
    name_size = min(size_mm * 0.12, size_mm * 0.62 / max(len(name), 1))
    across = [
        Glyph(char, (index - (len(name) - 1) / 2) * name_size, -radius * 0.47, name_size, 0.0)
        for index, char in enumerate(name)
    ]
    return SealDrawing(size_mm, ring, star, tuple(arc + across))


def to_svg(drawing: SealDrawing) -> str:
    """A standalone SVG, sized in millimetres; the font comes from the node that serves it."""
    r = drawing.diameter / 2
    points = " ".join(f"{x:.3f},{-y:.3f}" for x, y in drawing.star)
    glyphs = "".join(
        f'<text transform="translate({g.x:.3f},{-g.y:.3f}) rotate({g.turn:.2f})" font-size="{g.size:.3f}">'
        f"{escape(g.char)}</text>"
        for g in drawing.glyphs
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{drawing.diameter}mm" height="{drawing.diameter}mm" '
        f'viewBox="{-r} {-r} {drawing.diameter} {drawing.diameter}">'
        f"<style>@font-face{{font-family:{FONT_FAMILY};src:url({FONT_URL})}}"
        f"text{{font-family:{FONT_FAMILY},sans-serif;fill:{RED};text-anchor:middle;dominant-baseline:central}}</style>"
        f'<circle r="{r - drawing.ring / 2:.3f}" fill="none" stroke="{RED}" stroke-width="{drawing.ring:.3f}"/>'
        f'<polygon points="{points}" fill="{RED}"/>{glyphs}</svg>'
    )


def image_digest(drawing: SealDrawing) -> str:
    """What the seal record names: the SVG's SHA-256, so a changed image is a different seal."""
    return hashlib.sha256(to_svg(drawing).encode("utf-8")).hexdigest()

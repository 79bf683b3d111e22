"""Charts drawn on the server as inline SVG (pygal): no script, no CDN, nothing fetched by the browser.

pygal (with lxml) is imported when a dashboard is first drawn, not when a node starts: a village
station never draws one, and its old PC keeps the ten megabytes.
"""

from __future__ import annotations

import re
from functools import cache

from markupsafe import Markup

from node.hub.dashboard import Table

from .headers import style_nonce

COLOURS = ("#b71c1c", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f")
# The last is the font the node ships (`style.css`'s @font-face): a PC with no Chinese font draws it too.
FONTS = '"Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "OneTrip Hei", sans-serif'
TOP_ITEMS = 10
ITEM_CHARS = 12  # an item's name on the chart: the table below has it whole
# Sizes in the 640-wide drawing, which a page shows about 460 pixels wide: pygal's own (10 to 16) come out
# too small to read on a station's 1366 by 768 screen.
SIZES = dict(title_font_size=22, label_font_size=15, major_label_font_size=15, value_font_size=16, legend_font_size=16)
SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


@cache
def _pygal():
    import pygal
    from pygal.style import Style

    style = Style(
        font_family=FONTS,
        background="white",
        plot_background="white",
        colors=COLOURS,
        **SIZES,
    )
    # js=[]: pygal otherwise links its tooltip script from the internet; the SVG stands on its own.
    return pygal, dict(js=[], disable_xml_declaration=True, style=style, width=640, height=300, print_values=True)


def _counts(values: list[int]) -> dict:
    """Whole-number ticks for a few applications: pygal's own would be 0.1, 0.2 … for a count of 1."""
    top = max(values, default=0)
    return {"y_labels": list(range(max(top, 1) + 1))} if top <= 10 else {}


def _short(name: str) -> str:
    return name if len(name) <= ITEM_CHARS else name[: ITEM_CHARS - 1] + "…"


def _svg(chart) -> Markup:
    """The SVG without the inline script pygal always adds (its tooltips' settings): the page runs no script.
    Its <style> element carries the request's nonce, the one inline style the page's policy allows; the
    tooltip's inline style goes, as nothing shows a tooltip without the script."""
    svg = SCRIPT.sub("", chart.render(is_unicode=True)).replace(' style="opacity: 0"', "")
    return Markup(svg.replace('<style type="text/css">', f'<style type="text/css" nonce="{style_nonce()}">', 1))


def handling(table: Table) -> Markup:
    """Decisions by handling time: one bar per bucket."""
    pygal, options = _pygal()
    counts = [row[1] for row in table.rows]
    chart = pygal.Bar(show_legend=False, title=table.title, x_title="工作日", **_counts(counts), **options)
    chart.x_labels = [row[0].replace(" 个工作日", "") for row in table.rows]  # six fit side by side
    chart.add("办结件数", counts)
    return _svg(chart)


def channels(table: Table) -> Markup:
    """Where applications were filed: a hall or a township or village station."""
    pygal, options = _pygal()
    chart = pygal.Pie(title=table.title, inner_radius=0.45, **options)
    for channel, count, _ in table.rows:
        chart.add(channel, count)
    return _svg(chart)


def items(table: Table) -> Markup:
    """The busiest items by applications filed."""
    pygal, options = _pygal()
    top = table.rows[:TOP_ITEMS][::-1]
    names = [_short(row[1]) for row in top]
    counts = [row[3] for row in top]
    # pygal measures a label as if each character were narrow; a Chinese one is about twice as wide.
    margin = int(0.5 * SIZES["label_font_size"] * max(map(len, names), default=0))
    chart = pygal.HorizontalBar(
        show_legend=False, title="申请量最多的事项", margin_left=margin, **_counts(counts), **options
    )
    chart.x_labels = names
    chart.add("申请件数", counts)
    return _svg(chart)

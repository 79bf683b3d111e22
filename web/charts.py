"""Charts drawn on the server as inline SVG (pygal): no script, no CDN, nothing fetched by the browser.

pygal (with lxml) is imported when a dashboard is first drawn, not when a node starts: a village
station never draws one, and its old PC keeps the ten megabytes.
"""

from __future__ import annotations

import re
from functools import cache

from markupsafe import Markup

from node.dashboard import Table

from .headers import style_nonce

COLOURS = ("#b71c1c", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f")
FONTS = '"Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif'
TOP_ITEMS = 10
SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


@cache
def _pygal():
    import pygal
    from pygal.style import Style

    style = Style(font_family=FONTS, background="white", plot_background="white", colors=COLOURS)
    # js=[]: pygal otherwise links its tooltip script from the internet; the SVG stands on its own.
    return pygal, dict(js=[], disable_xml_declaration=True, style=style, width=640, height=300, print_values=True)


def _svg(chart) -> Markup:
    """The SVG without the inline script pygal always adds (its tooltips' settings): the page runs no script.
    Its <style> element carries the request's nonce, the one inline style the page's policy allows; the
    tooltip's inline style goes, as nothing shows a tooltip without the script."""
    svg = SCRIPT.sub("", chart.render(is_unicode=True)).replace(' style="opacity: 0"', "")
    return Markup(svg.replace('<style type="text/css">', f'<style type="text/css" nonce="{style_nonce()}">', 1))


def handling(table: Table) -> Markup:
    """Decisions by handling time: one bar per bucket."""
    pygal, options = _pygal()
    chart = pygal.Bar(show_legend=False, title=table.title, **options)
    chart.x_labels = [row[0] for row in table.rows]
    chart.add("办结件数", [row[1] for row in table.rows])
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
    chart = pygal.HorizontalBar(show_legend=False, title="申请量最多的事项", **options)
    top = table.rows[:TOP_ITEMS][::-1]
    chart.x_labels = [row[1] for row in top]
    chart.add("申请件数", [row[3] for row in top])
    return _svg(chart)

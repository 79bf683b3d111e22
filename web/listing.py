"""The application list as both the workbench and the JSON API page through it."""

from __future__ import annotations

from collections.abc import Mapping

from node.cases.queries import Page, search

from .auth import current_viewer

PER_PAGE = 30
DUE_FILTERS = {"due_soon": "即将到期", "overdue": "已超期"}


def applications_page(node, args: Mapping[str, str]) -> Page:
    """What the person logged in may see, by `q`, `older`/`newer` (cursors of the previous page's ends)
    and `due` from a query string."""
    due = args.get("due", "")
    return search(
        args.get("q", ""),
        current_viewer(),
        node.keys.lookup,
        per_page=PER_PAGE,
        older_than=args.get("older", ""),
        newer_than=args.get("newer", ""),
        due=due if due in DUE_FILTERS else "",
    )

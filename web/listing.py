"""The application list as both the workbench and the JSON API page through it."""

from __future__ import annotations

from collections.abc import Mapping

from node.cases.deferrals import OWING
from node.cases.queries import Page, search
from node.rules.workflow import ACCEPTED, CORRECTIONS, IN_REVIEW, SUBMITTED, SUSPENDED

from .auth import current_viewer

PER_PAGE = 30
DUE_FILTERS = {"due_soon": "即将到期", "overdue": "已超期"}
# The queue's filters by state, in the order the work comes: what waits for acceptance, for the resident's
# corrections, for review; and those accepted with 容缺 that still owe a material.
STATE_FILTERS = {
    "waiting": ("待受理", (SUBMITTED,)),
    "corrections": ("待补正", (CORRECTIONS,)),
    "review": ("审查中", (ACCEPTED, IN_REVIEW, SUSPENDED)),
    "deferred": ("容缺待补", OWING),
}


def applications_page(node, args: Mapping[str, str]) -> Page:
    """What the person logged in may see, by `q` (a number, an ID number, a name or an item's name),
    `older`/`newer` (cursors of the previous page's ends), `due` and `state` from a query string."""
    due, query = args.get("due", ""), args.get("q", "").strip()
    items = node.reference.catalogue().search(query) if query and not query.isascii() else []  # a name, not a number
    return search(
        query,
        current_viewer(),
        node.keys.lookup,
        per_page=PER_PAGE,
        older_than=args.get("older", ""),
        newer_than=args.get("newer", ""),
        due=due if due in DUE_FILTERS else "",
        states=STATE_FILTERS.get(args.get("state", ""), ("", ()))[1],
        item_codes=tuple(item.code for item in items),
        owing=args.get("state") == "deferred",
    )

"""What a printed document says about an application, read from this node's rows; `node.printing.papers` lays it out.

Kept apart from the layout so that the layout stays pure and this stays the one place that decides
what counts as received, missing or decided.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

from node.cases.intake import read_applicant
from node.cases.queries import case_items, timeline
from node.catalogue.model import Catalogue, ServiceItem
from node.context import Context
from node.errors import DomainError
from node.printing.papers import Decision, DocumentUnavailable, MaterialLine, Paper, Part, Received
from node.rules import deferrals
from node.rules.workflow import BASES, ON_AUTHORITY
from provisioning.region import CHINA
from storage.models import Application, Attachment, Operator
from sync.errors import SyncError

DECIDED = "application.decided"  # and ON_AUTHORITY: 即办 by delegation, 秒办 by rule
ACCEPTED = "application.accepted"
CORRECTIONS = "application.corrections_requested"
NOT_ACCEPTED = "application.not_accepted"


def paper_for(node: Context, number: str, catalogue: Catalogue, kind: str = "receipt") -> Paper:
    """Everything the documents of application `number` print, as of now (Beijing time). An item of a
    一件事 case gets the case's receipt and 一次性告知: one number, its items listed, shared materials once;
    its decision and refusal stay its own department's."""
    row = Application.get_by_id(number)
    if row.case_number and kind in ("receipt", "notice"):
        return _case_paper(node, case_items(row.case_number), catalogue)
    return _paper(node, row, catalogue)


def _paper(node: Context, row: Application, catalogue: Catalogue) -> Paper:
    number = row.number
    try:
        item = catalogue.item(row.item_code, row.item_version)
    except KeyError:
        raise DocumentUnavailable(
            f"本站的事项清单中没有事项 {row.item_code} 的第 {row.item_version} 版，无法打印这个办件的文书"
        ) from None
    try:
        name = read_applicant(number, node.identity, node.keys).name
    except (SyncError, DomainError):
        name = "（本站未保存申请人信息）"  # purged here, or filed at a station whose key we lack
    scans = Counter(a.material for a in Attachment.select(Attachment.material).where(Attachment.number == number))
    names = {m.key: m.name for m in item.materials}
    steps = timeline(number)
    accepted = [step for step in steps if step.event_type in (ACCEPTED, ON_AUTHORITY)]
    asked = _corrections_asked(row, steps)
    return Paper(
        station_name=node.identity.name,
        number=number,
        item_name=item.name,
        item_code=item.code,
        item_version=item.version,
        department=f"{item.department}（跨区域通办，{item.handler_name}办理）" if item.handler else item.department,
        applicant_name=name,
        masked_id=row.masked_id,
        filed_on=row.filed_on,
        accepted_on=row.accepted_on,
        due=row.due,
        due_provisional=row.due_provisional,
        promised_limit=str(item.promised_limit),
        operator=_operator_name(row.filed_by),
        received=tuple(Received(names.get(key, key), scans[key]) for key in sorted(scans, key=_in_order(names))),
        missing=asked[0]
        if asked
        else missing_materials(item, set(scans), _issued_within_bundle(catalogue, row.bundle)),
        decision=_decision(steps),
        printed_at=node.now().astimezone(CHINA),
        query_code=row.query_code or "",
        query_url=query_url(node),
        kind=item.kind,
        accepted_by_body=accepted[-1].body if accepted else "",
        accepted_by=_who(accepted[-1]) if accepted else "",
        corrections_due=asked[1] if asked else None,
        corrections_by=asked[2] if asked else "",
        refusal=_refusal(steps),
        refused_by_body=_last(steps, NOT_ACCEPTED).body if _last(steps, NOT_ACCEPTED) else "",
        checked=_checked(item, accepted[-1] if accepted else None),
        **_deferral(row, item, accepted[-1] if accepted else None),
    )


def _case_paper(node: Context, rows: list[Application], catalogue: Catalogue) -> Paper:
    """The case's paper: its first item's, under the case's number and the bundle's name, listing every
    item with its department and promise, the scans of all of them, and what the bundle still lacks."""
    first = _paper(node, rows[0], catalogue)
    bundle = catalogue.bundles.get(rows[0].bundle or "")
    numbers = [row.number for row in rows]
    scans = Counter(a.material for a in Attachment.select(Attachment.material).where(Attachment.number.in_(numbers)))
    names = {entry.material.key: entry.material.name for entry in bundle.checklist} if bundle else {}
    parts, departments, limits = [], [], []
    for row in rows:
        try:
            item = catalogue.item(row.item_code, row.item_version)
        except KeyError:
            continue
        departments += [item.department] if item.department not in departments else []
        promise = f"{row.due:%Y年%m月%d日}" if row.due else f"受理后{item.promised_limit}"
        parts.append(Part(item.name, item.department, row.number, promise))
        limits.append(item.promised_limit)
    latest = max((row.due for row in rows if row.due), default=None)
    longest = next((limit for limit in limits if all(other.fits_within(limit) for other in limits)), None)
    return dataclasses.replace(
        first,
        number=rows[0].case_number,
        item_name="一件事：" + (bundle.name if bundle else rows[0].bundle or ""),
        department="、".join(departments),
        due=latest,
        promised_limit=str(longest) if longest else first.promised_limit,  # the case ends with its last item
        received=tuple(Received(names.get(key, key), scans[key]) for key in sorted(scans, key=_in_order(names))),
        missing=first.missing
        if first.corrections_due
        else tuple(
            MaterialLine(e.material.name, e.material.form, e.material.count, e.material.note)
            for e in (bundle.to_ask() if bundle else ())
            if e.material.key not in scans
        ),
        parts=tuple(parts),
    )


def query_url(node: Context) -> str:
    """Where a receipt sends a resident to follow the case: `public_query_url`, else the query page of the
    hub that certified this installation (a station's county), else none."""
    hub = node.identity.issuer_url or node.identity.parent_url
    return node.config.public_query_url or (f"{hub.rstrip('/')}/query" if hub else "")


def missing_materials(item: ServiceItem, received: set[str], issued: set[str]) -> tuple[MaterialLine, ...]:
    """一次性告知: every material the item's version asks for that the station holds no scan of, less
    those another item of the same 一件事 issues (the departments pass them on)."""
    return tuple(
        MaterialLine(m.name, m.form, m.count, m.note)
        for m in item.materials
        if m.key not in received and m.key not in issued
    )


def _in_order(names: dict[str, str]):
    """Materials in the catalogue's order; a key the version does not know (a newer one's) last."""
    order = {key: index for index, key in enumerate(names)}
    return lambda key: (order.get(key, len(order)), key)


def _corrections_asked(row: Application, steps: list) -> tuple[tuple[MaterialLine, ...], dt.date | None, str] | None:
    """While a 补正 request awaits the resident: exactly the items it asked for and the date they are due
    by; the 一次性告知书 printed then is its 补正告知书, not the catalogue's list."""
    asked = [step for step in steps if step.event_type == CORRECTIONS]
    if row.state != "corrections_requested" or not asked or not (asked[-1].payload or {}).get("items"):
        return None
    payload = asked[-1].payload
    due = dt.date.fromisoformat(payload["deadline"]) if payload.get("deadline") else None
    return tuple(MaterialLine(name, "", 1, "") for name in payload["items"]), due, _who(asked[-1])


def _deferral(row: Application, item: ServiceItem, accepted) -> dict:
    """容缺: the materials accepted without, as the item asks for them, and their last day: the promise the
    resident signs (`node.rules.deferrals`)."""
    held = deferrals.decode(row.deferral)
    if held is None:
        return {}
    asked = {m.key: m for m in item.materials}
    lines = tuple(
        MaterialLine(i.name, asked[i.key].form, asked[i.key].count, asked[i.key].note)
        if i.key in asked
        else MaterialLine(i.name, "", 1)
        for i in held.items
    )
    days = ((accepted.payload or {}).get("deferral") or {}).get("deadline_days", 0) if accepted else 0
    return {"deferred": lines, "deferral_due": held.due, "deferral_days": int(days or 0)}


def _checked(item: ServiceItem, accepted) -> tuple[tuple[str, str], ...]:
    """The window's check at 受理, material by material in the catalogue's order, as the receipt prints it."""
    check = ((accepted.payload or {}).get("materials") or {}) if accepted else {}
    return tuple(
        (m.name, deferrals.CHECKS[check[m.key]]) for m in item.materials if check.get(m.key) in deferrals.CHECKS
    )


def _last(steps: list, event_type: str):
    found = [step for step in steps if step.event_type == event_type]
    return found[-1] if found else None


def _refusal(steps: list) -> Decision | None:
    step = _last(steps, NOT_ACCEPTED)
    return Decision(False, step.note, step.at.date(), _who(step)) if step else None


def _decision(steps: list) -> Decision | None:
    decided = [step for step in steps if step.event_type in (DECIDED, ON_AUTHORITY)]
    if not decided:
        return None
    last = decided[-1]
    if last.event_type == ON_AUTHORITY:  # approved on the catalogue's authority, the basis said
        basis = (last.payload or {}).get("basis", "")
        by = f"{BASES.get(basis, basis)}（{last.payload.get('rule')}）" if basis == "rule" else _who(last)
        return Decision(True, BASES.get(basis, ""), last.at.date(), by)
    return Decision(bool(last.approved), last.note, last.at.date(), _who(last))


def _who(step) -> str:
    """Who took a step, as a paper names them: the real name and staff number the event carries (the
    station that prints may not know the account), else as this node knows the account."""
    payload = step.payload or {}
    name = payload.get("by_name") or _operator_name(step.by)
    staff_no = payload.get("staff_no") or getattr(Operator.get_or_none(Operator.username == step.by), "staff_no", None)
    return f"{name}（工号 {staff_no}）" if staff_no else name


def _issued_within_bundle(catalogue: Catalogue, bundle_code: str | None) -> set[str]:
    bundle = catalogue.bundles.get(bundle_code or "")
    return {entry.material.key for entry in bundle.checklist if entry.issued_by} if bundle else set()


def _operator_name(username: str) -> str:
    """The name people know; an operator of another station may not be known here, so their username."""
    operator = Operator.get_or_none(Operator.username == username)
    if operator is None:
        return username
    return f"{operator.name}（工号 {operator.staff_no}）" if operator.staff_no else operator.name

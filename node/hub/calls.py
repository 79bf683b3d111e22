"""A resident's name and phone for a call from the county (办件回访, a 差评's 回访): decrypted at the county only,
for the page a clerk calls from, each reading recorded in the audit trail with who, which case and why."""

from __future__ import annotations

from dataclasses import dataclass

import peewee as pw

from node.cases.intake import read_applicant
from node.context import Context
from node.errors import DomainError
from node.rules.notices import mask_name
from provisioning.audit import audit
from sync.errors import SyncError

VIEW_PHONE = "view_phone"


@dataclass(frozen=True)
class Callee:
    name: str  # in full: the clerk asks for the resident by name
    masked_name: str
    phone: str


def callee_for_call(node: Context, number: str, operator: str, purpose: str) -> Callee | None:
    """The resident of `number` to call, read now and never kept; None if this node cannot read them (purged,
    or not a case this county handles). Every reading, even one that finds nothing, is audited."""
    try:
        applicant = read_applicant(number, node.identity, node.keys)
        found = Callee(applicant.name, mask_name(applicant.name), applicant.phone)
    except (SyncError, DomainError, pw.DoesNotExist):
        found = None
    with node.events.transaction():
        audit(operator, VIEW_PHONE, number, "ok" if found else "refused", purpose if found else f"{purpose}：无法读取")
    return found

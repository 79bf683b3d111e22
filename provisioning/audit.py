"""The audit trail: every admin action and every refused provisioning request, with who and when."""

from __future__ import annotations

from storage.models import AuditEntry


def audit(actor: str, action: str, subject: str | None, outcome: str, detail: str | None = None) -> None:
    """Record one entry; call it inside the transaction of the action, so both stand or fall together.

    Fields are cut to their column widths: a refused request may carry anything, and an
    oversize value must not turn the refusal into a database error (PostgreSQL checks them).
    """
    AuditEntry.create(
        actor=actor[:128],
        action=action[:64],
        subject=subject[:128] if subject else None,
        outcome=outcome,
        detail=detail,
    )

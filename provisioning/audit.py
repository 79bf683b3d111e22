"""The audit trail: every admin action and every refused provisioning request, with who and when."""

from __future__ import annotations

from storage.models import AuditEntry


def audit(actor: str, action: str, subject: str | None, outcome: str, detail: str | None = None) -> None:
    """Record one entry; call it inside the transaction of the action, so both stand or fall together."""
    AuditEntry.create(actor=actor, action=action, subject=subject, outcome=outcome, detail=detail)

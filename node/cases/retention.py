"""Retention at a village station: the personal data of cases closed and delivered long ago is purged, so
that a small disk never fills and a stolen PC holds as little as possible. Hubs keep everything.

Purging is crypto-shredding (design invariant 9): the station's data key goes, so the ciphertext that stays
inside the signed events can no longer be opened here; the row keeps its non-personal facts (item, dates,
state, rating) for lists and statistics, and the scans' encrypted blobs are deleted.
"""

from __future__ import annotations

import datetime as dt

from node.cases.events import entity
from node.rules.workflow import DELIVERED, RATED
from storage.blobs import BlobStore
from storage.database import write_transaction
from storage.models import Application, Attachment, DataKey

PURGED = "{}"  # the row's sealed fields once purged: nothing left to decrypt


def purge_due(today: dt.date, retention_days: int) -> list[str]:
    """Applications delivered (and so closed) more than `retention_days` days before `today`, not yet purged."""
    cutoff = today - dt.timedelta(days=retention_days)
    query = Application.select(Application.number).where(
        Application.state.in_((DELIVERED, RATED)) & (Application.delivered_on < cutoff) & (Application.sealed != PURGED)
    )
    return [number for (number,) in query.tuples()]


def purge_personal_data(blobs: BlobStore, today: dt.date, retention_days: int) -> int:
    """The scheduler's job at a village station; how many applications were purged.

    The blobs are deleted inside the rows' transaction: should it then fail, the scans were due to go anyway
    and the next run purges the rest; no orphaned file outlives its key."""
    numbers = purge_due(today, retention_days)
    if not numbers:
        return 0
    with write_transaction():
        DataKey.delete().where(DataKey.entity.in_([entity(n) for n in numbers])).execute()
        Application.update(sealed=PURGED, id_lookup="", name_lookup="", masked_id="").where(
            Application.number.in_(numbers)
        ).execute()
        kept = (
            Attachment.select(Attachment.blob)
            .where(Attachment.number.not_in(numbers))
            .join(Application, on=(Attachment.number == Application.number))
            .where(Application.sealed != PURGED)
        )  # the same scan filed again for an open case stays
        for (digest,) in (
            Attachment.select(Attachment.blob)
            .where(Attachment.number.in_(numbers) & Attachment.blob.not_in(kept))
            .tuples()
        ):
            blobs.delete(digest)
    return len(numbers)

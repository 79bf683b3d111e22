"""Request nonces a parent has seen or handed out, so that a recorded request cannot be played again.

Kept in the database, not in memory: a restart inside the time window must not open it
to replays. A nonce older than the window needs no memory, since its time is refused.
"""

from __future__ import annotations

import secrets

import peewee as pw

from storage.database import unsynced, write_transaction
from storage.models import RequestNonce, insert_row

from .errors import ReplayedRequest

REQUEST, ISSUED, BUNDLE = "request", "issued", "bundle"
ISSUED_TTL_MS = 2 * 60 * 1000  # a nonce handed to a skewed clock is good for one request, this long
PRUNE_ONE_IN = 200  # requests: a hub's nonces of the last few minutes, whatever its traffic, in a small table


def admit(nonce: str, installation: str, now_ms: int, window_ms: int) -> bool:
    """Accept a request's nonce once: True for the sender's own, False for one we issued it after a clock
    skew (used up now); any second use is a replay.

    One statement in the common case: the nonce is the primary key, so the insert itself refuses a second
    use, committed on its own (no writer lock, no transaction around it: authenticating a request never
    waits for a batch being applied). A nonce we issued holds that key already, so only a refused insert
    asks whether it was ours to redeem. Nonces past the window are pruned now and then (`PRUNE_ONE_IN`
    requests): their time is refused anyway, so keeping them a while longer weakens nothing. On SQLite the
    insert does not wait for the disk (`unsynced`): a restarted hub still refuses a replay; only a power cut
    may forget the last moments' nonces, and what their requests did (a batch applied, an answer sealed to
    the station) would be a replay or unreadable to anyone else."""
    try:
        with unsynced():
            insert_row(RequestNonce, {"nonce": nonce, "installation": installation, "at_ms": now_ms, "kind": REQUEST})
    except pw.IntegrityError as exc:
        if redeem(nonce, installation, now_ms):
            return False
        raise ReplayedRequest("这个请求已经收到过（重放）：已拒绝") from exc
    if secrets.randbelow(PRUNE_ONE_IN) == 0:
        RequestNonce.delete().where(
            (RequestNonce.at_ms < now_ms - 2 * window_ms) & (RequestNonce.kind == REQUEST)
        ).execute()
    return True


def issue(installation: str, now_ms: int) -> str:
    """A nonce for a requester whose clock is off: it signs our time and this, once."""
    nonce = secrets.token_hex(16)
    with write_transaction():
        RequestNonce.delete().where(
            (RequestNonce.kind == ISSUED) & (RequestNonce.at_ms < now_ms - ISSUED_TTL_MS)
        ).execute()
        RequestNonce.create(nonce=nonce, installation=installation, at_ms=now_ms, kind=ISSUED)
    return nonce


def redeem(nonce: str, installation: str, now_ms: int) -> bool:
    """Whether this is a fresh nonce we issued to this installation; it is used up either way."""
    with write_transaction():
        row = RequestNonce.get_or_none((RequestNonce.nonce == nonce) & (RequestNonce.kind == ISSUED))
        if row is None:
            return False
        if row.installation != installation or row.at_ms < now_ms - ISSUED_TTL_MS:
            raise ReplayedRequest("这个一次性随机数不是发给本安装的，或已过期")
        row.kind = REQUEST  # from now on it is a seen nonce like any other: a second use is a replay
        row.at_ms = now_ms
        row.save()
        return True


def remember_bundle(nonce: str, installation: str, written_ms: int) -> None:
    """Accept a bundle once, and none older than one already imported from the same installation:
    a stick carried back late must not replay an earlier state over a later one."""
    if RequestNonce.get_or_none(RequestNonce.nonce == nonce) is not None:
        raise ReplayedRequest("这个同步包已经导入过：已拒绝")
    newer = RequestNonce.select().where(
        (RequestNonce.installation == installation) & (RequestNonce.kind == BUNDLE) & (RequestNonce.at_ms > written_ms)
    )
    if newer.exists():
        raise ReplayedRequest("这个同步包比已导入的同一站点的同步包更早：已过时，请重新导出")
    RequestNonce.create(nonce=nonce, installation=installation, at_ms=written_ms, kind=BUNDLE)

"""One unit of work: every cache a write transaction keeps (the memo, the trust cache, the log's forked
origins) is forgotten through one rollback hook when the transaction, or a savepoint inside it, is
rolled back, so nothing read inside a rolled-back transaction is believed after it."""

from __future__ import annotations

import pytest

from storage.database import on_rollback, savepoint, transaction_memo, write_transaction
from storage.models import ForkEvidence, utcnow


class Boom(Exception):
    pass


def test_a_rollback_runs_each_registered_hook_once_and_a_commit_none(migrated):
    forgotten = []
    with pytest.raises(Boom), write_transaction():
        on_rollback(lambda: forgotten.append("a"))
        on_rollback(lambda: forgotten.append("b"))
        raise Boom
    assert forgotten == ["a", "b"]
    with write_transaction():
        on_rollback(lambda: forgotten.append("c"))
    assert forgotten == ["a", "b"]  # committed: nothing to forget
    with pytest.raises(Boom), write_transaction():
        raise Boom
    assert forgotten == ["a", "b"]  # hooks last one transaction


def test_a_savepoint_rolled_back_forgets_the_memo_and_the_transaction_goes_on(migrated):
    with write_transaction():
        transaction_memo()["catalogue"] = "read inside the savepoint"
        with pytest.raises(Boom), savepoint():
            raise Boom
        assert transaction_memo() == {}


def test_forked_origins_read_inside_a_rolled_back_transaction_are_not_believed_after(migrated, make_log, signing_key):
    log = make_log("i-hub", signing_key)
    with pytest.raises(Boom), log.transaction():
        ForkEvidence.create(
            origin="i-thief",
            stream="s",
            seq=1,
            held_eid="a" * 64,
            other_eid="b" * 64,
            other_body=b"{}",
            head_body=b"{}",
            head_signature=b"",
            found_at=utcnow(),
        )
        assert log._forked_reason("i-thief")  # cached inside the transaction
        raise Boom
    assert ForkEvidence.select().count() == 0
    assert log._forked_reason("i-thief") is None  # the proof was rolled back, and so is what was cached of it

"""A fork — the origin's own key signing another event at a seq already held — is proof of a cloned
or stolen installation: the batch is refused, the proof kept, and that installation's events stop
applying. A batch merely tampered with is no proof and leaves none."""

from __future__ import annotations

import base64

import pytest

from harness.chains import REMOTE, remote_batch
from node.link.forks import _proven_here
from storage.models import EventRecord, ForkEvidence
from sync import delta
from sync.batch import Batch
from sync.chain import sign_head
from sync.errors import ChainError, ForkError
from sync.keys import SigningKey
from sync.log import QUARANTINED


@pytest.fixture(scope="module")
def remote_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def hub(migrated, make_log, signing_key, remote_key):
    return make_log("i-hub", signing_key, {REMOTE: remote_key.verifying_key})


def apply(hub, raws, head):
    with delta.fork_evidence_kept(hub):
        return delta.apply(hub, Batch(0, ((head, tuple(raws)),)))


def test_a_fork_is_refused_its_proof_kept_and_the_installation_stops_applying(hub, remote_key):
    raws, head, _ = remote_batch(remote_key, ["a", "b"])
    apply(hub, raws, head)
    other, other_head, _ = remote_batch(remote_key, ["a", "X"])
    with pytest.raises(ForkError):
        apply(hub, other, other_head)
    (proof,) = ForkEvidence.select()
    assert (proof.seq, bytes(proof.other_body)) == (2, other[1]) and bytes(proof.head_body) == other_head.body
    assert EventRecord.select().where(EventRecord.stream == "s").count() == 2  # the held history, untouched

    later, later_head, _ = remote_batch(remote_key, ["c"], stream="t")  # another stream of the same PC
    apply(hub, later, later_head)
    assert EventRecord.get(EventRecord.stream == "t").status == QUARANTINED


def test_a_tampered_batch_at_a_held_seq_is_no_proof_of_a_fork(hub, remote_key):
    raws, head, chain = remote_batch(remote_key, ["a", "b"])
    apply(hub, raws, head)
    other, _, other_chain = remote_batch(remote_key, ["a", "X"])
    thief = SigningKey.generate()
    forged_head = sign_head(
        thief, origin=REMOTE, stream="s", seq=2, chain=other_chain, signed_at=1, expires_at_ms=2**40
    )
    with pytest.raises(ChainError) as refused:
        apply(hub, other, forged_head)
    assert refused.value.code == "bad_signature" and ForkEvidence.select().count() == 0


def test_a_reported_fork_is_kept_only_where_what_is_held_proves_it(hub, remote_key):
    raws, head, _ = remote_batch(remote_key, ["a", "b"])
    apply(hub, raws, head)
    other, other_head, _ = remote_batch(remote_key, ["a", "X"])
    trust = hub.trust

    def reported(run, signed_by_head):
        return {
            "origin": REMOTE,
            "stream": "s",
            "seq": 2,
            "held_eid": "?",
            "run": [base64.b64encode(r).decode("ascii") for r in run],
            "head": signed_by_head.to_wire(),
        }

    assert (
        _proven_here(reported(other[1:], other_head), trust)["other_eid"]
        != _proven_here(reported(other[1:], other_head), trust)["held_eid"]
    )
    forged = sign_head(
        SigningKey.generate(),
        origin=REMOTE,
        stream="s",
        seq=2,
        chain=other_head.chain,
        signed_at=1,
        expires_at_ms=2**40,
    )
    assert _proven_here(reported(other[1:], forged), trust) is None  # a stolen PC's accusation proves nothing
    assert _proven_here(reported(raws[1:], head), trust) is None  # the history held here: no fork
    assert _proven_here({"run": "junk"}, trust) is None

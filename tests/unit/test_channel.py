"""The channel's retries answer only refusals that carry what a retry needs: a clock-skew refusal without
the parent's time and nonce (a proxy's page, an altered answer) is refused in words, never raised as a
KeyError or TypeError that would print a traceback."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sync.channel import Channel
from sync.transport import Refused

PARENT = ec.generate_private_key(ec.SECP256R1())
OWN = ec.generate_private_key(ec.SECP256R1())


class Skewed:
    """A parent that refuses every request's time with the given details."""

    def __init__(self, details: dict):
        self.details = details

    def post(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        raise Refused("clock_skew", "本机时钟与上级相差太多", dict(self.details), 409)


@pytest.mark.parametrize(
    "details",
    [{}, {"server_time_ms": "soon", "nonce": "ab" * 16}, {"server_time_ms": 1, "nonce": 7}, {"nonce": "ab" * 16}],
)
def test_a_clock_skew_refusal_without_a_usable_time_and_nonce_is_refused_in_words(signing_key, details):
    told = []
    channel = Channel(
        Skewed(details),
        signing_key,
        OWN,
        PARENT.public_key(),
        "s",
        "i-child",
        lambda: 1_000,
        lambda: "",
        skewed_by=told.append,
    )
    with pytest.raises(Refused) as refused:
        channel.call("/api/v1/sync/push", b"sync/push", b"{}")
    assert refused.value.code == "bad_answer" and "时钟" in str(refused.value) and told == []

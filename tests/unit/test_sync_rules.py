"""Pure rules of a link: which streams it carries, how a request is signed, how long to wait after failures."""

from __future__ import annotations

import random

import pytest

from node.link.schedule import backoff_s, retry_after_s
from provisioning.certs import Binding
from provisioning.scope import below_or_same, keyed_below
from sync.digest import (
    Repairs,
    differences,
    fingerprint,
    from_wire,
    repairs_from_wire,
    repairs_to_wire,
    to_wire,
)
from sync.errors import EncodingError, RequestRefused, UnsupportedProtocol
from sync.keys import SigningKey, generate_agreement_key
from sync.request import PROTOCOL_HEADER, open_body, read_request, seal_and_sign, sign_request


def station(level: str, region: str, code: str) -> Binding:
    return Binding(code, "i-x", level, code, region, None, "signing", ())


TOWN = station("township", "511302001", "511302001-01")
VILLAGE = station("village", "511302001001", "511302001001-01")
OTHER_VILLAGE = station("village", "511302002001", "511302002001-01")
COUNTY = station("county", "511302", "511302-01")


def test_a_township_receives_its_own_and_its_villages_streams_and_no_one_elses():
    assert keyed_below("511302001-01", TOWN)
    assert keyed_below("511302001001-01", TOWN)  # its village's
    assert not keyed_below("511302002001-01", TOWN)  # another township's village
    assert not keyed_below("511302-01", TOWN)  # its county's own
    assert not keyed_below("all", TOWN)


def test_a_node_relays_only_for_itself_and_the_stations_below_it():
    assert below_or_same(TOWN, VILLAGE) and below_or_same(TOWN, TOWN)
    assert not below_or_same(TOWN, OTHER_VILLAGE) and not below_or_same(TOWN, COUNTY)
    assert not below_or_same(VILLAGE, TOWN)


def test_a_signed_request_reads_back_and_any_change_is_refused():
    key, recipient = SigningKey.generate(), generate_agreement_key()
    headers, body = seal_and_sign(
        key,
        recipient.public_key(),
        b'{"cursor":0}',
        path="/api/v1/sync/pull",
        context=b"sync/pull",
        station="511302001001-01",
        installation="i-abc",
        time_ms=1,
        nonce="0" * 32,
    )
    request = read_request(headers, "POST", "/api/v1/sync/pull", body)
    request.verify(key.verifying_key)
    assert open_body(recipient, body, context=b"sync/pull", nonce="0" * 32) == b'{"cursor":0}'
    with pytest.raises(RequestRefused):  # the same signature on another path
        read_request(headers, "POST", "/api/v1/sync/push", body).verify(key.verifying_key)
    with pytest.raises(RequestRefused):
        read_request({**headers, "X-OneTrip-Station": "511302002001-01"}, "POST", "/api/v1/sync/pull", body).verify(
            key.verifying_key
        )
    with pytest.raises(RequestRefused):
        read_request(headers, "POST", "/api/v1/sync/pull", body + b"x")


def _signed(protocol: int) -> dict[str, str]:
    return sign_request(
        KEY,
        method="POST",
        path="/p",
        station="s-1",
        installation="i-abc",
        time_ms=1,
        nonce="0" * 32,
        body=b"",
        protocol=protocol,
    )


KEY = SigningKey.generate()


def test_the_previous_protocol_is_still_read_a_downgrade_breaks_the_signature_and_others_are_refused():
    old, new = _signed(2), _signed(3)
    assert read_request(old, "POST", "/p", b"").protocol == 2
    read_request(old, "POST", "/p", b"").verify(KEY.verifying_key)
    assert read_request(new, "POST", "/p", b"").protocol == 3
    read_request(new, "POST", "/p", b"").verify(KEY.verifying_key)
    with pytest.raises(RequestRefused):  # the protocol is signed: a request cannot be told to answer the old way
        read_request({**new, PROTOCOL_HEADER: "2"}, "POST", "/p", b"").verify(KEY.verifying_key)
    without = {k: v for k, v in new.items() if k != PROTOCOL_HEADER}  # protocol 1, two versions back
    for headers in (without, *({**new, PROTOCOL_HEADER: v} for v in ("4", "1", "0", "x"))):
        with pytest.raises(UnsupportedProtocol, match="请把版本较旧的一方升级"):
            read_request(headers, "POST", "/p", b"")


def ours(origin: str, stream: str) -> bool:
    return origin == "i-village"


def test_digests_differ_only_when_a_head_does_and_each_side_resends_what_the_other_lacks():
    both = [("i-county", "511302001001-01", 4, "c4"), ("i-village", "511302001001-01", 9, "v9")]
    assert fingerprint(both) == fingerprint(list(both)) and not differences(both, both, ours)
    assert fingerprint(both) != fingerprint([both[0], ("i-village", "511302001001-01", 9, "v9'")])
    parent_lost = [both[0], ("i-village", "511302001001-01", 5, "v5")]
    assert differences(both, parent_lost, ours) == Repairs(up=(("i-village", "511302001001-01", 5),))
    child_lost = [("i-county", "511302001001-01", 2, "c2"), ("i-village", "511302001001-01", 5, "v5")]
    assert differences(child_lost, both, ours) == Repairs(
        down=(("i-county", "511302001001-01", 2), ("i-village", "511302001001-01", 5))
    )
    assert differences([], both, ours) == Repairs(
        down=(("i-county", "511302001001-01", 0), ("i-village", "511302001001-01", 0))
    )
    # the child holds more of a stream from above: not its to hand up
    assert not differences(both, [("i-county", "511302001001-01", 3, "c3"), both[1]], ours)
    forked = [both[0], ("i-village", "511302001001-01", 9, "other")]
    assert differences(both, forked, ours) == Repairs(up=(("i-village", "511302001001-01", 0),))


def test_the_wait_doubles_after_each_failure_up_to_the_cap_with_jitter():
    rng = random.Random(1)
    assert backoff_s(0, 30, 900, rng) == 30
    waits = [backoff_s(n, 30, 900, rng) for n in range(1, 8)]
    assert all(30 * 2**n * 0.5 <= w <= 30 * 2**n or w <= 900 for n, w in enumerate(waits, start=1))
    assert max(waits) <= 900 and waits[0] < waits[3]


def test_a_station_told_busy_waits_at_least_what_the_parent_asked_spread_over_half_as_long_again():
    rng = random.Random(2)
    waits = [retry_after_s(5, rng) for _ in range(200)]
    assert all(5 <= w <= 7.5 for w in waits)
    assert max(waits) - min(waits) > 2  # spread: the stations turned away together do not come back together


def test_heads_and_repairs_that_do_not_read_are_refused_in_plain_words():
    heads = [("i-a", "s", 3, "c")]
    assert from_wire(to_wire(heads)) == heads
    repairs = Repairs(up=(("i-a", "s", 2),), down=(("i-b", "all", 0),))
    assert repairs_from_wire(repairs_to_wire(repairs)) == repairs
    for bad in ([["i-a", "s", "3", "c"]], [["i-a", "s", 3]], [["i-a", "s", -1, "c"]], {"heads": []}, None):
        with pytest.raises(EncodingError, match="无法读取"):
            from_wire(bad)
    with pytest.raises(EncodingError):
        repairs_from_wire({"up": [["i-a", "s", True]]})

"""The bundle file: version 2 carries scans after the sealed body, each sealed to the recipient and
checked against the name the body gives it; a version-1 bundle (no scans) still reads."""

from __future__ import annotations

import hashlib
import io

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sync import canonical, sneakernet
from sync.errors import RequestRefused

KEY = ec.derive_private_key(7, ec.SECP256R1())
HEADERS = {"X-OneTrip-Nonce": "ab" * 16}
SCANS = [b"\xff\xd8\xff scan one", b"%PDF- scan two"]
LISTED = [(hashlib.sha256(s).hexdigest(), len(s)) for s in SCANS]


def written(body: bytes = b"sealed body") -> bytes:
    out = io.BytesIO()
    sneakernet.write(out, HEADERS, body, to="i-parent")
    for (digest, _), data in zip(LISTED, SCANS, strict=True):
        sneakernet.write_scan(out, KEY.public_key(), data, nonce="n" * 16, digest=digest)
    return out.getvalue()


def read_all(data: bytes, listed=LISTED, nonce="n" * 16) -> list[tuple[str, bytes]]:
    bundle = sneakernet.read(io.BytesIO(data))
    return list(sneakernet.read_scans(bundle, KEY, nonce, listed))


def test_a_bundle_gives_back_its_headers_body_and_scans():
    bundle = sneakernet.read(io.BytesIO(written()))
    assert bundle.headers["X-OneTrip-To"] == "i-parent" and bundle.body == b"sealed body"
    assert list(sneakernet.read_scans(bundle, KEY, "n" * 16, LISTED)) == [
        (d, s) for (d, _), s in zip(LISTED, SCANS, strict=True)
    ]


def test_a_version_1_bundle_still_reads_and_carries_no_scans():
    old = sneakernet.MAGIC_V1 + canonical.encode({**HEADERS, "X-OneTrip-To": "i-parent"}) + b"\n" + b"whole body"
    bundle = sneakernet.read(io.BytesIO(old))
    assert bundle.body == b"whole body" and list(sneakernet.read_scans(bundle, KEY, "n" * 16, [])) == []
    with pytest.raises(RequestRefused, match="不在包中"):
        list(sneakernet.read_scans(bundle, KEY, "n" * 16, LISTED))


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda d: d[:-5], "截断"),
        (lambda d: d + b"x", "多余"),
        (lambda d: d[:-5] + bytes([d[-5] ^ 1]) + d[-4:], "改动"),
    ],
)
def test_a_cut_altered_or_padded_scan_section_is_refused(change, refusal):
    with pytest.raises(RequestRefused, match=refusal):
        read_all(change(written()))


def test_a_scan_moved_to_another_bundle_or_name_does_not_open():
    with pytest.raises(RequestRefused, match="改动"):
        read_all(written(), nonce="m" * 16)
    with pytest.raises(RequestRefused, match="改动"):
        read_all(written(), listed=[(LISTED[1][0], LISTED[0][1])])  # the first section under the second's name


def test_a_scan_resealed_by_someone_else_fails_the_name_the_signed_body_gives_it():
    out = io.BytesIO()
    sneakernet.write(out, HEADERS, b"sealed body", to="i-parent")
    forged = b"\xff\xd8\xff scan 0ne"  # the same size, other bytes, sealed to the same public key
    sneakernet.write_scan(out, KEY.public_key(), forged, nonce="n" * 16, digest=LISTED[0][0])
    with pytest.raises(RequestRefused, match="摘要不符"):
        read_all(out.getvalue(), listed=LISTED[:1])


@pytest.mark.parametrize("length", ["¹²", "٣", "-1", "", "1" * 40])
def test_a_length_header_that_is_not_a_plain_number_is_refused_not_raised(length):
    headers = {**HEADERS, "X-OneTrip-To": "i-parent", sneakernet.LENGTH: length}
    forged = sneakernet.MAGIC + canonical.encode(headers) + b"\n" + b"sealed body"
    with pytest.raises(RequestRefused, match="签名头无法读取"):
        sneakernet.read(io.BytesIO(forged))

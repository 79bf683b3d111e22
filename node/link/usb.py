"""The child's side of a link by USB stick: the bundle it writes for its parent, and what it takes back
from the parent's return bundle (events, scans, the parent's receipt of what it imported).
"""

from __future__ import annotations

import secrets
from typing import BinaryIO

from node.context import Context
from node.link import scans
from node.link.upstream import (
    Parent,
    RoundReport,
    apply_pulled,
    batches_up,
    link_row,
    opened,
    resend_from,
    save_link,
    scope_heads,
    succeeded,
)
from sync import delta, digest, sneakernet
from sync.batch import DEFAULT_LIMITS, Limits, decode_batch, encode_batch, framed, unframed
from sync.errors import ReplayedRequest, RequestRefused
from sync.request import BUNDLE_CONTEXT, PREFIX, read_request


def export_bundle(node: Context, out: BinaryIO, limits: Limits = DEFAULT_LIMITS) -> None:
    """Everything the parent lacks (events, signed heads, the scans not yet acknowledged) and our
    down-cursor and missing scans, signed and sealed to the parent, written to `out` for a USB stick.

    The cursors move only when the return bundle is imported: a lost stick loses nothing.
    """
    parent = Parent(node, online=False)
    link = link_row(parent.station)
    node.events.sign_heads()
    parts = [encode_batch(b) for b in batches_up(node, link.up_cursor, limits) if b.runs or b.cursor != link.up_cursor]
    unsent, lacking = scans.inventory(node)
    manifest = {
        "v": 2,
        "down_cursor": link.down_cursor,
        "scans": scans.listing(node, unsent),
        "lacking": lacking,
        "heads": digest.to_wire(scope_heads(node)),  # anti-entropy: the parent answers what either side lacks
    }
    time_ms, nonce = node.events.clock.clock.now_ms(), secrets.token_hex(16)
    path = sneakernet.bundle_path(parent.installation)
    headers, body = parent.channel.sealed(path, BUNDLE_CONTEXT, framed(parts, manifest), time_ms, nonce)
    sneakernet.write(out, headers, body, to=parent.installation)
    scans.write_carried(node, out, parent.channel.recipient, nonce, unsent)


def from_parent(node: Context, bundle: sneakernet.Bundle) -> bool:
    """Whether a bundle was written by our parent (a return bundle) rather than by a child."""
    return bool(node.identity.parent) and bundle.headers.get(PREFIX + "Station") == node.identity.parent


def import_return(node: Context, bundle: sneakernet.Bundle) -> RoundReport:
    """The parent's answer to our bundle: its acknowledgement, what came down and the scans we lacked.
    Refused, and nothing changed, if it is not from our parent, was altered (a scan included), or
    answers a state we have moved past."""
    headers, body = bundle.headers, bundle.body
    sneakernet.addressed_to(headers, node.identity.installation)
    parent = Parent(node, online=False)
    request = read_request(headers, "POST", sneakernet.bundle_path(node.identity.installation), body)
    key = node.events.trust.verifying_key(request.installation)
    if request.installation != parent.installation or key is None:
        raise RequestRefused(f"这个回执包不是上级 {parent.station} 写的")
    request.verify(key)
    plaintext = opened(node, body, BUNDLE_CONTEXT, request.nonce)
    manifest, parts = unframed(plaintext)
    link = link_row(parent.station)
    if manifest.get("down_from") != link.down_cursor:
        raise ReplayedRequest("这个回执包已经导入过，或本机此后已同步过：已过时，请重新导出同步包")
    repairing = manifest.get("repairs", 0)
    if type(repairing) is not int or not 0 <= repairing <= len(parts):
        raise RequestRefused("回执包的清单无效")
    batches = [decode_batch(part) for part in parts]
    repairs, batches = batches[:repairing], batches[repairing:]
    resend = digest.repairs_from_wire({"up": manifest.get("resend", [])}).up
    up = manifest.get("up_cursor")
    with node.blobs.staged() as staging:
        fetched = scans.stage_carried(node, staging, bundle, request.nonce, manifest)
        with delta.fork_evidence_kept(node.events), node.events.transaction():
            # The repairs first: what the pull brings may continue what they restore.
            applied = sum(delta.apply(node.events, batch).applied for batch in repairs)
            applied += apply_pulled(node, link, batches)
            if type(up) is int and up > link.up_cursor:
                link.up_cursor = up
            resend_from(link, resend)
            save_link(link)  # the up-cursor moved here, not as a push acknowledged it
            staging.place(staging.digests)  # our parent serves only our scope, each scan checked against its name
            succeeded(link, link.clock_offset_ms)  # a bundle says nothing of the clocks
    held = manifest.get("held")
    scans.mark_sent(node, fetched + (held if isinstance(held, list) else []))  # the parent holds these now
    repaired = len({(head.origin, head.stream) for batch in repairs for head, _ in batch.runs}) + len(resend)
    pulled = sum(b.event_count for b in batches + repairs)
    return RoundReport(0, pulled, applied, link.up_cursor, link.down_cursor, repaired)

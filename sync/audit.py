"""Re-verify what is stored: every chain from its first event, every latest signed head.

Used by `onetrip check` and after a crash: it reads the stored bytes, never a
cached hash, and names each problem.
"""

from __future__ import annotations

from storage.models import EventRecord, StreamHead

from .chain import GENESIS, link, verify_head
from .errors import ChainError
from .event import eid_of
from .trust import Trust


def audit_streams(trust: Trust, latest_head) -> list[str]:
    """Problems found in the stored log; `latest_head(origin, stream)` gives the newest signed head."""
    problems = []
    for head_row in StreamHead.select().order_by(StreamHead.origin, StreamHead.stream):
        origin, stream = head_row.origin, head_row.stream
        chain, expected, chains = GENESIS, 1, {0: GENESIS}
        rows = (
            EventRecord.select(EventRecord.seq, EventRecord.body, EventRecord.chain)
            .where((EventRecord.origin == origin) & (EventRecord.stream == stream))
            .order_by(EventRecord.seq)
            .tuples()
        )
        for seq, body, stored_chain in rows.iterator():
            if seq != expected:
                problems.append(f"{origin}/{stream}: 缺少第 {expected} 号事件")
                break
            chain = link(chain, eid_of(bytes(body)))
            if chain != stored_chain:
                problems.append(f"{origin}/{stream}: 第 {seq} 号事件的内容与链不符")
                break
            chains[seq] = chain
            expected += 1
        if head_row.seq != expected - 1 or head_row.chain != chain:
            problems.append(f"{origin}/{stream}: 流头记录（{head_row.seq}）与事件（{expected - 1}）不一致")
        head = latest_head(origin, stream)
        key = trust.verifying_key(origin)
        if head is None or key is None:
            continue
        try:
            verify_head(head, key)
        except ChainError as exc:
            problems.append(str(exc))
        if chains.get(head.seq) != head.chain:
            problems.append(f"{origin}/{stream}: 第 {head.seq} 号签名流头与存储的链不符")
    return problems

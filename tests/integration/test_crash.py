"""Crash safety: a process killed with SIGKILL in the middle of appending leaves each event whole
or absent, and every chain intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from node.config import NodeConfig
from node.runtime import Node, initialise
from storage.database import db
from storage.models import EventRecord, StreamHead

WRITER = textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path
    from node.config import NodeConfig
    from node.runtime import Node
    node = Node.from_config(NodeConfig(Path(sys.argv[1]), head_interval=7))
    print("ready", flush=True)
    n = 0
    while True:  # alternate single appends and batches, so the kill lands anywhere
        with node.events.transaction():
            for _ in range(1 + n % 5):
                node.events.append("station.created", f"station:{node.identity.station}", {
                    "code": node.identity.station, "name": f"s{os.getpid()}-{n} " + "测试站" * 20,
                    "level": "village", "region": "511302001001",
                }, stream=node.identity.station)
                n += 1
            if sys.argv[2:] == ["hold"] and n > 20:  # stop inside a transaction, its events appended
                print(f"holding s{os.getpid()}-{n - 1}", flush=True)  # the name of its last event
                sys.stdin.readline()
    """
)


def writer(data_dir: Path, *args: str) -> subprocess.Popen:
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), *args],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert child.stdout.readline().strip() == b"ready"
    return child


def test_a_writer_killed_mid_append_leaves_whole_events_and_intact_chains(tmp_path: Path):
    data_dir = tmp_path / "node"
    initialise(
        NodeConfig(data_dir), level="village", name="崩溃测试", region="511302001001", algorithm="ecdsa-p256-sha256"
    )
    db.close()
    for delay in (0.4, 0.9, 1.3):  # anywhere in the writing: between, inside or committing transactions
        child = writer(data_dir)
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    child = writer(data_dir, "hold")  # and once provably inside one, its events appended, not committed
    held = child.stdout.readline().split()[-1].decode()
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL

    node = Node.from_config(NodeConfig(data_dir))
    assert node.check() == []
    head = StreamHead.get(origin=node.identity.installation, stream=node.identity.station)
    seqs = [
        r.seq for r in EventRecord.select().where(EventRecord.stream == node.identity.station).order_by(EventRecord.seq)
    ]
    assert seqs == list(range(1, head.seq + 1)), "no event is missing, half-written or duplicated"
    assert head.seq > 10, "the writer made progress before each kill"
    bodies = [bytes(body) for (body,) in EventRecord.select(EventRecord.body).tuples()]
    assert not any(f"{held} ".encode() in body for body in bodies), "uncommitted: gone"
    # The node goes on writing after the crashes, on the same chain.
    node.events.append(
        "station.created",
        f"station:{node.identity.station}",
        {"code": node.identity.station, "name": "恢复", "level": "village", "region": "511302001001"},
        stream=node.identity.station,
    )
    node.events.sign_heads()
    assert node.check() == []
    db.close()

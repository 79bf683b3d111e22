"""The deterministic application record of ../shared/bench/WORKLOADS.md (seed 42, about 1.2 KB as JSON)."""

from __future__ import annotations

import hashlib
import random

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
TOWNS = ["搬罾街道", "芦溪镇", "双桥镇", "共兴镇", "金台镇"]
MATERIALS = ["居民身份证", "户口簿", "出生医学证明", "结婚证", "社保卡", "银行卡", "残疾证", "土地承包合同"]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_number(rng: random.Random) -> str:
    """An 18-character resident ID with a valid GB 11643 check character."""
    body = f"511302{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def application(rng: random.Random, n: int, node_id: str = "511302001001") -> dict:
    materials = []
    for name in rng.sample(MATERIALS, 5):
        blob = f"{n}:{name}".encode()
        materials.append(
            {"name": name, "sha256": hashlib.sha256(blob).hexdigest(), "size": rng.randint(40_000, 900_000)}
        )
    return {
        "id": f"BJ{node_id}{n:08d}",
        "item_code": f"11511300MB1234567X-{rng.randint(1, 60):04d}",
        "applicant": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2)),
        "id_number": id_number(rng),
        "phone": f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}",
        "address": f"四川省南充市顺庆区{rng.choice(TOWNS)}{rng.randint(1, 12)}组{rng.randint(1, 80)}号",
        "materials": materials,
        "status": "submitted",
        "created_at": f"2026-11-{rng.randint(1, 22):02d}T{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00+08:00",
        "agent": f"agent-{rng.randint(1, 3)}",
        "node": node_id,
        "note": "代办员已核对原件，申请人同意代办。",
    }


def applications(count: int, seed: int = 42) -> list[dict]:
    rng = random.Random(seed)
    return [application(rng, n) for n in range(count)]

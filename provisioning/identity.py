"""Who this installation is: its station, its keys, and the files that hold them.

`<data-dir>/identity.json` names the station and installation; private keys live
in `<data-dir>/keys/` created 0600 and never leave the machine. Until a county
registers the station (provisioning, later), its code is provisional.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from provisioning.errors import DataDirExists, IdentityMissing, InvalidIdentity
from provisioning.region import LEVELS, region_problems
from sync.keys import ALGORITHMS, DEFAULT_ALGORITHM, SigningKey, generate_agreement_key, private_pem, write_secret

IDENTITY_FILE = "identity.json"
SIGNING_KEY_FILE = "keys/signing.pem"
AGREEMENT_KEY_FILE = "keys/agreement.pem"
LOOKUP_KEY_FILE = "keys/lookup.key"
SESSION_KEY_FILE = "keys/session.key"
NAME_MAX = 100


@dataclass(frozen=True)
class Identity:
    station: str
    installation: str
    level: str
    name: str
    region: str
    algorithm: str
    provisional: bool = True
    parent: str | None = None
    parent_url: str | None = None
    issuer_url: str | None = None  # the hub that certified this installation, where it renews


@dataclass(frozen=True)
class Keys:
    """The private keys of this installation, loaded from its data dir."""

    signing: SigningKey
    agreement: ec.EllipticCurvePrivateKey
    lookup: bytes
    session: bytes  # signs the web sessions' cookies; a file, so sessions survive a restart


def installation_id(signing_public_key) -> str:
    """An installation is named by its signing key, so no one can claim another's id."""
    der = signing_public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "i-" + hashlib.sha256(der).hexdigest()[:20]


def identity_problems(level: str, name: str, region: str, algorithm: str) -> list[str]:
    problems = []
    if level not in LEVELS:
        problems.append(f"未知的层级 {level!r}：应为 {' / '.join(LEVELS)} 之一")
    else:
        problems.extend(region_problems(level, region))
    if not name.strip():
        problems.append("名称不能为空")
    elif len(name) > NAME_MAX:
        problems.append(f"名称不能超过 {NAME_MAX} 个字")
    if algorithm not in ALGORITHMS:
        problems.append(f"签名算法 {algorithm!r} 不在允许列表中：{' / '.join(ALGORITHMS)}")
    return problems


def create_identity(
    data_dir: Path,
    *,
    level: str,
    name: str,
    region: str,
    algorithm: str = DEFAULT_ALGORITHM,
    session_key: bytes | None = None,
) -> tuple[Identity, Keys]:
    """Make a new installation's keys and identity in `data_dir`, all or nothing. `session_key`: the one the
    setup page's session is signed with already, kept so that the browser that set the PC up stays known.

    Everything is written in a sibling temporary directory, which is renamed into
    place only when complete; a refused request leaves no file behind.
    """
    data_dir = Path(data_dir)
    problems = identity_problems(level, name, region, algorithm)
    if problems:
        raise InvalidIdentity("；".join(problems), problems)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise DataDirExists(f"数据目录 {data_dir} 已存在且不为空：不会覆盖已有的节点")
    session = session_key or os.urandom(32)
    keys = Keys(SigningKey.generate(algorithm), generate_agreement_key(), os.urandom(32), session)
    installation = installation_id(keys.signing.verifying_key.public_key)
    root = level == "city"  # the city holds the root: nobody above it assigns its code
    identity = Identity(
        station=f"{region}-01" if root else f"{region}-{installation[2:8]}",  # provisional until registered
        installation=installation,
        level=level,
        name=name.strip(),
        region=region,
        algorithm=algorithm,
        provisional=not root,
    )
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}-", dir=data_dir.parent))
    try:
        write_secret(staging / SIGNING_KEY_FILE, keys.signing.to_pem())
        write_secret(staging / AGREEMENT_KEY_FILE, private_pem(keys.agreement))
        write_secret(staging / LOOKUP_KEY_FILE, keys.lookup)
        write_secret(staging / SESSION_KEY_FILE, keys.session)
        save_identity(staging, identity)
        if data_dir.exists():
            data_dir.rmdir()
        os.replace(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return identity, keys


def save_identity(data_dir: Path, identity: Identity) -> None:
    """Replace identity.json atomically and durably (after enrolment gives the station its code)."""
    path = Path(data_dir) / IDENTITY_FILE
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(identity), ensure_ascii=False, indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_lookup_key(data_dir: Path, key: bytes) -> None:
    """Adopt the county's search key at enrolment (secret: it came sealed to this installation)."""
    path = Path(data_dir) / LOOKUP_KEY_FILE
    staged = path.with_suffix(".new")
    staged.unlink(missing_ok=True)
    write_secret(staged, key)
    os.replace(staged, path)


def load_identity(data_dir: Path) -> tuple[Identity, Keys]:
    data_dir = Path(data_dir)
    try:
        identity = Identity(**json.loads((data_dir / IDENTITY_FILE).read_text("utf-8")))
        signing = SigningKey.from_pem(identity.algorithm, (data_dir / SIGNING_KEY_FILE).read_bytes())
        agreement = serialization.load_pem_private_key((data_dir / AGREEMENT_KEY_FILE).read_bytes(), password=None)
        lookup = (data_dir / LOOKUP_KEY_FILE).read_bytes()
        session = (data_dir / SESSION_KEY_FILE).read_bytes()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise IdentityMissing(
            f"{data_dir} 不是 OneTrip 数据目录（缺少 {Path(exc.filename).name}）：请先运行 onetrip init"
        ) from exc
    except PermissionError as exc:
        raise IdentityMissing(f"没有权限读取 {exc.filename}：请用安装 OneTrip 的账号运行") from exc
    return identity, Keys(signing, agreement, lookup, session)

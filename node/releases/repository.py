"""The city's TUF repository, with python-tuf's Metadata API: four roles, root and targets signed by a
threshold of offline keys that their holders keep on sticks, snapshot and timestamp by one online key on the
city hub. Changes to root or targets wait in `staged/` until enough holders have signed them (a new root, as
nodes check it: a threshold of the old root's holders and one of its own).

Layout (what nodes fetch, and what hubs mirror unchanged): `metadata/<v>.root.json`, `<v>.targets.json`,
`<v>.snapshot.json` and `timestamp.json` (consistent snapshots: a file once published never changes, so a
mirror copied mid-publication is never inconsistent), and `targets/<sha256>.<archive name>`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from node.releases.errors import ReleaseRefused

# How long each role's signature is good for. Root and targets are signed at ceremonies (a year; a quarter:
# a release older than that is re-signed or withdrawn); snapshot and timestamp by the city hub's online key,
# the timestamp re-signed daily. A week of timestamp is how long a USB mirror stays usable, and how long a
# frozen mirror (one that keeps serving old metadata) can hide a newer release.
LIFETIMES = {
    Root.type: dt.timedelta(days=365),
    Targets.type: dt.timedelta(days=90),
    Snapshot.type: dt.timedelta(days=14),
    Timestamp.type: dt.timedelta(days=7),
}
OFFLINE_ROLES = (Root.type, Targets.type)
ONLINE_ROLES = (Snapshot.type, Timestamp.type)  # one online key signs both: it is changed for both at once
ROLES = OFFLINE_ROLES + ONLINE_ROLES
PRETTY = JSONSerializer(compact=False)


# ---- keys -----------------------------------------------------------------------------------------------


def generate_key(folder: Path, name: str) -> tuple[Path, Path]:
    """An ed25519 key pair for one key holder: `<name>.key` (PKCS#8 PEM, 0600, never copied off its stick)
    and `<name>.pub.json` (the public key, handed to whoever builds the root)."""
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / f"{name}.key", folder / f"{name}.pub.json"
    if private.exists() or public.exists():
        raise ReleaseRefused(f"{private} 或 {public} 已存在：不覆盖已有的密钥")
    signer = CryptoSigner(Ed25519PrivateKey.generate())
    pem = signer.private_bytes
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    public.write_text(json.dumps({"keyid": signer.public_key.keyid, **signer.public_key.to_dict()}, indent=1))
    return private, public


def load_public(path: Path) -> SSlibKey:
    try:
        data = json.loads(path.read_bytes())
        return SSlibKey.from_dict(data.pop("keyid"), data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReleaseRefused(f"{path} 不是 onetrip releases keygen 写出的公钥文件") from exc


def load_signer(path: Path) -> CryptoSigner:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return CryptoSigner(key)
    except (OSError, ValueError, TypeError) as exc:
        raise ReleaseRefused(f"{path} 不是 onetrip releases keygen 写出的私钥文件") from exc


# ---- the repository -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A staged role's valid signatures against one root's threshold for it."""

    root_version: int
    signed_by: int
    threshold: int


@dataclass(frozen=True)
class Staged:
    role: str
    version: int
    counts: tuple[Count, ...]  # a new root: its predecessor's and its own; targets: the root it is published under

    @property
    def ready(self) -> bool:
        return all(count.signed_by >= count.threshold for count in self.counts)

    def signatures(self) -> str:
        """`1/2 个签名`; for a new root both counts, since either can be the one short (a holder of only the old
        root's key, or of only the new one's, adds to one of them)."""
        if len(self.counts) == 1:
            (count,) = self.counts
            return f"{count.signed_by}/{count.threshold} 个签名"
        old, new = self.counts
        return (
            f"{old.signed_by}/{old.threshold} 个旧根 v{old.root_version} 持钥人的签名、"
            f"{new.signed_by}/{new.threshold} 个新根 v{new.root_version} 持钥人的签名"
        )


class Repository:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.metadata = self.folder / "metadata"
        self.targets = self.folder / "targets"
        self.staged = self.folder / "staged"

    # reading

    def published(self, role: str) -> Metadata | None:
        if role == Timestamp.type:
            path = self.metadata / "timestamp.json"
        else:
            versions = sorted(int(p.name.split(".")[0]) for p in self.metadata.glob(f"*.{role}.json"))
            path = self.metadata / f"{versions[-1]}.{role}.json" if versions else None
        return Metadata.from_file(str(path)) if path and path.exists() else None

    def staged_role(self, role: str) -> Metadata | None:
        path = self.staged / f"{role}.json"
        return Metadata.from_file(str(path)) if path.exists() else None

    def current(self, role: str) -> Metadata | None:
        return self.staged_role(role) or self.published(role)

    def pending(self) -> list[Staged]:
        """What waits for signatures, and how many it has of how many it needs."""
        out = []
        for role in OFFLINE_ROLES:
            staged = self.staged_role(role)
            if staged is not None:
                counts = tuple(
                    Count(root.version, _valid_signatures(root, role, staged), root.roles[role].threshold)
                    for root in (metadata.signed for metadata in _signing_roots(self, role, staged))
                )
                out.append(Staged(role, staged.signed.version, counts))
        return out

    # writing

    def _stage(self, metadata: Metadata) -> None:
        self.staged.mkdir(parents=True, exist_ok=True)
        _write(self.staged / f"{metadata.signed.type}.json", metadata.to_bytes(PRETTY))


def init_repository(
    repo: Repository,
    *,
    root_keys: list[SSlibKey],
    root_threshold: int,
    targets_keys: list[SSlibKey],
    targets_threshold: int,
    online_key: SSlibKey,
    now: dt.datetime,
) -> None:
    """Root v1 and an empty targets v1, staged for their holders to sign (`sign_staged`), then `publish`. The
    keys go in as a rotation's would, onto python-tuf's empty root, so both are refused by the same rules."""
    if repo.published(Root.type) or repo.staged_role(Root.type):
        raise ReleaseRefused(f"{repo.folder} 已有发布库：轮换密钥请用 onetrip releases rotate，不要重新初始化")
    root = Root(expires=now + LIFETIMES[Root.type], consistent_snapshot=True)
    _change_keys(
        root,
        add=[
            *((Root.type, key) for key in root_keys),
            *((Targets.type, key) for key in targets_keys),
            (Timestamp.type, online_key),
        ],
        thresholds=[(Root.type, root_threshold), (Targets.type, targets_threshold)],
    )
    repo._stage(Metadata(root))
    repo._stage(Metadata(Targets(expires=now + LIFETIMES[Targets.type])))


def rotate_root(
    repo: Repository,
    now: dt.datetime,
    *,
    add: Sequence[tuple[str, SSlibKey]] = (),
    revoke: Sequence[tuple[str, str]] = (),
    thresholds: Sequence[tuple[str, int]] = (),
) -> list[str]:
    """The next root version, staged for signing: the current root (a staged one is amended, its signatures
    dropped) with keys revoked (by keyid), added and thresholds set, and a year's expiry again (with no
    change at all, that is the yearly renewal). `publish` takes it once a threshold of the old root's holders
    and one of the new root's have signed it, as nodes check it. Returns what waits for signatures.

    If the targets in force would then fall short of the new targets threshold (its signers revoked), the
    same targets is staged again as the next version: once the new root is out every node would refuse
    the old one, so the new targets holders sign it in the same ceremony, and `publish`, refused whole while
    any staged role is short, cannot put out the root without a targets that verifies under it. A new
    version rather than new signatures on the published file, which never changes under its name: a
    mirror copied mid-publication must not pair the new root with a changed `N.targets.json`."""
    current = repo.current(Root.type)
    if current is None:
        raise ReleaseRefused("发布库还没有初始化：先运行 onetrip releases init")
    root, published = current.signed, repo.published(Root.type)
    _change_keys(root, add=add, revoke=revoke, thresholds=thresholds)
    root.version = (published.signed.version if published else 0) + 1
    root.expires = now + LIFETIMES[Root.type]
    repo._stage(Metadata(root))
    staged = [f"{Root.type} v{root.version}"]
    targets = repo.published(Targets.type)
    if (
        repo.staged_role(Targets.type) is None
        and targets is not None
        and _valid_signatures(root, Targets.type, targets) < root.roles[Targets.type].threshold
    ):
        _restage(repo, targets, now)
        staged.append(f"{Targets.type} v{targets.signed.version}")
    return staged


def _change_keys(
    root: Root,
    *,
    add: Sequence[tuple[str, SSlibKey]],
    revoke: Sequence[tuple[str, str]] = (),
    thresholds: Sequence[tuple[str, int]],
) -> None:
    """Revocations, then additions, then thresholds, on `root` in place; refused with every problem named if
    any is wrong or the result unusable: a role with fewer keys than its threshold could never be signed, and
    an online key that is also a root or targets key would put an offline role on the city hub's disk."""
    unknown = sorted({role for role, _ in (*add, *revoke, *thresholds)} - set(ROLES))
    if unknown:
        raise ReleaseRefused(f"不认识的角色 {'、'.join(unknown)}：只能是 {'、'.join(ROLES)}")
    problems = []
    for role, keyid in revoke:
        if keyid in root.roles[role].keyids:
            for each in _together(role):
                root.revoke_key(keyid, each)
        else:
            problems.append(f"{role} 没有这把密钥（{keyid[:12]}…），无从撤销")
    for role, key in add:
        if key.keyid in root.roles[role].keyids:
            problems.append(f"{role} 已有这把密钥（{key.keyid[:12]}…）")
        else:
            for each in _together(role):
                root.add_key(key, each)
    for role, threshold in thresholds:
        if role in ONLINE_ROLES:
            problems.append(f"{role} 由一把在线密钥签名，门限只能是 1")
        elif threshold < 1:
            problems.append(f"{role} 的门限 {threshold} 不能小于 1")
        else:
            root.roles[role].threshold = threshold
    problems += [
        f"{role} 有 {len(root.roles[role].keyids)} 把密钥，少于门限 {root.roles[role].threshold}"
        for role in (*OFFLINE_ROLES, Timestamp.type)  # snapshot's keys are timestamp's
        if len(root.roles[role].keyids) < root.roles[role].threshold
    ]
    online = {keyid for role in ONLINE_ROLES for keyid in root.roles[role].keyids}
    if online & {keyid for role in OFFLINE_ROLES for keyid in root.roles[role].keyids}:
        problems.append("在线密钥（快照、时间戳）不能同时是离线的根或目标密钥")
    if problems:
        raise ReleaseRefused("；".join(problems))


def _together(role: str) -> tuple[str, ...]:
    """The roles a key change to `role` applies to: the online key's, snapshot and timestamp, go together."""
    return ONLINE_ROLES if role in ONLINE_ROLES else (role,)


def add_release(repo: Repository, archive: Path, now: dt.datetime, *, counties=(), stations=()) -> TargetFile:
    """A release archive made by `make dist` as a new target, in a new targets version staged for signing.
    `counties` pins it to those counties (six-digit division codes); `stations` makes it a ring: only those
    stations take it (a few first, the rest with the next targets version that drops the list)."""
    manifest = read_manifest(archive)
    targets = repo.current(Targets.type)
    if targets is None:
        raise ReleaseRefused("发布库还没有初始化：先运行 onetrip releases init")
    target = TargetFile.from_file(archive.name, str(archive))
    digest = target.hashes["sha256"]
    target.unrecognized_fields["custom"] = {
        "onetrip": {
            "version": manifest["version"],
            "release": manifest["release"],
            "platform": manifest["platform"],
            "counties": sorted(counties),
            "stations": sorted(stations),
        }
    }
    repo.targets.mkdir(parents=True, exist_ok=True)
    copy = repo.targets / f"{digest}.{archive.name}"
    if not copy.exists():
        shutil.copyfile(archive, copy.with_suffix(".part"))
        os.replace(copy.with_suffix(".part"), copy)
    targets.signed.targets[archive.name] = target
    _restage(repo, targets, now)
    return target


def remove_release(repo: Repository, name: str, now: dt.datetime) -> None:
    targets = repo.current(Targets.type)
    if targets is None or name not in targets.signed.targets:
        raise ReleaseRefused(f"发布库中没有 {name}")
    del targets.signed.targets[name]
    _restage(repo, targets, now)


def _restage(repo: Repository, targets: Metadata, now: dt.datetime) -> None:
    """`targets`, changed or not, staged as the version after the published one, for its holders to sign."""
    published = repo.published(Targets.type)
    targets.signed.version = (published.signed.version if published else 0) + 1
    targets.signed.expires = now + LIFETIMES[Targets.type]
    targets.signatures.clear()  # the content changed (its version, at least): every holder signs again
    repo._stage(targets)


def sign_staged(repo: Repository, role: str, signer: CryptoSigner) -> Staged:
    """One holder's signature on the staged root or targets; refused if the key is not one the role needs."""
    staged = repo.staged_role(role)
    if staged is None:
        raise ReleaseRefused(f"没有待签的 {role} 元数据")
    wanted = {keyid for root in _signing_roots(repo, role, staged) for keyid in root.signed.roles[role].keyids}
    if signer.public_key.keyid not in wanted:
        raise ReleaseRefused(f"这把密钥（{signer.public_key.keyid[:12]}…）不是 {role} 的签署密钥")
    staged.sign(signer, append=True)
    repo._stage(staged)
    return next(item for item in repo.pending() if item.role == role)


def publish(repo: Repository, online: CryptoSigner, now: dt.datetime) -> list[str]:
    """Move staged roles that carry their thresholds into metadata/, then a new snapshot and timestamp
    signed with the online key. Refused whole if any staged role is short of signatures (a new root: of
    either root's threshold), or if the online key is not the one of the root it publishes under (after a
    rotation of the online key, the new one)."""
    short = [f"{item.role} v{item.version} 有 {item.signatures()}" for item in repo.pending() if not item.ready]
    if short:
        raise ReleaseRefused("签名不足，未发布：" + "；".join(short))
    root = repo.current(Root.type)
    if root is None:
        raise ReleaseRefused("发布库还没有初始化：先运行 onetrip releases init")
    _check_online(root.signed, online)
    moved = []
    repo.metadata.mkdir(parents=True, exist_ok=True)
    for role in OFFLINE_ROLES:  # root first: targets is checked against the root it comes with
        staged = repo.staged_role(role)
        if staged is not None:
            _write(repo.metadata / f"{staged.signed.version}.{role}.json", staged.to_bytes(PRETTY))
            (repo.staged / f"{role}.json").unlink()
            moved.append(f"{role} v{staged.signed.version}")
    if repo.published(Targets.type) is None:
        raise ReleaseRefused("还没有已签的 targets 元数据")
    _sign_snapshot_and_timestamp(repo, online, now)
    return moved


def refresh_timestamp(repo: Repository, online: CryptoSigner, now: dt.datetime, *, force: bool = False) -> bool:
    """A new timestamp (and snapshot, if it would expire first) once half the timestamp's life has passed:
    the city hub's daily job, so that nodes can tell a live repository from a frozen one."""
    timestamp = repo.published(Timestamp.type)
    if timestamp is None:
        return False
    if not force and timestamp.signed.expires - now > LIFETIMES[Timestamp.type] / 2:
        return False
    _check_online(repo.published(Root.type).signed, online)
    _sign_snapshot_and_timestamp(repo, online, now)
    return True


def _sign_snapshot_and_timestamp(repo: Repository, online: CryptoSigner, now: dt.datetime) -> None:
    old_snapshot, old_timestamp = repo.published(Snapshot.type), repo.published(Timestamp.type)
    targets = repo.published(Targets.type)
    snapshot = Snapshot(
        version=(old_snapshot.signed.version + 1) if old_snapshot else 1,
        expires=now + LIFETIMES[Snapshot.type],
        meta={"targets.json": MetaFile(version=targets.signed.version)},
    )
    snapshot_bytes = _signed_bytes(Metadata(snapshot), online)
    _write(repo.metadata / f"{snapshot.version}.snapshot.json", snapshot_bytes)
    timestamp = Timestamp(
        version=(old_timestamp.signed.version + 1) if old_timestamp else 1,
        expires=now + LIFETIMES[Timestamp.type],
        snapshot_meta=MetaFile(
            version=snapshot.version,
            length=len(snapshot_bytes),
            hashes={"sha256": hashlib.sha256(snapshot_bytes).hexdigest()},
        ),
    )
    _write(repo.metadata / "timestamp.json", _signed_bytes(Metadata(timestamp), online))


def _check_online(root: Root, online: CryptoSigner) -> None:
    """Nodes would refuse a snapshot or timestamp signed by a key their root does not name for it: say so
    here instead, before anything is written (the usual cause, the old online key after a rotation)."""
    keyid = online.public_key.keyid
    if any(keyid not in root.roles[role].keyids for role in ONLINE_ROLES):
        raise ReleaseRefused(
            f"这把密钥（{keyid[:12]}…）不是根元数据 v{root.version} 中快照和时间戳的在线密钥，未签名："
            "在线密钥轮换后请用新的在线密钥"
        )


def _signed_bytes(metadata: Metadata, signer: CryptoSigner) -> bytes:
    try:
        metadata.sign(signer)
    except UnsignedMetadataError as exc:
        raise ReleaseRefused(f"在线密钥无法签名：{exc}") from exc
    return metadata.to_bytes(PRETTY)


def _signing_roots(repo: Repository, role: str, staged: Metadata) -> list[Metadata]:
    """The roots whose thresholds a staged role must meet: a new root needs its predecessor's and its own
    (so a rotation is signed by the old keys and the new); targets, the root it will be published under."""
    published_root = repo.published(Root.type)
    if role == Root.type:
        return [root for root in (published_root, staged) if root is not None]
    return [repo.staged_role(Root.type) or published_root]


def _valid_signatures(root: Root, role: str, metadata: Metadata) -> int:
    return len(root.get_verification_result(role, metadata.signed_bytes, metadata.signatures).signed)


def read_manifest(archive: Path) -> dict:
    """The manifest inside a release archive of `make dist` (one top folder, manifest.json in it)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = next(m for m in tar if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/manifest.json"))
            manifest = json.load(tar.extractfile(member))
        if manifest.get("name") != "onetrip" or not all(manifest.get(k) for k in ("version", "release", "platform")):
            raise ValueError("not a OneTrip manifest")
        return manifest
    except (OSError, tarfile.TarError, StopIteration, ValueError) as exc:
        raise ReleaseRefused(f"{archive} 不是 make dist 生成的发布包（找不到有效的 manifest.json）") from exc


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def keys_of(paths: Iterable[Path]) -> list[SSlibKey]:
    return [load_public(path) for path in paths]

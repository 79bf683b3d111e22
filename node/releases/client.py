"""A node's side of the release path, with python-tuf's ngclient: refresh the city's metadata from the parent
(or a stick), verify it, download the release meant for this node (resuming), and at a hub mirror the
verified metadata and archives for the children. Every refusal is said in Chinese (`refusal`).

Under the data dir, `releases/`: `trusted/` (ngclient's metadata: the city's root installed once, then
what verified), `partial/` (bytes of an archive still coming), `targets/` (verified archives), and at a hub
`metadata/`, the mirror its children read (the city's repository is this same folder at the city).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import platform as platform_module
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root, Targets
from tuf.ngclient import Updater

from node.releases.choice import Offer, kept_for_children, offers_of, pick
from node.releases.errors import UpdateRefused, UpdateUnavailable
from node.releases.fetcher import MirrorFetcher

HUB_LEVELS = ("county", "township")  # they mirror for their children; the city is the source


@functools.cache
def running_version() -> str:
    try:
        return version("onetrip")
    except PackageNotFoundError:
        return "0"


def this_platform() -> str:
    """The target name `make dist` gives this machine's archives."""
    return f"{platform_module.system().lower()}-{platform_module.machine().lower().replace('arm64', 'aarch64')}"


@dataclass(frozen=True)
class Place:
    """Who is updating, as the choice of a release needs it."""

    data_dir: Path
    station: str
    region: str  # division code; its first six digits name the county
    level: str
    platform: str = field(default_factory=this_platform)
    running: str = field(default_factory=running_version)

    @property
    def folder(self) -> Path:
        return Path(self.data_dir) / "releases"

    @property
    def county(self) -> str:
        return self.region[:6]


@dataclass(frozen=True)
class Checked:
    offer: Offer | None  # the release this node should move to, if any
    archive: Path | None  # verified, on disk
    mirrored: int  # archives a hub keeps for its children
    received_bytes: int


def trust_root(place: Place, root: bytes) -> int:
    """Install the city's root metadata (from the key ceremony's stick) as this node's trust anchor; it must
    carry its own threshold of signatures. Returns its version."""
    trusted = place.folder / "trusted"
    trusted.mkdir(parents=True, exist_ok=True)
    try:
        Updater(str(trusted), "file:///nonexistent/", bootstrap=root)  # verifies it, then keeps it
    except (exceptions.RepositoryError, ValueError) as exc:
        raise refusal(exc, "metadata") from exc
    return Metadata.from_bytes(root).signed.version


def check(place: Place, source: str | Path, *, retry_pause_s: float = 1.0) -> Checked:
    """One round: refresh and verify the metadata from `source` (the parent's URL, or a mirror folder),
    download what this node takes (and, at a hub, what its children may take), and at a hub publish the
    verified metadata to its own mirror. The state page's record is written whatever happens."""
    fetcher = MirrorFetcher(place.folder / "partial", retry_pause_s=retry_pause_s)
    try:
        checked = _check(place, source, fetcher)
    except (UpdateRefused, UpdateUnavailable) as exc:
        state = "refused" if isinstance(exc, UpdateRefused) else "unreachable"
        reason = getattr(exc, "reason", None)
        record(place, state=state, reason=reason, message=str(exc), received_bytes=fetcher.received_bytes)
        raise
    record(
        place,
        state="downloaded" if checked.archive else "current",
        offered=checked.offer and asdict(checked.offer),
        archive=str(checked.archive) if checked.archive else None,
        received_bytes=checked.received_bytes,
        message=f"已下载并校验 {checked.offer.version}" if checked.offer else f"已是最新（{place.running}）",
    )
    return checked


def _check(place: Place, source: str | Path, fetcher: MirrorFetcher) -> Checked:
    trusted, targets_dir = place.folder / "trusted", place.folder / "targets"
    if not (trusted / "root.json").exists():
        raise UpdateRefused("no_root", "本机还没有市级发布库的根元数据：请县级运维运行 onetrip update trust --root")
    base = Path(source).resolve().as_uri() if isinstance(source, Path) else f"{source.rstrip('/')}/releases"
    updater = Updater(
        str(trusted), f"{base}/metadata/", str(targets_dir), f"{base}/targets/", fetcher=fetcher, bootstrap=None
    )
    try:
        updater.refresh()
    except (exceptions.RepositoryError, exceptions.DownloadError) as exc:
        raise refusal(exc, "metadata") from exc
    offers = offers_of(Metadata[Targets].from_file(str(trusted / "targets.json")).signed.targets)
    mine = pick(offers, platform=place.platform, station=place.station, county=place.county, running=place.running)
    wanted = kept_for_children(offers, place.county) if place.level in HUB_LEVELS else []
    for offer in [*wanted, *([mine] if mine and mine not in wanted else [])]:
        _download(updater, fetcher, offer, targets_dir)
    if place.level in HUB_LEVELS:
        _mirror(trusted, place.folder / "metadata")
    _drop_unlisted(targets_dir, [*wanted, *([mine] if mine else [])])  # withdrawn, or installed already
    archive = targets_dir / f"{mine.sha256}.{mine.name}" if mine else None
    return Checked(mine, archive, len(wanted), fetcher.received_bytes)


def _download(updater: Updater, fetcher: MirrorFetcher, offer: Offer, targets_dir: Path) -> None:
    """Into `targets/<sha256>.<name>`, the name children fetch it by; verified before it takes that name."""
    path = targets_dir / f"{offer.sha256}.{offer.name}"
    info = updater.get_targetinfo(offer.name)
    if updater.find_cached_target(info, str(path)):
        return
    incoming = path.with_name(path.name + ".verified")
    try:
        updater.download_target(info, str(incoming))
    except exceptions.RepositoryError as exc:
        fetcher.forget(path.name)  # a bad copy is not resumed
        raise refusal(exc, "target") from exc
    except exceptions.DownloadError as exc:
        raise refusal(exc, "target") from exc
    os.replace(incoming, path)
    fetcher.forget(path.name)


def _mirror(trusted: Path, metadata: Path) -> None:
    """The verified files under the names a consistent-snapshot client asks for; timestamp last, so a child
    never reads a timestamp whose snapshot is not there yet."""
    metadata.mkdir(parents=True, exist_ok=True)
    copies = [(path, metadata / path.name) for path in sorted((trusted / "root_history").glob("*.root.json"))]
    for role in ("targets", "snapshot"):
        data = (trusted / f"{role}.json").read_bytes()
        copies.append((trusted / f"{role}.json", metadata / f"{json.loads(data)['signed']['version']}.{role}.json"))
    copies.append((trusted / "timestamp.json", metadata / "timestamp.json"))
    for source, target in copies:
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_bytes(source.read_bytes())
        os.replace(temporary, target)


def _drop_unlisted(targets_dir: Path, kept: list[Offer]) -> None:
    names = {f"{offer.sha256}.{offer.name}" for offer in kept}
    for path in targets_dir.glob("*"):
        if path.name not in names:
            path.unlink()


# ---- refusals in words ----------------------------------------------------------------------------------


def refusal(exc: Exception, what: str) -> UpdateRefused | UpdateUnavailable:
    """ngclient's exceptions as what a county IT worker reads: what was refused, and what to do."""
    if isinstance(exc, exceptions.LengthOrHashMismatchError) and what == "target":
        return UpdateRefused(
            "tampered_target", "发布包与市级签名的校验值不符（被篡改或已损坏），已丢弃，没有安装；请从上级重新获取"
        )
    if isinstance(exc, exceptions.UnsignedMetadataError) and str(exc).startswith(f"{Root.type} "):
        # ngclient's words for a root short of its own threshold or (a new one) of its predecessor's
        return UpdateRefused(
            "untrusted_root",
            "根元数据的签名无效：上一版根或它自己的持钥人签名不够门限（密钥轮换没有签完，或不是本市的发布库），"
            "已拒绝，本机继续信任原有的根；请告知市级",
        )
    if isinstance(exc, exceptions.UnsignedMetadataError | exceptions.LengthOrHashMismatchError):
        return UpdateRefused(
            "tampered_metadata", "更新元数据的签名无效（被篡改，或不是本市的发布库），已拒绝，本机保持现有版本"
        )
    if isinstance(exc, exceptions.ExpiredMetadataError):
        if "timestamp" in str(exc):
            return UpdateRefused(
                "frozen",
                "上级提供的更新信息停在旧的时间且已过期（时间戳过期）：上级或U盘中的镜像可能被冻结或太旧，"
                "已拒绝；请让上级同步后重试，或重新拷贝镜像",
            )
        return UpdateRefused("expired", "市级发布的更新元数据已过期，已拒绝；请联系市级重新签署后再发布")
    if isinstance(exc, exceptions.BadVersionNumberError):
        return UpdateRefused(
            "rolled_back", "上级提供的更新信息比本机已验证过的更旧（版本回退），已拒绝，本机保持现有版本"
        )
    if isinstance(exc, exceptions.RepositoryError):
        return UpdateRefused("bad_metadata", f"更新元数据无效，已拒绝：{exc}")
    return UpdateUnavailable(f"暂时取不到更新（下载会在下次从断点续传）：{exc}")


# ---- the state the fleet page and `onetrip update status` show ------------------------------------------


def record(place: Place, **fields) -> dict:
    """Merge `fields` into `releases/state.json` with the time (UTC) and the version running."""
    path = place.folder / "state.json"
    state = read_state(place.data_dir)
    state |= fields | {"running": place.running, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    place.folder.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name("state.json.tmp")
    temporary.write_text(json.dumps(state, ensure_ascii=False, indent=1))
    os.replace(temporary, path)
    return state


STATE_WORDS = {
    "current": "已是最新",
    "downloaded": "已下载",
    "staged": "已装好待切换",
    "switched": "已切换",
    "rolled_back": "切换失败已回退",
    "refused": "拒绝",
    "unreachable": "取不到更新",
}
REASON_WORDS = {
    "tampered_target": "发布包被篡改",
    "tampered_metadata": "元数据被篡改",
    "untrusted_root": "根元数据签名不足",
    "expired": "元数据过期",
    "frozen": "镜像冻结",
    "rolled_back": "版本回退",
    "install_failed": "安装失败",
}


def update_words(data_dir: Path) -> str | None:
    """The update's state in a few words for the parent's fleet page (at most 64 characters): 已装好待切换
    0.2.0, 拒绝：镜像冻结; None before the first check."""
    state = read_state(data_dir)
    words = STATE_WORDS.get(state.get("state"))
    if words is None:
        return None
    if state["state"] == "refused":
        return f"{words}：{REASON_WORDS.get(state.get('reason'), '元数据无效')}"
    offered = (state.get("offered") or {}).get("version")
    return f"{words} {offered}" if offered and state["state"] in ("downloaded", "staged") else words


def read_state(data_dir: Path) -> dict:
    try:
        return json.loads((Path(data_dir) / "releases" / "state.json").read_text())
    except (OSError, ValueError):
        return {}

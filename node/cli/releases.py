"""`onetrip releases …`, the city's key ceremony and publication (no node needed: the offline keys live on
sticks), and `onetrip update …`, a node's side: trust the city's root, check, switch, status, a mirror on a
stick. docs/operations.md (Releases down the tree) walks through both."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

from node import files
from node.config import NodeConfig
from node.releases import client, staging
from node.releases.background import stage_checked, staged_release, switch_staged
from node.releases.errors import ReleaseRefused, UpdateRefused
from node.releases.repository import (
    Repository,
    add_release,
    generate_key,
    init_repository,
    keys_of,
    load_public,
    load_signer,
    publish,
    refresh_timestamp,
    remove_release,
    rotate_root,
    sign_staged,
)
from provisioning.identity import load_identity


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- onetrip releases: the city ---------------------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> None:
    private, public = generate_key(args.out, args.name)
    print(f"私钥 {private}（只留在这个U盘上，权限 0600）；公钥 {public}（交给建库的人）")


def _init(args: argparse.Namespace) -> None:
    init_repository(
        Repository(args.repo),
        root_keys=keys_of(args.root_key),
        root_threshold=args.root_threshold,
        targets_keys=keys_of(args.targets_key),
        targets_threshold=args.targets_threshold,
        online_key=load_public(args.online_key),
        now=_now(),
    )
    print("根元数据和空的目标元数据已生成，待签：每位持钥人运行 onetrip releases sign")


def _add(args: argparse.Namespace) -> None:
    target = add_release(Repository(args.repo), args.archive, _now(), counties=args.county, stations=args.station)
    print(f"已加入 {target.path}（{target.length} 字节），新的目标元数据待签")


def _remove(args: argparse.Namespace) -> None:
    remove_release(Repository(args.repo), args.name, _now())
    print(f"已撤下 {args.name}，新的目标元数据待签")


def _rotate(args: argparse.Namespace) -> None:
    repo = Repository(args.repo)
    staged = rotate_root(
        repo,
        _now(),
        add=_changes(args.add_key, lambda path: load_public(Path(path))),
        revoke=_changes(args.revoke_key, _keyid),
        thresholds=_changes(args.threshold, _threshold),
    )
    print(f"已生成 {'、'.join(staged)}，待签：根元数据要旧根和新根的持钥人各签够门限（新旧都有的密钥签一次即可）")
    if len(staged) > 1:
        print("目标密钥变了，已发布的目标元数据在新根下签名不足：新的目标持钥人须重签 targets")
    _print_pending(repo)


def _changes(options: list[str], value) -> list[tuple[str, object]]:
    """`ROLE=VALUE` options as (role, value(VALUE)); the roles themselves are checked by `rotate_root`."""
    changes = []
    for option in options:
        role, equals, text = option.partition("=")
        if not equals or not text:
            raise ReleaseRefused(f"{option} 应写成 角色=值，如 root=root-d.pub.json 或 targets=2")
        changes.append((role, value(text)))
    return changes


def _keyid(text: str) -> str:
    """A key to revoke: its public key file (`*.pub.json`), or the keyid written down at the ceremony."""
    return load_public(Path(text)).keyid if text.endswith(".json") else text


def _threshold(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ReleaseRefused(f"门限应是整数，不是 {text}") from None


def _sign(args: argparse.Namespace) -> None:
    done = sign_staged(Repository(args.repo), args.role, load_signer(args.key))
    print(f"{done.role} v{done.version}：已有 {done.signatures()}")


def _status(args: argparse.Namespace) -> None:
    _print_pending(Repository(args.repo))


def _print_pending(repo: Repository) -> None:
    pending = repo.pending()
    for item in pending:
        print(f"待签：{item.role} v{item.version}，{item.signatures()}")
    if not pending:
        print("没有待签的元数据")


def _publish(args: argparse.Namespace) -> None:
    moved = publish(Repository(args.repo), load_signer(args.online_key), _now())
    print(f"已发布：{'、'.join(moved) or '（元数据未变）'}，快照和时间戳已重签")


def _timestamp(args: argparse.Namespace) -> None:
    refresh_timestamp(Repository(args.repo), load_signer(args.online_key), _now(), force=True)
    print("时间戳已重签")


RELEASES = {
    "keygen": _keygen,
    "init": _init,
    "add": _add,
    "remove": _remove,
    "rotate": _rotate,
    "sign": _sign,
    "status": _status,
    "publish": _publish,
    "timestamp": _timestamp,
}


def add_releases_parser(commands) -> None:
    parser = commands.add_parser("releases", help="市级：发布库的密钥仪式、加入发布包、签名、发布")
    actions = parser.add_subparsers(dest="action", required=True)
    keygen = actions.add_parser("keygen", help="为一位持钥人生成 ed25519 密钥对（在离线电脑上，写到他的U盘）")
    keygen.add_argument("--out", type=Path, required=True)
    keygen.add_argument("--name", required=True, help="密钥名，如 root-张三")
    for name, help in (
        ("init", "建库：根和目标元数据（离线密钥、门限）"),
        ("add", "加入一个 make dist 生成的发布包"),
        ("remove", "撤下一个发布包"),
        ("rotate", "轮换密钥：生成下一版根元数据（增删密钥、改门限、续一年有效期），待新旧根的持钥人签名"),
        ("sign", "持钥人签署待签的根或目标元数据"),
        ("status", "看哪些元数据待签、已有几个签名"),
        ("publish", "发布已签够的元数据，用在线密钥重签快照和时间戳"),
        ("timestamp", "立即重签时间戳（市级枢纽每天自动做）"),
    ):
        action = actions.add_parser(name, help=help)
        action.add_argument("--repo", type=Path, required=True, help="发布库目录（市级枢纽上为 数据目录/releases）")
    init = actions.choices["init"]
    init.add_argument("--root-key", type=Path, action="append", required=True, help="根密钥的公钥文件（可多次）")
    init.add_argument("--root-threshold", type=int, required=True)
    init.add_argument("--targets-key", type=Path, action="append", required=True, help="目标密钥的公钥文件（可多次）")
    init.add_argument("--targets-threshold", type=int, required=True)
    init.add_argument("--online-key", type=Path, required=True, help="在线密钥（快照、时间戳）的公钥文件")
    add = actions.choices["add"]
    add.add_argument("--archive", type=Path, required=True)
    add.add_argument("--county", action="append", default=[], help="只发给这些县（6 位区划代码，可多次）")
    add.add_argument("--station", action="append", default=[], help="先行批次：只发给这些站点（站点编码，可多次）")
    actions.choices["remove"].add_argument("--name", required=True, help="发布包文件名")
    rotate = actions.choices["rotate"]
    for option, metavar, help in (
        ("--add-key", "角色=公钥文件", "给角色加一把密钥（keygen 写出的 .pub.json；snapshot、timestamp 指在线密钥）"),
        ("--revoke-key", "角色=公钥文件或密钥ID", "撤销角色的一把密钥"),
        ("--threshold", "角色=门限", "root 或 targets 的新门限"),
    ):
        rotate.add_argument(option, action="append", default=[], metavar=metavar, help=f"{help}（可多次）")
    sign = actions.choices["sign"]
    sign.add_argument("--role", choices=("root", "targets"), required=True)
    sign.add_argument("--key", type=Path, required=True, help="持钥人的私钥文件")
    for name in ("publish", "timestamp"):
        actions.choices[name].add_argument("--online-key", type=Path, required=True, help="在线密钥的私钥文件")


# ---- onetrip update: a node -------------------------------------------------------------------------------


def _place(config: NodeConfig) -> client.Place:
    identity, _ = load_identity(config.data_dir)
    return client.Place(config.data_dir, identity.station, identity.region, identity.level)


def _trust(config: NodeConfig, args: argparse.Namespace) -> None:
    version = client.trust_root(_place(config), files.read_bytes(args.root))
    print(f"已信任市级发布库的根元数据（第 {version} 版）")


def _check(config: NodeConfig, args: argparse.Namespace) -> None:
    identity, _ = load_identity(config.data_dir)
    source = args.source or identity.parent_url
    if source is None:
        raise UpdateRefused("no_source", "本机没有上级网址：用 --from 指定U盘上的镜像目录")
    place = _place(config)
    checked = client.check(place, source)
    if checked.archive is None:
        print(f"已是最新（{place.running}）；校验通过，镜像了 {checked.mirrored} 个发布包")
        return
    print(f"已下载并校验 {checked.offer.version}（收到 {checked.received_bytes} 字节）")
    if config.update_prefix:
        staged = stage_checked(place, checked, Path(config.update_prefix))
        print(f"{staged.version} 已装入新环境，等待切换：onetrip update switch --data {config.data_dir}")


def _switch(config: NodeConfig, args: argparse.Namespace) -> int:
    place = _place(config)
    staged = staged_release(place)
    if staged is None:
        if args.if_staged:
            return 0  # the nightly timer's run with nothing to do
        print("没有已装好待切换的新版本")
        return 1

    def service(action: str):
        return lambda: subprocess.run(["systemctl", action, args.service], check=True)

    outcome = switch_staged(
        place,
        staged,
        Path(config.update_prefix),
        stop=service("stop"),
        start=service("start"),
        healthy=staging.answers_as(f"http://{config.host}:{config.port}"),
        database=config.database,
    )
    print(outcome.message)
    return 0 if outcome.switched else 1


def _show(config: NodeConfig, args: argparse.Namespace) -> None:
    print(json.dumps(client.read_state(config.data_dir), ensure_ascii=False, indent=1))


def _mirror_to(config: NodeConfig, args: argparse.Namespace) -> None:
    """A hub's verified mirror onto a stick, for a station with no link: the folder verifies as the HTTP
    mirror does, so nothing on the stick needs trusting."""
    folder = Path(config.data_dir) / "releases"
    for kind in ("metadata", "targets"):
        shutil.copytree(folder / kind, args.to / kind, dirs_exist_ok=True)
    print(f"镜像已写到 {args.to}：在站点运行 onetrip update check --from {args.to}")


UPDATE = {"trust": _trust, "check": _check, "switch": _switch, "status": _show, "mirror-to": _mirror_to}


def add_update_parser(commands) -> None:
    parser = commands.add_parser("update", help="本机：市级发布的新版本（信任根、检查下载、切换、状态、拷贝镜像）")
    actions = parser.add_subparsers(dest="action", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help)
        sub.add_argument("--data", type=Path, required=True, help="数据目录")
        sub.add_argument("--database", help="数据库地址（默认 SQLite：数据目录/onetrip.db）")
        return sub

    trust = action("trust", "安装市级发布库的根元数据（密钥仪式后由县级运维带来）")
    trust.add_argument("--root", type=Path, required=True)
    check = action("check", "从上级（或U盘镜像）取更新、校验、下载，需要时装好")
    check.add_argument("--from", dest="source", type=Path, help="U盘上的镜像目录；默认从上级网址")
    switch = action("switch", "切换到已装好的新版本：停服务、迁移、启动、健康检查，不行就回退")
    switch.add_argument("--service", default="onetrip", help="systemd 服务名")
    switch.add_argument("--if-staged", action="store_true", help="没有待切换的版本时什么也不做（给夜间定时器用）")
    action("status", "更新状态（JSON）")
    action("mirror-to", "枢纽：把本机镜像拷到U盘，给没有网络的站点").add_argument("--to", type=Path, required=True)


def run_update(config: NodeConfig, args: argparse.Namespace) -> int:
    return UPDATE[args.action](config, args) or 0


def run_releases(args: argparse.Namespace) -> int:
    RELEASES[args.action](args)
    return 0

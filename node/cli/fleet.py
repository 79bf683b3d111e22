"""The fleet commands of `onetrip`: registering, enrolling, bundles, revocation, rotation."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

import segno

from node import files
from node.catalogue.published import (
    CATALOGUE,
    HOLIDAYS,
    KIND_NAMES,
    PublicationRefused,
    publish,
    publish_cross_region,
    read_document,
)
from node.context import Context
from node.fleet import admin as fleet
from node.fleet import joining
from provisioning.errors import EnrolmentRefused
from provisioning.operators import ROLES, AccountRefused, create_operator
from provisioning.region import CHINA, LEVELS


def _hub_url(node: Context, given: str | None) -> str:
    return given or f"http://{node.config.host}:{node.config.port}"


def _register(node: Context, args: argparse.Namespace) -> None:
    if args.qr_svg:
        files.check_writable(args.qr_svg)
    done = fleet.register(
        node,
        name=args.name,
        level=args.level,
        region=args.region,
        parent=args.parent,
        parent_url=args.parent_url,
        hub_url=_hub_url(node, args.hub_url),
    )
    print(f"已登记 {args.name}：站点编码 {done.station}")
    print(f"注册码 {done.code}")
    expires = done.expires_at.astimezone(CHINA)  # an aware UTC time: the hub's clock
    print(f"有效期至 {expires:%Y-%m-%d %H:%M}（北京时间），只能使用一次")
    print(f"二维码内容：{done.qr_text}")
    print(f"站点首个管理员：{done.admin_username}  初始密码：{done.admin_password}（首次登录须修改）")
    if args.qr_svg:
        with files.written_atomically(args.qr_svg) as out:
            segno.make(done.qr_text, error="m").save(out, kind="svg", scale=6)
        print(f"二维码已写入 {args.qr_svg}")


def _bundle(node: Context, args: argparse.Namespace) -> None:
    with files.written_atomically(args.out) as out:
        out.write(fleet.bundle_for(node, args.code, _hub_url(node, args.hub_url)))
    print(f"注册包已写入 {args.out}：请连同注册码交给站点")


def _accept(node: Context, args: argparse.Namespace) -> None:
    request = files.read_bytes(args.request)
    with files.written_atomically(args.out) as out:
        out.write(fleet.grant(node, request))
    print(f"证书回执已写入 {args.out}：请带回站点，运行 onetrip install-grant")


def _install_grant(node: Context, args: argparse.Namespace) -> None:
    identity = joining.install_grant(node, files.read_bytes(args.grant))
    print(f"证书已安装：本机现为站点 {identity.station} 的安装 {identity.installation}")


def _revoke(node: Context, args: argparse.Namespace) -> None:
    held = fleet.revoke(node, args.installation, args.reason)
    print(f"已吊销 {args.installation}；仍担保的事件：{held or '无'}")


def _add_operator(node: Context, args: argparse.Namespace) -> None:
    password = files.read_text(args.password_file) if args.password_file else _ask_password()
    create_operator(
        node.events,
        node.identity.station,
        username=args.username,
        name=args.name,
        role=args.role,
        password=password,
        staff_no=args.staff_no or "",
        actor="command line",
    )
    print(f"已新建账号 {args.username}（{ROLES[args.role]}）")


def _renew(node: Context, args: argparse.Namespace) -> None:
    print(f"证书已续期，新的有效期至 {joining.renew(node, args.hub):%Y-%m-%d}")


def _replace(node: Context, args: argparse.Namespace) -> None:
    issued = fleet.replace(node, args.station, args.reason, _hub_url(node, args.hub_url))
    print(f"旧安装已吊销。新电脑的注册码 {issued.code}（72 小时内有效）；新安装注册后将与旧安装关联")
    print(f"二维码内容：{issued.qr_text}")
    if issued.seals:
        print(f"旧电脑的印章已吊销并重新下单：{'、'.join(issued.seals)}；新电脑注册后用 onetrip seal-request 申领")


def _release(node: Context, args: argparse.Namespace) -> None:
    applied = fleet.release(node, args.installation, args.stream, args.upto, args.reason)
    print(f"已担保 {args.installation} 在 {args.stream} 流至第 {args.upto} 号；本枢纽应用了 {applied} 个隔离的事件")


def _trust_refresh(node: Context, args: argparse.Namespace) -> None:
    joining.refresh_trust(node, args.hub)
    print("信任数据已更新")


def _rotate_ca(node: Context, args: argparse.Namespace) -> None:
    cert = fleet.rotate_authority(node)
    print(f"证书机构密钥已轮换，新证书有效期至 {cert.not_valid_after_utc:%Y-%m-%d}")


def _publish(node: Context, args: argparse.Namespace) -> None:
    if args.cross_region:
        with node.events.transaction():
            published = publish_cross_region(node.events, node.identity)
        if published is None:
            raise PublicationRefused("各县标明的跨区域通办事项与已发布的通办清单相同（或还没有），无需重新发布")
        version, count = published
        print(f"已发布跨区域通办事项清单第 {version} 版（{count} 个事项）：各站点同步后可以受理通办")
        return
    kind, path = (CATALOGUE, args.catalogue) if args.catalogue else (HOLIDAYS, args.holidays)
    if path is None:
        raise PublicationRefused("请用 --catalogue 文件 或 --holidays 文件 指明要发布的内容")
    bundles = files.read_bytes(args.bundles) if args.bundles else b""
    document = read_document(kind, path.name, files.read_bytes(path), bundles)
    with node.events.transaction():
        version = publish(node.events, node.identity, kind, document)
    print(f"已发布{KIND_NAMES[kind]}第 {version} 版：下级站点同步后启用")


def _ask_password() -> str:
    first = getpass.getpass("密码（至少 10 位）：")
    if first != getpass.getpass("再输一次："):
        raise AccountRefused("两次输入的密码不一致")
    return first


def _enroll(node: Context, args: argparse.Namespace) -> None:
    if args.bundle:
        if not (args.code and args.out):
            raise EnrolmentRefused("离线注册需要 --bundle、--code 和 --out")
        bundle = files.read_bytes(args.bundle)
        with files.written_atomically(args.out) as out:
            out.write(joining.enrol_from_bundle(node, bundle, args.code))
        print(f"已采用注册包中的信任数据；证书请求已写入 {args.out}，请带回枢纽运行 onetrip accept")
        return
    hub, code, fingerprint = joining.parse_qr(args.qr) if args.qr else (args.hub, args.code, args.fingerprint)
    if not (hub and code):
        raise EnrolmentRefused("联网注册需要 --hub 和 --code（或 --qr）")
    identity = joining.enrol_online(node, hub, code, fingerprint)
    print(f"注册完成：本机为 {identity.name} 的安装 {identity.installation}，站点编码 {identity.station}")


def add_parsers(command) -> None:
    """The fleet commands' arguments; `command(name, help)` makes a sub-parser with --data and --database."""
    register = command("register", "枢纽：登记一个下级站点，生成一次性注册码和二维码")
    register.add_argument("--name", required=True)
    register.add_argument("--level", required=True, choices=LEVELS)
    register.add_argument("--region", required=True)
    register.add_argument("--parent", help="上级站点编码（村的上级乡镇）；默认为本枢纽")
    register.add_argument("--parent-url", help="上级站点的网址，注册后写入站点配置")
    register.add_argument("--hub-url", help="本枢纽对下的网址（写进二维码）")
    register.add_argument("--qr-svg", type=Path, help="把二维码写成 SVG 文件")
    enroll = command("enroll", "本机注册到枢纽：联网（--hub --code）或用U盘上的注册包（--bundle --code --out）")
    enroll.add_argument("--hub")
    enroll.add_argument("--code")
    enroll.add_argument("--fingerprint", help="二维码上的枢纽证书指纹")
    enroll.add_argument("--qr", help="二维码的文字内容（onetrip:enrol?...）")
    enroll.add_argument("--bundle", type=Path)
    enroll.add_argument("--out", type=Path, help="离线注册：写给枢纽的证书请求文件")
    bundle = command("bundle", "枢纽：为某注册码写出离线注册包")
    bundle.add_argument("--code", required=True)
    bundle.add_argument("--out", type=Path, required=True)
    bundle.add_argument("--hub-url")
    accept = command("accept", "枢纽：受理U盘带回的证书请求，写出证书回执文件")
    accept.add_argument("--request", type=Path, required=True)
    accept.add_argument("--out", type=Path, required=True)
    install = command("install-grant", "本机：安装枢纽签发的证书回执文件")
    install.add_argument("--grant", type=Path, required=True)
    revoke = command("revoke", "枢纽：吊销一个安装（如被盗的电脑）")
    revoke.add_argument("--installation", required=True)
    revoke.add_argument("--reason", required=True)
    release = command("release", "枢纽：放行被吊销电脑在被盗前离线办理的事件（担保到某一流的第 N 号）")
    release.add_argument("--installation", required=True)
    release.add_argument("--stream", required=True, help="事件流，即站点编码")
    release.add_argument("--upto", type=int, required=True, help="担保到的序号（含）")
    release.add_argument("--reason", required=True)
    command("rotate-ca", "枢纽：轮换证书机构密钥（新密钥由旧密钥签署）")
    renew = command("renew", "本机：向签发证书的枢纽续期证书（到期前 30 天起自动尝试）")
    renew.add_argument("--hub", help="签发本机证书的枢纽网址；默认为注册时记下的")
    replace = command("replace", "枢纽：站点电脑更换或重装：吊销旧安装，为新安装生成注册码")
    replace.add_argument("--station", required=True)
    replace.add_argument("--reason", required=True)
    replace.add_argument("--hub-url", help="本枢纽对下的网址（写进二维码）")
    operator = command("add-operator", "新建本站账号（首个管理员由此建立）")
    operator.add_argument("--username", required=True)
    operator.add_argument("--name", required=True)
    operator.add_argument("--role", required=True, choices=("agent", "clerk", "admin"))
    operator.add_argument("--staff-no", help="工号（印在受理回执和办结通知书上）")
    operator.add_argument("--password-file", type=Path, help="从文件读密码（脚本用）；默认交互输入")
    refresh = command("trust-refresh", "从上级取回证书、吊销和根证书的更新")
    refresh.add_argument("--hub", help="上级网址；默认为注册时记下的上级")
    publish = command("publish", "枢纽：发布事项清单（JSON 或 CSV）或节假日表（JSON），经同步下发到辖区站点")
    publish.add_argument("--catalogue", type=Path, help="事项清单文件：.json，或事项表 .csv")
    publish.add_argument("--bundles", type=Path, help="与 CSV 事项表配套的一件事表 .csv")
    publish.add_argument("--holidays", type=Path, help="节假日表 .json（格式见 node/rules/holidays.py）")
    publish.add_argument("--cross-region", action="store_true", help="市级：汇总各县标明的跨区域通办事项，发布通办清单")


COMMANDS = {
    "register": _register,
    "enroll": _enroll,
    "bundle": _bundle,
    "accept": _accept,
    "install-grant": _install_grant,
    "revoke": _revoke,
    "replace": _replace,
    "release": _release,
    "renew": _renew,
    "rotate-ca": _rotate_ca,
    "trust-refresh": _trust_refresh,
    "add-operator": _add_operator,
    "publish": _publish,
}

"""The fleet commands of `onetrip`: registering, enrolling, bundles, revocation, rotation."""

from __future__ import annotations

import argparse
import getpass
from urllib.parse import parse_qs, urlparse

import segno

from node import files
from node.catalogue.published import CATALOGUE, HOLIDAYS, KIND_NAMES, PublicationRefused, publish, read_document
from node.context import Context
from node.fleet import admin as fleet
from node.fleet import joining
from provisioning.errors import EnrolmentRefused
from provisioning.operators import ROLES, AccountRefused, create_operator


def _hub_url(node: Context, given: str | None) -> str:
    return given or f"http://{node.config.host}:{node.config.port}"


def parse_qr(text: str) -> tuple[str, str, str]:
    """`onetrip:enrol?hub=URL&code=CODE&fp=FINGERPRINT` → (hub, code, fingerprint)."""
    parsed = urlparse(text.strip())
    fields = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    if parsed.scheme != "onetrip" or not {"hub", "code", "fp"} <= fields.keys():
        raise EnrolmentRefused("二维码内容不是 OneTrip 注册码")
    return fields["hub"], fields["code"], fields["fp"]


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
    print(f"有效期至 {done.expires_at:%Y-%m-%d %H:%M} UTC，只能使用一次")
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
    hub, code, fingerprint = parse_qr(args.qr) if args.qr else (args.hub, args.code, args.fingerprint)
    if not (hub and code):
        raise EnrolmentRefused("联网注册需要 --hub 和 --code（或 --qr）")
    identity = joining.enrol_online(node, hub, code, fingerprint)
    print(f"注册完成：本机为 {identity.name} 的安装 {identity.installation}，站点编码 {identity.station}")


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

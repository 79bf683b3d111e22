"""The seal commands of `onetrip`: ordering, requesting, granting, installing and revoking seals, and verifying."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from node import files
from node.context import Context
from node.seals import lifecycle as seals
from node.seals.records import KINDS, SealRefused
from node.seals.verification import Verdict, verify


def _pin(path: Path | None) -> str:
    return files.read_text(path) if path else getpass.getpass("印章口令：")


def _order(node: Context, args: argparse.Namespace) -> None:
    seal_id = seals.order_seal(
        node,
        station=args.station,
        kind=args.kind,
        name=args.name or KINDS.get(args.kind, ""),
        owner=args.owner,
        credit_code=args.credit_code,
        valid_days=args.days,
        actor="command line",
    )
    print(f"已订制印章 {seal_id}：请在持章站点的电脑上运行 onetrip seal-request --seal {seal_id}")


def _request(node: Context, args: argparse.Namespace) -> None:
    if args.out:
        pin = _pin(args.pin_file)
        with files.written_atomically(args.out) as out:
            out.write(seals.request_seal(node, args.seal, pin))
        print(f"印章密钥已在本机生成；申请已写入 {args.out}，请带到县级枢纽运行 onetrip seal-accept")
        return
    seal = seals.request_online(node, args.seal, _pin(args.pin_file), args.hub)
    print(f"印章 {seal.seal_id}（{seal.owner} {seal.name}）已安装，有效期至 {seal.valid_to:%Y-%m-%d}")


def _accept(node: Context, args: argparse.Namespace) -> None:
    request = files.read_bytes(args.request)
    with files.written_atomically(args.out) as out:
        out.write(seals.grant_seal(node, request))
    print(f"印章证书回执已写入 {args.out}：请带回持章站点运行 onetrip seal-install")


def _install(node: Context, args: argparse.Namespace) -> None:
    seal = seals.install_seal(node, files.read_bytes(args.grant))
    print(f"印章 {seal.seal_id}（{seal.owner} {seal.name}）已安装，有效期至 {seal.valid_to:%Y-%m-%d}")


def _revoke(node: Context, args: argparse.Namespace) -> None:
    seals.revoke_seal(node, args.seal, args.reason, actor="command line")
    print(f"印章 {args.seal} 已吊销：吊销随信任数据同步到各站点，此前盖章的文件仍可验证")


def _verify(node: Context, args: argparse.Namespace) -> int:
    if args.file is None and not args.qr:
        raise SealRefused("请给出要验证的 PDF 文件，或用 --qr 给出二维码的文字内容")
    verdict = verify(node, pdf=files.read_bytes(args.file) if args.file else None, text=args.qr)
    print("\n".join(describe(verdict)))
    return 0 if verdict.valid else 1


def describe(verdict: Verdict) -> list[str]:
    lines = [verdict.headline]
    for label, value in (
        ("印章", f"{verdict.seal_id} {verdict.seal}" if verdict.seal else verdict.seal_id),
        ("用章单位", f"{verdict.owner}（统一社会信用代码 {verdict.credit_code}）" if verdict.owner else None),
        ("文件", f"{verdict.document} {verdict.number}" if verdict.number else None),
        ("盖章时间", f"{verdict.sealed_at}（盖章电脑的时钟）" if verdict.sealed_at else None),
    ):
        if value:
            lines.append(f"  {label}：{value}")
    lines += [f"  问题：{problem}" for problem in verdict.problems[1:]]
    lines += [f"  说明：{note}" for note in verdict.notes]
    return lines


COMMANDS = {
    "seal-order": _order,
    "seal-request": _request,
    "seal-accept": _accept,
    "seal-install": _install,
    "seal-revoke": _revoke,
    "verify": _verify,
}


def add_parsers(command) -> None:
    """The seal commands' arguments; `command(name, help)` makes a sub-parser with --data and --database."""
    order = command("seal-order", "县级：为辖区内站点订制电子印章（密钥由持章站点自己生成）")
    order.add_argument("--station", required=True, help="持章站点编码")
    order.add_argument(
        "--kind",
        required=True,
        choices=tuple(KINDS),
        help="official 公章 / business 业务专用章 / acceptance 受理专用章",
    )
    order.add_argument("--name", help="印章中间横排的文字；默认为类型名称")
    order.add_argument("--owner", required=True, help="用章单位名称（沿印章上弧排列）")
    order.add_argument("--credit-code", required=True, help="用章单位的统一社会信用代码")
    order.add_argument("--days", type=int, default=3 * 365, help="有效天数（默认三年）")
    request = command("seal-request", "持章站点：生成印章密钥（口令加密），联网（--hub）或用文件（--out）向县级申请")
    request.add_argument("--seal", required=True, help="县级订制的印章编号")
    request.add_argument("--pin-file", type=Path, help="从文件读印章口令（脚本用）；默认交互输入")
    request.add_argument("--hub", help="县级枢纽网址；默认为注册时记下的")
    request.add_argument("--out", type=Path, help="离线申请：写给县级的申请文件")
    accept = command("seal-accept", "县级：受理U盘带回的印章申请，写出印章证书回执")
    accept.add_argument("--request", type=Path, required=True)
    accept.add_argument("--out", type=Path, required=True)
    install = command("seal-install", "持章站点：安装县级签发的印章证书回执")
    install.add_argument("--grant", type=Path, required=True)
    revoke = command("seal-revoke", "县级：吊销一枚印章（电脑遗失、站点撤并）")
    revoke.add_argument("--seal", required=True)
    revoke.add_argument("--reason", required=True)
    check = command("verify", "离线验证盖章文件：PDF 文件，或 --qr 二维码文字")
    check.add_argument("file", type=Path, nargs="?", help="盖章的 PDF 文件")
    check.add_argument("--qr", help="二维码的文字内容（onetrip:seal?...）")

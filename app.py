"""The `onetrip` command: configuration, then one of init, migrate, serve, rebuild, check, status, demo, and the
rooms' commands (fleet, seals, releases and update)."""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from node import files
from node.cli.fleet import COMMANDS as FLEET_COMMANDS
from node.cli.fleet import add_parsers as add_fleet_parsers
from node.cli.releases import add_releases_parser, add_update_parser, run_releases, run_update
from node.cli.seals import COMMANDS as SEAL_COMMANDS
from node.cli.seals import add_parsers as add_seal_parsers
from node.config import NodeConfig
from node.link import downstream, status, upstream, usb
from node.runtime import Node, initialise
from provisioning.region import LEVELS
from sync import sneakernet
from sync.keys import ALGORITHMS, DEFAULT_ALGORITHM


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onetrip", description="OneTrip 一趟办：离线优先的基层政务服务节点")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        if name != "demo":
            sub.add_argument("--data", type=Path, required=True, help="数据目录")
            sub.add_argument("--database", help="数据库地址（默认 SQLite：数据目录/onetrip.db；枢纽用 postgresql://…）")
        return sub

    init = command("init", "创建数据目录、本机密钥和站点的临时身份")
    init.add_argument("--level", required=True, choices=LEVELS)
    init.add_argument("--name", required=True, help="站点名称，如 青山村便民服务代办点")
    init.add_argument("--region", required=True, help="行政区划代码：市/县 6 位，乡镇 9 位，村 12 位")
    init.add_argument("--algorithm", default=DEFAULT_ALGORITHM, choices=ALGORITHMS)
    init.add_argument("--port", type=int)
    command("migrate", "把数据库结构升级到本版本")
    serve = command("serve", "启动网页与同步服务")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    command("rebuild", "由事件日志重建所有投影表")
    command("check", "重新校验存储的哈希链与签名流头")
    command("status", "显示节点状态（JSON）")
    sync = command("sync", "立即与上级同步一次（推送本站和下级的新事件，拉取发给本站的事件）")
    sync.add_argument("--county", action="store_true", help="不经上级乡镇，直接与县级枢纽同步（上级长时间不通时）")
    export = command("export", "断网时：把上级缺少的事件和扫描件写成同步包（加密，只有上级能打开），用U盘带去")
    export.add_argument("--to", type=Path, required=True, help="同步包文件")
    import_ = command("import", "导入同步包：上级导入下级的包并写出回执包；下级导入上级的回执包")
    import_.add_argument("file", type=Path)
    import_.add_argument("--out", type=Path, help="回执包写到哪里（默认：同步包旁边，加 .return）")
    add_fleet_parsers(command)
    add_seal_parsers(command)
    add_update_parser(commands)
    add_releases_parser(commands)
    demo = command("demo", "初始化（如需要）并启动演示节点")
    demo.add_argument("--dir", type=Path, default=Path(".demo"))
    demo.add_argument("--base-port", type=int, default=8701, help="市、县、街道、村依次使用此端口起的四个端口")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except Exception as exc:  # our errors carry a stable code and a message meant for people
        if not isinstance(getattr(exc, "code", None), str):
            raise
        print(f"onetrip: {exc}", file=sys.stderr)
        return 2


def _config(args: argparse.Namespace) -> NodeConfig:
    overrides = {key: getattr(args, key, None) for key in ("database", "host", "port")}
    if args.command == "init":
        return NodeConfig.from_mapping({"data_dir": args.data, **{k: v for k, v in overrides.items() if v}})
    return NodeConfig.load(args.data, overrides)


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from node.cli import demo

        files.check_folder(args.dir)
        return demo.run(args.dir, args.base_port)
    if args.command == "releases":  # the city's offline keys and repository folder: no node involved
        return run_releases(args)
    config = _config(args)
    if args.command == "update":  # a node's files and identity only: a switch runs with the service stopped
        return run_update(config, args)
    if args.command == "init":
        files.check_folder(config.data_dir)
        identity = initialise(config, level=args.level, name=args.name, region=args.region, algorithm=args.algorithm)
        print(
            f"已创建 {identity.name}（{identity.level}），站点编码 {identity.station}，安装编号 {identity.installation}"
        )
        print(f"数据目录：{config.data_dir}    启动：onetrip serve --data {config.data_dir}")
        return 0
    if args.command == "migrate":
        from provisioning.identity import load_identity
        from storage.database import bind, open_database
        from storage.migrations import migrate

        load_identity(config.data_dir)  # a folder that is not a node's is named, not opened as a database
        bind(open_database(config.database_url))
        applied = migrate()
        print(f"已应用迁移 {applied}" if applied else "数据库结构已是最新")
        return 0
    if args.command == "serve":
        return _serve(config, banner="节点")
    handler = {
        "rebuild": _rebuild,
        "check": _check,
        "status": _status,
        "sync": _sync,
        "export": _export,
        "import": _import,
        **FLEET_COMMANDS,
        **SEAL_COMMANDS,
    }[args.command]
    return handler(Node.from_config(config), args) or 0


def _rebuild(node: Node, args: argparse.Namespace) -> None:
    print(json.dumps(node.events.rebuild(), ensure_ascii=False))


def _check(node: Node, args: argparse.Namespace) -> int:
    problems = node.check()
    for problem in problems:
        print(problem)
    print("校验通过：所有哈希链与签名流头完好" if not problems else f"发现 {len(problems)} 个问题")
    return 1 if problems else 0


def _status(node: Node, args: argparse.Namespace) -> None:
    print(json.dumps(asdict(node.status()), ensure_ascii=False, indent=2))


def _sync(node: Node, args: argparse.Namespace) -> None:
    hub = upstream.county_of(node) if args.county else None
    if args.county and hub is None:
        raise upstream.NoParent("本机的上级就是县级枢纽（或还不知道县级的网址）：直接运行 onetrip sync")
    with _outcome_only():
        report = upstream.sync_once(node, hub=hub)
    link = status.link_status(node)
    clock = f"；{link.clock_warning}" if link and link.clock_warning and hub is None else ""
    print(f"同步完成：推送 {report.pushed} 个事件，拉取 {report.pulled} 个（应用 {report.applied} 个）{clock}")


@contextmanager
def _outcome_only() -> Iterator[None]:
    """A command prints its outcome once, in words: the log lines written for a served node's log (a
    failure, a clock skew, in English) are not repeated on the terminal, which Python does when no
    handler is configured."""
    root, quiet = logging.getLogger(), logging.NullHandler()
    root.addHandler(quiet)
    try:
        yield
    finally:
        root.removeHandler(quiet)


def _export(node: Node, args: argparse.Namespace) -> None:
    with files.written_atomically(args.to) as out:
        usb.export_bundle(node, out)
    print(f"同步包已写入 {args.to}：带到上级导入（onetrip import），再把回执包带回本机导入")


def _import(node: Node, args: argparse.Namespace) -> None:
    with files.open_for_reading(args.file) as source:
        bundle = sneakernet.read(source)
        if usb.from_parent(node, bundle):
            report = usb.import_return(node, bundle)
            print(f"回执包已导入：收到 {report.pulled} 个事件（应用 {report.applied} 个），本轮同步完成")
            return
        out = args.out or args.file.with_name(args.file.name + ".return")
        with files.written_atomically(out) as sink:
            downstream.import_bundle(node, bundle, sink)
    print(f"同步包已导入；回执包已写入 {out}：带回下级导入")


# Idle or half-sent connections must not stop a hub (waitress keeps only 100 by default, and drops an idle
# one after two minutes): many are kept, polled (select() stops at 1,024 descriptors), and dropped after
# half a minute without a byte. A reverse proxy in front is still the real guard (docs/operations.md).
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT_S = 30
CLEANUP_INTERVAL_S = 10


def serve_options(config: NodeConfig) -> dict:
    """Waitress's connection settings; X-Forwarded-Proto and X-Forwarded-For believed only from
    `trusted_proxy`, which says whether a request came over TLS (and so whether the session cookie is
    `Secure`) and from which address."""
    options = {
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": CLEANUP_INTERVAL_S,
        "asyncore_use_poll": True,
    }
    if config.trusted_proxy:
        # X-Forwarded-For: the query page counts lookups per resident (node/cases/tracking.py), not per proxy
        options |= {
            "trusted_proxy": config.trusted_proxy,
            "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
        }
    return options


def _allow_open_files(needed: int) -> None:
    """Raise this process's soft limit of open files (often 1,024) to what the connections need, where the
    system allows it; on Windows there is no such limit to raise."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard), hard)
        )


def _lean_malloc() -> None:
    """glibc's allocator, set for a long-lived threaded server on a small PC, before any thread starts: two
    arenas rather than eight per core (each thread's freed memory otherwise stays in its own), and big blocks
    (scrypt's 16 MB, a PDF) always mapped and given back rather than kept in the heap once freed once.
    Together they hold a village node under 150 MB after hours of sealing (bench/budget.py); elsewhere no-op."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_mmap_threshold, m_arena_max = -3, -8
    libc.mallopt(m_arena_max, 2)
    libc.mallopt(m_mmap_threshold, 1024 * 1024)


def _serve(config: NodeConfig, *, banner: str) -> int:
    """Serve the node; on a data dir with no installation (or a station not set up yet), the setup pages
    first (`web.serving_app`), and the periodic jobs start once the setup is done."""
    import waitress

    from node.firststart import has_installation
    from node.logs import configure_logging
    from provisioning.identity import load_identity
    from storage.database import release
    from web import serving_app
    from web.admission import StampingDispatcher

    _lean_malloc()
    started: list[Node] = []

    def on_ready(node: Node) -> None:
        configure_logging(node.identity.station, node.identity.installation, config.log_level)  # enrolled now
        node.start()
        node.warm_up()
        started.append(node)

    if has_installation(config.data_dir):
        identity, _ = load_identity(config.data_dir)
        configure_logging(identity.station, identity.installation, config.log_level)
    else:
        configure_logging("-", "-", config.log_level)  # no station yet: the setup page makes it

    app = serving_app(config, on_ready)
    release()  # from here this thread only waits in waitress: its connection goes back to the pool
    _allow_open_files(CONNECTION_LIMIT + 256)  # and the database, blobs, logs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly: sign heads, close the scheduler
    # Waitress's threads, from a dispatcher that notes how long each request waited for one (`web.admission`),
    # handed in through waitress's `_dispatcher` (it then starts none of its own).
    dispatcher = StampingDispatcher()
    dispatcher.set_thread_count(config.threads)
    url = f"http://{config.host}:{config.port}/"
    if started:
        print(f"{banner} {started[0].identity.name} 已启动：{url}   （Ctrl+C 停止）", flush=True)
    else:
        print(f"新安装，尚未设置：请用浏览器打开 {url} 完成设置   （Ctrl+C 停止）", flush=True)
    try:
        # No Server header: it tells nobody anything useful, and an idle sync round has 1 KB to spend.
        waitress.serve(
            app, host=config.host, port=config.port, ident="", _dispatcher=dispatcher, **serve_options(config)
        )
    finally:
        for node in started:
            node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

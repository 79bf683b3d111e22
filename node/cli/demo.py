"""`make demo`: the whole tree — city, county, township, village — provisioned on first run, then
each node served by its own `onetrip serve` process.

Provisioning here carries the USB files by hand between the nodes' data dirs in one
process, as a county admin would between PCs; each step opens the node it acts on.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from node.cases.intake import Applicant, file_application, new_request_token
from node.catalogue.data import read_seed_holidays, sample_catalogue, second_county_catalogue
from node.catalogue.published import CATALOGUE, HOLIDAYS, publish
from node.config import NodeConfig
from node.fleet import admin as fleet
from node.fleet import joining
from node.runtime import Node, initialise
from node.seals import lifecycle as seals
from provisioning.operators import create_operator
from provisioning.recipients import issuer_recipients
from storage.database import close as close_database

READY = "ready"
PASSWORD = "onetrip-demo"  # demo accounts only; shown on screen, never used outside the demo
SEAL_PIN = "246810"  # the demo village seal's PIN, shown with the logins
DEMO_CREDIT_CODE = "91511302MA6200010G"  # valid by GB 32100's check, made up for the demo


DEFAULT_BASE_PORT = 8701
DEMO_SYNC_INTERVAL_S = 10  # a village's application reaches the city within a minute (three hops)


@dataclass(frozen=True)
class DemoNode:
    directory: str
    level: str
    name: str
    region: str
    offset: int  # port = base port + offset
    accounts: tuple[tuple[str, str, str], ...]  # (username, name, role)


TREE = (
    DemoNode("city", "city", "南充市政务服务中心", "511300", 0, (("city.admin", "市管理员", "admin"),)),
    DemoNode("county", "county", "顺庆区政务服务中心", "511302", 1, (("county.admin", "县管理员", "admin"),)),
    # A second county, whose 跨区域通办 items the village may file: its window clerk decides them.
    DemoNode(
        "gaoping",
        "county",
        "高坪区政务服务中心",
        "511303",
        4,
        (("gp.admin", "高坪区管理员", "admin"), ("gp.clerk", "高坪区窗口人员", "clerk")),
    ),
    DemoNode(
        "township",
        "township",
        "搬罾街道便民服务中心",
        "511302001",
        2,
        (("town.admin", "街道管理员", "admin"), ("town.clerk", "窗口人员", "clerk")),
    ),
    DemoNode(
        "village",
        "village",
        "青山村便民服务代办点",
        "511302001001",
        3,
        (("cun.admin", "村管理员", "admin"), ("cun.agent", "李代办", "agent")),
    ),
)


def _open(config: NodeConfig) -> Node:
    close_database()
    return Node.from_config(config)


def enrol_by_bundle(hub: NodeConfig, station: NodeConfig, code: str, hub_url: str) -> None:
    """The USB path in one process: bundle out of the hub, request back, grant out again."""
    bundle = fleet.bundle_for(_open(hub), code, hub_url)
    request = joining.enrol_from_bundle(_open(station), bundle, code)
    grant = fleet.grant(_open(hub), request)
    joining.install_grant(_open(station), grant)
    close_database()


def prepare(base: Path, base_port: int = DEFAULT_BASE_PORT) -> list[NodeConfig]:
    """Provision the tree unless a previous run finished doing so (on the same ports); a half-made
    tree is made again."""
    base = Path(base)
    configs = {n.directory: NodeConfig(base / n.directory, port=base_port + n.offset) for n in TREE}
    ready = f"provisioned on ports from {base_port}\n"
    if not (base / READY).exists() or (base / READY).read_text() != ready:
        shutil.rmtree(base, ignore_errors=True)
        _provision(configs)
        (base / READY).write_text(ready)
    close_database()
    return list(configs.values())


def _url(config: NodeConfig) -> str:
    return f"http://127.0.0.1:{config.port}"


def _provision(configs: dict[str, NodeConfig]) -> None:
    by_dir = {n.directory: n for n in TREE}
    city, county, gaoping, township, village = (by_dir[d] for d in ("city", "county", "gaoping", "township", "village"))
    initialise(configs["city"], level="city", name=city.name, region=city.region, algorithm="ecdsa-p256-sha256")
    _publish(configs["city"], HOLIDAYS, read_seed_holidays())
    for child, hub, parent in (
        (county, city, None),
        (gaoping, city, None),
        (township, county, None),
        (village, county, township),
    ):
        initialise(
            configs[child.directory],
            level=child.level,
            name=child.name,
            region=child.region,
            algorithm="ecdsa-p256-sha256",
        )
        parent_station = _open(configs[parent.directory]).identity.station if parent else None
        hub_url = _url(configs[hub.directory])
        done = fleet.register(
            _open(configs[hub.directory]),
            name=child.name,
            level=child.level,
            region=child.region,
            parent=parent_station,
            parent_url=_url(configs[(parent or hub).directory]),
            hub_url=hub_url,
            actor="demo",
        )
        enrol_by_bundle(configs[hub.directory], configs[child.directory], done.code, hub_url)
        if child is county:  # before the stations below enrol, so that their enrolment brings it
            _publish(configs["county"], CATALOGUE, sample_catalogue())
        if child is gaoping:  # reaches the city at its first sync; the city lists its 通办 items within a minute
            _publish(configs["gaoping"], CATALOGUE, second_county_catalogue())
    for node in TREE:
        opened = _open(configs[node.directory])
        for username, name, role in node.accounts:
            create_operator(
                opened.events,
                opened.identity.station,
                username=username,
                name=name,
                role=role,
                password=PASSWORD,
                actor="demo",
            )
    _demo_seal(configs["county"], configs["village"], village.name)
    _demo_applications(configs["village"])
    close_database()


def _demo_seal(county: NodeConfig, village: NodeConfig, owner: str) -> None:
    """The village's 业务专用章, carried by USB files as in the field: order, request, grant, install."""
    station = _open(village).identity.station
    seal_id = seals.order_seal(
        _open(county),
        station=station,
        kind="business",
        name="业务专用章",
        owner=owner,
        credit_code=DEMO_CREDIT_CODE,
        valid_days=3 * 365,
        actor="demo",
    )
    request = seals.request_seal(_open(village), seal_id, SEAL_PIN)
    grant = seals.grant_seal(_open(county), request)
    seals.install_seal(_open(village), grant)


def _publish(config: NodeConfig, kind: str, document) -> None:
    node = _open(config)
    with node.events.transaction():
        publish(node.events, node.identity, kind, document)
    node.events.sign_heads()
    close_database()


DEMO_RESIDENTS = (
    Applicant("张秀英", "11010519491231002X", "13800138000", "四川省南充市顺庆区搬罾街道青山村3组12号"),
    Applicant("李建国", "511302196503121232", "13908171234", "四川省南充市顺庆区搬罾街道青山村5组3号"),
)


def _demo_applications(village: NodeConfig) -> None:
    """A few applications filed by the village agent, so the queue shows what a working day looks like;
    of items the township decides, so that the demo's window clerk (at the township) can take them on."""
    node = _open(village)
    catalogue = node.reference.catalogue()
    items = [i for i in catalogue.current() if i.proxy_allowed and i.promised_limit.days > 0 and i.level == "township"]
    items = items[:2]
    for resident, item in zip(DEMO_RESIDENTS, items, strict=True):
        file_application(
            node.events,
            node.identity,
            node.keys,
            catalogue,
            issuer_recipients(node.identity),
            item_code=item.code,
            applicant=resident,
            consent=True,
            operator="cun.agent",
            request_token=new_request_token(),
            now=node.now(),
        )


def run(base: Path, base_port: int = DEFAULT_BASE_PORT) -> int:
    """Serve every node of the tree until Ctrl+C; print the addresses and the demo logins."""
    configs = prepare(base, base_port)
    app = Path(__file__).resolve().parents[2] / "app.py"  # node/cli/demo.py → the repository's app.py
    # Each node's port is in its own onetrip.toml; an ONETRIP_PORT meant for one node must not reach all four.
    env = {k: v for k, v in os.environ.items() if k not in ("ONETRIP_PORT", "ONETRIP_HOST", "ONETRIP_DATABASE")}
    env.setdefault("ONETRIP_SYNC_INTERVAL_S", str(DEMO_SYNC_INTERVAL_S))
    children = []
    for config in configs:
        with open(config.data_dir / "serve.log", "ab") as log:
            children.append(
                subprocess.Popen(
                    [sys.executable, str(app), "serve", "--data", str(config.data_dir)],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    env=env,
                )
            )
    print("OneTrip 演示：一个市、两个县、一个街道、一个村，均已完成注册。", flush=True)
    print("  村代办点可代收高坪区的跨区域通办事项（高坪区的清单约一分钟后经市级同步到村）。", flush=True)
    for node, config in zip(TREE, configs, strict=True):
        logins = "，".join(f"{u}（{name}）" for u, name, _ in node.accounts)
        print(f"  {node.name:<14} {_url(config)}/    登录：{logins}")
    print(f"  村代办点的电子印章（业务专用章）口令：{SEAL_PIN}    验证盖章文件：各节点的 /verify 页面")
    print(f"  所有演示账号的密码：{PASSWORD}    日志：{Path(base) / '*' / 'serve.log'}    按 Ctrl+C 停止", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        for config, child in zip(configs, children, strict=True):
            if child.poll() is not None:
                tail = (config.data_dir / "serve.log").read_text("utf-8", errors="replace").splitlines()[-15:]
                said = f"演示节点 {config.data_dir.name} 已退出（{child.returncode}）："
                print(said, *tail, sep="\n", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=20)

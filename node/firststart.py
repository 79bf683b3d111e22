"""The first start of a village or township PC, done from the browser (the setup page): enrol with the code
online or with the county's bundle from a USB stick, carry the request and the grant when offline, then make
the station's first admin account. County IT's command line (`onetrip init`, `enroll`) is the other way in.

A fresh data dir is set up in a sibling staging folder renamed into place only once enrolled: a wrong code
or a corrupt file leaves the data dir as it was. Progress lives in `DIR/setup/` until the admin is made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import shutil
from pathlib import Path

from node.config import NodeConfig
from node.fleet import joining
from provisioning import client
from provisioning.bundle import read_bundle
from provisioning.certs import SIGNING, agreement_key_of, from_pem
from provisioning.codes import code_hash, code_problem
from provisioning.enrolment import check_directory, seal_code
from provisioning.errors import BadCode, EnrolmentRefused
from provisioning.identity import IDENTITY_FILE
from provisioning.operators import AccountRefused, create_operator, first_admin_name
from provisioning.region import LEVEL_NAMES
from storage.database import close as close_database
from storage.models import Certificate, Operator
from sync.keys import DEFAULT_ALGORITHM

from .runtime import Node, initialise

STATION_LEVELS = ("village", "township")  # hubs are set up by county IT on the command line
ENROL, GRANT, ADMIN, DONE = "enrol", "grant", "admin", "done"
SETUP_DIR = "setup"
REQUEST_FILE = "request.bin"  # the sealed enrolment request, to save to the stick again until the grant is in
PENDING_FILE = "pending"  # the enrolment code's hash: set up from the browser, the first admin still to make
MAX_FILE_BYTES = 4 * 1024 * 1024  # a bundle holds the trust streams and certificates: well under this


def has_installation(data_dir: Path) -> bool:
    return (Path(data_dir) / IDENTITY_FILE).exists()


def stage(node: Node | None) -> str:
    """Where the setup of this PC stands: ENROL (no installation, or a station initialised on the command line
    that nobody can log in to yet), GRANT (a bundle adopted, the county's grant still to install), ADMIN
    (enrolled here, its first admin account still to make) or DONE. Hubs are always DONE: not set up here."""
    if node is None:
        return ENROL
    identity = node.identity
    if identity.level not in STATION_LEVELS:
        return DONE
    pending = (_setup_dir(node) / PENDING_FILE).exists()
    if identity.provisional:
        return ENROL if not _accounts(identity.station) else DONE
    if not _certified(identity.installation):
        return GRANT if pending else DONE
    return ADMIN if pending else DONE


def enrol_new(
    config: NodeConfig,
    level: str,
    code: str,
    *,
    bundle: bytes | None = None,
    hub_url: str = "",
    fingerprint: str | None = None,
    session_key: bytes | None = None,
) -> Node:
    """Make the installation of a fresh data dir and enrol it: from the bundle given (then the request waits to
    be carried to the county), or online with the code at `hub_url` (the bundle fetched with the code). All or
    nothing: every file is made in a staging folder, renamed into place once enrolled."""
    _check_level(level)
    if problem := code_problem(code):
        raise BadCode(problem)
    data_dir = Path(config.data_dir)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise EnrolmentRefused(f"数据目录 {data_dir} 不是空的：不会覆盖已有的内容")
    issuer = None
    if bundle is None:
        hub_url = _hub_url(hub_url)
        directory = client.fetch_directory(hub_url)
        issuer = check_directory(directory, fingerprint, dt.datetime.now(dt.UTC))
        hub_agreement = agreement_key_of(from_pem(directory["agreement_certificate"]))
        bundle = client.fetch_bundle(hub_url, seal_code(code, hub_agreement))
    registration = read_bundle(bundle, code)["registration"]  # a wrong code or a corrupt file stops here
    _check_registered_level(level, registration)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.parent / f".{data_dir.name}-setup-{secrets.token_hex(4)}"
    staged = dataclasses.replace(config, data_dir=staging)
    try:
        initialise(
            staged,
            level=registration["level"],
            name=registration["name"],
            region=registration["region"],
            algorithm=DEFAULT_ALGORITHM,
            session_key=session_key,
        )
        _enrol(Node.from_config(staged), code, bundle, hub_url, issuer)
        close_database()
        if data_dir.exists():
            data_dir.rmdir()
        os.replace(staging, data_dir)
    except BaseException:
        close_database()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Node.from_config(config)


def enrol_initialised(
    node: Node, code: str, *, bundle: bytes | None = None, hub_url: str = "", fingerprint: str | None = None
) -> None:
    """Enrol a station county IT initialised on the command line, from the page: as `enrol_new`, in place."""
    if problem := code_problem(code):
        raise BadCode(problem)
    if bundle is None:
        joining.enrol_online(node, _hub_url(hub_url), code, fingerprint)
        _mark_pending(node, code)
        return
    _check_registered_level(node.identity.level, read_bundle(bundle, code)["registration"])
    _enrol(node, code, bundle, "", None)


def request_file(node: Node) -> bytes | None:
    """The enrolment request to carry to the county, while the grant is awaited; None if it was not made here."""
    path = _setup_dir(node) / REQUEST_FILE
    return path.read_bytes() if path.exists() else None


def install_grant(node: Node, grant: bytes) -> None:
    """The county's answer to the request, brought back on the stick: the installation is now certified."""
    if not grant:
        raise EnrolmentRefused("请先选择U盘上的证书回执文件")
    joining.install_grant(node, grant)
    node.events.sign_heads()
    (_setup_dir(node) / REQUEST_FILE).unlink(missing_ok=True)


def code_matches(node: Node, code: str) -> bool:
    """Whether `code` is the enrolment code this PC was set up with: who holds it may make the first admin."""
    path = _setup_dir(node) / PENDING_FILE
    return not code_problem(code) and path.exists() and path.read_text("ascii").strip() == code_hash(code)


def create_first_admin(node: Node, *, username: str, name: str, staff_no: str, password: str, again: str) -> Operator:
    """The station's first admin, made by the person setting the PC up; then the setup is over."""
    if password != again:
        raise AccountRefused("两次输入的密码不一致")
    if stage(node) != ADMIN:
        raise AccountRefused("本机已设置好：请用已有的管理员账号登录")
    create_operator(
        node.events,
        node.identity.station,
        username=username.strip(),
        name=name,
        role="admin",
        password=password,
        staff_no=staff_no,
        actor="setup",
    )
    node.events.sign_heads()
    shutil.rmtree(_setup_dir(node), ignore_errors=True)
    return Operator.get(Operator.username == username.strip())


def _enrol(node: Node, code: str, bundle: bytes, hub_url: str, issuer: tuple | None) -> None:
    request = joining.enrol_from_bundle(node, bundle, code)
    if hub_url:  # online: the request goes at once, the grant comes back in the answer
        joining.install_grant(node, client.post_request(hub_url, request), issuer=issuer, hub_url=hub_url)
        node.events.sign_heads()
    else:
        _setup_dir(node).mkdir(exist_ok=True)
        (_setup_dir(node) / REQUEST_FILE).write_bytes(request)
    _mark_pending(node, code)


def _mark_pending(node: Node, code: str) -> None:
    _setup_dir(node).mkdir(exist_ok=True)
    (_setup_dir(node) / PENDING_FILE).write_text(code_hash(code), "ascii")


def _setup_dir(node: Node) -> Path:
    return Path(node.config.data_dir) / SETUP_DIR


def _certified(installation: str) -> bool:
    mine = (Certificate.installation == installation) & (Certificate.use == SIGNING)
    return Certificate.select().where(mine).exists()


def _accounts(station: str) -> bool:
    """Accounts someone can log in with: the county's generated first admin is not one of them here."""
    return Operator.select().where(Operator.username != first_admin_name(station)).exists()


def _check_level(level: str) -> None:
    if level not in STATION_LEVELS:
        raise EnrolmentRefused("请选择村便民服务代办点或乡镇便民服务中心；县级和市级枢纽由县里的信息化人员用命令行安装")


def _check_registered_level(level: str, registration: dict) -> None:
    if registration["level"] != level:
        raise EnrolmentRefused(
            f"这个注册码是给{LEVEL_NAMES.get(registration['level'], registration['level'])}“{registration['name']}”的，"
            f"而本机选择的是{LEVEL_NAMES[level]}：请返回重新选择层级，或找县里核对"
        )


def _hub_url(typed: str) -> str:
    url = typed.strip().rstrip("/")
    if not url:
        raise EnrolmentRefused("请填写县级枢纽的网址（如 http://10.1.2.3:8700），或粘贴二维码的文字")
    return url if "://" in url else f"http://{url}"

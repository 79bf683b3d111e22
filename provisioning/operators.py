"""Operator accounts: who may log in at a station, in which role.

An account is an event (`operator.created`, `operator.disabled` in the station's
stream; `trust.operator_disabled` in a county's `all` stream, so a county can cut
off any account below it). Passwords never enter an event: their scrypt hashes
and the lockout counters stay in this node's `credential` table.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from provisioning.audit import audit
from provisioning.errors import ProvisioningError
from provisioning.lockout import Attempt, count_attempt
from storage.database import write_transaction
from storage.models import Credential, Operator, Station, upsert
from sync.event import Event
from sync.log import EventLog
from sync.projection import RuleViolation

ROLES = {"agent": "代办员", "clerk": "窗口人员", "admin": "管理员"}
CREATED, DISABLED, ENABLED, COUNTY_DISABLED, PHONE_SET = (
    "operator.created",
    "operator.disabled",
    "operator.enabled",
    "trust.operator_disabled",
    "operator.phone_set",
)
COUNTY_PREFIX = "county:"  # disabled_by of an account a county disabled
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
UNKNOWN_KEPT = 1000  # lockout counters of names with no account (`_forget_unknown_names`)
# The one answer to a wrong password, an unknown name and a disabled account: only the county's pages say which.
REFUSED = "用户名或密码错误，或账号已停用（如有疑问请联系管理员）"
LOCKED_OUT = f"连续输错密码 {MAX_FAILURES} 次，账号已锁定，请 {LOCKOUT.seconds // 60} 分钟后再试"
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
# scrypt at n=2^14, r=8: about 16 MB and 50 ms per check on an old PC; slow enough for guessing.
_N, _R, _P = 2**14, 8, 1
# The hash of a random password nobody kept: a name with no account is checked against it, for the same time.
_DUMMY_HASH = "scrypt$16384$8$1$9IvcM3hYgLwECLcx11CZhw==$agBhwss+ypm0A4wt8kqm8DahNHPtDqsZH8zLLzkJcGM="


class LoginRefused(ProvisioningError):
    code = "login_refused"


class AccountRefused(ProvisioningError):
    code = "account_refused"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` hashes; takes scrypt's time whatever the answer."""
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


_STAFF_NO = re.compile(r"[0-9A-Za-z-]{0,20}")  # 工号, optional
_MOBILE = re.compile(r"(1[3-9]\d{9})?")  # a mainland mobile's 11 digits, optional; the pages normalise what is typed
MOBILE_PROBLEM = "手机号应为 11 位数字，以 13–19 开头（可不填）"


def account_problems(username: str, name: str, role: str, password: str | None) -> list[str]:
    problems = []
    if not _USERNAME.match(username):
        problems.append("用户名须以小写字母开头，2–32 位小写字母、数字、点、下划线或连字符")
    if not name.strip():
        problems.append("姓名不能为空")
    if role not in ROLES:
        problems.append(f"角色应为 {' / '.join(ROLES)} 之一")
    if password is not None:
        problems.extend(password_problems(password, username=username))
    return problems


def password_problems(password: str, *, username: str, old: str | None = None) -> list[str]:
    """What is wrong with a password someone chooses: too short, the account's own name, the password it
    replaces, or one of the passwords guessed first (`data/common-passwords.txt`)."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"密码至少 {MIN_PASSWORD} 位")
    if password.casefold() == username.casefold():
        problems.append("密码不能与用户名相同")
    if old is not None and password == old:
        problems.append("新密码不能与原密码相同")
    if password.casefold() in _common_passwords():
        problems.append("这个密码太常见，容易被猜中，请换一个")
    return problems


@functools.cache
def _common_passwords() -> frozenset[str]:
    text = (Path(__file__).parent / "data" / "common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#")


def entity(username: str) -> str:
    return f"operator:{username}"


def create_operator(
    events: EventLog,
    station: str,
    *,
    username: str,
    name: str,
    role: str,
    password: str | None = None,
    password_hash: str | None = None,
    must_change: bool = False,
    actor: str = "admin",
    staff_no: str = "",
    phone: str = "",
) -> None:
    """A new account of this station; give the password, or its hash when it was set at the county."""
    problems = account_problems(username, name, role, password if password_hash is None else None)
    if not _STAFF_NO.fullmatch(staff_no.strip()):
        problems.append("工号最多 20 位字母、数字或连字符")
    if not _MOBILE.fullmatch(phone):
        problems.append(MOBILE_PROBLEM)
    if not problems and Operator.get_or_none(Operator.username == username):
        problems.append(f"用户名 {username} 已被使用")
    if problems:
        raise AccountRefused("；".join(problems), problems)
    with events.transaction():
        events.append(
            CREATED,
            entity(username),
            {"username": username, "name": name.strip(), "role": role, "station": station}
            | ({"staff_no": staff_no.strip()} if staff_no.strip() else {})
            | ({"phone": phone} if phone else {}),
            stream=station,
        )
        upsert(
            Credential,
            username=username,
            password_hash=password_hash or hash_password(password),
            must_change=must_change,
            failed_attempts=0,
            locked_until=None,
        )


def first_admin_name(station: str) -> str:
    return f"admin-{station}".lower()


def new_password() -> str:
    """An initial password to read out or print: 12 characters, nothing easy to confuse."""
    return "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(12))


def set_disabled(events: EventLog, station: str, username: str, disabled: bool, *, by: str) -> None:
    """A station admin disables or re-enables one of its station's accounts."""
    operator = Operator.get_or_none(Operator.username == username)
    if operator is None or operator.station != station:
        raise AccountRefused(f"本站没有用户 {username}")
    if not disabled and operator.disabled_by and operator.disabled_by.startswith(COUNTY_PREFIX):
        raise AccountRefused("该账号由县级停用，只有县级管理员能恢复")
    with events.transaction():
        events.append(
            DISABLED if disabled else ENABLED, entity(username), {"username": username, "by": by}, stream=station
        )
        audit(by, "disable_operator" if disabled else "enable_operator", username, "ok")


def set_phone(events: EventLog, station: str, username: str, phone: str, *, by: str) -> None:
    """A station admin sets (or, with "", clears) the mobile one of its accounts gets reminders on."""
    operator = Operator.get_or_none(Operator.username == username)
    if operator is None or operator.station != station:
        raise AccountRefused(f"本站没有用户 {username}")
    if not _MOBILE.fullmatch(phone):
        raise AccountRefused(MOBILE_PROBLEM)
    with events.transaction():
        events.append(PHONE_SET, entity(username), {"username": username, "phone": phone, "by": by}, stream=station)
        audit(by, "set_operator_phone", username, "ok")


def county_disable(events: EventLog, username: str, *, by: str, reason: str) -> None:
    """A county admin disables any account in the county; it travels down as a trust event."""
    with events.transaction():
        events.append(
            COUNTY_DISABLED, entity(username), {"username": username, "by": by, "reason": reason}, stream="all"
        )
        audit(by, "disable_operator", username, "ok", reason)


def authenticate(username: str, password: str, now: dt.datetime) -> Operator:
    """The operator, if the password is right and the account usable; one vague message otherwise.

    The try is counted before the password is checked, and an unknown or disabled name costs the same
    scrypt and locks the same way as a usable one: neither the answer nor its time says which names exist.
    """
    now = now.astimezone(dt.UTC).replace(tzinfo=None)
    counted = 0 < len(username) <= 64 and username.isprintable()  # others cannot be a name the table keeps
    if counted and not _count_login(username, now).allowed:
        raise LoginRefused(LOCKED_OUT)
    credential = Credential.get_or_none(Credential.username == username) if counted else None
    stored = credential.password_hash if credential is not None and credential.password_hash else None
    matches = password_matches(password, stored or _DUMMY_HASH)
    operator = Operator.get_or_none(Operator.username == username) if counted else None
    if stored is None or not matches or operator is None or operator.disabled:
        raise LoginRefused(REFUSED)
    Credential.update(failed_attempts=0, locked_until=None).where(Credential.username == username).execute()
    return operator


def _count_login(username: str, now: dt.datetime) -> Attempt:
    """Count one login try of `username` (known or not), in a write transaction of its own."""
    with write_transaction():
        row = Credential.get_or_none(Credential.username == username)
        if row is None:
            _forget_unknown_names(now)
            row = Credential(username=username, password_hash="", failed_attempts=0, locked_until=None)
            row.save(force_insert=True)
        attempt = count_attempt(row.failed_attempts, row.locked_until, now, limit=MAX_FAILURES, lock=LOCKOUT)
        if attempt.allowed:
            Credential.update(failed_attempts=attempt.failures, locked_until=attempt.locked_until).where(
                Credential.username == username
            ).execute()
    return attempt


def _forget_unknown_names(now: dt.datetime) -> None:
    """Keep at most `UNKNOWN_KEPT` counters of names with no account: when full, forget those not locked now.
    Locked ones stay for their quarter of an hour; at scrypt's pace they cannot fill a disk meanwhile."""
    unknown = Credential.password_hash == ""
    if Credential.select().where(unknown).count() >= UNKNOWN_KEPT:
        Credential.delete().where(
            unknown & (Credential.locked_until.is_null() | (Credential.locked_until <= now))
        ).execute()


def must_change_password(username: str) -> bool:
    credential = Credential.get_or_none(Credential.username == username)
    return credential is not None and credential.must_change


def change_password(username: str, old: str, new: str, now: dt.datetime) -> int:
    """Set a new password and end every session of the account; the new session epoch, for the one that asked.
    The old password is a guess like a login's, counted against the same lockout: a stolen session cannot
    try passwords here at scrypt's pace. The new one is judged first, before any try is counted: someone
    who knows the old password and picks weak new ones is not locked out of their own account."""
    problems = password_problems(new, username=username, old=old)
    if problems:
        raise AccountRefused("；".join(problems), problems)
    if not _count_login(username, now.astimezone(dt.UTC).replace(tzinfo=None)).allowed:
        raise AccountRefused(LOCKED_OUT)
    credential = Credential.get_or_none(Credential.username == username)
    if credential is None or not credential.password_hash or not password_matches(old, credential.password_hash):
        raise AccountRefused("原密码不正确")
    with write_transaction():
        Credential.update(
            password_hash=hash_password(new),
            must_change=False,
            session_epoch=Credential.session_epoch + 1,
            failed_attempts=0,
            locked_until=None,
        ).where(Credential.username == username).execute()
    return session_epoch(username)


def session_epoch(username: str) -> int | None:
    """The account's current session epoch: a session made under an older one has ended (None: no account)."""
    credential = Credential.get_or_none(Credential.username == username)
    return credential.session_epoch if credential is not None and credential.password_hash else None


def end_sessions(username: str) -> None:
    """Every session of the account ends, on every browser, whoever holds a copy of its cookie."""
    with write_transaction():
        Credential.update(session_epoch=Credential.session_epoch + 1).where(Credential.username == username).execute()


def claim_problem(username: str, claimant: str, here: str | None, held_by: str | None) -> str | None:
    """Why a station may not create or change the account `username`, or None (pure).

    An account belongs to its station: another station's event never takes it over. `here` is this node's
    station if the account is one of its own (it has a password here): decided before any event, so a
    thief's claim loses whatever order events arrive or replay in. An account of another station (`held_by`)
    is kept by the station that holds it.
    """
    if here is not None and claimant != here:
        return f"用户名 {username} 是本站点的账号：站点 {claimant} 的事件不能建立或改动它"
    if here is None and held_by is not None and held_by != claimant:
        return f"用户名 {username} 已属于站点 {held_by}"
    return None


def _station_of(username: str) -> str | None:
    operator = Operator.get_or_none(Operator.username == username)
    return operator.station if operator else None


class OperatorProjection:
    event_types = frozenset({CREATED, DISABLED, ENABLED, COUNTY_DISABLED, PHONE_SET})

    def __init__(self, trust):
        self.trust = trust  # a CertTrust: a county may disable only accounts in its division

    def apply(self, event: Event) -> None:
        payload = event.payload
        if event.type == CREATED:
            if payload["station"] != event.stream or event.entity != entity(payload["username"]):
                raise RuleViolation("只能在本站点的事件流中建立本站点的账号")
            self._refuse_foreign_claim(payload["username"], payload["station"])
            upsert(
                Operator,
                username=payload["username"],
                station=payload["station"],
                name=payload["name"],
                role=payload["role"],
                staff_no=payload.get("staff_no") or None,
                phone=payload.get("phone") or None,
                disabled=False,
                disabled_by=None,
            )
            return
        if event.type == PHONE_SET:
            if _station_of(payload["username"]) != event.stream or not _MOBILE.fullmatch(str(payload.get("phone"))):
                raise RuleViolation("站点只能为本站点的账号设置手机号")
            Operator.update(phone=payload["phone"] or None).where(Operator.username == payload["username"]).execute()
            return
        if event.type == COUNTY_DISABLED:
            station = Station.get_or_none(Station.code == _station_of(payload["username"]))
            if station is None:
                raise RuleViolation(f"不认识用户 {payload['username']} 所属的站点")
            self.trust.require_jurisdiction(event.origin, station.level, station.region)
        elif _station_of(payload["username"]) != event.stream:
            raise RuleViolation("站点只能停用或启用本站点的账号")
        disabled = event.type != ENABLED
        current = Operator.get_or_none(Operator.username == payload["username"])
        if current is None:
            raise RuleViolation(f"没有用户 {payload['username']}")
        if not disabled and (current.disabled_by or "").startswith(COUNTY_PREFIX):
            raise RuleViolation("该账号由县级停用，站点不能自行恢复")
        by = (COUNTY_PREFIX if event.type == COUNTY_DISABLED else "") + payload["by"]
        Operator.update(disabled=disabled, disabled_by=by if disabled else None).where(
            Operator.username == payload["username"]
        ).execute()

    def _refuse_foreign_claim(self, username: str, station: str) -> None:
        existing = Operator.get_or_none(Operator.username == username)
        problem = claim_problem(username, station, self._owned_here(username), existing and existing.station)
        if problem:
            raise RuleViolation(problem)

    def _owned_here(self, username: str) -> str | None:
        """This station, if the account is one of its own: set up here with a password, or of its station."""
        mine = self.trust.identity.station
        credential = Credential.get_or_none(Credential.username == username)
        if credential is not None and credential.password_hash:
            return mine
        row = Operator.get_or_none(Operator.username == username)
        return mine if row is not None and row.station == mine else None

    def reset(self, entity_name: str | None) -> None:
        query = Operator.delete()
        if entity_name is not None:
            query = query.where(Operator.username == entity_name.removeprefix("operator:"))
        query.execute()

"""The audit trail: every admin action and every refused provisioning request, with who and when."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from provisioning.region import CHINA
from storage.models import AuditEntry

# What each recorded action is called on the audit page and in its CSV file.
ACTIONS = {
    "register": "登记站点",
    "new_code": "重新生成注册码",
    "replace": "更换站点电脑",
    "enrol": "安装注册",
    "bundle": "联网取注册包",
    "renew": "证书续期",
    "revoke": "吊销安装",
    "release": "放行被吊销安装的事件",
    "rotate_ca": "轮换证书机构密钥",
    "disable_operator": "停用账号",
    "enable_operator": "启用账号",
    "set_operator_phone": "设置提醒手机号",
    "publish_holidays": "发布节假日表",
    "order_seal": "订制印章",
    "grant_seal": "签发印章",
    "revoke_seal": "吊销印章",
    "view_phone": "查看群众电话（回访）",
}
# Requests no person signed in for: an installation enrolling or renewing, a holder asking for its seal.
ACTORS = {"enrolment": "（站点注册请求）", "renewal": "（证书续期请求）", "seal": "（印章申请）"}
OUTCOMES = {"ok": "成功", "refused": "拒绝"}


def audit(actor: str, action: str, subject: str | None, outcome: str, detail: str | None = None) -> None:
    """Record one entry; call it inside the transaction of the action, so both stand or fall together.

    Fields are cut to their column widths: a refused request may carry anything, and an
    oversize value must not turn the refusal into a database error (PostgreSQL checks them).
    """
    AuditEntry.create(
        actor=actor[:128],
        action=action[:64],
        subject=subject[:128] if subject else None,
        outcome=outcome,
        detail=detail,
    )


def trail(
    *, actor: str = "", action: str = "", subject: str = "", since: dt.date | None = None, until: dt.date | None = None
) -> pw.ModelSelect:
    """The entries matching the filters, newest first: a person, an action, a station or installation (the
    start of what was acted on), and Beijing dates from `since` to `until`, both included."""
    query = AuditEntry.select().order_by(AuditEntry.id.desc())
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if subject:
        query = query.where(AuditEntry.subject.startswith(subject))
    if since:
        query = query.where(AuditEntry.at >= _utc_start_of(since))
    if until:
        query = query.where(AuditEntry.at < _utc_start_of(until + dt.timedelta(days=1)))
    return query


def _utc_start_of(day: dt.date) -> dt.datetime:
    """Midnight in Beijing as the naive UTC the audit table stores."""
    return dt.datetime.combine(day, dt.time(), CHINA).astimezone(dt.UTC).replace(tzinfo=None)

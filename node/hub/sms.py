"""The SMS gateway at the edge of the county hub: an HTTP adapter and the round that sends what is due.

Only the county hub sends (it alone decrypts the phone number). Each notice goes with its id as the
`Idempotency-Key`, so a request whose answer was lost is sent again without a second message; a
failure waits an exponentially longer, jittered time, and nothing goes out in quiet hours
(`node.rules.notices`). The receipt (the gateway's message id and status) is kept on the entry."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import requests

from node.errors import DomainError
from node.rules.notices import Notice, next_send_ms, retry_at_ms


class GatewayFailed(DomainError):
    code = "sms_gateway_failed"


@dataclass(frozen=True)
class Receipt:
    message_id: str
    status: str


class SmsGateway(Protocol):
    def send(self, notice_id: str, phone: str, text: str) -> Receipt: ...


class HttpSmsGateway:
    """POST {"phone", "text"} as JSON to `url`; any answer but a 2xx with a message id is a failure."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url, self.timeout_s = url, timeout_s
        self._session = requests.Session()

    def send(self, notice_id: str, phone: str, text: str) -> Receipt:
        try:
            answer = self._session.post(
                self.url,
                json={"phone": phone, "text": text},
                headers={"Idempotency-Key": notice_id},
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            raise GatewayFailed(f"短信网关无法连接：{type(exc).__name__}") from exc
        if not answer.ok:
            raise GatewayFailed(f"短信网关拒绝发送：HTTP {answer.status_code}")
        try:
            body = answer.json()
        except ValueError as exc:
            raise GatewayFailed("短信网关的回执不是 JSON") from exc
        if not isinstance(body, dict) or not body.get("message_id"):
            raise GatewayFailed("短信网关的回执缺少消息编号")
        return Receipt(str(body["message_id"]), str(body.get("status", "accepted")))


@dataclass
class OutboxEntry:
    """A notice waiting at the hub: when it may next be tried, how often it failed, its receipt once sent."""

    notice: Notice
    phone: str
    due_ms: int
    attempts: int = 0
    receipt: Receipt | None = None


def queue(notice: Notice, phone: str, now_ms: int) -> OutboxEntry:
    return OutboxEntry(notice, phone, next_send_ms(now_ms))


def send_due(entries: Iterable[OutboxEntry], gateway: SmsGateway, now_ms: int, rng: random.Random) -> int:
    """Try every unsent entry that is due and outside quiet hours; returns how many went out."""
    sent = 0
    if next_send_ms(now_ms) != now_ms:
        return 0
    for entry in entries:
        if entry.receipt is not None or entry.due_ms > now_ms:
            continue
        try:
            entry.receipt = gateway.send(entry.notice.notice_id, entry.phone, entry.notice.text)
            sent += 1
        except GatewayFailed:
            entry.attempts += 1
            entry.due_ms = retry_at_ms(now_ms, entry.attempts, rng)
    return sent

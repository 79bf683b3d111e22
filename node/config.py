"""Node configuration: typed defaults, overridden by `<data-dir>/onetrip.toml`, then by
environment variables `ONETRIP_<FIELD>`, then by command-line options.

Secrets are never configuration: keys are files in the data dir, mode 0600.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import ConfigError
from storage.database import sqlite_url

CONFIG_FILE = "onetrip.toml"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
POSITIVE = (
    "port",
    "update_interval_s",
    "head_interval",
    "head_ttl_s",
    "max_clock_drift_s",
    "sync_interval_s",
    "sync_backoff_max_s",
    "sync_answer_timeout_s",
    "retention_days",
    "sync_max_in_flight",
    "threads",
)
SWITCH = ("on", "off")


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path
    database: str = ""  # empty: SQLite at <data-dir>/onetrip.db
    host: str = "127.0.0.1"
    port: int = 8700
    head_interval: int = 256  # sign a stream's head at least every this many events
    head_ttl_s: int = 7 * 24 * 3600  # a feed not re-signed for this long looks frozen
    max_clock_drift_s: int = 300
    sync_interval_s: int = 30  # sync with the parent this often while the link works
    sync_backoff_max_s: int = 900  # while it does not, wait longer each time, up to this
    sync_answer_timeout_s: int = 10  # a parent silent this long (more for a large batch) is reported
    sync_max_in_flight: int = 4  # sync requests a hub serves at once; more are told to come back (503)
    threads: int = 8  # waitress's; a process holds at most threads + 4 PostgreSQL connections (its pool)
    log_level: str = "INFO"
    retention_days: int = 365  # a village station purges residents' data this long after delivery
    scheduler: str = "on"  # "off" in every hub process but one: the periodic jobs run once per hub
    trusted_proxy: str = ""  # the TLS reverse proxy's address: its X-Forwarded-Proto is believed, nobody else's
    public_query_url: str = ""  # printed on receipts; empty: the certifying hub's URL + /query
    sms_gateway_url: str = ""  # a county hub sends residents' SMS notices through it; empty: none are sent
    sms_signature: str = ""  # the sender's signature in each message (【…】); empty: the hub's name
    province_url: str = ""  # a city hub forwards every application to the province's platform there; empty: none
    province_token: str = ""  # the bearer token the province issued to this city (keep onetrip.toml 0600)
    update_interval_s: int = 3600  # ask the parent for new releases this often (docs/operations.md, Releases)
    update_prefix: str = ""  # where install.sh keeps the environments (/opt/onetrip); empty: download, never stage

    @property
    def database_url(self) -> str:
        return self.database or sqlite_url(self.data_dir)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> NodeConfig:
        """Build from plain values (strings allowed, as from the environment); report every problem at once."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        problems, values = [], {}
        for key, raw in mapping.items():
            if key not in fields:
                problems.append(f"未知的配置项 {key!r}")
                continue
            try:
                values[key] = _coerce(fields[key].type, raw)
            except (TypeError, ValueError):
                problems.append(f"配置项 {key} 的值 {raw!r} 不是有效的{_TYPE_NAMES[fields[key].type]}")
        if "data_dir" not in values:
            problems.append("缺少数据目录 data_dir")
        for key in POSITIVE:
            if isinstance(values.get(key), int) and values[key] <= 0:
                problems.append(f"配置项 {key} 必须为正整数")
        if isinstance(values.get("port"), int) and values["port"] > 65535:
            problems.append("端口 port 必须在 1–65535 之间")
        if values.get("log_level", "INFO") not in LOG_LEVELS:
            problems.append(f"日志级别 log_level 应为 {' / '.join(LOG_LEVELS)} 之一")
        if values.get("scheduler", "on") not in SWITCH:
            problems.append("定时任务开关 scheduler 应为 on 或 off")
        database = values.get("database", "")
        if database and not database.startswith(("sqlite:///", "postgresql://", "postgres://")):
            problems.append("数据库地址 database 应以 sqlite:/// 或 postgresql:// 开头")
        if problems:
            raise ConfigError(problems)
        return cls(**values)

    @classmethod
    def load(
        cls, data_dir: Path, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> NodeConfig:
        environ = os.environ if environ is None else environ
        path = Path(data_dir) / CONFIG_FILE
        try:
            values: dict[str, Any] = tomllib.loads(path.read_text("utf-8")) if path.exists() else {}
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path} 不是有效的 TOML：{exc}"]) from exc
        for field in dataclasses.fields(cls):
            env_value = environ.get(f"ONETRIP_{field.name.upper()}")
            if env_value is not None and field.name != "data_dir":
                values[field.name] = env_value
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        values["data_dir"] = data_dir
        return cls.from_mapping(values)


_TYPE_NAMES = {"Path": "路径", "str": "文本", "int": "整数"}


def _coerce(type_name: str, raw: Any) -> Any:
    if type_name == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lstrip("+-").isdigit():
            return int(raw)
        raise ValueError(raw)  # 1.5 is not silently 1
    if type_name == "Path":
        return Path(raw)
    return str(raw)


def write_config(data_dir: Path, values: Mapping[str, Any]) -> None:
    """Write the settings chosen at init (TOML of flat strings and integers)."""
    lines = ["# OneTrip 节点配置；环境变量 ONETRIP_<字段名> 可覆盖此处的值"]
    for key, value in values.items():
        lines.append(f"{key} = {value}" if isinstance(value, int) else f'{key} = "{_toml_escape(str(value))}"')
    (Path(data_dir) / CONFIG_FILE).write_text("\n".join(lines) + "\n", "utf-8")


def _toml_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')

"""Structured log lines: `key=value` pairs, each naming the station and installation."""

from __future__ import annotations

import logging
import time


class _Formatter(logging.Formatter):
    def __init__(self, station: str, installation: str):
        super().__init__()
        self._fixed = f"station={station} installation={installation}"

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        message = record.getMessage().replace('"', "'")
        line = (
            f"ts={stamp}.{int(record.msecs):03d}Z level={record.levelname} {self._fixed} "
            f'logger={record.name} msg="{message}"'
        )
        if record.exc_info:
            line += " exc=" + repr(self.formatException(record.exc_info))
        return line


def configure_logging(station: str, installation: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter(station, installation))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Every run of every periodic job (a sync tick every few seconds) would be a line: only its failures are.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))

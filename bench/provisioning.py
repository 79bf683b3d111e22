"""Time from "register station" to "installation enrolled", by each path, against a real county hub.

Online: `register` at the county, then `enroll --qr` at the station over HTTP.
USB: `register`, `bundle`, `enroll --bundle`, `accept`, `install-grant` (carrying the stick not counted).
Each is the `onetrip` commands a person would type, run in this process; the hub runs as its own server.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

from app import main
from harness.servers import free_port, start, stop
from storage.database import close

RUNS = 3


def _cli(*args) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(a) for a in args])
    close()
    if code != 0:
        raise RuntimeError(f"onetrip {args[0]} failed")
    return out.getvalue()


def _field(out: str, label: str) -> str:
    line = next(text for text in out.splitlines() if text.startswith(label))
    return line.split(label, 1)[1].strip(" ：:")


def _enrol_by_usb(county: Path, station: Path, code: str, stick: Path) -> None:
    _cli("bundle", "--data", county, "--code", code, "--out", stick / "bundle")
    _cli("enroll", "--data", station, "--bundle", stick / "bundle", "--code", code, "--out", stick / "request")
    _cli("accept", "--data", county, "--request", stick / "request", "--out", stick / "grant")
    _cli("install-grant", "--data", station, "--grant", stick / "grant")


def measure() -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"online": [], "usb": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        city, county = base / "city", base / "county"
        city_port, county_port = free_port(), free_port()
        _cli("init", "--data", city, "--level", "city", "--name", "南充市", "--region", "511300")
        _cli("init", "--data", county, "--level", "county", "--name", "顺庆区", "--region", "511302")
        city_server = start(["serve", "--data", str(city)], city_port)
        try:
            out = _cli(
                "register",
                "--data",
                city,
                "--name",
                "顺庆区",
                "--level",
                "county",
                "--region",
                "511302",
                "--hub-url",
                f"http://127.0.0.1:{city_port}",
            )
            _cli("enroll", "--data", county, "--qr", _field(out, "二维码内容"))
            county_server = start(["serve", "--data", str(county)], county_port)
            try:
                for run in range(RUNS):
                    for path in ("online", "usb"):
                        region = f"511302001{run * 2 + (path == 'usb') + 1:03d}"
                        station = base / f"{path}{run}"
                        _cli("init", "--data", station, "--level", "village", "--name", "村", "--region", region)
                        started = time.perf_counter()
                        out = _cli(
                            "register",
                            "--data",
                            county,
                            "--name",
                            "村",
                            "--level",
                            "village",
                            "--region",
                            region,
                            "--hub-url",
                            f"http://127.0.0.1:{county_port}",
                        )
                        if path == "online":
                            _cli("enroll", "--data", station, "--qr", _field(out, "二维码内容"))
                        else:
                            code = _field(out, "注册码")
                            _cli("bundle", "--data", county, "--code", code, "--out", base / "b")
                            _cli(
                                "enroll", "--data", station, "--bundle", base / "b", "--code", code, "--out", base / "r"
                            )
                            _cli("accept", "--data", county, "--request", base / "r", "--out", base / "g")
                            _cli("install-grant", "--data", station, "--grant", base / "g")
                        timings[path].append(time.perf_counter() - started)
            finally:
                stop(county_server)
        finally:
            stop(city_server)
    return timings


def report() -> list[str]:
    timings = measure()
    lines = [f"Register station → installation enrolled, {RUNS} runs: seconds median (min–max)"]
    for path, label in (("online", "online (HTTP, QR text)"), ("usb", "USB bundle (3 files, carrying excluded)")):
        values = timings[path]
        lines.append(f"{label:<40} {statistics.median(values):6.2f}  ({min(values):.2f}–{max(values):.2f})")
    return lines


if __name__ == "__main__":
    print("\n".join(report()))

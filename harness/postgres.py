"""A throwaway PostgreSQL server that one run owns, so that a fault test may restart it: the machine's shared
server (127.0.0.1:5432) serves every other test and must never be restarted.

`initdb` into a temporary folder, trust authentication, a free port on 127.0.0.1 and the unix socket in the
folder; started, restarted and stopped with `pg_ctl`, removed afterwards. PostgreSQL refuses to run as root,
so as root (this machine's tests) its commands run as the `postgres` user, who owns the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .servers import free_port

BINARIES = "/usr/lib/postgresql/*/bin"  # Debian's layout: one folder per major version installed
START_WAIT_S = 60
SERVER_USER = "postgres"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine (`apt-get install postgresql`)."""


def server_binaries() -> Path:
    """The newest installed major version's folder of binaries (`initdb`, `pg_ctl`)."""
    found = [Path(d) for d in glob.glob(BINARIES) if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()]
    if not found:
        raise PostgresMissing(f"没有找到 PostgreSQL 服务器程序（{BINARIES}/initdb、pg_ctl）：请先安装 postgresql")
    return max(found, key=lambda d: [int(n) for n in re.findall(r"\d+", d.parent.name)])


class PrivatePostgres:
    """A PostgreSQL server of its own on loopback: `with PrivatePostgres() as server:` … `server.restart()`."""

    def __init__(self):
        self.bin = server_binaries()
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="onetrip-pg-"))  # its own: PostgreSQL must own and enter it
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self._as_owner = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []
        try:
            self._initdb()
        except BaseException:
            shutil.rmtree(self.home, ignore_errors=True)
            raise

    def _initdb(self) -> None:
        if self._as_owner:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.home, user.pw_uid, user.pw_gid)
        # --no-sync: a throwaway folder need not survive a power cut; the server itself keeps its fsyncs
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "-N")
        settings = {"port": self.port, "listen_addresses": "'127.0.0.1'", "unix_socket_directories": f"'{self.home}'"}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    @property
    def socket_url(self) -> str:
        """The admin database over the unix socket in its folder, as docs/operations.md has a hub reach a server on
        its own host (it listens on a port of 127.0.0.1 too, which the socket's name carries)."""
        return f"postgresql://postgres@/postgres?host={self.home}&port={self.port}"

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def start(self) -> None:
        """Returns once the server accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_WAIT_S), "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: what `systemctl restart postgresql` does (sessions ended, a checkpoint, then down);
        `immediate`: a crash (sessions cut, the next start replays the write-ahead log)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_s: float, mode: str = "fast") -> tuple[float, float]:
        """Stopped, left down `down_s`, started again: when it went down and when it took connections again
        (`time.perf_counter`)."""
        self.stop(mode)
        down_at = time.perf_counter()
        time.sleep(down_s)
        self.start()
        return down_at, time.perf_counter()

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_owner, str(self.bin / program), *args]
        done = subprocess.run(command, cwd=self.home, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{log}")

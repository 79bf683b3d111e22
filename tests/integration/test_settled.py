"""A benchmark measures a served node's round once its start-up work is done (`harness.servers.settled`), not
beside the warm-up a node starts on a thread after it answers."""

import os
import subprocess
import sys
from pathlib import Path

from harness.servers import settled

BUSY_THEN_IDLE = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(60)"


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_settled_returns_only_once_the_process_has_stopped_working():
    process = subprocess.Popen([sys.executable, "-c", BUSY_THEN_IDLE])
    try:
        settled(process)
        assert _cpu_s(process.pid) >= 0.6  # the busy second is behind it
        assert process.poll() is None  # and it was still running: settled waited for quiet, not for an end
    finally:
        process.kill()
        process.wait()

"""Content-addressed blob store on disk: a blob's name is the SHA-256 of its bytes.

Writes go to a temporary file in the same directory, are fsynced, then renamed,
so a crash leaves either the whole blob or none. Reads re-hash, so a blob whose
bytes no longer match its name (a bad disk sector, a hand edit) is detected.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from .errors import BlobCorrupt, BlobMissing, StorageError

_NAME = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if not _NAME.match(digest):
            raise StorageError(f"{digest!r} is not a SHA-256 blob name")
        return self.root / digest[:2] / digest

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put(self, data: bytes) -> str:
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, source: BinaryIO, expected: str | None = None) -> str:
        """Store what `source` yields; if `expected` is given, refuse bytes that do not hash to it."""
        self.root.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as tmp:
                while chunk := source.read(_CHUNK):
                    hasher.update(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            digest = hasher.hexdigest()
            if expected is not None and digest != expected:
                raise BlobCorrupt(f"received bytes hash to {digest}, not {expected}")
            target = self.path(digest)
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp_name, target)
            _fsync_dir(target.parent)
            return digest
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def get(self, digest: str) -> bytes:
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(f"blob {digest} is not stored here") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} is damaged: its bytes no longer match its name")
        return data

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    """The rename itself must reach the disk, or a power cut can forget it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

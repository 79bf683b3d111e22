"""Content-addressed blob store on disk: a blob's name is the SHA-256 of its bytes.

Writes go to a temporary file in the same directory, are fsynced, then renamed,
so a crash leaves either the whole blob or none. Reads re-hash, so a blob whose
bytes no longer match its name (a bad disk sector, a hand edit) is detected.
Several blobs can be staged (written and verified) and placed only once all of
them are good, as a bundle needs: a refused one leaves nothing behind, and a full
disk (`DiskFull`) leaves no partial file either.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import BlobCorrupt, BlobMissing, StorageError, disk_full_translated

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
        return self.put_stream(io.BytesIO(data), size_bytes=len(data))

    def put_stream(self, source: BinaryIO, expected: str | None = None, size_bytes: int = 0) -> str:
        """Store what `source` yields; if `expected` is given, refuse bytes that do not hash to it."""
        with self.staged() as staging:
            digest = staging.add(source, expected, size_bytes)
            staging.place([digest])
        return digest

    @contextmanager
    def staged(self) -> Iterator[Staging]:
        """Blobs written and verified but not yet in the store; whatever is not placed is discarded."""
        staging = Staging(self)
        try:
            yield staging
        finally:
            staging.discard()

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


class Staging:
    """Temporary files beside the store, each fsynced and hashed; `place` renames them into it."""

    def __init__(self, store: BlobStore):
        self.store = store
        self._files: dict[str, Path] = {}

    @property
    def digests(self) -> list[str]:
        return list(self._files)

    def add(self, source: BinaryIO, expected: str | None = None, size_bytes: int = 0) -> str:
        """Write and hash one blob; `size_bytes`, when known, is what a full disk is told the blob needs."""
        with disk_full_translated(self.store.root, size_bytes):
            return self._add(source, expected)

    def _add(self, source: BinaryIO, expected: str | None) -> str:
        self.store.root.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.store.root)
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
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        if digest in self._files:
            Path(tmp_name).unlink()
        else:
            self._files[digest] = Path(tmp_name)
        return digest

    def place(self, digests: Iterable[str]) -> None:
        for digest in digests:
            target = self.store.path(digest)
            with disk_full_translated(self.store.root):  # a new folder takes a block too
                target.parent.mkdir(exist_ok=True)
            os.replace(self._files.pop(digest), target)
            _fsync_dir(target.parent)

    def discard(self) -> None:
        for path in self._files.values():
            path.unlink(missing_ok=True)
        self._files.clear()


def _fsync_dir(path: Path) -> None:
    """The rename itself must reach the disk, or a power cut can forget it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

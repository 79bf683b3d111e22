"""The files and folders a command is given: read whole, or written whole under their name.

A missing, unreadable or unwritable path is refused in one line of plain Chinese (the command exits 2,
as for any error with a code), and an output is checked before the command does its work, so that a
typo in `--out` cannot leave a registration code spent and no file to carry.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from node.errors import DomainError
from storage.errors import disk_full_translated

# What the operating system said, in words; any other error (a full disk, say) is not ours to name.
_READING = {
    errno.ENOENT: "找不到文件 {path}",
    errno.EACCES: "没有权限读取 {path}",
    errno.EPERM: "没有权限读取 {path}",
    errno.EISDIR: "{path} 是文件夹，不是文件",
    errno.ENOTDIR: "找不到文件 {path}：路径中的 {parent} 不是文件夹",
}
_WRITING = {
    errno.ENOENT: "无法写入 {path}：文件夹 {parent} 不存在",
    errno.EACCES: "无法写入 {path}：没有写入权限",
    errno.EPERM: "无法写入 {path}：没有写入权限",
    errno.EROFS: "无法写入 {path}：磁盘或U盘是只读的",
    errno.EISDIR: "无法写入 {path}：这是一个文件夹，请给出文件名",
    errno.ENOTDIR: "无法写入 {path}：路径中的 {parent} 不是文件夹",
}


class FileRefused(DomainError):
    code = "file_refused"


def open_for_reading(path: Path) -> BinaryIO:
    """A file read as it goes (a bundle with its scans can be large)."""
    with _in_words(path, _READING):
        return path.open("rb")


def read_bytes(path: Path) -> bytes:
    with open_for_reading(path) as source, _in_words(path, _READING):
        return source.read()


def read_text(path: Path) -> str:
    """A small UTF-8 text file (a password, a PIN), without its surrounding blanks."""
    try:
        return read_bytes(path).decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{path} 不是 UTF-8 文本文件") from exc


def check_writable(path: Path) -> None:
    """Before any work: the file can be created or replaced (its folder exists and takes files)."""
    blocking = _first_not_folder(path)
    if path.is_dir():
        problem = errno.EISDIR
    elif blocking is not None:
        problem = errno.ENOTDIR if blocking.exists() else errno.ENOENT
    elif not os.access(path.parent, os.W_OK):
        problem = errno.EACCES
    else:
        return
    raise _refusal(path, problem, _WRITING)


def check_folder(path: Path) -> None:
    """A data or demo folder that is to be made: it must be makeable, in a folder that takes files."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise FileRefused(f"无法使用文件夹 {path}：{place} 是文件，不是文件夹")
            if not os.access(place, os.W_OK):
                raise FileRefused(f"无法使用文件夹 {path}：没有写入 {place} 的权限")
            return


@contextmanager
def written_atomically(path: Path) -> Iterator[BinaryIO]:
    """A stick pulled out mid-write leaves the old file or none, never half a file under its name; the
    file is written as it is made, and on the stick before it is named."""
    check_writable(path)
    staged = path.with_name(path.name + ".part")
    try:
        with _in_words(path, _WRITING):
            out = staged.open("wb")
        with disk_full_translated(path.parent), out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


@contextmanager
def _in_words(path: Path, words: dict[int, str]) -> Iterator[None]:
    """What the system says of `path` inside the block, in words where `words` has them (as
    `storage.errors.disk_full_translated` does for a full disk); other errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno in words:
            raise _refusal(path, exc.errno, words) from exc
        raise


def _refusal(path: Path, problem: int, words: dict[int, str]) -> FileRefused:
    blocking = _first_not_folder(path) or path.parent
    return FileRefused(words[problem].format(path=path, parent=blocking))


def _first_not_folder(path: Path) -> Path | None:
    """The first folder on the way to `path` that is missing or is a file; None if all are folders."""
    for place in reversed(path.parents):
        if not place.is_dir():
            return place
    return None

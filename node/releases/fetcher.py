"""How ngclient reaches a release mirror: over HTTP from the parent, resuming a release archive where a cut
link left it (Range requests), or from a folder (a mirror copied onto a USB stick).

Only content-addressed files resume: a target's name begins with its SHA-256 (consistent snapshots), so
the bytes kept from an earlier try can only belong to that file. `timestamp.json` keeps its name as it
changes and is always fetched whole; it is a few hundred bytes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
from tuf.api.exceptions import DownloadError, DownloadHTTPError
from tuf.ngclient import FetcherInterface

CHUNK_BYTES = 64 * 1024
CONNECT_TIMEOUT_S = 5
# A 64 kbit/s line moves 8 KB a second: a read silent for this long is a cut line, not a slow one.
READ_TIMEOUT_S = 30
RETRIES = 8  # cuts survived within one try; the scheduler's next try resumes from the kept bytes anyway
CONTENT_ADDRESSED = re.compile(r"^[0-9a-f]{64}\.")


class MirrorFetcher(FetcherInterface):
    """`partial` holds what is received of each content-addressed file until ngclient has verified it
    (`forget`); `received_bytes` counts what crossed the wire, for the closing figures and the state page."""

    def __init__(self, partial: Path, *, retry_pause_s: float = 1.0):
        self.partial = partial
        self.retry_pause_s = retry_pause_s
        self.received_bytes = 0
        self._session = requests.Session()

    def _fetch(self, url: str) -> Iterator[bytes]:
        parsed = urlparse(url)
        if parsed.scheme == "file":
            return _read_folder(Path(unquote(parsed.path)))
        name = parsed.path.rsplit("/", 1)[-1]
        if CONTENT_ADDRESSED.match(name):
            return self._resumable(url, self.partial / name)
        return self._whole(url)

    def forget(self, name: str) -> None:
        """Drop the kept bytes of a file, once verified or once refused (a bad copy is not resumed)."""
        (self.partial / name).unlink(missing_ok=True)

    def _whole(self, url: str) -> Iterator[bytes]:
        answer = self._get(url, {})
        try:
            for chunk in answer.iter_content(CHUNK_BYTES):
                self.received_bytes += len(chunk)
                yield chunk
        except requests.RequestException as exc:
            raise DownloadError(f"连接在传输中断开：{url}") from exc

    def _resumable(self, url: str, kept: Path) -> Iterator[bytes]:
        kept.parent.mkdir(parents=True, exist_ok=True)
        if kept.exists():
            yield from _read_folder(kept)
        have = kept.stat().st_size if kept.exists() else 0
        cuts = 0
        while True:
            try:
                answer = self._get(url, {"Range": f"bytes={have}-"} if have else {})
                if answer.status_code == 416:  # everything was kept already
                    return
                skip = have if answer.status_code == 200 else 0  # a server that ignores Range sends it all
                with kept.open("ab") as out:
                    for chunk in answer.iter_content(CHUNK_BYTES):
                        self.received_bytes += len(chunk)
                        if skip:
                            chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                            if not chunk:
                                continue
                        out.write(chunk)
                        out.flush()
                        have += len(chunk)
                        yield chunk
                return
            except DownloadHTTPError:
                raise
            except (requests.RequestException, DownloadError) as exc:
                cuts += 1
                if cuts > RETRIES:
                    raise DownloadError(f"连接反复中断，已收到 {have} 字节，下次从这里续传：{url}") from exc
                time.sleep(self.retry_pause_s * min(cuts, 5))

    def _get(self, url: str, headers: dict[str, str]) -> requests.Response:
        try:
            answer = self._session.get(
                url,
                headers=headers | {"Accept-Encoding": "identity"},  # the bytes the signatures cover, as stored
                stream=True,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except requests.RequestException as exc:
            raise DownloadError(f"连不上 {url}") from exc
        if answer.status_code >= 400 and answer.status_code != 416:
            answer.close()
            raise DownloadHTTPError(f"{url} 答复 {answer.status_code}", answer.status_code)
        return answer


def _read_folder(path: Path) -> Iterator[bytes]:
    """A file of a mirror on a stick; a missing one answers as a web server would (ngclient stops looking
    for newer roots at a 404)."""
    try:
        source = path.open("rb")
    except FileNotFoundError:
        raise DownloadHTTPError(f"镜像中没有 {path.name}", 404) from None
    except OSError as exc:
        raise DownloadError(f"读不了 {path}") from exc
    with source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk

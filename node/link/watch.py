"""What a hub remembers between its children's sync requests, so that an idle pull reads almost nothing.

Every change that matters here is an event with an arrival number: an own event (heads to sign), a
trust event in an `all` stream (certificates and revocations cached by `CertTrust`), any event in a
child's scope (its scope's fingerprint), an event the child would receive (what its pull sends). So each
request reads the newest arrival, and the few rows past the one looked at last; what it finds there decides
what is looked up again. Per process: several hub processes on one database each keep their own, and each
sees what the others wrote through the log itself.

What a child pushed up lies in its own streams but never goes back down (`Scope.receives`): the pull that
follows its push would read it all to send none of it, at a city after each county's every relay. So the
watch notes, per child, the newest arrival it would receive, and a pull
reads only when that lies past the child's cursor.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from node.link.health import Memo
from provisioning.scope import Scope
from storage.database import db
from storage.models import EventRecord, table_name
from sync.log import FEED, EventLog

_NEWEST = f"SELECT MAX(arrival) FROM {table_name(EventRecord)}"
_SINCE = (  # each stream's newest arrival in a range, and how many arrived there
    f"SELECT origin, stream, MAX(arrival), COUNT(*) FROM {table_name(EventRecord)} "
    "WHERE arrival > {param} AND arrival <= {param} GROUP BY origin, stream"
)
BEHIND_LIMIT = 20_000  # arrivals: further behind than this, forget everything rather than read them all


class Watch:
    def __init__(self, log: EventLog):
        self._log = log
        self._lock = threading.Lock()
        self._seen: int | None = None  # every arrival up to this one has been looked at
        # stream prefix (`Scope.streams`) -> an arrival at or after the newest event in a stream named so
        # or starting so; registered prefixes only, each starting at the arrival seen when it was registered
        self._touched: dict[str, int] = {}
        # the same for what a child would receive: its (installation, streams) -> an arrival at or after the newest
        # event there it receives; its scope, by each of its stream prefixes, to ask of each event noted
        self._receivable: dict[tuple[str, tuple[str, ...]], int] = {}
        self._scopes: dict[str, dict[tuple[str, tuple[str, ...]], Scope]] = {}
        self._own = 0  # own events found so far (a count: a signing compares it before and after)
        self._signed = -1  # `_own` when the heads were signed last
        # (child installation, its streams) -> (arrival computed at, fingerprint): a scope that gains a stream
        # is another key, computed afresh
        self._digests: dict[tuple[str, tuple[str, ...]], tuple[int, str]] = {}
        self.contacts: Memo = {}  # `health`'s: each station's contact row, read at most once a minute

    def look(self) -> int:
        """The newest arrival; what arrived since the last look is noted first."""
        top = db.execute_sql(_NEWEST).fetchone()[0] or 0  # a prepared string: peewee's builder cost more
        with self._lock:
            if self._seen is None or top - self._seen > BEHIND_LIMIT:
                self._forget_all(top)
            elif top > self._seen:
                self._note(top)
        return top

    def _note(self, top: int) -> None:
        """What arrived since the last look, a row per stream: a pull of a thousand decisions asked each
        event's every stream prefix of each scope, which was half of what the hub spent answering it."""
        since = db.execute_sql(_SINCE.format(param=db.param), (self._seen, top)).fetchall()
        me, trust_changed = self._log.author.origin, False
        for origin, stream, arrival, count in since:
            self._own += count if origin == me else 0
            trust_changed |= stream == FEED
            for end in range(1, len(stream) + 1):
                if stream[:end] in self._touched:
                    self._touched[stream[:end]] = max(self._touched[stream[:end]], arrival)
                for key, scope in self._scopes.get(stream[:end], {}).items():
                    # an author not certified here yet may be by the time the child pulls: counted
                    if scope.receives(origin, stream) or scope.trust.binding(origin) is None:
                        self._receivable[key] = max(self._receivable[key], arrival)
        if trust_changed:  # what a child receives may change with it
            self._log.trust.forget()
            self._receivable = dict.fromkeys(self._receivable, top)
        self._seen = top

    def _forget_all(self, top: int) -> None:
        self._log.trust.forget()
        self._own += 1
        self._touched = dict.fromkeys(self._touched, top)
        self._receivable = dict.fromkeys(self._receivable, top)
        self._digests.clear()
        self._seen = top

    def touched(self, streams: tuple[str, ...]) -> int:
        """An arrival at or after the newest event in these streams (named so or starting so): a child
        whose cursor is there already has nothing to pull."""
        with self._lock:
            if self._seen is None:
                return 2**63
            for prefix in streams:
                self._touched.setdefault(prefix, self._seen)
            return max(self._touched[prefix] for prefix in streams)

    def receivable(self, scope: Scope) -> int:
        """An arrival at or after the newest event a child would receive in its scope: one whose cursor is
        there already has nothing to pull, whatever it pushed up since."""
        key = (scope.station.installation, scope.streams)
        with self._lock:
            if self._seen is None:
                return 2**63
            if key not in self._receivable:
                self._receivable[key] = self._seen
                for prefix in scope.streams:
                    self._scopes.setdefault(prefix, {})[key] = scope
            return self._receivable[key]

    @property
    def seen(self) -> int:
        """The newest arrival looked at (by `look`, in this thread or another; looked at now if none was)."""
        return self.look() if self._seen is None else self._seen

    def sign_heads(self) -> bool:
        """Sign own heads when own events arrived since the last signing, or the newest one of a stream
        nears half its lifetime; otherwise there is nothing to sign, and nothing is read. Whether it signed."""
        own = self._own
        if own == self._signed and self._log.clock.clock.now_ms() < self._log.heads_fresh_until_ms:
            return False
        self._log.sign_heads()
        with self._lock:
            if self._own == own:  # nothing new was noted while signing (it may have missed that)
                self._signed = own
        return True

    def fingerprint(self, child: str, streams: tuple[str, ...], top: int, compute: Callable[[], str]) -> str:
        """A child's scope's fingerprint, computed again only when an event arrived in its streams (or they
        changed)."""
        kept = self._digests.get((child, streams))
        if kept is not None and self.touched(streams) <= kept[0]:
            return kept[1]
        fingerprint = compute()
        self._digests[child, streams] = (top, fingerprint)
        return fingerprint


_watches: weakref.WeakKeyDictionary[EventLog, Watch] = weakref.WeakKeyDictionary()
_made = threading.Lock()


def watch_of(log: EventLog) -> Watch:
    """The watch of this event log, made on first use (one per log, and so per served node)."""
    with _made:
        if log not in _watches:
            _watches[log] = Watch(log)
        return _watches[log]

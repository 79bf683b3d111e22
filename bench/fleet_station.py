"""A simulated village station: its own keys, certificates, hash chain and signed heads, no database.

One process binds one database, so the fleet simulator cannot run hundreds of `Node`s; a
`SimStation` keeps what a station's sync needs in memory (its stream, the two cursors, what
it holds of the streams it receives) and speaks the real protocol through `sync.channel`:
signed requests, sealed bodies, batches cut at signed heads, pulled runs verified against
their authors' signatures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.records import application as record
from node.cases.events import FILED, entity
from node.cases.intake import Applicant, filed_payload
from node.catalogue.model import ServiceItem
from node.link.schedule import retry_after_s
from node.link.upstream import PULL_PATH, PUSH_PATH
from node.rules import querycode
from provisioning.identity import installation_id
from sync import canonical
from sync.batch import Batch, decode_batch, encode_batch
from sync.chain import GENESIS, link, sign_head, verify_batch
from sync.channel import Channel
from sync.errors import SyncError
from sync.event import make_event
from sync.fields import new_data_key
from sync.hlc import HybridClock, SystemClock
from sync.keys import SigningKey, VerifyingKey, generate_agreement_key, private_pem
from sync.request import PULL_CONTEXT, PUSH_CONTEXT
from sync.transport import HttpTransport, Refused

HEAD_TTL_MS = 7 * 24 * 3600 * 1000
MAX_TRIES = 200  # busy answers and failures in one round before the station gives up on it


@dataclass
class Stats:
    """What every station's requests came to, shared by all of them (threads)."""

    latencies_s: list[float] = field(default_factory=list)
    pushed_at: list[float] = field(default_factory=list)  # perf_counter when its county acknowledged each filing
    busy: int = 0  # 503 + Retry-After: backpressure, not an error
    errors: list[str] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # failed tries by code: `unreachable` while a hub is down
    lock: threading.Lock = field(default_factory=threading.Lock)

    def took(self, seconds: float) -> None:
        with self.lock:
            self.latencies_s.append(seconds)

    def acknowledged(self, filings: int) -> None:
        at = time.perf_counter()
        with self.lock:
            self.pushed_at += [at] * filings

    def backed_off(self) -> None:
        with self.lock:
            self.busy += 1

    def failed(self, what: str, code: str) -> None:
        with self.lock:
            self.errors.append(what)
            self.failures[code] += 1


@dataclass(frozen=True)
class Hub:
    """What a station knows of its county hub: where it is, its keys, the search key it shares."""

    url: str
    station: str
    installation: str
    agreement: ec.EllipticCurvePublicKey
    verifying: dict[str, VerifyingKey]  # origin -> key, for what comes down (the county's, the city's)
    lookup: bytes
    held: dict[tuple[str, str], tuple[int, str]]  # streams the station holds already (the trust streams)

    def state(self) -> dict:
        """Plain data for a fleet template (`bench/fleet_template.py`): the keys as DER, the url left out (a
        cloned fleet's hubs listen on ports of their own)."""
        return {
            "station": self.station,
            "installation": self.installation,
            "agreement": _public_der(self.agreement),
            "verifying": {origin: (key.algorithm, key.public_bytes()) for origin, key in self.verifying.items()},
            "lookup": self.lookup,
            "held": self.held,
        }

    @classmethod
    def restored(cls, state: dict, url: str) -> Hub:
        return cls(
            url,
            state["station"],
            state["installation"],
            serialization.load_der_public_key(state["agreement"]),
            {origin: VerifyingKey.from_public_bytes(*key) for origin, key in state["verifying"].items()},
            state["lookup"],
            state["held"],
        )


def _public_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _stand_in_tail_check(query_code: str, tail: str) -> str:
    """Of the form `intake.id_tail_check` gives, without its scrypt: nobody looks a simulated resident up on
    the query page, and 20 scrypts per station were most of the time it took to provision a city."""
    return hashlib.sha256(f"{query_code}/{tail}".encode()).hexdigest()


class SimStation:
    SAVED = ("station", "seq", "chain", "raws", "up", "down", "held", "received", "filed")  # besides keys and rng

    def __init__(self, name: str, region: str, items: list[ServiceItem], seed: int, keys=None):
        self.name, self.region, self.items = name, region, items
        self.signing, self.agreement = keys or (SigningKey.generate(), generate_agreement_key())
        self.installation = installation_id(self.signing.verifying_key.public_key)
        self.station = ""  # the code its county gives it at registration
        self.hub: Hub | None = None
        self.clock = HybridClock(SystemClock())
        self.rng = random.Random(seed)
        self.seq, self.chain, self.raws = 0, GENESIS, []  # own stream: raws[i] is seq i + 1
        self.up = 0  # own seq the hub acknowledged
        self.down = 0  # the hub's arrival number everything of ours up to is held here
        self.held: dict[tuple[str, str], tuple[int, str]] = {}
        self.received = 0  # events pulled in the station's own stream: its county's decisions
        self.filed = 0

    def state(self) -> dict:
        """Plain data for a fleet template: its private keys as PEM, its stream, cursors and random state, so
        that a restored station goes on exactly as this one would."""
        return {
            "name": self.name,
            "region": self.region,
            "signing": (self.signing.algorithm, self.signing.to_pem()),
            "agreement": private_pem(self.agreement),
            "rng": self.rng.getstate(),
            "clock": self.clock.last,
            **{name: getattr(self, name) for name in self.SAVED},
        }

    @classmethod
    def restored(cls, state: dict, items: list[ServiceItem], hub: Hub) -> SimStation:
        keys = (
            SigningKey.from_pem(*state["signing"]),
            serialization.load_pem_private_key(state["agreement"], password=None),
        )
        station = cls(state["name"], state["region"], items, seed=0, keys=keys)
        station.rng.setstate(state["rng"])
        station.clock.last = state["clock"]
        station.hub = hub
        for name in cls.SAVED:
            setattr(station, name, state[name])
        return station

    def enrolled(self, station: str, hub: Hub, down_cursor: int) -> None:
        self.station, self.hub, self.down, self.held = station, hub, down_cursor, dict(hub.held)

    def file(self, count: int) -> None:
        """`count` applications filed for residents, offline: events appended to the station's own stream."""
        recipients = {self.hub.installation: self.hub.agreement, self.installation: self.agreement.public_key()}
        today = dt.datetime.now(dt.UTC).date()
        for _ in range(count):
            self.filed += 1
            resident = record(self.rng, self.filed, self.region)
            number = f"{self.station}-{today:%Y%m%d}-{self.installation[2:6].upper()}{self.filed:05d}"
            code = querycode.make()
            payload = filed_payload(
                self.station,
                number,
                self.rng.choice(self.items),
                Applicant(resident["applicant"], resident["id_number"], resident["phone"], resident["address"]),
                new_data_key(),
                recipients,
                self.hub.lookup,
                operator="cun.agent",
                request_token=secrets.token_hex(16),
                query_code=code,
                tail_check=_stand_in_tail_check(code, resident["id_number"][-4:]),
            )
            self.seq += 1
            event = make_event(
                origin=self.installation,
                stream=self.station,
                seq=self.seq,
                hlc=self.clock.now(),
                type=FILED,
                entity=entity(number),
                payload=payload,
            )
            self.chain = link(self.chain, event.eid)
            self.raws.append(event.raw)

    def unsent(self) -> Batch:
        """Everything the hub has not acknowledged, as one run ending at a head signed now."""
        head = sign_head(
            self.signing,
            origin=self.installation,
            stream=self.station,
            seq=self.seq,
            chain=self.chain,
            signed_at=self.clock.now(),
            expires_at_ms=self.clock.clock.now_ms() + HEAD_TTL_MS,
        )
        return Batch(self.seq, ((head, tuple(self.raws[self.up : self.seq])),))

    def sync_round(self, stats: Stats) -> bool:
        """Push what is unsent, pull until caught up; after a failure, try the round again a little later."""
        for _ in range(MAX_TRIES):
            transport = HttpTransport(self.hub.url)
            try:
                self._round(self._channel(transport), stats)
                return True
            except SyncError as exc:
                stats.failed(f"{self.station}: {exc.code}: {exc}", exc.code)
                time.sleep(self.rng.uniform(2, 6))
            finally:
                transport.session.close()  # a hub's connections are for stations syncing now, not idle ones
        return False

    def _channel(self, transport: HttpTransport) -> Channel:
        return Channel(
            transport,
            self.signing,
            self.agreement,
            self.hub.agreement,
            self.station,
            self.installation,
            self.clock.clock.now_ms,
            lambda: "",  # the county published our certificates at enrolment: it always knows us
        )

    def _round(self, channel: Channel, stats: Stats) -> None:
        if self.seq > self.up:
            self._call(channel, stats, PUSH_PATH, PUSH_CONTEXT, encode_batch(self.unsent()))
            stats.acknowledged(self.seq - self.up)  # every event a station makes is a filing
            self.up = self.seq
        while True:
            asked = canonical.encode({"cursor": self.down})
            batch = decode_batch(self._call(channel, stats, PULL_PATH, PULL_CONTEXT, asked))
            for head, raws in batch.runs:
                self._keep(head, raws)
            self.down = batch.cursor
            if not batch.more:
                return

    def _call(self, channel: Channel, stats: Stats, path: str, context: bytes, plaintext: bytes) -> bytes:
        """One request; a busy hub is asked again after its Retry-After (with jitter), which is not an error."""
        while True:
            started = time.perf_counter()
            try:
                answer = channel.call(path, context, plaintext)
            except Refused as exc:
                if exc.code != "busy":
                    raise
                stats.backed_off()
                channel.transport.session.close()
                time.sleep(retry_after_s(float(exc.details["retry_after_s"]), self.rng))  # as a node does
                continue
            stats.took(time.perf_counter() - started)
            return answer

    def _keep(self, head, raws: tuple[bytes, ...]) -> None:
        """Verify a pulled run against its author's signature and what is held, as a station's ingest does."""
        key = (head.origin, head.stream)
        held_seq, held_chain = self.held.get(key, (0, GENESIS))
        verified = verify_batch(raws, head, self.hub.verifying[head.origin], held_seq=held_seq, held_chain=held_chain)
        self.held[key] = (head.seq, verified[-1].chain)
        if head.stream == self.station:  # not the trust streams: the city's `all` grows as counties enrol
            self.received += len(verified)

"""The composition root: one `Node` wires storage, the event log, trust and the scheduler.

Start-up order: configuration → identity and keys → database (refusing a schema
it would misread) → event log (clock resumed past every stored event, deferred
events of now-known types applied) → scheduler (only in `start`).
"""

from __future__ import annotations

import functools
import gc
import logging
import random
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import peewee as pw
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from node.cases.marks import mark_deadlines
from node.cases.notices import NoticeProjection, queue_new
from node.cases.projection import ApplicationProjection
from node.cases.retention import purge_personal_data
from node.catalogue.published import Reference, ReferenceProjection, publish_cross_region
from node.config import NodeConfig, write_config
from node.hub import province
from node.hub.callbacks import CallbackProjection, draw_due
from node.hub.filters import HUBS
from node.hub.outbox import send_due
from node.hub.province import ProvinceClient
from node.hub.rechecks import recheck
from node.hub.rectifications import RectificationProjection, open_rectifications
from node.hub.reminders import queue_reminders
from node.hub.sms import HttpSmsGateway, SmsGateway
from node.link import forks, schedule, status, upstream
from node.link.forks import ForkReportProjection
from node.link.restore import DataKeyGrantProjection
from node.releases.background import run_releases
from node.rules.notices import next_send_ms, print_due_ms
from node.seals.projection import SealProjection, countersign
from provisioning.authority import area_of
from provisioning.ca import create_ca_key, create_root
from provisioning.errors import ProvisioningError
from provisioning.granting import certify_own_installation
from provisioning.identity import Identity, Keys, create_identity, load_identity
from provisioning.operators import OperatorProjection
from provisioning.region import CHINA
from provisioning.renewal import own_expiry, renew_online, renewal_due
from provisioning.stations import (
    INSTALLATION_CREATED,
    STATION_CREATED,
    StationProjection,
    installation_entity,
    station_entity,
)
from provisioning.trust import CertTrust
from provisioning.trust_events import TrustProjection
from storage.blobs import BlobStore
from storage.database import bind, open_database, release, retried_when_busy
from storage.database import close as close_database
from storage.errors import DatabaseBusy, DiskFull
from storage.migrations import migrate, require_current
from storage.models import EventRecord
from sync.audit import audit_streams
from sync.cipher import point_bytes
from sync.errors import SyncError
from sync.hlc import Clock, HybridClock, SystemClock, unpack
from sync.log import Author, EventLog
from sync.projection import Registry

log = logging.getLogger(__name__)

HEAD_SIGNING_INTERVAL_S = 60
SYNC_TICK_S = 5  # how often the scheduler asks whether a sync is due (the backoff decides)
CERTIFICATE_CHECK_H = 6
DEADLINE_MARKING_S = 60  # dashboards' figures are never more than a minute old (an acceptance moves them too)
RETENTION_CHECK_H = 24
NOTIFY_S = 60  # a resident hears of a step within a minute or two of the county holding it (quiet hours apart)
COUNTERSIGN_S = 60  # a seal use's receipt time is signed within a minute of its arrival
FOLLOW_UP_S = 60  # a 差评 is a rectification case at the county within a minute of its arrival there
CALLBACK_DRAW_H = 1  # last month's 回访 sample is drawn within the hour its day comes
# Jobs' threads: a sync round (minutes, at a county relaying a storm) and the short jobs one after
# another beside it. Each thread may hold a database connection, so fewer is cheaper on a hub.
SCHEDULER_WORKERS = 2


def database_connections(config: NodeConfig) -> int:
    """The most connections a process needs at once: one per thread that may query (waitress's, the
    scheduler's, the main one, a sync round's read-ahead), so none ever waits for another's."""
    return config.threads + SCHEDULER_WORKERS + 2


@dataclass(frozen=True)
class NodeStatus:
    station: str
    installation: str
    level: str
    name: str
    region: str
    provisional: bool
    event_count: int
    last_event_at: str | None  # UTC, ISO 8601, from the newest event's HLC
    certificate_expires: str | None  # UTC date of this installation's signing certificate; None before enrolment
    certificate_warning: str | None  # set from 30 days before expiry
    trust_warning: str | None  # a parent's trust feed (revocations, certificates) has not been re-signed in time
    sync: status.LinkStatus | None = None  # the link to the parent; None at the top of the tree
    fork_warning: str | None = None  # an installation proven cloned: the county must look


def wall_time(hlc: HybridClock) -> datetime:
    """Now, by the clock the node's HLC reads (a frozen clock in tests)."""
    return datetime.fromtimestamp(hlc.clock.now_ms() / 1000, UTC)


class Node:
    def __init__(
        self,
        config: NodeConfig,
        identity: Identity,
        keys: Keys,
        events: EventLog,
        blobs: BlobStore,
        reference: Reference,
    ):
        self.config = config
        self.reference = reference
        self.identity = identity
        self.keys = keys
        self.events = events
        self.blobs = blobs
        self._scheduler: BackgroundScheduler | None = None
        self.syncing = threading.Lock()  # held by the round under way: the scheduler's, or one "sync now" started

    @classmethod
    def from_config(cls, config: NodeConfig, *, clock: Clock | None = None) -> Node:
        identity, keys = load_identity(config.data_dir)
        bind(open_database(config.database_url, database_connections(config)))
        require_current()
        hlc = HybridClock(clock or SystemClock(), max_drift_ms=config.max_clock_drift_s * 1000)
        trust = CertTrust(identity, keys.signing.verifying_key, lambda: hlc.clock.now_ms())
        reference = Reference(identity.region)
        applications = ApplicationProjection(
            reference.catalogue,
            reference.holidays,
            identity.installation,
            deciding_level=reference.deciding_level,
            signer_level=lambda origin: getattr(trust.binding(origin), "level", ""),
            signer_station=lambda origin: getattr(trust.binding(origin), "station", ""),
            statistics=identity.level in HUBS,
        )
        events = EventLog(
            Author(identity.installation, keys.signing),
            trust,
            Registry(
                (
                    StationProjection(trust),
                    TrustProjection(trust),
                    OperatorProjection(trust),
                    ReferenceProjection(trust, reference, applications.count_deadline),
                    applications,
                    DataKeyGrantProjection(identity.installation),
                    SealProjection(trust),
                    ForkReportProjection(identity.installation, trust),
                    NoticeProjection(),
                    RectificationProjection(),
                    CallbackProjection(),
                )
            ),
            hlc,
            head_interval=config.head_interval,
            head_ttl_ms=config.head_ttl_s * 1000,
            area_of=functools.partial(area_of, identity.level),
        )
        events.on_fork = functools.partial(forks.report, events, identity.station)
        events.resume()
        if settled := events.apply_deferred():
            log.info("applied %d stored events of types this version now knows", settled)
        return cls(config, identity, keys, events, BlobStore(Path(config.data_dir) / "blobs"), reference)

    def start(self) -> None:
        """Periodic jobs run in this process; `web.create_app` never starts them, only `serve` does, and not
        with `scheduler = "off"`: the extra processes of a hub serve requests only (docs/operations.md)."""
        if self.config.scheduler == "off":
            log.info(
                "scheduler off in this process: %s %s serves requests only", self.identity.level, self.identity.name
            )
            return
        workers = ThreadPoolExecutor(SCHEDULER_WORKERS)
        self._scheduler = BackgroundScheduler(timezone=UTC, executors={"default": workers})
        self._every("sign_heads", self.events.sign_heads, HEAD_SIGNING_INTERVAL_S, at_start=False)
        self._every("watch_certificate", self.watch_certificate, CERTIFICATE_CHECK_H * 3600)
        self._every("mark_deadlines", self.mark_deadlines, DEADLINE_MARKING_S)
        self._every("readmit_vouched", self.events.readmit_vouched, HEAD_SIGNING_INTERVAL_S)
        self._every("readmit_on_time", self.events.readmit_on_time, HEAD_SIGNING_INTERVAL_S)
        if self.identity.level == "village":
            self._every("purge_personal_data", self.purge_personal_data, RETENTION_CHECK_H * 3600)
        if self.identity.level == "county":
            self._every("countersign_seal_uses", lambda: countersign(self), COUNTERSIGN_S)
            self._every("recheck_rules", lambda: recheck(self, self.reference.catalogue()), NOTIFY_S)
            self._every("follow_up_ratings", self.follow_up, FOLLOW_UP_S)
            self._every("draw_callbacks", self.draw_callbacks, CALLBACK_DRAW_H * 3600)
        if self.identity.level == "city":
            self._every("publish_cross_region", self.publish_cross_region, NOTIFY_S)
        if self.identity.level == "city" and self.config.province_url:
            client, rng = ProvinceClient(self.config.province_url, self.config.province_token), random.Random()
            now_ms = self.events.clock.clock.now_ms
            self._every("forward_to_province", lambda: province.forward(self, client, now_ms(), rng), NOTIFY_S)
        if self.identity.level == "county" and self.config.sms_gateway_url:
            gateway, rng = HttpSmsGateway(self.config.sms_gateway_url), random.Random()
            self._every("notify_residents", lambda: self.notify(gateway, rng), NOTIFY_S)
        else:  # no gateway here: the notices of what this station filed are printed when its hub stays silent
            self._every("queue_printed_notices", self.queue_printed_notices, NOTIFY_S)
        self._every("releases", lambda: run_releases(self), self.config.update_interval_s, at_start=False)
        if self.identity.parent_url:
            rng = random.Random()
            self._every("sync", lambda: self._sync_if_due(rng), min(self.config.sync_interval_s, SYNC_TICK_S))
        self._scheduler.start()
        log.info("node started: %s %s", self.identity.level, self.identity.name)

    def warm_up(self) -> None:
        """Load, on a thread of its own, what a person's first paper and first seal would otherwise wait for
        (reportlab, the font and the QR encoder; pyHanko, and a rehearsal signature with a throwaway key):
        seconds on an old PC, spent while the first person logs in."""
        if self.config.scheduler == "off":
            return  # a hub's extra processes serve sync, not papers

        def load() -> None:
            from node.printing import layout
            from node.seals import pades

            layout.warm()
            pades.rehearse()
            gc.collect()
            gc.freeze()  # what start-up made lives as long as the process: no collection walks it again

        threading.Thread(target=load, name="warm-up", daemon=True).start()

    def _every(self, name: str, job, seconds: int, at_start: bool = True) -> None:
        """A periodic job; a run that is late or slow is neither repeated back to back nor overlapped, and a
        run waiting for a free worker still runs (`misfire_grace_time=None`) however late. SQLite locked by
        a long push is tried again a few times, then left to the next run (a warning, not an error); a full
        disk is said in one line. Its connection goes back to the pool when it ends."""
        first = {"next_run_time": datetime.now(UTC)} if at_start else {}  # None would add it paused

        def run() -> None:
            try:
                retried_when_busy(job)
            except DatabaseBusy as exc:
                log.warning("%s put off: %s", name, exc)
            except DiskFull as exc:
                log.error("%s: %s", name, exc)
            finally:
                release()

        self._scheduler.add_job(
            run,
            "interval",
            seconds=seconds,
            id=name,
            name=name,  # logs name the job, not the wrapper
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            **first,
        )

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.events.sign_heads()
        log.info("node stopped")

    def watch_certificate(self) -> None:
        """Warn weeks before the certificate expires, and renew it at the hub that issued it when due."""
        if not renewal_due(self.identity, self.now()):
            return
        log.warning("certificate expires %s: renewing", own_expiry(self.identity).date())
        try:
            expiry = renew_online(self.events, self.identity, self.keys, self.now())
            log.info("certificate renewed until %s", expiry.date())
        except (ProvisioningError, SyncError) as exc:  # offline or refused: try again at the next check
            log.warning("certificate renewal failed: %s", exc)

    def mark_deadlines(self) -> dict[str, int]:
        """Mark running applications due soon or overdue, by today's Beijing date and this node's holidays."""
        counts = mark_deadlines(self.now().astimezone(CHINA).date(), self.reference.holidays())
        if counts["overdue"]:
            log.warning("applications overdue: %d, due soon: %d", counts["overdue"], counts["due_soon"])
        return counts

    def notify(self, gateway: SmsGateway, rng: random.Random) -> int:
        """Queue the notices of new application events and send those due; how many went out."""
        now_ms = self.events.clock.clock.now_ms()
        queue_new(self, self.reference.catalogue(), now_ms, next_send_ms)
        queue_reminders(self, now_ms)
        return send_due(self, gateway, now_ms, rng)

    def follow_up(self) -> int:
        """A county's 差评整改: open a case for every 差评 that has none; how many were opened."""
        today = self.now().astimezone(CHINA).date()
        opened = open_rectifications(self, today, self.reference.holidays(), self.reference.catalogues())
        if opened:
            log.info("rectification cases opened for low ratings: %d", opened)
        return opened

    def draw_callbacks(self) -> int | None:
        """A county's 办件回访: draw last month's sample once its day has come; how many cases it holds."""
        drawn = draw_due(self, self.now().astimezone(CHINA).date())
        if drawn:
            log.info("call-back sample of last month drawn: %d cases", drawn)
        return drawn

    def publish_cross_region(self) -> tuple[int, int] | None:
        """The city's 通办 list, published again when a county's catalogue changed what it marks 跨区域通办."""
        with self.events.transaction():
            published = publish_cross_region(self.events, self.identity)
        if published:
            log.info("跨区域通办 list version %d published: %d items", *published)
        return published

    def queue_printed_notices(self) -> int:
        """Queue the notices of what this station filed, to print if no word of their SMS comes back in time."""
        now_ms = self.events.clock.clock.now_ms()
        return queue_new(self, self.reference.catalogue(), now_ms, print_due_ms, filed_here=True)

    def purge_personal_data(self) -> int:
        """Purge residents' data of cases delivered more than `retention_days` ago (village stations only)."""
        purged = purge_personal_data(self.blobs, self.now().astimezone(CHINA).date(), self.config.retention_days)
        if purged:
            log.info("personal data purged from %d closed applications", purged)
        return purged

    def sync_once(self) -> upstream.RoundReport:
        """One round with the parent now, on this thread, as the benchmark's stations run it (`onetrip sync` asks
        `upstream.sync_once` itself, for its choice of hub; "sync now" runs `sync_in_background`)."""
        return upstream.sync_once(self)

    def _sync_if_due(self, rng: random.Random) -> None:
        if self.syncing.acquire(blocking=False):  # else a round "sync now" started is under way
            try:
                schedule.sync_if_due(self, rng)
            finally:
                self.syncing.release()

    def sync_in_background(self) -> bool:
        """ "Sync now": a round on a thread of its own, so that the page returns at once whatever the parent
        does; its outcome is recorded on the link, for the page to show. False if a round is under way."""
        if not self.syncing.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                upstream.sync_once(self)
            except upstream.ROUND_FAILURES:
                pass  # recorded on the link, in words, for the page
            except Exception:
                log.exception("sync now failed")
            finally:
                release()
                self.syncing.release()

        threading.Thread(target=run, name="sync-now", daemon=True).start()
        return True

    def now(self) -> datetime:
        return wall_time(self.events.clock)

    def check(self) -> list[str]:
        """Re-verify every stored chain and latest signed head; the problems found, if any."""
        return audit_streams(self.events.trust, self.events.latest_head)

    def status(self) -> NodeStatus:
        count, last_hlc = EventRecord.select(pw.fn.COUNT(EventRecord.arrival), pw.fn.MAX(EventRecord.hlc)).scalar(
            as_tuple=True
        )
        last_at = None
        if last_hlc:
            last_at = datetime.fromtimestamp(unpack(last_hlc)[0] / 1000, UTC).isoformat(timespec="seconds")
        ident = self.identity
        expiry = own_expiry(ident)
        warning = None
        if expiry is not None and renewal_due(ident, self.now()):
            warning = f"本机证书将于 {expiry:%Y-%m-%d} 到期：联网时会自动续期，也可运行 onetrip renew"
        stale = self.events.stale_feeds()
        trust_warning = None
        if stale:
            since = min(unpack(h.signed_at)[0] for h in stale) / 1000
            trust_warning = (
                f"上级的信任数据自 {datetime.fromtimestamp(since, UTC):%Y-%m-%d} 起未再更新，吊销信息可能已过时："
                "请联网同步，或运行 onetrip trust-refresh"
            )
        return NodeStatus(
            ident.station,
            ident.installation,
            ident.level,
            ident.name,
            ident.region,
            ident.provisional,
            count,
            last_at,
            expiry.date().isoformat() if expiry else None,
            warning,
            trust_warning,
            status.link_status(self),
            forks.warning(ident.installation),
        )


def initialise(
    config: NodeConfig, *, level: str, name: str, region: str, algorithm: str, session_key: bytes | None = None
) -> Identity:
    """`onetrip init` (and the setup page): identity and keys, settings, schema, and the station's first events.

    All or nothing: if any step fails, the data dir it made is removed, so the same
    command can simply be run again.
    """
    if config.database:  # an unreachable hub database fails before any file is written
        open_database(config.database).connect()
    identity, keys = create_identity(
        config.data_dir, level=level, name=name, region=region, algorithm=algorithm, session_key=session_key
    )
    try:
        _first_start(config, identity, keys)
    except BaseException:
        close_database()
        shutil.rmtree(config.data_dir, ignore_errors=True)
        raise
    return identity


def _first_start(config: NodeConfig, identity: Identity, keys: Keys) -> None:
    settings = {"host": config.host, "port": config.port}
    if config.database:
        settings["database"] = config.database
    write_config(config.data_dir, settings)
    bind(open_database(config.database_url))
    migrate()
    node = Node.from_config(config)
    with node.events.transaction():
        node.events.append(
            STATION_CREATED,
            station_entity(identity.station),
            {
                "code": identity.station,
                "name": identity.name,
                "level": identity.level,
                "region": identity.region,
                "parent": None,
            },
            stream=identity.station,
        )
        node.events.append(
            INSTALLATION_CREATED,
            installation_entity(identity.installation),
            {
                "installation": identity.installation,
                "station": identity.station,
                "algorithm": identity.algorithm,
                "signing_key": keys.signing.verifying_key.public_bytes().hex(),
                "agreement_key": point_bytes(keys.agreement.public_key()).hex(),
            },
            stream=identity.station,
        )
    if identity.level in ("city", "county"):
        ca_key = create_ca_key(config.data_dir)
        if identity.level == "city":  # the root of the province's trust, certifying its own installation
            root = create_root(identity, ca_key, node.now())
            certify_own_installation(node.events, identity, keys, ca_key, root, node.now())
    node.events.sign_heads()

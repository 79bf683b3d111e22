"""Reference data from above: the service catalogue and the holiday table a county or city publishes.

Both are events in the publisher's `all` stream, so they reach a station only from its ancestors,
signed, and every node holds every version. A node goes by what its own ancestors (or itself)
published: the nearest publisher's newest catalogue, and the holiday table with the highest version.
Until any arrives, the sample catalogue and the seed holiday table shipped with the code stand in,
so a standalone station can still be shown.

A new catalogue publication must keep every item version of the one before it unchanged:
applications keep the version they were filed under, and their deadlines count by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import peewee as pw

from node.catalogue.data import read_seed_holidays, sample_catalogue
from node.catalogue.importing import load_json
from node.catalogue.model import Catalogue, cross_region_list, to_json
from node.catalogue.spreadsheet import load_csv
from node.errors import DomainError
from node.rules.holidays import HolidayTable, table_from_json, table_to_json
from provisioning.identity import Identity
from provisioning.region import contains
from provisioning.trust import TRUST_STREAM, CertTrust
from storage.database import forget_memo, transaction_memo
from storage.models import Application, ReferenceData, Station, forget_rows
from sync.event import Event
from sync.log import EventLog
from sync.projection import RuleViolation

T = TypeVar("T")

CATALOGUE, HOLIDAYS, CROSS_REGION = "catalogue", "holidays", "cross_region"
PUBLISHED = {
    CATALOGUE: "catalogue.published",
    HOLIDAYS: "holiday.published",
    CROSS_REGION: "catalogue.cross_region_published",  # the city's 通办 list (`model.cross_region_list`)
}
KIND_NAMES = {CATALOGUE: "事项清单", HOLIDAYS: "节假日表", CROSS_REGION: "跨区域通办事项清单"}
LISTS = (CATALOGUE, CROSS_REGION)  # kinds in the catalogue's form, versioned by their publisher
RUNNING = ("accepted", "in_review", "suspended")  # applications whose deadline a new table may move


class PublicationRefused(DomainError):
    code = "publication_refused"


@dataclass(frozen=True)
class Source:
    """Where a node's reference data comes from: a publisher's version, or what ships with the code."""

    publisher: str | None  # None: the shipped sample or seed
    version: int


def dropped_versions(before: Catalogue, after: Catalogue) -> list[str]:
    """Item versions `before` has that `after` lacks or changed: applications filed under them would be lost."""
    dropped = []
    for code, versions in before.versions.items():
        kept = {item.version: item for item in after.versions.get(code, ())}
        dropped += [f"{code} 第 {item.version} 版" for item in versions if kept.get(item.version) != item]
    return dropped


def _memoised(key: tuple, compute: Callable[[], T]) -> T:
    """`compute()` once per write transaction (`transaction_memo`; none outside one): ReferenceProjection
    forgets the memo when it changes the rows. A thousand acceptances ask the catalogue, the holiday table
    and the deciding level each a thousand times: one look-up each."""
    memo = transaction_memo()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


@lru_cache(maxsize=16)
def _parse(kind: str, body: str) -> Catalogue | HolidayTable:
    return load_json(body) if kind in LISTS else table_from_json(body)


@lru_cache(maxsize=16)
def _with_list(own: str | None, listed: str) -> Catalogue:
    """A catalogue (the shipped sample when None) with a 通办 list, merged once per pair of versions."""
    catalogue = sample_catalogue() if own is None else _parse(CATALOGUE, own)
    return catalogue.with_cross_region(_parse(CROSS_REGION, listed))


class Reference:
    """The catalogue and holiday table this node goes by, chosen afresh on each call (a handful of rows),
    parsed once per version. Inside a write transaction the choice is memoised: applying a thousand
    acceptances counts a thousand deadlines, and choosing cost more than counting (four queries each)."""

    def __init__(self, region: str):
        self.region = region

    def catalogue(self) -> Catalogue:
        """The nearest publisher's newest catalogue, with the city's 通办 list: what this node files and reads."""
        return _memoised(("catalogue", self.region), self._catalogue)

    def _catalogue(self) -> Catalogue:
        row, listed = self._chosen(CATALOGUE), self._chosen(CROSS_REGION)
        if listed is not None:
            return _with_list(None if row is None else row.body, listed.body)
        return sample_catalogue() if row is None else _parse(CATALOGUE, row.body)

    def cross_region(self) -> Catalogue | None:
        """The city's newest 通办 list, if one has arrived."""
        row = self._chosen(CROSS_REGION)
        return None if row is None else _parse(CROSS_REGION, row.body)

    def catalogues(self) -> list[Catalogue]:
        """The catalogue this node goes by, then every publisher's newest: a city names the items of its
        counties' catalogues too."""
        rows = (
            ReferenceData.select(ReferenceData.publisher, pw.fn.MAX(ReferenceData.version))
            .where(ReferenceData.kind == CATALOGUE)
            .group_by(ReferenceData.publisher)
        )
        newest = (ReferenceData.get_by_id((CATALOGUE, publisher, version)) for publisher, version in rows.tuples())
        return [self.catalogue(), *(_parse(CATALOGUE, row.body) for row in newest)]

    def deciding_level(self, code: str, version: int, station: str) -> str | None:
        """Who decides an item version an application of `station` was filed under: as the catalogues of
        the station's own publishers say, the nearest and newest first (versions are never dropped), or
        the shipped sample before any arrived; None if no catalogue here holds that version."""
        for catalogue in self._catalogues_over(station.partition("-")[0]):
            try:
                return catalogue.item(code, version).level
            except KeyError:
                continue
        return None

    def _catalogues_over(self, region: str) -> list[Catalogue]:
        return _memoised(("catalogues over", region), lambda: self._catalogues_of(region))

    def _catalogues_of(self, region: str) -> list[Catalogue]:
        rows = (
            ReferenceData.select(ReferenceData.publisher, ReferenceData.region, pw.fn.MAX(ReferenceData.version))
            .where(ReferenceData.kind == CATALOGUE)
            .group_by(ReferenceData.publisher, ReferenceData.region)
            .tuples()
        )
        nearest = sorted((r for r in rows if contains(r[1], region)), key=lambda r: -len(r[1]))
        found = [_parse(CATALOGUE, ReferenceData.get_by_id((CATALOGUE, p, v)).body) for p, _, v in nearest]
        found = found or [sample_catalogue()]
        if (listed := self.cross_region()) is not None:  # a 通办 case's item, where its county's catalogue is not
            found = [*found, listed]
        return found

    def holidays(self) -> HolidayTable:
        return _memoised(("holidays", self.region), self._holidays)

    def _holidays(self) -> HolidayTable:
        row = self._chosen(HOLIDAYS)
        return read_seed_holidays() if row is None else _parse(HOLIDAYS, row.body)

    def source(self, kind: str) -> Source:
        row = self._chosen(kind)
        if row is not None:
            return Source(row.publisher, row.version)
        return Source(None, read_seed_holidays().version if kind == HOLIDAYS else 0)

    def _chosen(self, kind: str) -> ReferenceData | None:
        return _memoised(("reference", self.region, kind), lambda: self._choose(kind))

    def _choose(self, kind: str) -> ReferenceData | None:
        """A catalogue from the nearest publisher (a county's over its city's), its newest; a holiday table
        by the highest version (the calendar is national; whoever published the latest one is right)."""
        rows = ReferenceData.select(ReferenceData.publisher, ReferenceData.region, ReferenceData.version).where(
            ReferenceData.kind == kind
        )
        mine = [row for row in rows if contains(row.region, self.region)]
        if not mine:
            return None
        rank = (lambda r: (len(r.region), r.version)) if kind in LISTS else (lambda r: (r.version, len(r.region)))
        best = max(mine, key=rank)
        return ReferenceData.get_by_id((kind, best.publisher, best.version))


def read_document(kind: str, filename: str, data: bytes, bundles: bytes = b"") -> Catalogue | HolidayTable:
    """A catalogue from JSON, or from the CSV sheets counties keep (items, and bundles beside them), or a
    holiday table from JSON; every mistake is reported at once by the importers."""
    if kind == HOLIDAYS:
        return table_from_json(data)
    return load_csv(data, bundles) if filename.lower().endswith(".csv") else load_json(data)


def publish(events: EventLog, identity: Identity, kind: str, document: Catalogue | HolidayTable) -> int:
    """Publish a catalogue or holiday table in this hub's `all` stream; the version it was given.

    Refused, with nothing written, if it would roll back or drop what applications depend on."""
    if identity.level not in ("county", "city"):
        raise PublicationRefused(f"只有县级、市级枢纽可以发布{KIND_NAMES[kind]}；本站点的上级发布后会同步到这里")
    if kind == CROSS_REGION and identity.level != "city":
        raise PublicationRefused("跨区域通办事项清单由市级汇总各县的通办事项后发布")
    station = identity.station
    latest = (
        ReferenceData.select(ReferenceData)
        .where((ReferenceData.kind == kind) & (ReferenceData.publisher == station))
        .order_by(ReferenceData.version.desc())
        .first()
    )
    if kind in LISTS:
        version, body = (latest.version + 1 if latest else 1), to_json(document)
    else:
        version, body = document.version, table_to_json(document)
    if problem := _problem(kind, latest, version, body):
        raise PublicationRefused(problem)
    events.append(PUBLISHED[kind], f"{kind}:{station}", {"version": version, "document": body}, stream=TRUST_STREAM)
    return version


def publish_cross_region(events: EventLog, identity: Identity) -> tuple[int, int] | None:
    """The city gathers its counties' 通办 items from the newest catalogue each published (all of which it
    holds: a county's `all` stream goes up) and publishes them as one list every station receives; the
    version, and how many items it lists. None when the list would be the last one again, or empty: the city
    does this every minute (`Node.publish_cross_region`), and on the command line."""
    newest = (
        ReferenceData.select(ReferenceData.publisher, ReferenceData.region, pw.fn.MAX(ReferenceData.version))
        .where(ReferenceData.kind == CATALOGUE)
        .group_by(ReferenceData.publisher, ReferenceData.region)
        .tuples()
    )
    names = dict(Station.select(Station.code, Station.name).tuples())
    counties = {
        region: (
            names.get(publisher, region),
            _parse(CATALOGUE, ReferenceData.get_by_id((CATALOGUE, publisher, version)).body),
        )
        for publisher, region, version in newest
        if len(region) == 6 and not region.endswith("00") and contains(identity.region, region)
    }
    latest = (
        ReferenceData.select()
        .where((ReferenceData.kind == CROSS_REGION) & (ReferenceData.publisher == identity.station))
        .order_by(ReferenceData.version.desc())
        .first()
    )
    listed = cross_region_list(counties, _parse(CROSS_REGION, latest.body) if latest else None)
    if not listed.versions or (latest is not None and to_json(listed) == latest.body):
        return None
    return publish(events, identity, CROSS_REGION, listed), len(listed.versions)


def _problem(kind: str, latest: ReferenceData | None, version: int, body: str) -> str | None:
    """Why a publication may not follow `latest` of the same publisher, in Chinese; None if it may."""
    if latest is None:
        return None
    if version <= latest.version:
        return f"{KIND_NAMES[kind]}版本 {version} 不高于已发布的版本 {latest.version}：不能回退，请提高版本号"
    if kind in LISTS and (dropped := dropped_versions(_parse(kind, latest.body), _parse(kind, body))):
        return "新的事项清单删除或改动了已有办件所依据的事项版本：" + "、".join(dropped[:10])
    return None


class ReferenceProjection:
    """Keeps every publication; a new one for this node recounts the deadlines it may move."""

    event_types = frozenset(PUBLISHED.values())

    def __init__(self, trust: CertTrust, reference: Reference, recount: Callable[[Application], None]):
        self.trust = trust
        self.reference = reference
        self.recount = recount

    def apply(self, event: Event) -> None:
        forget_memo()  # the reference chosen in this transaction may change
        kind = next(k for k, event_type in PUBLISHED.items() if event_type == event.type)
        author = self.trust.binding(event.origin)
        if author is None or event.stream != TRUST_STREAM or event.entity != f"{kind}:{author.station}":
            raise RuleViolation(f"{KIND_NAMES[kind]}只能由县级或市级在本级的 all 事件流中发布")
        if kind == CROSS_REGION and author.level != "city":
            raise RuleViolation("跨区域通办事项清单只能由市级发布")
        payload = event.payload
        try:
            document = _parse(kind, payload["document"])
        except DomainError as exc:
            raise RuleViolation(f"{KIND_NAMES[kind]}无效：{exc}") from exc
        version = payload["version"]
        if kind == HOLIDAYS and version != document.version:
            raise RuleViolation("节假日表的发布版本与表内版本不一致")
        latest = (
            ReferenceData.select()
            .where((ReferenceData.kind == kind) & (ReferenceData.publisher == author.station))
            .order_by(ReferenceData.version.desc())
            .first()
        )
        if problem := _problem(kind, latest, version, payload["document"]):
            raise RuleViolation(problem)
        ReferenceData.insert(
            kind=kind,
            publisher=author.station,
            region=author.region,
            version=version,
            body=payload["document"],
            eid=event.eid,
        ).execute()
        if contains(author.region, self.reference.region):
            self._recount(kind)

    def _recount(self, kind: str) -> None:
        """A new holiday table may move any running deadline; a catalogue only fills those it lacked."""
        forget_rows()  # what a run of events holds back of the rows, written before they are read here
        running = Application.select().where(Application.state.in_(RUNNING) & Application.accepted_on.is_null(False))
        if kind in LISTS:
            running = running.where(Application.due.is_null())
        for row in running:
            self.recount(row)
            row.save()

    def reset(self, entity_name: str | None) -> None:
        forget_memo()
        query = ReferenceData.delete()
        if entity_name is not None:
            kind, _, publisher = entity_name.partition(":")
            query = query.where((ReferenceData.kind == kind) & (ReferenceData.publisher == publisher))
        query.execute()

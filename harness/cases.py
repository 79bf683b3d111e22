"""Applications as a village station and a county hub write them: signed streams a test sends in any order."""

from __future__ import annotations

import hashlib

from node.cases.intake import Applicant, file_application
from node.cases.projection import ApplicationProjection
from node.catalogue.data import read_seed_holidays, sample_catalogue
from provisioning.recipients import issuer_recipients
from sync.chain import GENESIS, link, sign_head
from sync.event import Event, make_event
from sync.keys import SigningKey
from sync.projection import Registry

STATION = "511302001001-01"
DAY_MS = 24 * 3600 * 1000
T0 = 1_795_000_000_000  # Wednesday 18 November 2026, 19:06 in Beijing


class Stream:
    """One installation's events in the village's stream, chained and signed as a sender would."""

    def __init__(self, origin: str):
        self.origin, self.key, self.events, self.chain = origin, SigningKey.generate(), [], GENESIS

    def add(self, type_: str, number: str, payload: dict, *, day: float, deps: tuple[Event, ...] = ()) -> Event:
        event = make_event(
            origin=self.origin,
            stream=STATION,
            seq=len(self.events) + 1,
            hlc=int(T0 + day * DAY_MS) << 16,
            type=type_,
            entity=f"application:{number}",
            payload=payload,
            deps=[d.eid for d in deps],
        )
        self.chain = link(self.chain, event.eid)
        self.events.append((event, self.chain))
        return event

    def send(self, log, upto: int) -> None:
        """Everything up to seq `upto`, with a head signed there."""
        event, chain = self.events[upto - 1]
        head = sign_head(
            self.key, origin=self.origin, stream=STATION, seq=upto, chain=chain, signed_at=1, expires_at_ms=2**41
        )
        log.ingest([e.raw for e, _ in self.events[:upto]], head)


def filing(number: str, item_code: str, bundle: str | None = None) -> dict:
    return {
        "number": number,
        "station": STATION,
        "item": {"code": item_code, "version": sample_catalogue().item(item_code).version},
        "bundle": bundle,
        "sealed": {"name": "c2VhbGVk"},  # stands for a field token
        "keys": {},
        "lookups": {"id_number": "0" * 64, "name": "1" * 64},
        "masked_id": "110***********002X",
        "request_token": number[-8:].rjust(32, "0"),
        "operator": "cun.agent",
    }


def item():
    return next(i for i in sample_catalogue().current() if i.proxy_allowed and i.promised_limit.days > 0)


def case_log(make_log):
    """A log applying applications (the `make_log` fixture's), trusting a village and a county installation."""
    village, county = Stream("i-village"), Stream("i-county")
    projection = ApplicationProjection(
        sample_catalogue,
        read_seed_holidays,
        "i-hub",
        deciding_level=lambda code, version, station: sample_catalogue().item(code, version).level,
        signer_level={"i-village": "village", "i-county": "county"}.get,
    )
    log = make_log(
        "i-hub",
        SigningKey.generate(),
        {s.origin: s.key.verifying_key for s in (village, county)},
        registry=Registry((projection,)),
    )
    log.clock.clock.set_ms(T0 + 7 * DAY_MS)  # the hub hears of the cases after they happened, not days before
    return log, village, county


def a_case(village: Stream, county: Stream, number: str, blob: str = "ab" * 32) -> None:
    """Filed Wednesday, a scan attached Thursday; accepted Wednesday evening, decided the next Monday,
    delivered and rated two stars: the attachment is concurrent with the county's steps."""
    filed = village.add("application.filed", number, filing(number, item().code, "newborn"), day=0)
    village.add(
        "material.attached",
        number,
        {"number": number, "material": "户口簿", "blob": blob, "content_type": "image/png", "size": 1, "by": "x"},
        day=1,
        deps=(filed,),
    )
    accepted = county.add("application.accepted", number, {"by": "clerk"}, day=0.1, deps=(filed,))
    decided = county.add("application.decided", number, {"by": "clerk", "approved": True}, day=5, deps=(accepted,))
    delivered = county.add("application.delivered", number, {"by": "clerk"}, day=5.1, deps=(decided,))
    county.add("application.rated", number, {"stars": 2, "comment": "等太久"}, day=6, deps=(delivered,))


# Our resident of the integration tests (a Beijing-issued ID number born 1949-12-31, checksum X).
RESIDENT = Applicant("张秀英", "11010519491231002X", "138 0013 8000", "四川省南充市顺庆区搬罾街道青山村3组12号")


def file(node, token="t-1", applicant=RESIDENT, consent=True):
    token = hashlib.md5(token.encode()).hexdigest()  # a request token has the form new_request_token makes
    return file_application(
        node.events,
        node.identity,
        node.keys,
        sample_catalogue(),
        issuer_recipients(node.identity),
        item_code=item().code,
        applicant=applicant,
        consent=consent,
        operator="cun.agent",
        request_token=token,
        now=node.now(),
    )

"""The scheduler's release job: at the city, keep the timestamp fresh; below it, fetch and verify the release
meant for this node (and at a hub, its children's), and stage it where `update_prefix` is set. The switch waits for a
quiet moment or the admin's word (`onetrip update switch`): it stops the service, which this process is."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

from node.context import Context
from node.releases import client, staging
from node.releases.errors import ReleaseRefused, UpdateRefused, UpdateUnavailable
from node.releases.repository import Repository, load_signer, refresh_timestamp

log = logging.getLogger(__name__)
ONLINE_KEY = "online.key"  # the city's snapshot and timestamp key, in DATA_DIR/releases/, 0600


def place_of(node: Context) -> client.Place:
    return client.Place(node.config.data_dir, node.identity.station, node.identity.region, node.identity.level)


def run_releases(node: Context) -> None:
    place = place_of(node)
    if node.identity.level == "city":
        key = place.folder / ONLINE_KEY
        try:
            if key.exists() and refresh_timestamp(Repository(place.folder), load_signer(key), dt.datetime.now(dt.UTC)):
                log.info("release timestamp re-signed")
        except ReleaseRefused as exc:  # the online key rotated and online.key not replaced yet: said daily
            log.warning("release timestamp: %s", exc)
        return
    if not node.identity.parent_url or not (place.folder / "trusted" / "root.json").exists():
        return  # no parent, or the city's root not installed yet: nothing to verify against
    try:
        checked = client.check(place, node.identity.parent_url)
        if checked.archive and node.config.update_prefix:
            stage_checked(place, checked, Path(node.config.update_prefix))
    except (UpdateRefused, UpdateUnavailable) as exc:
        log.warning("release update: %s", exc)


def stage_checked(place: client.Place, checked: client.Checked, prefix: Path) -> staging.Staged:
    """The verified archive installed beside the running environment, once (each later check finds it staged);
    recorded for the switch."""
    state = client.read_state(place.data_dir)
    before = state.get("staged") or {}
    if before.get("release") == checked.offer.release and Path(before["folder"]).is_dir():
        staged = _staged_from(state)
    else:
        staged = staging.stage(checked.archive, prefix, place.folder / "unpacked", python=sys.executable)
    client.record(
        place,
        state="staged",
        staged={"version": staged.version, "release": staged.release, "folder": str(staged.folder)},
        message=f"{staged.version} 已装好，等待切换（夜间或管理员确认）",
    )
    return staged


def _staged_from(state: dict) -> staging.Staged:
    staged = state["staged"]
    return staging.Staged(staged["version"], staged["release"], Path(staged["folder"]))


def switch_staged(place: client.Place, staged: staging.Staged, prefix: Path, **service) -> staging.Outcome:
    """The switch (`staging.switch`, with the service's `stop`, `start` and `healthy`), its outcome recorded
    for the state page and the parent's fleet page."""
    outcome = staging.switch(staged, prefix, place.data_dir, **service)
    client.record(place, state="switched" if outcome.switched else "rolled_back", message=outcome.message)
    return outcome


def staged_release(place: client.Place) -> staging.Staged | None:
    state = client.read_state(place.data_dir)
    return _staged_from(state) if state.get("state") == "staged" else None

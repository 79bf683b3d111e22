"""The ownership rule of operator accounts (`provisioning.operators.claim_problem`), pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from provisioning.operators import claim_problem

STATIONS = st.sampled_from(["511302-01", "511302001-01", "511302001001-01", "511302001002-01"])


def _replay(claims: list[str], here: str | None) -> tuple[str | None, list[int]]:
    """Apply claims on one username in this order, as a projection would: the owner, and which were refused."""
    held_by, refused = None, []
    for index, claimant in enumerate(claims):
        if claim_problem("county.admin", claimant, here, held_by):
            refused.append(index)
        else:
            held_by = claimant
    return held_by, refused


@given(claims=st.lists(STATIONS, min_size=1, max_size=8), here=STATIONS, order=st.randoms(use_true_random=False))
def test_at_the_owners_node_every_other_stations_claim_loses_in_any_order(claims, here, order):
    claims = [*claims, here]
    shuffled = list(claims)
    order.shuffle(shuffled)
    owner, refused = _replay(shuffled, here)
    assert owner == here
    assert sorted(shuffled[i] for i in refused) == sorted(c for c in claims if c != here)


@given(claims=st.lists(STATIONS, min_size=1, max_size=8))
def test_elsewhere_the_station_holding_an_account_keeps_it(claims):
    owner, refused = _replay(claims, None)
    assert owner == claims[0]
    assert refused == [i for i, c in enumerate(claims) if c != claims[0]]


def test_a_station_changes_its_own_accounts():
    assert claim_problem("cun.agent", "511302001001-01", None, "511302001001-01") is None
    assert claim_problem("cun.agent", "511302001001-01", "511302001001-01", None) is None

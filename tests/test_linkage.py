"""Issue #23, item 2: issue linkage. A deal may trade an act on one issue for a concession on
another, and the act gets the leverage of the deal.

``scenarios/leverage.yaml`` with its aid package replaced by a concession on another issue:
Vell hands Ostra a strip of ground Vell holds (a transfer of an objective) if Ostra keeps its
gate toward Vell closed. Ostra cares for the strip, not for the gate; Vell cares for the gate,
not for the strip. Ostra opens the gate, though opening it costs it, because that raises
Vell's cost of no deal (Greenhill 2010; Tollison & Willett 1979 on linkage: an issue one side
cares for little bought with one it cares for much). Paired comparisons (common random numbers)
against the same deal without the gate term (the link removed) and without any deal.
"""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import paired_effect
from .test_deal_terms import LEVERAGE, _data, _follow, _opened_by

RUNS, SEED, DAYS = 200, 5, 20


def _linked(link: bool = True, deal: bool = True) -> dict:
    """The gate for a strip of ground; ``link=False``: the strip for nothing; ``deal=False``:
    no deal on the table at all (nor anything to negotiate)."""
    data = _data(LEVERAGE)
    data["run"]["days"] = DAYS
    data["theatre"]["objectives"]["strip"] = {
        "name": "A strip of ground Vell holds", "speed": 0.01,
        "value": {"ostra": 1.0, "vell": 0.1}, "control": {"vell": 1.0}}
    terms = data["deals"]["aid_for_the_gate"]
    del terms["payments"]  # nothing on the gate's own issue: the concession is elsewhere
    terms["transfer"] = {"strip": {"ostra": 1.0}}
    if not link:
        del terms["gates"]
    if not deal:
        del data["deals"]
        for actor in data["actors"].values():
            actor["actions"] = [a for a in actor["actions"] if a["verb"] != "negotiate"]
        data["outcomes"].pop("paid")
    return data


@pytest.fixture(scope="module")
def runs() -> dict:
    return {name: _follow(_linked(**kw), runs=RUNS, seed=SEED)
            for name, kw in (("linked", {}), ("unlinked", {"link": False}),
                             ("no_deal", {"deal": False}))}


def test_a_gate_is_opened_to_obtain_a_concession_on_another_issue(runs):
    """Ostra opens the gate in the first week far more often when the deal on the table trades
    the gate (kept closed) for the strip; removing the gate from the deal removes the effect."""
    linked, unlinked = runs["linked"], runs["unlinked"]
    mean, low, high = paired_effect(_opened_by(unlinked, 7), _opened_by(linked, 7))
    assert low > 0.5, f"gate opened in the first week: effect {mean:.3f} [{low:.3f}, {high:.3f}]"
    # the linked deal is signed (the gate closed, the strip handed over) in most runs, and
    # the gate is closed on every day it holds
    assert linked["agreement"].any(axis=(1, 2)).mean() > 0.8
    assert not (linked["gate_open"][:, :, 0] & linked["agreement"][:, :, 0]).any()
    # without the gate in it, the strip is a gift Vell never makes
    assert unlinked["agreement"].any(axis=(1, 2)).mean() < 0.05


def test_without_the_link_the_gate_is_opened_as_if_there_were_no_deal(runs):
    """A deal that does not name the gate gives the gate no leverage: Ostra opens it as often
    (over the whole run) as when no deal is on the table at all."""
    unlinked, none = runs["unlinked"], runs["no_deal"]
    a, b = _opened_by(none, DAYS - 1), _opened_by(unlinked, DAYS - 1)
    mean, low, high = paired_effect(a, b)
    assert low <= 0.0 <= high and abs(mean) < 0.1, (mean, low, high)
    # and the linked deal's effect is not an artefact of having a deal on the table at all
    linked = _opened_by(runs["linked"], DAYS - 1)
    assert linked.mean() - a.mean() > 0.5
    assert np.isfinite(linked).all()


def _asset_for_the_gate(link: bool = True) -> dict:
    """The gate for an asset Vell grants Ostra. A grant costs its giver only what the asset's
    effects on others cost it (``effects.affinity``: docs/ODD.md M6, "Terms over actions"), so
    Vell has a friend, Zara, who objects to arming Ostra: without the gate, the grant is worth
    less than nothing to Vell."""
    data = _data(LEVERAGE)
    data["run"]["days"] = DAYS
    data["actors"]["zara"] = {"name": "Zara", "interests": {"ties": 1.0}, "rationality": 30.0,
                              "actions": [{"verb": "hold"}]}
    data["relations"]["vell~zara"] = {"affinity": 0.5, "trade": 0.5, "rung": "calm",
                                      "contact": False}
    data["relations"]["ostra~zara"] = {"affinity": 0.0, "rung": "calm", "contact": False}
    data["assets"] = {"kit": {"name": "A military aid package", "owner": "vell",
                              "effects": {"holder_affinity": 0.3, "affinity": {"zara": -1.0}}}}
    terms = data["deals"]["aid_for_the_gate"]
    del terms["payments"]
    terms["grants"] = {"kit": "ostra"}
    if not link:
        del terms["gates"]
    return data


def test_a_gate_is_opened_to_obtain_an_asset():
    """The same with an asset for the concession: Ostra opens the gate in the first week in
    about half the runs with the gate in the deal, never without it."""
    linked = _follow(_asset_for_the_gate(), runs=RUNS, seed=SEED)
    unlinked = _follow(_asset_for_the_gate(link=False), runs=RUNS, seed=SEED)
    mean, low, high = paired_effect(_opened_by(unlinked, 7), _opened_by(linked, 7))
    assert low > 0.25, f"gate opened in the first week: effect {mean:.3f} [{low:.3f}, {high:.3f}]"
    assert (linked["agreement"].any(axis=(1, 2)).mean()
            > unlinked["agreement"].any(axis=(1, 2)).mean() + 0.3)

"""Hypothesis strategies: random but valid scenarios (2 to 8 actors, random networks)."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

OBJECTIVES = ("territory", "losses", "escalation", "refugees", "ties", "standing",
              "humanitarian")


@st.composite
def scenarios(draw, max_actors: int = 8) -> dict:
    """A scenario as plain data, valid by construction."""
    n = draw(st.integers(2, max_actors))
    actors = [f"a{i}" for i in range(n)]
    unit = st.floats(0, 1, allow_nan=False, allow_infinity=False)
    signed = st.floats(-1, 1, allow_nan=False, allow_infinity=False)
    n_rungs = draw(st.integers(3, 8))
    rungs = {}
    intensity = sorted(draw(st.lists(unit, min_size=n_rungs, max_size=n_rungs)))
    severity = sorted(draw(st.lists(unit, min_size=n_rungs, max_size=n_rungs)))
    armed = draw(st.integers(1, n_rungs - 1))
    war = draw(st.integers(armed, n_rungs - 1))
    for i in range(n_rungs):
        rungs[f"r{i}"] = {"name": f"rung {i}", "intensity": intensity[i] if i >= armed else 0.0,
                          "severity": severity[i]}
    dyads = list(itertools.combinations(actors, 2))
    relations = {}
    for a, b in dyads:
        if draw(st.booleans()):
            relations[f"{a}~{b}"] = {"affinity": draw(signed), "trade": draw(unit),
                                     "rung": f"r{draw(st.integers(0, n_rungs - 1))}"}
    ground = {a: draw(st.floats(0, 4)) for a in actors}
    holders = [a for a in actors if ground[a] > 0] or [actors[0]]
    if ground[holders[0]] == 0:
        ground[holders[0]] = 1.0
    objectives = {}
    for o in range(draw(st.integers(1, 3))):
        owners = draw(st.lists(st.sampled_from(holders), min_size=1, max_size=3, unique=True))
        shares = [draw(st.floats(0.05, 1)) for _ in owners]
        total = sum(shares)
        control = {a: s / total for a, s in zip(owners, shares, strict=True)}
        fix = 1.0 - sum(control.values())
        control[owners[0]] += fix
        control[owners[0]] = min(max(control[owners[0]], 0.0), 1.0)
        objectives[f"o{o}"] = {"name": f"objective {o}",
                               "value": {a: draw(unit) for a in actors},
                               "control": control, "speed": draw(st.floats(0, 0.1))}
    n_nodes = draw(st.integers(2, 6))
    nodes = {}
    for k in range(n_nodes):
        conflict = k == 0 or draw(st.booleans())
        node = {"name": f"node {k}", "population": draw(st.integers(0, 2_000_000)),
                "capacity": draw(st.integers(0, 3_000_000)), "conflict": conflict}
        if conflict and draw(st.booleans()):
            node["objective"] = draw(st.sampled_from(sorted(objectives)))
        if not conflict and draw(st.booleans()):
            node["dwell"] = draw(st.floats(1, 30))  # a transit node
        if draw(st.booleans()):
            node["host"] = draw(st.sampled_from(actors))
        nodes[f"n{k}"] = node
    gates = {}
    for g in range(draw(st.integers(0, 2))):
        gates[f"g{g}"] = {"name": f"gate {g}", "owner": draw(st.sampled_from(actors)),
                          "open": draw(st.booleans()), "leakage": draw(unit),
                          "policy": draw(st.sampled_from(["decide", "open", "closed"]))}
    edges = []
    for _ in range(draw(st.integers(1, 8))):
        a, b = draw(st.lists(st.sampled_from(sorted(nodes)), min_size=2, max_size=2,
                             unique=True))
        edge = {"from": a, "to": b, "rate": draw(unit), "return_rate": draw(st.floats(0, 0.1))}
        if gates and draw(st.booleans()):
            edge["gate"] = draw(st.sampled_from(sorted(gates)))
        if draw(st.booleans()):
            edge["push_back"] = draw(unit)
        edges.append(edge)
    assets = {}
    for k in range(draw(st.integers(0, 3))):
        owner = draw(st.sampled_from(actors))
        asset = {"name": f"asset {k}", "owner": owner,
                 "effects": {"air_defence": draw(unit), "refugee_relief": draw(unit),
                             "affinity": {draw(st.sampled_from(actors)): draw(signed)}}}
        if draw(st.booleans()):
            asset["holder"] = owner
        assets[f"k{k}"] = asset
    names = sorted(assets)
    for asset in assets.values():
        if names and draw(st.booleans()):
            asset["conditions"] = {"requires_inactive": [draw(st.sampled_from(names))]}
    deals = {}
    for d in range(draw(st.integers(0, 2))):
        a, b = draw(st.lists(st.sampled_from(actors), min_size=2, max_size=2, unique=True))
        obj = draw(st.sampled_from(sorted(objectives)))
        deals[f"d{d}"] = {"name": f"deal {d}", "parties": [a, b],
                          "transfer": {obj: {a: 0.5, b: 0.5}},
                          "rung_cap": f"r{draw(st.integers(0, n_rungs - 1))}"}
    actor_data = {}
    for a in actors:
        weights = draw(st.lists(unit, min_size=len(OBJECTIVES), max_size=len(OBJECTIVES)))
        if sum(weights) == 0:
            weights[0] = 1.0
        menu = [{"verb": "hold"}]
        others = [b for b in actors if b != a]
        for b in draw(st.lists(st.sampled_from(others), max_size=3, unique=True)):
            menu.append({"verb": draw(st.sampled_from(["attack", "deescalate", "sanction"])),
                         "target": b})
        menu += [{"verb": "negotiate", "deal": d} for d, v in deals.items() if a in v["parties"]]
        for g, gate in gates.items():
            if gate["owner"] == a:
                menu += [{"verb": "open_gate", "gate": g}, {"verb": "close_gate", "gate": g}]
        for k, asset in assets.items():
            if asset.get("holder") == a:
                menu.append({"verb": "activate", "asset": k})
            elif asset["owner"] == a:
                menu.append({"verb": "grant_support", "asset": k,
                             "target": draw(st.sampled_from(others))})
            else:
                menu.append({"verb": "request_support", "asset": k})
        actor_data[a] = {
            "name": f"Actor {a}",
            "capabilities": {"ground": ground[a], "air": draw(st.floats(0, 3)),
                             "air_defence": draw(unit), "exposure": draw(st.floats(0, 2))},
            "interests": dict(zip(OBJECTIVES, weights, strict=True)),
            "rationality": draw(st.floats(0, 50)), "risk_attitude": draw(signed),
            "war_cost": draw(st.floats(0, 0.1)), "actions": menu,
            "pressure": {"initial": draw(unit), "decay": draw(unit),
                         "per_loss": draw(st.floats(0, 0.2))},
        }
    blocs = {}
    if n >= 3 and draw(st.booleans()):
        blocs = {"first": [actors[0]], "second": [actors[1]]}
    timeline = []
    if draw(st.booleans()):
        a, b = actors[0], actors[1]
        timeline.append({"date": "2030-01-03", "name": "strike", "kind": "casualties",
                         "between": [a, b], "amount": draw(st.integers(0, 50))})
    if draw(st.booleans()):
        timeline.append({"date": "2030-01-02", "name": "troops", "kind": "reinforcement",
                         "actor": actors[0], "amount": draw(st.floats(-2, 2))})
    return {
        "name": "generated", "actors": actor_data, "relations": relations, "blocs": blocs,
        "ladder": {"rungs": rungs, "armed_from": f"r{armed}", "war_from": f"r{war}"},
        "assets": assets, "theatre": {"objectives": objectives},
        "refugees": {"nodes": nodes, "edges": edges, "gates": gates}, "deals": deals,
        "timeline": timeline,
        "outcomes": {
            "war": {"description": "first dyad at war",
                    "when": {"indicator": f"rung.{actors[0]}~{actors[1]}.max", "op": ">=",
                             "rung": f"r{war}"}},
            "deal": {"description": "any deal",
                     "when": {"any": [{"indicator": "day.agreement", "op": "happened"},
                                      {"not": {"indicator": "dead.total", "op": ">=",
                                               "value": 0}}]}},
            "held": {"description": "a0 holds half of o0",
                     "when": {"all": [{"indicator": f"control.o0.{actors[0]}.final",
                                       "op": ">=", "value": 0.5},
                                      {"indicator": f"losses.{actors[0]}", "op": "<",
                                       "value": 1e9}]}},
        },
        "run": {"start": "2030-01-01", "days": draw(st.integers(5, 30)), "runs": 8,
                "seed": draw(st.integers(0, 2**31))},
    }

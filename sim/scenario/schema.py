"""The scenario schema: every key a scenario file may hold, with its default and bounds.

Defaults and bounds live here and only here (the app's controls and the sweeps' ranges read
them from this module). Every model forbids unknown keys, so a misspelt key is an error and
never a silently ignored setting (Calliope's rule; Flee's ``camps_are_sicks`` is the
cautionary tale). Cross-references (an actor named in a relation, a node named by an edge, a
rung named by a deal) are checked in ``Scenario``'s validator, which reports every broken
reference with its key path.

Field descriptions double as the scenario reference: each says what the value means in the
model and in which unit.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

#: The fixed vocabulary of objectives an actor can weigh (``actors.<id>.interests``).
#: docs/ODD.md ("Interests and decisions") defines how each is predicted.
OBJECTIVES: tuple[str, ...] = (
    "territory",  # value-weighted control of theatre objectives
    "losses",  # own military losses (a cost)
    "escalation",  # risk of war: severity of the rungs with every other actor (a cost)
    "refugees",  # people on the actor's soil and borders (a cost)
    "ties",  # affinity with partners, weighted by trade and shared institutions
    "standing",  # domestic standing: low domestic pressure, satisfied demands for retaliation
    "humanitarian",  # displacement and civilian deaths anywhere (a cost)
)

#: Verbs of the generic action menu (``actors.<id>.actions[].verb``).
VERBS: tuple[str, ...] = (
    "hold",
    "attack",
    "deescalate",
    "negotiate",
    "request_support",
    "grant_support",
    "sanction",
    "open_gate",
    "close_gate",
    "activate",
    "air_support",
    "threaten",
    "withdraw",
)

#: Verbs that may be chosen as a one-off act (``actions[].once``): a single day's act whose
#: effects and cost fall on that day (a limited reprisal, Schelling 1966; a single signal,
#: Sartori 2005; a vote or declaration that engages the government, Fearon 1994). The other
#: verbs are one-off by nature already (a grant, an activation, a gate moved, a withdrawal:
#: their effect lasts), or a proposal or request whose consequence is the deal or grant it may
#: bring, or ``hold`` (nothing to do once).
ONCE_VERBS: tuple[str, ...] = ("attack", "sanction", "threaten", "deescalate", "air_support")

#: Whose dyad the target's grievance and ladder respond to when a patron's aircraft strike in
#: support of a client's offensive (``actions[].verb: air_support``): the client's, the
#: patron's, or both (docs/ODD.md, M4 "Air support and blame").
BLAME: tuple[str, ...] = ("client", "patron", "both")
Blame = Literal["client", "patron", "both"]


def _not_a_boolean(value: object) -> object:
    """Refuse true/false where a number belongs.

    Pydantic's lax mode reads ``true`` as 1: ``--set run.days=true`` ran one day.
    """
    if isinstance(value, bool):
        raise ValueError(f"a number is needed here, not {str(value).lower()}")
    return value


_Number = BeforeValidator(_not_a_boolean)
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]
Probability = Annotated[float, _Number, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Signed = Annotated[float, _Number, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, _Number, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, _Number, Field(gt=0.0, allow_inf_nan=False)]
Population = Annotated[int, Field(ge=0, le=10**10)]
#: Forces, rates and exposures: bounded so that losses (int64 counts summed over years and
#: dyads) cannot overflow; scenarios use values of order 1.
Force = Annotated[float, _Number, Field(ge=0.0, le=10_000.0, allow_inf_nan=False)]
Boost = Annotated[float, _Number, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
#: Soldiers in contact: a head count, bounded so that thousands of them stay within ``Force``.
Troops = Annotated[float, _Number, Field(ge=0.0, le=10_000_000.0, allow_inf_nan=False)]
DYAD_SEPARATOR = "~"
MAX_EVENT_AMOUNT = 1e7  # soldiers killed in one event; pressure and affinity shocks are ~1


class Strict(BaseModel):
    """Base of every schema model: unknown keys are errors; values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: object, info) -> object:
        """``true`` is not a count: pydantic's lax mode reads it as 1 for int and float fields."""
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if "bool" not in str(annotation):
                wanted = "a number" if "int" in str(annotation) or "float" in str(annotation) \
                    else "text (quote it: \"true\")"
                raise ValueError(f"{str(value).lower()} is a yes/no value; this key takes "
                                 f"{wanted}")
        return value


def dyad_key(a: str, b: str) -> str:
    """The canonical key of an unordered pair of ids, ``a~b`` with ids in the given order."""
    return f"{a}{DYAD_SEPARATOR}{b}"


def split_dyad(key: str) -> tuple[str, str]:
    """Split ``a~b`` into its two ids; raise ``ValueError`` if it is not a pair of ids."""
    parts = key.split(DYAD_SEPARATOR)
    if len(parts) != 2 or not all(re.match(ID_PATTERN, p) for p in parts) or parts[0] == parts[1]:
        raise ValueError(f"'{key}' is not a pair of two different ids written a~b")
    return parts[0], parts[1]


# --------------------------------------------------------------------------- actors


class Capabilities(Strict):
    """Military and economic means an actor brings to the theatre (relative units)."""

    ground: Force = Field(1.0, description="Ground forces committed to the theatre.")
    air: Force = Field(0.0, description="Air power available over the theatre.")
    air_defence: Probability = Field(
        0.0, description="Own air-defence cover: share of enemy air strikes neutralised."
    )
    exposure: Force = Field(
        1.0, description="Forces exposed to fire in the theatre: scales own loss rates. When "
        "the scenario declares troops, a multiplier of them instead: 1 is as exposed as the "
        "armies of the wars fighting.lethality is calibrated on, above 1 more (assaulting in "
        "the open), below 1 less (dug in, mostly at sea)."
    )
    troops: Troops | None = Field(
        None, description="Soldiers this actor has in contact with its enemies in the "
        "theatre (a head count a writer can look up; give its source). Once any actor declares "
        "troops, every actor's losses follow the forces in contact (fighting.lethality, "
        "docs/ODD.md M4) and every actor with exposure above 0 must declare them. Default: "
        "none (losses follow fighting.loss_rate, as before)."
    )


class PressureTraits(Strict):
    """How domestic pressure builds and fades for one actor (mechanism 5)."""

    initial: Probability = Field(0.2, description="Domestic pressure on day 0, in [0, 1].")
    decay: Probability = Field(0.05, description="Share of pressure that fades each day.")
    per_loss: NonNegative = Field(
        0.03, description="Pressure added per soldier lost (saturating toward 1)."
    )
    per_refugees: NonNegative = Field(
        0.02, description="Pressure added per 100,000 new people on the actor's soil."
    )
    per_ground: NonNegative = Field(
        0.5, description="Pressure added per unit of valued territory lost."
    )
    per_sanction: NonNegative = Field(
        0.001, description="Pressure added each day per unit of economic cost of the "
        "sanctions on this actor (a day of one actor's sanctions adds a unit; it fades by "
        "sanction_recovery)."
    )
    sanction_recovery: Probability = Field(
        0.01, description="Share of the economic cost of sanctions that fades each day "
        "(the economy adapts): the cost outlasts the sanctions."
    )


class Action(Strict):
    """One entry of an actor's action menu: a verb and what it acts on."""

    verb: Literal[
        "hold",
        "attack",
        "deescalate",
        "negotiate",
        "request_support",
        "grant_support",
        "sanction",
        "open_gate",
        "close_gate",
        "activate",
        "air_support",
        "threaten",
        "withdraw",
    ]
    target: Identifier | None = Field(None, description="Actor acted upon (attack, grant, ...); "
                                      "for air_support, the actor whose forces are struck; for "
                                      "withdraw, the actor the forces are pulled back from.")
    client: Identifier | None = Field(
        None, description="air_support: the ally whose offensive against the target the "
        "actor's air power backs.")
    blame: Blame | None = Field(
        None, description="air_support: who the target blames for these strikes, i.e. whose "
        "dyad its grievance and ladder respond to: 'client', 'patron' (the actor flying them) "
        "or 'both' (default: the actor's blame, else fighting.blame).")
    asset: Identifier | None = Field(None, description="Asset requested, granted or activated.")
    gate: Identifier | None = Field(None, description="Gate opened or closed.")
    deal: Identifier | None = Field(None, description="Deal proposed (negotiate).")
    cost: NonNegative = Field(0.0, description="Fixed utility cost of choosing this action.")
    to_rung: Identifier | None = Field(
        None, description="attack only: a deliberate offensive or air campaign, which puts "
        "the dyad on this rung (at or above armed_from) the day it is launched instead of "
        "letting the ladder climb a rung at a time; the attack is scored at that rung's "
        "intensity and escalation. Default: an attack fights at the first armed rung's "
        "intensity and the ladder moves with its drive."
    )
    once: bool = Field(
        False, description="A one-off act instead of a posture held day after day (verbs "
        "attack, sanction, threaten, deescalate, air_support): chosen on a day, it happens that "
        "day only, with that day's effects and cost (an attack: one day's strike or salvo at "
        "its rung's intensity, with that day's losses, grievance and ladder step; a sanction: "
        "in force that day, lifted the next morning), and it is scored over that one day; it "
        "can be chosen at most once per run (after it, the entry is off the menu), and others "
        "do not expect it to continue. It may sit beside the same verb held as a posture "
        "(a retaliatory salvo beside a sustained campaign). A `withdraw` is always one-off."
    )

    @model_validator(mode="after")
    def _needs(self) -> Action:
        needs = {
            "attack": ("target",),
            "deescalate": ("target",),
            "sanction": ("target",),
            "negotiate": ("deal",),
            "request_support": ("asset",),
            "grant_support": ("asset", "target"),
            "open_gate": ("gate",),
            "close_gate": ("gate",),
            "activate": ("asset",),
            "air_support": ("client", "target"),
            "threaten": ("target",),
            "withdraw": ("target",),
            "hold": (),
        }[self.verb]
        missing = [k for k in needs if getattr(self, k) is None]
        if missing:
            raise ValueError(f"verb '{self.verb}' needs {', '.join(missing)}")
        if self.verb != "air_support" and (self.client is not None or self.blame is not None):
            raise ValueError(f"'client' and 'blame' go with verb 'air_support' only, not "
                             f"'{self.verb}'")
        if self.to_rung is not None and self.verb != "attack":
            raise ValueError(f"'to_rung' goes with verb 'attack' only, not '{self.verb}'")
        if self.once and self.verb not in (*ONCE_VERBS, "withdraw"):
            why = ("its effect lasts once done, and it is decided with intent already"
                   if self.verb in ("grant_support", "activate", "open_gate", "close_gate")
                   else "a proposal or request is a day's act already; what lasts is the deal "
                   "or grant it may bring" if self.verb in ("negotiate", "request_support")
                   else "holding is doing nothing")
            raise ValueError(f"'once' goes with verbs {', '.join(ONCE_VERBS)} (and withdraw, "
                             f"one-off by nature), not '{self.verb}': {why}; remove 'once'")
        if self.verb == "air_support" and self.client == self.target:
            raise ValueError(f"air_support backs a client against someone else: client and "
                             f"target are both '{self.client}'")
        return self

    def label(self) -> str:
        """Short human-readable name, e.g. ``attack:<actor>`` or ``open_gate:<gate>``."""
        obj = self.target or self.asset or self.gate or self.deal
        if self.verb == "grant_support":
            obj = f"{self.asset}>{self.target}"
        if self.verb == "air_support":
            obj = f"{self.client}>{self.target}"
        verb = f"{self.verb}_once" if self.once and self.verb != "withdraw" else self.verb
        return verb if obj is None else f"{verb}:{obj}"

    @property
    def once_per_run(self) -> bool:
        """Taken at most once per run, its effect that day: ``once``, and every withdraw."""
        return self.once or self.verb == "withdraw"


class Actor(Strict):
    """A state actor: a ``mesa.Agent`` with interests, capabilities and an action menu."""

    name: str = Field(description="Display name.")
    capabilities: Capabilities = Field(default_factory=Capabilities)
    interests: dict[str, NonNegative] = Field(
        description="Weights over the objective vocabulary (normalised to sum to 1)."
    )
    rationality: NonNegative = Field(
        5.0, description="Logit (quantal-response) precision: of two options one utility unit "
        "apart, the better is exp(rationality) times as likely (0 picks at random; 3 makes a "
        "0.1-unit edge 1.35 to 1; 30 makes it 20 to 1). One utility unit is an objective of "
        "weight 1 moved by one unit over the look-ahead (e.g. `decisions.loss_unit` soldiers).",
    )
    risk_attitude: Signed = Field(
        0.0, description="-1 risk-averse (escalation risk counts double) .. +1 risk-seeking."
    )
    war_cost: NonNegative = Field(
        0.02, description="Utility cost per day of fighting (economy, politics) when attacking."
    )
    optimism: Signed = Field(
        0.1, description="Mutual optimism (Blainey 1973; Fearon 1995): while fighting, the share "
        "of the valued ground it and its friends do not hold that the actor believes fighting "
        "on over the bargaining horizon would win it (negative: pessimism), weighed against a "
        "deal; fighting, rejected proposals and mediation reveal information and shrink it "
        "(``bargaining.learning``). The default, a tenth, is the modest optimism found at the "
        "start of most wars (Blainey 1973: wars begin when states disagree about their relative "
        "strength); set it higher where leaders are on record expecting to win.",
    )
    war_weariness: NonNegative = Field(
        0.02, description="Daily utility of peace per unit of war weariness (log of own losses "
        "in loss units plus days at war over ``bargaining.weariness_days``; Mueller 1973): "
        "raises the value of a deal and lowers that of attacking. The default makes a month at "
        "war (weariness 1) double the default daily cost of fighting (``war_cost``).",
    )
    pressure: PressureTraits = Field(default_factory=PressureTraits)
    blame: Blame | None = Field(
        None, description="Who targets blame for this actor's air_support strikes, unless an "
        "action says otherwise (default: fighting.blame)."
    )
    actions: list[Action] = Field(min_length=1, description="The action menu.")
    present_in: dict[str, Troops] = Field(
        default_factory=dict,
        description="Dyads (a~b) this actor is not a side of whose theatre it has people in "
        "(peacekeepers, observers, monitors), with how many: when the two fight, the fighting "
        "kills some of them (fighting.third_party_rate; docs/ODD.md M4, \"Third parties\"), "
        "counted in losses.<actor>.third_party. Default: none, nowhere.")

    @field_validator("interests")
    @classmethod
    def _known_objectives(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(OBJECTIVES))
        if unknown:
            raise ValueError(
                f"unknown objective(s) {unknown}; the vocabulary is {list(OBJECTIVES)}"
            )
        if sum(value.values()) <= 0:
            raise ValueError("interest weights sum to zero; give at least one a positive weight")
        return value


# --------------------------------------------------------------------------- world


class Relation(Strict):
    """Initial state and structural ties of one pair of actors (key ``a~b``)."""

    affinity: Signed = Field(0.0, description="Affinity on day 0, in [-1, 1].")
    trade: Probability = Field(0.0, description="Economic interdependence (trade, tourism).")
    rung: str | None = Field(None, description="Escalation rung on day 0 (default: the lowest).")
    resting_rung: str | None = Field(
        None, description="Rung the pair relaxes toward when nothing happens (default: the "
        "lowest): the ladder's base drift pulls down above it and up below it, so a standing "
        "rivalry stays at 'tension' rather than drifting to the bottom."
    )
    contact: bool | None = Field(
        None, description="Whether the two sides' forces are in contact, so that incidents "
        "can happen between them (ladder.incident_rate). Default: both have ground forces "
        "in the theatre (capabilities.ground > 0)."
    )
    sanctions: list[Identifier] = Field(
        default_factory=list, description="Those of the pair whose sanctions on the other are "
        "in force on day 0 (e.g. [a] for a~b: a sanctions b). A sanction stays in force, with "
        "its daily cost, until its imposer lifts it or a deal lifts it; an actor can lift it "
        "only with a 'sanction' entry on the other in its menu."
    )


class Institution(Strict):
    """An alliance or institution whose members' affinities are pulled toward a baseline."""

    name: str | None = None
    members: list[Identifier] = Field(min_length=2)
    anchor: Signed = Field(0.5, description="Affinity the institution pulls members toward.")
    strength: Probability = Field(
        0.02, description="Share of the gap to the anchor closed each day (the spring)."
    )


class Rung(Strict):
    """One rung of the escalation ladder (Kahn 1965)."""

    name: str
    intensity: Probability = Field(0.0, description="Fighting intensity at this rung (0 = none).")
    severity: Probability = Field(0.0, description="How bad this rung is, for 'escalation' risk.")


class Ladder(Strict):
    """The escalation ladder and its transition parameters (mechanism 3)."""

    rungs: dict[Identifier, Rung] = Field(min_length=2, description="Rungs, lowest first.")
    armed_from: Identifier = Field(description="Lowest rung at which the sides fight.")
    war_from: Identifier = Field(description="Lowest rung counted as direct war.")
    base_drift: Annotated[float, _Number, Field(ge=-100.0, le=100.0)] = Field(
        -0.5, allow_inf_nan=False, description="Drive with no acts (negative: calm by default)."
    )
    hostility: NonNegative = Field(1.2, description="Drive added per hostile act (attack).")
    provocation: NonNegative = Field(0.6, description="Drive added by a day with casualties.")
    sanction: NonNegative = Field(0.4, description="Drive added per sanction in force.")
    threat: NonNegative = Field(
        0.4, description="Drive added per threat (verb 'threaten': a warning, an ultimatum, "
        "an ambassador recalled, ties cut: a hostile act short of force)."
    )
    persistence: Probability = Field(
        0.8, description="Escalation short of force: share of yesterday's drive from a "
        "side's sanctions and threats that it keeps while they are sustained, so a campaign "
        "of such acts builds up (to 1/(1 - persistence) times one day's, 5x by default) and "
        "can overcome the pull back to the resting rung; the build-up counts only below the "
        "rung just under armed_from (acts short of force do not start fighting). 0: each "
        "day's acts alone, as in model v2."
    )
    conciliation: NonNegative = Field(1.0, description="Drive removed per de-escalation.")
    weariness: NonNegative = Field(
        0.01, description="Drive removed per soldier lost by both sides (war weariness)."
    )
    trade_damping: NonNegative = Field(
        1.0, description="Drive removed per unit of trade interdependence."
    )
    mediation: NonNegative = Field(1.0, description="Drive removed per unit of mediation.")
    rate_up: Probability = Field(0.25, description="Daily chance of a step up at unit drive.")
    rate_down: Probability = Field(0.15, description="Daily chance of a step down at unit drive.")
    incident_rate: Probability = Field(
        0.015, description="Daily chance of an incident nobody chose (a clash, a scuffle, a "
        "shot across a line) on a dyad whose forces are in contact at a hostile rung; an "
        "incident puts the dyad on the first armed rung that day (Posen 1991; Schelling's "
        "threat that leaves something to chance). Default: about one incident per two months "
        "face to face, an assumption (see docs/ODD.md, M3)."
    )
    upkeep: NonNegative = Field(
        1.0, description="Daily cost of a standoff: a side not fighting pays upkeep x its "
        "war_cost x the severity of its most severe rung (mobilised forces held at a "
        "militarised rung; Slantchev 2005), so a deal that lowers the rung saves it."
    )
    incident_from: Identifier | None = Field(
        None, description="Lowest rung at which forces in contact have incidents (default: "
        "the rung just below armed_from); below it, and at armed rungs, none."
    )


class Effects(Strict):
    """What an asset does once deployed (granted) or activated."""

    air_defence: Probability = Field(0.0, description="Cover against air strikes for its holder.")
    refugee_relief: Probability = Field(
        0.0, description="Share by which onward movement out of the holder's nodes is reduced."
    )
    affinity: dict[Identifier, Signed] = Field(
        default_factory=dict,
        description="One-off affinity change between the asset's decider and these actors.",
    )
    holder_affinity: Signed = Field(
        0.0, description="One-off affinity change between supplier and recipient on a grant."
    )


class Conditions(Strict):
    """When an asset may be granted or activated."""

    requires_inactive: list[Identifier] = Field(
        default_factory=list,
        description="The asset cannot be granted to a holder who has activated any of these.",
    )
    penalty_if_held: dict[Identifier, NonNegative] = Field(
        default_factory=dict,
        description="Utility cost to the owner of granting to a holder of these assets, "
        "active or not (a standing objection short of a bar).",
    )
    available_from: dt.date | None = Field(
        None, description="First date on which the asset can be activated or granted."
    )
    recipient_cost: NonNegative = Field(
        0.0, description="Utility cost to a recipient of accepting the asset (its sovereignty, "
        "its neighbours' reaction, the obligations a foreign deployment brings), in M1's "
        "utility units. A grant takes effect only if the recipient consents: it asked for the "
        "asset (a request_support in the last three days), or signed a deal that grants it, or "
        "what holding it is worth to it (the air losses its cover spares, the ties the grant "
        "moves with the owner) is at least this cost. Default 0: a recipient accepts whatever "
        "does it no harm, so grants whose recipient gains from them are made as before."
    )


class Asset(Strict):
    """A deployable or activatable system (an air-defence battery, an aid package, ...)."""

    name: str
    owner: Identifier = Field(description="Actor that grants (supplier) or activates it.")
    holder: Identifier | None = Field(
        None, description="Actor that holds it on day 0 (for assets activated by their holder)."
    )
    effects: Effects = Field(default_factory=Effects)
    conditions: Conditions = Field(default_factory=Conditions)
    deployed_at_start: Identifier | None = Field(
        None, description="Recipient it is already granted to on day 0 (counterfactuals)."
    )
    active_at_start: bool = Field(False, description="Already activated on day 0.")


class Objective(Strict):
    """A theatre objective (a highway, a zone) whose control is contested (mechanism 4)."""

    name: str
    value: dict[Identifier, NonNegative] = Field(description="Value of full control per actor.")
    control: dict[Identifier, Probability] = Field(
        description="Initial shares of control per actor (sum to 1)."
    )
    speed: Probability = Field(0.02, description="Max share of control that changes in a day.")

    @field_validator("control")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"control shares sum to {total:g}, not 1")
        return value


class Fighting(Strict):
    """Loss and contest parameters (mechanism 4)."""

    loss_rate: Force = Field(
        0.3, description="Expected daily losses per unit of enemy firepower at intensity 1 "
        "(unused when actors declare troops: fighting.lethality sets the scale then)."
    )
    lethality: Positive = Field(
        0.5, le=1_000.0,
        description="When actors declare troops: soldiers killed a day per 1,000 troops in "
        "contact at intensity 1, facing the scenario's average firepower (default calibrated "
        "on the Yom Kippur War of 1973 and the Sino-Vietnamese War of 1979: docs/ODD.md M4)."
    )
    third_party_rate: NonNegative = Field(
        0.05, le=1_000.0,
        description="Soldiers or staff killed a day per 1,000 people a third party has present "
        "in a dyad's theatre (present_in) at the dyad's fighting intensity 1: caught in the "
        "fighting, not its target (a tenth of lethality's default for the forces in contact; "
        "an assumption: docs/ODD.md M4, \"Third parties\").")
    mass_share: Probability = Field(
        0.2, description="When actors declare troops: share of the expected losses that come "
        "as mass-casualty strikes (a single strike or engagement killing mass_threshold or "
        "more), so one such strike comes per mean toll / mass_share expected losses "
        "(docs/ODD.md M4)."
    )
    mass_threshold: Positive = Field(
        25.0, le=10_000.0,
        description="Smallest toll of a mass-casualty strike (soldiers killed at once)."
    )
    mass_tail: float = Field(
        2.5, gt=2.0, le=10.0, allow_inf_nan=False,
        description="Exponent of the power law of mass-casualty strikes' tolls (density "
        "~ toll^-mass_tail, mean mass_threshold (tail - 1) / (tail - 2), 75 by default; "
        "Bohorquez et al. 2009 measured about 2.5 for the events of insurgent wars)."
    )
    event_size: Positive = Field(
        4.0, le=10_000.0,
        description="Mean losses per strike or engagement event: losses come as a "
        "Poisson number of events (rate / event_size a day), so the expected daily loss is "
        "still loss_rate's."
    )
    dispersion: Positive = Field(
        0.5, ge=0.01, le=1_000.0,
        description="Shape of the negative binomial toll of one event (variance "
        "event_size + event_size^2 / dispersion): smaller means a heavier tail, rare "
        "events with many dead (Clauset, Young & Gleditsch 2007)."
    )
    attack_boost: Boost = Field(
        1.0, description="Extra intensity in a dyad when a side attacks (per attacking side)."
    )
    contest_exponent: Positive = Field(1.5, description="Tullock contest exponent m.")
    advance: Literal["front", "holdings"] = Field(
        "front", description="How an attack takes ground: 'front', a front advancing at its "
        "pace (the objective's speed, times the fighting's intensity and the contest's share) "
        "whatever the holder has left, until its ground runs out, so a conquest ends in "
        "finite time (advance rates depend on the forces, not on the ground still held: "
        "Helmbold 1990; Dupuy 1979); 'holdings', model v2's rule, a share of the holder's "
        "remaining ground each day, so the last of it is never taken (a switch for studies "
        "such as scripts/ablation.py).",
    )
    culmination: NonNegative = Field(
        0.03, description="Offensive fatigue added per day of continuous attack: contest power "
        "is divided by 1 + fatigue (Clausewitz's culminating point of the attack).",
    )
    recovery: Probability = Field(
        0.1, description="Share of offensive fatigue shed per day without attacking (rest)."
    )
    civilian_death_rate: Probability = Field(
        0.0002, description="Daily civilian death rate in conflict nodes at intensity 1."
    )
    blame: Blame = Field(
        "patron", description="Who the target of air_support strikes blames, unless the actor "
        "or the action says otherwise: 'patron' (the actor whose aircraft fly them; the "
        "strikes raise the target-patron ladder and grievance, as its own attack would), "
        "'client' (attributed to the ally whose offensive they back: a deniable air war "
        "raises the target-client ladder instead) or 'both'."
    )


class Node(Strict):
    """A location of the refugee network (Flee's location)."""

    name: str
    population: Population = Field(description="People there on day 0.")
    capacity: Population = Field(description="People it can shelter before it repels newcomers.")
    conflict: bool = Field(False, description="True for nodes where fighting displaces people.")
    objective: Identifier | None = Field(
        None, description="Theatre objective whose fighting and loss displace from this node."
    )
    host: Identifier | None = Field(None, description="Actor on whose soil/border it lies.")
    dwell: float | None = Field(
        None, ge=1.0, le=10_000.0, allow_inf_nan=False,
        description="Transit node (a crossing area or waypoint where nobody lives): mean days "
        "people stay before moving on (daily share 1/dwell leaves, even below capacity; Flee's "
        "towns pass people on at 0.3 a day, about 3 days). Unset: they settle "
        "(flows.settle_rate). Not for conflict nodes.")
    regard: dict[Identifier, Signed] = Field(
        default_factory=dict,
        description="How the node's people regard each actor, in [-1, 1]: -1 they fear it "
        "(they expect it to target them as a group), +1 they trust it. Once actors they fear "
        "take the node's objective (by a deal's transfer or by conquest), the share they "
        "gained since day 0, weighted by the fear, of the node's day-0 people flee at "
        "flows.displacement_fear a day, and the displaced do not return (Davenport, Moore & "
        "Poe 2003; Steele 2009). Needs an objective. Default: 0 for every actor (who holds "
        "the ground moves no one, as before this key existed); give a source.")

    @model_validator(mode="after")
    def _transit(self) -> Node:
        if self.conflict and self.dwell is not None:
            raise ValueError("a conflict node has no dwell time (its movers are the displaced "
                             "of flows.displacement_*): remove 'dwell' or 'conflict'")
        return self


class Edge(Strict):
    """A route between two nodes."""

    source: Identifier = Field(alias="from")
    target: Identifier = Field(alias="to")
    rate: Probability = Field(description="Share of movers from the source taking this route.")
    gate: Identifier | None = Field(None, description="Gate that controls the route.")
    return_rate: Probability = Field(
        0.0, description="Daily share of people at the target who return when the source is calm."
    )
    push_back: Probability = Field(
        0.0, description="Daily share of the displaced at the target that its host sends back "
        "to the source while the route's gate is closed (always, without a gate): push-backs. "
        "0: none."
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Gate(Strict):
    """A border gate owned by an actor."""

    name: str
    owner: Identifier
    open: bool = Field(False, description="Open on day 0.")
    leakage: Probability = Field(0.05, description="Share of flow that passes when closed.")
    policy: Literal["decide", "open", "closed"] = Field(
        "decide", description="'decide': the owner chooses daily; else fixed open or closed."
    )
    cost: NonNegative | None = Field(
        None, description="Daily affinity its owner loses with the hosts beyond it while it "
        "is open (default: alliances.gate_cost)."
    )
    release: Probability = Field(
        0.3, description="Daily share of the displaced waiting at the source of one of its "
        "routes that cross while it is open (each route takes its rate of them, times the "
        "destination's attractiveness): the crowd gathered at a closed border surges across "
        "within days of its opening, not only the node's daily movers. Default: Flee's move "
        "chance of a location people pass through, 0.3 a day (djgroen/flee, "
        "SimulationSettings DefaultMoveChance); 0: no surge."
    )


class RefugeeFlows(Strict):
    """Displacement, movement and return rates (mechanism 7; Flee's rules)."""

    displacement_base: Probability = Field(0.0005, description="Daily share displaced anyway.")
    displacement_fighting: Probability = Field(
        0.01, description="Daily share displaced per unit fighting intensity."
    )
    displacement_ground: NonNegative = Field(
        2.0, description="Share displaced per unit of the node's objective lost in a day."
    )
    displacement_fear: Probability = Field(
        0.1, description="Daily share of the people who fear the actor that took their node's "
        "ground (nodes.<id>.regard) who leave: a half-life of about a week, so a node handed "
        "wholly to an actor its people fear is mostly empty within three weeks. Default: an "
        "assumption between the Serb-held suburbs of Sarajevo handed to the Federation under "
        "Dayton (most of some 60,000 left within about six weeks, February-March 1996) and "
        "Kalbajar handed to Azerbaijan in November 2020 (its Armenian residents left within "
        "about ten days); only nodes with a regard below 0 use it."
    )
    move_rate: Probability = Field(
        0.1, description="Daily share of people in transit nodes (over capacity) moving on."
    )
    settle_rate: Probability = Field(
        0.02, description="Daily share of people in nodes under capacity moving on."
    )
    calm_threshold: Probability = Field(
        0.05, description="Fighting intensity below which a conflict node counts as calm."
    )


#: Most signatories a deal may list (``deals.<id>.parties``); it may name up to
#: ``MAX_DEAL_SIDES - 2`` mediators besides.
MAX_DEAL_SIDES = 6


class Deal(Strict):
    """A deal its parties can strike (mechanism 6): ground, a halt, and what each will do.

    Terms may move ground (``transfer``), bind acts while the deal holds (``gates``,
    ``grants``, ``withhold``, ``lift_sanctions``) and pay (``payments``); a breakdown releases
    the acts it bound (docs/ODD.md, M6 "Terms over actions").
    """

    name: str
    parties: list[Identifier] = Field(
        min_length=2, max_length=MAX_DEAL_SIDES,
        description="The signatories: every one must accept (a guarantor may sign too).")
    mediators: list[Identifier] = Field(
        default_factory=list, max_length=MAX_DEAL_SIDES - 2,
        description="Actors that are not parties but can propose the deal (a mediator "
        "proposing terms); they weigh it as the parties do and need not accept it.")
    transfer: dict[Identifier, dict[Identifier, Probability]] = Field(
        default_factory=dict,
        description="Objective -> new control shares under the deal (sum to 1).",
    )
    ceasefire: list[str] = Field(
        default_factory=list,
        description="Dyads (a~b) capped and barred from attacking while it holds "
        "(default: the parties' own dyad). A guarantor can sign for a client this way.",
    )
    rung_cap: str = Field(description="Highest rung in the ceasefire dyads while it holds.")
    gates: dict[Identifier, Literal["open", "closed"]] = Field(
        default_factory=dict,
        description="Gate -> the state the deal holds it in while it holds (its owner cannot "
        "change it; a breakdown frees it): e.g. a border closed for a concession.")
    grants: dict[Identifier, Identifier] = Field(
        default_factory=dict,
        description="Asset -> the actor its owner grants it to while the deal holds: on "
        "signing, or as soon as the asset is idle and its window open. The owner cannot grant "
        "it to anyone else meanwhile.")
    withhold: list[Identifier] = Field(
        default_factory=list,
        description="Assets their owners may not grant while the deal holds.")
    lift_sanctions: list[str] = Field(
        default_factory=list,
        description="Dyads (a~b) in which neither side may sanction the other while it holds.")
    payments: dict[Identifier, dict[Identifier, NonNegative]] = Field(
        default_factory=dict,
        description="Payer -> payee -> value (utility units, once, on signing): an aid "
        "package. The payer is a party or a mediator (a mediator's incentive: manipulative "
        "mediation). Counted in each side's valuation of the deal; the model keeps no budget.")
    breakdown_base: Probability = Field(0.002, description="Daily breakdown hazard at calm.")
    breakdown_hostility: NonNegative = Field(
        0.03, description="Extra hazard per unit of hostility (negative affinity, pressure)."
    )
    breakdown_violation: Probability = Field(
        0.005, description="Extra hazard per soldier lost across the ceasefire's dyads the day "
        "before (a violation; Fortna 2004): a massacre of 30 during a ceasefire ends it about "
        "one time in seven.",
    )

    @property
    def proposers(self) -> list[str]:
        """The actors that may propose the deal: its parties, then its mediators."""
        return [*self.parties, *self.mediators]


class Bargaining(Strict):
    """Bargaining in the shadow of war (Fearon 1995; Powell 2006)."""

    noise: Positive = Field(
        0.05, description="Std. dev. of each party's private resolve in a deal (utility): how "
        "much more or less than the public stakes it values the issue; a trait drawn once per "
        "run and deal, revealed to the other side by fighting but not changed by it.",
    )
    horizon: Annotated[int, Field(ge=1, le=365)] = Field(
        30, description="Days over which the status quo path is compared with the deal."
    )
    learning: NonNegative = Field(
        0.1, description="Rate at which revealed information shrinks private information and "
        "optimism: both are scaled by exp(-learning * information) (Slantchev 2003).",
    )
    rejection_info: NonNegative = Field(
        0.5, description="Information revealed by a rejected proposal (in days of fighting at "
        "unit intensity).",
    )
    mediation_info: NonNegative = Field(
        1.0, description="Information revealed per unit of mediation effort on a dyad of the "
        "deal's ceasefire (a mediator narrows the parties' uncertainty).",
    )
    cooling_off: Annotated[int, Field(ge=0, le=365)] = Field(
        14, description="Days after a breakdown before the same deal can form again."
    )
    talks: Annotated[int, Field(ge=0, le=365)] = Field(
        3, description="Days of talks between a deal's first proposal and the first day it "
        "can be signed: convening, drafts and each side's authority to sign take time "
        "(Pillar 1983), so no deal is signed the day it is first put on the table."
    )
    weariness_days: Positive = Field(
        30.0, description="Days at war that weigh as much war weariness as e-fold own losses "
        "(one loss unit's worth); also the lag, in days, with which weariness follows losses "
        "and days at war (casualties rally a public first and weary it later).",
    )


class Alliances(Strict):
    """Affinity dynamics (mechanism 8)."""

    attack: NonNegative = Field(0.05, description="Affinity lost per attack between the two.")
    sanction: NonNegative = Field(0.03, description="Affinity lost per sanction.")
    threat: NonNegative = Field(0.01, description="Affinity lost per threat.")
    support: NonNegative = Field(0.04, description="Affinity gained per grant of support.")
    deescalation: NonNegative = Field(0.005, description="Affinity gained per de-escalation.")
    baseline_pull: Probability = Field(
        0.01, description="Share of the gap to day-0 affinity closed each day (structural ties)."
    )
    trade_pull: NonNegative = Field(
        0.003, description="Daily pull toward +1 per unit of trade (interdependence)."
    )
    balance: NonNegative = Field(
        0.004, description="Structural-balance rate over triads (Marvel et al. 2011)."
    )
    gate_cost: NonNegative = Field(
        0.01, description="Daily affinity lost with the hosts beyond a gate (past its owner's "
        "own nodes) while it is open."
    )
    noise: NonNegative = Field(0.005, description="Daily std. dev. of affinity shocks.")
    realignment_threshold: Probability = Field(
        0.1, description="Alignment past which, on the other side, an actor has realigned."
    )


class Decisions(Strict):
    """The look-ahead that scores actions (mechanism 1)."""

    horizon: Annotated[int, Field(ge=1, le=90)] = Field(
        7, description="Days of look-ahead when predicting an action's effect."
    )
    loss_unit: Positive = Field(
        10.0, description="Soldiers lost that count as one utility unit; when the scenario "
        "declares troops, per 1,000 of the valuing actor's troops in contact (a force under "
        "1,000 counts as 1,000): losses weighed as a share of the force committed (docs/ODD.md "
        "M1). War weariness counts soldiers lost in these units whatever the troops.")
    territory_unit: Positive = Field(
        0.02, description="Valued territory (objective value x share) that counts as one unit."
    )
    people_unit: Positive = Field(
        100_000.0, description="People displaced or hosted that count as one utility unit."
    )
    retaliation: NonNegative = Field(
        1.0, description="Value of striking back, per loss unit of recent losses the target "
        "caused, at full domestic pressure."
    )
    concession: NonNegative = Field(
        0.5, description="Standing lost by conceding, per unit of domestic pressure."
    )
    nesting: Annotated[float, _Number, Field(gt=0.0, le=1.0)] = Field(
        0.5, allow_inf_nan=False, description="Dissimilarity of the acts within a track's "
        "nested logit (McFadden 1978): each day an actor first chooses whether to act, then "
        "which act, so an entry worth nothing does not take probability from entries worth "
        "more; 1 is the plain multinomial logit of model v2."
    )
    compellence: NonNegative = Field(
        1.0, description="Weight of an attack's look-ahead at the deals it coerces "
        "(compellence: the change in the target's acceptance it buys); 0 scores force by its "
        "direct effects alone, as in model v2 (a switch for studies such as "
        "scripts/ablation.py)."
    )
    commitment: NonNegative = Field(
        1.0, description="Weight of a signatory's best new attack across a ceasefire in its "
        "view of the deal (the commitment problem: Fearon 1995, Powell 2006); 0: a deal is "
        "weighed against the status quo path alone, as in model v2."
    )
    intent: bool = Field(
        True, description="One-off acts (grant, activate, open or close a gate) come from a "
        "disposition drawn once per run (decisions.intent in docs/ODD.md); false: a fresh "
        "logit draw every day, as in model v2."
    )
    private_value: NonNegative = Field(
        1.0, description="Spread of an actor's private value of a one-off act (grant, "
        "activate, open or close a gate), unknown to the analyst and drawn once per run, in "
        "units of bargaining.noise (the private resolve of a deal: both are how much a "
        "leader cares, judged once; Fearon 1995). 0: the act's public value alone, with "
        "the logit's own spread 1 / rationality."
    )
    opening_fire: bool = Field(
        True, description="Opening fire (an attack on an actor not attacked the day before) "
        "is a one-off decision with intent as well: each run draws once, per attack entry, "
        "its private value (as for one-off acts), and the attack is on the menu to start "
        "fighting only while that value is positive; attacks that continue a fight are "
        "chosen day by day. False: opening fire is a fresh logit draw every day."
    )
    entrapment: NonNegative = Field(
        0.5, description="Escalation risk a patron takes on by granting an asset to a client "
        "in a crisis: this share of the severity of the client's most severe dyad with "
        "anyone else, weighed as the patron's own escalation risk (Snyder 1984: entrapment; "
        "the abandonment it risks by refusing is the request's weight, request_weight)."
    )
    reciprocity: NonNegative = Field(
        1.0, description="Value of answering an attack not yet answered, whatever the losses "
        "it caused, at no domestic pressure (doubled at full pressure); fades as the attack "
        "recedes and is spent by striking back. A deal that bars the answer costs a party "
        "what it gives up (Sartori 2005; Weisiger & Yarhi-Milo 2015: the cost of being seen "
        "not to answer)."
    )
    audience_memory: Probability = Field(
        0.95, description="Share of a crossed red line's stakes still at stake the next "
        "day while unanswered (red_lines): the moment to answer passes, over about two weeks "
        "by default (half-life ~13.5 days)."
    )
    request_weight: NonNegative = Field(
        0.5, description="Ties value of honouring a partner's open request."
    )
    sanction_review: Probability = Field(
        0.07, description="Daily chance that an actor reviews each of its sanctions in "
        "force: lifting one is on its menu only on a day it is reviewed, so a sanction stays "
        "in force for weeks unless lifting it is worth more than keeping it (sanctions regimes "
        "are reconsidered at intervals, not daily; the EU renews its restrictive measures every "
        "six or twelve months). Default: about a fortnight on average; 1: every day."
    )


class RedLine(Strict):
    """A commitment stated in advance: a red line, a public ultimatum (mechanism 1).

    When the offender crosses it, the author's standing is at stake against the offender
    until it answers by force (an attack or air support against the offender): not acting
    costs the side that made the commitment, so punishment has value even without losses of
    its own (audience costs: Fearon 1994; Schelling 1966 on commitments). Exactly one of
    ``attacks``, ``takes`` or ``reaches`` says what crosses it.
    """

    author: Identifier = Field(description="The actor that declared the red line.")
    offender: Identifier = Field(description="The actor it warns.")
    attacks: Identifier | None = Field(
        None, description="Crossed the first day the offender attacks this actor."
    )
    takes: Identifier | None = Field(
        None, description="Crossed the first day the offender holds at least half of this "
        "objective (the objective's name)."
    )
    reaches: str | None = Field(
        None, description="Crossed the first day the dyad of the offender and 'against' is "
        "at or above this rung (needs 'against')."
    )
    against: Identifier | None = Field(
        None, description="With 'reaches': the offender's opponent in that dyad."
    )
    stakes: NonNegative = Field(
        1.0, description="Standing the author puts at stake (utility units weighed by its "
        "'standing' interest, doubled at full domestic pressure): what answering is worth "
        "once the line is crossed, and what a deal that bars the answer costs it. It fades "
        "by decisions.audience_memory a day and is spent by the answer."
    )
    declared: dt.date | None = Field(
        None, description="Date the red line is declared (default: in force from the start "
        "date); it cannot be crossed before."
    )

    @model_validator(mode="after")
    def _one_trigger(self) -> RedLine:
        given = [k for k in ("attacks", "takes", "reaches") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a red line names exactly one of 'attacks', 'takes' or "
                             f"'reaches' (what crosses it), not {given or 'none'}")
        if (self.reaches is None) != (self.against is None):
            raise ValueError("'reaches' and 'against' go together: the rung, and the actor "
                             "the offender reaches it with")
        if self.author == self.offender:
            raise ValueError(f"the author '{self.author}' cannot be its own offender")
        return self


class Event(Strict):
    """A dated exogenous event (mechanism 9), scheduled with Mesa's event list."""

    date: dt.date
    name: str
    kind: Literal["mediation", "pressure", "affinity", "gate", "asset_available", "casualties",
                  "reinforcement"]
    between: list[Identifier] = Field(
        default_factory=list,
        description="Dyad (mediation, affinity); for casualties [victim, the actor that "
        "caused them].",
    )
    actor: Identifier | None = Field(None, description="Actor (pressure, reinforcement).")
    gate: Identifier | None = Field(None, description="Gate (gate).")
    asset: Identifier | None = Field(None, description="Asset (asset_available).")
    amount: Annotated[float, _Number, Field(ge=-MAX_EVENT_AMOUNT, le=MAX_EVENT_AMOUNT,
                                            allow_inf_nan=False)] = Field(
        0.0, description="Size of the effect (soldiers killed, for casualties: 0 or more; "
        "for reinforcement, added to the actor's exposure, negative for a withdrawal; when the "
        "scenario declares troops, in thousands of troops exposed).",
    )
    days: Annotated[int, Field(ge=1, le=365)] = Field(1, description="How long it lasts.")
    open: bool | None = Field(None, description="Gate state to impose (gate); it breaks a "
                              "deal in force that holds the gate in the other state.")

    @model_validator(mode="after")
    def _needs(self) -> Event:
        needs = {
            "mediation": ("between",),
            "affinity": ("between",),
            "casualties": ("between",),
            "pressure": ("actor",),
            "gate": ("gate", "open"),
            "asset_available": ("asset",),
            "reinforcement": ("actor",),
        }[self.kind]
        missing = [k for k in needs if getattr(self, k) in (None, [])]
        if missing:
            raise ValueError(f"event kind '{self.kind}' needs {', '.join(missing)}")
        if self.kind in ("mediation", "affinity", "casualties") and len(self.between) != 2:
            raise ValueError("'between' names exactly two actors")
        if self.kind == "casualties" and self.amount < 0:
            raise ValueError(f"casualties cannot be negative (amount {self.amount:g})")
        return self


# --------------------------------------------------------------------------- outcomes


class Condition(Strict):
    """A structured condition on a run's indicators: never code.

    Exactly one form: a comparison (``indicator``, ``op`` and ``value`` or ``rung``), a state
    (``state`` with ``at`` or ``held``), or a combination (``all``, ``any``, ``not``) of
    conditions.
    """

    indicator: str | None = Field(None, description="Indicator column, e.g. rung.a~b.max.")
    op: Literal[">=", ">", "<=", "<", "==", "!=", "happened", "never"] | None = None
    value: Annotated[float, _Number] | None = Field(None, allow_inf_nan=False)
    rung: str | None = Field(None, description="Compare with this rung's position.")
    state: str | None = Field(
        None, description="Something that is in effect or not each day: 'agreement' (any "
        "deal), 'agreement.<deal>', 'asset.<asset>' (granted or activated), 'gate.<gate>' "
        "(open), 'sanctions.<actor>.<target>', 'war.<a>~<b>' (at or above war_from). In "
        "effect from day 0 counts. Needs 'at' or 'held'."
    )
    at: Literal["any", "end"] | None = Field(
        None, description="With 'state': in effect on at least one day ('any') or on the "
        "last day ('end')."
    )
    held: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        None, description="With 'state': in effect for at least this many days in a row."
    )
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.indicator is not None, self.all is not None, self.any is not None,
                 self.not_ is not None, self.state is not None]
        if sum(forms) != 1:
            raise ValueError("a condition is exactly one of: indicator/op/value, state/at|held, "
                             "all, any, not")
        for key in ("all", "any"):
            if getattr(self, key) == []:
                raise ValueError(f"'{key}' of no conditions means nothing; list at least one")
        if self.state is None and (self.at is not None or self.held is not None):
            raise ValueError("'at' and 'held' go with 'state' only")
        if self.state is not None:
            if (self.at is None) == (self.held is None):
                raise ValueError("a state condition needs exactly one of 'at' (any or end) "
                                 "or 'held' (days in a row)")
            if self.op is not None or self.value is not None or self.rung is not None:
                raise ValueError("a state condition takes no 'op', 'value' or 'rung'")
        if self.indicator is not None:
            if self.op is None:
                raise ValueError("a comparison needs 'op'")
            if self.op in ("happened", "never"):
                if self.value is not None or self.rung is not None:
                    raise ValueError(f"op '{self.op}' takes no value")
            elif (self.value is None) == (self.rung is None):
                raise ValueError(f"op '{self.op}' needs exactly one of 'value' or 'rung'")
        return self


class Outcome(Strict):
    """A named outcome class, true or false for each run."""

    description: str
    when: Condition


class RunSettings(Strict):
    """Run settings: calendar, horizon, ensemble size and seed."""

    start: dt.date = Field(description="Calendar date of day 0.")
    days: Annotated[int, Field(ge=1, le=3650)] = Field(120, description="Days simulated.")
    runs: Annotated[int, Field(ge=1, le=10**8)] = Field(1000, description="Default ensemble size.")
    seed: Annotated[int, Field(ge=0, lt=2**63)] = Field(0, description="Default seed.")
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = Field(
        250, description="Replications stepped in lockstep per batch."
    )
    sample_paths: Annotated[int, Field(ge=0, le=10_000)] = Field(
        20, description="Runs (the lowest indices) whose full daily paths are kept."
    )


class Refugees(Strict):
    """The refugee network."""

    nodes: dict[Identifier, Node] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)
    gates: dict[Identifier, Gate] = Field(default_factory=dict)
    flows: RefugeeFlows = Field(default_factory=RefugeeFlows)


class Theatre(Strict):
    """The theatre of operations: contested objectives."""

    objectives: dict[Identifier, Objective] = Field(default_factory=dict)


class Scenario(Strict):
    """A complete scenario: actors, world, timeline, outcomes and run settings."""

    name: str
    description: str = ""
    actors: dict[Identifier, Actor] = Field(min_length=2)
    relations: dict[str, Relation] = Field(default_factory=dict)
    institutions: dict[Identifier, Institution] = Field(default_factory=dict)
    blocs: dict[Identifier, list[Identifier]] = Field(
        default_factory=dict,
        description="Exactly two blocs; alignment runs from the second (-1) to the first (+1).",
    )
    ladder: Ladder
    assets: dict[Identifier, Asset] = Field(default_factory=dict)
    theatre: Theatre = Field(default_factory=Theatre)
    fighting: Fighting = Field(default_factory=Fighting)
    refugees: Refugees
    deals: dict[Identifier, Deal] = Field(default_factory=dict)
    bargaining: Bargaining = Field(default_factory=Bargaining)
    alliances: Alliances = Field(default_factory=Alliances)
    decisions: Decisions = Field(default_factory=Decisions)
    timeline: list[Event] = Field(default_factory=list)
    red_lines: dict[Identifier, RedLine] = Field(
        default_factory=dict, description="Commitments stated in advance, by name: what "
        "crosses each and what its author has at stake when it is crossed (audience costs)."
    )
    outcomes: dict[Identifier, Outcome] = Field(min_length=1)
    run: RunSettings


def reference_errors(s: Scenario) -> list[tuple[str, str]]:
    """Return ``(key path, message)`` for every reference to something that does not exist."""
    actors = set(s.actors)
    rungs = list(s.ladder.rungs)
    nodes = set(s.refugees.nodes)
    gates = set(s.refugees.gates)
    assets = set(s.assets)
    deals = set(s.deals)
    objectives = set(s.theatre.objectives)

    def need(kind: str, pool: set[str] | list[str], name: str | None, path: str):
        if name is not None and name not in pool:
            from difflib import get_close_matches

            close = get_close_matches(name, list(pool), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known: {sorted(pool)}"
            return [(path, f"unknown {kind} '{name}'{hint}")]
        return []

    out: list[tuple[str, str]] = []
    pairs: dict[frozenset[str], str] = {}
    for key, rel in s.relations.items():
        try:
            a, b = split_dyad(key)
        except ValueError as exc:
            out.append((f"relations.{key}", str(exc)))
            continue
        if frozenset((a, b)) in pairs:  # else the later would silently win
            out.append((f"relations.{key}", f"the same pair as '{pairs[frozenset((a, b))]}'; "
                        "give each pair once, in either order"))
        pairs.setdefault(frozenset((a, b)), key)
        out += need("actor", actors, a, f"relations.{key}")
        out += need("actor", actors, b, f"relations.{key}")
        out += need("rung", rungs, rel.rung, f"relations.{key}.rung")
        out += need("rung", rungs, rel.resting_rung, f"relations.{key}.resting_rung")
        for i, x in enumerate(rel.sanctions):
            if x not in (a, b):
                out.append((f"relations.{key}.sanctions[{i}]", f"'{x}' is not one of the pair "
                            f"'{key}': name '{a}' (its sanctions on '{b}') or '{b}'"))
    for key, actor in s.actors.items():
        for dyad in actor.present_in:
            where = f"actors.{key}.present_in.{dyad}"
            try:
                sides = split_dyad(dyad)
            except ValueError as exc:
                out.append((where, str(exc)))
                continue
            for a in sides:
                out += need("actor", actors, a, where)
            if key in sides:
                out.append((where, f"'{key}' is a side of '{dyad}': its losses there are "
                            "the fighting's own; name a dyad it is not part of"))
    for key, inst in s.institutions.items():
        for i, m in enumerate(inst.members):
            out += need("actor", actors, m, f"institutions.{key}.members[{i}]")
    if s.blocs and len(s.blocs) != 2:
        out.append(("blocs", f"name exactly two blocs, not {len(s.blocs)}"))
    in_bloc: dict[str, str] = {}
    for key, members in s.blocs.items():
        for i, m in enumerate(members):
            out += need("actor", actors, m, f"blocs.{key}[{i}]")
            if m in in_bloc:
                where = "twice in this bloc" if in_bloc[m] == key else \
                    f"in both '{in_bloc[m]}' and '{key}'"
                out.append((f"blocs.{key}[{i}]", f"actor '{m}' is {where}; an actor belongs "
                            "to at most one bloc, once"))
            in_bloc.setdefault(m, key)
    out += need("rung", rungs, s.ladder.armed_from, "ladder.armed_from")
    out += need("rung", rungs, s.ladder.war_from, "ladder.war_from")
    out += need("rung", rungs, s.ladder.incident_from, "ladder.incident_from")
    if (s.ladder.incident_from in rungs and s.ladder.armed_from in rungs
            and rungs.index(s.ladder.incident_from) >= rungs.index(s.ladder.armed_from)):
        out.append(("ladder.incident_from", f"rung '{s.ladder.incident_from}' is not below "
                    f"armed_from '{s.ladder.armed_from}'; incidents happen at hostile rungs "
                    "short of fighting"))
    for aid, actor in s.actors.items():
        menu: dict[tuple, int] = {}
        for i, act in enumerate(actor.actions):
            p = f"actors.{aid}.actions[{i}]"
            same = (act.verb, act.target, act.asset, act.gate, act.deal, act.client,
                    act.once_per_run)
            if same in menu:  # a repeat multiplies the action's chance under the logit choice
                out.append((p, f"'{act.label()}' is already action [{menu[same]}] of the menu; "
                            "list each action once"))
            menu.setdefault(same, i)
            out += need("actor", actors - {aid}, act.target, f"{p}.target")
            out += need("actor", actors - {aid}, act.client, f"{p}.client")
            out += need("asset", assets, act.asset, f"{p}.asset")
            if act.verb == "activate" and act.asset in assets:
                asset = s.assets[act.asset]
                if (asset.holder or asset.owner) != aid:
                    out.append((f"{p}.asset", f"asset '{act.asset}' is held by "
                                f"'{asset.holder or asset.owner}'; only its holder activates it"))
            out += need("gate", gates, act.gate, f"{p}.gate")
            out += need("deal", deals, act.deal, f"{p}.deal")
            out += need("rung", rungs, act.to_rung, f"{p}.to_rung")
            if (act.to_rung in rungs and s.ladder.armed_from in rungs
                    and rungs.index(act.to_rung) < rungs.index(s.ladder.armed_from)):
                out.append((f"{p}.to_rung", f"rung '{act.to_rung}' is below armed_from "
                            f"'{s.ladder.armed_from}'; an offensive starts fighting"))
            if act.gate in gates and s.refugees.gates[act.gate].owner != aid:
                out.append((f"{p}.gate", f"gate '{act.gate}' is owned by "
                            f"'{s.refugees.gates[act.gate].owner}', not '{aid}'"))
            if act.verb == "grant_support" and act.asset in assets \
                    and s.assets[act.asset].owner != aid:
                out.append((f"{p}.asset", f"only the owner '{s.assets[act.asset].owner}' "
                            f"can grant asset '{act.asset}'"))
            if (act.verb == "negotiate" and act.deal in deals
                    and aid not in s.deals[act.deal].proposers):
                out.append((f"{p}.deal", f"'{aid}' is neither a party to deal '{act.deal}' "
                            "nor one of its mediators"))
    for key, asset in s.assets.items():
        p = f"assets.{key}"
        out += need("actor", actors, asset.owner, f"{p}.owner")
        out += need("actor", actors, asset.holder, f"{p}.holder")
        out += need("actor", actors, asset.deployed_at_start, f"{p}.deployed_at_start")
        for other in asset.effects.affinity:
            out += need("actor", actors, other, f"{p}.effects.affinity.{other}")
        for i, other in enumerate(asset.conditions.requires_inactive):
            out += need("asset", assets, other, f"{p}.conditions.requires_inactive[{i}]")
        for other in asset.conditions.penalty_if_held:
            out += need("asset", assets, other, f"{p}.conditions.penalty_if_held.{other}")
    for key, obj in s.theatre.objectives.items():
        for a in obj.value:
            out += need("actor", actors, a, f"theatre.objectives.{key}.value.{a}")
        for a in obj.control:
            out += need("actor", actors, a, f"theatre.objectives.{key}.control.{a}")
    for key, node in s.refugees.nodes.items():
        out += need("objective", objectives, node.objective, f"refugees.nodes.{key}.objective")
        out += need("actor", actors, node.host, f"refugees.nodes.{key}.host")
        for a in node.regard:
            out += need("actor", actors, a, f"refugees.nodes.{key}.regard.{a}")
        if node.regard and node.objective is None:
            out.append((f"refugees.nodes.{key}.regard", "a regard says whom the people flee "
                        "once it takes the node's ground, but the node has no objective; give "
                        "it one (theatre.objectives) or drop regard"))
    for i, edge in enumerate(s.refugees.edges):
        out += need("node", nodes, edge.source, f"refugees.edges[{i}].from")
        out += need("node", nodes, edge.target, f"refugees.edges[{i}].to")
        out += need("gate", gates, edge.gate, f"refugees.edges[{i}].gate")
    for key, gate in s.refugees.gates.items():
        out += need("actor", actors, gate.owner, f"refugees.gates.{key}.owner")
    for key, line in s.red_lines.items():
        p = f"red_lines.{key}"
        out += need("actor", actors, line.author, f"{p}.author")
        out += need("actor", actors, line.offender, f"{p}.offender")
        out += need("actor", actors - {line.offender}, line.attacks, f"{p}.attacks")
        out += need("objective", objectives, line.takes, f"{p}.takes")
        out += need("rung", rungs, line.reaches, f"{p}.reaches")
        out += need("actor", actors - {line.offender}, line.against, f"{p}.against")
        if line.declared is not None and line.declared < s.run.start:
            out.append((f"{p}.declared", f"{line.declared} is before the start date "
                        f"{s.run.start}; leave it out for a line in force from the start"))
    for key, deal in s.deals.items():
        seen: set[str] = set()
        for field, ids in (("parties", deal.parties), ("mediators", deal.mediators)):
            for i, a in enumerate(ids):
                out += need("actor", actors, a, f"deals.{key}.{field}[{i}]")
                if a in seen:
                    out.append((f"deals.{key}.{field}[{i}]", f"'{a}' is listed twice among "
                                "the deal's parties and mediators; list each actor once"))
                seen.add(a)
        def bound(who: str | None, what: str, where: str, deal: Deal = deal,
                  key: str = key) -> list[tuple[str, str]]:
            """A term binds what only a party can promise."""
            if who is None or who in deal.parties:
                return []
            return [(where, f"{what} belongs to '{who}', who is not a party to deal '{key}': "
                     "a deal binds only its signatories; add it to parties or drop the term")]

        for g in deal.gates:
            out += need("gate", gates, g, f"deals.{key}.gates.{g}")
            if g in gates:
                out += bound(s.refugees.gates[g].owner, f"gate '{g}'", f"deals.{key}.gates.{g}")
            if g in gates and s.refugees.gates[g].policy != "decide":
                out.append((f"deals.{key}.gates.{g}", f"gate '{g}' has the fixed policy "
                            f"'{s.refugees.gates[g].policy}': a deal cannot bind it; give the "
                            "gate policy 'decide' or drop the term"))
        for k, to in deal.grants.items():
            out += need("asset", assets, k, f"deals.{key}.grants.{k}")
            if k in assets:
                out += bound(s.assets[k].owner, f"asset '{k}'", f"deals.{key}.grants.{k}")
                if to == s.assets[k].owner:
                    out.append((f"deals.{key}.grants.{k}", f"'{to}' owns asset '{k}': a deal "
                                "grants an asset to another actor; name the recipient"))
            out += need("actor", actors, to, f"deals.{key}.grants.{k}")
            if k in deal.withhold:
                out.append((f"deals.{key}.grants.{k}", f"asset '{k}' is both granted and "
                            "withheld by this deal; keep one"))
        for i, k in enumerate(deal.withhold):
            out += need("asset", assets, k, f"deals.{key}.withhold[{i}]")
            if k in assets:
                out += bound(s.assets[k].owner, f"asset '{k}'", f"deals.{key}.withhold[{i}]")
        for i, dyad in enumerate(deal.lift_sanctions):
            try:
                for a in split_dyad(dyad):
                    out += need("actor", actors, a, f"deals.{key}.lift_sanctions[{i}]")
                    if a in actors:
                        out += bound(a, f"a sanction of '{a}'",
                                     f"deals.{key}.lift_sanctions[{i}]")
            except ValueError as exc:
                out.append((f"deals.{key}.lift_sanctions[{i}]", str(exc)))
        for payer, paid in deal.payments.items():
            out += need("actor", actors, payer, f"deals.{key}.payments.{payer}")
            if payer in actors and payer not in deal.proposers:
                out.append((f"deals.{key}.payments.{payer}", f"'{payer}' pays but is neither a "
                            f"party to deal '{key}' nor one of its mediators; add it to one"))
            for payee in paid:
                out += need("actor", actors, payee, f"deals.{key}.payments.{payer}.{payee}")
                if payee == payer:
                    out.append((f"deals.{key}.payments.{payer}.{payee}",
                                "an actor cannot pay itself"))
        out += need("rung", rungs, deal.rung_cap, f"deals.{key}.rung_cap")
        for i, dyad in enumerate(deal.ceasefire):
            try:
                for a in split_dyad(dyad):
                    out += need("actor", actors, a, f"deals.{key}.ceasefire[{i}]")
            except ValueError as exc:
                out.append((f"deals.{key}.ceasefire[{i}]", str(exc)))
        for obj, shares in deal.transfer.items():
            out += need("objective", objectives, obj, f"deals.{key}.transfer.{obj}")
            for a in shares:
                out += need("actor", actors, a, f"deals.{key}.transfer.{obj}.{a}")
            if abs(sum(shares.values()) - 1.0) > 1e-6:
                out.append((f"deals.{key}.transfer.{obj}", "shares must sum to 1"))
    for i, ev in enumerate(s.timeline):
        p = f"timeline[{i}]"
        for j, a in enumerate(ev.between):
            out += need("actor", actors, a, f"{p}.between[{j}]")
        out += need("actor", actors, ev.actor, f"{p}.actor")
        out += need("gate", gates, ev.gate, f"{p}.gate")
        out += need("asset", assets, ev.asset, f"{p}.asset")
        if ev.date < s.run.start:
            out.append((f"{p}.date", f"{ev.date} is before run.start {s.run.start}"))
        last = _add_days(s.run.start, s.run.days - 1)  # events act on days 0 .. days - 1
        if last is not None and ev.date > last:
            out.append((f"{p}.date", f"{ev.date} is after the last simulated day {last} "
                        f"(run.start + run.days - 1): it would never happen; move it, or "
                        "lengthen run.days"))
    if _add_days(s.run.start, s.run.days) is None:
        out.append(("run.start", f"{s.run.start} plus {s.run.days} days passes the year 9999, "
                    "the last date the calendar has; choose an earlier start"))
    for key, outcome in s.outcomes.items():
        out += [(f"outcomes.{key}.when{sub}", msg)
                for sub, msg in _condition_rung_errors(outcome.when, rungs)]
    out += troops_errors(s)
    return out


def troops_errors(s: Scenario) -> list[tuple[str, str]]:
    """Once one actor declares troops, every actor exposed to fire must declare its own.

    Losses then scale with thousands of troops in contact (docs/ODD.md M4); an actor
    without a head count would have none to scale, and mixing the two loss rules in one
    scenario would mix two units.
    """
    declared = [a for a, x in s.actors.items() if x.capabilities.troops is not None]
    if not declared:
        return []
    return [(f"actors.{a}.capabilities.troops",
             f"'{declared[0]}' declares its troops in contact, so '{a}', exposed to fire "
             "(exposure above 0), must too: add capabilities.troops (soldiers in contact, "
             "with a source) or set capabilities.exposure: 0")
            for a, x in s.actors.items()
            if x.capabilities.troops is None and x.capabilities.exposure > 0]


def _add_days(start: dt.date, days: int) -> dt.date | None:
    """``start + days``, or None past the calendar's end (year 9999)."""
    try:
        return start + dt.timedelta(days=days)
    except OverflowError:
        return None


def _condition_rung_errors(cond: Condition, rungs: list[str], path: str = ""):
    if cond.rung is not None and cond.rung not in rungs:
        yield f"{path}.rung", f"unknown rung '{cond.rung}'; known: {rungs}"
    for key in ("all", "any"):
        for i, sub in enumerate(getattr(cond, key) or []):
            yield from _condition_rung_errors(sub, rungs, f"{path}.{key}[{i}]")
    if cond.not_ is not None:
        yield from _condition_rung_errors(cond.not_, rungs, f"{path}.not")


# --------------------------------------------------------------------------- uncertain values


class Prior(Strict):
    """The distribution of an uncertain value (``{value: x, prior: {...}}``; issue 13).

    ``range: [low, high]`` beside a value is short for ``prior: {dist: uniform, low, high}``.
    ``sim run --uncertain`` draws each run's value from it; ``sim calibrate`` fits it.
    """

    dist: Literal["uniform", "triangular", "normal", "lognormal", "beta"] = Field(
        description="uniform(low, high); triangular(low, mode, high); normal(mean, sd); "
        "lognormal(median, sigma of the log); beta(a, b) on [low, high] (default [0, 1]).")
    low: float | None = Field(None, allow_inf_nan=False, description="Lower bound (normal and "
                              "lognormal: optional truncation).")
    high: float | None = Field(None, allow_inf_nan=False, description="Upper bound.")
    mode: float | None = Field(None, allow_inf_nan=False, description="Triangular: the mode.")
    mean: float | None = Field(None, allow_inf_nan=False, description="Normal: the mean.")
    sd: Positive | None = Field(None, description="Normal: the standard deviation.")
    median: Positive | None = Field(None, description="Lognormal: the median.")
    sigma: Positive | None = Field(None, description="Lognormal: standard deviation of the log.")
    a: Positive | None = Field(None, description="Beta: first shape parameter.")
    b: Positive | None = Field(None, description="Beta: second shape parameter.")

    @model_validator(mode="after")
    def _parameters(self) -> Prior:
        needs = {"uniform": {"low", "high"}, "triangular": {"low", "mode", "high"},
                 "normal": {"mean", "sd"}, "lognormal": {"median", "sigma"}, "beta": {"a", "b"}}
        optional = {"normal": {"low", "high"}, "lognormal": {"low", "high"},
                    "beta": {"low", "high"}}
        given = {k for k in ("low", "high", "mode", "mean", "sd", "median", "sigma", "a", "b")
                 if getattr(self, k) is not None}
        missing = needs[self.dist] - given
        if missing:
            raise ValueError(f"a {self.dist} prior needs {', '.join(sorted(missing))}")
        extra = given - needs[self.dist] - optional.get(self.dist, set())
        if extra:
            raise ValueError(f"a {self.dist} prior takes no {', '.join(sorted(extra))}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:
            raise ValueError("the mode must lie between low and high")
        if self.dist == "beta" and (self.low is None) != (self.high is None):
            raise ValueError("a beta prior takes both low and high, or neither")
        return self

    def support(self) -> tuple[float, float]:
        """The interval the draws fall in (infinite ends for untruncated normal/lognormal)."""
        if self.dist == "beta":
            return (self.low if self.low is not None else 0.0,
                    self.high if self.high is not None else 1.0)
        low = self.low if self.low is not None else (0.0 if self.dist == "lognormal"
                                                     else float("-inf"))
        high = self.high if self.high is not None else float("inf")
        return low, high

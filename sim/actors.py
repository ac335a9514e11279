"""State actors: the Mesa agents of the model.

Each actor owns its interests, rationality and menu, and its ``decide`` step: given the
scored menu (predicted utilities of every entry, computed for all actors from the same
observed state, so moves are simultaneous), it picks one entry per replication by quantal
response. Its memory (grievances, pressure, losses) lives in the model's lockstep arrays and
is exposed here as properties, so the SolaraViz page and tests can read an actor naturally.
"""

from __future__ import annotations

import functools

import mesa
import numpy as np

from sim.jit import kernel, pick
from sim.mechanisms.decisions import logit_pick, quantal_choice
from sim.world import VERB


class StateActor(mesa.Agent):
    """A state in the crisis, stepping R replications at once.

    Args:
        model: The ``sim.model.CrisisModel`` it belongs to (its ``layout``, ``params``,
            ``state`` and ``replications`` are read). Typed as Mesa's model: the crisis model
            imports its actors, so naming it here would make the two modules import each
            other.
        index: Its position in the model's actor arrays.
    """

    def __init__(self, model: mesa.Model, index: int) -> None:
        super().__init__(model)
        layout = model.layout
        self.index = index
        self.actor_id = layout.actors[index]
        self.name = layout.actor_names[index]
        start, stop = layout.menu.offsets[index], layout.menu.offsets[index + 1]
        self.menu = slice(int(start), int(stop))
        self.menu_labels = layout.menu.labels[self.menu]
        self.last_choice = np.full((model.replications.size, 2), -1, dtype=np.int64)

    @property
    def rationality(self) -> np.ndarray:
        """Logit precision, ``(P,)``."""
        return self.model.params.rationality[:, self.index]

    @property
    def interests(self) -> np.ndarray:
        """Normalised weights over the objective vocabulary, ``(P, n_objectives)``."""
        return self.model.params.interests[:, self.index]

    @property
    def pressure(self) -> np.ndarray:
        """Domestic pressure per replication, ``(R,)``."""
        return self.model.state.pressure[:, self.index]

    @property
    def losses(self) -> np.ndarray:
        """Cumulative military losses per replication, ``(R,)``."""
        return self.model.state.losses_by[:, self.index].sum(axis=1)

    def decide(self, utility: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Choose a posture and a move in every replication by quantal response.

        An actor acts on two tracks a day, so negotiating never forces it to stop fighting
        (or defending itself): a *posture* (hold, attack, de-escalate, fly air support,
        withdraw one's forces) and a *move* (propose a deal, request, grant or activate an
        asset, sanction, threaten, open or close a gate). Each track is a nested logit choice
        (``decisions.quantal_choice``): whether to act at all against doing nothing (utility
        0, the reference; ``hold`` is the posture track's own nothing when the menu lists
        it), then which act (McFadden 1978).

        Args:
            utility: ``(R, M)`` utilities of all menu entries of all actors.
            u: ``(R, 2)`` uniforms for this actor today, one per track.

        Returns:
            ``(R, 2)`` global menu-entry indices chosen on each track, -1 for nothing.
        """
        out = np.full((utility.shape[0], 2), -1, dtype=np.int64)
        nesting = self.model.params.nesting
        for track, (entries, null) in enumerate(self._tracks):
            if entries.size == 0:
                continue
            options = utility[:, entries]
            if null < 0:
                options = np.concatenate([options, np.zeros((options.shape[0], 1))], axis=1)
                null = entries.size
            local = quantal_choice(options, self.rationality, np.ascontiguousarray(u[:, track]),
                                   null, nesting)
            picked = local < entries.size
            out[picked, track] = entries[local[picked]]
        self.last_choice = out
        return out

    @functools.cached_property
    def _tracks(self) -> tuple[tuple[np.ndarray, int], ...]:
        """Each track's global menu entries and the local index of its 'hold' (-1: none)."""
        verbs = self.model.layout.menu.verb[self.menu]
        entries = np.arange(self.menu.start, self.menu.stop, dtype=np.int64)
        posture = np.isin(verbs, POSTURE_VERBS)
        holds = np.flatnonzero(verbs[posture] == VERB["hold"])
        return ((entries[posture], int(holds[0]) if holds.size else -1),
                (entries[~posture], -1))


def track_table(actors: list[StateActor]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every actor's two tracks as arrays for ``choose``: entries, their counts, the nulls.

    Row ``2 a + track`` holds actor a's global menu entries on that track (padded with -1),
    its count, and the local index of its 'hold' (-1: none), as ``StateActor._tracks``.
    """
    tracks = [track for actor in actors for track in actor._tracks]
    width = max([entries.size for entries, _ in tracks] + [1])
    entries = np.full((len(tracks), width), -1, dtype=np.int64)
    for x, (members, _) in enumerate(tracks):
        entries[x, :members.size] = members
    counts = np.array([members.size for members, _ in tracks], dtype=np.int64)
    nulls = np.array([null for _, null in tracks], dtype=np.int64)
    return entries, counts, nulls


@kernel
def choose(utility, entries, counts, nulls, rationality, nesting, u, chosen, choice):
    """Every actor's ``decide``, for every replication, in one compiled pass.

    The same choices as ``StateActor.decide`` called actor by actor (the same arithmetic,
    ``decisions.logit_pick``), without a copy of each track's utilities per call.

    Args:
        utility: ``(R, M)`` utilities of all menu entries of all actors.
        entries: ``(2 A, W)`` each track's global menu entries (``track_table``).
        counts: ``(2 A,)`` how many entries each track has.
        nulls: ``(2 A,)`` the local index of each track's 'hold', -1 for none.
        rationality: ``(P, A)`` logit precision.
        nesting: ``(P,)`` the acting branch's dissimilarity.
        u: ``(R, 2 A)`` today's uniforms: actor a's posture uses column a, its move A + a.
        chosen: ``(R, M)`` bool, written: the entries chosen.
        choice: ``(R, A, 2)`` int, written: each actor's entry on each track, -1 for nothing.
    """
    n = choice.shape[1]
    values = np.empty(entries.shape[1] + 1)
    weights = np.empty(entries.shape[1] + 1)
    for r in range(utility.shape[0]):
        for e in range(utility.shape[1]):
            chosen[r, e] = False
        for x in range(counts.size):
            a, track = x // 2, x % 2
            choice[r, a, track] = -1
            m = counts[x]
            if m == 0:
                continue
            for c in range(m):
                values[c] = utility[r, entries[x, c]]
            null = nulls[x]
            if null < 0:  # doing nothing is an option worth 0 beside the track's entries
                values[m] = 0.0
                null = m
                m += 1
            local = logit_pick(values, m, null, rationality[pick(rationality.shape[0], r), a],
                               nesting[pick(nesting.shape[0], r)],
                               u[r, a if track == 0 else n + a], weights)
            if local < counts[x]:
                choice[r, a, track] = entries[x, local]
                chosen[r, entries[x, local]] = True


#: The verbs of the posture track; every other verb is a move (``StateActor.decide``).
POSTURE_VERBS = np.asarray([VERB["hold"], VERB["attack"], VERB["deescalate"],
                            VERB["air_support"], VERB["withdraw"]])

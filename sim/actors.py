"""State actors: the Mesa agents of the model.

Each actor owns its interests, rationality and menu, and its ``decide`` step: given the
scored menu (predicted utilities of every entry, computed for all actors from the same
observed state, so moves are simultaneous), it picks one entry per replication by quantal
response. Its memory (grievances, pressure, losses) lives in the model's lockstep arrays and
is exposed here as properties, so the SolaraViz page and tests can read an actor naturally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.mechanisms.decisions import quantal_choice

if TYPE_CHECKING:
    from sim.model import CrisisModel


class StateActor(mesa.Agent):
    """A state in the crisis, stepping R replications at once.

    Args:
        model: The model it belongs to.
        index: Its position in the model's actor arrays.
    """

    def __init__(self, model: CrisisModel, index: int) -> None:
        super().__init__(model)
        layout = model.layout
        self.index = index
        self.actor_id = layout.actors[index]
        self.name = layout.actor_names[index]
        start, stop = layout.menu.offsets[index], layout.menu.offsets[index + 1]
        self.menu = slice(int(start), int(stop))
        self.menu_labels = layout.menu.labels[self.menu]
        self.last_choice = np.zeros(model.replications.size, dtype=np.int64) + start

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
        """Choose a menu entry in every replication by quantal response.

        Args:
            utility: ``(R, M)`` utilities of all menu entries of all actors.
            u: ``(R,)`` uniforms for this actor today.

        Returns:
            ``(R,)`` global menu-entry indices chosen.
        """
        local = quantal_choice(utility[:, self.menu], self.rationality, u)
        self.last_choice = self.menu.start + local
        return self.last_choice

"""`RandomAgent`: uniform actions from the action specs (a baseline)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from modalbridge.agents.agent import Agent
from modalbridge.bridges.specs import SpecLike, sample


class RandomAgent(Agent):
    """Samples every action uniformly within its spec (unbounded floats: standard normal).

    >>> agent = RandomAgent(dict(state=dict(type='float', shape=(2,))), dict(action=dict(type='int', num_values=3)),
    ...                     seed=0)
    >>> int(agent.act(dict(state=np.zeros(2, np.float32)))['action']) in (0, 1, 2)
    True
    """

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], parallel: int | None = None,
                 **fields: Any):
        super().__init__(states, actions, parallel, **fields)
        self._rng = np.random.default_rng(self.config.seed)

    def _act(self, states, deterministic, independent):
        rows = next(iter(states.values())).shape[0]
        return {name: np.stack([sample(spec, self._rng) for _ in range(rows)])
                for name, spec in self.actions.items()}

    def _observe(self, reward, terminal, final_states):
        return False

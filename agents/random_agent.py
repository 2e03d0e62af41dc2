"""`RandomAgent`: uniform actions from the action specs (a baseline)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from modalbridge.bridges.specs import SpecLike, sample
from modalbridge.agents.agent import Agent


class RandomAgent(Agent):
    """Samples every action uniformly within its spec (unbounded floats: standard normal).

    >>> agent = RandomAgent(env.states, env.actions, seed=0)
    >>> actions = agent.act(states)
    """

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], parallel: int = 1,
                 seed: int | None = None):
        super().__init__(states, actions, parallel)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def config(self) -> dict[str, Any]:
        return dict(super().config(), seed=self.seed)

    def _act(self, states, deterministic, independent):
        rows = next(iter(states.values())).shape[0]
        return {name: np.stack([sample(spec, self._rng) for _ in range(rows)])
                for name, spec in self.actions.items()}

    def _observe(self, reward, terminal, final_states):
        return False

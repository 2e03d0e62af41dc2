"""`RolloutBuffer`: a preallocated ``(steps + 1, envs, ...)`` record of a rollout.

One row per act: the states acted on (uint8 images stay uint8 until the
network), each head's sample, its log-probability and the value; then the
outcome (reward, ended) at observe. The extra row holds the step after the
rollout, whose value bootstraps it; after an update that row becomes the
first of the next rollout (`carry_last`), so no extra value call is needed.
Truncated episodes keep their final states until `truncations()` bootstraps
them all at once. A recurrent policy's rows also hold the core state each
act started from and whether it started an episode (`first`): row 0's core
state is the segment's initial state for truncated backpropagation through
time.

>>> buffer = RolloutBuffer(dict(state=((2,), np.float32)), dict(action=((), np.int64)), steps=2, num_envs=1)
>>> buffer.add_act(dict(state=np.zeros((1, 2), np.float32)), dict(action=np.array([1])),
...                log_prob=np.array([-0.7]), value=np.array([0.5]))
>>> buffer.add_outcome(np.array([1.0]), np.array([False]))
>>> buffer.size, buffer.full
(1, False)
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from modalbridge.bridges.errors import ConfigError

Layout = Mapping[str, tuple[tuple[int, ...], Any]]


class RolloutBuffer:
    """Preallocated rollout storage (see the module docstring)."""

    def __init__(self, states: Layout, samples: Layout, steps: int, num_envs: int, core: Layout | None = None):
        self.steps, self.num_envs = steps, num_envs
        rows = (steps + 1, num_envs)
        self.core = {name: np.zeros(rows + tuple(shape), dtype) for name, (shape, dtype) in (core or {}).items()}
        self.first = np.zeros(rows, bool)
        self.states = {name: np.zeros(rows + tuple(shape), dtype) for name, (shape, dtype) in states.items()}
        self.samples = {name: np.zeros(rows + tuple(shape), dtype) for name, (shape, dtype) in samples.items()}
        self.log_prob = np.zeros(rows, np.float32)
        self.value = np.zeros(rows, np.float32)
        self.reward = np.zeros(rows, np.float64)
        self.ended = np.zeros(rows, np.float64)
        self._truncations: list[tuple[int, np.ndarray, dict[str, np.ndarray] | None]] = []
        self.size = 0          # rows with an observed outcome
        self.pending = False   # a row acted on, waiting for its outcome

    @property
    def full(self) -> bool:
        """All rows, the bootstrap row included, are complete."""
        return self.size == self.steps + 1

    def expect_act(self) -> None:
        """Raises unless the last act was observed (checked before acting changes anything)."""
        if self.pending:
            raise ConfigError('act: call observe() after each act() before acting again '
                              '(or act with independent=True)')

    def add_act(self, states: Mapping[str, np.ndarray], samples: Mapping[str, np.ndarray],
                log_prob: np.ndarray, value: np.ndarray, core: Mapping[str, np.ndarray] | None = None,
                first: np.ndarray | None = None) -> None:
        self.expect_act()
        row = self.size
        if self.core:
            assert core is not None, 'a recurrent policy acts with its core state'
            for name, array in self.core.items():
                array[row] = core[name]
        self.first[row] = False if first is None else first
        for name, array in self.states.items():
            array[row] = states[name]
        for name, array in self.samples.items():
            array[row] = samples[name]
        self.log_prob[row], self.value[row] = log_prob, value
        self.pending = True

    def add_outcome(self, reward: np.ndarray, ended: np.ndarray, truncated: np.ndarray | None = None,
                    final_states: Mapping[str, np.ndarray] | None = None) -> None:
        """Records the outcome of the pending row; `truncated` rows bootstrap later from
        `final_states` (network states), or from the states acted on when those are None."""
        if not self.pending:
            raise ConfigError('observe: call act() before each observe()')
        row = self.size
        self.reward[row], self.ended[row] = reward, ended
        if truncated is not None and truncated.any():
            states = None if final_states is None else {k: np.asarray(v)[truncated] for k, v in final_states.items()}
            self._truncations.append((row, truncated.copy(), states))
        self.size += 1
        self.pending = False

    def truncations(self) -> list[tuple[int, np.ndarray, dict[str, np.ndarray] | None]]:
        """The pending truncations ``(row, mask, final states or None)``; forgets them."""
        found, self._truncations = self._truncations, []
        return found

    def carry_last(self) -> None:
        """After an update: the bootstrap row becomes row 0 of the next rollout."""
        last = self.steps
        arrays: tuple[np.ndarray, ...] = (*self.states.values(), *self.samples.values(), *self.core.values(),
                                          self.log_prob, self.value, self.reward, self.ended, self.first)
        for array in arrays:
            array[0] = array[last]
        self.size = 1

    def reset(self) -> None:
        self.size, self.pending, self._truncations = 0, False, []

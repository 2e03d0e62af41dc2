"""What the off-policy learners share: store each step in the replay memory, then update on schedule.

A learner (`DQN`, `TD3`) sets `memory` (a `ReplayMemory`), `exploration`, the `gradient_steps`
variable and `_pending` (the states and actions of its last `act`), and implements
`_update(steps)`; its config has `first_update`, `batch_size`, `update_frequency` and
`repeat_update` (the seed's DQN names).
"""

from __future__ import annotations

from typing import Any

from modalbridge.agents.agent import Agent
from modalbridge.agents.exploration import Exploration
from modalbridge.agents.replay import ReplayMemory
from modalbridge.bridges.errors import ConfigError


class OffPolicyAgent(Agent):
    """Base class of the replay-memory learners: `observe` stores the transition and runs
    `repeat_update` gradient steps for every `update_frequency` timesteps past `first_update`.

    >>> from modalbridge.agents.dqn import DQN
    >>> agent = DQN(dict(state=dict(type='float', shape=(2,))), dict(action=dict(type='int', num_values=2)),
    ...             memory_capacity=64, batch_size=4, first_update=8, seed=0)
    >>> isinstance(agent, OffPolicyAgent)
    True
    """

    memory: ReplayMemory
    exploration: Exploration
    gradient_steps: Any  # a tf.Variable counting the gradient steps taken
    _pending: tuple[dict, dict] | None

    def _update(self, steps: int) -> None:
        raise NotImplementedError

    def _observe(self, reward, terminal, final_states):
        if self._pending is None:
            raise ConfigError('observe: call act() before each observe()')
        (states, actions), self._pending = self._pending, None
        self.memory.add(states, actions, reward, terminal, final_states)
        self.exploration.episode_start(terminal != 0)
        h = self.config
        if self.timesteps < max(h.first_update, h.batch_size):
            return False
        before = max(self.timesteps - reward.shape[0], h.first_update - 1, 0)
        rounds = self.timesteps // h.update_frequency - before // h.update_frequency
        if rounds <= 0 or (not self.gradient_steps.numpy() and not self.memory.complete()):
            return False  # (n-step windows may still be open at first_update)
        self._update(rounds * h.repeat_update)
        return True

"""`to_dm_env`: any contract `Environment` back out as a `dm_env.Environment`."""

from __future__ import annotations

from typing import Any

import dm_env
import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import names
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError


class DMEnv(dm_env.Environment):
    """A contract environment seen as a dm_env environment (made by `to_dm_env`).

    Specs are the contract's own (a lone ``'state'`` / ``'action'`` is the bare
    spec, otherwise a dict of flat names). TERMINATED ends with discount 0,
    TRUNCATED with discount 1; a step after the end starts a new episode, as
    dm_env asks.
    """

    def __init__(self, env: Environment):
        self._env = env
        self._single_state = list(env.states) == [names.STATE]
        self._single_action = list(env.actions) == [names.ACTION]
        self._needs_reset = True

    @property
    def env(self) -> Environment:
        return self._env

    def observation_spec(self) -> Any:
        return self._env.states[names.STATE] if self._single_state else dict(self._env.states)

    def action_spec(self) -> Any:
        return self._env.actions[names.ACTION] if self._single_action else dict(self._env.actions)

    def reward_spec(self) -> dm_specs.Array:
        return dm_specs.Array((), np.float64, name='reward')

    def _observation(self, states: dict[str, np.ndarray]) -> Any:
        return states[names.STATE] if self._single_state else states

    def reset(self) -> dm_env.TimeStep:
        self._needs_reset = False
        return dm_env.restart(self._observation(self._env.reset()))

    def step(self, action: Any) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        step = self._env.execute({names.ACTION: action} if self._single_action else action)
        observation, reward = self._observation(step.states), np.float64(step.reward)
        if step.terminal == Terminal.TERMINATED:
            self._needs_reset = True
            return dm_env.termination(reward, observation)
        if step.terminal == Terminal.TRUNCATED:
            self._needs_reset = True
            return dm_env.truncation(reward, observation)
        return dm_env.transition(reward, observation)

    def close(self) -> None:
        self._env.close()


def to_dm_env(env: Environment) -> dm_env.Environment:
    """Any contract environment as a `dm_env.Environment`.

    >>> from modalbridge.bridges import GymBridge
    >>> timestep = to_dm_env(GymBridge("CartPole-v1")).reset()
    """
    if not isinstance(env, Environment):
        raise ConfigError(f'to_dm_env: expected a modalbridge Environment; received {type(env).__name__}')
    return DMEnv(env)

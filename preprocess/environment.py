"""`Preprocessed`: an environment whose states come out of a NumPy `Stack`.

The environment-side placement of an agent's preprocessing (a rollout
worker needs no TensorFlow): the wrapper owns the stack's reset at every
episode start and preprocesses final states without recording them, so
it gives the numbers the TF stack inside an agent gives on the same raw
states.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from modalbridge.bridges.batch import BatchedEnvironment, BatchStep
from modalbridge.bridges.environment import Environment, Step
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec
from modalbridge.preprocess.stack import Declaration, Stack


class Preprocessed(Environment):
    """`env` with its states preprocessed by `preprocessing` (NumPy backend).

    >>> from modalbridge.bridges import GymBridge
    >>> env = Preprocessed(GymBridge('CartPole-v1'), [dict(type='sequence', length=2)])
    >>> env.states['state'].shape
    (8,)
    >>> env.reset(seed=0)['state'].shape
    (8,)
    >>> env.execute(dict(action=0)).states['state'].shape
    (8,)

    `states` are the stack's output specs, `actions` those of `env`;
    `reset` starts the stack's episode too. When `env` reports
    ``info['final_states']``, they are preprocessed as well, without being
    recorded. ``self.stack`` is the stack (its `state()` and `config()` go
    into a checkpoint); ``self.env`` the wrapped environment. Episode
    length limits are `env`'s own. Running statistics keep learning
    across episodes and seeds, so ``reset(seed=s)`` repeats the raw states
    but not their standardization; freeze the stack (``env.stack.freeze()``)
    for a reproducible evaluation.
    """

    def __init__(self, env: Environment, preprocessing: Declaration, safe_mode: bool | None = None):
        if not isinstance(env, Environment):
            raise ConfigError(f'Preprocessed: env must be a modalbridge Environment; received '
                              f'{type(env).__name__} (bridge it first, e.g. GymBridge(env); '
                              'a VectorEnvironment goes to PreprocessedVector)')
        self.env = env
        self.stack = Stack(env.states, preprocessing, num_envs=1, backend='numpy', safe_mode=safe_mode)
        super().__init__(self.stack.states, env.actions, max_episode_timesteps=env.max_episode_timesteps)

    @property
    def max_episode_timesteps(self) -> int | None:
        """The wrapped environment's limit (it enforces it; setting it sets the wrapped one's)."""
        return self.env.max_episode_timesteps

    @max_episode_timesteps.setter
    def max_episode_timesteps(self, value: int | None) -> None:
        self._max_episode_timesteps = None  # enforced once, by the wrapped environment
        if value != self.env.max_episode_timesteps:
            self.env.max_episode_timesteps = value

    def _reset(self, seed: int | None) -> dict[str, np.ndarray]:
        states = self.env.reset(seed)
        self.stack.reset()
        return self.stack(states)

    def _execute(self, actions: dict[str, np.ndarray]) -> Step:
        step = self.env.execute(actions)
        info = step.info
        if 'final_states' in info:
            info = {**info, 'final_states': self.stack(info['final_states'], update=False)}
        return Step(self.stack(step.states), step.reward, step.terminal, info)

    def _close(self) -> None:
        self.env.close()

    def _name(self) -> str:
        return f'Preprocessed({self.env._name()})'


class PreprocessedVector(BatchedEnvironment):
    """A batched environment (`VectorEnvironment`, `EnvPoolBridge`) with its states preprocessed by one
    NumPy `Stack`.

    >>> from modalbridge.bridges import GymBridge, VectorEnvironment
    >>> envs = PreprocessedVector(VectorEnvironment([GymBridge('CartPole-v1') for _ in range(2)]),
    ...                           [dict(type='sequence', length=2)])
    >>> envs.reset(seed=0)['state'].shape
    (2, 8)
    >>> step = envs.execute(dict(action=np.zeros(2, np.int64)))
    >>> step.states['state'].shape, step.info['final_mask'].tolist()
    ((2, 8), [False, False])

    The interface of `VectorEnvironment`. Where a sub-environment finished
    (``info['final_mask']``), its ``info['final_states']`` row is
    preprocessed with the memory of the episode that ended (not recorded),
    then the stack is reset there, and the first states of the next
    episode (in ``states``) start its new memory.
    """

    def __init__(self, envs: BatchedEnvironment, preprocessing: Declaration, safe_mode: bool | None = None):
        if not isinstance(envs, BatchedEnvironment):
            raise ConfigError(f'PreprocessedVector: envs must be a batched environment (VectorEnvironment, '
                              f'EnvPoolBridge); received {type(envs).__name__}')
        self.envs = envs
        self.stack = Stack(envs.states, preprocessing, num_envs=envs.num_envs, backend='numpy',
                           safe_mode=safe_mode)

    @property
    def states(self) -> Mapping[str, Spec]:
        return self.stack.states

    @property
    def actions(self) -> Mapping[str, Spec]:
        return self.envs.actions

    @property
    def num_envs(self) -> int:
        return self.envs.num_envs

    @property
    def max_episode_timesteps(self) -> int | None:
        return self.envs.max_episode_timesteps

    @max_episode_timesteps.setter
    def max_episode_timesteps(self, value: int | None) -> None:
        self.envs.max_episode_timesteps = value

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        states = self.envs.reset(seed)
        self.stack.reset()
        return self.stack(states)

    def execute(self, actions: Mapping[str, Any]) -> BatchStep:
        step = self.envs.execute(actions)
        info = dict(step.info)
        mask = np.asarray(info['final_mask'], bool)
        if mask.any():
            info['final_states'] = self.stack(info['final_states'], update=False)
            self.stack.reset(mask)
        return BatchStep(self.stack(step.states), step.reward, step.terminal, info)

    def close(self) -> None:
        self.envs.close()

    def __repr__(self) -> str:
        return f'PreprocessedVector({self.envs!r}, {self.stack!r})'

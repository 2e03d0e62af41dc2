"""A `Stack` reused in other people's RL code: Gymnasium and dm_env wrappers.

    env = PreprocessObservation(gymnasium.make('ALE/Pong-v5', frameskip=1), [
        dict(type='grayscale'), dict(type='image_resize', height=84, width=84),
        dict(type='normalize'), dict(type='sequence', length=4)])
    env.observation_space          # Box(0.0, 1.0, (84, 84, 4), float32)

Observations are named as `GymBridge` names them (a single space is
``'state'``, nested ones ``'a/b'``), so the same declaration serves both.
"""

from __future__ import annotations

from typing import Any

import dm_env
import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from modalbridge.bridges import gym_spaces, names
from modalbridge.bridges.errors import ConfigError
from modalbridge.preprocess.stack import Declaration, Stack


def _gym_stack(space: gymnasium.Space, preprocessing: Declaration, num_envs: int, backend: str,
               **stack_kwargs: Any):
    found = gym_spaces.space_leaves(space, names.STATE, 'observation')
    stack = Stack({leaf.name: leaf.spec for leaf in found}, preprocessing, num_envs=num_envs,
                  backend=backend, **stack_kwargs)
    single_space, to_gym, _ = gym_spaces.spaces_of(dict(stack.states), names.STATE)
    return stack, gym_spaces.reader(found), single_space, to_gym


class PreprocessObservation(gymnasium.ObservationWrapper):
    """Runs a preprocessing declaration on a Gymnasium env's observations.

    The stack (``self.stack``) is reset with the env; ``backend`` defaults
    to 'numpy' (no TensorFlow in the env process). The observation space
    is computed from the stack's output specs.
    """

    def __init__(self, env: gymnasium.Env, preprocessing: Declaration, backend: str = 'numpy',
                 **stack_kwargs: Any):
        super().__init__(env)
        self.stack, self._read, self.observation_space, self._to_gym = _gym_stack(
            env.observation_space, preprocessing, 1, backend, **stack_kwargs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.stack.reset()
        return super().reset(seed=seed, options=options)

    def observation(self, observation: Any) -> Any:
        return self._to_gym(self.stack(self._read(observation)))


class PreprocessVectorObservation(VectorWrapper):
    """The same for a Gymnasium vector env: one batched stack for all sub-envs.

    Sub-environments that autoreset start their preprocessing memory anew
    (both `AutoresetMode.NEXT_STEP`, Gymnasium's default, and `SAME_STEP`).
    """

    def __init__(self, env: VectorEnv, preprocessing: Declaration, backend: str = 'numpy',
                 **stack_kwargs: Any):
        super().__init__(env)
        self._mode = env.metadata.get('autoreset_mode', AutoresetMode.NEXT_STEP)
        if self._mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ConfigError(f'PreprocessVectorObservation: autoreset mode {self._mode} is not supported; '
                              'use NEXT_STEP or SAME_STEP')
        self.stack, self._read, single, self._to_gym = _gym_stack(
            env.single_observation_space, preprocessing, env.num_envs, backend, **stack_kwargs)
        self.single_observation_space = single
        self.observation_space = batch_space(single, env.num_envs)
        self._done = np.zeros(env.num_envs, bool)

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        self.stack.reset()
        self._done[:] = False
        return self._process(observation), info

    def step(self, actions: Any):
        observation, reward, terminated, truncated, info = self.env.step(actions)
        done = np.logical_or(terminated, truncated)
        starting = self._done if self._mode == AutoresetMode.NEXT_STEP else done
        if starting.any():
            self.stack.reset(starting.copy())
        self._done = done
        return self._process(observation), reward, terminated, truncated, info

    def _process(self, observation: Any) -> Any:
        return self._to_gym(self.stack(self._read(observation)))


class PreprocessDMEnv(dm_env.Environment):
    """Runs a preprocessing declaration on a dm_env environment's observations.

    The observation must be one array or a flat dict of arrays (nest it
    through `DMEnvBridge` otherwise); a single array is named ``'state'``.

    >>> from modalbridge.bridges import GymBridge, to_dm_env
    >>> env = PreprocessDMEnv(to_dm_env(GymBridge('CartPole-v1')),
    ...                       dict(state=[dict(type='clip', min_value=-0.01, max_value=0.01)]))
    >>> env.reset().observation.shape
    (4,)
    """

    def __init__(self, env: dm_env.Environment, preprocessing: Declaration, backend: str = 'numpy',
                 **stack_kwargs: Any):
        self._env = env
        spec = env.observation_spec()
        self._single = not isinstance(spec, dict)
        states = {names.STATE: spec} if self._single else dict(spec)
        for name, value in states.items():
            if not hasattr(value, 'shape'):
                raise ConfigError(f'PreprocessDMEnv: observation {name!r} is nested ({type(value).__name__}); '
                                  'only one array or a flat dict of arrays is supported')
        self.stack = Stack(states, preprocessing, num_envs=1, backend=backend, **stack_kwargs)

    def _process(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        if timestep.first():
            self.stack.reset()
        states = {names.STATE: timestep.observation} if self._single else timestep.observation
        out = self.stack(states)
        return timestep._replace(observation=out[names.STATE] if self._single else out)

    def reset(self) -> dm_env.TimeStep:
        return self._process(self._env.reset())

    def step(self, action: Any) -> dm_env.TimeStep:
        return self._process(self._env.step(action))

    def observation_spec(self) -> Any:
        return self.stack.states[names.STATE] if self._single else dict(self.stack.states)

    def action_spec(self) -> Any:
        return self._env.action_spec()

    def reward_spec(self) -> Any:
        return self._env.reward_spec()

    def discount_spec(self) -> Any:
        return self._env.discount_spec()

    def close(self) -> None:
        self._env.close()

"""`VectorEnvironment`: several contract environments stepped as one batch.

States, rewards and terminals get a leading axis of `num_envs`. A finished
sub-environment is reset in the same call: its last states are kept in
``info['final_states']`` (rows valid where ``info['final_mask']``), so an
agent can bootstrap a TRUNCATED episode from them.

This is the in-process version; worker processes (issue 3) are not built yet.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, ModalbridgeError, SpecError
from modalbridge.bridges.specs import is_text, to_dict

EnvironmentLike = Union[Environment, Callable[[], Environment]]


def stack_states(states: Sequence[Mapping[str, np.ndarray]], specs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One batched dict from per-environment dicts (text as object arrays)."""
    out = {}
    for name, spec in specs.items():
        if is_text(spec):
            column = np.empty((len(states),) + spec.shape, dtype=object)
            for index, single in enumerate(states):
                value = single[name]
                # a 0-d object array would be stored as an object itself: store its string
                column[index] = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
            out[name] = column
        else:
            out[name] = np.stack([single[name] for single in states])
    return out


class VectorEnvironment:
    """A batch of environments with the same specs.

    >>> envs = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(4)])
    >>> states = envs.reset(seed=0)              # states['state'].shape == (4, 4)
    >>> step = envs.execute({'action': np.zeros(4, np.int64)})
    >>> step.reward.shape, step.terminal.shape   # ((4,), (4,))

    `envs` are environments or zero-argument factories. Sub-environment `i`
    is seeded with ``seed + i``. `max_episode_timesteps` (settable) cuts
    every sub-episode at that length as TRUNCATED.
    """

    def __init__(self, envs: Sequence[EnvironmentLike], max_episode_timesteps: int | None = None):
        if not isinstance(envs, (list, tuple)) or not envs:
            raise ConfigError('VectorEnvironment: expected a non-empty list of environments or factories')
        self.envs = [env if isinstance(env, Environment) else env() for env in envs]
        for index, env in enumerate(self.envs):
            if not isinstance(env, Environment):
                raise ConfigError(f'VectorEnvironment: envs[{index}] is a {type(env).__name__}, not an Environment')
        first = self.envs[0]
        for index, env in enumerate(self.envs[1:], 1):
            for what in ('states', 'actions'):
                mine = {k: to_dict(v) for k, v in getattr(env, what).items()}
                theirs = {k: to_dict(v) for k, v in getattr(first, what).items()}
                if mine != theirs:
                    raise ConfigError(f'VectorEnvironment: envs[{index}].{what} differ from envs[0].{what}')
        self.max_episode_timesteps = max_episode_timesteps
        self._lengths = np.zeros(len(self.envs), np.int64)

    @property
    def states(self):
        return self.envs[0].states

    @property
    def actions(self):
        return self.envs[0].actions

    @property
    def num_envs(self) -> int:
        return len(self.envs)

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        self._lengths[:] = 0
        return stack_states([self._call(i, env.reset, None if seed is None else seed + i)
                             for i, env in enumerate(self.envs)], self.states)

    def execute(self, actions: Mapping[str, Any]) -> Step:
        """Steps every sub-environment with its row of the batched actions."""
        rows = self._rows(actions)
        states, finals = [], []
        rewards = np.zeros(self.num_envs, np.float64)
        terminals = np.zeros(self.num_envs, np.int8)
        mask = np.zeros(self.num_envs, bool)
        infos = []
        for i, env in enumerate(self.envs):
            step = self._call(i, env.execute, rows[i])
            self._lengths[i] += 1
            terminal = step.terminal
            if (terminal == Terminal.NONE and self.max_episode_timesteps is not None
                    and self._lengths[i] >= self.max_episode_timesteps):
                terminal = Terminal.TRUNCATED
            rewards[i], terminals[i] = step.reward, terminal
            infos.append(step.info)
            finals.append(step.states)
            if terminal != Terminal.NONE:
                mask[i] = True
                self._lengths[i] = 0
                states.append(self._call(i, env.reset, None))
            else:
                states.append(step.states)
        info = dict(final_mask=mask, infos=infos)
        if mask.any():
            info['final_states'] = stack_states(finals, self.states)
        return Step(stack_states(states, self.states), rewards, terminals, info)

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def __enter__(self) -> 'VectorEnvironment':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _rows(self, actions: Mapping[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(actions, Mapping):
            raise SpecError('actions', f'a dict of batched actions {list(self.actions)}', type(actions).__name__)
        rows: list[dict[str, Any]] = [{} for _ in self.envs]
        for name in self.actions:
            if name not in actions:
                raise SpecError(name, f'the action keys {list(self.actions)}', f'missing {name!r}')
            batch = np.asarray(actions[name], dtype=object if is_text(self.actions[name]) else None)
            if batch.shape[:1] != (self.num_envs,):
                raise SpecError(name, f'a leading batch axis of {self.num_envs}', f'shape {batch.shape}')
            for i in range(self.num_envs):
                rows[i][name] = batch[i]
        for name in actions:
            if name not in self.actions:
                raise SpecError(name, f'the action keys {list(self.actions)}', f'unknown {name!r}')
        return rows

    def _call(self, index: int, method: Callable, argument: Any) -> Any:
        try:
            return method(argument)
        except ModalbridgeError as error:
            if isinstance(error, EnvironmentFailure):
                raise EnvironmentFailure(f'environment {index}: {error}', error.original) from error
            raise

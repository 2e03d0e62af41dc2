"""`DMEnvBridge`: any `dm_env.Environment` as a contract `Environment`.

Nested (dict / list / tuple) observation and action specs are flattened to
``/`` names (a single spec is ``'state'`` / ``'action'``); `Array`,
`BoundedArray`, `DiscreteArray` (dtype kept) and `StringArray` (text) keep
their type, dtype (float64 stays float64) and bounds. TimeStep semantics:
the FIRST step's ``reward None`` never reaches the user; LAST with
discount 0 is TERMINATED, LAST with discount > 0 TRUNCATED, and the
discount is in ``info['discount']``.

    env = DMEnvBridge(suite.load('cartpole', 'swingup'))
    env = DMEnvBridge(lambda seed: suite.load('cartpole', 'swingup', task_kwargs=dict(random=seed)))

dm_env environments take their seed at construction: give a factory
``fn(seed) -> env`` for `reset(seed=...)` to rebuild the environment with
that seed; an environment instance refuses a seed (it cannot honour it).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import dm_env
import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import names, nest
from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.errors import ConfigError

NOT_A_SPEC = '{what} spec {name!r}: {received} is not a dm_env spec, dict, list or tuple'
SEEDED_INSTANCE = ('DMEnvBridge: a dm_env environment takes its seed at construction; pass a factory '
                   'fn(seed) -> environment to reset with a seed')
DYNAMIC_SHAPE = '{what} spec {name!r}: shape {shape} is not fixed; the contract needs static shapes'


def children(spec: Any) -> Iterable[tuple[Any, Any]] | None:
    """How `nest` opens a dm_env spec structure: dicts, lists and tuples are containers."""
    if isinstance(spec, dict):
        return spec.items()
    if isinstance(spec, (list, tuple)) and not isinstance(spec, dm_specs.Array):
        return enumerate(spec)
    return None


def _rebuild(spec: Any, items: list[tuple[Any, Any]]) -> Any:
    return type(spec)(items) if isinstance(spec, dict) else type(spec)(value for _, value in items)


def flatten_specs(spec: Any, single: str, what: str) -> dict[tuple[Any, ...], Any]:
    """{path: spec renamed to its flat name} for a nested dm_env spec."""
    out = {}
    for name, (path, leaf) in nest.flatten(spec, children, single, f'{what} spec').items():
        if not isinstance(leaf, dm_specs.Array):
            raise ConfigError(NOT_A_SPEC.format(what=what, name=name, received=type(leaf).__name__))
        if any(size is None or (isinstance(size, (int, np.integer)) and size < 0) for size in leaf.shape):
            raise ConfigError(DYNAMIC_SHAPE.format(what=what, name=name, shape=leaf.shape))
        out[path] = leaf.replace(name=name)
    return out


class DMEnvBridge(Environment):
    """A dm_env environment in the named-states/named-actions contract (see the module docstring)."""

    def __init__(self, env: dm_env.Environment | Callable[[int | None], dm_env.Environment],
                 max_episode_timesteps: int | None = None):
        self._factory = None
        if not isinstance(env, dm_env.Environment) and callable(env):
            self._factory, env = env, env(None)
        if not isinstance(env, dm_env.Environment):
            raise ConfigError(f'DMEnvBridge: expected a dm_env.Environment or a factory fn(seed) -> one; '
                              f'received {type(env).__name__}')
        self._env = env
        observation_spec, action_spec = env.observation_spec(), env.action_spec()
        states = flatten_specs(observation_spec, names.STATE, 'observation')
        actions = flatten_specs(action_spec, names.ACTION, 'action')
        self._readers = [(spec.name, nest.getter(path)) for path, spec in states.items()]
        def reader(path: tuple) -> Callable[[Mapping[str, Any]], Any]:
            name = actions[path].name
            return lambda flat: flat[name]

        self._assemble = nest.assembler(action_spec, children, _rebuild, reader)
        super().__init__(states={spec.name: spec for spec in states.values()},
                         actions={spec.name: spec for spec in actions.values()},
                         max_episode_timesteps=max_episode_timesteps)

    @property
    def env(self) -> dm_env.Environment:
        return self._env

    def _read(self, observation: Any) -> dict[str, Any]:
        return {name: read(observation) for name, read in self._readers}

    def _reset(self, seed: int | None) -> dict[str, Any]:
        if seed is not None:
            if self._factory is None:
                raise ConfigError(SEEDED_INSTANCE)
            self._env.close()
            self._env = self._factory(seed)
        return self._read(self._env.reset().observation)

    def _execute(self, actions: dict[str, np.ndarray]) -> Step:
        timestep = self._env.step(self._assemble(actions))
        info: dict[str, Any] = {}
        terminal = Terminal.NONE
        if timestep.last():
            discount = float(timestep.discount)
            info['discount'] = discount
            terminal = Terminal.TERMINATED if discount == 0 else Terminal.TRUNCATED
        # dm_env allows no reward only on the FIRST step; anything else is checked (a finite real) by
        # Environment, which names the field, instead of being converted here.
        reward = 0.0 if timestep.reward is None and timestep.first() else timestep.reward
        return Step(self._read(timestep.observation), reward, terminal, info)

    def _close(self) -> None:
        self._env.close()

    def _name(self) -> str:
        return f'DMEnvBridge({type(self._env).__name__})'

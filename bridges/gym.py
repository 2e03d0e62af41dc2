"""`GymBridge`: any Gymnasium environment as a contract `Environment`.

Spaces map to specs leaf by leaf; nested `Dict`/`Tuple` spaces are
flattened to `/` names (`names.join`), a single unnamed space is named
``'state'`` / ``'action'``:

========================  ==================================================
Gymnasium space           spec (and value conversion)
========================  ==================================================
Box, all bounds infinite  `Array` of the Box's dtype and shape
Box, otherwise            `BoundedArray` with the Box's bounds (uint8 images
                          keep uint8 and 0..255; mixed bounds keep their
                          infinite entries)
Discrete(n, start)        `DiscreteArray(n)`; the agent sees 0..n-1 and the
                          bridge adds `start` back (and subtracts it from
                          observations)
MultiDiscrete(nvec)       integer `BoundedArray` 0..nvec-1 (start likewise)
MultiBinary(n)            bool `Array` (int8 0/1 on the Gymnasium side)
Text                      `StringArray(())`; a text action is also checked
                          against the Text's length and charset
another space of `str`    `StringArray(())` (minigrid's `MissionSpace`,
(``dtype`` is `str`)      say); a text action is checked by its `contains`
========================  ==================================================
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

import gymnasium
import numpy as np
from dm_env import specs as dm_specs
from gymnasium import spaces

from modalbridge.bridges import names
from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import Spec

UNSUPPORTED_SPACE = ('{what} space {name!r}: {space} is not supported; expected Box, '
                     'Discrete, MultiDiscrete, MultiBinary, Text, a space of str, Dict or Tuple')
UNKNOWN_ID = 'GymBridge: cannot make environment {id!r}: {error}'
NOT_AN_ENV = 'GymBridge: expected a gymnasium.Env or an environment id; received {received}'


@dataclasses.dataclass(frozen=True)
class _Leaf:
    """One leaf of a Gymnasium space: its path, flat name, spec and the two conversions."""

    path: tuple[Any, ...]
    name: str
    spec: Spec
    to_contract: Callable[[Any], Any]
    to_gym: Callable[[np.ndarray], Any]


def _walk(space: spaces.Space, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], spaces.Space]]:
    if isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            yield from _walk(sub, path + (key,))
    elif isinstance(space, spaces.Tuple):
        for index, sub in enumerate(space.spaces):
            yield from _walk(sub, path + (index,))
    else:
        yield path, space


def _uniform(bound: np.ndarray) -> Any:
    """A scalar when every element is equal, so specs print and compare simply."""
    return bound.flat[0] if bound.size and np.all(bound == bound.flat[0]) else bound


def _identity(value: Any) -> Any:
    return value


def _leaf(path: tuple[Any, ...], space: spaces.Space, name: str, what: str) -> _Leaf:
    if isinstance(space, spaces.Box):
        dtype = space.dtype
        if dtype == np.bool_:
            spec = dm_specs.Array(space.shape, dtype, name=name)
        elif dtype.kind == 'f' and np.all(np.isneginf(space.low)) and np.all(np.isposinf(space.high)):
            spec = dm_specs.Array(space.shape, dtype, name=name)
        else:
            spec = dm_specs.BoundedArray(space.shape, dtype, _uniform(space.low),
                                         _uniform(space.high), name=name)
        return _Leaf(path, name, spec, _identity, _identity)
    if isinstance(space, spaces.Discrete):
        start, dtype = int(space.start), space.dtype
        spec = dm_specs.DiscreteArray(int(space.n), dtype=dtype, name=name)
        # A Python int is what Gymnasium code passes, and Discrete.contains checks it fastest.
        if start == 0:
            return _Leaf(path, name, spec, _identity, int)
        return _Leaf(path, name, spec, lambda v: np.asarray(v - start, dtype),
                     lambda v: int(v) + start)
    if isinstance(space, spaces.MultiDiscrete):
        start, dtype = space.start, space.dtype
        spec = dm_specs.BoundedArray(space.shape, dtype, 0, _uniform(space.nvec - 1), name=name)
        if not np.any(start):
            return _Leaf(path, name, spec, _identity, _identity)
        return _Leaf(path, name, spec, lambda v: np.asarray(v - start, dtype),
                     lambda v: (v + start).astype(dtype))
    if isinstance(space, spaces.MultiBinary):
        dtype = space.dtype
        spec = dm_specs.Array(space.shape, bool, name=name)
        return _Leaf(path, name, spec, lambda v: np.asarray(v, dtype=bool),
                     lambda v: v.astype(dtype))
    if isinstance(space, spaces.Text):
        spec = dm_specs.StringArray((), name=name)
        return _Leaf(path, name, spec, lambda v: np.array(v, dtype=object),
                     _text_to_gym(space, name))
    if space.dtype is not None and space.dtype.kind == 'U':  # Space(dtype=str)
        return _Leaf(path, name, dm_specs.StringArray((), name=name), lambda v: np.array(v, dtype=object),
                     _string_to_gym(space, name))
    raise ConfigError(UNSUPPORTED_SPACE.format(what=what, name=name or names.STATE, space=space))


def _text_to_gym(space: spaces.Text, name: str) -> Callable[[np.ndarray], str]:
    expected = (f'text of {space.min_length} to {space.max_length} characters from the '
                f'Text space\'s charset of {len(space.character_set)} characters')

    def to_gym(value: np.ndarray) -> str:
        text = value.item() if isinstance(value, np.ndarray) else value
        if not space.contains(text):
            bad = sorted(set(text) - space.character_set)
            why = f'characters outside the charset: {bad[:10]}' if bad else f'length {len(text)}'
            raise SpecError(name, expected, f'{text!r} ({why})')
        return text

    return to_gym


def _string_to_gym(space: spaces.Space, name: str) -> Callable[[np.ndarray], str]:
    def to_gym(value: np.ndarray) -> str:
        text = value.item() if isinstance(value, np.ndarray) else value
        if not isinstance(text, str) or not space.contains(text):
            raise SpecError(name, f'text that {type(space).__name__}.contains accepts', repr(text))
        return text

    return to_gym


def leaves(space: spaces.Space, default_name: str, what: str) -> tuple[_Leaf, ...]:
    """The leaves of a (possibly nested) space with their flat names."""
    found = tuple(_leaf(path, sub, names.join(path) if path else default_name, what)
                  for path, sub in _walk(space, ()))
    if not found:
        raise ConfigError(f'{what} space {space} has no leaves: nothing to name')
    return found


def reader(leaf: _Leaf) -> Callable[[Any], Any]:
    """A function from a Gymnasium value of the whole space to this leaf's contract value."""
    path, convert = leaf.path, leaf.to_contract
    if not path:
        return convert

    def read(value: Any) -> Any:
        for key in path:
            value = value[key]
        return convert(value)

    return read


def _assembler(space: spaces.Space, path: tuple[Any, ...],
               by_path: dict[tuple[Any, ...], _Leaf]) -> Callable[[dict], Any]:
    """Builds the nested Gymnasium value of `space` from a flat dict of contract values."""
    if isinstance(space, spaces.Dict):
        parts = [(key, _assembler(sub, path + (key,), by_path)) for key, sub in space.spaces.items()]
        return lambda flat: {key: build(flat) for key, build in parts}
    if isinstance(space, spaces.Tuple):
        parts = [_assembler(sub, path + (i,), by_path) for i, sub in enumerate(space.spaces)]
        return lambda flat: tuple(build(flat) for build in parts)
    leaf = by_path[path]
    name, convert = leaf.name, leaf.to_gym
    return lambda flat: convert(flat[name])


class GymBridge(Environment):
    """A Gymnasium environment (or id) in the named-states/named-actions contract.

    >>> env = GymBridge('CartPole-v1')
    >>> env.states['state']
    BoundedArray(shape=(4,), dtype=float32, name=state, minimum=[...], maximum=[...])
    >>> env.actions['action']
    DiscreteArray(shape=(), dtype=int64, name=action, minimum=0, maximum=1, num_values=2)
    >>> states = env.reset(seed=0)
    >>> step = env.execute({'action': 1})

    `max_episode_timesteps` defaults to the registered time limit; keyword
    arguments are passed to `gymnasium.make` when `env` is an id. `reset_info`
    holds the info dict of the last reset.
    """

    def __init__(self, env: gymnasium.Env | str, max_episode_timesteps: int | None = None,
                 **make_kwargs: Any):
        if isinstance(env, str):
            try:
                env = gymnasium.make(env, **make_kwargs)
            except gymnasium.error.Error as error:
                raise ConfigError(UNKNOWN_ID.format(id=env, error=error)) from error
        elif make_kwargs:
            raise ConfigError(f'GymBridge: keyword arguments {sorted(make_kwargs)} are only '
                              'used with an environment id')
        if not isinstance(env, gymnasium.Env):
            raise ConfigError(NOT_AN_ENV.format(received=type(env).__name__))
        self._env = env
        self.reset_info: dict[str, Any] = {}
        state_leaves = leaves(env.observation_space, names.STATE, 'observation')
        action_leaves = leaves(env.action_space, names.ACTION, 'action')
        self._readers = [(leaf.name, reader(leaf)) for leaf in state_leaves]
        self._assemble = _assembler(env.action_space, (), {leaf.path: leaf for leaf in action_leaves})
        if max_episode_timesteps is None and env.spec is not None:
            max_episode_timesteps = env.spec.max_episode_steps
        super().__init__(states={leaf.name: leaf.spec for leaf in state_leaves},
                         actions={leaf.name: leaf.spec for leaf in action_leaves},
                         max_episode_timesteps=max_episode_timesteps)

    @property
    def env(self) -> gymnasium.Env:
        """The wrapped Gymnasium environment."""
        return self._env

    @property
    def render_mode(self) -> str | None:
        return self._env.render_mode

    def render(self) -> Any:
        return self._env.render()

    def _read(self, observation: Any) -> dict[str, Any]:
        return {name: read(observation) for name, read in self._readers}

    def _reset(self, seed: int | None) -> dict[str, Any]:
        observation, self.reset_info = self._env.reset(seed=seed)
        return self._read(observation)

    def _execute(self, actions: dict[str, np.ndarray]) -> Step:
        observation, reward, terminated, truncated, info = self._env.step(self._assemble(actions))
        terminal = (Terminal.TERMINATED if terminated else
                    Terminal.TRUNCATED if truncated else Terminal.NONE)
        return Step(self._read(observation), reward, terminal, info)

    def _close(self) -> None:
        self._env.close()

    def _name(self) -> str:
        spec = getattr(self._env, 'spec', None)
        return f'GymBridge({spec.id})' if spec is not None else 'GymBridge'

"""`to_gymnasium`: any contract `Environment` back out as a `gymnasium.Env`.

So a bridged (and preprocessed) environment can feed Gymnasium-based code.
A single state named ``'state'`` (action ``'action'``) becomes the bare
space; otherwise the spaces are a flat `Dict` keyed by the contract's names.

=========================================  =================================
spec                                       Gymnasium space
=========================================  =================================
`DiscreteArray(n)`                         `Discrete(n)`
integer `BoundedArray`, scalar             `Discrete(max - min + 1, start=min)`
integer `BoundedArray`, rank 1 (not uint8) `MultiDiscrete(max - min + 1, start=min)`
other integer arrays, float arrays         `Box` (infinite where unbounded)
bool scalar / bool array                   `Discrete(2)` / `MultiBinary(shape)`
`StringArray(())`                          `Text(max_length, charset)`
=========================================  =================================
"""

from __future__ import annotations

import string
from typing import Any, Callable

import gymnasium
import numpy as np
from dm_env import specs as dm_specs
from gymnasium import spaces

from modalbridge.bridges import names
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, is_bool, is_text

TEXT_MAX_LENGTH = 1024
TEXT_CHARSET = string.printable  # letters, digits, punctuation and whitespace


def _space(spec: Spec, text_max_length: int, text_charset: str) -> tuple[
        spaces.Space, Callable[[np.ndarray], Any], Callable[[Any], Any]]:
    """The space of a spec and the conversions contract -> gym and gym -> contract."""
    identity = lambda value: value  # noqa: E731
    if is_text(spec):
        if spec.shape != ():
            raise ConfigError(f'to_gymnasium: text spec {spec.name!r} has shape {spec.shape}; '
                              'only scalar text maps to a Gymnasium Text space')
        return (spaces.Text(text_max_length, min_length=0, charset=text_charset),
                lambda value: value.item(), lambda value: np.array(value, dtype=object))
    if is_bool(spec):
        if spec.shape == ():
            return spaces.Discrete(2), lambda value: np.int64(value), lambda value: np.asarray(value, bool)
        n = spec.shape[0] if len(spec.shape) == 1 else list(spec.shape)
        return (spaces.MultiBinary(n), lambda value: value.astype(np.int8),
                lambda value: np.asarray(value, bool))
    dtype = spec.dtype
    if isinstance(spec, dm_specs.BoundedArray) and dtype.kind in 'iu':
        low = np.broadcast_to(spec.minimum, spec.shape).astype(np.int64)
        high = np.broadcast_to(spec.maximum, spec.shape).astype(np.int64)
        if spec.shape == ():
            return (spaces.Discrete(int(high - low + 1), start=int(low)),
                    lambda value: np.int64(value), identity)
        if len(spec.shape) == 1 and dtype != np.uint8:
            return spaces.MultiDiscrete(high - low + 1, dtype=dtype, start=low), identity, identity
    if isinstance(spec, dm_specs.BoundedArray):
        low, high = spec.minimum, spec.maximum
    elif dtype.kind in 'iu':
        low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    else:
        low, high = -np.inf, np.inf
    return (spaces.Box(np.broadcast_to(low, spec.shape).astype(dtype),
                       np.broadcast_to(high, spec.shape).astype(dtype), spec.shape, dtype),
            identity, identity)


def spaces_of(specs: dict[str, Spec], single: str, text_max_length: int = TEXT_MAX_LENGTH,
              text_charset: str = TEXT_CHARSET):
    """(space, contract -> gym, gym -> contract) for a dict of specs; a lone
    spec named `single` maps to its bare space."""
    converted = {name: _space(spec, text_max_length, text_charset) for name, spec in specs.items()}
    if list(converted) == [single]:
        space, to_gym, from_gym = converted[single]
        return space, (lambda flat: to_gym(flat[single])), (lambda value: {single: from_gym(value)})
    space = spaces.Dict({name: item[0] for name, item in converted.items()})
    to_gym = {name: item[1] for name, item in converted.items()}
    from_gym = {name: item[2] for name, item in converted.items()}
    return (space, lambda flat: {name: to_gym[name](flat[name]) for name in to_gym},
            lambda value: {name: from_gym[name](value[name]) for name in from_gym})


class GymnasiumEnv(gymnasium.Env):
    """A contract `Environment` seen as a `gymnasium.Env` (made by `to_gymnasium`)."""

    def __init__(self, env: Environment, text_max_length: int = TEXT_MAX_LENGTH,
                 text_charset: str = TEXT_CHARSET):
        self._env = env
        self.observation_space, self._observation, _ = spaces_of(
            dict(env.states), names.STATE, text_max_length, text_charset)
        self.action_space, _, self._action = spaces_of(
            dict(env.actions), names.ACTION, text_max_length, text_charset)
        self.render_mode = getattr(env, 'render_mode', None)
        self.metadata = dict(render_modes=[self.render_mode] if self.render_mode else [])

    @property
    def environment(self) -> Environment:
        """The wrapped contract environment."""
        return self._env

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return self._observation(self._env.reset(seed=seed)), {}

    def step(self, action: Any):
        step = self._env.execute(self._action(action))
        return (self._observation(step.states), step.reward,
                step.terminal == Terminal.TERMINATED, step.terminal == Terminal.TRUNCATED,
                step.info)

    def render(self) -> Any:
        render = getattr(self._env, 'render', None)
        return render() if render is not None else None

    def close(self) -> None:
        self._env.close()


def to_gymnasium(env: Environment, text_max_length: int = TEXT_MAX_LENGTH,
                 text_charset: str = TEXT_CHARSET) -> gymnasium.Env:
    """Any contract environment as a `gymnasium.Env`.

    >>> from modalbridge.bridges import GymBridge
    >>> gym_env = to_gymnasium(GymBridge('CartPole-v1'))
    >>> gym_env.action_space
    Discrete(2)

    Text states become `Text(text_max_length, charset=text_charset)` spaces
    (printable ASCII by default).
    """
    if not isinstance(env, Environment):
        raise ConfigError(f'to_gymnasium: expected a modalbridge Environment; '
                          f'received {type(env).__name__}')
    return GymnasiumEnv(env, text_max_length, text_charset)

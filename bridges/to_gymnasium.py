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

from typing import Any

import gymnasium

from modalbridge.bridges import arguments, names
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.gym_spaces import TEXT_CHARSET, TEXT_MAX_LENGTH, spaces_of

__all__ = ['GymnasiumEnv', 'TEXT_CHARSET', 'TEXT_MAX_LENGTH', 'spaces_of', 'to_gymnasium']


class GymnasiumEnv(gymnasium.Env):
    """A contract `Environment` seen as a `gymnasium.Env` (made by `to_gymnasium`)."""

    def __init__(self, env: Environment, text_max_length: int = TEXT_MAX_LENGTH,
                 text_charset: str = TEXT_CHARSET):
        if not isinstance(env, Environment):
            raise ConfigError(f'to_gymnasium: env must be a modalbridge Environment; received {type(env).__name__}')
        text_max_length = arguments.integer('to_gymnasium: text_max_length', text_max_length, minimum=1)
        if not isinstance(text_charset, str) or not text_charset:
            raise ConfigError(f'to_gymnasium: text_charset must be a non-empty string of characters; '
                              f'received {text_charset!r}')
        self._env = env
        self.observation_space, self._observation, _ = spaces_of(
            dict(env.states), names.STATE, text_max_length, text_charset)
        self.action_space, _, self._action = spaces_of(
            dict(env.actions), names.ACTION, text_max_length, text_charset)
        self.render_mode = getattr(env, 'render_mode', None)
        self.metadata = dict(render_modes=[self.render_mode] if self.render_mode else [])

    @property
    def env(self) -> Environment:
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

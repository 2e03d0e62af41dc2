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

Two options make the result fit libraries with narrower expectations, such as
Stable-Baselines3: ``unwrap=True`` gives a lone state or action its bare space
whatever its name (SB3 refuses a one-key `Dict` action space), and ``sb3=True``
(which implies `unwrap`) refuses, naming the key and the fix, what SB3 cannot
take as it is: text states (tokenize them first: SB3's `MultiInputPolicy` crashes
on `Text`), float images (SB3 recognizes an image only as a uint8 ``(H, W, C)`` or
``(C, H, W)`` `Box` in [0, 255], and normalizes it itself; a normalized image is
flattened into an MLP), and more than one action.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium
import numpy as np

from modalbridge.bridges import arguments, names
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.arguments import boolean
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.gym_spaces import TEXT_CHARSET, TEXT_MAX_LENGTH, spaces_of
from modalbridge.bridges.specs import Spec, describe, is_float, is_text

__all__ = ['GymnasiumEnv', 'TEXT_CHARSET', 'TEXT_MAX_LENGTH', 'spaces_of', 'to_gymnasium']


class GymnasiumEnv(gymnasium.Env):
    """A contract `Environment` seen as a `gymnasium.Env` (made by `to_gymnasium`)."""

    def __init__(self, env: Environment, text_max_length: int = TEXT_MAX_LENGTH,
                 text_charset: str = TEXT_CHARSET, unwrap: bool = False):
        if not isinstance(env, Environment):
            raise ConfigError(f'to_gymnasium: env must be a modalbridge Environment; received {type(env).__name__}')
        text_max_length = arguments.integer('to_gymnasium: text_max_length', text_max_length, minimum=1)
        if not isinstance(text_charset, str) or not text_charset:
            raise ConfigError(f'to_gymnasium: text_charset must be a non-empty string of characters; '
                              f'received {text_charset!r}')
        self._env = env
        states, actions = dict(env.states), dict(env.actions)
        self.observation_space, self._observation, _ = spaces_of(
            states, _single(states, names.STATE, unwrap), text_max_length, text_charset)
        self.action_space, _, self._action = spaces_of(
            actions, _single(actions, names.ACTION, unwrap), text_max_length, text_charset)
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
                 text_charset: str = TEXT_CHARSET, *, unwrap: bool = False, sb3: bool = False) -> gymnasium.Env:
    """Any contract environment as a `gymnasium.Env`.

    >>> from modalbridge.bridges import GymBridge
    >>> gym_env = to_gymnasium(GymBridge('CartPole-v1'))
    >>> gym_env.action_space
    Discrete(2)
    >>> room = GymBridge('modalbridge/CaptionRoom-v0')
    >>> to_gymnasium(room).action_space, to_gymnasium(room, unwrap=True).action_space
    (Dict('move': Discrete(4)), Discrete(4))
    >>> to_gymnasium(room, sb3=True)
    Traceback (most recent call last):
    ...
    modalbridge.bridges.errors.ConfigError: caption: Stable-Baselines3 cannot take text states (its MultiInputPolicy fails on a Text space); tokenize it first, e.g. Preprocessed(env, dict(caption=[dict(type='tokenize', length=8, vocabulary=[...])])); received text

    Text states become `Text(text_max_length, charset=text_charset)` spaces
    (printable ASCII by default). `unwrap` and `sb3`: see the module docstring.
    """
    if not isinstance(env, Environment):
        raise ConfigError(f'to_gymnasium: expected a modalbridge Environment; '
                          f'received {type(env).__name__}')
    unwrap, sb3 = boolean('to_gymnasium: unwrap', unwrap), boolean('to_gymnasium: sb3', sb3)
    if sb3:
        _check_sb3(env.states, env.actions)
    return GymnasiumEnv(env, text_max_length, text_charset, unwrap=unwrap or sb3)


def _single(specs: Mapping[str, Spec], default: str, unwrap: bool) -> str:
    """The name whose lone spec maps to a bare space: any name when `unwrap`."""
    return next(iter(specs)) if unwrap and len(specs) == 1 else default


def _check_sb3(states: Mapping[str, Spec], actions: Mapping[str, Spec]) -> None:
    for name, spec in states.items():
        if is_text(spec):
            raise ConfigError(f'{name}: Stable-Baselines3 cannot take text states (its MultiInputPolicy fails on a '
                              f"Text space); tokenize it first, e.g. Preprocessed(env, dict({name}=[dict(type="
                              f"'tokenize', length=8, vocabulary=[...])])); received {describe(spec)}")
        if len(spec.shape) == 3 and is_float(spec):
            raise ConfigError(f'{name}: Stable-Baselines3 sees an image only as uint8 in [0, 255] (it scales it '
                              f'itself); a float array of rank 3 is flattened into an MLP. Keep the image uint8 '
                              f"(drop 'normalize' from its preprocessing); received {describe(spec)}")
        if len(spec.shape) == 3 and spec.dtype == np.uint8 and not _bounded_0_255(spec):
            raise ConfigError(f'{name}: Stable-Baselines3 sees a uint8 array of rank 3 as an image only with bounds '
                              f'[0, 255]; received {describe(spec)}')
    if len(actions) != 1:
        raise ConfigError(f'actions: Stable-Baselines3 takes one action space; this environment has the actions '
                          f'{list(actions)} (combine them into one, or use a modalbridge agent)')
    for name, spec in actions.items():
        if is_text(spec):
            raise ConfigError(f'{name}: Stable-Baselines3 cannot take a text action; received {describe(spec)}')


def _bounded_0_255(spec: Spec) -> bool:
    minimum, maximum = getattr(spec, 'minimum', None), getattr(spec, 'maximum', None)
    return bool(minimum is not None and np.all(np.asarray(minimum) == 0) and np.all(np.asarray(maximum) == 255))

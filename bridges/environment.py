"""The contract: `Environment`, `Step` and `Terminal`.

An environment declares its states and actions as dicts of dm_env specs,
fixed at construction. The public `reset` / `execute` methods enforce the
call order, validate actions, cut episodes at `max_episode_timesteps` and
hand out fresh arrays; a subclass only implements the `_reset` / `_execute`
hooks.
"""

from __future__ import annotations

import abc
import enum
import math
from typing import Any, Mapping, NamedTuple, cast

import numpy as np

from modalbridge.bridges import arguments
from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.errors import (ConfigError, EnvironmentFailure, ModalbridgeError,
                                        ResetNeeded, SpecError)

States = dict[str, np.ndarray]

EXECUTE_BEFORE_RESET = '{name}: execute() called before reset()'
EXECUTE_AFTER_END = '{name}: execute() called after the episode ended ({terminal}); call reset()'
CLOSED = '{name}: the environment is closed'
OUTPUT = '{name}.{method} returned an invalid {field}: expected {expected}; received {received}'


class Terminal(enum.IntEnum):
    """How a step ends the episode.

    `TERMINATED` is a true end: do not bootstrap from the final state.
    `TRUNCATED` cuts the episode short (a time limit): bootstrap from it.
    """

    NONE = 0
    TERMINATED = 1
    TRUNCATED = 2


def terminal_from_flags(terminated: Any, truncated: Any) -> Any:
    """Gymnasium's two flags as a `Terminal` (or an int8 array of them, for arrays).

    ``terminated`` wins: a step both terminated and truncated is a true end.
    """
    if type(terminated) is bool and type(truncated) is bool:  # the common case, fastest
        return Terminal.TERMINATED if terminated else Terminal.TRUNCATED if truncated else Terminal.NONE
    if np.ndim(terminated) == 0 and np.ndim(truncated) == 0:
        return Terminal.TERMINATED if terminated else Terminal.TRUNCATED if truncated else Terminal.NONE
    terminated = np.asarray(terminated, bool)
    out = terminated.astype(np.int8)
    out[np.asarray(truncated, bool) & ~terminated] = Terminal.TRUNCATED
    return out




class Step(NamedTuple):
    """What `Environment.execute` returns."""

    states: States
    reward: float
    terminal: Terminal
    info: dict[str, Any]


class Environment(abc.ABC):
    """A reinforcement-learning environment with named states and actions.

    Subclass it to wrap a new environment: declare the specs in `__init__`
    and implement `_reset(seed)` and `_execute(actions)`. Draw every random
    number from `self.np_random`, as in Gymnasium: `reset(seed=s)` seeds it
    (before `_reset` runs) and a later `reset()` continues the same stream,
    so a seeded run of episodes is reproducible::

        >>> class Coin(Environment):
        ...     def __init__(self):
        ...         super().__init__(
        ...             states=dict(face=dict(type='int', num_values=2)),
        ...             actions=dict(guess=dict(type='int', num_values=2)),
        ...             max_episode_timesteps=10)
        ...
        ...     def _reset(self, seed):
        ...         self._face = int(self.np_random.integers(2))
        ...         return dict(face=self._face)
        ...
        ...     def _execute(self, actions):
        ...         reward = float(actions['guess'] == self._face)
        ...         self._face = int(self.np_random.integers(2))
        ...         return Step(dict(face=self._face), reward, Terminal.NONE, {})
        >>> coin = Coin()
        >>> first = [coin.reset(seed=7)['face'].item()] + [coin.reset()['face'].item() for _ in range(4)]
        >>> again = [coin.reset(seed=7)['face'].item()] + [coin.reset()['face'].item() for _ in range(4)]
        >>> first == again
        True

    `_reset` returns the states dict; `_execute` receives validated actions
    (numpy arrays of the declared dtypes) and returns a `Step` (its `reward`
    and `terminal` may be plain numbers). Specs may be given in the
    TensorForce short form. What the hooks return is validated against the
    specs (states, even NumPy arrays: shape, dtype, finiteness, bounds; the
    reward a finite real; the terminal a `Terminal`; info a dict) and any
    mismatch is an `EnvironmentFailure` naming the environment and the
    field. Exceptions other than modalbridge's own that the hooks raise
    come out as `EnvironmentFailure` too.
    """

    def __init__(self, states: Mapping[str, specs_lib.SpecLike],
                 actions: Mapping[str, specs_lib.SpecLike],
                 max_episode_timesteps: int | None = None):
        self._state_specs = specs_lib.as_specs(states, 'states')
        self._action_specs = specs_lib.as_specs(actions, 'actions')
        self.max_episode_timesteps = max_episode_timesteps
        self._validators = {name: specs_lib.validator(spec, name)
                            for name, spec in self._action_specs.items()}
        self._state_validators = {name: specs_lib.validator(spec, name, fresh=True)
                                  for name, spec in self._state_specs.items()}
        self._validator_items = tuple(self._validators.items())
        self._state_validator_items = tuple(self._state_validators.items())
        self._state_keys = self._state_specs.keys()
        self._action_names = sorted(self._action_specs)
        self._needs_reset = True
        self._last_terminal: Terminal | None = None
        self._timestep = 0
        self._closed = False
        self._np_random: np.random.Generator | None = None
        self._np_random_seed: int | None = None

    # -- the contract --------------------------------------------------------

    @property
    def states(self) -> Mapping[str, specs_lib.Spec]:
        """The state specs, keyed by name (a read-only dict, the same object every call)."""
        return self._state_specs

    @property
    def actions(self) -> Mapping[str, specs_lib.Spec]:
        """The action specs, keyed by name (a read-only dict, the same object every call)."""
        return self._action_specs

    @property
    def max_episode_timesteps(self) -> int | None:
        """Episodes are cut (TRUNCATED) after this many executes; None for no limit.

        The one time-limit mechanism: settable (a `VectorEnvironment` and the
        Runner set it on every sub-environment, in-process or in workers); a
        new limit applies from the next execute on.
        """
        return self._max_episode_timesteps

    @max_episode_timesteps.setter
    def max_episode_timesteps(self, value: int | None) -> None:
        if value is not None:
            try:
                value = arguments.integer('max_episode_timesteps', value, minimum=1)
            except ConfigError:
                raise ConfigError('max_episode_timesteps: expected a positive int or None; '
                                  f'received {value!r}') from None
        self._max_episode_timesteps = value

    @property
    def timestep(self) -> int:
        """Executes since the last reset."""
        return self._timestep

    @property
    def np_random(self) -> np.random.Generator:
        """The environment's random generator (Gymnasium's `np_random` rule).

        Seeded by `reset(seed=s)`, continued by `reset()`; drawn from fresh
        OS entropy if used before any seeded reset.
        """
        if self._np_random is None:
            self._np_random_seed = cast(int, np.random.SeedSequence().entropy) % 2 ** 63  # an int when drawn
            self._np_random = np.random.default_rng(self._np_random_seed)
        return self._np_random

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        if not isinstance(value, np.random.Generator):
            raise ConfigError(f'{self._name()}.np_random: expected a numpy.random.Generator; '
                              f'received {type(value).__name__}')
        self._np_random, self._np_random_seed = value, None

    @property
    def np_random_seed(self) -> int | None:
        """The seed of `np_random` (None if it was set by hand)."""
        self.np_random  # noqa: B018 - seeds it from entropy if needed
        return self._np_random_seed

    def reset(self, seed: int | None = None) -> States:
        """Starts an episode and returns its first states (fresh arrays).

        A `seed` (an int >= 0) reseeds `np_random` first; None continues it.
        """
        self._check_open()
        if seed is not None:
            seed = arguments.integer(f'{self._name()}.reset: seed', seed, minimum=0)
            self._np_random, self._np_random_seed = np.random.default_rng(seed), seed
        try:
            states = self._reset(seed)
        except ModalbridgeError:
            raise
        except Exception as error:
            raise EnvironmentFailure(f'{self._name()}._reset failed: {error!r}', error) from error
        states = self._fresh(states, '_reset')
        self._needs_reset = False
        self._timestep = 0
        return states

    def execute(self, actions: Mapping[str, Any]) -> Step:
        """Applies one dict of actions; returns `Step(states, reward, terminal, info)`."""
        if self._needs_reset:
            self._check_open()
            if self._last_terminal is None:
                raise ResetNeeded(EXECUTE_BEFORE_RESET.format(name=self._name()))
            raise ResetNeeded(EXECUTE_AFTER_END.format(
                name=self._name(), terminal=self._last_terminal.name))
        return self._execute_valid(self._validate_actions(actions))

    def _execute_valid(self, actions: dict[str, np.ndarray]) -> Step:
        """`execute` for actions already validated against these action specs (a batch checks its
        rows once, for all its environments); the call order must have been checked."""
        states, reward, terminal, info = self._execute_unchecked(actions)
        return Step(self._fresh(states, '_execute'), reward, terminal, info)

    def _execute_unchecked(self, actions: dict[str, np.ndarray]) -> tuple[Any, float, Terminal, dict[str, Any]]:
        """`_execute_valid` with the states as the hook returned them, not yet checked nor copied:
        the caller must check them (`_fresh`, or a `LocalBatch` checking a whole batch column
        at once); reward, terminal, info and the time limit are handled."""
        try:
            step = self._execute(actions)
        except ModalbridgeError:
            raise
        except Exception as error:
            raise EnvironmentFailure(f'{self._name()}._execute failed: {error!r}', error) from error
        if type(step) is not Step:
            step = self._step(step)
        return self._recorded(step.states, step.reward, step.terminal, step.info)

    def _recorded(self, states: Any, reward: Any, terminal: Any, info: Any) -> tuple[Any, float, Terminal, dict]:
        """One step's fields checked (but the states) and recorded: the timestep counted, the time
        limit applied, the end of the episode noted. Every execute goes through here."""
        self._timestep += 1
        if type(terminal) is not Terminal:
            terminal = self._terminal(terminal)
        if (not terminal and self._max_episode_timesteps is not None
                and self._timestep >= self._max_episode_timesteps):
            terminal = Terminal.TRUNCATED
        if terminal:
            self._needs_reset = True
            self._last_terminal = terminal
        if type(reward) is not float or reward - reward != 0:  # the second test: NaN or infinite
            reward = self._reward(reward)
        if type(info) is not dict:
            info = self._info(info)
        return states, reward, terminal, info

    def close(self) -> None:
        """Releases the environment's resources; calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._needs_reset = True
            self._close()

    def __enter__(self) -> 'Environment':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'{self._name()}(states={list(self._state_specs)}, actions={list(self._action_specs)})'

    # -- hooks ---------------------------------------------------------------

    @abc.abstractmethod
    def _reset(self, seed: int | None) -> Mapping[str, Any]:
        """Starts an episode; returns the first states keyed by name."""

    @abc.abstractmethod
    def _execute(self, actions: dict[str, np.ndarray]) -> Step:
        """Applies validated actions; returns a Step."""

    def _close(self) -> None:
        """Releases resources; called once."""

    # -- helpers -------------------------------------------------------------

    def _name(self) -> str:
        return type(self).__name__

    def _check_open(self) -> None:
        if self._closed:
            raise ResetNeeded(CLOSED.format(name=self._name()))

    def _validate_actions(self, actions: Mapping[str, Any]) -> dict[str, np.ndarray]:
        try:
            validated = {name: validate(actions[name]) for name, validate in self._validator_items}
            if len(actions) == len(validated):
                return validated
        except (KeyError, TypeError):
            pass  # a missing key or not a dict: described below
        if not isinstance(actions, Mapping):
            raise SpecError('actions', f'a dict with the keys {self._action_names}',
                            type(actions).__name__)
        missing = sorted(set(self._validators) - set(actions))
        unknown = sorted((str(key) for key in set(actions) - set(self._validators)))
        received = ' and '.join(
            ([f'missing {missing}'] if missing else []) + ([f'unknown {unknown}'] if unknown else []))
        raise SpecError((missing or unknown)[0], f'the action keys {self._action_names}', received)

    def _fresh(self, states: Mapping[str, Any], method: str) -> States:
        """Validates what a hook returned against the state specs; arrays come out fresh."""
        try:
            fresh = {name: validate(states[name]) for name, validate in self._state_validator_items}
            if len(states) == len(fresh):
                return fresh
        except SpecError as error:
            raise self._failure(method, f'state {error.key!r}', error.expected, error.received,
                                error) from error
        except (KeyError, TypeError):
            pass  # described below
        received = sorted(map(str, states)) if isinstance(states, Mapping) else type(states).__name__
        raise self._failure(method, 'states', f'the state keys {sorted(self._state_keys)}', received)

    def _failure(self, method: str, field: str, expected: str, received: Any,
                 original: BaseException | None = None) -> EnvironmentFailure:
        return EnvironmentFailure(OUTPUT.format(name=self._name(), method=method, field=field,
                                                expected=expected, received=received), original)

    def _step(self, step: Any) -> Step:
        if isinstance(step, Step):
            return step
        raise self._failure('_execute', 'step', 'a Step(states, reward, terminal, info)',
                            specs_lib.received(step))

    def _reward(self, reward: Any) -> float:
        value = None
        if not isinstance(reward, (bool, np.bool_, str, bytes)):
            try:
                value = float(reward) if np.ndim(reward) == 0 else None
            except (TypeError, ValueError, OverflowError):
                value = None
        if value is None or not math.isfinite(value):
            raise self._failure('_execute', 'reward', 'a finite real number',
                                specs_lib.received(reward))
        return value

    def _terminal(self, terminal: Any) -> Terminal:
        if isinstance(terminal, (int, np.integer)) and not isinstance(terminal, (bool, np.bool_)) \
                and int(terminal) in (0, 1, 2):
            return Terminal(int(terminal))
        raise self._failure('_execute', 'terminal', 'a Terminal (NONE 0, TERMINATED 1, TRUNCATED 2)',
                            specs_lib.received(terminal))

    def _info(self, info: Any) -> dict[str, Any]:
        if info is None:
            return {}
        if isinstance(info, Mapping):
            return dict(info)
        raise self._failure('_execute', 'info', 'a dict (or None)', specs_lib.received(info))

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
from typing import Any, Mapping, NamedTuple

import numpy as np

from modalbridge.bridges import arguments
from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.errors import (ConfigError, EnvironmentFailure, ModalbridgeError,
                                        ResetNeeded, SpecError)

States = dict[str, np.ndarray]

EXECUTE_BEFORE_RESET = '{name}: execute() called before reset()'
EXECUTE_AFTER_END = '{name}: execute() called after the episode ended ({terminal}); call reset()'
CLOSED = '{name}: the environment is closed'


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
    if np.ndim(terminated) == 0 and np.ndim(truncated) == 0:
        return Terminal.TERMINATED if terminated else Terminal.TRUNCATED if truncated else Terminal.NONE
    return np.where(terminated, Terminal.TERMINATED, np.where(truncated, Terminal.TRUNCATED, Terminal.NONE)
                    ).astype(np.int8)


_TERMINALS = {int(terminal): terminal for terminal in Terminal}


class Step(NamedTuple):
    """What `Environment.execute` returns."""

    states: States
    reward: float
    terminal: Terminal
    info: dict[str, Any]


class Environment(abc.ABC):
    """A reinforcement-learning environment with named states and actions.

    Subclass it to wrap a new environment: declare the specs in `__init__`
    and implement `_reset(seed)` and `_execute(actions)`::

        class Coin(Environment):
            def __init__(self):
                super().__init__(
                    states=dict(face=dict(type='int', num_values=2)),
                    actions=dict(guess=dict(type='int', num_values=2)),
                    max_episode_timesteps=10)

            def _reset(self, seed):
                self._rng = np.random.default_rng(seed)
                self._face = int(self._rng.integers(2))
                return dict(face=self._face)

            def _execute(self, actions):
                reward = float(actions['guess'] == self._face)
                self._face = int(self._rng.integers(2))
                return Step(dict(face=self._face), reward, Terminal.NONE, {})

    `_reset` returns the states dict; `_execute` receives validated actions
    (numpy arrays of the declared dtypes) and returns a `Step` (its `reward`
    and `terminal` may be plain numbers). Specs may be given in the
    TensorForce short form. Exceptions other than modalbridge's own that
    the hooks raise come out as `EnvironmentFailure`.
    """

    def __init__(self, states: Mapping[str, specs_lib.SpecLike],
                 actions: Mapping[str, specs_lib.SpecLike],
                 max_episode_timesteps: int | None = None):
        self._state_specs = specs_lib.as_specs(states, 'states')
        self._action_specs = specs_lib.as_specs(actions, 'actions')
        self.max_episode_timesteps = max_episode_timesteps
        self._validators = {name: specs_lib.validator(spec, name)
                            for name, spec in self._action_specs.items()}
        self._state_validators = {name: specs_lib.validator(spec, name)
                                  for name, spec in self._state_specs.items()}
        self._validator_items = tuple(self._validators.items())
        self._state_validator_items = tuple(self._state_validators.items())
        self._state_keys = self._state_specs.keys()
        self._action_names = sorted(self._action_specs)
        self._needs_reset = True
        self._last_terminal = None
        self._timestep = 0
        self._closed = False

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

    def reset(self, seed: int | None = None) -> States:
        """Starts an episode and returns its first states (fresh arrays)."""
        self._check_open()
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
        actions = self._validate_actions(actions)
        try:
            step = self._execute(actions)
        except ModalbridgeError:
            raise
        except Exception as error:
            raise EnvironmentFailure(f'{self._name()}._execute failed: {error!r}', error) from error
        self._timestep += 1
        reward, terminal, info = self._step_fields(step)
        if (not terminal and self._max_episode_timesteps is not None
                and self._timestep >= self._max_episode_timesteps):
            terminal = Terminal.TRUNCATED
        if terminal:
            self._needs_reset = True
            self._last_terminal = terminal
        return Step(self._fresh(step.states, '_execute'), reward, terminal, info)

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

    def _step_fields(self, step: Any) -> tuple[float, Terminal, dict[str, Any]]:
        """The reward, terminal and info of what `_execute` returned, or EnvironmentFailure naming the field."""
        if not isinstance(step, Step):
            raise EnvironmentFailure(f'{self._name()}._execute returned a {type(step).__name__}; expected a Step')
        reward, terminal, info = step.reward, step.terminal, step.info
        if type(terminal) is not Terminal:
            try:
                terminal = None if isinstance(terminal, (bool, np.bool_)) else _TERMINALS[terminal]
            except (KeyError, TypeError):
                terminal = None
            if terminal is None:
                raise EnvironmentFailure(f'{self._name()}._execute returned terminal {step.terminal!r}; '
                                         'expected a Terminal (0, 1 or 2)')
        if type(reward) is not float:
            if isinstance(reward, (bool, np.bool_)) or not isinstance(reward, (int, float, np.integer, np.floating)):
                raise EnvironmentFailure(f'{self._name()}._execute returned reward {reward!r}; expected a real number')
            reward = float(reward)
        if not np.isfinite(reward):
            raise EnvironmentFailure(f'{self._name()}._execute returned reward {reward!r}; expected a finite number')
        if type(info) is not dict:
            if info is not None and not isinstance(info, Mapping):
                raise EnvironmentFailure(f'{self._name()}._execute returned info of type {type(info).__name__}; '
                                         'expected a dict')
            info = dict(info or {})
        return reward, terminal, info

    def _fresh(self, states: Mapping[str, Any], method: str) -> States:
        """Copies arrays; converts (and validates) plain Python values."""
        try:
            fresh = {name: value.copy() if type(value) is np.ndarray else validate(value)
                     for name, validate in self._state_validator_items
                     for value in (states[name],)}
            if len(states) == len(fresh):
                return fresh
        except (KeyError, TypeError):
            pass  # described below
        received = sorted(states) if isinstance(states, Mapping) else type(states).__name__
        raise SpecError('states', f'the state keys {sorted(self._state_keys)}',
                        f'{received} from {self._name()}.{method}')

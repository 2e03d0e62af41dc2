"""The batched step and the in-process stepping that every vector strategy shares.

`LocalBatch` steps a list of contract environments one after the other; a
`VectorEnvironment` uses it directly (in-process) or inside each worker
process, so both modes return the same `BatchStep`, with the same info shape
and the same errors.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, SpecError

_NONE = int(Terminal.NONE)


class BatchStep(NamedTuple):
    """What a batched `execute` returns: one row per environment.

    `states` are batched arrays (text as object arrays), `reward` float64 and
    `terminal` int8 (`Terminal` values) of shape ``(num_envs,)``. `info` holds
    ``final_mask`` (the environments that finished and were reset in this
    call), ``final_states`` (their last states; present when any finished)
    and ``infos`` (each environment's own info dict, a list).

    >>> step = BatchStep({}, np.zeros(2), np.zeros(2, np.int8), dict(final_mask=np.zeros(2, bool), infos=[{}, {}]))
    >>> step.reward.shape
    (2,)
    """

    states: dict[str, np.ndarray]
    reward: np.ndarray
    terminal: np.ndarray
    info: dict[str, Any]


class BatchedEnvironment(abc.ABC):
    """The vector contract: `num_envs` environments with the same specs, stepped as one batch.

    `reset(seed)` returns batched states (a leading axis of `num_envs`;
    environment ``i`` seeded ``seed + i`` where the strategy allows);
    `execute(batched actions)` returns a `BatchStep`; an environment that
    finished is reset in the same call (its last states in
    ``info['final_states']``, rows valid where ``info['final_mask']``).
    `VectorEnvironment` (in-process or worker processes) and `EnvPoolBridge`
    implement it, and `check` accepts any of them.
    """

    @property
    @abc.abstractmethod
    def states(self) -> Mapping[str, Any]:
        """The specs of one environment's states."""

    @property
    @abc.abstractmethod
    def actions(self) -> Mapping[str, Any]:
        """The specs of one environment's actions."""

    @property
    @abc.abstractmethod
    def num_envs(self) -> int:
        """How many environments are in the batch."""

    @property
    @abc.abstractmethod
    def max_episode_timesteps(self) -> int | None:
        """The step limit of every episode (reaching it is TRUNCATED), or None."""

    @max_episode_timesteps.setter
    def max_episode_timesteps(self, value: int | None) -> None:
        raise ConfigError(f'{type(self).__name__}: max_episode_timesteps is fixed at construction')

    @abc.abstractmethod
    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """Starts every environment anew; returns the batched first states."""

    @abc.abstractmethod
    def execute(self, actions: Mapping[str, Any]) -> 'BatchStep':
        """Steps every environment with its row of the batched actions."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases the environments; calling it again does nothing."""

    def __enter__(self) -> 'BatchedEnvironment':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def batch_rows(states: Sequence[Mapping[str, Any]], specs: Mapping[str, Any], first: int = 0,
                 method: str = 'execute') -> dict[str, np.ndarray]:
    """One batched dict from per-environment dicts (text as object arrays).

    A row of the wrong shape or dtype is an `EnvironmentFailure` naming the
    environment (`first` + its row) and the key.

    >>> spec = specs_lib.from_dict(dict(type='float', shape=(2,)), 'x')
    >>> batch_rows([dict(x=np.zeros(2, np.float32))] * 3, dict(x=spec))['x'].shape
    (3, 2)
    """
    out = {}
    for name, spec in specs.items():
        if specs_lib.is_text(spec):
            column = np.empty((len(states),) + spec.shape, dtype=object)
            for index, single in enumerate(states):
                value = single[name]
                # a 0-d object array would be stored as an object itself: store its string
                column[index] = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
            out[name] = column
            continue
        try:  # np.array of equal arrays stacks them, at a third of np.stack's cost on small rows
            column = np.array([single[name] for single in states])
            stacked = True
        except (ValueError, TypeError):
            stacked = False
        if not stacked or column.shape[1:] != spec.shape or column.dtype != spec.dtype:
            for index, single in enumerate(states):
                value = np.asarray(single[name])
                if value.shape != spec.shape or value.dtype != spec.dtype:
                    raise EnvironmentFailure(
                        f'environment {first + index}: {method} returned state {name!r} with shape {value.shape} '
                        f'and dtype {value.dtype}; expected shape {spec.shape} and dtype {spec.dtype}')
            column = np.stack([np.asarray(single[name]) for single in states])  # every row matches its spec
        out[name] = column
    return out


def batched_actions(actions: Mapping[str, Any], specs: Mapping[str, Any], num_envs: int) -> dict[str, np.ndarray]:
    """The batched actions as arrays with a leading axis of `num_envs`, keyed like `specs`.

    A missing or unknown key or a wrong batch axis is a `SpecError` naming
    the key; the values themselves are checked by the caller.
    """
    if not isinstance(actions, Mapping):
        raise SpecError('actions', f'a dict of batched actions {list(specs)}', type(actions).__name__)
    for name in actions:
        if name not in specs:
            raise SpecError(str(name), f'the action keys {list(specs)}', f'unknown {name!r}')
    batch = {}
    for name, spec in specs.items():
        if name not in actions:
            raise SpecError(name, f'the action keys {list(specs)}', f'missing {name!r}')
        try:
            value = np.asarray(actions[name], dtype=object if specs_lib.is_text(spec) else None)
        except (ValueError, TypeError) as error:
            raise SpecError(name, f'a batch of {num_envs} actions', f'{error}') from None
        if value.shape[:1] != (num_envs,):
            raise SpecError(name, f'a leading batch axis of {num_envs}', f'shape {value.shape}')
        batch[name] = value
    return batch


def action_rows(actions: Mapping[str, Any], validators: Mapping[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """The batched actions split into one validated dict per environment.

    The whole batch is checked before any environment is stepped: a missing
    or unknown key, a wrong batch axis or an invalid row is a `SpecError`
    naming the key (and the row).
    """
    batch = batched_actions(actions, {name: spec for name, (spec, _) in validators.items()}, num_envs)
    rows: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for name, pair in validators.items():
        value = batch[name]
        batched = pair.batched(num_envs) if isinstance(pair, _Validators) else None
        if batched is not None:
            try:
                column = batched(value)  # one check of the whole column, the common case
            except SpecError:
                pass  # the row-by-row check below names the row
            else:
                for index in range(num_envs):
                    rows[index][name] = column[index, ...]
                continue
        validate = pair[1]
        for index in range(num_envs):
            try:
                rows[index][name] = validate(value[index])
            except SpecError as error:
                raise SpecError(name, error.expected, f'{error.received} in row {index}') from None
    return rows


class _Validators(tuple):
    """``(spec, validator)`` of one action, with validators of whole batched columns (built once per size)."""

    def batched(self, num_envs: int) -> Any:
        cache = self.__dict__.setdefault('columns', {})
        if num_envs not in cache:
            cache[num_envs] = _column_validator(self[0], num_envs)
        return cache[num_envs]


def _column_validator(spec: Any, num_envs: int) -> Any:
    """A validator of `num_envs` rows of `spec` at once (None for text): the same checks, element by element."""
    if specs_lib.is_text(spec):
        return None
    shape = (num_envs,) + spec.shape
    if isinstance(spec, dm_specs.DiscreteArray):
        column = dm_specs.BoundedArray(shape, spec.dtype, 0, spec.num_values - 1, name=spec.name)
    elif isinstance(spec, dm_specs.BoundedArray):
        column = dm_specs.BoundedArray(shape, spec.dtype, spec.minimum, spec.maximum, name=spec.name)
    else:
        column = dm_specs.Array(shape, spec.dtype, name=spec.name)
    return specs_lib.validator(column)


def action_validators(actions: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """(spec, validator) per action name, for `action_rows`."""
    return {name: _Validators((spec, specs_lib.validator(spec, name))) for name, spec in actions.items()}


@runtime_checkable
class BatchStrategy(Protocol):
    """How a `VectorEnvironment` runs its environments: in-process (`LocalBatch`) or in
    worker processes (`workers.Workers`); a new strategy (e.g. Ray actors) implements this.

    `reset` takes one seed per environment, `execute` one validated action
    dict per environment; both behave identically in every strategy.

    >>> from modalbridge.bridges import GymBridge
    >>> isinstance(LocalBatch([GymBridge('CartPole-v1')]), BatchStrategy)
    True
    """

    @property
    def max_episode_timesteps(self) -> int | None: ...  # read-only: changed through the setter below

    def set_max_episode_timesteps(self, limit: int | None) -> None: ...

    def reset(self, seeds: Sequence[int | None]) -> dict[str, np.ndarray]: ...

    def execute(self, rows: Sequence[Mapping[str, Any]]) -> BatchStep: ...

    def close(self) -> None: ...


class LocalBatch:
    """Environments stepped one after the other in this process.

    `first` is the index of the first one in the whole batch (in a worker
    process, the offset of its share), so errors name the global index.

    >>> from modalbridge.bridges import GymBridge
    >>> batch = LocalBatch([GymBridge('CartPole-v1') for _ in range(2)])
    >>> batch.reset([0, 1])['state'].shape
    (2, 4)
    """

    def __init__(self, envs: Sequence[Environment], first: int = 0):
        self.envs, self.first = list(envs), first
        self.specs = envs[0].states

    @property
    def max_episode_timesteps(self) -> int | None:
        return self.envs[0].max_episode_timesteps

    def set_max_episode_timesteps(self, limit: int | None) -> None:
        for env in self.envs:
            env.max_episode_timesteps = limit

    def reset(self, seeds: Sequence[int | None]) -> dict[str, np.ndarray]:
        return batch_rows([self._call(i, env.reset, seed) for i, (env, seed) in enumerate(zip(self.envs, seeds))],
                            self.specs, self.first, 'reset')

    def execute(self, rows: Sequence[Mapping[str, Any]]) -> BatchStep:
        count = len(self.envs)
        states: list[Any] = [None] * count
        finals: list[Any] = [None] * count
        infos: list[Any] = [None] * count
        rewards = np.empty(count, np.float64)
        terminals = np.empty(count, np.int8)
        index = 0
        try:  # one try around the loop, not a call wrapped per environment: this is every step's path
            for index, env in enumerate(self.envs):
                # the rows were validated against these same specs: skip the second validation
                step = (env._execute_valid(rows[index]) if not env._needs_reset  # type: ignore[arg-type]  # validated dicts
                        else env.execute(rows[index]))
                rewards[index] = step.reward
                terminals[index] = terminal = step.terminal
                infos[index] = step.info
                finals[index] = step.states
                states[index] = env.reset() if terminal != Terminal.NONE else step.states
        except Exception as error:  # noqa: BLE001 - the actions were valid: the env failed
            raise self._failure(index, error) from error
        mask = terminals != _NONE  # a plain int: numpy compares an array to an IntEnum 5x slower
        info = dict(final_mask=mask, infos=infos)
        if mask.any():
            info['final_states'] = batch_rows(finals, self.specs, self.first)
        return BatchStep(batch_rows(states, self.specs, self.first), rewards, terminals, info)

    def close(self, _: Any = None) -> None:
        for env in self.envs:
            env.close()

    def _call(self, index: int, method: Any, argument: Any) -> Any:
        try:
            return method(argument)
        except Exception as error:  # noqa: BLE001 - the actions were valid: the env failed
            raise self._failure(index, error) from error

    def _failure(self, index: int, error: Exception) -> EnvironmentFailure:
        """`error`, raised by environment `index` of this share, as an EnvironmentFailure naming it."""
        if isinstance(error, EnvironmentFailure):
            return EnvironmentFailure(f'environment {self.first + index}: {error}', error.original)
        return EnvironmentFailure(f'environment {self.first + index}: {type(error).__name__}: {error}', error)


def concatenate(parts: Sequence[BatchStep]) -> BatchStep:
    """One `BatchStep` from consecutive shares of the batch."""
    if len(parts) == 1:
        return parts[0]
    states = {name: np.concatenate([part.states[name] for part in parts]) for name in parts[0].states}
    mask = np.concatenate([part.info['final_mask'] for part in parts])
    info: dict[str, Any] = dict(final_mask=mask, infos=[item for part in parts for item in part.info['infos']])
    if mask.any():
        info['final_states'] = {name: np.concatenate([part.info.get('final_states', part.states)[name]
                                                      for part in parts]) for name in states}
    return BatchStep(states, np.concatenate([part.reward for part in parts]),
                     np.concatenate([part.terminal for part in parts]), info)

"""The batched step and the in-process stepping that every vector strategy shares.

`LocalBatch` steps a list of contract environments one after the other; a
`VectorEnvironment` uses it directly (in-process) or inside each worker
process, so both modes return the same `BatchStep`, with the same info shape
and the same errors.
"""

from __future__ import annotations

import abc
import operator
from typing import Any, Mapping, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.environment import Environment, Terminal, terminal_from_flags
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, ModalbridgeError, SpecError

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
    rows = _checked_rows(actions, validators, num_envs)
    if rows is not None:
        return rows
    batch = batched_actions(actions, {name: spec for name, (spec, _) in validators.items()}, num_envs)
    rows = [{} for _ in range(num_envs)]
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


def checked_columns(actions: Any, validators: Mapping[str, Any], num_envs: int) -> dict[str, np.ndarray] | None:
    """The batched actions, checked at the cost of a few attribute reads, for the common case: a
    dict of arrays of exactly the specs' dtypes and batched shapes, inside the bounds. None for
    anything else (`action_rows` then checks it the long way and names what is wrong)."""
    if type(actions) is not dict or len(actions) != len(validators):
        return None
    columns = {}
    for name, pair in validators.items():
        value = actions.get(name)
        spec = pair[0]
        if (type(value) is not np.ndarray or (value.dtype is not spec.dtype and value.dtype != spec.dtype)
                or value.shape[:1] != (num_envs,)
                or value.shape[1:] != spec.shape or isinstance(pair, _Validators) is False):
            return None
        check = pair.bounds()
        if check is False or (check is not None and not check(value)):
            return None
        columns[name] = value
    return columns


def stacked(rows: Sequence[Mapping[str, Any]] | None, columns: Mapping[str, np.ndarray] | None
            ) -> Mapping[str, np.ndarray]:
    """`columns` as given, or validated `rows` stacked into one array a key (a worker's share is a
    slice of each)."""
    if columns is not None:
        return columns
    assert rows is not None  # one of the two is given
    return {name: np.stack([row[name] for row in rows]) for name in rows[0]}


def checked_actions(actions: Any, validators: Mapping[str, Any], num_envs: int
                    ) -> tuple[list[dict[str, Any]] | None, dict[str, np.ndarray] | None]:
    """``(rows, columns)``, one of them None: the columns as given when they pass `checked_columns` (the
    common case), else the rows `action_rows` checks one by one (a `SpecError` naming what is wrong);
    `LocalBatch.execute` and the worker backends take either."""
    columns = checked_columns(actions, validators, num_envs)
    return (action_rows(actions, validators, num_envs) if columns is None else None), columns


def _checked_rows(actions: Any, validators: Mapping[str, Any], num_envs: int) -> list[dict[str, Any]] | None:
    """`action_rows` for the common case (`checked_columns`), or None."""
    columns = checked_columns(actions, validators, num_envs)
    if columns is None:
        return None
    if len(columns) == 1:
        name, value = next(iter(columns.items()))
        return [{name: value[index, ...]} for index in range(num_envs)]
    return [{name: value[index, ...] for name, value in columns.items()} for index in range(num_envs)]


class _Validators(tuple):
    """``(spec, validator)`` of one action, with validators of whole batched columns (built once per size)."""

    def bounds(self) -> Any:
        """`column_bounds` of the spec, built once; False for text (never on the quick path)."""
        found = self.__dict__.get('column_bounds', self)
        if found is self:
            found = self.__dict__['column_bounds'] = False if specs_lib.is_text(self[0]) else column_bounds(self[0])
        return found

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

    def execute(self, rows: Sequence[Mapping[str, Any]] | None = None,
                columns: Mapping[str, np.ndarray] | None = None) -> BatchStep: ...

    def close(self) -> None: ...


class LocalBatch:
    """Environments stepped one after the other in this process.

    `first` is the index of the first one in the whole batch (in a worker
    process, the offset of its share), so errors name the global index.

    Each step's states go straight into the batch arrays, as the
    environments returned them, and are checked once per key for the whole
    batch (`StateColumns`); only a batch that fails that check is checked
    again environment by environment, for the error naming the environment
    and the state.

    >>> from modalbridge.bridges import GymBridge
    >>> batch = LocalBatch([GymBridge('CartPole-v1') for _ in range(2)])
    >>> batch.reset([0, 1])['state'].shape
    (2, 4)
    """

    def __init__(self, envs: Sequence[Environment], first: int = 0):
        self.envs, self.first = list(envs), first
        self.specs = envs[0].states
        self._columns = StateColumns(self.specs)
        self._gym = GymColumns.of(self)

    @property
    def max_episode_timesteps(self) -> int | None:
        return self.envs[0].max_episode_timesteps

    def set_max_episode_timesteps(self, limit: int | None) -> None:
        for env in self.envs:
            env.max_episode_timesteps = limit

    def reset(self, seeds: Sequence[int | None]) -> dict[str, np.ndarray]:
        return batch_rows([self._call(i, env.reset, seed) for i, (env, seed) in enumerate(zip(self.envs, seeds))],
                            self.specs, self.first, 'reset')

    def execute(self, rows: Sequence[Mapping[str, Any]] | None = None,
                columns: Mapping[str, np.ndarray] | None = None) -> BatchStep:
        """Steps every environment with its actions: `rows` (one validated dict per environment) or
        `columns` (the validated batched arrays)."""
        if columns is not None:
            if self._gym is not None:
                return self._gym.execute(columns)
            rows = [{name: column[index, ...] for name, column in columns.items()} for index in range(len(self.envs))]
        assert rows is not None  # one of the two is given
        count = len(self.envs)
        states: list[Any] = [None] * count
        infos: list[Any] = [None] * count
        finished: list[tuple[int, Any]] = []
        rewards = np.empty(count, np.float64)
        terminals = np.empty(count, np.int8)
        index = 0
        try:  # one try around the loop, not a call wrapped per environment: this is every step's path
            for index, env in enumerate(self.envs):
                # the rows were validated against these same specs: skip the second validation; the
                # states are checked below, a whole column at once
                raw, reward, terminal, info = (
                    env._execute_unchecked(rows[index]) if not env._needs_reset  # type: ignore[arg-type]
                    else env.execute(rows[index]))
                rewards[index] = reward
                terminals[index] = terminal
                infos[index] = info
                if terminal:
                    finished.append((index, env._fresh(raw, '_execute')))  # rare: checked on its own
                    raw = env.reset()
                states[index] = raw
        except Exception as error:  # noqa: BLE001 - the actions were valid: the env failed
            raise self._failure(index, error) from error
        batch = self._columns(states)
        if batch is None:
            batch = self._row_by_row(states)
        mask = terminals != _NONE  # a plain int: numpy compares an array to an IntEnum 5x slower
        info = dict(final_mask=mask, infos=infos)
        if finished:
            final = {name: column.copy() for name, column in batch.items()}
            for index, last in finished:
                for name, column in final.items():
                    value = last[name]
                    column[index] = value.item() if column.dtype == object and value.ndim == 0 else value
            info['final_states'] = final
        return BatchStep(batch, rewards, terminals, info)

    def close(self, _: Any = None) -> None:
        for env in self.envs:
            env.close()

    def _row_by_row(self, states: Sequence[Any], reset: Sequence[int] = (),
                    rows: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """`states` (of the environments `rows`, default all) checked environment by environment:
        the error names the first bad one, and `_reset` as the hook of the environments in `reset`."""
        checked = []
        for index, raw in zip(range(len(self.envs)) if rows is None else rows, states):
            try:
                checked.append(self.envs[index]._fresh(raw, '_reset' if index in reset else '_execute'))
            except Exception as error:  # noqa: BLE001 - an invalid state: the env failed
                raise self._failure(index, error) from error
        return batch_rows(checked, self.specs, self.first)

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


class GymColumns:
    """`LocalBatch.execute` for plain `GymBridge`s of one unnested state and one unnested action
    (CartPole, Atari, MuJoCo), without the per-environment layers: each Gymnasium env stepped with
    its action converted as the bridge converts it, the contract's bookkeeping of the step done
    here (as `Environment._recorded` does it), a finished episode restarted as `GymBridge._reset`
    does, and the observations, final ones included, stacked and checked as one column (dtype,
    shape, bounds, finiteness; a column that fails is checked observation by observation, for
    the error that names the environment). Built by `GymColumns.of(batch)`; None where it does
    not apply.

    >>> from modalbridge.bridges import GymBridge
    >>> batch = LocalBatch([GymBridge('CartPole-v1') for _ in range(2)])
    >>> type(batch._gym).__name__, batch.reset([0, 1])['state'].shape
    ('GymColumns', (2, 4))
    >>> batch.execute(columns={'action': np.zeros(2, np.int64)}).terminal.tolist()
    [0, 0]
    """

    def __init__(self, batch: 'LocalBatch', state: Any, action: Any, scalar: bool):
        self.batch, self.envs = batch, batch.envs
        self.steps = [env.env.step for env in self.envs]  # type: ignore[attr-defined]
        self.resets = [env.env.reset for env in self.envs]  # type: ignore[attr-defined]
        self.state, self.dtype, self.shape = state.name, state.spec.dtype, state.spec.shape
        self.check = column_bounds(state.spec)
        self.action, self.convert = action.name, action.to_gym
        self.scalar = scalar

    @classmethod
    def of(cls, batch: 'LocalBatch') -> 'GymColumns | None':
        from modalbridge.bridges import gym_spaces
        from modalbridge.bridges.gym import GymBridge  # gymnasium: imported where it is already used
        if not all(type(env) is GymBridge for env in batch.envs):
            return None  # a subclass may step differently
        (states, actions) = batch.envs[0]._leaves  # type: ignore[attr-defined]
        if len(states) != 1 or len(actions) != 1 or states[0].path or actions[0].path:
            return None
        state, action = states[0], actions[0]
        if (state.to_contract is not gym_spaces._identity or specs_lib.is_text(state.spec)
                or specs_lib.is_text(action.spec)):
            return None
        # A Discrete choice is converted from a Python int (as from a 0-d array, to the same NumPy scalar).
        scalar = action.spec.shape == () and action.spec.dtype.kind in 'iu' and action.to_gym is not gym_spaces._identity
        return cls(batch, state, action, scalar)

    def execute(self, columns: Mapping[str, np.ndarray]) -> BatchStep:
        count, column = len(self.envs), columns[self.action]
        actions = (column.tolist() if self.scalar else list(column) if column.ndim > 1
                   else [column[index, ...] for index in range(count)])  # each row as `action_rows` gives it
        convert, steps = self.convert, self.steps
        observations: list[Any] = [None] * count
        rewards: list[Any] = [None] * count
        terminals: list[Any] = [None] * count
        infos: list[Any] = [None] * count
        finished: list[int] = []
        finals: list[Any] = []
        index, method = 0, '_execute'
        try:
            for index, env in enumerate(self.envs):
                method = '_execute'
                if env._needs_reset:  # closed, or not restarted after an error: its own ResetNeeded
                    env.execute({self.action: column[index, ...]})
                observation, reward, terminated, truncated, info = steps[index](convert(actions[index]))
                if (type(terminated) is bool and type(truncated) is bool and type(reward) is float
                        and reward - reward == 0 and type(info) is dict):
                    # Environment._recorded, step for step, for Gymnasium's usual types
                    env._timestep = timestep = env._timestep + 1
                    terminal = Terminal.TERMINATED if terminated else Terminal.TRUNCATED if truncated \
                        else Terminal.NONE
                    limit = env._max_episode_timesteps
                    if not terminal and limit is not None and timestep >= limit:
                        terminal = Terminal.TRUNCATED
                    if terminal:
                        env._needs_reset, env._last_terminal = True, terminal
                else:
                    _, reward, terminal, info = env._recorded(None, reward, terminal_from_flags(terminated, truncated),
                                                              info)
                rewards[index], terminals[index], infos[index] = reward, terminal, info
                if terminal:
                    finished.append(index)
                    finals.append(observation)
                    method = '_reset'
                    observation, env.reset_info = self.resets[index](seed=None)  # type: ignore[attr-defined]
                    env._needs_reset, env._timestep = False, 0
                observations[index] = observation
        except ModalbridgeError as error:
            raise self.batch._failure(index, error) from error
        except Exception as error:  # noqa: BLE001 - the actions were valid: the env failed
            failure = EnvironmentFailure(f'{self.envs[index]._name()}.{method} failed: {error!r}', error)
            raise self.batch._failure(index, failure) from error
        stacked = self._column(observations + finals)
        if stacked is None:  # the long way: converted as one environment converts, or the error naming it
            states = self.batch._row_by_row([{self.state: value} for value in observations], finished)
            last = (self.batch._row_by_row([{self.state: value} for value in finals], (), finished)[self.state]
                    if finals else None)
        else:
            states, last = {self.state: stacked[:count]}, stacked[count:]
        terminal_array = np.array(terminals, np.int8)
        info = dict(final_mask=terminal_array.astype(bool), infos=infos)
        if finals:
            final = states[self.state].copy()
            final[finished] = last
            info['final_states'] = {self.state: final}
        return BatchStep(states, np.array(rewards, np.float64), terminal_array, info)

    def _column(self, values: list[Any]) -> np.ndarray | None:
        """`values` stacked, if every one is an array of exactly the spec's dtype and shape, inside its
        bounds; None otherwise."""
        dtype = self.dtype
        for value in values:  # `is` first: NumPy's built-in dtypes are single objects, `!=` costs more
            if type(value) is not np.ndarray or (value.dtype is not dtype and value.dtype != dtype):
                return None
        column = np.array(values)
        if column.shape[1:] != self.shape or (self.check is not None and not self.check(column)):
            return None
        return column


class StateColumns:
    """Stacks one state dict per environment into batch arrays and checks each key's column at once.

    A column passes when every row is an array of exactly the spec's dtype
    and shape (no conversion: nothing is fixed silently) and the whole
    column is finite and inside the spec's bounds; text is checked row by
    row. Returns None when anything fails: the caller then checks row by
    row, for the error that names the environment and the state. The
    arrays returned are new (fresh) every call.

    >>> from modalbridge.bridges import specs
    >>> columns = StateColumns(dict(x=specs.from_dict(dict(type='float', shape=(2,), min_value=0.0,
    ...                                                     max_value=1.0), 'x')))
    >>> columns([dict(x=np.zeros(2, np.float32))] * 3)['x'].shape
    (3, 2)
    >>> columns([dict(x=np.zeros(2, np.float32)), dict(x=np.full(2, 2.0, np.float32))]) is None  # out of bounds
    True
    """

    def __init__(self, specs: Mapping[str, Any]):
        self.specs = specs
        # (name, dtype (None: text), shape, check): the text validator, or the column's bounds check
        self._keys: list[tuple[str, Any, tuple[int, ...], Any]] = []
        for name, spec in specs.items():
            if specs_lib.is_text(spec):
                self._keys.append((name, None, spec.shape, specs_lib.validator(spec, name)))
            else:
                self._keys.append((name, spec.dtype, spec.shape, column_bounds(spec)))

    def __call__(self, states: Sequence[Any]) -> dict[str, np.ndarray] | None:
        out = {}
        try:
            for name, dtype, shape, check in self._keys:
                values = [single[name] for single in states]
                if dtype is None:  # text: each row through the spec's validator
                    column = np.empty((len(values),) + shape, dtype=object)
                    for index, value in enumerate(values):
                        text = check(value)
                        column[index] = text.item() if text.ndim == 0 else text
                    out[name] = column
                    continue
                if {value.dtype for value in values} != {dtype}:
                    return None
                column = np.array(values)
                if column.shape[1:] != shape or (check is not None and not check(column)):
                    return None
                out[name] = column
        except (KeyError, TypeError, AttributeError, ValueError, SpecError):
            return None  # not a dict, a key missing, not an array, ragged rows, bad text: row by row
        return out


def column_bounds(spec: Any) -> 'ColumnBounds | None':
    """The check of batch columns of `spec` against its bounds (and finiteness, for floats); None
    where the dtype alone guarantees them (bool, integers over their whole range, text)."""
    dtype = spec.dtype
    if dtype.kind not in 'iuf':
        return None
    if isinstance(spec, dm_specs.BoundedArray):
        low, high = np.asarray(spec.minimum), np.asarray(spec.maximum)
    elif dtype.kind == 'f':
        low, high = np.asarray(-np.inf), np.asarray(np.inf)
    else:
        return None
    if dtype.kind in 'iu':
        info = np.iinfo(dtype)
        if np.all(low <= info.min) and np.all(high >= info.max):
            return None
    return ColumnBounds(np.broadcast_to(low, spec.shape), np.broadcast_to(high, spec.shape))


class ColumnBounds:
    """``check(column)``: whether every row of a batch column lies within (low, high), elementwise
    (bounds of one row's shape), and is finite. Small columns are compared in Python (a few
    hundred nanoseconds where each NumPy call costs a microsecond), large ones with NumPy.

    >>> check = ColumnBounds(np.array([0.0, -np.inf]), np.array([1.0, np.inf]))
    >>> check(np.array([[0.5, -1e30], [1.0, 3.0]])), check(np.array([[0.5, np.inf]])), check(np.array([[np.nan, 0]]))
    (True, False, False)
    """

    SMALL = 256  # elements: up to here Python's comparisons beat NumPy's per-call cost

    def __init__(self, low: np.ndarray, high: np.ndarray):
        if low.dtype.kind == 'f' or high.dtype.kind == 'f':  # clamped to the largest finite float: NaN and
            largest = np.finfo(np.float64).max                 # infinities fail the comparisons too
            low = np.maximum(low.astype(np.float64), -largest)
            high = np.minimum(high.astype(np.float64), largest)
        self.low, self.high = low, high
        self._lists: dict[int, tuple[list, list]] = {}
        # Integers between one pair of bounds: Python's min and max of the column (no NaN among ints)
        self._range = ((low.flat[0].item(), high.flat[0].item())
                       if low.dtype.kind in 'iu' and high.dtype.kind in 'iu' and low.size
                       and (low == low.flat[0]).all() and (high == high.flat[0]).all() else None)

    def __call__(self, column: np.ndarray) -> bool:
        if self._range is not None and column.dtype.kind in 'iu' and column.size <= self.SMALL:
            items = column.reshape(-1).tolist()
            return not items or (self._range[0] <= min(items) and max(items) <= self._range[1])
        if column.size > self.SMALL:
            return bool((column >= self.low).all() and (column <= self.high).all())  # False for NaN too
        rows = column.shape[0]
        bounds = self._lists.get(rows)
        if bounds is None:
            bounds = self._lists[rows] = (np.broadcast_to(self.low, column.shape).reshape(-1).tolist(),
                                          np.broadcast_to(self.high, column.shape).reshape(-1).tolist())
        items = column.reshape(-1).tolist()
        return all(map(operator.le, bounds[0], items)) and all(map(operator.le, items, bounds[1]))


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

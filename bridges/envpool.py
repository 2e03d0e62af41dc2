"""`EnvPoolBridge`: an EnvPool batch of environments in the vector contract.

EnvPool (``pip install 'modalbridge[envpool]'``) steps a batch of Atari,
MiniGrid/BabyAI, MuJoCo or ViZDoom environments in C++ threads and does
the Atari preprocessing there. This bridge gives that batch the contract of
a `VectorEnvironment`: named batched states, named actions, `Terminal`
values, and a finished environment reset in the same call with its last
states in ``info['final_states']`` where ``info['final_mask']``.

- EnvPool resets a finished environment on the *next* step (ignoring that
  step's action); the bridge resets it at once instead (EnvPool's
  ``reset(env_id)``), so the contract's same-step reset holds and no
  action is lost.
- MiniGrid/BabyAI's ``mission`` arrives as a fixed-size uint8 byte buffer;
  it becomes a text state (the bytes up to the first NUL, decoded as
  ASCII). Name other byte-buffer states with ``text=``.
- ``reset(seed=s)`` rebuilds the pool with EnvPool seed ``s`` (environment
  ``i`` is seeded ``s + i`` by EnvPool); ``reset()`` continues.
- Speed: where the pool has the layout of EnvPool's single-player pools
  (checked when the bridge is made; EnvPool 1.2's pools have it), a step
  sends the actions to the C++ pool and reads its arrays by position,
  skipping EnvPool's Python layer
  (which rebuilds its config dict several times a step); a byte-buffer text
  state is decoded only in the rows whose bytes changed. Other pools go
  through EnvPool's public ``step`` / ``reset``, with the same results.

>>> env = EnvPoolBridge('MiniGrid-GoToDoor-5x5-v0', num_envs=2, seed=0)  # doctest: +SKIP
>>> sorted(env.states)                                                  # doctest: +SKIP
['direction', 'image', 'mission']
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import arguments, names
from modalbridge.bridges.environment import terminal_from_flags
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, ResetNeeded, SpecError
from modalbridge.bridges.specs import describe
from modalbridge.bridges.gym_spaces import reader, space_leaves
from modalbridge.bridges.batch import BatchedEnvironment, BatchStep, batched_actions

MISSING = "EnvPoolBridge needs the envpool package: pip install 'modalbridge[envpool]'"
# Keys of EnvPool's info that are bookkeeping, not information about the step.
BOOKKEEPING = ('players',)


def _decode(row: np.ndarray, cache: dict[bytes, str]) -> str:
    raw = row.tobytes()
    text = cache.get(raw)
    if text is None:
        text = raw.split(b'\0', 1)[0].decode('ascii', errors='replace')
        if len(cache) < 10_000:
            cache[raw] = text
    return text


class EnvPoolBridge(BatchedEnvironment):
    """EnvPool's Gymnasium interface as a vector environment of the contract (see the module docstring).

    `task_id` is an EnvPool id (``envpool.list_all_envs()``); `make_kwargs`
    go to ``envpool.make`` (``max_episode_steps``, ``stack_num``, ...).
    """

    def __init__(self, task_id: str, num_envs: int = 1, seed: int = 0, text: Sequence[str] = ('mission',),
                 **make_kwargs: Any):
        try:
            import envpool
        except ImportError:
            raise ConfigError(MISSING) from None
        self._envpool = envpool
        self.task_id = task_id
        self._num_envs = arguments.integer('num_envs', num_envs, minimum=1)
        self._seed = arguments.integer('seed', seed, minimum=0)
        for key in ('env_type', 'num_envs', 'batch_size', 'seed'):
            if key in make_kwargs:
                raise ConfigError(f'EnvPoolBridge: {key!r} is set by the bridge; remove it from the arguments')
        self._make_kwargs = make_kwargs
        if task_id not in envpool.list_all_envs():
            raise ConfigError(f'EnvPoolBridge: unknown EnvPool id {task_id!r}; see envpool.list_all_envs()')
        self.env = self._make(self._seed)
        space = self.env.observation_space
        state_leaves = space_leaves(space, names.STATE, 'observation')
        wanted = set(text)
        unknown = wanted - {leaf.name for leaf in state_leaves}
        self._text = tuple(sorted(wanted - unknown))
        self._states = {}
        self._reader = reader(state_leaves)
        for leaf in state_leaves:
            if leaf.name in self._text:
                spec = leaf.spec
                if not (spec.dtype == np.uint8 and len(spec.shape) == 1):
                    raise ConfigError(f'EnvPoolBridge: text={leaf.name!r} needs a 1-D uint8 byte buffer; '
                                      f'the state is {spec}')
                self._states[leaf.name] = dm_specs.StringArray((), name=leaf.name)
            else:
                self._states[leaf.name] = leaf.spec
        action_leaves = space_leaves(self.env.action_space, names.ACTION, 'action')
        if len(action_leaves) != 1 or action_leaves[0].path:
            raise ConfigError(f'EnvPoolBridge: only a single action space is supported; {task_id} has '
                              f'{self.env.action_space}')
        self._actions = {action_leaves[0].name: action_leaves[0].spec}
        self._action_name = action_leaves[0].name
        self._cache: dict[bytes, str] = {}
        self._leaves = state_leaves
        self._direct = self._plan_direct()
        self._ids = np.arange(self._num_envs, dtype=np.int32)
        # Per text state: [the bytes last seen in each row, their decoded column, those bytes as one bytes].
        self._texts: dict[str, list[Any]] = {}
        self._started = False
        self._closed = False

    # -- the vector contract ----------------------------------------------------

    @property
    def states(self) -> Mapping[str, Any]:
        return self._states

    @property
    def actions(self) -> Mapping[str, Any]:
        return self._actions

    @property
    def num_envs(self) -> int:
        return self._num_envs

    @property
    def max_episode_timesteps(self) -> int | None:
        """EnvPool's own limit (its ``max_episode_steps``): episodes reaching it are TRUNCATED."""
        return int(self.env.spec.config.max_episode_steps)

    @max_episode_timesteps.setter
    def max_episode_timesteps(self, value: int | None) -> None:
        raise ConfigError('EnvPoolBridge: max_episode_timesteps is EnvPool\'s max_episode_steps, fixed when the '
                          'pool is made: pass max_episode_steps= to EnvPoolBridge')

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        self._check_open()
        if seed is not None:
            seed = arguments.integer('seed', seed, minimum=0)
            if seed != self._seed or self._started:
                self.env.close()
                self.env = self._make(seed)
                self._direct = self._plan_direct()
                self._seed = seed
        self._texts.clear()
        self._started = True
        direct = self._direct
        if direct is not None:
            values = self._call(lambda: direct.reset(self.env, self._ids))
            return self._read_direct(direct, values)
        observation, _ = self._call(self.env.reset)
        return self._read(observation)

    def execute(self, actions: Mapping[str, Any]) -> BatchStep:
        self._check_open()
        if not self._started:
            raise ResetNeeded('EnvPoolBridge: execute() called before reset()')
        batch = actions.get(self._action_name) if type(actions) is dict and len(actions) == 1 else None
        if type(batch) is not np.ndarray or batch.shape[:1] != (self._num_envs,):  # the checks of any other form
            batch = batched_actions(actions, self._actions, self._num_envs)[self._action_name]
        if self._direct is not None:
            return self._execute_direct(self._direct, batch)
        batch = check_batch(self._actions[self._action_name], self._action_name, batch)
        observation, reward, terminated, truncated, info = self._call(lambda: self.env.step(batch))
        states = self._read(observation)
        reward = np.asarray(reward, np.float64)
        if not np.all(np.isfinite(reward)):
            bad = int(np.flatnonzero(~np.isfinite(reward))[0])
            raise EnvironmentFailure(f'EnvPoolBridge({self.task_id}): environment {bad} returned the reward '
                                     f'{reward[bad]}; expected a finite number')
        terminal = terminal_from_flags(terminated, truncated)
        mask = terminal != 0
        out = {key: value for key, value in info.items() if key not in BOOKKEEPING}
        out['final_mask'] = mask
        if mask.any():
            out['final_states'] = {name: value.copy() for name, value in states.items()}
            ids = np.flatnonzero(mask).astype(np.int32)
            first, _ = self._call(lambda: self.env.reset(ids))
            for name, value in self._read(first, len(ids)).items():
                states[name][ids] = value
        return BatchStep(states, reward, terminal, out)

    def _plan_direct(self) -> _Direct | None:
        direct = _Direct.of(self.env, self._leaves)
        if direct is None:
            return None
        spec = self._actions[self._action_name]
        if spec.shape == ():
            direct.low, direct.high = int(spec.minimum), int(spec.maximum)
        # What each state needs, looked up once: (name, position, conversion, is text, dtype, shape).
        direct.states = [(name, index, convert, name in self._text, self._states[name].dtype,
                          self._states[name].shape) for name, index, convert in direct.states]
        return direct

    def _execute_direct(self, direct: _Direct, batch: np.ndarray) -> BatchStep:
        # Every NumPy call costs a few microseconds against a step of ~100: few calls, Python on short rows.
        ids, spec = self._ids, self._actions[self._action_name]
        if batch.dtype.kind not in 'iu' or batch.ndim != 1 or spec.shape != ():
            batch = check_batch(spec, self._action_name, batch)
        else:
            values = batch.tolist()
            if min(values) < direct.low or max(values) > direct.high:
                check_batch(spec, self._action_name, batch)  # raises, naming the environment
        try:
            values = direct.step(self.env, ids, batch)
        except Exception as error:  # noqa: BLE001 - whatever EnvPool raises is its failure
            raise EnvironmentFailure(f'EnvPoolBridge({self.task_id}) failed: {error!r}', error) from error
        states = self._read_direct(direct, values)
        reward = values[direct.reward].astype(np.float64)
        if not math.isfinite(reward.sum()):  # the sum of float32 rewards in float64 overflows never
            bad = int(np.flatnonzero(~np.isfinite(reward))[0])
            raise EnvironmentFailure(f'EnvPoolBridge({self.task_id}): environment {bad} returned the reward '
                                     f'{reward[bad]}; expected a finite number')
        truncated = values[direct.trunc]
        mask = values[direct.done] | truncated
        terminal = np.add(mask, truncated, dtype=np.int8)  # TRUNCATED (2) where truncated, else 1 where done
        info = {name: values[index] for name, index in direct.info}
        info['final_mask'] = mask
        if mask.any():
            info['final_states'] = {name: value.copy() for name, value in states.items()}
            first = self._call(lambda: direct.reset(self.env, np.flatnonzero(mask).astype(np.int32)))
            rows = first[direct.env_id]  # EnvPool's order of the reset rows, not assumed
            for name, value in self._read_direct(direct, first, rows).items():
                states[name][rows] = value
        return BatchStep(states, reward, terminal, info)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.env.close()

    def __repr__(self) -> str:
        return f'EnvPoolBridge({self.task_id!r}, num_envs={self._num_envs})'

    # -- helpers ------------------------------------------------------------------

    def _make(self, seed: int):
        try:
            return self._envpool.make(self.task_id, env_type='gymnasium', num_envs=self._num_envs, seed=seed,
                                      **self._make_kwargs)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ConfigError(f'EnvPoolBridge({self.task_id}): envpool.make refused the arguments '
                              f'{sorted(self._make_kwargs)}: {error}') from error

    def _check_open(self) -> None:
        if self._closed:
            raise ResetNeeded(f'{self!r}: the environment is closed')

    def _call(self, function):
        try:
            return function()
        except Exception as error:  # noqa: BLE001 - whatever EnvPool raises is its failure
            raise EnvironmentFailure(f'EnvPoolBridge({self.task_id}) failed: {error!r}', error) from error

    def _read_direct(self, direct: _Direct, values: list, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        states = {}
        count = self._num_envs if rows is None else len(rows)
        for name, index, convert, text, dtype, shape in direct.states:
            value = values[index]
            if text:
                states[name] = self._decoded(name, value, rows)
                continue
            if convert is not None:
                value = np.asarray(convert(value))
            if value.dtype != dtype:
                value = value.astype(dtype)
            if value.shape != (count,) + shape:
                raise EnvironmentFailure(f'EnvPoolBridge({self.task_id}): state {name!r} has shape '
                                         f'{value.shape}; expected {(count,) + shape}')
            states[name] = value
        return states

    def _decoded(self, name: str, value: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """The text column of a byte-buffer state (a fresh array), decoding only rows whose bytes changed
        (a mission changes when its episode does)."""
        known = self._texts.get(name)
        if known is None:
            if rows is not None:  # not reachable: a full read always comes first
                raise EnvironmentFailure(f'EnvPoolBridge({self.task_id}): {name!r} read before a reset')
            known = [value.copy(), np.empty(len(value), dtype=object), b'']
            self._texts[name] = known
            changed: Any = range(len(value))
        elif rows is None:
            raw = value.tobytes()
            if raw == known[2]:  # the common case: nothing changed, one comparison of bytes
                return known[1].copy()
            changed = np.flatnonzero((_words(value) != _words(known[0])).any(axis=1)).tolist()
        else:
            changed = rows.tolist()
        last, column = known[0], known[1]
        for position, row in zip(changed, changed if rows is None else range(len(rows))):
            column[position] = _decode(value[row], self._cache)
            last[position] = value[row]
        known[2] = last.tobytes()
        return column.copy() if rows is None else column[rows]

    def _read(self, observation: Any, count: int | None = None) -> dict[str, np.ndarray]:
        count = self._num_envs if count is None else count
        states = {}
        for name, value in self._reader(observation).items():
            value = np.asarray(value)
            if name in self._text:
                column = np.empty(len(value), dtype=object)
                for index, row in enumerate(value):
                    column[index] = _decode(row, self._cache)
                states[name] = column
            else:
                spec = self._states[name]
                if value.dtype != spec.dtype:
                    value = value.astype(spec.dtype)
                if value.shape != (count,) + spec.shape:
                    raise EnvironmentFailure(f'EnvPoolBridge({self.task_id}): state {name!r} has shape '
                                             f'{value.shape}; expected {(count,) + spec.shape}')
                states[name] = value
        return states


def _words(rows: np.ndarray) -> np.ndarray:
    """Byte rows viewed as 8-byte words where they divide evenly: the same comparison, 8x fewer elements."""
    if rows.shape[1] % 8 == 0 and rows.flags.c_contiguous:
        return rows.view(np.uint64)
    return rows


class _Direct:
    """Where a step's arrays are in what EnvPool's C++ pool returns (its ``_state_keys`` order), for a
    single-player pool whose actions are ``env_id``, ``players.env_id``, ``action``."""

    def __init__(self, keys: list[str], leaves: Sequence[Any], action_dtype: np.dtype):
        index = {key: position for position, key in enumerate(keys)}
        self.states: list[tuple[Any, ...]] = [(leaf.name, index['obs:' + '.'.join(map(str, leaf.path)) if leaf.path else 'obs'],
                        None if leaf.to_contract.__name__ == '_identity' else leaf.to_contract)
                       for leaf in leaves]
        self.info = [(key[len('info:'):], position) for key, position in index.items()
                     if key.startswith('info:') and not key.startswith('info:players.')]
        self.info.append(('elapsed_step', index['elapsed_step']))
        self.reward, self.done, self.trunc = index['reward'], index['done'], index['trunc']
        self.env_id, self.action_dtype = index['info:env_id'], action_dtype
        self.low, self.high = -math.inf, math.inf  # the action bounds, for a scalar discrete action

    @classmethod
    def of(cls, env: Any, leaves: Sequence[Any]) -> _Direct | None:
        """The layout of `env`'s arrays, or None where the pool is not laid out as expected."""
        try:
            keys = list(env._state_keys)
            if (list(env._action_keys) != ['env_id', 'players.env_id', 'action']
                    or env.config.get('max_num_players', 1) != 1
                    or not all(callable(getattr(env, name, None)) for name in ('_send', '_recv', '_reset'))):
                return None
            action = env.spec.action_array_spec['action']
            direct = cls(keys, leaves, np.dtype(action.dtype))
        except (AttributeError, KeyError, TypeError):
            return None
        # Nested info (a '.' in a name) is a dict in EnvPool's own step: keep its public path there.
        return None if any('.' in name for name, _ in direct.info) else direct

    def step(self, env: Any, ids: np.ndarray, batch: np.ndarray) -> list:
        env._send([ids, ids, batch.astype(self.action_dtype, copy=False)])
        return env._recv()

    def reset(self, env: Any, ids: np.ndarray) -> list:
        env._reset(ids)
        return env._recv()


def check_batch(spec: Any, name: str, batch: np.ndarray) -> np.ndarray:
    """A batch of actions checked against their spec in a few NumPy passes: integers within the
    bounds of a discrete spec, finite numbers within the bounds of a continuous one (MuJoCo)."""
    floating = np.dtype(spec.dtype).kind == 'f'
    if batch.dtype.kind not in ('iuf' if floating else 'iu') or batch.shape[1:] != spec.shape:
        raise SpecError(name, f'a batch of {describe(spec)}', f'dtype {batch.dtype.name}, shape {batch.shape}')
    if floating:
        batch = batch.astype(spec.dtype, copy=False)
        finite = np.isfinite(batch).reshape(len(batch), -1).all(axis=1)
        if not finite.all():
            index = int(np.flatnonzero(~finite)[0])
            raise SpecError(name, f'finite values, {describe(spec)}', f'{batch[index]!r} for environment {index}')
    if not isinstance(spec, dm_specs.BoundedArray):
        return batch.astype(spec.dtype, copy=False)
    if batch.size and batch.min() >= np.max(spec.minimum) and batch.max() <= np.min(spec.maximum):
        return batch.astype(spec.dtype, copy=False)  # all in range: two reductions, not four passes
    bad = (batch < spec.minimum) | (batch > spec.maximum)
    if bad.any():
        index = int(np.flatnonzero(bad.reshape(len(batch), -1).any(axis=1))[0])
        raise SpecError(name, describe(spec), f'{batch[index]!r} for environment {index}')
    return batch.astype(spec.dtype, copy=False)

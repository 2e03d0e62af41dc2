"""`VectorEnvironment`: several contract environments stepped as one batch.

States, rewards and terminals get a leading axis of `num_envs`. A finished
sub-environment is reset in the same call: its last states are kept in
``info['final_states']`` (rows valid where ``info['final_mask']``), so an
agent can bootstrap a TRUNCATED episode from them.

With ``processes=True`` every sub-environment runs in its own worker
process through Gymnasium's `AsyncVectorEnv` (``SAME_STEP`` autoreset) on
`to_gymnasium` of the environment: `envs` must then be factories. A worker
that raises or dies comes out as `EnvironmentFailure` naming it.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, ModalbridgeError, SpecError
from modalbridge.bridges.specs import is_text, to_dict

EnvironmentLike = Union[Environment, Callable[[], Environment]]


def stack_states(states: Sequence[Mapping[str, np.ndarray]], specs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One batched dict from per-environment dicts (text as object arrays)."""
    out = {}
    for name, spec in specs.items():
        if is_text(spec):
            column = np.empty((len(states),) + spec.shape, dtype=object)
            for index, single in enumerate(states):
                value = single[name]
                # a 0-d object array would be stored as an object itself: store its string
                column[index] = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
            out[name] = column
        else:
            out[name] = np.stack([single[name] for single in states])
    return out


def batched_actions(actions: Mapping[str, Any], specs: Mapping[str, Any], num_envs: int) -> dict[str, np.ndarray]:
    """The actions as arrays with a leading axis of `num_envs`; SpecError for a missing or
    unknown key or a wrong batch axis (values are checked by each environment)."""
    if not isinstance(actions, Mapping):
        raise SpecError('actions', f'a dict of batched actions {list(specs)}', type(actions).__name__)
    for name in actions:
        if name not in specs:
            raise SpecError(name, f'the action keys {list(specs)}', f'unknown {name!r}')
    batch = {}
    for name, spec in specs.items():
        if name not in actions:
            raise SpecError(name, f'the action keys {list(specs)}', f'missing {name!r}')
        value = np.asarray(actions[name], dtype=object if is_text(spec) else None)
        if value.shape[:1] != (num_envs,):
            raise SpecError(name, f'a leading batch axis of {num_envs}', f'shape {value.shape}')
        batch[name] = value
    return batch


class VectorEnvironment:
    """A batch of environments with the same specs.

    >>> envs = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(4)])
    >>> states = envs.reset(seed=0)              # states['state'].shape == (4, 4)
    >>> step = envs.execute({'action': np.zeros(4, np.int64)})
    >>> step.reward.shape, step.terminal.shape   # ((4,), (4,))

    `envs` are environments or zero-argument factories. Sub-environment `i`
    is seeded with ``seed + i``. `max_episode_timesteps` (settable) cuts
    every sub-episode at that length as TRUNCATED.
    """

    def __init__(self, envs: Sequence[EnvironmentLike], max_episode_timesteps: int | None = None,
                 processes: bool = False):
        if not isinstance(envs, (list, tuple)) or not envs:
            raise ConfigError('VectorEnvironment: expected a non-empty list of environments or factories')
        self._workers = None
        if processes:
            if any(isinstance(env, Environment) or not callable(env) for env in envs):
                raise ConfigError('VectorEnvironment: processes=True needs zero-argument factories, '
                                  'not environments (each worker builds its own)')
            if max_episode_timesteps is not None:
                raise ConfigError('VectorEnvironment: max_episode_timesteps is not supported with processes=True; '
                                  'give the environments their own limit')
            probe = envs[0]()
            self.envs = [probe]
            self._workers = _Workers(list(envs), probe)
            self.max_episode_timesteps = None
            return
        self.envs = [env if isinstance(env, Environment) else env() for env in envs]
        for index, env in enumerate(self.envs):
            if not isinstance(env, Environment):
                raise ConfigError(f'VectorEnvironment: envs[{index}] is a {type(env).__name__}, not an Environment')
        first = self.envs[0]
        for index, env in enumerate(self.envs[1:], 1):
            for what in ('states', 'actions'):
                mine = {k: to_dict(v) for k, v in getattr(env, what).items()}
                theirs = {k: to_dict(v) for k, v in getattr(first, what).items()}
                if mine != theirs:
                    raise ConfigError(f'VectorEnvironment: envs[{index}].{what} differ from envs[0].{what}')
        self.max_episode_timesteps = max_episode_timesteps
        self._lengths = np.zeros(len(self.envs), np.int64)

    @property
    def states(self):
        return self.envs[0].states

    @property
    def actions(self):
        return self.envs[0].actions

    @property
    def num_envs(self) -> int:
        return self._workers.num_envs if self._workers is not None else len(self.envs)

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        if self._workers is not None:
            return self._workers.reset(seed)
        self._lengths[:] = 0
        return stack_states([self._call(i, env.reset, None if seed is None else seed + i)
                             for i, env in enumerate(self.envs)], self.states)

    def execute(self, actions: Mapping[str, Any]) -> Step:
        """Steps every sub-environment with its row of the batched actions."""
        if self._workers is not None:
            return self._workers.execute(actions)
        rows = self._rows(actions)
        states, finals = [], []
        rewards = np.zeros(self.num_envs, np.float64)
        terminals = np.zeros(self.num_envs, np.int8)
        mask = np.zeros(self.num_envs, bool)
        infos = []
        for i, env in enumerate(self.envs):
            step = self._call(i, env.execute, rows[i])
            self._lengths[i] += 1
            terminal = step.terminal
            if (terminal == Terminal.NONE and self.max_episode_timesteps is not None
                    and self._lengths[i] >= self.max_episode_timesteps):
                terminal = Terminal.TRUNCATED
            rewards[i], terminals[i] = step.reward, terminal
            infos.append(step.info)
            finals.append(step.states)
            if terminal != Terminal.NONE:
                mask[i] = True
                self._lengths[i] = 0
                states.append(self._call(i, env.reset, None))
            else:
                states.append(step.states)
        info = dict(final_mask=mask, infos=infos)
        if mask.any():
            info['final_states'] = stack_states(finals, self.states)
        return Step(stack_states(states, self.states), rewards, terminals, info)

    def close(self) -> None:
        for env in self.envs:
            env.close()
        if self._workers is not None:
            self._workers.close()

    def __enter__(self) -> 'VectorEnvironment':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _rows(self, actions: Mapping[str, Any]) -> list[dict[str, Any]]:
        batch = batched_actions(actions, self.actions, self.num_envs)
        return [{name: value[i] for name, value in batch.items()} for i in range(self.num_envs)]

    def _call(self, index: int, method: Callable, argument: Any) -> Any:
        try:
            return method(argument)
        except ModalbridgeError as error:
            if isinstance(error, EnvironmentFailure):
                raise EnvironmentFailure(f'environment {index}: {error}', error.original) from error
            raise


def _gym_env(factory: Callable[[], Environment]):
    from modalbridge.bridges.to_gymnasium import to_gymnasium
    return to_gymnasium(factory())


class _Workers:
    """Sub-environments in worker processes: Gymnasium's AsyncVectorEnv on `to_gymnasium`."""

    def __init__(self, factories: list, probe: Environment):
        import gymnasium
        from gymnasium.vector import AutoresetMode

        from modalbridge.bridges import names
        from modalbridge.bridges.to_gymnasium import spaces_of
        self.num_envs, self.specs = len(factories), probe.states
        _, _, self._from_gym = spaces_of(dict(probe.states), names.STATE)
        self._actions = dict(probe.actions)
        self._single_action = list(probe.actions) == [names.ACTION]
        self._vector = gymnasium.vector.AsyncVectorEnv(
            [functools.partial(_gym_env, factory) for factory in factories],
            autoreset_mode=AutoresetMode.SAME_STEP, shared_memory=False)

    def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - a worker failure of any kind
            processes, deadline = self._vector.processes, time.monotonic() + 2.0
            dead = [i for i, process in enumerate(processes) if not process.is_alive()]
            while not dead and time.monotonic() < deadline:  # a closed pipe can come just before the exit
                time.sleep(0.05)
                dead = [i for i, process in enumerate(processes) if not process.is_alive()]
            which = f'worker {dead[0]}' if dead else 'a worker'
            code = f' (exit code {self._vector.processes[dead[0]].exitcode})' if dead else ''
            raise EnvironmentFailure(f'VectorEnvironment: {which} failed{code}: {error!r}', error) from error

    def reset(self, seed: int | None) -> dict[str, np.ndarray]:
        seeds = None if seed is None else [seed + i for i in range(self.num_envs)]
        observation, _ = self._guard(lambda: self._vector.reset(seed=seeds))
        return self._from_gym(observation)

    def _to_gym(self, actions: Mapping[str, Any]) -> Any:
        batch = batched_actions(actions, self._actions, self.num_envs)
        for name, spec in self._actions.items():
            if is_text(spec):
                batch[name] = tuple(str(item) for item in batch[name])
            elif batch[name].dtype == np.bool_:
                batch[name] = batch[name].astype(np.int64 if spec.shape == () else np.int8)
        return batch[next(iter(batch))] if self._single_action else batch

    def execute(self, actions: Mapping[str, Any]) -> Step:
        batch = self._to_gym(actions)
        observation, reward, terminated, truncated, info = self._guard(lambda: self._vector.step(batch))
        terminal = np.where(terminated, Terminal.TERMINATED, np.where(truncated, Terminal.TRUNCATED,
                                                                        Terminal.NONE)).astype(np.int8)
        mask = np.logical_or(terminated, truncated)
        states = self._from_gym(observation)
        out = dict(final_mask=mask, infos=info)
        if mask.any():
            finals = [self._from_gym(info['final_obs'][i]) if mask[i] else
                      {name: value[i] for name, value in states.items()} for i in range(self.num_envs)]
            out['final_states'] = stack_states(finals, self.specs)
        return Step(states, np.asarray(reward, np.float64), terminal, out)

    def close(self) -> None:
        self._vector.close(terminate=True)

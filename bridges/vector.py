"""`VectorEnvironment`: several contract environments stepped as one batch.

States, rewards and terminals get a leading axis of `num_envs` (a
`BatchStep`). A finished sub-environment is reset in the same call: its last
states are kept in ``info['final_states']`` (rows valid where
``info['final_mask']``), so an agent can bootstrap a TRUNCATED episode from
them; ``info['infos']`` lists each sub-environment's own info.

One switch, `backend`, picks where the environments run: ``'local'``
(in-process), ``'processes'`` (worker processes, each holding a share of the
environments; ``processes=True`` says the same) or ``'ray'`` (Ray actors,
placed anywhere in a Ray cluster; `modalbridge.bridges.ray_workers`). Away
from ``'local'``, `envs` must be factories. Every backend validates the
whole batch of actions in this process before any environment steps, and
raises the same errors. A worker that fails, dies or does not answer within
`timeout` seconds is an `EnvironmentFailure` naming it (a Ray worker is
first restarted up to `max_restarts` times, its in-flight step dropped and
reported).
"""

from __future__ import annotations

import os
import types
from typing import Any, Callable, Mapping, Sequence, Union, cast

import numpy as np

from modalbridge.bridges import arguments
from modalbridge.bridges.batch import (BatchedEnvironment, BatchStep, BatchStrategy, LocalBatch, action_validators,
                                       batch_rows, checked_actions)
from modalbridge.bridges.environment import Environment
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, ResetNeeded
from modalbridge.bridges.specs import to_dict

EnvironmentLike = Union[Environment, Callable[[], Environment]]

__all__ = ['BatchStep', 'VectorEnvironment', 'batch_rows']

EXECUTE_BEFORE_RESET = 'VectorEnvironment: execute() called before reset()'
RESET_AFTER_FAILURE = 'VectorEnvironment: the last {method}() did not complete ({error}); call reset()'
CLOSED = 'VectorEnvironment: closed'
INTERRUPTED = {method: RESET_AFTER_FAILURE.format(method=method, error='interrupted') for method in ('reset', 'execute')}
BACKENDS = ('local', 'processes', 'ray')


class VectorEnvironment(BatchedEnvironment):
    """A batch of environments with the same specs.

    >>> from modalbridge.bridges import GymBridge
    >>> envs = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(4)])
    >>> states = envs.reset(seed=0)
    >>> states['state'].shape
    (4, 4)
    >>> step = envs.execute({'action': np.zeros(4, np.int64)})
    >>> step.reward.shape, step.terminal.shape
    ((4,), (4,))
    >>> envs.close()

    `envs` are environments or zero-argument factories. Sub-environment `i`
    is seeded with ``seed + i``. `max_episode_timesteps` (settable, also
    under ``processes=True``) sets every sub-environment's own limit, the
    one time-limit mechanism (`Environment.max_episode_timesteps`).
    `backend` is ``'local'``, ``'processes'`` or ``'ray'``; there,
    `workers` processes or Ray actors (default: one per CPU core, at most
    one per environment) each step a share of the environments; `timeout`
    bounds every wait for them, in seconds; `max_restarts` bounds how many
    times a dead Ray worker is restarted. ``parent_share=True`` (processes
    only) steps the first share of the environments in this process while
    the `workers` step theirs (default `workers`: one per core but one), so
    no core waits on the pipes: on 2 cores, one worker plus this process. `preprocessing` (a NumPy stack
    declaration, as for `Preprocessed`) preprocesses every sub-environment's
    states where it runs (in its worker), so `states` are the stack's output
    specs.

    After an error raised while stepping, call `reset()`; after a worker
    failure, a timeout or an interruption the environment is closed and
    says so.
    """

    def __init__(self, envs: Sequence[EnvironmentLike], max_episode_timesteps: int | None = None,
                 processes: bool = False, workers: int | None = None, timeout: float = 60.0,
                 backend: str | None = None, max_restarts: int = 2, preprocessing: Any = None,
                 parent_share: bool = False):
        if not isinstance(envs, (list, tuple)) or not envs:
            raise ConfigError('VectorEnvironment: expected a non-empty list of environments or factories')
        if preprocessing is not None:
            from modalbridge.preprocess.stack import Stack
            if isinstance(preprocessing, Stack):
                raise ConfigError('VectorEnvironment: preprocessing= takes a declaration (a list of '
                                  'preprocessor dicts), not a Stack: each environment builds its own')
            envs = [_preprocess(env, preprocessing) if isinstance(env, Environment) else
                    Preprocessing(env, preprocessing) if callable(env) else env for env in envs]
        processes = arguments.boolean('VectorEnvironment: processes', processes)
        if backend is None:
            backend = 'processes' if processes else 'local'
        backend = arguments.choice('VectorEnvironment: backend', backend, BACKENDS)
        if processes and backend != 'processes':
            raise ConfigError(f'VectorEnvironment: processes=True contradicts backend={backend!r}; '
                              'give backend= alone')
        self.backend = backend
        parent_share = arguments.boolean('VectorEnvironment: parent_share', parent_share)
        if parent_share and backend != 'processes':
            raise ConfigError(f"VectorEnvironment: parent_share=True needs backend='processes'; "
                              f'received backend={backend!r}')
        self.timeout = arguments.number('VectorEnvironment: timeout', timeout, minimum=0, inclusive=False)
        max_restarts = arguments.integer('VectorEnvironment: max_restarts', max_restarts, minimum=0)
        self._workers: Any = None
        self._failure: str | None = None
        self._needs_reset = True
        self._states: Mapping[str, Any]
        self._actions: Mapping[str, Any]
        if backend != 'local':
            if any(isinstance(env, Environment) or not callable(env) for env in envs):
                raise ConfigError(f'VectorEnvironment: {"processes=True" if backend == "processes" else "backend=" + repr(backend)} '
                                  'needs zero-argument factories, not environments (each worker builds its own)')
            if parent_share and len(envs) < 2:
                raise ConfigError('VectorEnvironment: parent_share=True needs at least 2 environments '
                                  f'(one share here, one in a worker); received {len(envs)}')
            count = (max(1, min(len(envs), os.cpu_count() or 1) - parent_share) if workers is None else
                     arguments.integer('VectorEnvironment: workers', workers, minimum=1,
                                       maximum=len(envs) - parent_share))
            factories = cast('list[Callable[[], Environment]]', list(envs))  # checked just above
            if backend == 'ray':
                from modalbridge.bridges.ray_workers import RayWorkers
                self._workers = RayWorkers(factories, count, self.timeout, max_restarts)
            else:
                from modalbridge.bridges.workers import Workers
                self._workers = Workers(factories, count, self.timeout, parent_share)
            self.envs: list[Environment] = []
            self._states = types.MappingProxyType(self._workers.states)
            self._actions = types.MappingProxyType(self._workers.actions)
            self._backend: BatchStrategy = self._workers
        else:
            if workers is not None:
                raise ConfigError("VectorEnvironment: workers= needs processes=True (backend='processes') "
                                  "or backend='ray'")
            self.envs = [env if isinstance(env, Environment) else env() for env in envs]
            for index, env in enumerate(self.envs):
                if not isinstance(env, Environment):
                    raise ConfigError(f'VectorEnvironment: envs[{index}] is a {type(env).__name__}, '
                                      'not an Environment')
            first = self.envs[0]
            for index, env in enumerate(self.envs[1:], 1):
                for what in ('states', 'actions'):
                    mine = {k: to_dict(v) for k, v in getattr(env, what).items()}
                    theirs = {k: to_dict(v) for k, v in getattr(first, what).items()}
                    if mine != theirs:
                        raise ConfigError(f'VectorEnvironment: envs[{index}].{what} differ from envs[0].{what}')
            self._states, self._actions = first.states, first.actions
            self._backend = LocalBatch(self.envs)
        self._num_envs = len(envs)
        self._validators = action_validators(self._actions)
        self._closed = False
        if max_episode_timesteps is not None:
            self.max_episode_timesteps = max_episode_timesteps

    @property
    def states(self) -> Mapping[str, Any]:
        """The state specs of one sub-environment (batched values get a leading axis)."""
        return self._states

    @property
    def actions(self) -> Mapping[str, Any]:
        """The action specs of one sub-environment (batched values get a leading axis)."""
        return self._actions

    @property
    def num_envs(self) -> int:
        return self._num_envs

    @property
    def max_episode_timesteps(self) -> int | None:
        """The sub-environments' episode limit (that of environment 0); setting it sets every one's."""
        return self._backend.max_episode_timesteps

    @max_episode_timesteps.setter
    def max_episode_timesteps(self, limit: int | None) -> None:
        if limit is not None:
            try:
                limit = arguments.integer('max_episode_timesteps', limit, minimum=1)
            except ConfigError:
                raise ConfigError('max_episode_timesteps: expected a positive int or None; '
                                  f'received {limit!r}') from None
        self._check_open()
        self._backend.set_max_episode_timesteps(limit)

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        """Resets every sub-environment (environment `i` with ``seed + i``); returns batched states."""
        self._check_open()
        if seed is not None:
            seed = arguments.integer('seed', seed, minimum=0)
        seeds = [None if seed is None else seed + i for i in range(self._num_envs)]
        self._needs_reset = True
        self._failure = INTERRUPTED['reset']
        try:
            states = self._backend.reset(seeds)
        except EnvironmentFailure as error:
            self._failure = RESET_AFTER_FAILURE.format(method='reset', error=error)
            raise
        self._needs_reset = False
        return states

    def execute(self, actions: Mapping[str, Any]) -> BatchStep:
        """Steps every sub-environment with its row of the batched actions.

        The whole batch is validated first: a `SpecError` leaves every
        sub-environment untouched.
        """
        self._check_open()
        if self._needs_reset:
            raise ResetNeeded(self._failure or EXECUTE_BEFORE_RESET)
        rows, columns = checked_actions(actions, self._validators, self._num_envs)
        self._needs_reset = True
        self._failure = INTERRUPTED['execute']
        try:
            step = self._backend.execute(rows, columns)
        except EnvironmentFailure as error:
            self._failure = RESET_AFTER_FAILURE.format(method='execute', error=error)
            raise
        self._needs_reset = False
        return step

    def close(self) -> None:
        """Closes every sub-environment (and stops the workers); calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> 'VectorEnvironment':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = (f', backend={self.backend!r}, workers={len(self._workers.shares)}' if self._workers is not None
                 else '')
        return (f'VectorEnvironment({self._num_envs} x states={list(self._states)}, '
                f'actions={list(self._actions)}{where})')

    def _check_open(self) -> None:
        if self._workers is not None and self._workers.failure is not None and not self._closed:
            raise EnvironmentFailure(self._workers.failure)
        if self._closed:
            raise ResetNeeded(CLOSED)


def _preprocess(env: Environment, declaration: Any) -> Environment:
    from modalbridge.preprocess.environment import Preprocessed
    return Preprocessed(env, declaration)


class Preprocessing:
    """A factory of `factory()` wrapped in `Preprocessed` with `declaration` (picklable: it goes to workers).

    >>> from modalbridge.bridges import GymBridge
    >>> make = Preprocessing(lambda: GymBridge('CartPole-v1'), [dict(type='sequence', length=2)])
    >>> make().states['state'].shape
    (8,)
    """

    def __init__(self, factory: Callable[[], Environment], declaration: Any):
        self.factory, self.declaration = factory, declaration

    def __call__(self) -> Environment:
        env = self.factory()
        if not isinstance(env, Environment):
            return env  # refused, naming the environment, where the factory is called
        return _preprocess(env, self.declaration)

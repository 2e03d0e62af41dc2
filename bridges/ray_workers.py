"""Ray rollout workers for `VectorEnvironment(factories, backend='ray', workers=N)`.

Each worker is a Ray actor holding a consecutive share of the environments
(built from their factories on whatever node Ray places it) and steps them
with the same `LocalBatch` as the other strategies, so every strategy returns
the same `BatchStep` with the same errors. One step moves one object per
worker through Ray's object store (the share's `BatchStep`), never one per
environment.

`ray` is imported only here, and only when a Ray strategy is built: the rest
of `modalbridge.bridges` runs without it (``pip install 'modalbridge[ray]'``).
If Ray is not initialized, a local instance with ``num_cpus=workers`` is
started (it stops when this process exits); to use a cluster, call
``ray.init(address=...)`` first.

A worker whose actor dies (its node lost, its process killed) is restarted by
Ray up to `max_restarts` times: the share's in-flight step is dropped, its
environments start new episodes, and the drop is reported (a
`RuntimeWarning` naming the worker, and ``info['infos'][i]['dropped']`` on
each of its rows, which come back as TRUNCATED with the states seen before
the lost step as their final states). One death past the bound is an
`EnvironmentFailure` naming the worker.
"""

from __future__ import annotations

import os
import time
import warnings
import weakref
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from modalbridge.bridges.batch import BatchStep, LocalBatch, concatenate, stacked
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure
from modalbridge.bridges.workers import build_share, portable, specs_of, split

START_TIMEOUT = 60.0  # seconds an actor may take to start, whatever the timeout= of the steps
RAY_MISSING = "VectorEnvironment: backend='ray' needs the ray package (pip install 'modalbridge[ray]')"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


class RolloutWorker:
    """What runs inside one Ray actor: a share of the environments, stepped by a `LocalBatch`.

    Every method answers ``('ok', value)`` or ``('error', exception)``, so an
    environment's error comes back as itself rather than as a Ray task
    error; only the death of the actor is a Ray error. It is a plain class
    (usable without Ray, as here); `RayWorkers` makes it an actor.

    >>> from modalbridge.bridges import GymBridge
    >>> worker = RolloutWorker([lambda: GymBridge('CartPole-v1')] * 2, first=0)
    >>> status, states = worker.reset([0, 1])
    >>> status, states['state'].shape
    ('ok', (2, 4))
    """

    def __init__(self, factories: Sequence[Callable[[], Environment]], first: int, limit: int | None = None):
        self.first = first
        self.error: BaseException | None = None
        self.batch: LocalBatch  # unset if building failed: then describe() reports the error, nothing else runs
        try:
            self.batch = LocalBatch(build_share(factories, first), first)
            if limit is not None:
                self.batch.set_max_episode_timesteps(limit)
        except Exception as error:  # noqa: BLE001 - reported by describe(): a constructor error would kill the actor
            self.error = error

    def describe(self) -> tuple[str, Any]:
        """The specs (as Spec objects and as dicts), the episode limit, the process id and the node."""
        if self.error is not None:
            return 'error', portable(self.error)
        env = self.batch.envs[0]
        node = None
        try:
            import ray
            node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        except ImportError:
            pass
        return 'ok', dict(states=dict(env.states), actions=dict(env.actions), specs=specs_of(env),
                          limit=self.batch.max_episode_timesteps, pid=os.getpid(), node=node)

    def set_max_episode_timesteps(self, limit: int | None) -> tuple[str, Any]:
        return self._answer(self.batch.set_max_episode_timesteps, limit)

    def reset(self, seeds: Sequence[int | None]) -> tuple[str, Any]:
        return self._answer(self.batch.reset, seeds)

    def execute(self, batch: Mapping[str, np.ndarray]) -> tuple[str, Any]:
        return self._answer(lambda columns: self.batch.execute(columns=columns), batch)  # validated by the driver

    def close(self) -> tuple[str, Any]:
        return self._answer(self.batch.close, None) if self.batch is not None else ('ok', None)

    def _answer(self, method: Callable[[Any], Any], argument: Any) -> tuple[str, Any]:
        if self.error is not None:
            return 'error', portable(self.error)
        try:
            return 'ok', method(argument)
        except Exception as error:  # noqa: BLE001 - reported to the driver
            return 'error', portable(error)


def _kill(ray: Any, actors: Sequence[Any]) -> None:
    if not ray.is_initialized():
        return
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


class RayWorkers:
    """`factories` split over `workers` Ray actors (consecutive shares); a `BatchStrategy`.

    `timeout` bounds every wait for the actors, in seconds (their start
    may take up to `START_TIMEOUT` if that is longer); `max_restarts` bounds how many times each actor is restarted
    after it dies. ``pids`` and ``nodes`` say where the actors run.
    """

    def __init__(self, factories: Sequence[Callable[[], Environment]], workers: int, timeout: float,
                 max_restarts: int = 2):
        ray = self.ray = _ray()
        if not ray.is_initialized():
            ray.init(num_cpus=workers, include_dashboard=False, logging_level='WARNING')
        self.num_envs, self.timeout, self.max_restarts = len(factories), timeout, max_restarts
        self.failure: str | None = None
        self.shares = split(len(factories), workers)
        self.restarts = [0] * workers
        self.max_episode_timesteps: int | None = None
        self._last: dict[str, np.ndarray] | None = None
        actor = ray.remote(RolloutWorker).options(num_cpus=1, max_restarts=max_restarts, max_task_retries=0,
                                                  scheduling_strategy='SPREAD')
        self.actors = [actor.remote([factories[i] for i in share], share.start) for share in self.shares]
        self._finalizer = weakref.finalize(self, _kill, ray, list(self.actors))
        descriptions = self._call('describe', [()] * workers, 'building its environments')
        first = descriptions[0]
        self.states, self.actions = first['states'], first['actions']
        self.max_episode_timesteps = first['limit']
        self.pids = [d['pid'] for d in descriptions]
        self.nodes = [d['node'] for d in descriptions]
        for index, description in enumerate(descriptions):
            if description['specs'] != first['specs']:
                self.fail(f'VectorEnvironment: worker {index}\'s environments have states or actions that differ '
                          'from those of worker 0')

    def reset(self, seeds: Sequence[int | None]) -> dict[str, np.ndarray]:
        parts = self._call('reset', [([seeds[i] for i in share],) for share in self.shares], 'reset')
        self._last = _concatenate_states(parts)
        return self._last

    def execute(self, rows: Sequence[Mapping[str, Any]] | None = None,
                columns: Mapping[str, np.ndarray] | None = None) -> BatchStep:
        batch = stacked(rows, columns)  # one array a key: cheap to send
        parts = self._call('execute', [({name: value[share.start:share.stop] for name, value in batch.items()},)
                                       for share in self.shares], 'execute')
        step = concatenate(parts)
        self._last = step.states
        return step

    def set_max_episode_timesteps(self, limit: int | None) -> None:
        self._call('set_max_episode_timesteps', [(limit,)] * len(self.shares), 'set_max_episode_timesteps')
        self.max_episode_timesteps = limit

    def close(self) -> None:
        if self._finalizer.alive and self.failure is None:
            try:
                self._call('close', [()] * len(self.shares), 'close')
            except EnvironmentFailure:
                pass  # closing anyway
        self._finalizer()
        if self.failure is None:
            self.failure = 'VectorEnvironment: closed'

    def fail(self, message: str, original: BaseException | None = None, raise_: bool = True) -> None:
        """Kills every actor; this and every later call raise EnvironmentFailure(message)."""
        self.failure = f'{message}; the VectorEnvironment is closed, create a new one'
        self._finalizer()
        if raise_:
            raise EnvironmentFailure(self.failure, original)

    def _call(self, method: str, arguments: Sequence[tuple], what: str) -> list[Any]:
        """Calls `method` on every actor; restarts dead ones (within the bound); raises the first error."""
        if self.failure is not None:
            raise EnvironmentFailure(self.failure)
        ray = self.ray
        try:
            refs = [getattr(actor, method).remote(*argument) for actor, argument in zip(self.actors, arguments)]
            # starting an actor (a process, its imports, maybe a node) may take longer than a step
            timeout = max(self.timeout, START_TIMEOUT) if what == 'building its environments' else self.timeout
            try:
                results = ray.get(refs, timeout=timeout)  # the common case in one call
            except ray.exceptions.GetTimeoutError:
                _, pending = ray.wait(refs, num_returns=len(refs), timeout=0)
                index = refs.index(pending[0]) if pending else 0
                self.fail(f'VectorEnvironment: Ray worker {index} (environments {_span(self.shares[index])}) '
                          f'did not answer {what} within {timeout:g} s (the timeout= of VectorEnvironment)')
            except ray.exceptions.RayActorError:
                results = [self._get(i, ref, timeout, what) for i, ref in enumerate(refs)]  # which one died, and what the others said
            answers: list[Any] = []
            errors = []
            for index, result in enumerate(results):
                if isinstance(result, ray.exceptions.RayActorError):
                    status, value = 'ok', self._recover(index, what, result)
                else:
                    status, value = result
                if status == 'error':
                    errors.append((index, value))
                answers.append(value)
        except BaseException as error:
            if self.failure is None and not isinstance(error, (EnvironmentFailure, Exception)):
                # Ctrl-C (or any interruption) while waiting: the actors' results are lost
                self.fail(f'VectorEnvironment: interrupted by {type(error).__name__} during {what}', raise_=False)
            raise
        if errors:
            index, problem = errors[0]
            if what == 'building its environments':
                self.fail(f'VectorEnvironment: Ray worker {index} could not build its environments: {problem}', problem)
            raise EnvironmentFailure(f'VectorEnvironment: worker {index}, {problem}',
                                     getattr(problem, 'original', None) or problem)
        return answers

    def _get(self, index: int, ref: Any, timeout: float, what: str) -> Any:
        """Actor `index`'s answer, or the error saying it died."""
        try:
            return self.ray.get(ref, timeout=timeout)
        except self.ray.exceptions.RayActorError as error:
            return error
        except self.ray.exceptions.GetTimeoutError:
            self.fail(f'VectorEnvironment: Ray worker {index} (environments {_span(self.shares[index])}) '
                      f'did not answer {what} within {timeout:g} s (the timeout= of VectorEnvironment)')

    def _recover(self, index: int, what: str, error: BaseException) -> Any:
        """After actor `index` died during `what`: the stand-in answer once Ray restarted it, or a failure."""
        self.restarts[index] += 1
        name = f'Ray worker {index} (environments {_span(self.shares[index])})'
        if what == 'building its environments':  # e.g. its factories cannot be unpickled there
            self.fail(f'VectorEnvironment: {name} could not be started: {_first_lines(error)}', error)
        if self.restarts[index] > self.max_restarts or what == 'close':
            self.fail(f'VectorEnvironment: {name} died during {what} '
                      f'({self.restarts[index] - 1} restarts, max_restarts={self.max_restarts}): '
                      f'{type(error).__name__}', error)
        message = (f'{name} died during {what} and was restarted (restart {self.restarts[index]} of '
                   f'max_restarts={self.max_restarts}); ')
        share = self.shares[index]
        actor, ray = self.actors[index], self.ray
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                (limit_status, limit_error), (status, states) = ray.get(
                    [actor.set_max_episode_timesteps.remote(self.max_episode_timesteps),
                     actor.reset.remote([None] * len(share))], timeout=max(0.0, deadline - time.monotonic()))
                break
            except ray.exceptions.ActorUnavailableError:  # still restarting
                if time.monotonic() > deadline:
                    self.fail(f'VectorEnvironment: {name} died during {what} and did not restart within '
                              f'{self.timeout:g} s')
                time.sleep(0.05)
            except ray.exceptions.RayActorError as again:
                self.fail(f'VectorEnvironment: {name} died during {what} and could not be restarted: '
                          f'{type(again).__name__}', again)
            except ray.exceptions.GetTimeoutError:
                self.fail(f'VectorEnvironment: {name} died during {what} and did not restart within '
                          f'{self.timeout:g} s')
        if limit_status == 'error' or status == 'error':
            problem = limit_error if limit_status == 'error' else states
            self.fail(f'VectorEnvironment: {name} was restarted but failed to reset: {problem}', problem)
        if what == 'set_max_episode_timesteps':
            return None
        if what == 'reset':
            warnings.warn(message + 'its environments were reset without a seed', RuntimeWarning, stacklevel=4)
            return states
        message += 'its in-flight step was dropped and its environments started new episodes'
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        count = len(share)
        last = {name: value[share.start:share.stop] for name, value in (self._last or states).items()}
        return BatchStep(states, np.zeros(count, np.float64), np.full(count, Terminal.TRUNCATED, np.int8),
                         dict(final_mask=np.ones(count, bool), final_states=last,
                              infos=[dict(dropped=message) for _ in range(count)]))


def _first_lines(error: BaseException, limit: int = 600) -> str:
    """The gist of a Ray error (its text repeats the remote traceback at length)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and not set(line.strip()) <= set('^~')]
    gist = ' | '.join(line for line in lines if 'Error' in line or 'error' in line)[:limit]
    return f'{type(error).__name__}: {gist or lines[0][:limit] if lines else ""}'


def _concatenate_states(parts: Sequence[dict]) -> dict:
    return parts[0] if len(parts) == 1 else {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _span(share: range) -> str:
    return f'{share.start}' if len(share) == 1 else f'{share.start}-{share.stop - 1}'

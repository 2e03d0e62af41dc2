"""Worker processes for `VectorEnvironment(processes=True)`.

Each worker builds its share of the environments from their factories and
steps them with the same `LocalBatch` as in-process, so both modes return
the same `BatchStep`. The parent never waits longer than `timeout` for an
answer: a worker that hangs, dies or cannot be reached is an
`EnvironmentFailure` naming it, after which every worker is stopped and the
`Workers` refuse further calls with that message. Workers ignore Ctrl-C
(the parent decides) and exit when their parent dies.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import select
import signal
import sys
import threading
import time
import weakref
from typing import Any, Callable, Mapping, Sequence, cast

import numpy as np

from modalbridge.bridges.batch import BatchStep, LocalBatch, stacked
from modalbridge.bridges.environment import Environment
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure
from modalbridge.bridges.memory import retain_freed_memory
from modalbridge.bridges.specs import is_text, to_dict

PR_SET_PDEATHSIG = 1
LONGEST_POLL_MS = 2**31 - 1  # poll()'s timeout is a C int


def exit_with_parent(parent: int, by_prctl: bool) -> None:
    """Makes this process exit when `parent` dies (Linux: the kernel; elsewhere: a watcher thread)."""
    if by_prctl and sys.platform.startswith('linux'):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:  # died before we could ask
        os._exit(1)
    threading.Thread(target=watch, name='modalbridge-parent-watcher', daemon=True).start()


def portable(error: BaseException) -> BaseException:
    """`error` if it survives pickling, else an EnvironmentFailure carrying its description."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - anything unpicklable is described instead
        original = getattr(error, 'original', None)
        return EnvironmentFailure(str(error) if isinstance(error, EnvironmentFailure) else
                                  f'{type(error).__name__}: {error}' + (f' ({original!r})' if original else ''))


def specs_of(env: Environment) -> tuple[dict, dict]:
    """An environment's state and action specs in their short form (comparable across processes)."""
    return {k: to_dict(v) for k, v in env.states.items()}, {k: to_dict(v) for k, v in env.actions.items()}


def split(count: int, workers: int) -> list[range]:
    """The consecutive shares of `count` environments among `workers`, the first ones one larger."""
    size, extra = divmod(count, workers)
    shares, start = [], 0
    for index in range(workers):
        stop = start + size + (index < extra)
        shares.append(range(start, stop))
        start = stop
    return shares


def build_share(factories: Sequence[Callable[[], Environment]], first: int) -> list[Environment]:
    """The environments of one worker's share (global indices from `first`), all with the same specs."""
    envs: list[Environment] = []
    for offset, factory in enumerate(factories):
        env = factory()
        if not isinstance(env, Environment):
            raise EnvironmentFailure(f'environment {first + offset}: the factory returned a '
                                     f'{type(env).__name__}, not an Environment')
        if envs and specs_of(env) != specs_of(envs[0]):
            raise EnvironmentFailure(f'environment {first + offset}: its states or actions differ from '
                                     f'those of environment {first}')
        envs.append(env)
    return envs


class SharedArrays:
    """Named NumPy arrays over shared memory (``layout``: name -> (shape, dtype)).

    Given to a worker process as it starts (forked or spawned), it arrives
    as views of the same memory, rebuilt there, never copied.

    >>> arrays = SharedArrays(dict(x=((2, 3), np.dtype(np.float32))))
    >>> arrays.arrays['x'][1] = 1.0
    >>> arrays.arrays['x'].tolist()
    [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, layout: Mapping[str, tuple[tuple[int, ...], np.dtype]], context: Any = multiprocessing):
        self.layout = dict(layout)
        self.blocks = {name: context.RawArray('B', max(1, int(np.prod(shape)) * dtype.itemsize))
                       for name, (shape, dtype) in self.layout.items()}
        self._attach()

    def _attach(self) -> None:
        self.arrays = {name: np.frombuffer(self.blocks[name], dtype, int(np.prod(shape))).reshape(shape)
                       for name, (shape, dtype) in self.layout.items()}

    def __getstate__(self) -> dict:
        return dict(layout=self.layout, blocks=self.blocks)  # views are rebuilt, never pickled

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._attach()


class _Shared:
    """The batch's numeric states, final states, rewards and terminals in shared memory.

    Created before the workers start and inherited by them: a worker writes
    its rows, the parent copies the whole batch out in one go per key, so
    observations never go through a pipe and a step's answer is only its
    infos (and text states, which are small).
    """

    def __init__(self, specs: Mapping[str, Any], num_envs: int):
        self.order = list(specs)
        self.layout = {name: ((num_envs,) + spec.shape, spec.dtype) for name, spec in specs.items()
                       if not is_text(spec)}
        self._states, self._finals = SharedArrays(self.layout), SharedArrays(self.layout)
        self._outcomes = SharedArrays(dict(reward=((num_envs,), np.dtype(np.float64)),
                                           terminal=((num_envs,), np.dtype(np.int8))))

    @property
    def states(self) -> dict[str, np.ndarray]:
        return self._states.arrays

    @property
    def finals(self) -> dict[str, np.ndarray]:
        return self._finals.arrays

    @property
    def reward(self) -> np.ndarray:
        return self._outcomes.arrays['reward']

    @property
    def terminal(self) -> np.ndarray:
        return self._outcomes.arrays['terminal']

    def put(self, share: range, states: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Writes this share's numeric states; returns what is left to send (the text states)."""
        for name in self.layout:
            self.states[name][share.start:share.stop] = states[name]
        return {name: value for name, value in states.items() if name not in self.layout}


class _Batch:
    """A worker's environments, writing their states into the shared blocks."""

    def __init__(self, local: LocalBatch, shared: _Shared, share: range):
        self.local, self.shared, self.share = local, shared, share
        self.max_episode_timesteps = local.max_episode_timesteps

    def set_max_episode_timesteps(self, limit: int | None) -> None:
        self.local.set_max_episode_timesteps(limit)

    def reset(self, seeds: Sequence[int | None]) -> dict[str, np.ndarray]:
        return self.shared.put(self.share, self.local.reset(seeds))

    def execute(self, batch: Mapping[str, np.ndarray]) -> tuple[list, dict, dict | None]:
        """Steps the share and writes its rows; returns its infos, its text states and, if an episode
        ended, its text final states (numeric ones: in the shared finals)."""
        step = self.local.execute(columns=batch)  # validated in the parent
        shared, start = self.shared, self.share.start
        shared.reward[start:self.share.stop] = step.reward
        shared.terminal[start:self.share.stop] = step.terminal
        finals = step.info.get('final_states')
        if finals is not None:  # only the finished rows: the others are the states, already shared
            finished = np.flatnonzero(step.info['final_mask'])
            for name in shared.layout:
                shared.finals[name][start + finished] = finals[name][finished]
            finals = {name: value for name, value in finals.items() if name not in shared.layout}
        return step.info['infos'], shared.put(self.share, step.states), finals

    def close(self, _: Any = None) -> None:
        self.local.close()


def _serve(connection: Any, factories: Sequence[Callable[[], Environment]], share: range, parent: int,
           by_prctl: bool, shared: _Shared) -> None:
    """A worker's loop: build the environments, then answer (command, argument) messages."""
    first = share.start
    exit_with_parent(parent, by_prctl)
    retain_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        envs = build_share(factories, first)
        batch = _Batch(LocalBatch(envs, first), shared, share)
        connection.send(('ok', (specs_of(envs[0]), batch.max_episode_timesteps)))
    except Exception as error:  # noqa: BLE001 - reported to the parent
        connection.send(('error', portable(error)))
        return
    while True:
        try:
            command, argument = connection.recv()
        except (EOFError, OSError):
            break  # the parent is gone
        try:
            connection.send(('ok', getattr(batch, command)(argument)))
        except Exception as error:  # noqa: BLE001 - reported to the parent
            connection.send(('error', portable(error)))
        if command == 'close':
            break


def stop_workers(processes: Sequence[Any], connections: Sequence[Any], polite: bool,
          local: LocalBatch | None = None) -> None:
    """Asks the workers to close (if `polite`), then terminates and reaps any that remain; closes the
    environments stepped in this process (`local`)."""
    if local is not None:
        try:
            local.close()
        except Exception:  # noqa: BLE001 - closing is best effort: the workers must still be stopped
            pass
    if polite:
        for connection in connections:
            try:
                connection.send(('close', None))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 5.0
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(2.0)
        if process.is_alive():
            process.kill()
            process.join()
    for connection in connections:
        connection.close()


class WorkerLost(Exception):
    """`answers`: worker `index` did not answer in time (`died` False) or its pipe closed (`died` True)."""

    def __init__(self, index: int, died: bool):
        super().__init__(index, died)
        self.index, self.died = index, died


def answers(connections: Sequence[Any], timeout: float) -> tuple[list[Any], list[int]]:
    """Each worker's ``(status, answer)`` answer, waited for together until `timeout` seconds have passed:
    the answers in worker order and the indices of those that answered ``'error'``. A worker whose pipe
    closes, or the lowest-index one still silent at the deadline, is a `WorkerLost`."""
    results: list[Any] = [None] * len(connections)
    pending = dict(zip(connections, range(len(connections))))
    deadline = time.monotonic() + timeout
    errors = []
    while pending:
        ready = _wait(list(pending), max(0.0, deadline - time.monotonic()))
        if not ready:
            raise WorkerLost(min(pending.values()), died=False)
        for connection in ready:
            index = pending.pop(connection)
            try:
                status, results[index] = connection.recv()
            except (EOFError, OSError):
                raise WorkerLost(index, died=True) from None
            if status == 'error':
                errors.append(index)
    return results, errors


def _wait(connections: list[Any], timeout: float) -> list[Any]:
    """The `connections` with something to read, waiting up to `timeout` seconds for one.

    `select.poll` where the platform has it: `multiprocessing.connection.wait` builds a selector in
    Python on every call, about 45 us against 13 us once a step's work has evicted that code from
    the CPU's caches (a pipe with data waiting; 2-core machine), 1.5% of the demo's batched step.
    """
    if not hasattr(select, 'poll'):  # Windows
        return cast('list[Any]', multiprocessing.connection.wait(connections, timeout))
    poller = select.poll()
    by_descriptor = {}
    for connection in connections:
        descriptor = connection.fileno()  # OSError once closed: as from wait()
        by_descriptor[descriptor] = connection
        poller.register(descriptor, select.POLLIN)
    deadline = time.monotonic() + timeout
    while True:  # poll() takes an int of milliseconds: a longer timeout is waited for in parts
        events = poller.poll(math.ceil(min(timeout, LONGEST_POLL_MS / 1000) * 1000))  # EINTR: retried by Python
        timeout = deadline - time.monotonic()
        if events or timeout <= 0:
            # POLLHUP and POLLERR count as ready: recv() then raises EOFError or OSError, as after wait()
            return [by_descriptor[descriptor] for descriptor, _ in events]


class Workers:
    """`factories` split over `workers` processes (consecutive shares).

    >>> from modalbridge.bridges import GymBridge
    >>> workers = Workers([lambda: GymBridge('CartPole-v1')] * 4, workers=2, timeout=60.0)
    >>> workers.reset([0, 1, 2, 3])['state'].shape
    (4, 4)
    >>> workers.close()
    """

    def __init__(self, factories: Sequence[Callable[[], Environment]], workers: int, timeout: float,
                 parent_share: bool = False):
        self.num_envs, self.timeout = len(factories), timeout
        self.failure: str | None = None
        self.local: LocalBatch | None = None
        shares = split(len(factories), workers + parent_share)
        if parent_share:  # built here first: its first environment gives the specs
            try:
                self.local = LocalBatch(build_share([factories[i] for i in shares[0]], 0))
            except EnvironmentFailure as error:
                raise EnvironmentFailure(f'VectorEnvironment: {error}', error.original) from error
            except Exception as error:  # noqa: BLE001 - the user's factory
                raise EnvironmentFailure(f'VectorEnvironment: envs[0]() failed: {type(error).__name__}: {error}',
                                         error) from error
            probe = self.local.envs[0]
        else:
            try:
                probe = factories[0]()  # the specs, to lay out the shared memory before the workers start
            except Exception as error:  # noqa: BLE001 - the user's factory
                raise EnvironmentFailure(f'VectorEnvironment: envs[0]() failed: {type(error).__name__}: {error}',
                                         error) from error
            if not isinstance(probe, Environment):
                raise ConfigError(f'VectorEnvironment: envs[0]() returned a {type(probe).__name__}, '
                                  'not an Environment')
        self.states, self.actions, specs = probe.states, probe.actions, specs_of(probe)
        if not parent_share:
            probe.close()
        self.shared = _Shared(self.states, self.num_envs)
        self.here = shares[0] if parent_share else range(0)  # the share stepped in this process
        self.shares = shares[1:] if parent_share else shares  # the workers' shares
        by_prctl = threading.current_thread() is threading.main_thread()  # PDEATHSIG follows the forking thread
        self.processes, self.connections = [], []
        for index, share in enumerate(self.shares):
            mine, theirs = multiprocessing.Pipe()
            process = multiprocessing.Process(
                target=_serve, args=(theirs, [factories[i] for i in share], share, os.getpid(), by_prctl,
                                     self.shared),
                name=f'modalbridge-worker-{index}', daemon=True)
            process.start()
            theirs.close()
            self.processes.append(process)
            self.connections.append(mine)
        self._finalizer = weakref.finalize(self, stop_workers, self.processes, self.connections, False, self.local)
        answers = self._gather('building its environments')
        self.max_episode_timesteps = answers[0][1]
        for index, (theirs, _) in enumerate(answers):
            if theirs != specs:
                self.fail(f'VectorEnvironment: worker {index}\'s environments have states or actions that differ '
                          'from those of envs[0]()')

    @property
    def pids(self) -> list[int | None]:
        return [process.pid for process in self.processes]

    def reset(self, seeds: Sequence[int | None]) -> dict[str, np.ndarray]:
        here = len(self.here)
        alone = self._ours(None) if self.local is None else {}  # made first: nothing between send and gather
        self.send('reset', [[seeds[i] for i in share] for share in self.shares])

        def reset_here(local: LocalBatch) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
            states = local.reset(seeds[:here])
            return states, self._ours(states)  # laid out while the workers still reset theirs

        mine, states = self._here('reset', reset_here) or (None, alone)
        return self._theirs(states, mine, self._gather('reset'))

    def execute(self, rows: Sequence[Any] | None = None, columns: Mapping[str, np.ndarray] | None = None) -> BatchStep:
        here, batch, shared = len(self.here), stacked(rows, columns), self.shared
        alone = self._ours(None) if self.local is None else {}  # made first: nothing between send and gather
        self.send('execute', [{name: value[share.start:share.stop] for name, value in batch.items()}
                              for share in self.shares])

        def step_here(local: LocalBatch) -> tuple[BatchStep, dict[str, np.ndarray], dict[str, np.ndarray] | None]:
            # this process's rows are laid out while the workers still step theirs (inside `_here`: an
            # interruption here, as while stepping, stops the workers, whose answers would be lost)
            step = local.execute(columns={name: value[:here] for name, value in batch.items()})
            shared.reward[:here], shared.terminal[:here] = step.reward, step.terminal
            ended = step.info.get('final_states')
            return step, self._ours(step.states), None if ended is None else self._ours(ended)

        mine, states, finals = self._here('execute', step_here) or (None, alone, None)
        ours_ended = finals is not None
        parts = self._gather('execute')
        infos = ([] if mine is None else mine.info['infos']) + [info for share, _, _ in parts for info in share]
        terminal = shared.terminal.copy()
        mask = terminal != 0  # Terminal.NONE, as LocalBatch
        states = self._theirs(states, None if mine is None else mine.states, [rest for _, rest, _ in parts])
        info: dict[str, Any] = dict(final_mask=mask, infos=infos)
        if mask.any():
            # the rows of environments that did not finish hold their states (as in-process): our rows
            # come from our final states (if one of our episodes ended), the workers' finished rows
            # from the shared finals, text from each share's answer
            theirs = np.flatnonzero(mask[here:]) + here
            if finals is None:
                finals = {name: np.empty_like(states[name]) for name in shared.layout}
            for name, value in states.items():
                if name in shared.layout:
                    final = finals[name]
                    final[here:] = value[here:]
                    if not ours_ended:
                        final[:here] = value[:here]
                    final[theirs] = shared.finals[name][theirs]
                else:
                    final = value.copy()
                    for (_, _, rest), share in zip(parts, self.shares):
                        if rest is not None:
                            final[share.start:share.stop] = rest[name]
                    if ours_ended and mine is not None:  # the one implies the other
                        final[:here] = mine.info['final_states'][name]
                finals[name] = final
            info['final_states'] = {name: finals[name] for name in shared.order}
        return BatchStep(states, shared.reward.copy(), terminal, info)

    def _here(self, command: str, run: Callable[[LocalBatch], Any]) -> Any:
        """This process's share (if any), stepped while the workers step theirs. The workers' answers
        are gathered even when it fails, so that every pipe stays in step."""
        if self.local is None:
            return None
        try:
            return run(self.local)
        except EnvironmentFailure:  # as in-process: 'environment i: ...'
            try:
                self._gather(command)
            except EnvironmentFailure:
                pass  # this share's environments come first: its failure is the one reported
            raise
        except BaseException as error:  # interrupted: the workers' answers are lost with the batch
            self.fail(f'VectorEnvironment: interrupted by {type(error).__name__} during {command}', raise_=False)
            raise

    def _ours(self, mine: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        """New batch arrays of the numeric states holding this process's rows (`mine`), the workers'
        rows still to come (`_theirs`)."""
        here = len(self.here)
        out = {}
        for name, (shape, dtype) in self.shared.layout.items():
            out[name] = value = np.empty(shape, dtype)
            if mine is not None:
                value[:here] = mine[name]
        return out

    def _theirs(self, out: dict[str, np.ndarray], mine: Mapping[str, np.ndarray] | None,
                rests: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The batch, in the order of the specs: `out` (from `_ours`) with the workers' rows copied from
        the shared blocks, and the text states, this process's (`mine`) and the workers' (`rests`)."""
        here, source = len(self.here), self.shared.states
        batch = {}
        for name in self.shared.order:
            if name in out:
                out[name][here:] = source[name][here:]
                batch[name] = out[name]
            else:
                batch[name] = np.concatenate(([] if mine is None else [mine[name]]) + [rest[name] for rest in rests])
        return batch

    def set_max_episode_timesteps(self, limit: int | None) -> None:
        self.call('set_max_episode_timesteps', [limit] * len(self.shares))
        if self.local is not None:
            self.local.set_max_episode_timesteps(limit)
        self.max_episode_timesteps = limit

    def call(self, command: str, arguments: Sequence[Any]) -> list[Any]:
        """Sends each worker its argument and gathers the answers (EnvironmentFailure on any error)."""
        self.send(command, arguments)
        return self._gather(command)

    def send(self, command: str, arguments: Sequence[Any]) -> None:
        """Sends each worker its argument (`_gather` collects the answers)."""
        if self.failure is not None:
            raise EnvironmentFailure(self.failure)
        try:
            for connection, argument in zip(self.connections, arguments):
                try:
                    connection.send((command, argument))
                except (OSError, ValueError):
                    pass  # a dead worker: found and named below
        except BaseException as error:  # interrupted while sending: some workers have the command, some not
            self.fail(f'VectorEnvironment: interrupted by {type(error).__name__} during {command}', raise_=False)
            raise

    def _gather(self, what: str) -> list[Any]:
        lost = None
        try:
            results, errors = answers(self.connections, self.timeout)
        except WorkerLost as error:
            lost = error
        except BaseException as error:  # Ctrl-C (or any interruption) while waiting: results are lost
            self.fail(f'VectorEnvironment: interrupted by {type(error).__name__} during {what}', raise_=False)
            raise
        if lost is not None:
            index, process = lost.index, self.processes[lost.index]
            if not lost.died:
                self.fail(f'VectorEnvironment: worker {index} (environments {_span(self.shares[index])}) '
                          f'did not answer {what} within {self.timeout:g} s (the timeout= of VectorEnvironment)')
            process.join(2.0)
            self.fail(f'VectorEnvironment: worker {index} failed (exit code {process.exitcode}) '
                      f'during {what}; it held environments {_span(self.shares[index])}')
        if errors:
            index = min(errors)
            problem = results[index]
            if what == 'building its environments':
                self.fail(f'VectorEnvironment: worker {index} could not build its environments: {problem}', problem)
            message = f'VectorEnvironment: worker {index}, {problem}'
            raise EnvironmentFailure(message, getattr(problem, 'original', None) or problem)
        return results

    def fail(self, message: str, original: BaseException | None = None, raise_: bool = True) -> None:
        """Stops every worker; this and every later call raise EnvironmentFailure(message)."""
        self.failure = f'{message}; the VectorEnvironment is closed, create a new one'
        self._finalizer.detach()
        stop_workers(self.processes, self.connections, polite=False, local=self.local)
        if raise_:
            raise EnvironmentFailure(self.failure, original)

    def close(self) -> None:
        if self._finalizer.detach() is not None:
            stop_workers(self.processes, self.connections, polite=True, local=self.local)
        if self.failure is None:
            self.failure = 'VectorEnvironment: closed'


def _span(share: range) -> str:
    return f'{share.start}' if len(share) == 1 else f'{share.start}-{share.stop - 1}'

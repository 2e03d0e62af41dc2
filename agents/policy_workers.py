"""Policy workers: environments plus a copy of the agent's `Policy`, collecting whole rollouts.

`PolicyWorker` is the body; two pools run it where the learner is not:

- `ProcessPolicyWorkers`: spawned processes on this machine (TensorFlow
  cannot be forked once it runs), one TF thread each, answering over pipes;
  the factory must be picklable (a module-level function or class,
  ``functools.partial``, `Preprocessing`).
- `RayPolicyWorkers`: Ray actors, placed by Ray on any node of the cluster
  (the factory goes by cloudpickle).

Both take the weights once per rollout, return one rollout's columns for all
environments and each worker's part in worker order, stop every worker at
the first failure and name the worker in the `EnvironmentFailure`. Worker
processes write the columns straight into shared memory (two slots: one
written while the learner reads the other); Ray actors return theirs
through the object store.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import uuid
import warnings
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from modalbridge.bridges.batch import LocalBatch, action_validators, checked_actions
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure
from modalbridge.bridges.memory import retain_freed_memory
from modalbridge.bridges.workers import SharedArrays, WorkerLost, answers, exit_with_parent, portable, stop_workers

START_TIMEOUT = 120.0  # seconds a worker process may take to import TensorFlow and build, whatever timeout= is


class PolicyWorker:
    """Environments and a Policy copy; `collect` returns one rollout of `n_steps` (a worker's body).

    >>> from modalbridge.bridges import GymBridge
    >>> env = GymBridge('CartPole-v1')
    >>> worker = PolicyWorker(lambda: GymBridge('CartPole-v1'), 2, 0, dict(states=env.states, actions=env.actions),
    ...                       seed=0)
    >>> part = worker.collect(None, n_steps=3, discount=0.99)
    >>> part['columns']['log_prob'].shape, part['columns']['states/state'].shape, part['last_value'].shape
    ((3, 2), (4, 2, 4), (2,))
    """

    def __init__(self, factory: Callable[[], Environment], count: int, first: int, policy: dict, seed: int):
        from modalbridge.agents.policy import Policy
        self.count = count
        self.batch = LocalBatch([factory() for _ in range(count)], first)
        self.policy = Policy(**policy, num_envs=count, seed=seed)
        env = self.batch.envs[0]
        shapes = lambda specs: {k: (v.shape, str(v.dtype)) for k, v in specs.items()}  # noqa: E731
        if shapes(self.policy.states) != shapes(env.states):
            raise ConfigError(f"the agent was built for states {shapes(self.policy.states)}, but the factory's "
                              f'environment has {shapes(env.states)}')
        if dict(self.policy.actions) != dict(env.actions):  # the number of choices and the bounds too
            raise ConfigError(f"the agent was built for actions {dict(self.policy.actions)}, but the factory's "
                              f'environment has {dict(env.actions)}')
        self._validators = action_validators(env.actions)
        self.states = self.batch.reset([seed + first + i for i in range(count)])
        self.first = np.ones(count, bool)
        self.core = self.policy.initial_state(count)  # a recurrent policy's core state per environment ({}: none)
        self._assign: Any = None
        self.returns, self.lengths = np.zeros(count), np.zeros(count, np.int64)
        self.instance = uuid.uuid4().hex  # a restarted worker (a new instance) may reuse a process id

    def pid(self) -> int:
        return os.getpid()

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """The model's weights as `WeightsVector.pack` gives them."""
        if self._assign is None:
            self._assign = WeightsVector(self.policy.model)
        self._assign.assign(weights)

    def collect(self, weights: Any, n_steps: int, discount: float, out: dict[str, np.ndarray] | None = None,
                last_value: bool = True, max_episode_timesteps: int | None = None) -> dict[str, Any]:
        """One rollout. ``columns``: ``(n_steps, count)`` arrays of the network's states
        (``'states/<name>'``, preprocessed by the policy's stack, if any; one row more: the last is the
        states after the rollout, V-trace's bootstrap), samples (``'samples/<name>'``),
        behaviour ``log_prob`` and ``value``, ``reward`` (truncations bootstrapped with this policy's
        value), ``ended`` and ``first``: written into `out` where it has the key (views of shared memory),
        else returned. Beside them: the core state it started from, the episodes that ended, the
        collection's ``seconds`` (wall, this process's CPU: where the time goes when the learner waits),
        and what bootstraps the rollout: with `last_value`, this policy's value of the last states (PPO's
        GAE uses the behaviour values); else the core state reached at the last states, for the learner
        to value them (V-trace). A `max_episode_timesteps` (None: leave it) becomes the
        environments' limit from now on."""
        started = time.perf_counter(), time.process_time()
        if weights is not None:
            self.set_weights(weights)
        if max_episode_timesteps is not None and max_episode_timesteps != self.batch.max_episode_timesteps:
            self.batch.set_max_episode_timesteps(max_episode_timesteps)
        count, policy = self.count, self.policy
        store: dict[str, np.ndarray] = dict(out or {})
        core = {key: value.copy() for key, value in self.core.items()}
        episodes: list[tuple[float, int]] = []
        cut: list[tuple[int, np.ndarray, dict, dict]] = []  # (step, rows, final states, core state) to value
        for t in range(n_steps):
            actions, extras = policy.act(self.states, update=True, first=self.first, core_state=self.core)
            self.core = extras.get('core_state', {})  # reached after these states: the final states' too
            step = self.batch.execute(*checked_actions(actions, self._validators, count))
            truncated = step.terminal == Terminal.TRUNCATED
            if truncated.any():  # bootstrapped below from their final states' value, one call for the rollout
                final = policy.preprocess(step.info['final_states'])  # peeks, with the memory as it is now
                cut.append((t, truncated, {k: v[truncated] for k, v in final.items()},
                            {k: v[truncated] for k, v in self.core.items()}))
            ended = step.terminal != Terminal.NONE
            row = {**{f'states/{k}': v for k, v in extras.get('states', self.states).items()},
                   **{f'samples/{k}': v for k, v in extras['sample'].items()},
                   'log_prob': extras['log_prob'], 'value': extras['value'], 'reward': step.reward, 'ended': ended,
                   'first': self.first}
            for key, value in row.items():
                column = store.get(key)
                if column is None:
                    length = n_steps + 1 if key.startswith('states/') else n_steps  # the states: and the last
                    column = store[key] = np.empty((length,) + value.shape, value.dtype)
                column[t] = value
            self.returns += step.reward
            self.lengths += 1
            for index in np.flatnonzero(ended):
                episodes.append((float(self.returns[index]), int(self.lengths[index])))
                self.returns[index], self.lengths[index] = 0.0, 0
            self.first, self.states = ended, step.states
        last_states = policy.preprocess(self.states)  # peeks: the next act advances the memory
        for key, value in last_states.items():
            store[f'states/{key}'][n_steps] = value
        bootstrap: dict[str, Any] = {}
        if last_value:  # valued with the truncations' final states
            cut.append((n_steps, np.ones(count, bool), last_states, self.core))
        else:
            bootstrap.update(last_core={key: value.copy() for key, value in self.core.items()})
        if cut:
            values = policy.value({key: np.concatenate([states[key] for _, _, states, _ in cut]) for key in cut[0][2]},
                                  {key: np.concatenate([core[key] for _, _, _, core in cut]) for key in cut[0][3]})
            start = 0
            for t, rows, _, _ in cut:
                size = int(np.count_nonzero(rows))
                if t == n_steps:
                    bootstrap['last_value'] = values[start:start + size]
                else:
                    store['reward'][t, rows] += discount * values[start:start + size]
                start += size
        return dict(columns={key: value for key, value in store.items() if out is None or key not in out},
                    core=core, episodes=episodes, pid=os.getpid(), instance=self.instance, **bootstrap,
                    seconds=(time.perf_counter() - started[0], time.process_time() - started[1]))


class WeightsVector:
    """A model's weights as one vector per dtype, read (`pack`) and assigned (`assign`) in one compiled
    call each: Keras's `get_weights` converts each variable (2.0 ms a rollout on the demo's network) and
    `set_weights` assigns each eagerly (6.6 ms); these take 0.3 and 0.8 ms.

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> vectors = WeightsVector(model).pack()
    >>> [vector.shape for vector in vectors]  # the kernel (3 x 2) and the bias (2), float32
    [(8,)]
    >>> WeightsVector(model).assign([np.arange(8, dtype=np.float32)])
    >>> model.get_weights()[1].tolist()
    [6.0, 7.0]
    """

    def __init__(self, model: Any):
        import tensorflow as tf

        from modalbridge.agents.policy import FlatCall
        variables = list(model.weights)
        dtypes = list(dict.fromkeys(v.dtype for v in variables))
        groups = [[v for v in variables if v.dtype == dtype] for dtype in dtypes]

        def pack() -> list[Any]:
            return [tf.concat([tf.reshape(v, [-1]) for v in group], 0) for group in groups]

        def assign(vectors: list[Any]) -> int:
            for group, vector in zip(groups, vectors):
                parts = tf.split(vector, [int(np.prod(v.shape)) for v in group])
                for v, part in zip(group, parts):
                    v.assign(tf.reshape(part, v.shape))
            return 0
        sizes = [sum(int(np.prod(v.shape)) for v in group) for group in groups]
        self._shapes = [(size,) for size in sizes]
        self._pack = FlatCall(tf.function(pack, input_signature=[]).get_concrete_function())
        self._assign = FlatCall(tf.function(assign, input_signature=[[
            tf.TensorSpec((size,), dtype) for size, dtype in zip(sizes, dtypes)]]).get_concrete_function())

    def pack(self) -> list[np.ndarray]:
        """The weights, one vector per dtype (in the order of first appearance)."""
        return [vector.numpy() for vector in self._pack()]

    def assign(self, vectors: Sequence[np.ndarray]) -> None:
        """Assigns `pack`'s vectors (of this model or one built from the same declaration)."""
        found = [np.shape(vector) for vector in vectors]
        if found != self._shapes:
            raise ConfigError(f'WeightsVector.assign: expected the vectors pack() gives, of shapes {self._shapes}; '
                              f'received {len(found)} of shapes {found}')
        self._assign(list(vectors))


def columns_layout(policy: Any, n_steps: int, num_envs: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The shape and dtype of each rollout column a `PolicyWorker` writes, for all environments (network
    states are numbers: a text state must be tokenized first)."""
    rows = (n_steps, num_envs)
    layout = {f'states/{name}': ((n_steps + 1, num_envs) + tuple(spec.shape), np.dtype(spec.dtype))
              for name, spec in policy.network_states.items()}
    layout.update({f'samples/{name}': (rows + tuple(head.shape), np.dtype(head.sample_dtype.as_numpy_dtype))
                   for name, head in policy.heads.items()})
    layout.update(log_prob=(rows, np.dtype(np.float32)), value=(rows, np.dtype(np.float32)),
                  reward=(rows, np.dtype(np.float64)), ended=(rows, np.dtype(bool)), first=(rows, np.dtype(bool)))
    return layout


def join(parts: Sequence[dict]) -> dict[str, np.ndarray]:
    """The workers' columns side by side: ``(n_steps, all environments)``."""
    return {key: np.concatenate([part['columns'][key] for part in parts], axis=1) for key in parts[0]['columns']}


def _serve(connection: Any, factory: Callable[[], Environment], count: int, first: int, policy: dict, seed: int,
           parent: int, by_prctl: bool, slots: list[SharedArrays]) -> None:
    """A worker process: one TF thread, a `PolicyWorker`, then ('collect', arguments) until 'close'."""
    exit_with_parent(parent, by_prctl)
    retain_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the learner's to handle
    try:
        import tensorflow as tf
        try:  # one core's work: the learner has the other
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TF already started while unpickling the factory: keep its threads
            pass
        worker = PolicyWorker(factory, count, first, policy, seed)
        connection.send(('ok', worker.pid()))
    except Exception as error:  # noqa: BLE001 - reported to the learner
        connection.send(('error', portable(error)))
        return
    while True:
        try:
            command, argument = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            break  # the learner is gone
        if command == 'close':
            break
        answer: tuple[str, Any]
        weights, n_steps, discount, last_value, limit, slot = argument
        out = {key: view[:, first:first + count] for key, view in slots[slot].arrays.items()}
        try:
            answer = ('ok', worker.collect(weights, n_steps, discount, out, last_value, limit))
        except Exception as error:  # noqa: BLE001 - reported to the learner
            answer = ('error', portable(error))
        connection.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


class ProcessPolicyWorkers:
    """`PolicyWorker`s in spawned processes of this machine (see the module docstring).

    >>> from modalbridge.bridges import GymBridge
    >>> env = GymBridge('CartPole-v1')
    >>> ProcessPolicyWorkers(lambda: GymBridge('CartPole-v1'), [(2, 0, 0)],
    ...                      dict(states=env.states, actions=env.actions), timeout=300.0, layout={})
    Traceback (most recent call last):
    ...
    modalbridge.bridges.errors.ConfigError: Overlapped: backend='processes' starts its workers by spawning, ...
    """

    def __init__(self, factory: Callable[[], Environment], shares: Sequence[tuple[int, int, int]], policy: dict,
                 timeout: float, layout: dict[str, tuple[tuple[int, ...], np.dtype]]):
        try:
            pickle.dumps(factory)
        except Exception as error:  # noqa: BLE001 - any pickling failure is the same configuration error
            raise ConfigError(f"Overlapped: backend='processes' starts its workers by spawning, which pickles the "
                              f'factory, and {factory!r} cannot be pickled ({type(error).__name__}: {error}); give a '
                              'module-level function or class, a functools.partial of one, or Preprocessing(...), '
                              "or use backend='ray' (cloudpickle)") from None
        try:
            pickle.dumps(policy)
        except Exception as error:  # noqa: BLE001 - a network or preprocessing declaration holding a lambda, say
            raise ConfigError(f"Overlapped: backend='processes' pickles the agent's network and preprocessing "
                              f'declarations for its workers, and they cannot be pickled ({type(error).__name__}: '
                              f"{error}); declare them with dicts or module-level callables, or use backend='ray'"
                              ) from None
        main = sys.modules.get('__main__')
        if getattr(factory, '__module__', None) == '__main__' and not getattr(main, '__file__', None):
            raise ConfigError(f"Overlapped: backend='processes' starts its workers by spawning, and {factory!r} is "
                              'defined in an interactive session (no file the workers can import it from); define '
                              "it in a module, or use backend='ray'")
        self.timeout = timeout
        context = multiprocessing.get_context('spawn')
        # Two rollouts' columns in shared memory: the workers write one slot while the learner reads the
        # other. The lag of one update keeps them apart: collection k+2 (into slot k % 2) is launched only
        # after the learner is done with rollout k.
        self.slots = [SharedArrays(layout, context) for _ in range(2)]
        self.slot, self._collecting = 0, 0
        by_prctl = threading.current_thread() is threading.main_thread()  # PDEATHSIG follows the spawning thread
        self.processes: list[Any] = []
        self.connections: list[Any] = []
        self._finalizer = weakref.finalize(self, stop_workers, self.processes, self.connections, False)
        try:  # a failed start, or Ctrl-C while they build: the ones started are stopped now
            for index, (count, first, seed) in enumerate(shares):
                mine, theirs = context.Pipe()
                process = context.Process(target=_serve, args=(theirs, factory, count, first, policy, seed,
                                                               os.getpid(), by_prctl, self.slots),
                                          name=f'modalbridge-policy-worker-{index}', daemon=True)
                self.connections.append(mine)
                try:
                    process.start()
                finally:
                    theirs.close()
                self.processes.append(process)
            self.pids = self._gather('building its environments and policy', max(timeout, START_TIMEOUT))
        except BaseException:
            self.close(polite=False)
            raise

    def launch(self, weights: list[np.ndarray], n_steps: int, discount: float, last_value: bool,
               max_episode_timesteps: int | None = None) -> None:
        """Starts every worker's next rollout (`PolicyWorker.collect`) with `weights` (pickled once for all),
        into the other slot."""
        self._collecting, self.slot = self.slot, self.slot ^ 1
        message = pickle.dumps(('collect', (weights, n_steps, discount, last_value, max_episode_timesteps,
                                            self._collecting)),
                               protocol=pickle.HIGHEST_PROTOCOL)
        failed = None
        for index, connection in enumerate(self.connections):
            try:
                connection.send_bytes(message)
            except (OSError, ValueError):  # a dead worker: named below, outside this handler
                failed = index
                break
        if failed is not None:
            self._fail(failed, 'collect')

    def gather(self) -> tuple[dict[str, np.ndarray], list[dict]]:
        """The rollout's columns (views of the shared slot, valid until the launch after next) and each
        worker's part, in worker order."""
        parts = self._gather('collect', self.timeout)
        return dict(self.slots[self._collecting].arrays), parts

    def _gather(self, what: str, timeout: float) -> list[Any]:
        """Every worker's answer; the first error by worker index is raised once all have answered."""
        lost = None
        try:
            results, errors = answers(self.connections, timeout)
        except WorkerLost as error:
            lost = error
        if lost is not None:
            if lost.died:
                self._fail(lost.index, what)
            self.close(polite=False)
            raise EnvironmentFailure(f'Overlapped: worker {lost.index} did not answer {what} within {timeout:g} s'
                                     + (' (the timeout= of Overlapped)' if timeout == self.timeout else ''))
        if errors:
            index = min(errors)
            problem = results[index]
            self.close(polite=False)
            failed = (f'could not build {what.removeprefix("building ")}' if what.startswith('building')
                      else f'failed during {what}')
            raise EnvironmentFailure(f'Overlapped: worker {index} {failed}: {problem}',
                                     getattr(problem, 'original', None) or problem)
        return results

    def _fail(self, index: int, what: str) -> None:
        process = self.processes[index]
        process.join(2.0)
        self.close(polite=False)
        raise EnvironmentFailure(f'Overlapped: worker {index} (process {process.pid}) failed (exit code '
                                 f'{process.exitcode}) during {what}' + ("; its error is on this process's stderr"
                                                                         if what.startswith('building') else ''))

    def close(self, polite: bool = True) -> None:
        """Stops the workers (`polite`: asks them to close first; after a failure they are stopped at
        once); calling it again does nothing."""
        if self._finalizer.detach() is not None:
            stop_workers(self.processes, self.connections, polite=polite)


class RayPolicyWorkers:
    """`PolicyWorker`s as Ray actors (one CPU each, spread over the cluster's nodes).

    An actor that dies is restarted by Ray, up to `max_restarts` times each:
    a death during a rollout drops the actor's partial rollout and the
    restarted actor collects its share again with the same weights (the
    policy lag is unchanged); a death between rollouts is found from the id
    of the actor's instance, new after a restart (the restart then has to
    fit in the rollout's `timeout`). Either way its environments start new
    episodes and a `RuntimeWarning` names it; one death more, or an actor
    Ray does not restart, is an `EnvironmentFailure`.
    """

    def __init__(self, factory: Callable[[], Environment], shares: Sequence[tuple[int, int, int]], policy: dict,
                 timeout: float, layout: dict[str, tuple[tuple[int, ...], np.dtype]] | None = None,
                 max_restarts: int = 2):
        from modalbridge.bridges.ray_workers import _ray
        ray = self.ray = _ray()
        if not ray.is_initialized():
            ray.init(num_cpus=len(shares), include_dashboard=False, logging_level='WARNING')
        self.timeout, self.max_restarts = timeout, max_restarts
        self.spans = [f'{first}-{first + count - 1}' for count, first, _ in shares]
        self.restarts = [0] * len(shares)
        actor = ray.remote(PolicyWorker).options(num_cpus=1, max_restarts=max_restarts, max_task_retries=0,
                                                 scheduling_strategy='SPREAD')
        self.workers = [actor.remote(factory, count, first, policy, seed) for count, first, seed in shares]
        # each actor instance's id and process id, from its last rollout: a new id is a restart
        self.instances: list[str | None] = [None] * len(shares)
        self.pids: list[int | None] = [None] * len(shares)
        self._pending: list[Any] = []
        self._collect: tuple = ()
        self._limit: int | None = None

    def launch(self, weights: list[np.ndarray], n_steps: int, discount: float, last_value: bool,
               max_episode_timesteps: int | None = None) -> None:
        if max_episode_timesteps is not None:
            self._limit = max_episode_timesteps  # a restarted actor gets it too
        self._collect = (self.ray.put(weights), n_steps, discount, None, last_value, self._limit)
        self._pending = [worker.collect.remote(*self._collect) for worker in self.workers]

    def gather(self) -> tuple[dict[str, np.ndarray], list[dict]]:
        """The rollout's columns and each worker's part, in worker order."""
        ray = self.ray
        deadline = time.monotonic() + self.timeout
        parts = []
        for index, ref in enumerate(self._pending):
            dropped = False
            while True:
                try:
                    part = ray.get(ref, timeout=max(0.0, deadline - time.monotonic()))
                    break
                except ray.exceptions.GetTimeoutError:
                    self.close()
                    raise EnvironmentFailure(f'Overlapped: Ray worker {index} did not return its rollout within '
                                             f'{self.timeout:g} s') from None
                except ray.exceptions.RayActorError as error:  # it died: its partial rollout is dropped
                    self._died(index, error)
                    deadline = time.monotonic() + max(self.timeout, START_TIMEOUT)  # a new process starts
                    self._wait_restarted(index, deadline)
                    dropped = True
                    ref = self.workers[index].collect.remote(*self._collect)
                except ray.exceptions.RayError as error:  # its environments or policy raised
                    self.close()
                    after = ' (after a restart)' if dropped else ''
                    raise EnvironmentFailure(f'Overlapped: Ray worker {index} failed{after}: {type(error).__name__}: '
                                             f'{str(error).splitlines()[0] if str(error) else ""}',
                                             getattr(error, 'cause', None) or error) from None
            if dropped:
                self._report(index, 'during a rollout and Ray restarted it; its partial rollout was dropped and it '
                             'collected its share again with the same weights')
            elif self.instances[index] is not None and part['instance'] != self.instances[index]:
                self._died(index, None)
                self._report(index, 'between rollouts and Ray restarted it')
            self.instances[index], self.pids[index] = part['instance'], part['pid']
            parts.append(part)
        return join(parts), parts

    def _died(self, index: int, error: BaseException | None) -> None:
        """Counts a death of actor `index`; one past `max_restarts` stops every actor and fails."""
        self.restarts[index] += 1
        if self.restarts[index] > self.max_restarts:
            self._fail(index, f'died {self.restarts[index]} times, past max_restarts={self.max_restarts}', error)

    def _wait_restarted(self, index: int, deadline: float) -> None:
        """Returns once Ray has restarted actor `index` (it answers); fails if Ray does not restart it."""
        ray = self.ray
        while True:
            try:
                ray.get(self.workers[index].pid.remote(), timeout=max(0.0, deadline - time.monotonic()))
                return
            except ray.exceptions.ActorUnavailableError:  # still restarting
                if time.monotonic() > deadline:
                    self._fail(index, f'died and did not restart within {max(self.timeout, START_TIMEOUT):g} s')
                time.sleep(0.05)
            except ray.exceptions.GetTimeoutError:
                self._fail(index, f'died and did not restart within {max(self.timeout, START_TIMEOUT):g} s')
            except ray.exceptions.RayActorError as error:  # killed for good, or its restart failed
                self._fail(index, f'died and Ray did not restart it (restart {self.restarts[index]} of '
                                  f'max_restarts={self.max_restarts})', error)

    def _fail(self, index: int, what: str, error: BaseException | None = None) -> None:
        from modalbridge.bridges.ray_workers import _first_lines
        self.close()
        reason = '' if error is None else f': {_first_lines(error)}'
        raise EnvironmentFailure(f'Overlapped: Ray worker {index} (environments {self.spans[index]}) {what}{reason}',
                                 error)

    def _report(self, index: int, what: str) -> None:
        warnings.warn(f'Overlapped: Ray worker {index} (environments {self.spans[index]}) died {what} (restart '
                      f'{self.restarts[index]} of max_restarts={self.max_restarts}); its environments started new '
                      'episodes', RuntimeWarning, stacklevel=4)

    def close(self, polite: bool = True) -> None:
        """Kills the actors (`polite` is ignored: an actor holds nothing to save)."""
        if self.ray.is_initialized():
            for worker in self.workers:
                try:
                    self.ray.kill(worker)
                except Exception:  # noqa: BLE001 - already gone
                    pass
        self.workers = []

"""`Runner`: the loop between an agent and an environment, and its `History`.

One step of the loop::

    actions = agent.act(states)
    step = environment.execute(actions)
    agent.observe(step.reward, step.terminal, final_states=step.info.get('final_states'))

Every update's scalars (``agent.last_update``: losses, entropy, KL, ...)
and the steps per second go to the progress bar and, with `summary_dir`,
to TensorBoard under CleanRL's names (``charts/episodic_return``,
``charts/SPS``, ``losses/<name>``). The progress bar is drawn only on a
terminal; elsewhere (CI logs, files) a plain line is printed periodically.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from typing import Any, Callable, Mapping

import numpy as np
from tqdm.auto import tqdm

from modalbridge.bridges.arguments import boolean, integer, number
from modalbridge.bridges.environment import Environment
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.batch import BatchedEnvironment
from modalbridge.bridges.vector import VectorEnvironment

TENSORBOARD_MISSING = ("Runner: summary_dir needs the tensorboard package "
                       "(pip install 'modalbridge[tensorboard]')")
CURVE_POINTS = 1000  # the learning curve keeps at most this many points (halved when full)


@dataclasses.dataclass
class History:
    """What `Runner.run` returns: the last `window` episodes and running totals.

    `episode_returns` / `episode_lengths` hold at most the last `window`
    episodes (memory stays bounded on long runs); `episodes`, `timesteps`
    and the sums count everything. `curve` is the learning curve, at most
    1000 points ``(timesteps, mean return of the last 10 episodes)``,
    thinned evenly as the run grows.

    >>> history = History(window=2)
    >>> for episode_return in (1.0, 2.0, 3.0):
    ...     history.add(episode_return, length=5, timesteps=10)
    >>> history.episode_returns, history.episodes, history.mean_return(), history.total_return
    ([2.0, 3.0], 3, 2.5, 6.0)
    """

    window: int = 10_000
    episodes: int = 0
    timesteps: int = 0
    seconds: float = 0.0
    updates: int = 0
    total_return: float = 0.0
    total_length: int = 0
    curve: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)  # the last update's scalars
    _returns: list[float] = dataclasses.field(default_factory=list, repr=False)
    _lengths: list[int] = dataclasses.field(default_factory=list, repr=False)
    _ends: list[int] = dataclasses.field(default_factory=list, repr=False)
    _curve_every: int = dataclasses.field(default=1, repr=False)

    def __post_init__(self) -> None:
        self.window = integer('History: window', self.window, minimum=1)

    @property
    def episode_returns(self) -> list[float]:
        """The returns of the last `window` episodes, oldest first."""
        return self._returns[-self.window:]

    @property
    def episode_lengths(self) -> list[int]:
        return self._lengths[-self.window:]

    @property
    def episode_ends(self) -> list[int]:
        """The timesteps at which each of the last `window` episodes ended."""
        return self._ends[-self.window:]

    def add(self, episode_return: float, length: int, timesteps: int) -> None:
        """Records one finished episode that ended at `timesteps`."""
        self.episodes += 1
        self.total_return += episode_return
        self.total_length += length
        pairs: tuple[tuple[list[Any], float], ...] = (
            (self._returns, episode_return), (self._lengths, length), (self._ends, timesteps))
        for kept, value in pairs:
            kept.append(value)
            if len(kept) >= 2 * self.window:  # trimmed in batches: amortised O(1) per episode
                del kept[:-self.window]
        if self.episodes % self._curve_every == 0:
            self.curve.append((timesteps, self.mean_return()))
            if len(self.curve) >= CURVE_POINTS:
                self.curve = self.curve[1::2]
                self._curve_every *= 2

    def mean_return(self, last: int = 10) -> float:
        """The mean return of the last `last` episodes (NaN before the first)."""
        kept = self._returns[-min(last, self.window):]
        return float(np.mean(kept)) if kept else float('nan')

    def plot(self, path: str | os.PathLike, title: str = 'learning curve') -> str:
        """Writes the learning curve (returns over timesteps) as a PNG at `path`; returns `path`."""
        from modalbridge.agents import plotting
        return plotting.learning_curve(path, self.episode_ends, self.episode_returns, self.curve, title)


class Runner:
    """Runs an agent on an environment (single, vector, or a list of them).

    >>> from modalbridge.agents import RandomAgent
    >>> from modalbridge.bridges import GymBridge
    >>> env = GymBridge('CartPole-v1')
    >>> runner = Runner(RandomAgent(env.states, env.actions, seed=0), env, seed=0)
    >>> history = runner.run(episodes=3, progress=False)
    >>> history.episodes, len(history.episode_returns)
    (3, 3)

    `environment` may also be a zero-argument factory (built `agent.parallel`
    times) or a list of factories; then `backend` ``'local'`` (default),
    ``'processes'`` or ``'ray'`` says where they run, with `workers`
    processes or Ray actors and `timeout` (see `VectorEnvironment`). The
    agent acts on the whole batch here; only the environments move, so every
    backend gives the same updates (the synchronous, exactly on-policy mode).
    With ``asynchronous=True`` (a PPO or an A2C and one factory) the workers
    act too, each with a copy of the agent's policy, while the agent learns
    here (`modalbridge.agents.parallel.Overlapped`: a policy lag of one
    update, corrected by PPO's clipping or by V-trace); `backend` is then
    ``'processes'`` (default) or ``'ray'``, `workers` defaults to 2 (1 for
    an odd number of environments), `timeout` bounds each rollout's
    collection, and the history, callbacks, progress and TensorBoard scalars
    are the same, per rollout of ``n_steps * num_envs`` steps.
    `close()` (or ``with Runner(...)``) closes what the Runner built.

    `callback(runner)` is called after each finished episode; any falsy
    result but None (False, ``np.False_``, 0) stops the run. `summary_dir`
    writes TensorBoard scalars. `window` bounds how many episodes the
    history keeps. `preprocessing` (a `Stack` or a declaration, run here on
    the TF backend) is deprecated: give it to the agent instead.
    """

    def __init__(self, agent: Any, environment: Any, seed: int | None = None, summary_dir: str | None = None,
                 *, window: int = 10_000, preprocessing: Any = None, backend: str | None = None,
                 workers: int | None = None, timeout: float = 60.0, asynchronous: bool = False):
        self._owned: Any = None
        self._overlapped: Any = None
        if boolean('Runner: asynchronous', asynchronous):
            self._setup_asynchronous(agent, environment, seed, summary_dir, window, preprocessing, backend, workers,
                                     timeout)
            return
        if backend is not None or workers is not None or _factories(environment):
            environment = self._owned = _build(agent, environment, backend, workers, timeout)
        elif isinstance(environment, (list, tuple)):
            environment = VectorEnvironment(list(environment))
        elif isinstance(environment, Environment):
            environment = VectorEnvironment([environment])
        try:
            self._setup(agent, environment, seed, summary_dir, window, preprocessing)
        except BaseException:
            self.close()  # the workers of an environment built here do not outlive a refused Runner
            raise

    def _setup_asynchronous(self, agent: Any, environment: Any, seed: int | None, summary_dir: str | None,
                            window: int, preprocessing: Any, backend: str | None, workers: int | None,
                            timeout: float) -> None:
        from modalbridge.agents.parallel import Overlapped
        if preprocessing is not None:
            raise ConfigError('Runner: asynchronous=True takes no Runner preprocessing (deprecated): give it to the '
                              'agent, whose policy copies run it in the workers')
        if not callable(environment) or isinstance(environment, (Environment, BatchedEnvironment)):
            raise ConfigError(f'Runner: asynchronous=True needs one zero-argument environment factory (each worker '
                              f'builds its share of agent.num_envs environments); received {type(environment).__name__}')
        if backend == 'local':
            raise ConfigError("Runner: asynchronous=True acts in workers: backend must be 'processes' (the default) "
                              "or 'ray', not 'local'")
        if seed is not None:
            seed = integer('Runner: seed', seed, minimum=0)
        integer('Runner: window', window, minimum=1)
        if workers is None:  # two when they split the environments evenly (one beside the learner on 2 cores)
            workers = 2 if getattr(agent, 'num_envs', 1) % 2 == 0 else 1
        self._overlapped = Overlapped(agent, environment, workers=workers, backend=backend or 'processes',
                                      timeout=timeout, seed=0 if seed is None else seed)
        try:
            self._setup(agent, None, seed, summary_dir, window, None)
        except BaseException:
            self.close()
            raise

    def _setup(self, agent: Any, environment: Any, seed: int | None, summary_dir: str | None, window: int,
               preprocessing: Any) -> None:
        if seed is not None:
            seed = integer('Runner: seed', seed, minimum=0)
        self.window = integer('Runner: window', window, minimum=1)
        self.agent, self.environment, self.seed = agent, environment, seed
        if environment is None:  # asynchronous: the workers hold the environments and check them
            self.num_envs, self.preprocessing = agent.num_envs, None
            self._setup_writer(summary_dir)
            return
        if not isinstance(environment, BatchedEnvironment):  # a VectorEnvironment, an EnvPoolBridge, ...
            raise ConfigError(f'Runner: expected an Environment, a VectorEnvironment or a list of environments; '
                              f'received {type(environment).__name__}')
        self.num_envs = environment.num_envs
        if preprocessing is not None:
            from modalbridge.preprocess.stack import Stack
            if not isinstance(preprocessing, Stack):
                preprocessing = Stack(environment.states, preprocessing, num_envs=self.num_envs)
            if preprocessing.num_envs != self.num_envs:
                raise ConfigError(f'Runner: the preprocessing stack is for {preprocessing.num_envs} environments, '
                                  f'the environment has {self.num_envs}')
        self.preprocessing = preprocessing
        produced = dict(preprocessing.states if preprocessing is not None else environment.states)
        if {k: (v.shape, v.dtype) for k, v in produced.items()} != \
                {k: (v.shape, v.dtype) for k, v in agent.states.items()}:
            raise ConfigError('Runner: the agent was built for states '
                              f'{ {k: v.shape for k, v in agent.states.items()} }, but the environment'
                              f'{" after preprocessing" if preprocessing is not None else ""} gives '
                              f'{ {k: v.shape for k, v in produced.items()} }')
        parallel = getattr(agent, 'parallel', self.num_envs)
        if parallel != self.num_envs:
            raise ConfigError(f'Runner: the agent acts for parallel={parallel} environments, '
                              f'the environment has {self.num_envs}')
        self._setup_writer(summary_dir)

    def _setup_writer(self, summary_dir: str | None) -> None:
        self.writer = None
        if summary_dir is not None:
            try:
                import tensorboard  # noqa: F401 - tf.summary needs it to write scalars
            except ImportError:
                raise ConfigError(TENSORBOARD_MISSING) from None
            import tensorflow as tf
            self.writer = tf.summary.create_file_writer(os.fspath(summary_dir))
        self.history = History(window=self.window)
        self.timesteps = 0

    def close(self) -> None:
        """Closes the environments the Runner built from factories (its workers too); not the ones given."""
        if self._owned is not None:
            self._owned.close()
        if self._overlapped is not None:
            self._overlapped.close()

    def __enter__(self) -> 'Runner':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def episode_returns(self) -> list[float]:
        """The returns of the current run's last `window` episodes."""
        return self.history.episode_returns

    @property
    def episode_lengths(self) -> list[int]:
        return self.history.episode_lengths

    @property
    def episodes(self) -> int:
        """Episodes finished in the current run."""
        return self.history.episodes

    def _process(self, states: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        return self.preprocessing(states) if self.preprocessing is not None else states

    def run(self, episodes: int | None = None, timesteps: int | None = None,
            max_episode_timesteps: int | None = None, callback: Callable[['Runner'], Any] | None = None,
            evaluate: bool = False, progress: bool = True, log_every: float = 30.0) -> History:
        """Runs until `episodes` episodes finished or `timesteps` steps were taken (either or both).

        `progress`: a progress bar on a terminal, else a plain line every
        `log_every` seconds (and one at the end); False for silence.
        `evaluate` acts deterministically without learning (see also
        `modalbridge.agents.evaluation.evaluate`).
        """
        for key, value in (('episodes', episodes), ('timesteps', timesteps),
                           ('max_episode_timesteps', max_episode_timesteps)):
            if value is not None:
                integer(f'run: {key}', value, minimum=1)
        if episodes is None and timesteps is None:
            raise ConfigError('run: give episodes=, timesteps= or both')
        evaluate, progress = boolean('run: evaluate', evaluate), boolean('run: progress', progress)
        log_every = number('run: log_every', log_every, minimum=0, inclusive=False)
        if callback is not None and not callable(callback):
            raise ConfigError(f'run: callback must be a function callback(runner); received {callback!r}')
        env, agent = self.environment, self.agent
        self.history = history = History(window=self.window)
        if self._overlapped is not None:
            if evaluate:
                raise ConfigError('run: evaluate=True acts here, without learning; the asynchronous Runner acts in '
                                  'its workers: use modalbridge.agents.evaluation.evaluate(agent, environment)')
            if max_episode_timesteps is not None:
                self._overlapped.max_episode_timesteps = max_episode_timesteps
            log = _Progress(episodes or timesteps or 0, 'episode' if episodes else 'step', progress, log_every)
            return self._run_asynchronous(history, episodes, timesteps, callback, log)
        if max_episode_timesteps is not None:
            env.max_episode_timesteps = max_episode_timesteps
        log = _Progress(episodes or timesteps or 0, 'episode' if episodes else 'step', progress, log_every)
        start = time.perf_counter()
        if self.preprocessing is not None:
            self.preprocessing.reset()
        if hasattr(agent, 'reset'):
            agent.reset()
        states = self._process(env.reset(seed=self.seed))
        if self.seed is not None:
            self.seed += self.num_envs
        returns = np.zeros(self.num_envs)
        lengths = np.zeros(self.num_envs, np.int64)
        stop = False
        try:
            while not stop:
                actions = agent.act(states, deterministic=evaluate, independent=evaluate)
                step = env.execute(actions)
                history.timesteps += self.num_envs
                self.timesteps += self.num_envs
                returns += step.reward
                lengths += 1
                finished = step.info['final_mask']
                final_states = step.info.get('final_states')
                if finished.any() and self.preprocessing is not None:
                    # the final states continue their episode's memory (without recording them),
                    # then the finished environments start anew
                    final_states = self.preprocessing(final_states, update=False)
                    self.preprocessing.reset(finished)
                if not evaluate and agent.observe(step.reward, step.terminal, final_states=final_states):
                    history.updates += 1
                    self._update_metrics(history)
                states = self._process(step.states)
                for index in np.flatnonzero(finished):
                    episode_return, length = float(returns[index]), int(lengths[index])
                    returns[index], lengths[index] = 0.0, 0
                    stop = self._ended(history, episode_return, length, callback, episodes) or stop
                if timesteps is not None and history.timesteps >= timesteps:
                    stop = True
                history.seconds = time.perf_counter() - start
                log.update(history, self.num_envs, int(np.count_nonzero(finished)))
        finally:
            self._end_run(history, log, start)
        return history

    def _run_asynchronous(self, history: History, episodes: int | None, timesteps: int | None,
                          callback: Callable[['Runner'], Any] | None, log: '_Progress') -> History:
        """`run` with the workers acting (`Overlapped`): one update per rollout of ``n_steps * num_envs``
        steps, whose finished episodes are counted, called back and logged when it is learned from."""
        overlapped, batch = self._overlapped, self._overlapped.batch
        start = time.perf_counter()
        stop = False
        try:
            while not stop:
                # a run that ends on `timesteps` launches no rollout past it; one that ends on episodes or a
                # callback leaves the next rollout in flight, and the next run learns from it first
                last = timesteps is not None and history.timesteps + batch >= timesteps
                finished = overlapped.step(launch_next=not last)
                history.timesteps += batch
                self.timesteps += batch
                history.updates += 1
                history.seconds = time.perf_counter() - start
                self._update_metrics(history)
                for episode_return, length in finished:
                    stop = self._ended(history, episode_return, length, callback, episodes) or stop
                if timesteps is not None and history.timesteps >= timesteps:
                    stop = True
                log.update(history, batch, len(finished))
        finally:
            self._end_run(history, log, start)
        return history

    def _end_run(self, history: History, log: '_Progress', start: float) -> None:
        """A run's end, however it ends: its time, the last progress line, TensorBoard flushed."""
        history.seconds = time.perf_counter() - start
        log.close(history)
        if self.writer is not None:
            self.writer.flush()

    def record_evaluation(self, evaluation: Any, prefix: str = 'eval') -> None:
        """Writes an `Evaluation` (mean return and length, success rate) to TensorBoard at the current
        timestep, as ``eval/mean_return`` etc.; does nothing without `summary_dir`."""
        if self.writer is None:
            return
        import tensorflow as tf
        with self.writer.as_default(step=self.timesteps):
            tf.summary.scalar(f'{prefix}/mean_return', evaluation.mean_return)
            tf.summary.scalar(f'{prefix}/mean_length', evaluation.mean_length)
            if evaluation.success_rate is not None:
                tf.summary.scalar(f'{prefix}/success_rate', evaluation.success_rate)
        self.writer.flush()

    def _update_metrics(self, history: History) -> None:
        update = getattr(self.agent, 'last_update', None)
        scalars = {}
        if isinstance(update, Mapping):
            for key, value in update.items():
                number_like = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
                if number_like or (isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in 'iuf'):
                    value = float(value)
                    if math.isfinite(value):
                        scalars[str(key)] = value
        history.metrics = scalars
        if self.writer is not None:
            import tensorflow as tf
            with self.writer.as_default(step=self.timesteps):
                for key, value in scalars.items():
                    tf.summary.scalar(f'losses/{key}', value)
                if history.seconds > 0:
                    tf.summary.scalar('charts/SPS', history.timesteps / history.seconds)

    def _ended(self, history: History, episode_return: float, length: int,
               callback: Callable[['Runner'], Any] | None, episodes: int | None) -> bool:
        """Records a finished episode and calls back; whether the run stops (the callback returned a
        falsy result other than None, or `episodes` have finished)."""
        self._finish(history, episode_return, length)
        result = callback(self) if callback is not None else None
        return (result is not None and not result) or (episodes is not None and history.episodes >= episodes)

    def _finish(self, history: History, episode_return: float, length: int) -> None:
        history.add(episode_return, length, self.timesteps)
        if self.writer is not None:
            import tensorflow as tf
            with self.writer.as_default(step=self.timesteps):
                tf.summary.scalar('charts/episodic_return', episode_return)
                tf.summary.scalar('charts/episodic_length', length)


def _factories(environment: Any) -> bool:
    """Whether `environment` is a factory or a non-empty list of factories (not environments)."""
    items = environment if isinstance(environment, (list, tuple)) else [environment]
    return bool(items) and all(callable(item) and not isinstance(item, (Environment, BatchedEnvironment))
                               for item in items)


def _build(agent: Any, environment: Any, backend: str | None, workers: int | None,
           timeout: float) -> VectorEnvironment:
    if not _factories(environment):
        raise ConfigError(f'Runner: backend= and workers= need a zero-argument environment factory or a list of '
                          f'them (each worker builds its own); received {type(environment).__name__}')
    if isinstance(environment, (list, tuple)):
        factories = list(environment)
    else:
        factories = [environment] * integer('Runner: agent.parallel', getattr(agent, 'parallel', 1), minimum=1)
    return VectorEnvironment(factories, backend=backend or 'local', workers=workers, timeout=timeout)


class _Progress:
    """A tqdm bar on a terminal; otherwise a plain line every `every` seconds."""

    def __init__(self, total: int, unit: str, enabled: bool, every: float):
        self.unit, self.enabled, self.every = unit, enabled, every
        self.terminal = enabled and sys.stderr.isatty()
        self.bar = tqdm(total=total, unit=unit, leave=False, dynamic_ncols=True) if self.terminal else None
        self.total, self.last = total, time.perf_counter()

    def update(self, history: History, steps: int, finished: int) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(finished if self.unit == 'episode' else steps)
            if finished or history.metrics:
                self.bar.set_postfix(self.fields(history), refresh=False)
        elif time.perf_counter() - self.last >= self.every:
            self.last = time.perf_counter()
            self.line(history)

    def fields(self, history: History) -> dict[str, str]:
        fields = {}
        if history.episode_returns:
            fields['return'] = f'{history.mean_return(100):.2f}'
        if history.seconds > 0:
            fields['SPS'] = f'{history.timesteps / history.seconds:.0f}'
        fields.update({key: f'{value:.3g}' for key, value in list(history.metrics.items())[:4]})
        return fields

    def line(self, history: History) -> None:
        done = history.episodes if self.unit == 'episode' else history.timesteps
        fields = '  '.join(f'{key} {value}' for key, value in self.fields(history).items())
        print(f'{done}/{self.total} {self.unit}s  {fields}', file=sys.stderr, flush=True)

    def close(self, history: History) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            self.line(history)

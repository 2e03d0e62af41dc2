"""`Runner`: the loop between an agent, an environment and a preprocessing stack."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Mapping

import numpy as np
from tqdm.auto import tqdm

from modalbridge.agents.agent import Agent
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.vector import VectorEnvironment
from modalbridge.preprocess.stack import Stack


TENSORBOARD_MISSING = ("Runner: summary_dir needs the tensorboard package "
                       "(pip install 'modalbridge[tensorboard]')")


@dataclasses.dataclass
class History:
    """What `Runner.run` returns."""

    episode_returns: list[float]
    episode_lengths: list[int]
    timesteps: int
    seconds: float
    updates: int

    def mean_return(self, last: int = 10) -> float:
        return float(np.mean(self.episode_returns[-last:])) if self.episode_returns else float('nan')


class Runner:
    """Runs an agent on an environment (single, vector, or a list of them).

    >>> runner = Runner(agent, VectorEnvironment([GymBridge('CartPole-v1') for _ in range(8)]))
    >>> history = runner.run(episodes=300)
    >>> history.episode_returns[-10:]

    `preprocessing` is a `Stack` or a declaration (built here on the TF
    backend for the environment's batch); it is reset per finished
    environment. `callback(runner)` is called after each finished episode
    and stops the run by returning False. `summary_dir` writes TensorBoard
    scalars (episode return and length).
    """

    def __init__(self, agent: Agent, environment: Any, preprocessing: Any = None, seed: int | None = None,
                 summary_dir: str | None = None):
        if isinstance(environment, (list, tuple)):
            environment = VectorEnvironment(list(environment))
        elif isinstance(environment, Environment):
            environment = VectorEnvironment([environment])
        if not isinstance(environment, VectorEnvironment):
            raise ConfigError(f'Runner: expected an Environment, a VectorEnvironment or a list of environments; '
                              f'received {type(environment).__name__}')
        self.agent, self.environment, self.seed = agent, environment, seed
        self.num_envs = environment.num_envs
        if preprocessing is not None and not isinstance(preprocessing, Stack):
            preprocessing = Stack(environment.states, preprocessing, num_envs=self.num_envs)
        if preprocessing is not None and preprocessing.num_envs != self.num_envs:
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
        if agent.parallel != self.num_envs:
            raise ConfigError(f'Runner: the agent acts for parallel={agent.parallel} environments, '
                              f'the environment has {self.num_envs}')
        self.writer = None
        if summary_dir is not None:
            try:
                import tensorboard  # noqa: F401 - tf.summary needs it to write scalars
            except ImportError:
                raise ConfigError(TENSORBOARD_MISSING) from None
            import tensorflow as tf
            self.writer = tf.summary.create_file_writer(summary_dir)
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self.timesteps = 0

    def _process(self, states: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        return self.preprocessing(states) if self.preprocessing is not None else states

    def run(self, episodes: int | None = None, timesteps: int | None = None,
            max_episode_timesteps: int | None = None, callback: Callable[['Runner'], Any] | None = None,
            evaluate: bool = False, progress: bool = True) -> History:
        """Runs until `episodes` episodes finished or `timesteps` steps were taken (either or both)."""
        for key, value in (('episodes', episodes), ('timesteps', timesteps),
                           ('max_episode_timesteps', max_episode_timesteps)):
            if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
                raise ConfigError(f'run: {key} must be a positive int; received {value!r}')
        if episodes is None and timesteps is None:
            raise ConfigError('run: give episodes=, timesteps= or both')
        env, agent = self.environment, self.agent
        if max_episode_timesteps is not None:
            env.max_episode_timesteps = max_episode_timesteps
        start, first_episode = time.perf_counter(), len(self.episode_returns)
        bar = tqdm(total=episodes or timesteps, unit='episode' if episodes else 'step', disable=not progress,
                   leave=False, dynamic_ncols=True)
        if self.preprocessing is not None:
            self.preprocessing.reset()
        agent.reset()
        states = self._process(env.reset(seed=self.seed))
        if self.seed is not None:
            self.seed += self.num_envs
        returns = np.zeros(self.num_envs)
        lengths = np.zeros(self.num_envs, np.int64)
        steps, stop = 0, False
        try:
            while not stop:
                actions = agent.act(states, deterministic=evaluate, independent=evaluate)
                step = env.execute(actions)
                steps += self.num_envs
                self.timesteps += self.num_envs
                returns += step.reward
                lengths += 1
                finished = step.info['final_mask']
                final_states = None
                if finished.any() and self.preprocessing is not None:
                    # the final states continue their episode's memory (without recording them),
                    # then the finished environments start anew
                    final_states = self.preprocessing(step.info['final_states'], update=False)
                    self.preprocessing.reset(finished)
                elif finished.any():
                    final_states = step.info['final_states']
                if not evaluate:
                    agent.observe(step.reward, step.terminal, final_states=final_states)
                states = self._process(step.states)
                for index in np.flatnonzero(finished):
                    self._finish(float(returns[index]), int(lengths[index]))
                    returns[index], lengths[index] = 0.0, 0
                    if episodes:
                        bar.update(1)
                    if callback is not None and callback(self) is False:
                        stop = True
                    if episodes is not None and len(self.episode_returns) - first_episode >= episodes:
                        stop = True
                if not episodes:
                    bar.update(self.num_envs)
                if finished.any():
                    bar.set_postfix(mean_return=f'{np.mean(self.episode_returns[-100:]):.2f}', refresh=False)
                if timesteps is not None and steps >= timesteps:
                    stop = True
        finally:
            bar.close()
        return History(self.episode_returns[first_episode:], self.episode_lengths[first_episode:], steps,
                       time.perf_counter() - start, agent.updates)

    def _finish(self, episode_return: float, length: int) -> None:
        self.episode_returns.append(episode_return)
        self.episode_lengths.append(length)
        if self.writer is not None:
            import tensorflow as tf
            with self.writer.as_default():
                tf.summary.scalar('episode_return', episode_return, step=len(self.episode_returns))
                tf.summary.scalar('episode_length', length, step=len(self.episode_returns))


"""`Overlapped`: acting in worker processes or Ray actors while the learner learns (APPO / V-trace A2C, a policy lag of one update).

The synchronous mode (``Runner(..., backend=...)``) keeps the agent acting
here, so acting waits for learning. Here each worker (`policy_workers`: a
spawned process of this machine, or a Ray actor) holds environments and a
copy of the agent's `Policy` (built from the agent's config, weights sent
once per rollout) and collects whole `n_steps` rollouts. The learner never
waits for its own update before the next collection starts::

    rollout k arrives (collected with weights w_{k-1})
    collection k+1 starts with the current weights w_k      <- workers act ...
    the learner updates on rollout k: w_k -> w_{k+1}         <- ... while this runs

so every rollout is learned from with weights exactly **one update newer**
than the ones that acted (the first with the same weights). The lag is fixed,
not timing-dependent, so a fixed seed gives the same run every time. The
off-policy correction uses the behaviour log-probabilities the workers
record:

- PPO: its clipped surrogate on them, as Sample Factory's APPO; values and
  GAE come from the behaviour policy.
- A2C: V-trace (IMPALA; `losses.vtrace`, rho_bar = c_bar = 1) with the
  learner's current log-probabilities and values, taken from its update's
  own forward pass as IMPALA does (one compiled call per update); its
  ``gae_lambda`` is not used.

Recurrent policies: each worker carries its environments' core states
across rollouts and sends the core state each rollout started from and
which steps started an episode, so the learner unrolls exactly what acted.
The agent's own preprocessing runs in the workers' policies (inside their
compiled act, as in the agent); the learner receives network inputs. Each
worker keeps its environments' preprocessing memory (frame sequences);
running statistics (``running_standardize``) are refused: each worker would
learn its own, apart from the learner's. A2C's V-trace bootstraps from the
last states with the learner's value but the core state the behaviour policy
reached there.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from modalbridge.agents import returns as returns_lib
from modalbridge.agents.a2c import A2C
from modalbridge.agents.on_policy import Rollout
from modalbridge.agents.policy_workers import ProcessPolicyWorkers, RayPolicyWorkers, WeightsVector, columns_layout
from modalbridge.agents.ppo import PPO
from modalbridge.agents.runner import History
from modalbridge.bridges.arguments import choice, integer, number
from modalbridge.bridges.environment import Environment
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure

BACKENDS: dict[str, type[ProcessPolicyWorkers] | type[RayPolicyWorkers]] = dict(processes=ProcessPolicyWorkers,
                                                                                 ray=RayPolicyWorkers)


class Overlapped:
    """`agent` (a `PPO` or an `A2C`) learning from `workers` that act with its weights of one update before.

    `agent.num_envs` environments in all, split evenly over the workers;
    `factory` builds one (in the worker). ``backend='processes'`` runs the
    workers as spawned processes of this machine (the factory must be
    picklable), ``'ray'`` as Ray actors (a local Ray with
    ``num_cpus=workers`` unless Ray is initialized). `run(timesteps)`
    returns a `History` like `Runner.run`. A worker that dies or does not
    answer within `timeout` seconds is an `EnvironmentFailure` naming it,
    and so is any error of its environments; after any failure (or Ctrl-C)
    the workers are stopped. A dead Ray worker is first restarted by Ray, up
    to `max_restarts` times (default 2; Ray only): its partial rollout is
    dropped, the restarted actor collects its share again with the same
    weights, and a `RuntimeWarning` names it. See the module docstring for the lag and the
    correction. As the serial buffer's, `agent.last_rollout`'s states,
    samples, log-probabilities and values are views (of shared memory,
    with worker processes), valid until the collection after next.

    >>> from modalbridge.agents import RandomAgent
    >>> from modalbridge.bridges import GymBridge
    >>> env = GymBridge('CartPole-v1')
    >>> Overlapped(RandomAgent(env.states, env.actions, parallel=2), GymBridge)
    Traceback (most recent call last):
    ...
    modalbridge.bridges.errors.ConfigError: Overlapped: needs a PPO (clipping corrects the policy lag) or an A2C ...
    """

    def __init__(self, agent: PPO | A2C, factory: Callable[[], Environment], workers: int = 2,
                 backend: str = 'processes', timeout: float = 300.0, seed: int = 0,
                 max_episode_timesteps: int | None = None, max_restarts: int | None = None):
        if not isinstance(agent, (PPO, A2C)):
            raise ConfigError(f'Overlapped: needs a PPO (clipping corrects the policy lag) or an A2C agent (V-trace '
                              f'does); received {type(agent).__name__}')
        stack = agent.policy.stack
        running = sorted({key.rsplit('/', 1)[0] for key in (stack.state() if stack else {}) if key.endswith('/frozen')})
        if running:
            raise ConfigError(f'Overlapped: the agent\'s preprocessing has running statistics ({", ".join(running)}); '
                              'each worker would learn its own apart from the learner\'s: give it to the environment '
                              'side (Preprocessing in the factory) or leave it out')
        if not callable(factory) or isinstance(factory, Environment):
            raise ConfigError('Overlapped: expected a zero-argument environment factory')
        workers = integer('Overlapped: workers', workers, minimum=1, maximum=agent.num_envs)
        if agent.num_envs % workers:
            raise ConfigError(f'Overlapped: agent.num_envs={agent.num_envs} does not split evenly over '
                              f'workers={workers}')
        backend = choice('Overlapped: backend', backend, tuple(BACKENDS))
        if max_restarts is not None and backend != 'ray':
            raise ConfigError(f"Overlapped: max_restarts= needs backend='ray' (Ray restarts a dead actor); a dead "
                              f'worker process is an EnvironmentFailure; received backend={backend!r}')
        restarts = dict(max_restarts=integer('Overlapped: max_restarts', 2 if max_restarts is None else max_restarts,
                                             minimum=0)) if backend == 'ray' else {}
        self.timeout = number('Overlapped: timeout', timeout, minimum=0, inclusive=False)
        self.seed = integer('Overlapped: seed', seed, minimum=0)
        if max_episode_timesteps is not None:
            integer('Overlapped: max_episode_timesteps', max_episode_timesteps, minimum=1)
        self.agent, self.count = agent, agent.num_envs // workers
        config = agent.config
        policy = dict(states=dict(agent.states), actions=dict(agent.actions), network=config.network,
                      shared_network=config.shared_network, preprocessing=stack.config() if stack else None)
        shares = [(self.count, index * self.count, self.seed + 7919 * index) for index in range(workers)]
        self._weights = WeightsVector(agent.policy.model)
        layout = columns_layout(agent.policy, config.n_steps, agent.num_envs)
        self.max_episode_timesteps = max_episode_timesteps
        self._in_flight = False
        self.pool: ProcessPolicyWorkers | RayPolicyWorkers | None = BACKENDS[backend](factory, shares, policy,
                                                                                      self.timeout, layout, **restarts)

    @property
    def batch(self) -> int:
        """Environment steps per rollout (and per update): ``n_steps * num_envs``."""
        return self.agent.config.n_steps * self.agent.num_envs

    def run(self, timesteps: int) -> History:
        """Collects and learns until `timesteps` environment steps; returns the History (without a
        progress bar, callbacks or TensorBoard: ``Runner(..., asynchronous=True)`` has them)."""
        timesteps = integer('run: timesteps', timesteps, minimum=1)
        history = History()
        start = time.perf_counter()
        while history.timesteps < timesteps:
            episodes = self.step(launch_next=history.timesteps + self.batch < timesteps)
            history.timesteps += self.batch
            for episode_return, length in episodes:
                history.add(episode_return, length, history.timesteps)
            history.updates += 1
            history.metrics = dict(self.agent.last_update)
            history.seconds = time.perf_counter() - start
        return history

    def step(self, launch_next: bool = True) -> list[tuple[float, int]]:
        """One update: gathers the rollout in flight (launching one first when none is), launches the
        next with the current weights unless `launch_next` is False (the last of a run: else it stays in
        flight and the next call learns from it), then learns; returns the ``(return, length)`` of the
        episodes that ended in the rollout. The update's metrics are in ``agent.last_update``."""
        if self.pool is None:
            raise EnvironmentFailure('Overlapped: closed (after close() or a worker failure); create a new one')
        pool = self.pool
        try:
            if not self._in_flight:
                self._launch(pool)
            columns, parts = pool.gather()
            self._in_flight = False
            if launch_next:
                self._launch(pool)
            return self._learn(columns, parts)
        except BaseException:  # a failure, Ctrl-C: a rollout may be in flight and will never be learned from
            self.close(polite=False)
            raise

    def _launch(self, pool: ProcessPolicyWorkers | RayPolicyWorkers) -> None:
        config = self.agent.config
        # PPO bootstraps from the behaviour values (the workers'), V-trace from the learner's own
        pool.launch(self._weights.pack(), config.n_steps, config.discount, last_value=isinstance(self.agent, PPO),
                    max_episode_timesteps=self.max_episode_timesteps)
        self._in_flight = True

    def _learn(self, columns: dict[str, np.ndarray], parts: list[dict]) -> list[tuple[float, int]]:
        agent, config = self.agent, self.agent.config
        joined = lambda which: {key: np.concatenate([part[which][key] for part in parts])  # noqa: E731
                                for key in parts[0][which]}
        core = joined('core')
        steps = config.n_steps  # the states columns have one row more: the states after the rollout
        every = {name[len('states/'):]: value for name, value in columns.items() if name.startswith('states/')}
        states = {name: value[:steps] for name, value in every.items()}
        samples = {name[len('samples/'):]: value for name, value in columns.items() if name.startswith('samples/')}
        log_prob, values, rewards, ended, first = (columns[name] for name in
                                                   ('log_prob', 'value', 'reward', 'ended', 'first'))
        episodes = [episode for part in parts for episode in part['episodes']]
        agent.timesteps += self.batch
        agent.episodes += len(episodes)
        if isinstance(agent, PPO):
            last_value = np.concatenate([part['last_value'] for part in parts])
            returns, advantages = returns_lib.gae(rewards, values, ended, last_value, config.discount,
                                                  config.gae_lambda)
        else:  # V-trace with the learner's own log-probabilities and values, inside its update
            last = {**{name: value[steps] for name, value in every.items()}, **joined('last_core')}
            metrics, values, returns, advantages = agent._learn_vtrace(  # noqa: SLF001
                states, samples, log_prob, rewards, ended, last, core, first)
        rollout = Rollout(states, samples, log_prob, values, rewards.copy(), returns, advantages, core, first.copy())
        # the learner's update on an external rollout (PPO), or the one V-trace's call made
        agent.last_update = agent._learn(rollout) if isinstance(agent, PPO) else metrics  # noqa: SLF001
        agent.last_rollout = rollout
        agent.updates += 1
        return episodes

    def close(self, polite: bool = True) -> None:
        """Stops the workers (`polite`: asks them to close first); calling it again does nothing."""
        if self.pool is not None:  # a worker still collecting would answer no polite close: stopped at once
            self.pool.close(polite and not self._in_flight)
            self.pool = None

    def __enter__(self) -> 'Overlapped':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

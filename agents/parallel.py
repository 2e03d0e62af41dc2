"""`Overlapped`: acting in Ray workers while the learner learns (APPO / V-trace A2C, a policy lag of one update).

The synchronous mode (``Runner(..., backend=...)``) keeps the agent acting
here, so acting waits for learning. Here each Ray worker holds environments
and a copy of the agent's `Policy` (built from the agent's config, weights
sent through the object store) and collects whole `n_steps` rollouts. The
learner never waits for its own update before the next collection starts::

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
- A2C: V-trace (IMPALA; `returns.vtrace`, rho_bar = c_bar = 1) with the
  learner's current log-probabilities and values; its ``gae_lambda`` is not
  used.

Stated limits: feed-forward networks; preprocessing belongs to the
environment side (``preprocessing=`` of the workers), not to the agent.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from modalbridge.agents import returns as returns_lib
from modalbridge.agents.a2c import A2C
from modalbridge.agents.on_policy import Rollout, tensors
from modalbridge.agents.ppo import PPO
from modalbridge.agents.runner import History
from modalbridge.bridges.arguments import integer, number
from modalbridge.bridges.batch import LocalBatch
from modalbridge.bridges.environment import Environment, Terminal
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure


class PolicyWorker:
    """Environments and a Policy copy; `collect` returns one rollout of `n_steps` (a Ray actor's body).

    >>> from modalbridge.bridges import GymBridge
    >>> env = GymBridge('CartPole-v1')
    >>> worker = PolicyWorker(lambda: GymBridge('CartPole-v1'), 2, 0, dict(states=env.states, actions=env.actions),
    ...                       seed=0)
    >>> part = worker.collect(None, n_steps=3, discount=0.99)
    >>> part['log_prob'].shape, part['last_value'].shape
    ((3, 2), (2,))
    """

    def __init__(self, factory: Callable[[], Environment], count: int, first: int, policy: dict, seed: int):
        from modalbridge.agents.policy import Policy
        self.count = count
        self.batch = LocalBatch([factory() for _ in range(count)], first)
        self.policy = Policy(**policy, num_envs=count, seed=seed)
        self.states = self.batch.reset([seed + first + i for i in range(count)])
        self.first = np.ones(count, bool)
        self.returns, self.lengths = np.zeros(count), np.zeros(count, np.int64)

    def pid(self) -> int:
        import os
        return os.getpid()

    def collect(self, weights: Any, n_steps: int, discount: float) -> dict[str, Any]:
        if weights is not None:
            self.policy.model.set_weights(weights)
        count, policy = self.count, self.policy
        columns: dict[str, list] = dict(states=[], samples=[], log_prob=[], value=[], reward=[], ended=[])
        episodes = []
        for _ in range(n_steps):
            actions, extras = policy.act(self.states, update=True, first=self.first)
            step = self.batch.execute([{name: value[i] for name, value in actions.items()} for i in range(count)])
            reward = step.reward.copy()
            truncated = step.terminal == Terminal.TRUNCATED
            if truncated.any():  # bootstrap a cut episode from its last states' value
                values = policy.value(policy.preprocess(step.info['final_states']))
                reward[truncated] += discount * values[truncated]
            ended = step.terminal != Terminal.NONE
            for name, value in (('states', extras.get('states', self.states)), ('samples', extras['sample']),
                                ('log_prob', extras['log_prob']), ('value', extras['value']), ('reward', reward),
                                ('ended', ended)):
                columns[name].append(value)
            self.returns += step.reward
            self.lengths += 1
            for index in np.flatnonzero(ended):
                episodes.append((float(self.returns[index]), int(self.lengths[index])))
                self.returns[index], self.lengths[index] = 0.0, 0
            self.first, self.states = ended, step.states
        last_value = policy.value(policy.preprocess(self.states))
        stacked = {name: (np.stack(value) if name not in ('states', 'samples') else
                          {key: np.stack([row[key] for row in value]) for key in value[0]})
                   for name, value in columns.items()}
        return dict(stacked, last_value=last_value, last_states=policy.preprocess(self.states), episodes=episodes)


class Overlapped:
    """`agent` (a `PPO` or an `A2C`) learning from Ray `workers` that act with its weights of one update before.

    `agent.num_envs` environments in all, split evenly over the workers;
    `factory` builds one (in the worker). `run(timesteps)` returns a
    `History` like `Runner.run`. A worker that dies or does not answer
    within `timeout` seconds is an `EnvironmentFailure` naming it. Starts a
    local Ray (``num_cpus=workers``) unless Ray is initialized. See the
    module docstring for the lag and the correction.
    """

    def __init__(self, agent: PPO | A2C, factory: Callable[[], Environment], workers: int = 2, timeout: float = 300.0,
                 seed: int = 0):
        if not isinstance(agent, (PPO, A2C)):
            raise ConfigError(f'Overlapped: needs a PPO (clipping corrects the policy lag) or an A2C agent (V-trace '
                              f'does); received {type(agent).__name__}')
        if agent.policy.recurrent:
            raise ConfigError('Overlapped: the agent has a recurrent core (lstm/gru); the asynchronous mode runs '
                              'feed-forward policies only for now')
        if agent.config.preprocessing is not None:
            raise ConfigError('Overlapped: the agent has preprocessing; give it to the environment side '
                              '(VectorEnvironment/Preprocessing in the factory) so the workers run it')
        if not callable(factory) or isinstance(factory, Environment):
            raise ConfigError('Overlapped: expected a zero-argument environment factory')
        workers = integer('Overlapped: workers', workers, minimum=1, maximum=agent.num_envs)
        if agent.num_envs % workers:
            raise ConfigError(f'Overlapped: agent.num_envs={agent.num_envs} does not split evenly over '
                              f'workers={workers}')
        self.timeout = number('Overlapped: timeout', timeout, minimum=0, inclusive=False)
        self.seed = integer('Overlapped: seed', seed, minimum=0)
        from modalbridge.bridges.ray_workers import _ray
        ray = self.ray = _ray()
        if not ray.is_initialized():
            ray.init(num_cpus=workers, include_dashboard=False, logging_level='WARNING')
        self.agent, self.count = agent, agent.num_envs // workers
        config = agent.config
        policy = dict(states=dict(agent.states), actions=dict(agent.actions), network=config.network,
                      shared_network=config.shared_network)
        actor = ray.remote(PolicyWorker).options(num_cpus=1, scheduling_strategy='SPREAD')
        self.workers = [actor.remote(factory, self.count, index * self.count, policy, self.seed + 7919 * index)
                        for index in range(workers)]

    def run(self, timesteps: int) -> History:
        """Collects and learns until `timesteps` environment steps; returns the History."""
        timesteps = integer('run: timesteps', timesteps, minimum=1)
        if not self.workers:
            raise EnvironmentFailure('Overlapped: closed (after close() or a worker failure); create a new one')
        history = History()
        start = time.perf_counter()
        pending: list[Any] | None = self._launch()
        while history.timesteps < timesteps:
            assert pending is not None  # launched whenever the loop goes on
            parts = self._gather(pending)
            pending = self._launch() if history.timesteps + self._batch < timesteps else None
            self._learn(parts, history)
            history.seconds = time.perf_counter() - start
        history.seconds = time.perf_counter() - start
        return history

    @property
    def _batch(self) -> int:
        return self.agent.config.n_steps * self.agent.num_envs

    def _launch(self) -> list[Any]:
        weights = self.ray.put(self.agent.policy.model.get_weights())
        config = self.agent.config
        return [worker.collect.remote(weights, config.n_steps, config.discount) for worker in self.workers]

    def _gather(self, refs: Sequence[Any]) -> list[dict]:
        ray = self.ray
        ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=self.timeout)
        if pending:
            index = list(refs).index(pending[0])
            self.close()
            raise EnvironmentFailure(f'Overlapped: Ray worker {index} did not return its rollout within '
                                     f'{self.timeout:g} s')
        parts = []
        for index, ref in enumerate(refs):
            try:
                parts.append(ray.get(ref))
            except ray.exceptions.RayError as error:
                self.close()
                raise EnvironmentFailure(f'Overlapped: Ray worker {index} failed: {type(error).__name__}: '
                                         f'{str(error).splitlines()[0] if str(error) else ""}', error) from None
        return parts

    def _learn(self, parts: list[dict], history: History) -> None:
        agent, config = self.agent, self.agent.config
        joined = {name: np.concatenate([part[name] for part in parts], axis=1)
                  for name in ('log_prob', 'value', 'reward', 'ended')}
        states = {name: np.concatenate([part['states'][name] for part in parts], axis=1) for name in parts[0]['states']}
        samples = {name: np.concatenate([part['samples'][name] for part in parts], axis=1)
                   for name in parts[0]['samples']}
        values = joined['value']
        if isinstance(agent, PPO):
            last_value = np.concatenate([part['last_value'] for part in parts])
            returns, advantages = returns_lib.gae(joined['reward'], values, joined['ended'], last_value,
                                                  config.discount, config.gae_lambda)
        else:  # V-trace with the learner's own log-probabilities and values
            target, _, current = agent.policy.evaluate(tensors(states), tensors(samples))
            shape = joined['log_prob'].shape
            values = current.numpy().reshape(shape)
            last_states = {name: np.concatenate([part['last_states'][name] for part in parts])
                           for name in parts[0]['last_states']}
            returns, advantages = returns_lib.vtrace(joined['log_prob'], target.numpy().reshape(shape),
                                                     joined['reward'], values, joined['ended'],
                                                     agent.policy.value(last_states), config.discount)
        # feed-forward policies only (see the module docstring): no core state, no episode starts to mark
        rollout = Rollout(states, samples, joined['log_prob'], values, joined['reward'], returns, advantages,
                          first=np.zeros(joined['reward'].shape, bool))
        steps = self._batch
        for part in parts:
            for episode_return, length in part['episodes']:
                history.add(episode_return, length, history.timesteps + steps)
        history.timesteps += steps
        agent.timesteps += steps
        agent.episodes += sum(len(part['episodes']) for part in parts)
        agent.last_rollout = rollout
        agent.last_update = agent._learn(rollout)  # noqa: SLF001 - the learner's update on an external rollout
        agent.updates += 1
        history.updates += 1
        history.metrics = dict(agent.last_update)

    def close(self) -> None:
        """Stops the workers; calling it again does nothing."""
        if self.ray.is_initialized():
            for worker in self.workers:
                try:
                    self.ray.kill(worker)
                except Exception:  # noqa: BLE001 - already gone
                    pass
        self.workers = []

    def __enter__(self) -> 'Overlapped':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

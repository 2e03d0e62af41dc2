"""Policy workers in spawned processes (`Overlapped(..., backend='processes')`): failures, Ctrl-C, no orphans."""

from __future__ import annotations

import os
import signal
import time

import gymnasium
import numpy as np
import pytest

from modalbridge.agents import PPO
from modalbridge.agents.parallel import Overlapped
from modalbridge.agents.policy_workers import PolicyWorker
from modalbridge.bridges import EnvironmentFailure, GymBridge
from tests.bridges.test_ray_workers import alive, wait_gone
from tests.bridges.test_workers import FailsAt


def cartpole() -> GymBridge:
    return GymBridge('CartPole-v1')


class Stalls(gymnasium.Wrapper):
    """CartPole whose 40th step sleeps far longer than any test's timeout."""

    def __init__(self):
        super().__init__(gymnasium.make('CartPole-v1'))
        self.calls = 0

    def step(self, action):
        self.calls += 1
        if self.calls == 40:
            time.sleep(600)
        return self.env.step(action)


def stalls() -> GymBridge:
    return GymBridge(Stalls())


def not_an_environment():
    return 'CartPole-v1'


def agent(num_envs: int = 4) -> PPO:
    env = cartpole()
    return PPO(env.states, env.actions, num_envs=num_envs, n_steps=16, batch_size=32, epochs=2, seed=0)


def test_a_worker_part_is_one_rollout_of_its_environments():
    env = cartpole()
    worker = PolicyWorker(cartpole, 3, 6, dict(states=env.states, actions=env.actions), seed=0)
    part = worker.collect(None, n_steps=5, discount=0.99)
    assert part['states']['state'].shape == (5, 3, 4) and part['samples']['action'].shape == (5, 3)
    assert part['log_prob'].shape == part['value'].shape == part['reward'].shape == part['ended'].shape == (5, 3)
    assert part['last_value'].shape == (3,) and part['last_states']['state'].shape == (3, 4)
    again = PolicyWorker(cartpole, 3, 6, dict(states=env.states, actions=env.actions), seed=0)
    np.testing.assert_array_equal(again.collect(None, n_steps=5, discount=0.99)['log_prob'], part['log_prob'])


def test_a_killed_worker_process_is_named_and_the_others_are_stopped():
    overlapped = Overlapped(agent(), cartpole, workers=2)
    overlapped.run(timesteps=64)
    pids = list(overlapped.pool.pids)
    os.kill(pids[1], signal.SIGKILL)
    with pytest.raises(EnvironmentFailure, match=rf'Overlapped: worker 1 \(process {pids[1]}\) failed '
                                                 r'\(exit code -9\) during collect'):
        overlapped.run(timesteps=64)
    assert wait_gone(pids) == []
    with pytest.raises(EnvironmentFailure, match='Overlapped: closed'):
        overlapped.run(timesteps=64)


def test_an_environment_error_in_a_worker_names_the_worker_and_the_error():
    overlapped = Overlapped(agent(), FailsAt(30), workers=2)
    pids = list(overlapped.pool.pids)
    with pytest.raises(EnvironmentFailure, match=r'Overlapped: worker 0 failed during collect: .*boom') as caught:
        overlapped.run(timesteps=256)
    assert isinstance(caught.value.original, RuntimeError)
    assert wait_gone(pids) == []


def test_a_worker_that_does_not_answer_within_the_timeout_is_named():
    overlapped = Overlapped(agent(num_envs=2), stalls, workers=2, timeout=3.0)
    pids = list(overlapped.pool.pids)
    with pytest.raises(EnvironmentFailure, match=r'Overlapped: worker 0 did not answer collect within 3 s'):
        overlapped.run(timesteps=256)
    assert wait_gone(pids) == []


def test_a_factory_that_fails_in_the_worker_is_named_at_construction():
    with pytest.raises(EnvironmentFailure, match='Overlapped: worker 0 could not build its environments and policy'):
        Overlapped(agent(), not_an_environment, workers=2)


def test_ctrl_c_in_the_learner_stops_the_workers(monkeypatch):
    learner = agent()
    overlapped = Overlapped(learner, cartpole, workers=2)
    pids = list(overlapped.pool.pids)
    calls = []

    def interrupted(rollout):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return PPO._learn(learner, rollout)
    monkeypatch.setattr(learner, '_learn', interrupted)
    with pytest.raises(KeyboardInterrupt):
        overlapped.run(timesteps=10_000)
    assert wait_gone(pids) == [] and overlapped.pool is None


def test_close_stops_the_workers_and_a_second_close_does_nothing():
    overlapped = Overlapped(agent(), cartpole, workers=2)
    pids = list(overlapped.pool.pids)
    assert all(alive(pid) for pid in pids)
    overlapped.close()
    overlapped.close()
    assert wait_gone(pids) == []

"""Runner(..., backend=, workers=): the same agent, the same updates, wherever the environments run."""

import numpy as np
import pytest

from modalbridge.agents import A2C, RandomAgent, Runner
from modalbridge.bridges import ConfigError, GymBridge, VectorEnvironment

CARTPOLE = 'CartPole-v1'
NUM_ENVS = 4


def cartpole():
    return GymBridge(CARTPOLE)


def train(backend, workers=None, timesteps=400):
    env = cartpole()
    agent = A2C(env.states, env.actions, parallel=NUM_ENVS, seed=0, learning_rate=1e-3)
    env.close()
    with Runner(agent, cartpole, seed=0, backend=backend, workers=workers) as runner:
        history = runner.run(timesteps=timesteps, max_episode_timesteps=60, progress=False)
    return [w.copy() for w in agent.policy.model.get_weights()], history


def test_processes_give_bit_identical_updates_to_the_serial_loop():
    serial, serial_history = train('local')
    remote, remote_history = train('processes', workers=2)
    assert serial_history.updates == remote_history.updates > 10
    assert serial_history.episode_returns == remote_history.episode_returns
    assert serial_history.metrics == remote_history.metrics
    for a, b in zip(serial, remote):
        np.testing.assert_array_equal(a, b)
    initial = A2C(cartpole().states, cartpole().actions, parallel=NUM_ENVS, seed=0).policy.model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(initial, serial))  # it did learn something


def test_ray_gives_bit_identical_updates_to_the_serial_loop():
    ray = pytest.importorskip('ray', reason="the 'ray' extra is not installed (pip install 'modalbridge[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level='WARNING')
    try:
        serial, serial_history = train('local')
        remote, remote_history = train('ray', workers=2)
    finally:
        ray.shutdown()
    assert serial_history.updates == remote_history.updates > 10
    assert serial_history.episode_returns == remote_history.episode_returns
    for a, b in zip(serial, remote):
        np.testing.assert_array_equal(a, b)


def test_a_factory_is_built_once_per_parallel_environment_and_closed_by_the_runner():
    env = cartpole()
    agent = RandomAgent(env.states, env.actions, parallel=3, seed=0)
    runner = Runner(agent, [cartpole] * 3, backend='processes', workers=2)
    assert runner.environment.num_envs == 3 and runner.environment.backend == 'processes'
    pids = runner.environment._workers.pids
    runner.run(timesteps=30, progress=False)
    runner.close()
    for process in runner.environment._workers.processes:
        assert not process.is_alive()
    assert len(pids) == 2


def test_a_refused_runner_stops_the_workers_it_started(monkeypatch):
    env = cartpole()
    agent = RandomAgent(env.states, env.actions, parallel=2, seed=0)
    built = []
    original = VectorEnvironment.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)
    monkeypatch.setattr(VectorEnvironment, '__init__', spy)
    with pytest.raises(ConfigError, match='parallel=2'):
        Runner(agent, [cartpole] * 3, backend='processes', workers=2)
    assert len(built) == 1
    assert not any(process.is_alive() for process in built[0]._workers.processes)


def test_the_runner_does_not_close_an_environment_it_was_given():
    env = cartpole()
    runner = Runner(RandomAgent(env.states, env.actions, seed=0), env)
    runner.close()
    assert env.reset(seed=0)['state'].shape == (4,)


@pytest.mark.parametrize('environment, kwargs, message', [
    (lambda: [cartpole()], dict(backend='processes'), 'need a zero-argument environment factory'),
    (lambda: cartpole, dict(backend='threads'), 'backend'),
    (lambda: cartpole, dict(backend='processes', workers=0), 'workers'),
    (lambda: cartpole, dict(workers=2), "workers= needs processes=True"),
])
def test_bad_backend_arguments_are_config_errors(environment, kwargs, message):
    env = cartpole()
    with pytest.raises(ConfigError, match=message):
        Runner(RandomAgent(env.states, env.actions, seed=0), environment(), **kwargs)

"""Runner(..., backend=, workers=): the same agent, the same updates, wherever the environments run."""

import time

import gymnasium
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


# -- the asynchronous mode: APPO with a policy lag of one update ------------------------------------------------

def appo_agent(**overrides):
    from modalbridge.agents import PPO
    env = cartpole()
    fields = dict(num_envs=8, n_steps=32, batch_size=256, epochs=20, gae_lambda=0.8, discount=0.98,
                  learning_rate=dict(type='linear', initial=1e-3, final=0.0, timesteps=100_000),
                  clip_range=dict(type='linear', initial=0.2, final=0.0, timesteps=100_000), seed=0)
    return PPO(env.states, env.actions, **{**fields, **overrides})


@pytest.fixture(scope='module')
def local_ray():
    ray = pytest.importorskip('ray', reason="the 'ray' extra is not installed (pip install 'modalbridge[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level='WARNING')
    yield ray
    ray.shutdown()


def test_the_asynchronous_runner_learns_cartpole_with_a_fixed_seed():
    agent = appo_agent()
    with Runner(agent, cartpole, asynchronous=True, workers=2) as runner:  # worker processes: no Ray needed
        history = runner.run(timesteps=30_000, progress=False)
    assert history.updates == agent.updates == 118 and history.timesteps == 30_208
    assert history.metrics and 'approx_kl' in history.metrics
    assert np.mean(history.episode_returns[-10:]) >= 300, history.episode_returns[-10:]


def test_the_asynchronous_runner_makes_overlapped_s_updates_with_the_runner_s_history_and_callbacks(tmp_path):
    from modalbridge.agents.parallel import Overlapped
    direct = appo_agent()
    with Overlapped(direct, cartpole, workers=2) as overlapped:
        expected = overlapped.run(timesteps=3 * 256)
    agent, called = appo_agent(), []
    with Runner(agent, cartpole, asynchronous=True, summary_dir=str(tmp_path)) as runner:
        history = runner.run(timesteps=3 * 256, callback=lambda r: called.append(r.history.episodes), progress=False)
    for a, b in zip(direct.policy.model.get_weights(), agent.policy.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history.updates == expected.updates == 3 and history.timesteps == expected.timesteps == 768
    assert history.episode_returns == expected.episode_returns and history.episodes > 10
    assert called == list(range(1, history.episodes + 1))
    assert history.metrics == pytest.approx(expected.metrics) and 'approx_kl' in history.metrics
    assert any(tmp_path.iterdir())  # TensorBoard events


def test_an_asynchronous_run_stopped_on_episodes_leaves_its_next_rollout_to_the_next_run():
    agent = appo_agent()
    with Runner(agent, cartpole, asynchronous=True) as runner:
        first = runner.run(episodes=3, max_episode_timesteps=10, progress=False)
        assert first.episodes >= 3 and first.updates == 1  # 8 environments cut at 10 steps: 24 episodes
        assert max(first.episode_lengths) <= 10
        assert runner._overlapped._in_flight  # the next rollout was launched before the update
        second = runner.run(timesteps=256, progress=False)
    assert second.updates == 1 and agent.updates == 2 and agent.timesteps == 512
    assert max(second.episode_lengths) <= 10
    assert runner._overlapped is None or runner._overlapped.pool is None  # closed with the Runner


def test_asynchronous_runner_configuration_errors():
    from modalbridge.agents.parallel import Overlapped
    env = cartpole()
    with pytest.raises(ConfigError, match='asynchronous=True needs one zero-argument environment factory'):
        Runner(appo_agent(), env, asynchronous=True)
    with pytest.raises(ConfigError, match='asynchronous=True needs one zero-argument environment factory'):
        Runner(appo_agent(), [cartpole, cartpole], asynchronous=True)
    with pytest.raises(ConfigError, match="backend must be 'processes' .* or 'ray', not 'local'"):
        Runner(appo_agent(), cartpole, asynchronous=True, backend='local')
    with pytest.raises(ConfigError, match='takes no Runner preprocessing'):
        Runner(appo_agent(), cartpole, asynchronous=True, preprocessing=dict(state=[dict(type='clip', low=-1.0,
                                                                                           high=1.0)]))
    with pytest.raises(ConfigError, match="Runner: asynchronous: expected True or False; received 'yes'"):
        Runner(appo_agent(), cartpole, asynchronous='yes')
    with pytest.raises(ConfigError, match='needs a PPO'):
        Runner(RandomAgent(env.states, env.actions, parallel=2, seed=0), cartpole, asynchronous=True)
    with pytest.raises(ConfigError, match='Runner: seed'):  # checked before any worker starts
        Runner(appo_agent(), cartpole, asynchronous=True, seed=-1)
    with pytest.raises(ConfigError, match='Overlapped: max_episode_timesteps'):
        Overlapped(appo_agent(), cartpole, max_episode_timesteps=0)
    odd = appo_agent(num_envs=3, batch_size=32)
    with Runner(odd, cartpole, asynchronous=True) as runner:  # 3 environments: one worker by default
        assert len(runner._overlapped.pool.processes) == 1
        with pytest.raises(ConfigError, match='evaluate=True acts here'):
            runner.run(episodes=1, evaluate=True)


def pendulum():
    return GymBridge('Pendulum-v1')


def test_a_factory_whose_environment_does_not_fit_the_agent_is_named():
    from modalbridge.bridges import EnvironmentFailure
    with pytest.raises(EnvironmentFailure, match=r"worker 0 could not build .*the agent was built for states "
                                                 r"\{'state': \(\(4,\), 'float32'\)\}, but the factory's environment has "
                                                 r"\{'state': \(\(3,\), 'float32'\)\}"):
        Runner(appo_agent(), pendulum, asynchronous=True, workers=1)


def test_overlapped_a2c_with_vtrace_learns_cartpole_with_a_fixed_seed():
    from modalbridge.agents.parallel import Overlapped
    env = cartpole()
    agent = A2C(env.states, env.actions, num_envs=8, n_steps=16, learning_rate=1e-3, optimizer='adam', seed=0)
    with Overlapped(agent, cartpole, workers=2) as overlapped:
        history = overlapped.run(timesteps=30_000)
    assert history.updates == 235
    assert np.mean(history.episode_returns[-10:]) >= 150, history.episode_returns[-10:]  # 298 when written


@pytest.fixture(params=['processes', 'ray'])
def backend(request):
    if request.param == 'ray':
        request.getfixturevalue('local_ray')
    return request.param


def test_overlapped_runs_are_reproducible_and_act_one_update_behind(backend):
    from modalbridge.agents.parallel import Overlapped
    weights, rollouts = [], []
    for _ in range(2):
        agent = appo_agent()
        initial = agent.policy.model.get_weights()
        seen = []
        learn = agent._learn

        def spy(rollout, learn=learn, agent=agent, seen=seen):
            seen.append((rollout.log_prob.copy(), [w.copy() for w in agent.policy.model.get_weights()],
                         {k: v.copy() for k, v in rollout.states.items()}, {k: v.copy() for k, v in rollout.samples.items()}))
            return learn(rollout)
        agent._learn = spy
        with Overlapped(agent, cartpole, workers=2, backend=backend) as overlapped:
            overlapped.run(timesteps=3 * 256)
        weights.append(agent.policy.model.get_weights())
        rollouts.append(seen)
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    seen = rollouts[0]
    assert len(seen) == 3
    from modalbridge.agents.on_policy import flat, tensors

    def behaviour(log_prob, states, samples, acting_weights):
        probe = appo_agent()
        probe.policy.model.set_weights(acting_weights)
        recomputed, _, _ = probe.policy.evaluate(tensors(states), tensors(samples))
        return np.allclose(recomputed.numpy(), flat(log_prob), atol=1e-5)
    # rollout 0 and 1 acted with the initial weights, rollout 2 with the weights after the first update
    assert behaviour(seen[0][0], seen[0][2], seen[0][3], initial)
    assert behaviour(seen[1][0], seen[1][2], seen[1][3], initial)
    assert behaviour(seen[2][0], seen[2][2], seen[2][3], seen[1][1])
    assert not behaviour(seen[2][0], seen[2][2], seen[2][3], seen[2][1])


def test_a_dead_ray_worker_is_an_environment_failure_naming_it(local_ray):
    from modalbridge.agents.parallel import Overlapped
    from modalbridge.bridges import EnvironmentFailure
    agent = appo_agent()
    overlapped = Overlapped(agent, cartpole, workers=2, backend='ray')
    overlapped.run(timesteps=256)
    workers = overlapped.pool.workers
    pids = local_ray.get([worker.pid.remote() for worker in workers])
    local_ray.kill(workers[1])  # for good: Ray does not restart it
    with pytest.raises(EnvironmentFailure, match=r'Overlapped: Ray worker 1 \(environments 4-7\) died and Ray did not '
                                                 r'restart it \(restart 1 of max_restarts=2\): ActorDiedError'):
        overlapped.run(timesteps=256)
    with pytest.raises(EnvironmentFailure, match='Overlapped: closed'):
        overlapped.run(timesteps=256)
    overlapped.close()
    from tests.bridges.test_ray_workers import wait_gone
    assert wait_gone(pids) == []  # the failure stopped the other worker too


def test_overlapped_configuration_errors():
    from modalbridge.agents.parallel import Overlapped
    env = cartpole()
    with pytest.raises(ConfigError, match='needs a PPO .* or an A2C agent'):
        Overlapped(RandomAgent(env.states, env.actions, parallel=2, seed=0), cartpole)
    with pytest.raises(ConfigError, match='does not split evenly'):
        Overlapped(appo_agent(num_envs=6, batch_size=64), cartpole, workers=4)
    with pytest.raises(ConfigError, match='factory'):
        Overlapped(appo_agent(), cartpole())
    with pytest.raises(ConfigError, match="backend='processes' starts its workers by spawning.*cannot be pickled"):
        Overlapped(appo_agent(), lambda: cartpole())
    with pytest.raises(ConfigError, match="Overlapped: backend.*'processes'"):
        Overlapped(appo_agent(), cartpole, backend='threads')


def test_the_asynchronous_runner_on_ray_makes_the_updates_of_worker_processes(local_ray):
    # the switch moves the workers, nothing else: Ray actors act as the worker processes do
    from modalbridge.agents.parallel import Overlapped
    direct = appo_agent()
    with Overlapped(direct, cartpole, workers=2) as overlapped:
        expected = overlapped.run(timesteps=2 * 256)
    agent = appo_agent()
    with Runner(agent, cartpole, asynchronous=True, backend='ray', workers=2) as runner:
        history = runner.run(timesteps=2 * 256, progress=False)
        assert type(runner._overlapped.pool).__name__ == 'RayPolicyWorkers'
    for a, b in zip(direct.policy.model.get_weights(), agent.policy.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history.updates == expected.updates == 2
    assert history.episode_returns == expected.episode_returns


class SlowSteps(gymnasium.Wrapper):
    """Steps taking 50 ms: a rollout lasts long enough to be interrupted in its middle."""

    def step(self, action):
        time.sleep(0.05)
        return self.env.step(action)


def slow_cartpole():
    return GymBridge(SlowSteps(gymnasium.make(CARTPOLE)))


def test_a_dead_ray_worker_is_restarted_its_partial_rollout_dropped_and_reported_and_past_the_bound_raises(
        local_ray):
    from modalbridge.agents.parallel import Overlapped
    from modalbridge.bridges import EnvironmentFailure
    from tests.bridges.test_ray_workers import wait_gone
    agent = appo_agent(n_steps=8, batch_size=64, epochs=1)  # a worker's rollout: 4 environments x 8 steps x 50 ms
    overlapped = Overlapped(agent, slow_cartpole, workers=2, backend='ray', max_restarts=2)
    overlapped.step()  # the first update (traced: slow)
    overlapped.step()  # the second; the next rollout is in flight (1.6 s)
    pool = overlapped.pool
    first = list(pool.pids)
    local_ray.kill(pool.workers[1], no_restart=False)  # a crash in the middle of the rollout: Ray restarts it
    with pytest.warns(RuntimeWarning, match=r'Ray worker 1 \(environments 4-7\) died during a rollout and Ray '
                                            r'restarted it; its partial rollout was dropped .*\(restart 1 of '
                                            r'max_restarts=2\)'):
        overlapped.step(launch_next=False)
    assert pool.restarts == [0, 1] and agent.updates == 3 and agent.timesteps == 3 * 64
    assert pool.pids[0] == first[0] and pool.pids[1] not in (None, first[1])
    local_ray.kill(pool.workers[1], no_restart=False)  # nothing in flight: found from its process id
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until Ray has restarted it
        try:
            if local_ray.get(pool.workers[1].pid.remote(), timeout=10) != pool.pids[1]:
                break
        except local_ray.exceptions.RayActorError:
            time.sleep(0.1)
    with pytest.warns(RuntimeWarning, match=r'Ray worker 1 \(environments 4-7\) died between rollouts and Ray '
                                            r'restarted it \(restart 2 of max_restarts=2\)'):
        overlapped.step()
    assert pool.restarts == [0, 2] and agent.updates == 4
    pids = [pool.pids[0], pool.pids[1]]
    local_ray.kill(pool.workers[1], no_restart=False)  # Ray restarts an actor max_restarts times, no more
    with pytest.raises(EnvironmentFailure, match=r'Ray worker 1 \(environments 4-7\) died 3 times, past '
                                                 r'max_restarts=2: ActorDiedError'):
        overlapped.step()
    assert overlapped.pool is None
    assert wait_gone(pids) == []  # the failure stopped the other worker too


def test_max_restarts_needs_ray():
    from modalbridge.agents.parallel import Overlapped
    with pytest.raises(ConfigError, match=r"Overlapped: max_restarts= needs backend='ray'.*received "
                                          r"backend='processes'"):
        Overlapped(appo_agent(), cartpole, max_restarts=3)

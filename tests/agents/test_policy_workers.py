"""Policy workers in spawned processes (`Overlapped(..., backend='processes')`): failures, Ctrl-C, no orphans."""

from __future__ import annotations

import copy
import dataclasses
import os
import signal
import time

import gymnasium
import numpy as np
import pytest
import tensorflow as tf

from modalbridge.agents import A2C, PPO
from modalbridge.agents.on_policy import flat, tensors
from modalbridge.agents.parallel import Overlapped
from modalbridge.agents.policy_workers import PolicyWorker
from modalbridge.bridges import ConfigError, Environment, EnvironmentFailure, GymBridge, Step, Terminal
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


def exits():
    os._exit(3)  # as a worker that cannot import the factory's module does


def agent(num_envs: int = 4) -> PPO:
    env = cartpole()
    return PPO(env.states, env.actions, num_envs=num_envs, n_steps=16, batch_size=32, epochs=2, seed=0)


def test_a_worker_part_is_one_rollout_of_its_environments_written_where_it_is_given():
    env = cartpole()
    worker = PolicyWorker(cartpole, 3, 6, dict(states=env.states, actions=env.actions), seed=0)
    part = worker.collect(None, n_steps=5, discount=0.99)
    columns = part['columns']
    assert columns['states/state'].shape == (6, 3, 4) and columns['samples/action'].shape == (5, 3)  # + the last
    assert {columns[key].shape for key in ('log_prob', 'value', 'reward', 'ended', 'first')} == {(5, 3)}
    assert part['last_value'].shape == (3,) and 'last_states' not in part  # PPO's bootstrap: the value here
    assert columns['first'][0].all()
    again = PolicyWorker(cartpole, 3, 6, dict(states=env.states, actions=env.actions), seed=0)
    out = {key: np.zeros((len(value), 7) + value.shape[2:], value.dtype)[:, 2:5] for key, value in columns.items()
           if key != 'value'}
    written = again.collect(None, n_steps=5, discount=0.99, out=out, last_value=False)
    assert list(written['columns']) == ['value']  # what `out` has no room for comes back
    # V-trace's bootstrap: the last states (the states' last row) and the core state, for the learner to value
    assert written['last_core'] == {} and 'last_value' not in written and 'last_states' not in written
    for key, value in columns.items():
        np.testing.assert_array_equal(out[key] if key in out else written['columns'][key], value)


class Clock(Environment):
    """The state is the step count; every episode is cut (TRUNCATED) after `limit` steps, reward 1."""

    def __init__(self, limit: int = 2):
        super().__init__(states=dict(t=dict(type='float', shape=(1,))), actions=dict(a=dict(type='int', num_values=2)))
        self.limit = limit

    def _reset(self, seed):
        self.t = 0
        return dict(t=np.zeros(1, np.float32))

    def _execute(self, actions):
        self.t += 1
        return Step(dict(t=np.full(1, self.t, np.float32)), 1.0,
                    Terminal.TRUNCATED if self.t >= self.limit else Terminal.NONE, {})


@pytest.mark.parametrize('last_value', [True, False])
def test_truncated_episodes_and_the_rollout_are_bootstrapped_with_the_behaviour_values(last_value):
    """One value call for the rollout: each cut episode's reward gets discount * V(its final states),
    in its own row and step; with `last_value` the last states' value is sent (PPO), else the learner
    values the states' last row (V-trace)."""
    env, limits = Clock(), iter([2, 3])
    worker = PolicyWorker(lambda: Clock(next(limits)), 2, 0, dict(states=env.states, actions=env.actions), seed=0)
    part = worker.collect(None, n_steps=5, discount=0.5, last_value=last_value)
    value = lambda t: worker.policy.value(dict(t=np.full((1, 1), t, np.float32)))[0]  # noqa: E731
    cut_at_2 = [1.0, 1.0 + 0.5 * value(2), 1.0, 1.0 + 0.5 * value(2), 1.0]  # after steps 2 and 4
    cut_at_3 = [1.0, 1.0, 1.0 + 0.5 * value(3), 1.0, 1.0]  # after step 3
    np.testing.assert_allclose(part['columns']['reward'], np.array([cut_at_2, cut_at_3]).T, rtol=1e-6)
    np.testing.assert_array_equal(part['columns']['ended'].T, [[0, 1, 0, 1, 0], [0, 0, 1, 0, 0]])
    np.testing.assert_array_equal(part['columns']['states/t'][..., 0].T, [[0, 1, 0, 1, 0, 1], [0, 1, 2, 0, 1, 2]])
    if last_value:  # + the last states, in the last row
        np.testing.assert_allclose(part['last_value'], [value(1), value(2)], rtol=1e-6)
    else:
        assert 'last_value' not in part and part['last_core'] == {}


def test_a_factory_whose_actions_differ_from_the_agent_s_is_named():
    env = Clock()
    three = dict(a=dict(type='int', num_values=3))
    with pytest.raises(ConfigError, match=r"the agent was built for actions .*num_values=3.*but the factory's "
                                          r"environment has .*num_values=2"):
        PolicyWorker(Clock, 1, 0, dict(states=env.states, actions=three), seed=0)


def test_weights_in_another_format_are_refused_naming_the_expected_one():
    env = Clock()
    worker = PolicyWorker(Clock, 1, 0, dict(states=env.states, actions=env.actions), seed=0)
    with pytest.raises(ConfigError, match=r'WeightsVector.assign: expected the vectors pack\(\) gives, of shapes '
                                          r'\[\(\d+,\)\]; received \d+ of shapes'):
        worker.set_weights(worker.policy.model.get_weights())


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


def test_a_worker_that_dies_while_building_is_named_and_points_to_its_stderr():
    with pytest.raises(EnvironmentFailure, match=r'Overlapped: worker 0 \(process \d+\) failed \(exit code 3\) during '
                                                 r"building its environments and policy; its error is on this "
                                                 r"process's stderr"):
        Overlapped(agent(), exits, workers=1)


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


# -- recurrent policies and the agent's own preprocessing, in the workers ----------------------------------------

class Cue(Environment):
    """A cue (one of 2) in the first state only, then `delay` blank steps; the last action must name the
    cue (reward 1). Without memory the best success is 1/2."""

    def __init__(self, delay: int = 3):
        super().__init__(states=dict(state=dict(type='float', shape=(3,))),
                         actions=dict(action=dict(type='int', num_values=2)))
        self.delay = delay

    def _state(self) -> dict:
        state = np.zeros(3, np.float32)
        if self.t == 0:
            state[self.cue] = 1.0
        state[2] = self.t / self.delay
        return dict(state=state)

    def _reset(self, seed):
        self.rng = np.random.default_rng(seed) if seed is not None else self.rng
        self.cue, self.t = int(self.rng.integers(2)), 0
        return self._state()

    def _execute(self, actions):
        if self.t == self.delay:
            reward = float(int(actions['action']) == self.cue)
            return Step(self._reset(None), reward, Terminal.TERMINATED, {})
        self.t += 1
        return Step(self._state(), 0.0, Terminal.NONE, {})


def recall(layer: str, cls: type = PPO, steps: int = 4096, **options) -> float:
    env = Cue()
    options = options or dict(n_steps=16, batch_size=64, epochs=4)
    learner = cls(env.states, env.actions, network=[dict(type='dense', size=16), dict(type=layer, size=16)],
                  num_envs=8, learning_rate=3e-3, entropy_coef=0.01, seed=0, **options)
    with Overlapped(learner, Cue, workers=2) as overlapped:
        history = overlapped.run(timesteps=steps)
    return float(np.mean(history.episode_returns[-100:]))


def test_a_recurrent_ppo_learns_to_recall_a_cue_in_the_workers_a_feed_forward_one_cannot():
    assert recall('lstm') >= 0.9
    assert recall('dense') <= 0.65  # blind: 1/2


def test_a_recurrent_a2c_with_vtrace_learns_to_recall_a_cue_in_the_workers():
    assert recall('gru', A2C, 8192, n_steps=8, optimizer='adam') >= 0.9


def test_the_learner_unrolls_exactly_what_the_workers_acted_with_their_preprocessing_and_core_states():
    env = cartpole()
    options = dict(network=[dict(type='dense', size=8), dict(type='gru', size=4)], num_envs=4, n_steps=8,
                   batch_size=32, epochs=2, seed=0, preprocessing=dict(state=[dict(type='sequence', length=2)]))
    learner = PPO(env.states, env.actions, **options)
    initial = [w.copy() for w in learner.policy.model.get_weights()]
    seen = []

    def spy(rollout):  # a copy: the rollout's columns are views of a shared slot, reused two rollouts later
        seen.append(dataclasses.replace(rollout, **{field: copy.deepcopy(getattr(rollout, field))
                                                    for field in ('states', 'samples', 'log_prob', 'value')}))
        return PPO._learn(learner, rollout)
    learner._learn = spy
    with Overlapped(learner, cartpole, workers=2) as overlapped:
        overlapped.run(timesteps=2 * 32)  # rollouts 0 and 1 both acted with the initial weights
        overlapped.run(timesteps=2 * 32)  # rollouts 2 and 3 reuse both slots
    probe = PPO(env.states, env.actions, **options)
    probe.policy.model.set_weights(initial)
    for rollout in seen[:2]:
        assert rollout.states['state'].shape == (8, 4, 8)  # the agent's sequence of 2 ran in the workers
        steps = {name: tf.constant(value) for name, value in rollout.states.items()}  # unrolled over the steps
        log_prob, _, value = probe.policy.evaluate(steps, tensors(rollout.samples), True, rollout.core, rollout.first)
        np.testing.assert_allclose(log_prob.numpy(), flat(rollout.log_prob), atol=1e-5)
        np.testing.assert_allclose(value.numpy(), flat(rollout.value), atol=1e-5)
    assert seen[0].first[0].all() and not seen[1].first[0].all()
    assert not np.allclose(next(iter(seen[1].core.values())), 0.0)  # rollout 1 starts from the carried core


def test_preprocessing_with_running_statistics_is_refused():
    env = cartpole()
    learner = PPO(env.states, env.actions, num_envs=2, n_steps=4, batch_size=8, seed=0,
                  preprocessing=dict(state=[dict(type='running_standardize')]))
    with pytest.raises(ConfigError, match=r"running statistics \(state/running_standardize"):
        Overlapped(learner, cartpole, workers=2)


def test_a_network_declared_with_a_lambda_is_refused_before_any_worker_starts():
    import keras
    env = cartpole()
    learner = PPO(env.states, env.actions, num_envs=2, n_steps=4, batch_size=8, seed=0,
                  network=lambda inputs: keras.layers.Dense(8)(inputs['state']))
    with pytest.raises(ConfigError, match="pickles the agent's network and preprocessing declarations"):
        Overlapped(learner, cartpole, workers=2)


def test_a_factory_of_an_interactive_session_is_refused(monkeypatch):
    import sys
    import types
    session = types.ModuleType('__main__')  # as in a REPL or a notebook: no file to import it from

    def room():
        return cartpole()
    room.__module__, room.__qualname__ = '__main__', 'room'
    session.room = room
    monkeypatch.setitem(sys.modules, '__main__', session)
    with pytest.raises(ConfigError, match='defined in an interactive session'):
        Overlapped(agent(), room, workers=2)

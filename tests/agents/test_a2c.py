import json
import os

import numpy as np
import pytest

from modalbridge.agents import A2C, Agent, RandomAgent, Runner
from modalbridge.bridges import ConfigError, GymBridge, SpecError, Terminal, VectorEnvironment

from tests.agents.helpers import MultiModal

VECTOR = dict(state=dict(type='float', shape=(2,)))
CHOICE = dict(action=dict(type='int', num_values=2))


def drive(agent, rewards, terminals, final_states=None):
    """Acts and observes through the external act/observe API."""
    state = dict(state=np.array([[0.1, 0.2]], np.float32))
    values = []
    for step, (reward, terminal) in enumerate(zip(rewards, terminals)):
        values.append(agent.value(state)[0])
        agent.act(state)
        finals = final_states if terminal == Terminal.TRUNCATED else None
        agent.observe(np.array([reward]), np.array([terminal]), final_states=finals)
    return values


def test_terminated_does_not_bootstrap_and_truncated_bootstraps_from_final_states():
    agent = A2C(VECTOR, CHOICE, parallel=1, n_steps=2, discount=0.5, learning_rate=1e-9, seed=0)
    final = dict(state=np.array([[3.0, -1.0]], np.float32))
    v_final = agent.value(final)[0]
    values = drive(agent, [1.0, 2.0, 4.0], [Terminal.TERMINATED, Terminal.TRUNCATED, Terminal.NONE], final)
    returns = agent.last_rollout.returns[:, 0]
    assert returns[0] == pytest.approx(1.0)                      # TERMINATED: the reward alone
    assert returns[1] == pytest.approx(2.0 + 0.5 * v_final)      # TRUNCATED: + discount * V(final states)
    assert values[0] == pytest.approx(values[1], abs=1e-6)


def test_truncated_without_final_states_bootstraps_from_the_states_acted_on():
    agent = A2C(VECTOR, CHOICE, parallel=1, n_steps=1, discount=0.5, learning_rate=1e-9, seed=0)
    values = drive(agent, [1.0, 0.0], [Terminal.TRUNCATED, Terminal.NONE])
    assert agent.last_rollout.returns[0, 0] == pytest.approx(1.0 + 0.5 * values[0])


def test_observe_reports_updates_every_n_steps():
    agent = A2C(VECTOR, CHOICE, parallel=1, n_steps=3, seed=0)
    state = dict(state=np.zeros(2, np.float32))
    updated = []
    for _ in range(7):
        agent.act(state)
        updated.append(agent.observe(0.0, Terminal.NONE))
    assert updated == [False, False, False, True, False, False, True]


def test_act_and_update_never_retrace_over_100_calls():
    agent = A2C(VECTOR, CHOICE, parallel=4, n_steps=2, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(100):
        agent.act(dict(state=rng.normal(size=(4, 2)).astype(np.float32)))
        agent.observe(np.ones(4), np.zeros(4, np.int64))
        agent.act(dict(state=rng.normal(size=(4, 2)).astype(np.float32)), deterministic=True, independent=True)
    assert agent.tracing_counts == dict(act=1, act_independent=0, act_deterministic=0,
                                      act_deterministic_independent=1, act_independent_extras=0,
                                      act_deterministic_independent_extras=0, update=1)


def test_a2c_solves_cartpole_within_a_small_budget():
    env = VectorEnvironment([GymBridge('CartPole-v1') for _ in range(8)])
    agent = A2C(env.states, env.actions, parallel=8, seed=1)
    runner = Runner(agent, env, seed=1)
    history = runner.run(timesteps=60_000, progress=False,
                         callback=lambda r: not (len(r.episode_returns) >= 10 and
                                                 np.mean(r.episode_returns[-10:]) >= 195))
    assert np.mean(history.episode_returns[-10:]) >= 195, history.episode_returns[-10:]


def test_save_and_load_act_identically(tmp_path):
    env = MultiModal()
    agent = A2C(env.states, env.actions, parallel=1, seed=0)
    runner = Runner(agent, env, seed=0)
    runner.run(episodes=3, progress=False)
    path = agent.save(tmp_path / 'agent')
    loaded = Agent.load(path)
    assert isinstance(loaded, A2C) and loaded.timesteps == agent.timesteps
    states = env.reset(seed=5)
    for deterministic in (True, False):
        first = agent.act(states, deterministic=deterministic, independent=True)
        again = loaded.act(states, deterministic=deterministic, independent=True)
        if deterministic:
            for name in first:
                np.testing.assert_array_equal(first[name], again[name])
    np.testing.assert_allclose(agent.value(states), loaded.value(states), rtol=1e-6)


def test_save_replaces_atomically_and_bad_checkpoints_change_nothing(tmp_path):
    agent = A2C(VECTOR, CHOICE, seed=0)
    path = tmp_path / 'agent'
    agent.save(path)
    agent.save(path)  # replacing an existing checkpoint
    assert sorted(os.listdir(tmp_path)) == ['agent']
    with pytest.raises(ConfigError, match="load: '.*missing' is not an agent checkpoint"):
        Agent.load(tmp_path / 'missing')
    (path / 'agent.json').write_text('{not json')
    before = sorted(os.listdir(path)), (path / 'agent.json').read_text()
    with pytest.raises(ConfigError, match="agent.json' is not valid JSON"):
        Agent.load(path)
    assert (sorted(os.listdir(path)), (path / 'agent.json').read_text()) == before
    with pytest.raises(ConfigError, match='not a modalbridge checkpoint'):
        agent.save(path)  # a corrupted checkpoint is not recognised as ours: left alone
    path = tmp_path / 'other'
    agent.save(path)
    (path / 'weights.weights.h5').write_bytes(b'garbage')
    with pytest.raises(ConfigError, match="load: the weights in '.*other' cannot be read"):
        Agent.load(path)


def test_a_network_given_as_a_function_cannot_be_saved(tmp_path):
    agent = A2C(VECTOR, CHOICE, network=lambda inputs: inputs['state'], seed=0)
    with pytest.raises(ConfigError, match='a network given as a Python function cannot be saved'):
        agent.save(tmp_path / 'agent')
    assert not (tmp_path / 'agent').exists()


def test_load_refuses_another_agent_class(tmp_path):
    RandomAgent(VECTOR, CHOICE, seed=0).save(tmp_path / 'random')
    with pytest.raises(ConfigError, match='holds a RandomAgent, not a A2C'):
        A2C.load(tmp_path / 'random')
    assert isinstance(Agent.load(tmp_path / 'random'), RandomAgent)


def test_a2c_runs_on_pendulum_with_a_bounded_float_action():
    env = GymBridge('Pendulum-v1')
    agent = A2C(env.states, env.actions, seed=0)
    history = Runner(agent, env, seed=0).run(episodes=2, progress=False)
    assert history.episode_lengths == [200, 200] and agent.updates > 0


def test_a2c_runs_on_a_multi_action_dict_environment():
    envs = VectorEnvironment([MultiModal() for _ in range(2)])
    agent = A2C(envs.states, envs.actions, parallel=2, seed=0)
    history = Runner(agent, envs, seed=0).run(episodes=6, progress=False)
    assert len(history.episode_returns) >= 6 and agent.updates > 0
    actions = agent.act(envs.reset(seed=0), independent=True)
    assert actions['move'].shape == (2,) and actions['jump'].dtype == bool
    assert np.all(np.abs(actions['force']) <= 1.0)


def test_single_and_batched_states_are_detected_from_ranks():
    agent = A2C(VECTOR, CHOICE, parallel=3, seed=0)
    assert agent.act(dict(state=np.zeros(2, np.float32)), independent=True)['action'].shape == ()
    assert agent.act(dict(state=np.zeros((3, 2), np.float32)), independent=True)['action'].shape == (3,)


@pytest.mark.parametrize('states, key, message', [
    (dict(state=np.zeros(3, np.float32)), 'state', 'shape (3,)'),
    (dict(other=np.zeros(2, np.float32)), 'state', "missing ['state']"),
    (dict(state=np.zeros(2, np.float32), extra=1), 'extra', "unknown ['extra']"),
])
def test_bad_states_to_act_raise_spec_error(states, key, message):
    agent = A2C(VECTOR, CHOICE, seed=0)
    with pytest.raises(SpecError) as caught:
        agent.act(states)
    assert caught.value.key == key and message in str(caught.value)


def test_bad_observe_arguments_raise_spec_error():
    agent = A2C(VECTOR, CHOICE, parallel=2, seed=0)
    agent.act(dict(state=np.zeros((2, 2), np.float32)))
    with pytest.raises(SpecError, match=r"'reward': expected shape \(2,\)"):
        agent.observe(np.zeros(3), np.zeros(2, np.int64))
    with pytest.raises(SpecError, match=r"'terminal': expected Terminal values 0, 1 or 2"):
        agent.observe(np.zeros(2), np.array([0, 5]))


@pytest.mark.parametrize('option, message', [
    (dict(optimizer='lion'), "optimizer: expected one of ['adam', 'rmsprop', 'sgd']"),
    (dict(n_steps=0), 'n_steps: expected an int >= 1'),
    (dict(discount=1.5), 'discount: expected a finite number in [0, 1]'),
    (dict(parallel=0), 'parallel: expected an int >= 1'),
])
def test_bad_agent_options_are_config_errors(option, message):
    with pytest.raises(ConfigError) as caught:
        A2C(VECTOR, CHOICE, **option)
    assert message in str(caught.value)


def test_saved_config_is_json_with_the_specs(tmp_path):
    A2C(VECTOR, CHOICE, n_steps=3, seed=0).save(tmp_path / 'agent')
    document = json.loads((tmp_path / 'agent' / 'agent.json').read_text())
    assert document['agent'] == 'A2C' and document['config']['n_steps'] == 3
    assert document['actions'] == {'action': {'type': 'int', 'shape': [], 'num_values': 2}}


@pytest.mark.parametrize('network', [[dict(type='dense', size=8)], [dict(type='gru', size=8)]], ids=['dense', 'gru'])
def test_the_vtrace_update_equals_an_update_on_targets_from_a_separate_forward_pass(network):
    """IMPALA's one-call update (`Overlapped`) learns what V-trace targets computed beforehand would give."""
    from modalbridge.agents.on_policy import Rollout, flat
    from modalbridge.agents.returns import vtrace
    steps, envs = 4, 3
    fused, reference = (A2C(VECTOR, CHOICE, parallel=envs, n_steps=steps, network=network, shared_network=True,
                            entropy_coef=0.01, seed=0) for _ in range(2))
    rng = np.random.default_rng(0)
    states = dict(state=rng.normal(size=(steps, envs, 2)).astype(np.float32))
    samples = dict(action=rng.integers(0, 2, (steps, envs)).astype(np.int64))
    behaviour = rng.uniform(-1.5, -0.2, (steps, envs)).astype(np.float32)
    rewards, ended = rng.normal(size=(steps, envs)), rng.random((steps, envs)) < 0.3
    first = np.vstack([np.ones((1, envs), bool), ended[:-1]])
    core = fused.policy.initial_state(envs)
    last = dict(state=rng.normal(size=(envs, 2)).astype(np.float32), **fused.policy.initial_state(envs))
    metrics, values, vs, advantages = fused._learn_vtrace(states, samples, behaviour, rewards, ended, last, core, first)

    policy = reference.policy
    recurrent = policy.recurrent
    log_prob, _, expected_values = policy.evaluate(
        states if recurrent else {k: flat(v) for k, v in states.items()}, {k: flat(v) for k, v in samples.items()},
        True, core, first)
    log_prob, expected_values = (x.numpy().reshape(steps, envs) for x in (log_prob, expected_values))
    bootstrap = policy.value(dict(state=last['state']), {k: last[k] for k in core})
    expected_vs, expected_advantages = vtrace(behaviour, log_prob, rewards, expected_values, ended, bootstrap, 0.99)
    expected = reference._learn(Rollout(states, samples, behaviour, expected_values, rewards, expected_vs,
                                        expected_advantages, core, first))
    np.testing.assert_allclose(values, expected_values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vs, expected_vs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(advantages, expected_advantages, rtol=1e-4, atol=1e-5)
    assert metrics == pytest.approx(expected, rel=1e-4, abs=1e-6)
    for a, b in zip(fused.policy.model.get_weights(), policy.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(fused.policy.model.get_weights()[0], A2C(
        VECTOR, CHOICE, parallel=envs, n_steps=steps, network=network, shared_network=True, seed=0
    ).policy.model.get_weights()[0])  # it learned something

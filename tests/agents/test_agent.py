"""The Agent façade: observe's validation, batching, seeding, the num_envs/parallel alias."""

import random

import numpy as np
import pytest

from modalbridge.agents import A2C, RandomAgent
from modalbridge.bridges import ConfigError, SpecError, Terminal

VECTOR = dict(state=dict(type='float', shape=(2,)))
CHOICE = dict(action=dict(type='int', num_values=2))


@pytest.mark.parametrize('reward', [None, float('nan'), float('inf'), -float('inf'), 1e39, '1.5', [1.0, None]])
def test_observe_refuses_non_finite_or_non_numeric_rewards(reward):
    agent = RandomAgent(VECTOR, CHOICE, num_envs=1 if not isinstance(reward, list) else 2, seed=0)
    agent.act(dict(state=np.zeros((agent.num_envs, 2), np.float32)))
    with pytest.raises(SpecError) as caught:
        agent.observe(reward, np.zeros(agent.num_envs, np.int64) if agent.num_envs > 1 else Terminal.NONE)
    assert caught.value.key == 'reward'


def test_observe_refuses_bad_terminals():
    agent = RandomAgent(VECTOR, CHOICE, num_envs=2, seed=0)
    for terminal in (np.array([0, 3]), np.array([0.0, 1.0]), np.array([True, False])):
        with pytest.raises(SpecError, match="'terminal': expected Terminal values 0, 1 or 2"):
            agent.observe(np.zeros(2), terminal)


def test_a_learning_act_needs_a_batch_of_num_envs_rows():
    agent = A2C(VECTOR, CHOICE, num_envs=3, seed=0)
    with pytest.raises(SpecError, match='a batch of num_envs=3 rows'):
        agent.act(dict(state=np.zeros((2, 2), np.float32)))
    assert agent.act(dict(state=np.zeros((2, 2), np.float32)), independent=True)['action'].shape == (2,)


def test_seed_leaves_the_global_python_and_numpy_generators_alone():
    random.seed(123)
    np.random.seed(123)
    expected = random.random(), np.random.random()
    random.seed(123)
    np.random.seed(123)
    first = A2C(VECTOR, CHOICE, seed=7)
    assert (random.random(), np.random.random()) == expected
    second = A2C(VECTOR, CHOICE, seed=7)
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    states = dict(state=np.ones((1, 2), np.float32))
    assert first.act(states)['action'].tolist() == second.act(states)['action'].tolist()


def test_state_names_that_collide_as_network_inputs_are_refused():
    states = {'a/b': dict(type='float', shape=(2,)), 'a__b': dict(type='float', shape=(2,))}
    with pytest.raises(ConfigError, match="'a/b' and 'a__b' both become the network input name 'a__b'"):
        A2C(states, CHOICE, seed=0)


def test_parallel_is_an_alias_of_num_envs():
    assert A2C(VECTOR, CHOICE, parallel=4, seed=0).num_envs == 4
    assert A2C(VECTOR, CHOICE, num_envs=4, seed=0).parallel == 4
    with pytest.raises(ConfigError, match='parallel: an alias of num_envs'):
        A2C(VECTOR, CHOICE, parallel=4, num_envs=2)
    with pytest.raises(ConfigError, match=r'A2C: unknown argument\(s\) \[\'n_step\'\]'):
        A2C(VECTOR, CHOICE, n_step=4)


@pytest.mark.parametrize('option, field', [
    (dict(learning_rate=float('inf')), 'learning_rate'),
    (dict(learning_rate=0.0), 'learning_rate'),
    (dict(value_coef=float('nan')), 'value_coef'),
    (dict(entropy_coef=-5), 'entropy_coef'),
    (dict(n_steps=True), 'n_steps'),
    (dict(parallel=True), 'parallel'),
    (dict(num_envs=True), 'num_envs'),
    (dict(seed='0'), 'seed'),
    (dict(max_grad_norm=0), 'max_grad_norm'),
    (dict(gae_lambda=-0.1), 'gae_lambda'),
    (dict(normalize_advantage=1), 'normalize_advantage'),
    (dict(shared_network='yes'), 'shared_network'),
    (dict(learning_rate=dict(type='linear', initial=1e-3, final=-1.0, timesteps=10)), 'learning_rate'),
])
def test_every_hyperparameter_is_validated_naming_its_field(option, field):
    with pytest.raises(ConfigError) as caught:
        A2C(VECTOR, CHOICE, **option)
    assert str(caught.value).startswith(field)


from hypothesis import given, settings, strategies as st  # noqa: E402

REWARDS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.integers(-10**40, 10**40),
                    st.booleans(), st.none(), st.text(max_size=3), st.lists(st.floats(), min_size=0, max_size=3))


@settings(max_examples=80, deadline=None)
@given(REWARDS)
def test_any_reward_is_taken_as_a_finite_float32_number_or_refused_as_a_spec_error(reward):
    agent = RandomAgent(VECTOR, CHOICE, seed=0)
    agent.act(dict(state=np.zeros(2, np.float32)))
    try:
        agent.observe(reward, Terminal.NONE)
    except SpecError as error:
        assert error.key == 'reward'
    else:
        value = np.asarray(reward, np.float64)
        assert value.shape in ((), (1,)) and np.all(np.isfinite(value.astype(np.float32)))
        assert not isinstance(reward, (str, bool, type(None)))

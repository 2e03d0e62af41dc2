import gymnasium
import numpy as np
import pytest
from gymnasium.wrappers import NormalizeObservation

from modalbridge.bridges import ConfigError, SpecError
from modalbridge.preprocess import Stack

from tests.preprocess.helpers import both

FLOAT4 = dict(type='float', shape=(4,))


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
def test_running_standardize_equals_gymnasium_normalize_observation(backend):
    reference = NormalizeObservation(gymnasium.make('CartPole-v1'))
    raw = gymnasium.make('CartPole-v1')
    stack = Stack(dict(state=FLOAT4), ['running_standardize'], backend=backend)
    expected, _ = reference.reset(seed=0)
    observation, _ = raw.reset(seed=0)
    np.testing.assert_allclose(stack(dict(state=observation))['state'], expected, rtol=1e-5, atol=1e-6)
    for step in range(60):
        expected, _, terminated, truncated, _ = reference.step(step % 2)
        observation, *_ = raw.step(step % 2)
        np.testing.assert_allclose(stack(dict(state=observation))['state'], expected, rtol=1e-5, atol=1e-5)
        if terminated or truncated:
            break


def test_frozen_statistics_stop_updating_and_survive_reset():
    batches = [dict(x=np.array([[1.0, 2.0, 3.0, 4.0]], np.float32) * k) for k in range(1, 6)]
    for backend in ('numpy', 'tf'):
        stack = Stack(dict(x=FLOAT4), ['running_standardize'], backend=backend)
        for batch in batches:
            stack(batch)
        stack.reset()
        stack.freeze()
        first, second = stack(batches[0])['x'], stack(batches[0])['x']
        assert np.array_equal(first, second)
        stack.freeze(False)
        assert not np.array_equal(stack(batches[0])['x'], second)


def test_running_standardize_agrees_across_backends_on_batches():
    rng = np.random.default_rng(0)
    both(dict(x=FLOAT4), ['running_standardize'],
         [dict(x=rng.normal(3.0, 2.0, (8, 4)).astype(np.float32)) for _ in range(10)], atol=1e-5)


def test_running_standardize_epsilon_must_be_positive():
    with pytest.raises(ConfigError, match=r'\(running_standardize\): epsilon: expected a finite number > 0'):
        Stack(dict(x=FLOAT4), [dict(type='running_standardize', epsilon=0)])


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
def test_a_nan_observation_is_refused_and_never_reaches_the_statistics(backend):
    stack = Stack(dict(state=FLOAT4), ['running_standardize'], backend=backend)
    stack(dict(state=np.arange(4, dtype=np.float32)))
    before = stack.state()
    with pytest.raises(SpecError, match="'state'.*not finite"):
        stack(dict(state=np.array([np.nan, 0, 0, 0], np.float32)))
    good = np.ones(4, np.float32)
    assert all(np.array_equal(before[name], stack.state()[name]) for name in before)
    assert np.isfinite(stack(dict(state=good))['state']).all()


def test_a_value_made_infinite_inside_the_chain_never_reaches_the_statistics():
    chain = [dict(type='scale', factor=1e30), 'running_standardize']
    numpy_stack = Stack(dict(state=FLOAT4), chain, backend='numpy')
    with pytest.raises(SpecError, match="'state'.*finite values"):
        numpy_stack(dict(state=np.full(4, 1e10, np.float32)))
    tf_stack = Stack(dict(state=FLOAT4), chain, backend='tf')
    before = tf_stack.state()
    tf_stack(dict(state=np.full(4, 1e10, np.float32)))  # TF cannot raise here: the batch is not learned
    after = tf_stack.state()
    for field in ('mean', 'var', 'count'):
        name = f'state/running_standardize/{field}'
        assert np.array_equal(before[name], after[name]), name
    assert np.isfinite(tf_stack(dict(state=np.ones(4, np.float32)))['state']).all()

import gymnasium
import numpy as np
import pytest
from gymnasium.wrappers import NormalizeObservation

from modalbridge.bridges import ConfigError
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

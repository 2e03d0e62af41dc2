import math

import numpy as np
import pytest
import tensorflow as tf
from dm_env import specs as dm_specs

from modalbridge.agents.heads import Bernoulli, Categorical, Gaussian, head
from modalbridge.bridges import ConfigError


def test_categorical_log_prob_and_entropy_against_hand_values():
    h = Categorical(dm_specs.DiscreteArray(2, dtype=np.int64, name='move'))
    logits = h.params(tf.constant([[0.0, math.log(3.0)]]))
    assert h.log_prob(logits, tf.constant([1], tf.int64)).numpy() == pytest.approx([math.log(0.75)])
    assert h.entropy(logits).numpy() == pytest.approx([-(0.25 * math.log(0.25) + 0.75 * math.log(0.75))])
    assert h.mode(logits).numpy().tolist() == [1]


def test_categorical_vector_masks_values_beyond_each_count_and_shifts_by_the_minimum():
    spec = dm_specs.BoundedArray((2,), np.int64, [1, 1], [2, 4], name='cells')
    h = Categorical(spec)
    assert h.size == 8
    logits = h.params(tf.zeros((1, 8)))
    generator = tf.random.Generator.from_seed(0)
    samples = np.concatenate([h.sample(logits, generator).numpy() for _ in range(200)])
    assert set(samples[:, 0]) == {1, 2} and set(samples[:, 1]) == {1, 2, 3, 4}
    # uniform over 2 and 4 values: log p = log(1/2) + log(1/4)
    assert h.log_prob(logits, tf.constant([[2, 3]], tf.int64)).numpy() == pytest.approx([math.log(1 / 8)])
    assert h.entropy(logits).numpy() == pytest.approx([math.log(8)])


def test_bernoulli_against_hand_values():
    h = Bernoulli(dm_specs.Array((), bool, name='jump'))
    logits = h.params(tf.constant([[0.0], [math.log(3.0)]]))
    assert h.log_prob(logits, tf.constant([True, True])).numpy() == pytest.approx([math.log(0.5), math.log(0.75)])
    assert h.entropy(logits).numpy()[0] == pytest.approx(math.log(2.0))
    assert h.mode(logits).numpy().tolist() == [False, True]


def test_gaussian_against_hand_values_and_bounds_by_clipping():
    spec = dm_specs.BoundedArray((2,), np.float32, -1.0, 1.0, name='force')
    h = Gaussian(spec)
    params = h.params(tf.constant([[0.0, 0.5, 0.0, math.log(2.0)]]))  # means (0, .5), log stds (0, log 2)
    expected = (-0.5 - 0.5 * math.log(2 * math.pi)) + (-0.5 * 0.25 ** 2 - math.log(2.0) - 0.5 * math.log(2 * math.pi))
    assert h.log_prob(params, tf.constant([[1.0, 1.0]])).numpy() == pytest.approx([expected], rel=1e-5)
    assert h.entropy(params).numpy() == pytest.approx([1 + math.log(2 * math.pi) + math.log(2.0)], rel=1e-5)
    np.testing.assert_allclose(h.env_action(tf.constant([[3.0, -0.2]])).numpy(), [[1.0, -0.2]])


def test_heads_are_chosen_from_specs():
    assert isinstance(head(dm_specs.DiscreteArray(3, name='a')), Categorical)
    assert isinstance(head(dm_specs.Array((2,), bool, name='b')), Bernoulli)
    assert isinstance(head(dm_specs.Array((2,), np.float32, name='c')), Gaussian)
    with pytest.raises(ConfigError, match="action 'd': an integer action needs bounds"):
        head(dm_specs.Array((), np.int64, name='d'))
    with pytest.raises(ConfigError, match="action 'e': text actions have no head yet"):
        head(dm_specs.StringArray((), name='e'))

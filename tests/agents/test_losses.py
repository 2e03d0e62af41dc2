import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modalbridge.agents import losses, returns

FLOATS = st.floats(-3, 3, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.data())
def test_vtrace_in_tf_equals_the_numpy_reference(steps, envs, data):
    rewards = data.draw(hnp.arrays(np.float64, (steps, envs), elements=FLOATS))
    values = data.draw(hnp.arrays(np.float32, (steps, envs), elements=FLOATS))
    ended = data.draw(hnp.arrays(bool, (steps, envs)))
    bootstrap = data.draw(hnp.arrays(np.float32, (envs,), elements=FLOATS))
    behaviour = data.draw(hnp.arrays(np.float32, (steps, envs), elements=st.floats(-4, 0, width=32)))
    target = data.draw(hnp.arrays(np.float32, (steps, envs), elements=st.floats(-4, 0, width=32)))
    expected = returns.vtrace(behaviour, target, rewards, values, ended, bootstrap, discount=0.9)
    found = losses.vtrace(tf.constant(behaviour), tf.constant(target), tf.constant(rewards), tf.constant(values),
                          tf.constant(ended), tf.constant(bootstrap), discount=0.9)
    for want, got in zip(expected, found):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4)


def test_vtrace_in_tf_passes_no_gradient_to_the_targets():
    values = tf.Variable([[1.0], [2.0]])
    with tf.GradientTape() as tape:
        vs, advantages = losses.vtrace(tf.zeros((2, 1)), tf.zeros((2, 1)), tf.ones((2, 1)), values,
                                       tf.zeros((2, 1), tf.bool), values[1], discount=0.9)
        total = tf.reduce_sum(vs) + tf.reduce_sum(advantages)
    assert tape.gradient(total, values) is None

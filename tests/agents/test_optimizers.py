import numpy as np
import pytest
import tensorflow as tf

from modalbridge.agents.optimizers import FusedApply, optimizer

keras = tf.keras


def train(kind: str, fused: bool, initial: list, gradients: list) -> tuple[list, int]:
    """Five steps of a compiled update, with a learning rate that changes every step (a schedule)."""
    variables = [keras.Variable(v) for v in initial]
    keras_optimizer = optimizer(kind)
    keras_optimizer.build(variables)
    apply = FusedApply(keras_optimizer, variables)
    assert apply.kind == kind

    @tf.function
    def step(grads, learning_rate):
        keras_optimizer.learning_rate = learning_rate
        if fused:
            apply(grads)
        else:
            keras_optimizer.apply_gradients(zip(grads, variables))

    for index, grads in enumerate(gradients):
        step(grads, tf.constant(1e-2 / (index + 1)))
    return [v.numpy() for v in variables], int(keras_optimizer.iterations)


@pytest.mark.parametrize('kind', ['adam', 'rmsprop', 'sgd'])
def test_fused_kernels_give_what_keras_apply_gradients_gives(kind):
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(4,)).astype(np.float32)]
    gradients = [[tf.constant(rng.normal(size=v.shape).astype(np.float32)) for v in initial] for _ in range(5)]
    keras_values, keras_steps = train(kind, False, initial, gradients)
    fused_values, fused_steps = train(kind, True, initial, gradients)
    assert keras_steps == fused_steps == 5
    for a, b in zip(keras_values, fused_values):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert not np.allclose(keras_values[0], initial[0])


def test_options_the_kernels_leave_out_fall_back_to_apply_gradients():
    variable = keras.Variable([1.0, 2.0])
    for unusual in (keras.optimizers.Adam(0.1, amsgrad=True), keras.optimizers.RMSprop(0.1, centered=True),
                    keras.optimizers.Adam(0.1, weight_decay=0.01), keras.optimizers.Adagrad(0.1)):
        unusual.build([variable])
        apply = FusedApply(unusual, [variable])
        assert apply.kind is None
        before = variable.numpy().copy()
        apply([tf.constant([1.0, -1.0])])
        assert int(unusual.iterations) == 1 and variable.numpy()[0] < before[0] < before[1] < variable.numpy()[1]

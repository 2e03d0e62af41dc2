"""`running_standardize`: standardization by running statistics."""

from __future__ import annotations

import numpy as np

from modalbridge.bridges.arguments import number
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import Spec
from modalbridge.preprocess.base import Preprocessor, float_spec, require_numeric


class RunningStandardize(Preprocessor):
    """``(x - mean) / sqrt(var + epsilon)`` with running mean and variance.

    The statistics are those of Gymnasium's `NormalizeObservation`: mean 0,
    variance 1 and count 1e-4 at the start, updated with each batch (all
    environments together, by the parallel-variance formula) *before* it
    is normalized; computed in float64, output as float32. They are shared
    by the environments and survive `stack.reset`; `stack.freeze()` stops
    updating them (for evaluation), `stack.freeze(False)` resumes. They are
    public through `stack.state()`: ``'<state>/running_standardize/mean'``,
    ``.../var``, ``.../count`` and ``.../frozen``.

    A non-finite value never enters the statistics: the stack refuses
    non-finite float states with a `SpecError` naming the state, the NumPy
    backend refuses a non-finite input here too (after earlier steps of
    the chain), and the TF backend, which cannot raise from inside its
    compiled function, leaves the statistics unchanged for such a batch.
    Output spec: float32 `Array` of the same shape.

    >>> dict(type='running_standardize', epsilon=1e-8)
    {'type': 'running_standardize', 'epsilon': 1e-08}
    """

    type = 'running_standardize'
    stateful = True
    state_names = ('mean', 'var', 'count', 'frozen')

    def __init__(self, spec: Spec, epsilon: float = 1e-8):
        epsilon = number('epsilon', epsilon, minimum=0, inclusive=False)
        super().__init__(spec, float_spec(require_numeric(spec)))
        self.epsilon = epsilon

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        shape = self.input_spec.shape
        return (np.zeros(shape), np.ones(shape), np.array(1e-4), np.array(False))

    def check_state(self, state: tuple) -> None:
        _, var, count, _ = state
        if np.any(var < 0) or not count > 0:
            raise ConfigError(f'running_standardize needs var >= 0 and count > 0; received var {var.min()} '
                              f'(smallest), count {float(count)}')

    def freeze(self, state: tuple, frozen: bool) -> tuple:
        return tuple(state[:3]) + (np.array(bool(frozen)),)

    @staticmethod
    def _update(x, mean, var, count, xp, batch_count):
        batch_mean = xp.reduce_mean(x, axis=0) if hasattr(xp, 'reduce_mean') else x.mean(axis=0)
        centered = x - batch_mean
        batch_var = (xp.reduce_mean(centered * centered, axis=0) if hasattr(xp, 'reduce_mean')
                     else (centered * centered).mean(axis=0))
        delta = batch_mean - mean
        total = count + batch_count
        new_mean = mean + delta * batch_count / total
        m2 = var * count + batch_var * batch_count + delta * delta * count * batch_count / total
        return new_mean, m2 / total, total

    def numpy_step(self, x, state, first):
        mean, var, count, frozen = state
        x = x.astype(np.float64)
        if not frozen:
            if not np.isfinite(x).all():
                raise SpecError(self.input_spec.name, 'finite values (running_standardize would keep a '
                                'NaN or inf in its statistics forever)', 'a non-finite value')
            mean, var, count = self._update(x, mean, var, count, np, x.shape[0])
        y = ((x - mean) / np.sqrt(var + self.epsilon)).astype(np.float32)
        return y, (mean, var, np.asarray(count), frozen)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        mean, var, count, frozen = state
        x = tf.cast(x, tf.float64)
        # the batch size from the tensor, so a graph traced for any batch size works
        batch_count = tf.cast(tf.shape(x)[0], tf.float64)
        new_mean, new_var, new_count = self._update(x, mean, var, count, tf.math, batch_count)
        learn = tf.logical_and(tf.logical_not(frozen), tf.reduce_all(tf.math.is_finite(x)))
        mean = tf.where(learn, new_mean, mean)
        var = tf.where(learn, new_var, var)
        count = tf.where(learn, new_count, count)
        y = tf.cast((x - mean) / tf.sqrt(var + self.epsilon), tf.float32)
        return y, (mean, var, count, frozen)

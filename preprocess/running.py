"""`running_standardize`: standardization by running statistics."""

from __future__ import annotations

import numpy as np

from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec
from modalbridge.preprocess.base import Preprocessor, float_spec, require_numeric


class RunningStandardize(Preprocessor):
    """``(x - mean) / sqrt(var + epsilon)`` with running mean and variance.

    The statistics are those of Gymnasium's `NormalizeObservation`: mean 0,
    variance 1 and count 1e-4 at the start, updated with each batch (all
    environments together, by the parallel-variance formula) *before* it
    is normalized; computed in float64, output as float32. They are shared
    by the environments and survive `stack.reset`; `stack.freeze()` stops
    updating them (for evaluation), `stack.freeze(False)` resumes.
    Output spec: float32 `Array` of the same shape.
    """

    type = 'running_standardize'
    stateful = True

    def __init__(self, spec: Spec, epsilon: float = 1e-8):
        if not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ConfigError(f'epsilon must be a positive number; received {epsilon!r}')
        super().__init__(spec, float_spec(require_numeric(spec)))
        self.epsilon = float(epsilon)

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        shape = self.input_spec.shape
        return (np.zeros(shape), np.ones(shape), np.array(1e-4), np.array(True))

    @staticmethod
    def _update(x, mean, var, count, xp):
        batch_mean = xp.reduce_mean(x, axis=0) if hasattr(xp, 'reduce_mean') else x.mean(axis=0)
        centered = x - batch_mean
        batch_var = (xp.reduce_mean(centered * centered, axis=0) if hasattr(xp, 'reduce_mean')
                     else (centered * centered).mean(axis=0))
        batch_count = x.shape[0]
        delta = batch_mean - mean
        total = count + batch_count
        new_mean = mean + delta * batch_count / total
        m2 = var * count + batch_var * batch_count + delta * delta * count * batch_count / total
        return new_mean, m2 / total, total

    def numpy_step(self, x, state, first):
        mean, var, count, training = state
        x = x.astype(np.float64)
        if training:
            mean, var, count = self._update(x, mean, var, count, np)
        y = ((x - mean) / np.sqrt(var + self.epsilon)).astype(np.float32)
        return y, (mean, var, np.asarray(count), training)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        mean, var, count, training = state
        x = tf.cast(x, tf.float64)
        new_mean, new_var, new_count = self._update(x, mean, var, count, tf.math)
        mean = tf.where(training, new_mean, mean)
        var = tf.where(training, new_var, var)
        count = tf.where(training, new_count, count)
        y = tf.cast((x - mean) / tf.sqrt(var + self.epsilon), tf.float32)
        return y, (mean, var, count, training)

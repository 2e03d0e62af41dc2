"""Action heads: a distribution per action spec, on top of a network's embedding.

=====================================  =========================================
action spec                            head
=====================================  =========================================
`DiscreteArray`, integer `BoundedArray`  categorical, one per element (elements
                                         with fewer values mask the rest);
                                         samples are shifted by the minimum
bool `Array`                           Bernoulli per element
float `Array` / `BoundedArray`         Gaussian per element: a linear mean and a
                                       state-independent log standard deviation;
                                       a bounded action is the sample clipped to
                                       its bounds (log-probabilities are of the
                                       unclipped sample, as in Stable-Baselines3)
=====================================  =========================================

A vector of integer choices (a multi-discrete action) is one categorical
head whose elements are sampled independently.

The `Head` protocol, all in TF:

- ``build_layers(embedding)``: adds the head's layers to a Keras model being
  built (symbolic embedding -> one tensor of `size` numbers per row, the
  head's *output*);
- ``params(output)``: the distribution's parameters from that output;
- ``sample(params, generator)`` / ``mode(params)``: a sample (what
  `log_prob` takes) stochastic or deterministic;
- ``env_action(sample)``: the environment's action for a sample;
- ``log_prob(params, sample)`` / ``entropy(params)``: one number per row,
  summed over the action's elements.

>>> from dm_env import specs
>>> h = head(specs.DiscreteArray(3, name='move'))
>>> type(h).__name__, h.size
('Categorical', 3)
"""

from __future__ import annotations

import abc
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
from dm_env import specs as dm_specs

from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_bool, is_float, is_text

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
    keras = tf.keras


class LogStd(keras.layers.Layer):
    """A state-independent log standard deviation, broadcast over the batch."""

    def __init__(self, size: int, initial: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.size, self.initial = size, initial
        self.log_std = self.add_weight(shape=(size,), initializer=keras.initializers.Constant(initial),
                                       name='log_std')

    def call(self, embedding):
        return keras.ops.broadcast_to(self.log_std, (keras.ops.shape(embedding)[0], self.size))


class Head(abc.ABC):
    """The protocol of an action head (see the module docstring); by default
    `size` outputs of one dense layer parameterize the distribution."""

    size: int = 0

    def __init__(self, spec: Spec):
        self.spec = spec
        self.shape = tuple(spec.shape)
        self.name = 'head_' + spec.name.replace('/', '__')

    def build_layers(self, embedding):
        """Adds the head's layers on a (symbolic) embedding; returns its output: `size` numbers per row."""
        return keras.layers.Dense(self.size, kernel_initializer=keras.initializers.Orthogonal(0.01),
                                  name=self.name)(embedding)

    @property
    def sample_dtype(self) -> tf.DType:
        """The dtype of samples (what log_prob takes)."""
        return tf.as_dtype(self.spec.dtype)

    @abc.abstractmethod
    def params(self, output: tf.Tensor) -> Any:
        """The distribution's parameters from the head's output."""

    @abc.abstractmethod
    def sample(self, params: Any, generator: tf.random.Generator) -> tf.Tensor:
        """A random sample (of `sample_dtype`)."""

    @abc.abstractmethod
    def mode(self, params: Any) -> tf.Tensor:
        """The most likely sample (deterministic acting)."""

    @abc.abstractmethod
    def log_prob(self, params: Any, sample: tf.Tensor) -> tf.Tensor:
        """log p(sample), one number per row."""

    @abc.abstractmethod
    def entropy(self, params: Any) -> tf.Tensor:
        """The entropy, one number per row."""

    def env_action(self, sample: tf.Tensor) -> tf.Tensor:
        """The environment's action for a sample (the identity but for bounded floats)."""
        return sample


class Categorical(Head):
    """Categorical over each element's `max - min + 1` values."""

    def __init__(self, spec: Spec):
        low = np.broadcast_to(spec.minimum, spec.shape).astype(np.int64)
        high = np.broadcast_to(spec.maximum, spec.shape).astype(np.int64)
        counts = high - low + 1
        self.depth = int(counts.max())
        if self.depth > 100_000:
            raise ConfigError(f'action {spec.name!r}: {self.depth} choices are too many for a categorical head')
        self.size = int(np.prod(spec.shape, dtype=np.int64)) * self.depth
        # logits of values beyond an element's count are masked out
        self.mask = tf.constant(np.arange(self.depth) < counts[..., None])
        self.low = tf.constant(low, dtype=spec.dtype)
        super().__init__(spec)

    def params(self, output):
        logits = tf.reshape(output, (-1,) + self.shape + (self.depth,))
        return tf.where(self.mask, logits, -1e9)

    def sample(self, logits, generator: tf.random.Generator):
        # Gumbel-max: argmax(logits + Gumbel noise) is a categorical sample.
        uniform = generator.uniform(tf.shape(logits), minval=1e-12, maxval=1.0)
        return self.mode(logits - tf.math.log(-tf.math.log(uniform)))

    def mode(self, logits):
        return tf.cast(tf.argmax(logits, axis=-1), self.spec.dtype) + self.low

    def log_prob(self, logits, action):
        index = tf.cast(action - self.low, tf.int32)
        log_p = tf.gather(tf.nn.log_softmax(logits), index, batch_dims=len(logits.shape) - 1)
        return _sum_elements(log_p, self.shape)

    def entropy(self, logits):
        log_p = tf.nn.log_softmax(logits)
        return _sum_elements(-tf.reduce_sum(tf.exp(log_p) * log_p, axis=-1), self.shape)


class Bernoulli(Head):
    """Independent Bernoulli per element; `params` are logits."""

    def __init__(self, spec: Spec):
        self.size = int(np.prod(spec.shape, dtype=np.int64))
        super().__init__(spec)

    def params(self, output):
        return tf.reshape(output, (-1,) + self.shape)

    def sample(self, logits, generator: tf.random.Generator):
        return generator.uniform(tf.shape(logits)) < tf.sigmoid(logits)

    def mode(self, logits):
        return logits > 0

    def log_prob(self, logits, action):
        labels = tf.cast(action, tf.float32)
        return _sum_elements(-tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), self.shape)

    def entropy(self, logits):
        p = tf.sigmoid(logits)
        entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=p, logits=logits)
        return _sum_elements(entropy, self.shape)


class Gaussian(Head):
    """Diagonal Gaussian; a bounded action is the sample clipped to its bounds."""

    def __init__(self, spec: Spec, initial_log_std: float = 0.0):
        self.size = int(np.prod(spec.shape, dtype=np.int64))
        self.initial_log_std = initial_log_std
        super().__init__(spec)
        self.bounded = isinstance(spec, dm_specs.BoundedArray)
        if self.bounded:
            self.low = tf.constant(np.broadcast_to(spec.minimum, spec.shape), tf.float32)
            self.high = tf.constant(np.broadcast_to(spec.maximum, spec.shape), tf.float32)

    def build_layers(self, embedding):
        mean = super().build_layers(embedding)
        log_std = LogStd(self.size, self.initial_log_std, name=self.name + '_log_std')(embedding)
        return keras.layers.Concatenate()([mean, log_std])

    def params(self, output):
        mean, log_std = tf.split(output, 2, axis=-1)
        return tf.reshape(mean, (-1,) + self.shape), tf.reshape(log_std, (-1,) + self.shape)

    @property
    def sample_dtype(self) -> tf.DType:
        return tf.float32  # the unclipped sample

    def sample(self, params, generator: tf.random.Generator):
        mean, log_std = params
        return mean + tf.exp(log_std) * generator.normal(tf.shape(mean))

    def mode(self, params):
        return params[0]

    def env_action(self, sample):
        value = tf.clip_by_value(sample, self.low, self.high) if self.bounded else sample
        return tf.cast(value, self.spec.dtype)

    def log_prob(self, params, action):
        mean, log_std = params
        z = (tf.cast(action, tf.float32) - mean) / tf.exp(log_std)
        return _sum_elements(-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi), self.shape)

    def entropy(self, params):
        return _sum_elements(params[1] + 0.5 * (1.0 + math.log(2 * math.pi)), self.shape)


def _sum_elements(values, shape):
    """Sum over an action's element axes: one number per batch row."""
    return tf.reduce_sum(values, axis=list(range(1, 1 + len(shape)))) if shape else values


def head(spec: Spec) -> Head:
    """The head for one action spec."""
    if is_text(spec):
        raise ConfigError(f'action {spec.name!r}: text actions have no head yet ({describe(spec)})')
    if is_bool(spec):
        return Bernoulli(spec)
    if is_float(spec):
        return Gaussian(spec)
    if isinstance(spec, dm_specs.BoundedArray):
        return Categorical(spec)
    raise ConfigError(f'action {spec.name!r}: an integer action needs bounds (num_values or '
                      f'min_value/max_value); got {describe(spec)}')

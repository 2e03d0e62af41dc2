"""Preprocessors with per-environment memory: `sequence`, `frame_max`, `deltafier`.

Each keeps its previous input(s) per environment; where the stack's `first`
mask is set (an episode starts), that memory is filled from the current
input, so nothing leaks from one episode into the next.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modalbridge.bridges.arguments import integer
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_text
from modalbridge.preprocess.base import Preprocessor, float_spec, require_numeric, same_kind_spec


MAX_LENGTH = 1 << 12  # frames kept per environment; far beyond any use, short of a memory error


def _mask(first: Any, rank: int, tf: Any = None) -> Any:
    """`first` (batch,) reshaped to broadcast against a (batch, ...) array of `rank` axes."""
    shape = (-1,) + (1,) * (rank - 1)
    return first.reshape(shape) if tf is None else tf.reshape(first, shape)


class Sequence(Preprocessor):
    """Concatenates the last `length` inputs along `axis`, oldest first.

    At an episode start the first input fills the whole buffer. Output spec:
    the input's shape with `axis` multiplied by `length` (a scalar becomes
    shape (length,)); dtype and bounds kept. ``sequence(4)`` on (84, 84, 1)
    frames gives (84, 84, 4).
    """

    type = 'sequence'
    stateful = True
    state_names = ('buffer',)

    def __init__(self, spec: Spec, length: int, axis: int = -1):
        length, axis = integer('length', length, minimum=1, maximum=MAX_LENGTH), integer('axis', axis)
        if is_text(spec):
            raise ConfigError(f'expects a numeric or bool array; got {describe(spec)}')
        rank = len(spec.shape)
        if rank and not -rank <= axis < rank:
            raise ConfigError(f'axis {axis} is out of range for {describe(spec)}')
        self.length = int(length)
        self.axis = axis % rank if rank else 0
        shape = list(spec.shape) or [1]
        shape[self.axis] *= self.length
        super().__init__(spec, same_kind_spec(spec, tuple(shape)))

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        return (np.zeros((num_envs, self.length) + self.input_spec.shape, self.input_spec.dtype),)

    def _output_perm(self) -> list[int]:
        rank = len(self.input_spec.shape)
        # (batch, length, d0, ..., d_{r-1}) -> (batch, d0, .., length, d_axis, ...)
        dims = [0] + [2 + i for i in range(rank)]
        dims.insert(1 + self.axis, 1)
        return dims

    def numpy_step(self, x, state, first):
        buffer = np.concatenate([state[0][:, 1:], x[:, None]], axis=1)
        if first.any():
            buffer[first] = x[first][:, None]
        y = buffer.transpose(self._output_perm()).reshape((x.shape[0],) + self.spec.shape)
        return y, (buffer,)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        shifted = tf.concat([state[0][:, 1:], x[:, None]], axis=1)
        filled = tf.broadcast_to(x[:, None], tf.shape(shifted))
        buffer = tf.where(_mask(first, len(shifted.shape), tf), filled, shifted)
        y = tf.reshape(tf.transpose(buffer, self._output_perm()), (-1,) + self.spec.shape)
        return y, (buffer,)


class FrameMax(Preprocessor):
    """``max(x_t, x_{t-1})`` elementwise (``x_{t-1} = x_t`` at an episode start).

    Removes Atari flicker. Output spec: the input spec.
    """

    type = 'frame_max'
    stateful = True
    state_names = ('previous',)

    def __init__(self, spec: Spec):
        super().__init__(spec, require_numeric(spec))

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        return (np.zeros((num_envs,) + self.input_spec.shape, self.input_spec.dtype),)

    def numpy_step(self, x, state, first):
        previous = np.where(_mask(first, x.ndim), x, state[0])
        return np.maximum(x, previous), (x.copy(),)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        previous = tf.where(_mask(first, len(x.shape), tf), x, state[0])
        return tf.maximum(x, previous), (x,)


class Deltafier(Preprocessor):
    """``x_t - x_{t-1}`` as float32 (zeros at an episode start).

    Output spec: float32 `Array` of the same shape.
    """

    type = 'deltafier'
    stateful = True
    state_names = ('previous',)

    def __init__(self, spec: Spec):
        super().__init__(spec, float_spec(require_numeric(spec)))

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        return (np.zeros((num_envs,) + self.input_spec.shape, np.float32),)

    def numpy_step(self, x, state, first):
        x = x.astype(np.float32)
        previous = np.where(_mask(first, x.ndim), x, state[0])
        return x - previous, (x,)

    def tf_step(self, x, state, first):
        import tensorflow as tf
        x = tf.cast(x, tf.float32)
        previous = tf.where(_mask(first, len(x.shape), tf), x, state[0])
        return x - previous, (x,)

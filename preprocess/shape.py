"""Shape preprocessors: `flatten`, `one_hot`."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from modalbridge.bridges.arguments import integer
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import Spec, describe, is_discrete, is_text
from modalbridge.bridges.specs import num_values as num_values_of
from modalbridge.preprocess.base import Elementwise, Preprocessor, float_spec, same_kind_spec

MAX_DEPTH = 1 << 16  # one-hot width


class Flatten(Elementwise):
    """Reshapes each observation to one axis; dtype and bounds kept."""

    type = 'flatten'

    def __init__(self, spec: Spec):
        if is_text(spec):
            raise ConfigError(f'expects a numeric or bool array; got {describe(spec)}')
        super().__init__(spec, same_kind_spec(spec, (int(np.prod(spec.shape, dtype=np.int64)),)))

    def apply(self, x: Any, ops: Any) -> Any:
        return ops.reshape(x, (-1,) + self.spec.shape)


class OneHot(Preprocessor):
    """Discrete ids to float32 one-hot vectors.

    Without ``num_values`` the ids' spec gives the width: ids of shape
    (...,) become (..., num_values). ``num_values=n`` (an int) declares the
    width for ids whose spec is wider than the values they take (a uint8
    array holding ids below n). ``num_values=[n0, n1, ...]`` (one per entry
    of the last axis) one-hot encodes each channel with its own width and
    concatenates them: (..., channels) -> (..., n0 + n1 + ...). That is the
    encoding of categorical grids such as MiniGrid's symbolic view (object,
    colour, state ids per cell); a linear layer on it is BabyAI's per-channel
    "bag of words" embedding. An id outside its declared width raises
    (`SpecError` on the NumPy backend, `InvalidArgumentError` naming the
    state on the TF backend) rather than becoming a row of zeros.

    Output spec: float32 `BoundedArray` in [0, 1].

    >>> from modalbridge.preprocess import Stack
    >>> stack = Stack(dict(grid=dict(type='int', shape=(1, 2), min_value=0, max_value=255, dtype='uint8')),
    ...               dict(grid=[dict(type='one_hot', num_values=[3, 2])]), backend='numpy')
    >>> stack.states['grid'].shape
    (1, 5)
    >>> stack(dict(grid=np.array([[[2, 1]]], np.uint8)))['grid'].tolist()
    [[[0.0, 0.0, 1.0, 0.0, 1.0]]]
    """

    type = 'one_hot'

    def __init__(self, spec: Spec, num_values: int | Sequence[int] | None = None):
        if num_values is None:
            if is_text(spec) or not is_discrete(spec) or not isinstance(num_values_of(spec), int):
                raise ConfigError(f'expects discrete ids with one num_values (an int spec with minimum 0), '
                                  f'or num_values=...; got {describe(spec)}')
            depths: tuple[int, ...] = (int(num_values_of(spec)),)  # an int: checked just above
            shape = spec.shape + depths
        else:
            if is_text(spec) or spec.dtype.kind not in 'iu':
                raise ConfigError(f'expects an integer array of ids; got {describe(spec)}')
            if isinstance(num_values, (list, tuple)):
                depths = tuple(integer(f'num_values[{i}]', n, minimum=1) for i, n in enumerate(num_values))
                if not spec.shape or spec.shape[-1] != len(depths):
                    raise ConfigError(f'num_values: {len(depths)} widths, one per entry of the last axis, but '
                                      f'the last axis has {spec.shape[-1] if spec.shape else "no"} entries; '
                                      f'got {describe(spec)}')
                shape = spec.shape[:-1] + (sum(depths),)
            else:
                depths = (integer('num_values', num_values, minimum=1),)
                shape = spec.shape + depths
        width = sum(depths)
        if width > MAX_DEPTH:
            raise ConfigError(f'{width} values would make one-hot vectors of {width} floats '
                              f'(at most {MAX_DEPTH}); embed the ids instead; got {describe(spec)}')
        self.depth = depths[0]
        self.depths = depths
        self.per_channel = isinstance(num_values, (list, tuple))
        super().__init__(spec, float_spec(spec, shape, bounds=(0.0, 1.0)))

    def _limit(self) -> np.ndarray:
        return np.asarray(self.depths if self.per_channel else self.depths[0], np.int64)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        ids = np.asarray(x, np.int64)
        bad = (ids < 0) | (ids >= self._limit())
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise SpecError(self.spec.name, f'ids in [0, num_values) with num_values {self._describe()}',
                            f'{int(ids[where])} at index {where}')
        if not self.per_channel:
            return (ids[..., None] == np.arange(self.depth)).astype(np.float32)
        return np.concatenate([(ids[..., c, None] == np.arange(n)).astype(np.float32)
                               for c, n in enumerate(self.depths)], axis=-1)

    def tf(self, x: Any) -> Any:
        import tensorflow as tf
        ids = tf.cast(x, tf.int32)
        check = tf.debugging.assert_less(
            ids, tf.constant(self._limit(), tf.int32),
            message=f'one_hot of state {self.spec.name}: ids must be below num_values {self._describe()}')
        with tf.control_dependencies([check, tf.debugging.assert_non_negative(ids)]):
            if not self.per_channel:
                return tf.one_hot(ids, self.depth, dtype=tf.float32)
            return tf.concat([tf.one_hot(ids[..., c], n, dtype=tf.float32) for c, n in enumerate(self.depths)],
                             axis=-1)

    def _describe(self) -> str:
        return str(list(self.depths)) if self.per_channel else str(self.depths[0])

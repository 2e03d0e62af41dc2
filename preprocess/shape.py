"""Shape preprocessors: `flatten`, `one_hot`."""

from __future__ import annotations

from typing import Any

import numpy as np

from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_discrete, is_text, num_values
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
    """Discrete ids (..., ) to float32 one-hot vectors (..., num_values).

    Output spec: float32 `BoundedArray` in [0, 1] of shape (..., num_values).
    """

    type = 'one_hot'

    def __init__(self, spec: Spec):
        if is_text(spec) or not is_discrete(spec) or not isinstance(num_values(spec), int):
            raise ConfigError(f'expects discrete ids with one num_values (an int spec with minimum 0); '
                              f'got {describe(spec)}')
        self.depth = int(num_values(spec))  # an int: checked just above
        if self.depth > MAX_DEPTH:
            raise ConfigError(f'{self.depth} values would make one-hot vectors of {self.depth} floats '
                              f'(at most {MAX_DEPTH}); embed the ids instead; got {describe(spec)}')
        super().__init__(spec, float_spec(spec, spec.shape + (self.depth,), bounds=(0.0, 1.0)))

    def numpy(self, x: np.ndarray) -> np.ndarray:
        return (x[..., None] == np.arange(self.depth)).astype(np.float32)

    def tf(self, x: Any) -> Any:
        import tensorflow as tf
        return tf.one_hot(tf.cast(x, tf.int32), self.depth, dtype=tf.float32)

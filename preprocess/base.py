"""`Preprocessor`: one step of a stack, mapping an input spec to an output spec.

A preprocessor is declared by a type name and keyword arguments, built on
the spec it receives (rejecting specs it cannot take), and then applied to
batches, on NumPy arrays or TensorFlow tensors. Stateful preprocessors keep
their state outside themselves, as a tuple of arrays the stack owns, so the
same object serves both backends::

    class Negate(Preprocessor):
        type = 'negate'

        def __init__(self, spec):
            super().__init__(spec, require_numeric(spec))

        def numpy(self, x):
            return -x

        def tf(self, x):
            return -x

Stateful ones set ``stateful = True``, name the arrays of their state in
``state_names`` and implement ``initial_state(num_envs)`` plus
``numpy_step`` / ``tf_step``, which take ``(x, state, first)`` (``first`` a
bool mask of the environments whose episode starts with this input) and
return ``(y, new_state)``. A preprocessor whose state can stop learning
(running statistics) overrides ``freeze(state, frozen)``.

``config()`` is the entry that rebuilds the preprocessor, by value and
JSON-able (`tokenize` built from a corpus answers with its vocabulary).
"""

from __future__ import annotations

import types
from typing import Any, ClassVar, Mapping

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_text

_REGISTRY: dict[str, type['Preprocessor']] = {}


def preprocessor_types() -> Mapping[str, type['Preprocessor']]:
    """The built-in preprocessor types by name (a read-only view)."""
    return types.MappingProxyType(_REGISTRY)


class Preprocessor:
    """Base class of every preprocessor type (see the module docstring)."""

    type: ClassVar[str] = ''
    stateful: ClassVar[bool] = False
    state_names: ClassVar[tuple[str, ...]] = ()  # the arrays of `initial_state`, in order
    entry: dict[str, Any]  # the normal-form declaration it was built from (set by the stack)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:
            _REGISTRY[cls.type] = cls

    def __init__(self, input_spec: Spec, spec: Spec):
        self.input_spec = input_spec
        self.spec = spec  # the output spec

    def __repr__(self) -> str:
        return f'{type(self).__name__}({describe(self.input_spec)} -> {describe(self.spec)})'

    def config(self) -> dict[str, Any]:
        """The declaration entry that builds this preprocessor again, by value."""
        return dict(self.entry)

    def prepare_tf(self) -> None:
        """Creates TF resources (tables, constants) eagerly, before tracing."""

    # -- stateless -----------------------------------------------------------

    def numpy(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def tf(self, x: Any) -> Any:
        raise NotImplementedError

    # -- stateful (the default wraps the stateless methods) ------------------

    def initial_state(self, num_envs: int) -> tuple[np.ndarray, ...]:
        return ()

    def numpy_step(self, x: np.ndarray, state: tuple, first: np.ndarray) -> tuple[np.ndarray, tuple]:
        return self.numpy(x), state

    def tf_step(self, x: Any, state: tuple, first: Any) -> tuple[Any, tuple]:
        return self.tf(x), state

    def check_state(self, state: tuple) -> None:
        """Raises a ConfigError if a loaded state cannot be this preprocessor's (shapes are checked already)."""

    def freeze(self, state: tuple, frozen: bool) -> tuple:
        """The state with learning stopped (or resumed); unchanged by default."""
        return state


class NumpyOps:
    """The few array operations elementwise preprocessors use, on NumPy arrays."""

    float32 = np.float32

    @staticmethod
    def cast(x: Any, dtype: Any) -> Any:
        return x.astype(dtype)

    @staticmethod
    def mean(x: Any, axis: tuple[int, ...], keepdims: bool = False) -> Any:
        return x.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def clip(x: Any, low: Any, high: Any) -> Any:
        return np.clip(x, low, high)

    sqrt, maximum, reshape = staticmethod(np.sqrt), staticmethod(np.maximum), staticmethod(np.reshape)


class TFOps:
    """The same operations on TensorFlow tensors (TensorFlow imported on first use)."""

    float32 = np.float32  # TF takes NumPy dtypes

    def __getattr__(self, name: str) -> Any:
        import tensorflow as tf
        operations = dict(cast=tf.cast, sqrt=tf.sqrt, maximum=tf.maximum, reshape=tf.reshape,
                          mean=lambda x, axis, keepdims=False: tf.reduce_mean(x, axis=axis, keepdims=keepdims),
                          clip=lambda x, low, high: tf.clip_by_value(x, tf.cast(low, x.dtype), tf.cast(high, x.dtype)))
        if name not in operations:
            raise AttributeError(name)
        return operations[name]


class Elementwise(Preprocessor):
    """A stateless preprocessor written once, as ``apply(x, ops)``, for both backends.

    `ops` is `NumpyOps` or `TFOps`; writing the formula once keeps the two
    backends the same computation, operation for operation.
    """

    def apply(self, x: Any, ops: Any) -> Any:
        raise NotImplementedError

    def numpy(self, x: np.ndarray) -> np.ndarray:
        return self.apply(x, NumpyOps)

    def tf(self, x: Any) -> Any:
        return self.apply(x, _TF_OPS)


_TF_OPS = TFOps()


# -- spec requirements shared by the types ------------------------------------


def require_numeric(spec: Spec, what: str = 'a numeric array') -> Spec:
    if is_text(spec) or spec.dtype == np.bool_:
        raise ConfigError(f'expects {what}; got {describe(spec)}')
    return spec


def require_image(spec: Spec, channels: int | None = None) -> Spec:
    """A numeric array of rank 3 (height, width, channels)."""
    what = 'an image (height, width, channels)' if channels is None else \
        f'an image (height, width, {channels})'
    require_numeric(spec, what)
    if len(spec.shape) != 3 or (channels is not None and spec.shape[-1] != channels):
        raise ConfigError(f'expects {what}; got {describe(spec)}')
    return spec


def scalar_bounds(spec: Spec) -> tuple[float, float] | None:
    """The overall (min, max) of a bounded spec, or None if unbounded."""
    if not isinstance(spec, dm_specs.BoundedArray):
        return None
    return float(np.min(spec.minimum)), float(np.max(spec.maximum))


def float_spec(spec: Spec, shape: tuple[int, ...] | None = None,
               bounds: tuple[Any, Any] | None = None) -> Spec:
    """A float32 spec named like `spec`, bounded when `bounds` are given."""
    shape = spec.shape if shape is None else shape
    if bounds is None:
        return dm_specs.Array(shape, np.float32, name=spec.name)
    return dm_specs.BoundedArray(shape, np.float32, bounds[0], bounds[1], name=spec.name)


def same_kind_spec(spec: Spec, shape: tuple[int, ...]) -> Spec:
    """`spec` with a new shape, keeping dtype and (overall) bounds."""
    if isinstance(spec, dm_specs.DiscreteArray):
        return dm_specs.BoundedArray(shape, spec.dtype, 0, spec.num_values - 1, name=spec.name)
    if isinstance(spec, dm_specs.BoundedArray):
        if np.ndim(spec.minimum) == 0 and np.ndim(spec.maximum) == 0 or shape == spec.shape:
            return dm_specs.BoundedArray(shape, spec.dtype, spec.minimum, spec.maximum, name=spec.name)
        low, high = float(np.min(spec.minimum)), float(np.max(spec.maximum))  # the overall bounds
        return dm_specs.BoundedArray(shape, spec.dtype, low, high, name=spec.name)
    return dm_specs.Array(shape, spec.dtype, name=spec.name)


def round_to(x: Any, dtype: np.dtype, tf_module: Any = None, half_up: bool = False) -> Any:
    """Float results back to an integer dtype as OpenCV does: saturated, and
    rounded half to even (`cvRound`) or, for its fixed-point paths, half up."""
    if dtype.kind not in 'iu':
        return x.astype(dtype) if tf_module is None else tf_module.cast(x, dtype)
    info = np.iinfo(dtype)
    if tf_module is None:
        rounded = np.floor(x + 0.5) if half_up else np.rint(x)
        return np.clip(rounded, info.min, info.max).astype(dtype)
    tf = tf_module
    rounded = tf.floor(x + 0.5) if half_up else tf.round(x)
    return tf.cast(tf.clip_by_value(rounded, float(info.min), float(info.max)), dtype)

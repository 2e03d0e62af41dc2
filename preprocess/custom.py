"""Plug-in preprocessors named by a dotted path ``'package.module.name'``.

The name is either a `Preprocessor` subclass (built like the built-in
types, with the entry's keyword arguments) or a function applied to the
batch (NumPy arrays on the 'numpy' backend, tensors on 'tf'), whose output
spec is found by calling it once on a batch of zeros.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges.errors import ConfigError, ModalbridgeError
from modalbridge.bridges.plugins import resolve
from modalbridge.bridges.specs import Spec, describe, is_text
from modalbridge.preprocess.base import Preprocessor


class Function(Preprocessor):
    """A user function ``f(batch) -> batch`` as a preprocessor (see module doc)."""

    def __init__(self, spec: Spec, function: Callable[[Any], Any], backend: str, **kwargs: Any):
        if kwargs:
            raise ConfigError(f'a function preprocessor takes no arguments; received {sorted(kwargs)}')
        self.function = function
        dtype = object if is_text(spec) else spec.dtype
        example = np.zeros((1,) + spec.shape, dtype) if not is_text(spec) else np.full((1,) + spec.shape, '', object)
        try:
            if backend == 'tf':
                import tensorflow as tf
                out = function(tf.constant(example))
                out_shape, out_dtype = tuple(out.shape), np.dtype(out.dtype.as_numpy_dtype)
            else:
                out = np.asarray(function(example))
                out_shape, out_dtype = out.shape, out.dtype
        except Exception as error:  # noqa: BLE001 - any failure is a configuration error here
            raise ConfigError(f'{getattr(function, "__name__", function)!r} failed on a batch of '
                              f'{describe(spec)}: {error!r}') from error
        if not out_shape or out_shape[0] != 1:
            raise ConfigError(f'{function.__name__!r} must keep the batch axis; it turned (1,) + {spec.shape} '
                              f'into {out_shape}')
        super().__init__(spec, dm_specs.Array(out_shape[1:], out_dtype, name=spec.name))

    def numpy(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.function(x))

    def tf(self, x: Any) -> Any:
        return self.function(x)


def build(path: str, spec: Spec, kwargs: dict[str, Any], backend: str, safe_mode: bool = False) -> Preprocessor:
    """The preprocessor a dotted path names (safe mode: registered plug-ins only, nothing imported)."""
    target = resolve(path, safe_mode=safe_mode)
    if inspect.isclass(target) and issubclass(target, Preprocessor):
        try:
            return target(spec, **kwargs)
        except ModalbridgeError:
            raise
        except Exception as error:  # noqa: BLE001 - a plug-in's failure is a configuration error here
            raise ConfigError(f'the plug-in {target.__name__} failed on {describe(spec)}: {error!r}') from error
    if callable(target):
        return Function(spec, target, backend, **kwargs)
    raise ConfigError(f'{path!r} is neither a Preprocessor subclass nor a function')

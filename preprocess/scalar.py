"""Elementwise value preprocessors: `center`, `standardize`, `normalize`,
`clip`, `scale`. All but `clip` output float32."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges.arguments import number
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe
from modalbridge.preprocess.base import Elementwise, float_spec, require_numeric, scalar_bounds

STD_FLOOR = 1e-8
F32_MAX, F32_TINY = float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny)


def _axes(x: Any) -> tuple[int, ...]:
    return tuple(range(1, len(x.shape)))


class Center(Elementwise):
    """``x - mean(x)`` per observation (the mean over all but the batch axis).

    Output spec: float32 `Array` of the same shape.
    """

    type = 'center'

    def __init__(self, spec: Spec):
        super().__init__(spec, float_spec(require_numeric(spec)))

    def apply(self, x: Any, ops: Any) -> Any:
        x = ops.cast(x, ops.float32)
        return x - ops.mean(x, axis=_axes(x), keepdims=True)


class Standardize(Center):
    """``(x - mean(x)) / max(std(x), 1e-8)`` per observation.

    Output spec: float32 `Array` of the same shape.
    """

    type = 'standardize'

    def apply(self, x: Any, ops: Any) -> Any:
        centered = super().apply(x, ops)
        std = ops.sqrt(ops.mean(centered * centered, axis=_axes(centered), keepdims=True))
        return centered / ops.maximum(std, np.float32(STD_FLOOR))


class Normalize(Elementwise):
    """``(x - min_value) / (max_value - min_value)`` from the spec's bounds.

    Needs finite bounds (uint8 images: 0..255 -> [0, 1]). Output spec:
    float32 `BoundedArray` in [0, 1].
    """

    type = 'normalize'

    def __init__(self, spec: Spec):
        require_numeric(spec)
        if not isinstance(spec, dm_specs.BoundedArray):
            raise ConfigError(f'needs a bounded spec (min_value/max_value); got {describe(spec)}')
        low = np.broadcast_to(spec.minimum, spec.shape).astype(np.float64)
        high = np.broadcast_to(spec.maximum, spec.shape).astype(np.float64)
        span = (high - low).astype(np.float32)
        if (not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))) or np.any(high <= low)
                or not np.all(np.isfinite(span)) or np.any(span <= 0)):
            raise ConfigError(f'needs finite bounds with max_value > min_value, their difference a finite '
                              f'non-zero float32; got {describe(spec)}')
        super().__init__(spec, float_spec(spec, bounds=(0.0, 1.0)))
        uniform = np.all(low == low.flat[0]) and np.all(high == high.flat[0])
        self._low = np.float32(low.flat[0]) if uniform else low.astype(np.float32)
        self._range = np.float32(high.flat[0] - low.flat[0]) if uniform else (high - low).astype(np.float32)

    def apply(self, x: Any, ops: Any) -> Any:
        x = ops.cast(x, ops.float32)
        if np.ndim(self._low) or self._low != 0:  # x - 0 == x in float32: that pass changes no bit
            x = x - self._low
        return x / self._range


class Clip(Elementwise):
    """``min(max(x, min_value), max_value)``; dtype kept.

    Output spec: bounds narrowed to [min_value, max_value].
    """

    type = 'clip'

    def __init__(self, spec: Spec, min_value: float, max_value: float):
        min_value, max_value = number('min_value', min_value), number('max_value', max_value)
        require_numeric(spec)
        if not min_value <= max_value:
            raise ConfigError(f'min_value must not exceed max_value; received {min_value!r}, {max_value!r}')
        if spec.dtype.kind in 'iu' and (min_value != int(min_value) or max_value != int(max_value)):
            raise ConfigError(f'integer specs clip to integer bounds; received {min_value!r}, {max_value!r} '
                              f'for {describe(spec)}')
        # Bounds never reach outside what the dtype holds (an int8 state clipped to [-1000, 1000]).
        bounds: Sequence[float]
        limits: tuple[float, float]
        if spec.dtype.kind in 'iu':
            info = np.iinfo(spec.dtype)
            bounds = [int(b) for b in scalar_bounds(spec) or (info.min, info.max)]
            limits = (int(info.min), int(info.max))
            min_value, max_value = int(min_value), int(max_value)
        else:
            info = np.finfo(spec.dtype)
            bounds = scalar_bounds(spec) or (float(info.min), float(info.max))
            limits = (float(info.min), float(info.max))
        low, high = max(min_value, bounds[0], limits[0]), min(max_value, bounds[1], limits[1])
        if low > high:
            raise ConfigError(f'[{min_value}, {max_value}] does not overlap the spec\'s bounds; got {describe(spec)}')
        super().__init__(spec, dm_specs.BoundedArray(spec.shape, spec.dtype, low, high, name=spec.name))
        self.bounds = (spec.dtype.type(low), spec.dtype.type(high))

    def apply(self, x: Any, ops: Any) -> Any:
        return ops.clip(x, *self.bounds)


class Scale(Elementwise):
    """``x * factor`` as float32; bounds scaled too."""

    type = 'scale'

    def __init__(self, spec: Spec, factor: float):
        factor = number('factor', factor)
        # The output is float32: the factor and the scaled bounds must be finite non-zero float32 numbers.
        if factor == 0 or not F32_TINY <= abs(factor) <= F32_MAX:
            raise ConfigError(f'factor: expected a non-zero number within float32 range (its magnitude in '
                              f'[{F32_TINY}, {F32_MAX}]); received {factor!r}')
        require_numeric(spec)
        bounds = scalar_bounds(spec)
        if bounds is not None:
            low, high = sorted((bounds[0] * factor, bounds[1] * factor))
            bounds = (low, high)
            if not all(np.isfinite(np.float32(bound)) for bound in bounds if np.isfinite(bound)):
                raise ConfigError(f'factor: {factor!r} takes the bounds of {describe(spec)} beyond float32 range')
        super().__init__(spec, float_spec(spec, bounds=bounds))
        self.factor = np.float32(factor)

    def apply(self, x: Any, ops: Any) -> Any:
        return ops.cast(x, ops.float32) * self.factor

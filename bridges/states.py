"""`StateBatcher`: a dict of states checked against their specs, as a batch.

Whoever takes states from a caller (an agent's `act`, a preprocessing
`Stack`) takes them batched (a leading axis) or single (exactly the spec's
shape), and with the rules of `specs.validate`: converted only where that
loses nothing that matters (ints to floats exactly, float64 to float32,
ints into a narrower int only in range), finite, inside the spec's bounds;
text as `str` (UTF-8 `bytes` decoded). Every failure is a `SpecError`
naming the state.

>>> from modalbridge.bridges import specs
>>> batcher = StateBatcher(dict(x=specs.from_dict(dict(type='float', shape=(2,)), 'x')))
>>> batch, single = batcher(dict(x=[[0.0, 1.0], [2.0, 3.0]]))
>>> batch['x'].shape, batch['x'].dtype.name, single
((2, 2), 'float32', False)
>>> batcher(dict(x=[float('nan'), 0.0]))
Traceback (most recent call last):
...
modalbridge.bridges.errors.SpecError: 'x': expected float32 array of shape (2,), finite; received list [nan, 0.0] (not finite: 1 bad element(s), first at index (0,): nan)
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.errors import SpecError


class StateBatcher:
    """Checks dicts of states against `specs` (see the module docstring); validators are compiled once
    per state and batch size."""

    def __init__(self, specs: Mapping[str, specs_lib.Spec], what: str = 'states'):
        self.specs = dict(specs)
        self.what = what
        self._validators: dict[tuple[str, int | None], Callable[[Any], np.ndarray]] = {}

    def __call__(self, states: Mapping[str, Any], rows: int | None = None) -> tuple[dict[str, np.ndarray], bool]:
        """The states as batched arrays and whether they came single; `rows` requires that batch size
        (a single set of states counts as one row)."""
        if not isinstance(states, Mapping):
            raise SpecError(self.what, f'a dict with the keys {list(self.specs)}', type(states).__name__)
        missing = [name for name in self.specs if name not in states]
        unknown = [str(name) for name in states if name not in self.specs]
        if missing or unknown:
            raise SpecError((missing or unknown)[0], f'the {self.what} keys {list(self.specs)}',
                            f'missing {missing}' if missing else f'unknown {unknown}')
        batch, kinds, sizes = {}, set(), set()
        for name, spec in self.specs.items():
            value = states[name]
            text = specs_lib.is_text(spec)
            if text:
                value = _decoded(name, value)
            shape = _shape(name, spec, value)
            if shape == spec.shape:
                kinds.add('single')
                array = self._validator(name, None)(value)[None]
            elif len(shape) == len(spec.shape) + 1 and shape[1:] == spec.shape:
                if rows is not None and shape[0] != rows:
                    raise SpecError(name, f'a batch of {rows} of {specs_lib.describe(spec)}', f'shape {shape}')
                kinds.add('batch')
                array = self._validator(name, shape[0])(value)
            else:
                raise SpecError(name, f'{specs_lib.describe(spec)}, or a batch of them', f'shape {shape}')
            sizes.add(array.shape[0])
            batch[name] = array
        if len(kinds) > 1:
            raise SpecError(self.what, f'all {self.what} batched or all single', 'a mix of both')
        if len(sizes) > 1:
            raise SpecError(self.what, f'the same batch size for all {self.what}', f'sizes {sorted(sizes)}')
        if rows is not None and sizes and next(iter(sizes)) != rows:
            raise SpecError(self.what, f'a batch of {rows} (the number of environments)',
                            f'a batch of {next(iter(sizes))}')
        return batch, kinds == {'single'}

    def _validator(self, name: str, rows: int | None) -> Callable[[Any], np.ndarray]:
        validator = self._validators.get((name, rows))
        if validator is None:
            spec = self.specs[name]
            if rows is not None:
                spec = _batched(spec, rows)
            validator = self._validators[name, rows] = specs_lib.validator(spec, name)
        return validator


def _batched(spec: specs_lib.Spec, rows: int) -> specs_lib.Spec:
    """The spec of `rows` values of `spec`: the same dtype and bounds over a leading batch axis."""
    shape = (rows,) + tuple(spec.shape)
    if specs_lib.is_text(spec):
        return dm_specs.StringArray(shape, spec.string_type, name=spec.name)
    if isinstance(spec, dm_specs.BoundedArray):  # a DiscreteArray too (its bounds are 0..n-1)
        return dm_specs.BoundedArray(shape, spec.dtype, spec.minimum, spec.maximum, name=spec.name)
    return dm_specs.Array(shape, spec.dtype, name=spec.name)


def _shape(name: str, spec: specs_lib.Spec, value: Any) -> tuple[int, ...]:
    if isinstance(value, np.ndarray):
        return value.shape
    try:
        return np.shape(np.asarray(value, dtype=object) if specs_lib.is_text(spec) else value)
    except (ValueError, TypeError, RecursionError) as error:
        raise SpecError(name, specs_lib.describe(spec), f'{specs_lib.received(value)} (not an array: {error})') from None


def _decoded(name: str, value: Any) -> Any:
    """Text with UTF-8 bytes decoded to str (other items are left for the validator to refuse)."""
    if isinstance(value, bytes):
        return _decode(name, value)
    if isinstance(value, str):
        return value
    try:
        array = np.array(value, dtype=object)
    except (ValueError, TypeError, RecursionError):
        return value
    for index, item in np.ndenumerate(array):
        if isinstance(item, bytes):
            array[index] = _decode(name, item)
    return array


def _decode(name: str, item: bytes) -> str:
    try:
        return item.decode('utf-8')
    except UnicodeDecodeError:
        raise SpecError(name, 'text (str or UTF-8 bytes)', f'{specs_lib.received(item)}: not UTF-8') from None

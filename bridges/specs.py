"""dm_env specs as the contract's type system, plus the helpers around them.

States and actions are described by `dm_env.specs` values (`Array`,
`BoundedArray`, `DiscreteArray`, `StringArray`) whose `name` is their key.
This module adds what dm_env leaves out:

* `validate(spec, value)` converts a value and checks it, raising `SpecError`
  (naming the key, what was expected and what was received). Unlike
  `spec.validate` it also rejects NaN and infinity in float values, and it
  converts only losslessly: a Python int or list is turned into an array, a
  float is never truncated to an int and an out-of-range value is never
  clipped.
* `from_dict` / `to_dict`: the TensorForce short form::

    >>> from_dict(dict(type='int', shape=(), num_values=5), name='move')
    DiscreteArray(shape=(), dtype=int64, name=move, minimum=0, maximum=4, num_values=5)
    >>> to_dict(from_dict(dict(type='float', shape=(2,), min_value=-1., max_value=1.)))
    {'type': 'float', 'shape': (2,), 'min_value': -1.0, 'max_value': 1.0}

* `sample(spec, rng)`, `describe(spec)` and a few predicates
  (`is_text`, `is_bool`, `is_discrete`, `num_values`).
"""

from __future__ import annotations

import math
import operator
import types
from typing import Any, Callable, Mapping, Union

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges.errors import ConfigError, SpecError

Spec = Union[dm_specs.Array, dm_specs.BoundedArray, dm_specs.DiscreteArray,
             dm_specs.StringArray]
SpecLike = Union[Spec, Mapping[str, Any]]
Validator = Callable[[Any], np.ndarray]

SHORT_FORM_TYPES = ('int', 'float', 'bool', 'text')
_SHORT_FORM_KEYS = frozenset(
    ('type', 'shape', 'num_values', 'min_value', 'max_value', 'dtype'))
MAX_SIZE = np.iinfo(np.intp).max  # the most elements a NumPy array can have

_DEFAULT_DTYPES: dict[str, np.dtype] = {'int': np.dtype(np.int64), 'float': np.dtype(np.float32),
                   'bool': np.dtype(bool)}
# Input dtype kinds converted without loss into each target kind; booleans
# are additionally accepted from integer arrays holding only 0 and 1.
_ACCEPTED_KINDS = {'f': 'fiu', 'i': 'iu', 'u': 'iu', 'b': 'biu'}
_SHORT_FORM_KINDS = {'int': 'iu', 'float': 'f', 'bool': 'b'}


# --------------------------------------------------------------------------
# Predicates


def is_text(spec: Spec) -> bool:
    """Whether the spec describes text (a `StringArray`)."""
    return isinstance(spec, dm_specs.StringArray)


def is_bool(spec: Spec) -> bool:
    return not is_text(spec) and spec.dtype == np.bool_


def is_float(spec: Spec) -> bool:
    return not is_text(spec) and spec.dtype.kind == 'f'


def is_discrete(spec: Spec) -> bool:
    """A choice among `num_values`: a `DiscreteArray`, or an integer
    `BoundedArray` whose minimum is 0 everywhere."""
    if isinstance(spec, dm_specs.DiscreteArray):
        return True
    return (isinstance(spec, dm_specs.BoundedArray) and spec.dtype.kind in 'iu'
            and bool(np.all(spec.minimum == 0)))


def num_values(spec: Spec) -> int | np.ndarray:
    """Number of choices of a discrete spec: an int if the same everywhere."""
    if not is_discrete(spec):
        raise ConfigError(f'spec {spec.name!r} is not discrete: {describe(spec)}')
    maximum = collapse_bound(spec.maximum)
    if maximum.ndim == 0:
        return int(maximum) + 1  # a Python int: int64's maximum + 1 does not overflow
    return np.broadcast_to(maximum.astype(np.int64) + 1, spec.shape).copy()


# --------------------------------------------------------------------------
# Describing specs and values in messages


def collapse_bound(bound: Any) -> np.ndarray:
    """A bound as a 0-d array when every element is equal, else as the full array.

    The one place a per-element bound is simplified, so specs print, compare
    and serialise simply (``collapse_bound(b).tolist()`` is a number or a list)::

        >>> collapse_bound(np.array([2.0, 2.0])), collapse_bound([0, 1])
        (array(2.), array([0, 1]))
    """
    bound = np.asarray(bound)
    if bound.ndim and bound.size and np.all(bound == bound.flat[0]):
        return np.asarray(bound.flat[0])
    return bound


def _bound_text(bound: np.ndarray) -> str:
    bound = collapse_bound(bound)
    if bound.ndim == 0:
        return repr(bound.item())
    return np.array2string(bound, threshold=8, separator=', ')


def describe(spec: Spec) -> str:
    """A short human description of what a spec accepts."""
    if is_text(spec):
        what = 'text' if spec.shape == () else f'text array of shape {spec.shape}'
        return what
    dtype, shape = spec.dtype.name, spec.shape
    what = f'{dtype} scalar' if shape == () else f'{dtype} array of shape {shape}'
    if isinstance(spec, dm_specs.DiscreteArray):
        return f'{what} in [0, {spec.num_values}) (num_values={spec.num_values})'
    if isinstance(spec, dm_specs.BoundedArray):
        return f'{what} in [{_bound_text(spec.minimum)}, {_bound_text(spec.maximum)}]'
    if spec.dtype.kind == 'f':
        return f'{what}, finite'
    return what


def received(value: Any) -> str:
    """A short description of a received value, for error messages."""
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            return f'{value.dtype.name} array of shape {value.shape}: {value.tolist()!r}'
        return f'{value.dtype.name} array of shape {value.shape}'
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + '...'
    return f'{type(value).__name__} {text}'


def _first_bad(mask: np.ndarray, value: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    count = int(mask.sum())
    at = f'index {index}' if index else 'the value'
    return f'{count} bad element(s), first at {at}: {value[index].item()!r}'


# --------------------------------------------------------------------------
# Validation


def validator(spec: Spec, key: str | None = None, fresh: bool = False) -> Validator:
    """A function that converts and checks values for one spec.

    Compiled once per spec (bounds and messages are precomputed), so an
    environment validates each action with a single call. `key` defaults to
    the spec's name and appears in every `SpecError`. With `fresh=True` the
    result never shares memory with the value given (what an environment
    hands out must not change under the caller).
    """
    key = spec.name if key is None else key
    expected = describe(spec)
    if is_text(spec):
        return _text_validator(spec, key, expected)  # always a new object array

    dtype, shape = spec.dtype, spec.shape
    accepted = _ACCEPTED_KINDS.get(dtype.kind)
    if accepted is None:
        raise ConfigError(f'spec {key!r} has unsupported dtype {dtype}: '
                          'expected a bool, integer or float dtype, or a StringArray')
    lo = hi = None
    if isinstance(spec, dm_specs.BoundedArray):
        lo, hi = np.asarray(spec.minimum), np.asarray(spec.maximum)
        if dtype.kind == 'f' and (np.isnan(lo).any() or np.isnan(hi).any()):
            raise ConfigError(f'spec {key!r} has NaN bounds: {describe(spec)}; nothing could be checked '
                              'against them')
        if dtype.kind in 'iu':
            info = np.iinfo(dtype)
            if np.all(lo <= info.min) and np.all(hi >= info.max):
                lo = hi = None  # the dtype alone guarantees the bounds (uint8 0..255)
    scalar_bounds = False
    if lo is not None and hi is not None and lo.size == 1 and hi.size == 1:
        scalar_bounds = True
        lo_item, hi_item = lo.item(), hi.item()
    check_finite = dtype.kind == 'f'
    int_range = np.iinfo(dtype) if dtype.kind in 'iu' else None
    # ints above 2**(mantissa bits + 1) may not survive a float conversion
    exact_limit = 2 ** (np.finfo(dtype).nmant + 1) if dtype.kind == 'f' else None

    def fail(why: str, value: Any) -> SpecError:
        return SpecError(key, expected, f'{received(value)} ({why})')

    int_scalar = shape == () and dtype.kind in 'iu' and (lo is None or scalar_bounds)
    if int_scalar:
        assert int_range is not None  # an integer dtype: int_scalar implies it
        low = int_range.min if lo is None else lo_item
        high = int_range.max if lo is None else hi_item

    # Small float vectors (CartPole's state) are checked fastest element by element in Python.
    small_float = len(shape) == 1 and shape[0] <= 16 and dtype.kind == 'f'
    if small_float:  # bounds clamped to the largest finite float, so NaN and infinities fail too
        largest = np.finfo(np.float64).max
        los = np.maximum(np.broadcast_to(-np.inf if lo is None else lo, shape), -largest).tolist()
        his = np.minimum(np.broadcast_to(np.inf if hi is None else hi, shape), largest).tolist()

    def validate(value: Any) -> np.ndarray:
        if small_float and type(value) is np.ndarray and value.dtype is dtype and value.shape == shape:
            items = value.tolist()
            if all(map(operator.le, los, items)) and all(map(operator.le, items, his)):
                return value.copy() if fresh else value
        if int_scalar and type(value) is int and low <= value <= high:
            return np.array(value, dtype)  # the common case: a Python int choice
        if type(value) is np.ndarray:
            array = value
        else:
            try:
                array = np.asarray(value)
            except (ValueError, TypeError, RecursionError, OverflowError) as error:
                raise fail(f'not an array: {error}', value) from None
        kind = array.dtype.kind
        if kind not in accepted:
            raise fail(f'dtype {array.dtype.name} cannot be converted without loss', value)
        if array.shape != shape:
            raise fail(f'shape {array.shape} instead of {shape}', value)
        if kind != dtype.kind or array.dtype.itemsize > dtype.itemsize:
            if dtype.kind == 'b' and kind != 'b':
                bad = (array != 0) & (array != 1)
                if bad.any():
                    raise fail(f'not 0 or 1: {_first_bad(bad, array)}', value)
            elif int_range is not None and array.size:
                bad = (array < int_range.min) | (array > int_range.max)
                if bad.any():
                    raise fail(f'outside the range of {dtype.name}: {_first_bad(bad, array)}', value)
            elif exact_limit is not None and kind in 'iu' and np.iinfo(array.dtype).max > exact_limit:
                inexact = _inexact_ints(array, dtype, exact_limit)
                if inexact is not None:
                    raise fail(f'not exactly representable in {dtype.name}: '
                               f'{_first_bad(inexact, array)}', value)
            if check_finite:
                with np.errstate(over='ignore'):  # an overflow is reported as 'not finite' below
                    array = array.astype(dtype)
            else:
                array = array.astype(dtype)
        elif array.dtype != dtype:
            array = array.astype(dtype)
        if check_finite:
            if shape == ():
                if not np.isfinite(array):
                    raise fail('not finite', value)
            elif not np.isfinite(array).all():
                raise fail(f'not finite: {_first_bad(~np.isfinite(array), array)}', value)
        if lo is not None:
            if scalar_bounds and shape == ():
                item = array.item()
                if item < lo_item or item > hi_item:
                    raise fail('out of bounds', value)
            else:
                bad = (array < lo) | (array > hi)
                if bad.any():
                    raise fail(f'out of bounds: {_first_bad(bad, array)}', value)
        if fresh and (array is value or not array.flags.owndata):
            return array.copy()
        return array

    return validate


def _inexact_ints(array: np.ndarray, dtype: np.dtype, limit: int) -> np.ndarray | None:
    """The mask of integers that `dtype` cannot hold exactly (None if all fit)."""
    large = (array > limit) | (array < -limit)
    if not large.any():
        return None
    bad = np.zeros(array.shape, bool)
    with np.errstate(over='ignore'):
        converted = array[large].astype(dtype).tolist()
    for position, item, back in zip(np.argwhere(large), array[large].tolist(), converted):
        bad[tuple(position)] = not math.isfinite(back) or int(back) != item
    return bad if bad.any() else None


def _text_validator(spec: dm_specs.StringArray, key: str, expected: str) -> Validator:
    shape, string_type = spec.shape, spec.string_type

    def validate(value: Any) -> np.ndarray:
        try:
            array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) \
                else value.astype(object)
        except (ValueError, TypeError, RecursionError) as error:
            raise SpecError(key, expected, f'{received(value)} (not an array: {error})') from None
        if array.shape != shape:
            raise SpecError(key, expected, f'{received(value)} (shape {array.shape} instead of {shape})')
        for item in array.flat:
            if not isinstance(item, string_type):
                raise SpecError(key, expected, f'{received(value)} (an element of type '
                                f'{type(item).__name__}, not {string_type.__name__})')
        return array

    return validate


def validate(spec: Spec, value: Any, key: str | None = None) -> np.ndarray:
    """Converts `value` to the spec's dtype and checks it; raises `SpecError`.

    >>> validate(dm_specs.DiscreteArray(3, name='move'), 2)
    array(2, dtype=int32)
    """
    return validator(spec, key)(value)


# --------------------------------------------------------------------------
# Building specs


def as_spec(spec: SpecLike, name: str) -> Spec:
    """A dm_env spec named `name`, from a spec or the short form."""
    if isinstance(spec, Mapping):
        return from_dict(spec, name=name)
    if not isinstance(spec, dm_specs.Array):
        raise ConfigError(f'spec {name!r}: expected a dm_env spec or a short-form dict '
                          f'such as dict(type="float", shape=(4,)); received {type(spec).__name__}')
    return spec if spec.name == name else spec.replace(name=name)


def as_specs(specs: Mapping[str, SpecLike], what: str = 'states') -> Mapping[str, Spec]:
    """A read-only dict of specs named by their keys (the form of `env.states`)."""
    if not isinstance(specs, Mapping):
        raise ConfigError(f'{what}: expected a dict of specs keyed by name; '
                          f'received {type(specs).__name__}')
    out = {}
    for name, spec in specs.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f'{what}: names must be non-empty strings; received {name!r}')
        out[name] = as_spec(spec, name)
    return types.MappingProxyType(out)


def from_dict(spec: Mapping[str, Any], name: str | None = None) -> Spec:
    """A dm_env spec from the TensorForce short form.

    ``type`` is one of ``'int'``, ``'float'``, ``'bool'``, ``'text'``;
    ``shape`` defaults to ``()``; ``int`` takes ``num_values`` (a choice,
    `DiscreteArray` when scalar) or ``min_value``/``max_value``; ``float``
    takes optional ``min_value``/``max_value``; ``dtype`` overrides the
    default (int64, float32). Bounds are a number or a (nested) list that
    broadcasts to the shape; a float bound may be infinite, never NaN; an
    int bound must be a whole number inside the dtype's range. Anything
    else raises a `ConfigError` naming the spec and the field.
    """
    where = f'spec {name!r}' if name else 'spec'
    if not isinstance(spec, Mapping):
        raise ConfigError(f'{where}: expected a dict such as dict(type="float", shape=(4,)); '
                          f'received {received(spec)}')
    unknown = [key for key in spec if key not in _SHORT_FORM_KEYS]
    if unknown:
        raise ConfigError(f'{where}: unknown key(s) {sorted(map(str, unknown))}; '
                          f'expected some of {sorted(_SHORT_FORM_KEYS)}')
    kind = spec.get('type')
    if not isinstance(kind, str) or kind not in SHORT_FORM_TYPES:
        raise ConfigError(f'{where}: type must be one of {list(SHORT_FORM_TYPES)}; received {kind!r}')
    shape = _shape(spec.get('shape', ()), where)
    if kind == 'text':
        if set(spec) - {'type', 'shape'}:
            raise ConfigError(f'{where}: text takes only type and shape; received {sorted(spec)}')
        return dm_specs.StringArray(shape, name=name)
    dtype = _dtype(spec, kind, where)
    lo, hi = spec.get('min_value'), spec.get('max_value')
    if kind == 'bool':
        if lo is not None or hi is not None or 'num_values' in spec:
            raise ConfigError(f'{where}: bool takes no bounds or num_values')
        return dm_specs.Array(shape, dtype, name=name)
    if 'num_values' in spec:
        count = spec['num_values']
        if (kind != 'int' or isinstance(count, (bool, np.bool_))
                or not isinstance(count, (int, np.integer)) or count < 1):
            raise ConfigError(f'{where}: num_values must be a positive int on an int spec; '
                              f'received {count!r}')
        if count - 1 > np.iinfo(dtype).max:
            raise ConfigError(f'{where}: num_values {count} does not fit dtype {dtype.name} '
                              f'(at most {np.iinfo(dtype).max + 1})')
        if lo is not None or hi is not None:
            raise ConfigError(f'{where}: give num_values or min_value/max_value, not both')
        if shape == ():
            return dm_specs.DiscreteArray(int(count), dtype=dtype, name=name)
        return dm_specs.BoundedArray(shape, dtype, 0, int(count) - 1, name=name)
    if lo is None and hi is None:
        return dm_specs.Array(shape, dtype, name=name)
    if kind == 'float':
        default_lo, default_hi = -np.inf, np.inf
    else:
        default_lo, default_hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    lo = default_lo if lo is None else _bound(lo, 'min_value', dtype, shape, where)
    hi = default_hi if hi is None else _bound(hi, 'max_value', dtype, shape, where)
    try:
        return dm_specs.BoundedArray(shape, dtype, lo, hi, name=name)
    except ValueError as error:
        raise ConfigError(f'{where}: invalid bounds: {error}') from error


def _shape(shape: Any, where: str) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(dims, (tuple, list)) or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and n >= 0
            for n in dims):
        raise ConfigError(f'{where}: shape must be non-negative ints; received {received(shape)}')
    dims = tuple(int(n) for n in dims)
    if math.prod(dims) > MAX_SIZE:  # NumPy cannot hold it ('array is too big'): refuse it here, by name
        raise ConfigError(f'{where}: shape {dims} has {math.prod(dims)} elements; at most {MAX_SIZE} fit an array')
    return dims


def _dtype(spec: Mapping[str, Any], kind: str, where: str) -> np.dtype:
    if 'dtype' not in spec:
        return _DEFAULT_DTYPES[kind]
    given = spec['dtype']
    try:
        if not isinstance(given, (str, np.dtype, type)):
            raise TypeError(given)
        dtype = np.dtype(given)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}: dtype must be a NumPy dtype name such as "int32"; '
                          f'received {received(given)}') from None
    if dtype.kind not in _SHORT_FORM_KINDS[kind]:
        raise ConfigError(f'{where}: dtype {dtype} does not fit type {kind!r}')
    return dtype


def _bound(value: Any, field: str, dtype: np.dtype, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A bound checked against the spec's dtype and shape (never silently rounded or wrapped)."""
    what = (f'{where}: {field} must be a number or a list of numbers broadcasting to shape {shape}'
            + (f', whole and within {dtype.name}' if dtype.kind in 'iu' else ', not NaN'))
    try:
        bound = np.asarray(value)
    except (ValueError, TypeError, RecursionError):
        raise ConfigError(f'{what}; received {received(value)}') from None
    if bound.dtype.kind not in 'iuf' and not (
            bound.dtype.kind == 'O' and dtype.kind in 'iu' and _all_ints(bound)):  # bools, strings, ragged lists
        raise ConfigError(f'{what}; received {received(value)}')
    try:
        np.broadcast_to(bound, shape)
    except ValueError:
        raise ConfigError(f'{what}; received shape {bound.shape}') from None
    if bound.dtype.kind == 'f' and np.isnan(bound).any():
        raise ConfigError(f'{what}; received NaN in {received(value)}')
    if dtype.kind == 'f':
        with np.errstate(over='ignore'):
            fits = np.isfinite(bound.astype(dtype)[np.isfinite(bound)]).all()
        if not fits:
            raise ConfigError(f'{what}; received {received(value)} (beyond the range of {dtype.name})')
        return bound.astype(dtype)
    info = np.iinfo(dtype)
    if isinstance(value, np.ndarray) and bound.dtype.kind in 'iu':
        inside = bool(((bound >= info.min) & (bound <= info.max)).all())
    else:  # Python numbers, one by one: a list mixing ints beyond 2**53 became float64 above
        items = np.asarray(value, dtype=object).reshape(bound.shape).ravel().tolist()
        wholes = [_whole(item) for item in items]
        exact = [item for item in wholes if item is not None]
        if len(exact) < len(wholes):
            raise ConfigError(f'{what}; received {received(value)}')
        inside = all(info.min <= item <= info.max for item in exact)
        if inside:
            bound = np.array(exact, dtype).reshape(bound.shape)
    if not inside:
        raise ConfigError(f'{what}; received {received(value)} (outside {info.min}..{info.max})')
    return bound.astype(dtype)


def _all_ints(bound: np.ndarray) -> bool:
    return all(isinstance(item, int) and not isinstance(item, bool) for item in bound.flat)


def _whole(item: Any) -> int | None:
    """An integer-valued number as a Python int; None for anything else."""
    if isinstance(item, (bool, np.bool_)):
        return None
    if isinstance(item, (int, np.integer)):
        return int(item)
    if isinstance(item, (float, np.floating)) and math.isfinite(item) and float(item).is_integer():
        return int(item)
    return None


def to_dict(spec: Spec) -> dict[str, Any]:
    """The TensorForce short form of a spec (the inverse of `from_dict`, also through JSON).

    >>> to_dict(dm_specs.BoundedArray((2,), np.float32, [-1.0, 0.0], 1.0, name='force'))
    {'type': 'float', 'shape': (2,), 'min_value': [-1.0, 0.0], 'max_value': 1.0}
    """
    if is_text(spec):
        if spec.string_type is not str:
            raise ConfigError(f'spec {spec.name!r}: text of {spec.string_type.__name__} has no short form')
        return dict(type='text', shape=spec.shape)
    kind = {'b': 'bool', 'i': 'int', 'u': 'int', 'f': 'float'}.get(spec.dtype.kind)
    if kind is None:
        raise ConfigError(f'spec {spec.name!r}: dtype {spec.dtype} has no short form')
    out: dict[str, Any] = dict(type=kind, shape=spec.shape)
    if spec.dtype != _DEFAULT_DTYPES[kind]:
        out['dtype'] = spec.dtype.name
    if kind == 'bool':
        if isinstance(spec, dm_specs.BoundedArray) and not (
                np.all(spec.minimum == 0) and np.all(spec.maximum == 1)):
            raise ConfigError(f'spec {spec.name!r}: a bounded bool has no short form: {describe(spec)}')
        return out
    if is_discrete(spec):
        count = num_values(spec)
        if isinstance(count, int):
            out['num_values'] = count
            return out
    if isinstance(spec, dm_specs.BoundedArray):
        out['min_value'] = collapse_bound(spec.minimum).tolist()
        out['max_value'] = collapse_bound(spec.maximum).tolist()
    return out


# --------------------------------------------------------------------------
# Sampling


_LETTERS = np.array(list('abcdefghijklmnopqrstuvwxyz'))


def _word(rng: np.random.Generator) -> str:
    return ''.join(rng.choice(_LETTERS, size=int(rng.integers(1, 9))))


def sample(spec: Spec, rng: np.random.Generator) -> np.ndarray:
    """A random valid value (unbounded floats are standard normal; text is one
    lowercase word of 1 to 8 letters, valid for Gymnasium's default charset)."""
    if is_text(spec):
        words = np.empty(spec.shape, dtype=object)
        for index in np.ndindex(spec.shape):
            words[index] = _word(rng)
        return words
    if is_bool(spec):
        return rng.integers(0, 2, spec.shape).astype(bool)
    if spec.dtype.kind in 'iu':
        if isinstance(spec, dm_specs.BoundedArray):
            lo = np.broadcast_to(spec.minimum, spec.shape)
            hi = np.broadcast_to(spec.maximum, spec.shape)
            return rng.integers(lo, hi, spec.shape, endpoint=True).astype(spec.dtype)
        return rng.integers(0, 10, spec.shape).astype(spec.dtype)
    if isinstance(spec, dm_specs.BoundedArray):
        lo = np.broadcast_to(spec.minimum, spec.shape).astype(np.float64)
        hi = np.broadcast_to(spec.maximum, spec.shape).astype(np.float64)
        finite = np.isfinite(lo) & np.isfinite(hi)
        uniform = np.where(finite, lo, 0) + np.where(finite, hi - lo, 1) * rng.random(spec.shape)
        value = np.where(finite, uniform, rng.standard_normal(spec.shape))
        value = np.clip(value, lo, hi)  # one-sided bounds: normal, pushed inside
        return value.astype(spec.dtype)
    return rng.standard_normal(spec.shape).astype(spec.dtype)

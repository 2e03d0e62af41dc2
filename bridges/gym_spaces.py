"""Gymnasium spaces <-> dm_env specs, in both directions, in one place.

Space to spec (what `GymBridge` and `PreprocessObservation` use): leaf
spaces map through a small registry, nested `Dict`/`Tuple` spaces flatten
to `/` names (`nest`), a single unnamed space is named ``'state'`` /
``'action'``:

========================  ==================================================
Gymnasium space           spec (and value conversion)
========================  ==================================================
Box, all bounds infinite  `Array` of the Box's dtype and shape
Box, otherwise            `BoundedArray` with the Box's bounds (uint8 images
                          keep uint8 and 0..255; mixed bounds keep their
                          infinite entries)
Discrete(n, start)        `DiscreteArray(n)`; the agent sees 0..n-1 and the
                          bridge adds `start` back (and subtracts it from
                          observations)
MultiDiscrete(nvec)       integer `BoundedArray` 0..nvec-1 (start likewise)
MultiBinary(n)            bool `Array` (int8 0/1 on the Gymnasium side)
Text                      `StringArray(())`; a text action is also checked
                          against the Text's length and charset
minigrid's MissionSpace   `StringArray(())` (`string_space`); a text action
                          is checked by the space's `contains`
========================  ==================================================

Map a space of your own with `register_space`; its mapper returns the spec
and the two value conversions::

    >>> class WordSpace(spaces.Space):
    ...     def __init__(self):
    ...         super().__init__(dtype=str)
    ...     def contains(self, x):
    ...         return x in ('go', 'stop')
    >>> register_space(WordSpace, string_space)
    >>> to_spec(WordSpace(), 'word')[0]
    StringArray(shape=(), string_type=<class 'str'>, name=word)

Spec to space (what `to_gymnasium` and the vector workers use): `space_of`
and `spaces_of`, the table in `to_gymnasium`'s docstring.
"""

from __future__ import annotations

import dataclasses
import string
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from dm_env import specs as dm_specs
from gymnasium import spaces

from modalbridge.bridges import nest
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import Spec, collapse_bound, is_bool, is_text

ToContract = Callable[[Any], Any]
ToGym = Callable[[np.ndarray], Any]
# Any, not spaces.Space: a mapper takes the space type it is registered for (Box, Text, ...)
SpaceMapper = Callable[[Any, str], 'tuple[Spec, ToContract, ToGym]']

UNSUPPORTED_SPACE = ('{what} space {name!r}: {space} is not supported; expected Box, Discrete, '
                     'MultiDiscrete, MultiBinary, Text, Dict, Tuple or a space registered with '
                     'modalbridge.bridges.gym_spaces.register_space')
TEXT_MAX_LENGTH = 1024
TEXT_CHARSET = string.printable  # letters, digits, punctuation and whitespace

_MAPPERS: dict[type | str, SpaceMapper] = {}


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One leaf of a Gymnasium space: its path, flat name, spec and the two conversions."""

    path: tuple[Any, ...]
    name: str
    spec: Spec
    to_contract: ToContract
    to_gym: ToGym


# --------------------------------------------------------------------------
# The registry of leaf spaces


def register_space(space_type: type | str, mapper: SpaceMapper) -> None:
    """Maps a leaf space type (a class, or its ``'module.QualName'`` so that
    nothing is imported) with ``mapper(space, name) -> (spec, to_contract, to_gym)``.

    Subclasses use their nearest registered base; registering a type again
    replaces its mapper.
    """
    if not (isinstance(space_type, str) or (isinstance(space_type, type) and issubclass(space_type, spaces.Space))):
        raise ConfigError(f'register_space: expected a gymnasium Space subclass or its qualified name; '
                          f'received {space_type!r}')
    if not callable(mapper):
        raise ConfigError(f'register_space: the mapper for {space_type!r} is not callable')
    _MAPPERS[space_type] = mapper


def _mapper(space: spaces.Space) -> SpaceMapper | None:
    for klass in type(space).__mro__:
        found = _MAPPERS.get(klass) or _MAPPERS.get(f'{klass.__module__}.{klass.__qualname__}')
        if found is not None:
            return found
    return None


def to_spec(space: spaces.Space, name: str, what: str = 'observation') -> tuple[Spec, ToContract, ToGym]:
    """The spec of one leaf space and its conversions (gym -> contract, contract -> gym)."""
    mapper = _mapper(space)
    if mapper is None or isinstance(space, (spaces.Dict, spaces.Tuple)):
        raise ConfigError(UNSUPPORTED_SPACE.format(what=what, name=name, space=space))
    return mapper(space, name)


def _identity(value: Any) -> Any:
    return value


def _box(space: spaces.Box, name: str):
    dtype = space.dtype
    if dtype == np.bool_:
        spec = dm_specs.Array(space.shape, dtype, name=name)
    elif dtype.kind == 'f' and np.all(np.isneginf(space.low)) and np.all(np.isposinf(space.high)):
        spec = dm_specs.Array(space.shape, dtype, name=name)
    else:
        spec = dm_specs.BoundedArray(space.shape, dtype, collapse_bound(space.low),
                                     collapse_bound(space.high), name=name)
    return spec, _identity, _identity


def _discrete(space: spaces.Discrete, name: str):
    start, dtype = int(space.start), space.dtype
    spec = dm_specs.DiscreteArray(int(space.n), dtype=dtype, name=name)
    # A NumPy scalar of the space's dtype, as Gymnasium's vector envs pass it: Discrete.contains checks
    # it faster than a Python int (no np.iinfo lookup).
    scalar = dtype.type
    if start == 0:
        return spec, _identity, scalar
    return spec, lambda v: np.asarray(v - start, dtype), lambda v: scalar(v + start)


def _multi_discrete(space: spaces.MultiDiscrete, name: str):
    start, dtype = space.start, space.dtype
    spec = dm_specs.BoundedArray(space.shape, dtype, 0, collapse_bound(space.nvec - 1), name=name)
    if not np.any(start):
        return spec, _identity, _identity
    return spec, lambda v: np.asarray(v - start, dtype), lambda v: (v + start).astype(dtype)


def _multi_binary(space: spaces.MultiBinary, name: str):
    dtype = space.dtype
    return (dm_specs.Array(space.shape, bool, name=name), lambda v: np.asarray(v, dtype=bool),
            lambda v: v.astype(dtype))


def _text(space: spaces.Text, name: str):
    expected = (f'text of {space.min_length} to {space.max_length} characters from the '
                f'Text space\'s charset of {len(space.character_set)} characters')

    def to_gym(value: np.ndarray) -> str:
        text = value.item() if isinstance(value, np.ndarray) else value
        if not space.contains(text):
            bad = sorted(set(text) - space.character_set)
            why = f'characters outside the charset: {bad[:10]}' if bad else f'length {len(text)}'
            raise SpecError(name, expected, f'{text!r} ({why})')
        return text

    return dm_specs.StringArray((), name=name), lambda v: np.array(v, dtype=object), to_gym


def string_space(space: spaces.Space, name: str) -> tuple[Spec, ToContract, ToGym]:
    """The mapper of a space of single strings (minigrid's `MissionSpace`, say):
    `StringArray(())`, and a text action is checked by the space's `contains`."""

    def to_gym(value: np.ndarray) -> str:
        text = value.item() if isinstance(value, np.ndarray) else value
        if not isinstance(text, str) or not space.contains(text):
            raise SpecError(name, f'text that {type(space).__name__}.contains accepts', repr(text))
        return text

    return dm_specs.StringArray((), name=name), lambda v: np.array(v, dtype=object), to_gym


register_space(spaces.Box, _box)
register_space(spaces.Discrete, _discrete)
register_space(spaces.MultiDiscrete, _multi_discrete)
register_space(spaces.MultiBinary, _multi_binary)
register_space(spaces.Text, _text)
register_space('minigrid.core.mission.MissionSpace', string_space)


# --------------------------------------------------------------------------
# Nested spaces


def children(space: Any) -> Iterable[tuple[Any, Any]] | None:
    """How `nest` opens a Gymnasium space: Dict and Tuple are containers."""
    if isinstance(space, spaces.Dict):
        return space.spaces.items()
    if isinstance(space, spaces.Tuple):
        return enumerate(space.spaces)
    return None


def _rebuild(space: spaces.Space, items: list[tuple[Any, Any]]) -> Any:
    return dict(items) if isinstance(space, spaces.Dict) else tuple(value for _, value in items)


def space_leaves(space: spaces.Space, single: str, what: str) -> tuple[Leaf, ...]:
    """The leaves of a (possibly nested) space with their flat names and specs."""
    flat = nest.flatten(space, children, single, f'{what} space')
    return tuple(Leaf(path, name, *to_spec(sub, name, what)) for name, (path, sub) in flat.items())


def reader(leaves: Iterable[Leaf]) -> Callable[[Any], dict[str, Any]]:
    """A function from a Gymnasium value of the whole space to the dict of contract values."""
    leaves = list(leaves)

    def composed(get: Callable[[Any], Any], convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return lambda value: convert(get(value))

    parts = []
    for leaf in leaves:
        get, convert = nest.getter(leaf.path), leaf.to_contract
        parts.append((leaf.name, get if convert is _identity else composed(get, convert)))
    if len(parts) == 1 and not leaves[0].path and leaves[0].to_contract is _identity:
        name = parts[0][0]
        return lambda value: {name: value}  # one unnested space as it is: every step's path
    return lambda value: {name: read(value) for name, read in parts}


def writer(space: spaces.Space, leaves: Iterable[Leaf]) -> Callable[[dict], Any]:
    """A function building the Gymnasium value of `space` from a flat dict of contract values."""
    by_path = {leaf.path: leaf for leaf in leaves}

    def leaf_writer(path: tuple[Any, ...]) -> Callable[[dict], Any]:
        name, convert = by_path[path].name, by_path[path].to_gym
        return lambda flat: convert(flat[name])

    return nest.assembler(space, children, _rebuild, leaf_writer)


# --------------------------------------------------------------------------
# Spec to space


def space_of(spec: Spec, text_max_length: int = TEXT_MAX_LENGTH, text_charset: str = TEXT_CHARSET) -> tuple[
        spaces.Space, ToGym, ToContract]:
    """The Gymnasium space of a spec and the conversions contract -> gym and gym -> contract."""
    if is_text(spec):
        if spec.shape != ():
            raise ConfigError(f'to_gymnasium: text spec {spec.name!r} has shape {spec.shape}; '
                              'only scalar text maps to a Gymnasium Text space')
        return (spaces.Text(text_max_length, min_length=0, charset=text_charset),
                lambda value: value.item(), lambda value: np.array(value, dtype=object))
    if is_bool(spec):
        if spec.shape == ():
            return spaces.Discrete(2), lambda value: np.int64(value), lambda value: np.asarray(value, bool)
        n = spec.shape[0] if len(spec.shape) == 1 else list(spec.shape)
        return (spaces.MultiBinary(n), lambda value: value.astype(np.int8),
                lambda value: np.asarray(value, bool))
    dtype = spec.dtype
    low: Any
    high: Any
    if isinstance(spec, dm_specs.BoundedArray) and dtype.kind in 'iu':
        low = np.broadcast_to(spec.minimum, spec.shape).astype(np.int64)
        high = np.broadcast_to(spec.maximum, spec.shape).astype(np.int64)
        if spec.shape == ():
            return (spaces.Discrete(int(high - low + 1), start=int(low)),
                    lambda value: np.int64(value), _identity)
        if len(spec.shape) == 1 and dtype != np.uint8:
            return spaces.MultiDiscrete(high - low + 1, dtype=dtype, start=low), _identity, _identity
    if isinstance(spec, dm_specs.BoundedArray):
        low, high = spec.minimum, spec.maximum
    elif dtype.kind in 'iu':
        low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    else:
        low, high = -np.inf, np.inf
    return (spaces.Box(np.broadcast_to(low, spec.shape).astype(dtype),
                       np.broadcast_to(high, spec.shape).astype(dtype), spec.shape, dtype),
            _identity, _identity)


def spaces_of(specs: Mapping[str, Spec], single: str, text_max_length: int = TEXT_MAX_LENGTH,
              text_charset: str = TEXT_CHARSET) -> tuple[spaces.Space, Callable[[dict], Any],
                                                         Callable[[Any], dict]]:
    """(space, contract dict -> gym value, gym value -> contract dict) for a dict of
    specs; a lone spec named `single` maps to its bare space, others to a flat `Dict`.

    >>> space, to_gym, from_gym = spaces_of({'state': dm_specs.DiscreteArray(3, name='state')}, 'state')
    >>> space, from_gym(2)
    (Discrete(3), {'state': 2})
    """
    converted = {name: space_of(spec, text_max_length, text_charset) for name, spec in specs.items()}
    if list(converted) == [single]:
        space, to_gym, from_gym = converted[single]
        if to_gym is _identity and from_gym is _identity:  # a Box: no conversion on every step's path
            return space, (lambda flat: flat[single]), (lambda value: {single: value})
        return space, (lambda flat: to_gym(flat[single])), (lambda value: {single: from_gym(value)})
    space = spaces.Dict({name: item[0] for name, item in converted.items()})
    to_gyms = {name: item[1] for name, item in converted.items()}
    from_gyms = {name: item[2] for name, item in converted.items()}
    return (space, lambda flat: {name: to_gyms[name](flat[name]) for name in to_gyms},
            lambda value: {name: from_gyms[name](value[name]) for name in from_gyms})


__all__ = ['Leaf', 'TEXT_CHARSET', 'TEXT_MAX_LENGTH', 'children', 'reader', 'register_space',
           'space_leaves', 'space_of', 'spaces_of', 'string_space', 'to_spec', 'writer']

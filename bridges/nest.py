"""Nested structures <-> flat dicts named by `/` paths (`names.join`).

One walker for every nested thing a bridge meets: Gymnasium `Dict`/`Tuple`
spaces, dm_env spec dicts/lists/tuples, and the values shaped like them.
A `children` function says how to open one level: it returns the
``(key, child)`` pairs of a container, or None for a leaf. Two paths whose
flat names collide (dict keys ``0`` and ``'0'``) are a `ConfigError`, never
one leaf silently hiding the other::

    >>> def children(node):
    ...     return node.items() if isinstance(node, dict) else None
    >>> flatten({'inventory': {'wood': 1, 'stone': 2}}, children, 'state', 'observation')
    {'inventory/wood': (('inventory', 'wood'), 1), 'inventory/stone': (('inventory', 'stone'), 2)}
    >>> build = assembler({'a': {'b': None}}, children, lambda node, items: dict(items),
    ...                   lambda path: lambda flat: flat[names.join(path)])
    >>> build({'a/b': 5})
    {'a': {'b': 5}}

dm-tree (installed with dm_env) is not used on purpose: it sorts dict keys
(reordering states) and cannot sort mixed key types, the very case that
must be reported here.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from modalbridge.bridges import names
from modalbridge.bridges.errors import ConfigError

Path = tuple[Any, ...]
Children = Callable[[Any], 'Iterable[tuple[Any, Any]] | None']
COLLISION = ('{what}: the paths {first} and {second} both flatten to the name {name!r}; '
             'rename one of the keys')


def walk(structure: Any, children: Children, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, leaf) for every leaf, depth first, in the structure's own order."""
    items = children(structure)
    if items is None:
        yield path, structure
        return
    for key, child in items:
        yield from walk(child, children, path + (key,))


def flatten(structure: Any, children: Children, single: str, what: str) -> dict[str, tuple[Path, Any]]:
    """{flat name: (path, leaf)}; a bare leaf is named `single`. Raises ConfigError on
    a name collision or a structure without leaves."""
    out: dict[str, tuple[Path, Any]] = {}
    for path, leaf in walk(structure, children):
        name = names.join(path) if path else single
        if name in out:
            raise ConfigError(COLLISION.format(what=what, first=out[name][0], second=path, name=name))
        out[name] = (path, leaf)
    if not out:
        raise ConfigError(f'{what}: {structure} has no leaves: nothing to name')
    return out


def getter(path: Path) -> Callable[[Any], Any]:
    """A function reading the value at `path` from a nested value."""
    if not path:
        return lambda value: value
    if len(path) == 1:
        key = path[0]
        return lambda value: value[key]

    def get(value: Any) -> Any:
        for key in path:
            value = value[key]
        return value

    return get


def assembler(structure: Any, children: Children, rebuild: Callable[[Any, list[tuple[Any, Any]]], Any],
              leaf: Callable[[Path], Callable[[dict], Any]], path: Path = ()) -> Callable[[dict], Any]:
    """A function building the nested value shaped like `structure` from a flat dict.

    `rebuild(node, [(key, value), ...])` makes one container of the node's
    kind; `leaf(path)` gives the function reading one leaf from the flat dict.
    """
    items = children(structure)
    if items is None:
        return leaf(path)
    parts = [(key, assembler(child, children, rebuild, leaf, path + (key,))) for key, child in items]
    return lambda flat: rebuild(structure, [(key, build(flat)) for key, build in parts])

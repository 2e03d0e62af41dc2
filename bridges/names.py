"""Flat names for nested structures.

Nested observation and action structures become one flat dict whose keys
join the levels with ``/``: ``{'inventory': {'wood': ...}}`` is named
``'inventory/wood'`` and the second item of a tuple ``'1'``. A ``/`` inside
a key is escaped as ``%2F`` (and ``%`` as ``%25``), so `split(join(path))`
gives the path back for every path::

    >>> join(('inventory', 'wood'))
    'inventory/wood'
    >>> join(('a/b', 0))
    'a%2Fb/0'
    >>> split('a%2Fb/0')
    ('a/b', '0')
"""

from __future__ import annotations

import re
from typing import Iterable

SEPARATOR = '/'
STATE = 'state'    # the name of a single unnamed observation
ACTION = 'action'  # the name of a single unnamed action


def escape(key: object) -> str:
    """One level's key as it appears inside a flat name."""
    return str(key).replace('%', '%25').replace('/', '%2F')


_ESCAPED = re.compile('%2F|%25')
_UNESCAPE = {'%2F': '/', '%25': '%'}


def unescape(part: str) -> str:
    """Inverse of `escape` (one pass, so `%252F` comes back as `%2F`)."""
    return _ESCAPED.sub(lambda match: _UNESCAPE[match.group()], part)


def join(path: Iterable[object]) -> str:
    """The flat name of a path of keys (dict keys or tuple indices)."""
    return SEPARATOR.join(escape(key) for key in path)


def split(name: str) -> tuple[str, ...]:
    """The path of keys a flat name was made from (indices come back as str)."""
    return tuple(unescape(part) for part in name.split(SEPARATOR))

"""Plug-ins named in declarations, and the safe mode that guards them.

A declaration (a network layer, a preprocessor) may name a type by a
dotted path, ``'package.module.name'``. Declarations written in your own
Python code resolve any such path (``safe_mode=False``, the default of the
constructors). Declarations read from files someone else wrote, a
checkpoint or a JSON config, are resolved in **safe mode**, as Keras'
``safe_mode``: only names registered in code resolve; any other dotted path
is refused with a `ConfigError`, and nothing is imported.

>>> from modalbridge.bridges import plugins
>>> @plugins.register('my_project.double')
... def double(x):
...     return x * 2
>>> plugins.resolve('my_project.double', safe_mode=True)(3)
6
>>> plugins.resolve('payload.run', safe_mode=True)
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: 'payload.run' is not a registered plug-in, and safe mode refuses to import it; register it in code (modalbridge.bridges.plugins.register) or load with safe_mode=False if you trust where it came from
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, TypeVar

from modalbridge.bridges.errors import ConfigError

T = TypeVar('T', bound=Callable[..., Any])  # a class or a function: both have __qualname__
_REGISTERED: dict[str, Any] = {}


def register(name: str | None = None) -> Callable[[T], T]:
    """A decorator that makes `name` (default ``module.qualname``) resolvable in safe mode."""
    if name is not None and (not isinstance(name, str) or '.' not in name):
        raise ConfigError(f'plugins.register: name must be a dotted string; received {name!r}')

    def decorator(target: T) -> T:
        key = name or f'{target.__module__}.{target.__qualname__}'
        _REGISTERED[key] = target
        return target

    return decorator


def registered() -> dict[str, Any]:
    """A copy of the registered plug-ins, by name."""
    return dict(_REGISTERED)


def resolve(path: str, safe_mode: bool = False) -> Any:
    """The object a dotted path names.

    In safe mode only registered names resolve; otherwise the module is
    imported. Every failure is a `ConfigError` naming the path.
    """
    if not isinstance(path, str) or '.' not in path.strip('.'):
        raise ConfigError(f'expected a dotted path package.module.name; received {path!r}')
    if path in _REGISTERED:
        return _REGISTERED[path]
    if safe_mode:
        raise ConfigError(f'{path!r} is not a registered plug-in, and safe mode refuses to import it; register it '
                          'in code (modalbridge.bridges.plugins.register) or load with safe_mode=False if you '
                          'trust where it came from')
    module_name, _, attribute = path.rpartition('.')
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - an import that fails in any way is a bad declaration
        raise ConfigError(f'cannot import {module_name!r} for {path!r}: {error!r}') from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigError(f'module {module_name!r} has no {attribute!r}') from None

"""Checks for configuration arguments, shared by every layer.

Each returns the value converted to its plain Python type, or raises a
`ConfigError` naming the field. Bools are not ints here (``height=True``
is a mistake, not a 1-pixel image), and NaN and infinities are refused
unless a bound says otherwise.

>>> integer('n_steps', 5, minimum=1)
5
>>> integer('n_steps', True, minimum=1)
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: n_steps: expected an int >= 1; received True (a bool)
>>> number('learning_rate', float('inf'), minimum=0, inclusive=False)
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: learning_rate: expected a finite number > 0; received inf
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from modalbridge.bridges.errors import ConfigError


def _received(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + '...'
    if isinstance(value, (bool, np.bool_)):
        return f'{text} (a bool)'
    return text


def _range(minimum: float | None, maximum: float | None, inclusive: bool) -> str:
    low, high = ('>=', '<=') if inclusive else ('>', '<')
    if minimum is not None and maximum is not None:
        return f' in [{minimum}, {maximum}]' if inclusive else f' in ({minimum}, {maximum})'
    if minimum is not None:
        return f' {low} {minimum}'
    if maximum is not None:
        return f' {high} {maximum}'
    return ''


def integer(field: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """An int (NumPy ints too; never a bool or a float) within the bounds."""
    expected = f'an int{_range(minimum, maximum, True)}'
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f'{field}: expected {expected}; received {_received(value)}')
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f'{field}: expected {expected}; received {value}')
    return value


def number(field: str, value: Any, minimum: float | None = None, maximum: float | None = None,
           inclusive: bool = True) -> float:
    """A finite real number (int or float, never a bool or a string) within the bounds."""
    expected = f'a finite number{_range(minimum, maximum, inclusive)}'
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f'{field}: expected {expected}; received {_received(value)}')
    try:
        value = float(value)
    except OverflowError:
        raise ConfigError(f'{field}: expected {expected}; received {_received(value)}') from None
    if not math.isfinite(value):
        raise ConfigError(f'{field}: expected {expected}; received {value}')
    below = minimum is not None and (value < minimum if inclusive else value <= minimum)
    above = maximum is not None and (value > maximum if inclusive else value >= maximum)
    if below or above:
        raise ConfigError(f'{field}: expected {expected}; received {value}')
    return value


def boolean(field: str, value: Any) -> bool:
    """A bool (NumPy's too); 0, 1 and strings are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f'{field}: expected True or False; received {_received(value)}')
    return bool(value)


def choice(field: str, value: Any, options: tuple | list) -> Any:
    """One of `options` (compared by equality, strings kept exact)."""
    if isinstance(value, (bool, np.bool_)) and not any(isinstance(o, bool) for o in options):
        raise ConfigError(f'{field}: expected one of {list(options)}; received {_received(value)}')
    try:
        if value in options:
            return value
    except TypeError:
        pass
    raise ConfigError(f'{field}: expected one of {list(options)}; received {_received(value)}')

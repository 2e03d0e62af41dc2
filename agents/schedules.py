"""Schedules: a number that changes with the timestep.

One type serves exploration (epsilon), learning rates, clip ranges and
coefficients of every agent. Declared as a plain number (constant) or a
dict in TensorForce's form, with the arguments inline or under ``kwargs``:

    0.001
    dict(type='linear', initial=2.5e-4, final=0.0, timesteps=100_000)
    dict(type='exponential', initial=1.0, final=0.01, decay_rate=0.5, decay_steps=1000)
    dict(type='piecewise', boundaries=[1000, 5000], values=[1.0, 0.5, 0.1])

`value(timestep)` is plain Python (cheap, no TF); agents feed it to their
compiled functions as a tensor argument, so a schedule never retraces.

>>> s = schedule(dict(type='linear', initial=1.0, final=0.0, timesteps=100))
>>> s.value(0), s.value(50), s.value(100), s.value(1000)
(1.0, 0.5, 0.0, 0.0)
>>> schedule(0.5).to_dict()
0.5
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Mapping

from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError

SCHEDULES: dict[str, type['Schedule']] = {}


class Schedule:
    """Base class: `value(timestep)` and a JSON-able `to_dict()`."""

    type: ClassVar[str] = ''

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        SCHEDULES[cls.type] = cls

    def value(self, timestep: int) -> float:
        raise NotImplementedError

    def to_dict(self) -> Any:
        return dict(type=self.type, **dataclasses.asdict(self))  # type: ignore[call-overload]

    @property
    def is_constant(self) -> bool:
        return False


@dataclasses.dataclass(frozen=True)
class Constant(Schedule):
    """The same value at every timestep."""

    type: ClassVar[str] = 'constant'
    value_: float

    def __post_init__(self):
        object.__setattr__(self, 'value_', arguments.number('value', self.value_))

    def value(self, timestep: int) -> float:
        return self.value_

    def to_dict(self) -> Any:
        return self.value_

    @property
    def is_constant(self) -> bool:
        return True


@dataclasses.dataclass(frozen=True)
class Linear(Schedule):
    """From `initial` to `final` linearly over `timesteps`, then `final`."""

    type: ClassVar[str] = 'linear'
    initial: float
    final: float
    timesteps: int

    def __post_init__(self):
        object.__setattr__(self, 'initial', arguments.number('initial', self.initial))
        object.__setattr__(self, 'final', arguments.number('final', self.final))
        object.__setattr__(self, 'timesteps', _timesteps('timesteps', self.timesteps))

    def value(self, timestep: int) -> float:
        fraction = min(max(timestep, 0) / self.timesteps, 1.0)
        return self.final if fraction >= 1.0 else self.initial + fraction * (self.final - self.initial)


@dataclasses.dataclass(frozen=True)
class Exponential(Schedule):
    """``final + (initial - final) * decay_rate ** (timestep / decay_steps)``."""

    type: ClassVar[str] = 'exponential'
    initial: float
    decay_rate: float
    decay_steps: int
    final: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, 'initial', arguments.number('initial', self.initial))
        object.__setattr__(self, 'final', arguments.number('final', self.final))
        object.__setattr__(self, 'decay_rate', arguments.number('decay_rate', self.decay_rate, 0, 1,
                                                                inclusive=False))
        object.__setattr__(self, 'decay_steps', _timesteps('decay_steps', self.decay_steps))

    def value(self, timestep: int) -> float:
        return self.final + (self.initial - self.final) * self.decay_rate ** (max(timestep, 0) / self.decay_steps)


@dataclasses.dataclass(frozen=True)
class Piecewise(Schedule):
    """``values[i]`` for timesteps in ``[boundaries[i-1], boundaries[i])``; one more value than boundaries."""

    type: ClassVar[str] = 'piecewise'
    boundaries: tuple
    values: tuple

    def __post_init__(self):
        if not isinstance(self.boundaries, (list, tuple)) or not isinstance(self.values, (list, tuple)):
            raise ConfigError('piecewise: boundaries and values must be lists')
        boundaries = tuple(arguments.integer(f'boundaries[{i}]', b, minimum=0) for i, b in enumerate(self.boundaries))
        values = tuple(arguments.number(f'values[{i}]', v) for i, v in enumerate(self.values))
        if len(values) != len(boundaries) + 1:
            raise ConfigError(f'piecewise: expected {len(boundaries) + 1} values for {len(boundaries)} boundaries; '
                              f'received {len(values)}')
        if any(b >= a for b, a in zip(boundaries, boundaries[1:])) and len(boundaries) > 1:
            if list(boundaries) != sorted(set(boundaries)):
                raise ConfigError(f'piecewise: boundaries must increase; received {list(boundaries)}')
        object.__setattr__(self, 'boundaries', boundaries)
        object.__setattr__(self, 'values', values)

    def value(self, timestep: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if timestep < boundary:
                return value
        return self.values[-1]

    def to_dict(self) -> Any:
        return dict(type=self.type, boundaries=list(self.boundaries), values=list(self.values))


def _timesteps(field: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        value = int(value)  # 1e6 in a config means a million steps
    return arguments.integer(field, value, minimum=1)


ALIASES = dict(decaying='exponential', exponential_decay='exponential', linear_decay='linear')


def schedule(declaration: Any, field: str = 'schedule') -> Schedule:
    """A `Schedule` from a number, a dict declaration or a `Schedule`; ConfigError naming `field`."""
    if isinstance(declaration, Schedule):
        return declaration
    if not isinstance(declaration, Mapping):
        try:
            return Constant(declaration)
        except ConfigError as error:
            raise ConfigError(f'{field}: expected a number or dict(type=...) schedule; '
                              f'{str(error).split(": ", 1)[1]}') from None
    options = dict(declaration)
    kind = options.pop('type', None)
    if 'kwargs' in options:
        nested = options.pop('kwargs')
        if not isinstance(nested, Mapping):
            raise ConfigError(f'{field}.kwargs: expected a dict; received {nested!r}')
        options.update(nested)
    kind = ALIASES.get(kind, kind)
    if kind not in SCHEDULES:
        raise ConfigError(f'{field}.type: expected one of {sorted(SCHEDULES)}; received {kind!r}')
    cls = SCHEDULES[kind]
    if cls is Constant:
        options = dict(value_=options.pop('value', None), **options)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]  # each kind is a dataclass
    unknown = sorted(set(options) - names)
    if unknown:
        raise ConfigError(f'{field} ({kind}): unknown argument(s) {unknown}; expected {sorted(names)}')
    try:
        return cls(**options)
    except TypeError as error:
        raise ConfigError(f'{field} ({kind}): {error}') from None
    except ConfigError as error:
        raise ConfigError(f'{field} ({kind}).{error}') from None

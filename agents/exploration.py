"""Declarative exploration, applied in NumPy to the actions a policy returns.

Declared for all actions or per action (a dict keyed by action name), in
TensorForce's form (``kwargs`` nested or inline, CamelCase or snake_case):

    dict(type='EpsilonDecay', kwargs=dict(epsilon=1, epsilon_final=0.01, epsilon_timesteps=1e6))
    dict(type='epsilon_decay', epsilon=1, epsilon_final=0.01, epsilon_timesteps=1e6, decay='exponential')
    dict(type='constant', epsilon=0.05)        # a constant epsilon
    dict(type='epsilon', epsilon=<schedule>)   # epsilon from any `agents.schedules` declaration
    dict(type='OrnsteinUhlenbeckProcess', kwargs=dict(sigma=0.1, mu=0, theta=0.1))
    dict(type='gaussian', sigma=0.1)           # sigma may be a schedule
    0.1                                        # epsilon for discrete actions, sigma for float ones
    dict(move=dict(type='epsilon_decay', ...), force=dict(type='gaussian', sigma=0.2))

Epsilon types act on discrete actions (ints, bools): each element is
replaced, with probability epsilon, by a uniformly random value of its
spec. Noise types act on float actions: the noise is added in the action's
units and the result clipped to its bounds.

Ornstein-Uhlenbeck uses TensorForce's Euler step (``dt=1`` by default):
``x <- x + theta * (mu - x) * dt + sigma * sqrt(dt) * N(0, 1)``, one state
per environment, reset to `mu` where an episode starts. Its stationary law
is normal with mean `mu` and variance ``sigma**2 / (theta * (2 - theta * dt))``
(the continuous process's ``sigma**2 / (2 * theta)`` as ``theta * dt -> 0``).

Exploration is never applied to ``act(..., deterministic=True)``; acting
with ``independent=True`` leaves the OU states alone (it draws from the
stationary law instead).

>>> from modalbridge.bridges.specs import as_specs
>>> actions = as_specs(dict(move=dict(type='int', num_values=4)), 'actions')
>>> explore = Exploration(dict(type='EpsilonDecay', kwargs=dict(epsilon=1, epsilon_final=0.1,
...                                                              epsilon_timesteps=100)), actions, seed=0)
>>> explore.epsilon('move', 50)
0.55
>>> explore.to_dict()['type'], explore({'move': np.zeros(3, np.int64)}, timestep=1000)['move'].shape
('epsilon_decay', (3,))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Mapping

import numpy as np

from modalbridge.agents import schedules
from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_bool, is_float, is_text

ALIASES = dict(EpsilonDecay='epsilon_decay', EpsilonGreedy='epsilon', Constant='constant',
               OrnsteinUhlenbeckProcess='ornstein_uhlenbeck', OrnsteinUhlenbeck='ornstein_uhlenbeck',
               GaussianNoise='gaussian', Gaussian='gaussian', ornstein_uhlenbeck_process='ornstein_uhlenbeck',
               gaussian_noise='gaussian')
KINDS: dict[str, type['Noise']] = {}


class Noise:
    """One action's exploration; `discrete` says which actions it suits."""

    type: ClassVar[str] = ''
    discrete: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:  # not the abstract bases
            KINDS[cls.type] = cls

    def validate(self, place: str) -> None:
        """Checks the fields; ConfigError messages start with ``place.field``."""

    def noise(self, shape: tuple[int, ...], timestep: int, rng: np.random.Generator) -> np.ndarray:
        """The additive noise of a continuous action (the kinds with ``discrete = False``)."""
        raise NotImplementedError(f'{type(self).__name__} adds no noise to continuous actions')

    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return dict(type=self.type, **{k: v.to_dict() if isinstance(v, schedules.Schedule) else v
                                       for k, v in fields.items()})


class Epsilon(Noise):
    """Base of the epsilon types: `epsilon(timestep)`."""

    def epsilon_at(self, timestep: int) -> float:
        raise NotImplementedError


@dataclasses.dataclass
class EpsilonSchedule(Epsilon):
    """Epsilon from any schedule declaration (constant, linear, exponential, piecewise)."""

    type: ClassVar[str] = 'epsilon'
    epsilon: Any = 0.1

    def validate(self, place: str) -> None:
        self.epsilon = schedules.schedule(self.epsilon, f'{place}.epsilon')
        _probability(f'{place}.epsilon', self.epsilon)

    def epsilon_at(self, timestep: int) -> float:
        return self.epsilon.value(timestep)


@dataclasses.dataclass
class ConstantEpsilon(Epsilon):
    """A constant epsilon (TensorForce's ``Constant``; `constant` is accepted for `epsilon`)."""

    type: ClassVar[str] = 'constant'
    epsilon: float = 0.1

    def validate(self, place: str) -> None:
        self.epsilon = arguments.number(f'{place}.epsilon', self.epsilon, 0, 1)

    def epsilon_at(self, timestep: int) -> float:
        return self.epsilon


@dataclasses.dataclass
class EpsilonDecay(Epsilon):
    """From `epsilon` to `epsilon_final` over `epsilon_timesteps` after `start_timestep`;
    ``decay='linear'``, or ``'exponential'``: the excess over `epsilon_final` shrinks by
    `decay_rate` every `epsilon_timesteps`."""

    type: ClassVar[str] = 'epsilon_decay'
    epsilon: float = 1.0
    epsilon_final: float = 0.1
    epsilon_timesteps: int = 10_000
    start_timestep: int = 0
    decay: str = 'linear'
    decay_rate: float = 0.01

    def validate(self, place: str) -> None:
        self.epsilon = arguments.number(f'{place}.epsilon', self.epsilon, 0, 1)
        self.epsilon_final = arguments.number(f'{place}.epsilon_final', self.epsilon_final, 0, 1)
        self.epsilon_timesteps = _timesteps(f'{place}.epsilon_timesteps', self.epsilon_timesteps, 1)
        self.start_timestep = _timesteps(f'{place}.start_timestep', self.start_timestep, 0)
        self.decay = arguments.choice(f'{place}.decay', self.decay, ('linear', 'exponential'))
        self.decay_rate = arguments.number(f'{place}.decay_rate', self.decay_rate, 0, 1, inclusive=False)
        self._schedule: schedules.Schedule
        if self.decay == 'linear':
            self._schedule = schedules.Linear(self.epsilon, self.epsilon_final, self.epsilon_timesteps)
        else:
            self._schedule = schedules.Exponential(self.epsilon, self.decay_rate, self.epsilon_timesteps,
                                                   self.epsilon_final)

    def epsilon_at(self, timestep: int) -> float:
        return self._schedule.value(timestep - self.start_timestep)


@dataclasses.dataclass
class Gaussian(Noise):
    """``action + N(mu, sigma**2)``; `sigma` may be a schedule."""

    type: ClassVar[str] = 'gaussian'
    discrete: ClassVar[bool] = False
    sigma: Any = 0.1
    mu: float = 0.0

    def validate(self, place: str) -> None:
        self.sigma = schedules.schedule(self.sigma, f'{place}.sigma')
        if self.sigma.is_constant:
            arguments.number(f'{place}.sigma', self.sigma.value(0), 0)
        self.mu = arguments.number(f'{place}.mu', self.mu)

    def noise(self, shape: tuple[int, ...], timestep: int, rng: np.random.Generator) -> np.ndarray:
        return self.mu + max(self.sigma.value(timestep), 0.0) * rng.standard_normal(shape)


@dataclasses.dataclass
class OrnsteinUhlenbeck(Noise):
    """Temporally correlated noise (see the module docstring for the form used)."""

    type: ClassVar[str] = 'ornstein_uhlenbeck'
    discrete: ClassVar[bool] = False
    sigma: float = 0.3
    mu: float = 0.0
    theta: float = 0.15
    dt: float = 1.0

    def validate(self, place: str) -> None:
        self.sigma = arguments.number(f'{place}.sigma', self.sigma, 0)
        self.mu = arguments.number(f'{place}.mu', self.mu)
        self.theta = arguments.number(f'{place}.theta', self.theta, 0, inclusive=False)
        self.dt = arguments.number(f'{place}.dt', self.dt, 0, inclusive=False)
        if self.theta * self.dt >= 2:
            raise ConfigError(f'{place}.theta: theta * dt must be < 2 for a stationary process; '
                              f'received theta={self.theta}, dt={self.dt}')

    @property
    def stationary_std(self) -> float:
        return self.sigma / math.sqrt(self.theta * (2 - self.theta * self.dt))

    def step(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return (state + self.theta * (self.mu - state) * self.dt
                + self.sigma * math.sqrt(self.dt) * rng.standard_normal(state.shape))


class Exploration:
    """Exploration of every action from one declaration (see the module docstring).

    `__call__(actions, timestep)` returns the explored copy of a batch of actions;
    `episode_start(mask)` resets the per-environment state where episodes start.
    """

    def __init__(self, declaration: Any, actions: Mapping[str, Spec], parallel: int = 1,
                 seed: int | np.random.Generator | None = None, field: str = 'exploration'):
        self.actions = dict(actions)
        self.parallel = arguments.integer('parallel', parallel, minimum=1)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.noises: dict[str, Noise] = {}
        per_action = isinstance(declaration, Mapping) and 'type' not in declaration
        if per_action:
            unknown = [name for name in declaration if name not in self.actions]
            if unknown:
                raise ConfigError(f'{field}[{unknown[0]!r}]: no such action; expected one of {list(self.actions)} '
                                  "(or a single dict(type=...) for all actions)")
        for name, spec in self.actions.items():
            place = f'{field}[{name!r}]'
            item = declaration.get(name) if per_action else declaration
            noise = _noise(item, spec, place if per_action else field, name)
            if noise is not None:
                self.noises[name] = noise
        self.declaration = ({name: noise.to_dict() for name, noise in self.noises.items()} if per_action
                            else next(iter(self.noises.values())).to_dict() if self.noises
                            else None if declaration is None else declaration)
        self._states = {name: np.full((self.parallel,) + self.actions[name].shape, noise.mu)
                        for name, noise in self.noises.items() if isinstance(noise, OrnsteinUhlenbeck)}

    def to_dict(self) -> Any:
        """The JSON-able declaration (snake_case, inline arguments)."""
        return self.declaration

    def epsilon(self, action: str, timestep: int) -> float:
        """The epsilon of a discrete `action` at `timestep` (0 without epsilon exploration)."""
        noise = self.noises.get(action)
        return noise.epsilon_at(timestep) if isinstance(noise, Epsilon) else 0.0

    def episode_start(self, mask: np.ndarray) -> None:
        """Resets the Ornstein-Uhlenbeck states of the environments where `mask` is set."""
        for name, state in self._states.items():
            state[np.asarray(mask, bool)] = self.noises[name].mu  # type: ignore[attr-defined]

    def __call__(self, actions: Mapping[str, np.ndarray], timestep: int,
                 independent: bool = False) -> dict[str, np.ndarray]:
        out = dict(actions)
        for name, noise in self.noises.items():
            spec, action = self.actions[name], np.asarray(actions[name])
            if isinstance(noise, Epsilon):
                replace = self.rng.random(action.shape) < noise.epsilon_at(timestep)
                if replace.any():
                    action = np.where(replace, _uniform(spec, action.shape, self.rng), action)
                out[name] = action.astype(spec.dtype)
                continue
            if isinstance(noise, OrnsteinUhlenbeck):
                if independent or action.shape != self._states[name].shape:
                    delta = noise.mu + noise.stationary_std * self.rng.standard_normal(action.shape)
                else:
                    self._states[name] = delta = noise.step(self._states[name], self.rng)
            else:
                delta = noise.noise(action.shape, timestep, self.rng)
            explored = action + delta
            if hasattr(spec, 'minimum'):
                explored = np.clip(explored, spec.minimum, spec.maximum)
            out[name] = explored.astype(spec.dtype)
        return out


def _noise(item: Any, spec: Spec, place: str, name: str) -> Noise | None:
    if item is None:
        return None
    if is_text(spec):
        raise ConfigError(f'{place}: action {name!r} is text ({describe(spec)}); it cannot be explored')
    discrete = not is_float(spec)
    if not isinstance(item, Mapping):
        value = arguments.number(place, item, 0)
        item = dict(type='constant', epsilon=value) if discrete else dict(type='gaussian', sigma=value)
    options = dict(item)
    kind = options.pop('type', None)
    if 'kwargs' in options:
        nested = options.pop('kwargs')
        if not isinstance(nested, Mapping):
            raise ConfigError(f'{place}.kwargs: expected a dict; received {nested!r}')
        options.update(nested)
    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise ConfigError(f'{place}.type: expected one of {sorted(KINDS)} (or {sorted(ALIASES)}); received {kind!r}')
    cls = KINDS[kind]
    if kind == 'constant' and 'constant' in options:
        if 'epsilon' in options:
            raise ConfigError(f'{place}: give epsilon or constant, not both')
        options['epsilon'] = options.pop('constant')
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(f'{place} ({kind}): unknown argument(s) {unknown}; expected {names}')
    if cls.discrete != discrete:
        suits = 'discrete (int or bool)' if cls.discrete else 'float'
        raise ConfigError(f'{place}.type: {kind!r} explores {suits} actions, and action {name!r} is '
                          f'{describe(spec)}; use ' + ("'gaussian' or 'ornstein_uhlenbeck'" if discrete
                                                      else "'epsilon_decay', 'epsilon' or 'constant'"))
    if discrete and not (is_bool(spec) or hasattr(spec, 'num_values') or hasattr(spec, 'minimum')):
        raise ConfigError(f'{place}: epsilon exploration draws from the action\'s values, and action {name!r} '
                          f'is unbounded ({describe(spec)}); declare num_values or bounds')
    noise = cls(**options)
    noise.validate(place)
    return noise


def _probability(field: str, schedule: schedules.Schedule) -> None:
    values = ([schedule.value(0)] if schedule.is_constant else
              list(getattr(schedule, 'values', ())) or [getattr(schedule, 'initial', 0.0),
                                                        getattr(schedule, 'final', 0.0)])
    for value in values:
        if not 0 <= value <= 1:
            raise ConfigError(f'{field}: expected probabilities in [0, 1]; received {schedule.to_dict()!r}')


def _timesteps(field: str, value: Any, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 1e6 in a config means a million steps
    return arguments.integer(field, value, minimum=minimum)


def _uniform(spec: Spec, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if is_bool(spec):
        return rng.random(shape) < 0.5
    if hasattr(spec, 'num_values'):
        return rng.integers(0, spec.num_values, shape)
    return rng.integers(spec.minimum, np.asarray(spec.maximum) + 1, shape)

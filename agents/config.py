"""Typed agent configurations: frozen dataclasses validated at construction.

Every agent has one (`A2CConfig`, `PPOConfig`); its fields are the agent's
keyword arguments, TensorForce-style. `to_dict()` / `from_dict()` make a
JSON round trip (a checkpoint stores the configuration by value), and an
unknown key is a `ConfigError` naming it.

>>> config = OnPolicyConfig(num_envs=4, learning_rate=dict(type='linear', initial=1e-3, final=0.0,
...                                                        timesteps=1000))
>>> OnPolicyConfig.from_dict(config.to_dict()) == config
True
>>> OnPolicyConfig(discount=1.5)
Traceback (most recent call last):
...
modalbridge.bridges.errors.ConfigError: discount: expected a finite number in [0, 1]; received 1.5
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

from modalbridge.agents.schedules import Schedule, schedule
from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError

OPTIMIZERS = ('adam', 'rmsprop', 'sgd')


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Base class: JSON round trip and per-field validation (`_validate` in subclasses)."""

    num_envs: int = 1
    """How many environments act in one batch (`parallel` is accepted as an alias)."""
    seed: int | None = None
    """Seeds the agent's own generators (weights, sampling, shuffling); never the global RNGs."""

    def __post_init__(self) -> None:
        self._set('num_envs', arguments.integer('num_envs', self.num_envs, minimum=1))
        if self.seed is not None:
            self._set('seed', arguments.integer('seed', self.seed, minimum=0))

    def _set(self, field: str, value: Any) -> None:
        object.__setattr__(self, field, value)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-able values (schedules in their declaration form)."""
        document = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            document[field.name] = value.to_dict() if isinstance(value, Schedule) else value
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> 'AgentConfig':
        """The configuration from `to_dict()`'s output; unknown keys are a ConfigError."""
        if not isinstance(document, Mapping):
            raise ConfigError(f'{cls.__name__}: expected a dict; received {type(document).__name__}')
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ConfigError(f'{cls.__name__}: unknown field(s) {unknown}; known: {sorted(known)}')
        return cls(**document)

    def to_json(self) -> str:
        try:
            return json.dumps(self.to_dict())
        except TypeError as error:
            raise ConfigError(f'{type(self).__name__}: not JSON-serialisable ({error}); '
                              'a network given as a Python function cannot be saved') from error


@dataclasses.dataclass(frozen=True)
class OnPolicyConfig(AgentConfig):
    """The fields A2C and PPO share (defaults are Stable-Baselines3's PPO)."""

    network: Any = 'auto'
    """The network declaration (see `networks`): 'auto', layer lists or a builder function; for a JSON file
    pass `networks.declaration(path)` (read once and stored by value: a path itself is refused)."""
    preprocessing: Any = None
    """State preprocessing declaration (see `preprocess.Stack`), run inside the agent's compiled act."""
    shared_network: bool = False
    """One network for policy and value (else the value gets its own copy, as in Stable-Baselines3)."""
    n_steps: int = 2048
    """Steps per environment in one rollout (between updates)."""
    discount: float = 0.99
    """The discount factor gamma."""
    gae_lambda: float = 0.95
    """GAE's lambda (1 gives plain n-step returns)."""
    learning_rate: Any = 3e-4
    """The learning rate: a number or a schedule declaration over timesteps."""
    optimizer: str = 'adam'
    """One of 'adam', 'rmsprop', 'sgd'."""
    value_coef: float = 0.5
    """The weight of the value loss."""
    entropy_coef: Any = 0.0
    """The weight of the entropy bonus: a number or a schedule declaration."""
    max_grad_norm: float = 0.5
    """The gradients' global norm is clipped to this."""
    normalize_advantage: bool = True
    """Standardizes the advantages of each (mini)batch."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set('shared_network', arguments.boolean('shared_network', self.shared_network))
        self._set('normalize_advantage', arguments.boolean('normalize_advantage', self.normalize_advantage))
        self._set('n_steps', arguments.integer('n_steps', self.n_steps, minimum=1))
        self._set('discount', arguments.number('discount', self.discount, 0, 1))
        self._set('gae_lambda', arguments.number('gae_lambda', self.gae_lambda, 0, 1))
        self._set('optimizer', arguments.choice('optimizer', self.optimizer, OPTIMIZERS))
        self._set('value_coef', arguments.number('value_coef', self.value_coef, minimum=0))
        self._set('max_grad_norm', arguments.number('max_grad_norm', self.max_grad_norm, minimum=0,
                                                    inclusive=False))
        self._set('learning_rate', _schedule('learning_rate', self.learning_rate, positive=True))
        self._set('entropy_coef', _schedule('entropy_coef', self.entropy_coef))


def _schedule(field: str, declaration: Any, positive: bool = False) -> Schedule:
    """A schedule whose values are never negative (and, when `positive`, not all zero:
    a learning rate may decay to 0, not start there)."""
    result = schedule(declaration, field)
    values = _corner_values(result)
    if any(v < 0 for v in values) or (positive and max(values) == 0):
        bound = '> 0' if positive else '>= 0'
        raise ConfigError(f'{field}: expected values {bound}; received {result.to_dict()!r}')
    return result


def _corner_values(result: Schedule) -> list[float]:
    document = result.to_dict()
    if not isinstance(document, dict):
        return [float(document)]
    return [float(v) for key in ('initial', 'final', 'values') if key in document
            for v in (document[key] if isinstance(document[key], list) else [document[key]])]

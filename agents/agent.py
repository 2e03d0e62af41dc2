"""`Agent`: the act/observe API every agent offers, and checkpoints.

    actions = agent.act(states)              # dict in, dict out; batched or single
    updated = agent.observe(reward, terminal)
    agent.save('runs/agent'); agent = Agent.load('runs/agent')

`act` detects a batch from the ranks of the states (a leading axis beyond
the spec's shape); `observe` takes the reward and `Terminal` of the step
just taken (arrays for a batch). An application loop may drive an agent
directly, TensorForce-style, or leave it to the `Runner`.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from typing import Any, ClassVar, Mapping

import numpy as np

from modalbridge.agents import checkpoint
from modalbridge.agents.config import AgentConfig
from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.states import StateBatcher
from modalbridge.bridges.specs import SpecLike, as_specs, from_dict, to_dict

AGENTS: dict[str, type['Agent']] = {}


class Agent(abc.ABC):
    """Base class: spec handling, batching, save/load.

    Subclasses set `Config` (a frozen dataclass of their keyword arguments,
    `AgentConfig` by default) and implement `_act(batched states,
    deterministic, independent) -> batched actions`, `_observe(reward,
    terminal, final_states) -> bool` and optionally the weight hooks
    `_save_weights(directory)` / `_load_weights(directory)`.

    `num_envs` is the number of environments acting in one batch;
    `parallel` is accepted as its alias (TensorForce's name), never both
    with different values.

    >>> from modalbridge.agents import RandomAgent
    >>> agent = RandomAgent(dict(state=dict(type='float', shape=(2,))), dict(action=dict(type='int', num_values=3)),
    ...                     num_envs=2, seed=0)
    >>> agent.act(dict(state=np.zeros((2, 2), np.float32)))['action'].shape
    (2,)
    >>> agent.observe(np.zeros(2), np.zeros(2, np.int64))
    False
    """

    Config: ClassVar[type[AgentConfig]] = AgentConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        AGENTS[cls.__name__] = cls

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike],
                 parallel: int | None = None, config: AgentConfig | None = None, **fields: Any):
        """`fields` are the `Config` dataclass's fields; or `config` is a whole `Config` instance."""
        if config is not None:
            if fields:
                raise ConfigError(f'{type(self).__name__}: give a {self.Config.__name__} or its fields, not both')
            if not isinstance(config, self.Config):
                raise ConfigError(f'config: expected a {self.Config.__name__}; received {type(config).__name__}')
            fields = config.to_dict()
        self.states = as_specs(states, 'states')
        self.actions = as_specs(actions, 'actions')
        self._batcher = StateBatcher(self.states)
        if parallel is not None:
            parallel = arguments.integer('parallel', parallel, minimum=1)
            if 'num_envs' in fields and fields['num_envs'] != parallel:
                raise ConfigError(f'parallel: an alias of num_envs; received parallel={parallel} and '
                                  f'num_envs={fields["num_envs"]!r}')
            fields['num_envs'] = parallel
        known = {field.name for field in dataclasses.fields(self.Config)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ConfigError(f'{type(self).__name__}: unknown argument(s) {unknown}; known: {sorted(known)}')
        self.config = self.Config(**fields)
        self.num_envs = self.config.num_envs
        self.timesteps = 0
        self.episodes = 0
        self.updates = 0
        self.last_update: dict[str, float] = {}

    @property
    def metrics(self) -> dict[str, float]:
        """The last update's scalar metrics (losses, entropy, approx KL, clip fraction, gradient norm...);
        alias of `last_update`."""
        return self.last_update

    @property
    def parallel(self) -> int:
        """Alias of `num_envs`."""
        return self.num_envs

    # -- the API -------------------------------------------------------------

    def act(self, states: Mapping[str, Any], deterministic: bool = False, independent: bool = False,
            internals: Mapping[str, Any] | None = None) -> Any:
        """Actions for a dict of states: a batch when the states have a leading axis beyond
        their spec's shape (of `num_envs` rows unless `independent`), else one environment's.

        `deterministic` takes each distribution's mode; `independent` acts
        without recording anything for learning (evaluation). With
        `internals` (TensorForce's API, `independent` only) the caller carries
        the agent's internal state: ``actions, internals = agent.act(states,
        internals=internals, independent=True)``, starting each episode from
        `initial_internals()` (batched like the states). Without them an
        independent act starts from the initial internal state every call.
        """
        batch, single = self._batch(states)
        rows = len(next(iter(batch.values())))
        if not independent and rows != self.num_envs:
            raise SpecError('states', f'a batch of num_envs={self.num_envs} rows (or act with independent=True)',
                            f'{rows} row(s)')
        if internals is not None:
            if not independent:
                raise ConfigError('act: internals= is for independent use: act(states, internals=..., '
                                  'independent=True); the agent carries its own internal state otherwise')
            actions, internals = self._act_internals(batch, deterministic, self._internals(internals, rows, single))
            if single:
                return ({name: value[0] for name, value in actions.items()},
                        {name: value[0] for name, value in internals.items()})
            return actions, internals
        actions = self._act(batch, deterministic, independent)
        return {name: value[0] for name, value in actions.items()} if single else actions

    def initial_internals(self) -> dict[str, np.ndarray]:
        """One environment's internal state at the start of an episode (``{}`` for agents without one)."""
        return {}

    def _internals(self, internals: Mapping[str, Any], rows: int, single: bool) -> dict[str, np.ndarray]:
        """Checked, batched float32 internals."""
        initial = self.initial_internals()
        if not isinstance(internals, Mapping) or set(internals) != set(initial):
            raise SpecError('internals', f'a dict with the keys {sorted(initial)} (agent.initial_internals())',
                            repr(sorted(internals)) if isinstance(internals, Mapping) else type(internals).__name__)
        checked = {}
        for key, value in initial.items():
            array = np.asarray(internals[key])
            expected = value.shape if single else (rows,) + value.shape
            if array.shape != expected or array.dtype.kind != 'f' or not np.all(np.isfinite(array)):
                raise SpecError(f'internals[{key!r}]', f'finite floats of shape {expected}',
                                f'shape {array.shape}, dtype {array.dtype.name}')
            checked[key] = (array[None] if single else array).astype(value.dtype)
        return checked

    def observe(self, reward: Any, terminal: Any, final_states: Mapping[str, Any] | None = None) -> bool:
        """Records the outcome of the last `act`; returns whether the agent updated.

        `reward` and `terminal` have one entry per environment (scalars when
        `num_envs` is 1). `final_states` are the RAW last states of the
        environments that ended (batched; rows of the others are ignored):
        TRUNCATED episodes bootstrap from them.
        """
        reward = _rewards(reward)
        terminal = np.asarray(terminal)
        expected = (self.num_envs,)
        for key, value in (('reward', reward), ('terminal', terminal)):
            if value.shape == () and self.num_envs == 1:
                continue
            if value.shape != expected:
                raise SpecError(key, f'shape {expected} (one per environment, num_envs={self.num_envs})',
                                f'shape {value.shape}')
        if terminal.dtype.kind not in 'iu' or np.any((terminal < 0) | (terminal > 2)):
            raise SpecError('terminal', 'Terminal values 0, 1 or 2', f'{terminal.tolist()!r}')
        reward, terminal = reward.reshape(expected), terminal.reshape(expected).astype(np.int64)
        if final_states is not None:
            final_states, _ = self._batch(final_states)
        self.timesteps += self.num_envs
        self.episodes += int(np.count_nonzero(terminal))
        updated = self._observe(reward, terminal, final_states)
        self.updates += int(updated)
        return updated

    def reset(self) -> None:
        """Forgets the unfinished experience (for example between runs)."""

    @classmethod
    def create(cls, agent: Any, environment: Any = None, **options: Any) -> 'Agent':
        """An agent from a configuration, TensorForce's form (see `modalbridge.agents.create`):
        ``Agent.create(agent='ppo', environment=env, **options)``, or a dict / JSON file path as `agent`."""
        from modalbridge.agents.create import create
        return create(agent, environment, **options)

    # -- checkpoints ---------------------------------------------------------

    def save(self, path: str | os.PathLike) -> str:
        """Writes a checkpoint directory: the configuration by value, the weights and the
        preprocessing with its state (see `modalbridge.agents.checkpoint`).

        Refuses to replace anything at `path` that is not a checkpoint; replacing a
        checkpoint never leaves `path` missing.
        """
        document = dict(agent=type(self).__name__,
                        states={k: _jsonable(to_dict(v)) for k, v in self.states.items()},
                        actions={k: _jsonable(to_dict(v)) for k, v in self.actions.items()},
                        config=self._checkpoint_config(), timesteps=self.timesteps, episodes=self.episodes,
                        updates=self.updates)
        return checkpoint.save(path, document, self._save_weights)

    @classmethod
    def load(cls, path: str | os.PathLike, safe_mode: bool = True, **overrides: Any) -> 'Agent':
        """An agent from a checkpoint directory, acting on raw environment states;
        `overrides` replace saved configuration fields.

        `safe_mode` (the default) resolves only built-in types and plug-ins registered in
        code in the saved declarations: nothing in the checkpoint can import or run code.
        """
        document = checkpoint.read(path)
        path = os.fspath(path)
        if document['agent'] not in AGENTS:
            raise ConfigError(f"load: {path!r} holds an agent of type {document['agent']!r}; known: {sorted(AGENTS)}")
        kind = AGENTS[document['agent']]
        if cls is not Agent and not issubclass(kind, cls):
            raise ConfigError(f'load: {path!r} holds a {kind.__name__}, not a {cls.__name__}')
        states = {k: from_dict(_tuples(v), name=k) for k, v in document['states'].items()}
        actions = {k: from_dict(_tuples(v), name=k) for k, v in document['actions'].items()}
        config = {**document.get('config', {}), **overrides}
        agent = kind._from_checkpoint(states, actions, config, safe_mode)
        try:
            agent._load_weights(path)
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - any unreadable weights file is a corrupted checkpoint
            raise ConfigError(f'load: the weights in {path!r} cannot be read: {error}') from error
        agent.timesteps = document.get('timesteps', 0)
        agent.episodes = document.get('episodes', 0)
        agent.updates = document.get('updates', 0)
        return agent

    def _checkpoint_config(self) -> dict[str, Any]:
        """The configuration as stored in a checkpoint (JSON, by value)."""
        return self.config.to_dict()

    @classmethod
    def _from_checkpoint(cls, states, actions, config: dict[str, Any], safe_mode: bool) -> 'Agent':
        return cls(states, actions, **config)

    # -- hooks ---------------------------------------------------------------

    @abc.abstractmethod
    def _act(self, states: dict[str, np.ndarray], deterministic: bool, independent: bool) -> dict[str, np.ndarray]:
        """Batched actions for batched states."""

    def _act_internals(self, states: dict[str, np.ndarray], deterministic: bool,
                       internals: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Batched (actions, next internals) for batched states and internals (independent)."""
        return self._act(states, deterministic, True), {}

    @abc.abstractmethod
    def _observe(self, reward: np.ndarray, terminal: np.ndarray, final_states: dict | None) -> bool:
        """Records batched rewards and terminals; returns whether it updated."""

    def _save_weights(self, directory: str) -> None:
        """Writes the weights into `directory`."""

    def _load_weights(self, directory: str) -> None:
        """Reads the weights from `directory`."""

    # -- helpers -------------------------------------------------------------

    def _batch(self, states: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], bool]:
        """Batched, validated states (the rules of `specs.validate`) and whether they came single."""
        return self._batcher(states)


def _rewards(reward: Any) -> np.ndarray:
    """Finite numbers within float32's range (what the learners compute in), as float64."""
    value = np.asarray(reward)
    if value.dtype.kind not in 'iuf':
        raise SpecError('reward', 'finite numbers', f'{reward!r} ({value.dtype.name})')
    with np.errstate(over='ignore', invalid='ignore'):
        finite = np.isfinite(value.astype(np.float32))
    if not np.all(finite):
        raise SpecError('reward', 'finite numbers within float32 range', f'{value.tolist()!r}')
    return value.astype(np.float64)


INFINITIES = {'inf': float('inf'), '-inf': float('-inf')}


def _jsonable(value: Any) -> Any:
    """A spec's short form as strict JSON: tuples as lists, infinite bounds as 'inf' / '-inf'."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value in (float('inf'), float('-inf')):
        return 'inf' if value > 0 else '-inf'
    return value


def _tuples(short: Any) -> Any:
    """The inverse of `_jsonable` for a spec read from a checkpoint."""
    if not isinstance(short, dict):
        raise ConfigError(f'load: a spec must be a dict; received {short!r}')

    def bound(value: Any) -> Any:
        if isinstance(value, list):
            return [bound(v) for v in value]
        return INFINITIES.get(value, value) if isinstance(value, str) else value

    return {k: tuple(v) if k == 'shape' and isinstance(v, list) else
            bound(v) if k in ('min_value', 'max_value') else v for k, v in short.items()}

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
import json
import os
import shutil
import tempfile
from typing import Any, Mapping

import numpy as np

from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import SpecLike, as_specs, describe, from_dict, is_text, to_dict

CONFIG_FILE = 'agent.json'
AGENTS: dict[str, type['Agent']] = {}


class Agent(abc.ABC):
    """Base class: spec handling, batching, save/load. Subclasses implement
    `_act(batched states, deterministic, independent) -> batched actions`,
    `_observe(reward, terminal, final_states) -> bool` and optionally the
    weight hooks `_save_weights(directory)` / `_load_weights(directory)`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        AGENTS[cls.__name__] = cls

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], parallel: int = 1):
        self.states = as_specs(states, 'states')
        self.actions = as_specs(actions, 'actions')
        if not isinstance(parallel, (int, np.integer)) or parallel < 1:
            raise ConfigError(f'parallel: expected a positive int (the number of environments); received {parallel!r}')
        self.parallel = int(parallel)
        self._single = False
        self.timesteps = 0
        self.episodes = 0
        self.updates = 0

    # -- the API -------------------------------------------------------------

    def act(self, states: Mapping[str, Any], deterministic: bool = False,
            independent: bool = False) -> dict[str, np.ndarray]:
        """Actions for a dict of states (batched, or one environment's).

        `deterministic` takes each distribution's mode; `independent` acts
        without recording anything for learning (evaluation).
        """
        batch, single = self._batch(states)
        actions = self._act(batch, deterministic, independent)
        if not independent:
            self._single = single
        return {name: value[0] for name, value in actions.items()} if single else actions

    def observe(self, reward: Any, terminal: Any, final_states: Mapping[str, Any] | None = None) -> bool:
        """Records the outcome of the last `act`; returns whether the agent updated.

        `final_states` (preprocessed, batched like the states) are the last
        states of TRUNCATED episodes, to bootstrap from; see the agent.
        """
        reward = np.asarray(reward, np.float64)
        terminal = np.asarray(terminal, np.int64)
        expected = () if self._single else (self.parallel,)
        for key, value in (('reward', reward), ('terminal', terminal)):
            if value.shape != expected:
                raise SpecError(key, f'shape {expected} (as the states of the last act)', f'shape {value.shape}')
        if np.any((terminal < 0) | (terminal > 2)):
            raise SpecError('terminal', 'Terminal values 0, 1 or 2', f'{terminal.tolist()}')
        if final_states is not None:
            final_states, _ = self._batch(final_states)
        if self._single:
            reward, terminal = reward[None], terminal[None]
        self.timesteps += reward.shape[0]
        self.episodes += int(np.count_nonzero(terminal))
        updated = self._observe(reward, terminal, final_states)
        self.updates += int(updated)
        return updated

    def reset(self) -> None:
        """Forgets the unfinished experience (for example between runs)."""

    # -- checkpoints ---------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The JSON-able arguments that rebuild this agent (besides states/actions)."""
        return dict(parallel=self.parallel)

    def save(self, path: str | os.PathLike) -> str:
        """Writes a checkpoint directory (config JSON + weights), atomically."""
        path = os.fspath(path)
        document = dict(agent=type(self).__name__,
                        states={k: _jsonable(to_dict(v)) for k, v in self.states.items()},
                        actions={k: _jsonable(to_dict(v)) for k, v in self.actions.items()},
                        config=self.config(), timesteps=self.timesteps, episodes=self.episodes,
                        updates=self.updates)
        try:
            text = json.dumps(document, indent=2)
        except TypeError as error:
            raise ConfigError(f'save: the agent configuration is not JSON-serialisable ({error}); '
                              'a network given as a Python function cannot be saved') from error
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix='.saving-', dir=parent)
        try:
            with open(os.path.join(staging, CONFIG_FILE), 'w', encoding='utf-8') as file:
                file.write(text)
            self._save_weights(staging)
            if os.path.exists(path):
                old = tempfile.mkdtemp(prefix='.replaced-', dir=parent)
                os.rename(path, os.path.join(old, 'previous'))
                os.rename(staging, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(staging, path)
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging, ignore_errors=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any) -> 'Agent':
        """An agent from a checkpoint directory; `overrides` replace saved arguments."""
        path = os.fspath(path)
        config_path = os.path.join(path, CONFIG_FILE)
        if not os.path.isfile(config_path):
            raise ConfigError(f'load: {path!r} is not an agent checkpoint (no {CONFIG_FILE})')
        try:
            with open(config_path, encoding='utf-8') as file:
                document = json.load(file)
            kind = AGENTS[document['agent']]
            states = {k: from_dict(_tuples(v), name=k) for k, v in document['states'].items()}
            actions = {k: from_dict(_tuples(v), name=k) for k, v in document['actions'].items()}
            config = {**document['config'], **overrides}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ConfigError(f'load: {config_path!r} is corrupted: {error!r}') from error
        if cls is not Agent and not issubclass(kind, cls):
            raise ConfigError(f'load: {path!r} holds a {kind.__name__}, not a {cls.__name__}')
        agent = kind(states, actions, **config)
        try:
            agent._load_weights(path)
        except Exception as error:  # noqa: BLE001 - any unreadable weights file is a corrupted checkpoint
            raise ConfigError(f'load: the weights in {path!r} cannot be read: {error}') from error
        agent.timesteps = document.get('timesteps', 0)
        agent.episodes = document.get('episodes', 0)
        agent.updates = document.get('updates', 0)
        return agent

    # -- hooks ---------------------------------------------------------------

    @abc.abstractmethod
    def _act(self, states: dict[str, np.ndarray], deterministic: bool, independent: bool) -> dict[str, np.ndarray]:
        """Batched actions for batched states."""

    @abc.abstractmethod
    def _observe(self, reward: np.ndarray, terminal: np.ndarray, final_states: dict | None) -> bool:
        """Records batched rewards and terminals; returns whether it updated."""

    def _save_weights(self, directory: str) -> None:
        """Writes the weights into `directory`."""

    def _load_weights(self, directory: str) -> None:
        """Reads the weights from `directory`."""

    # -- helpers -------------------------------------------------------------

    def _batch(self, states: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], bool]:
        if not isinstance(states, Mapping):
            raise SpecError('states', f'a dict with the keys {list(self.states)}', type(states).__name__)
        missing = [name for name in self.states if name not in states]
        unknown = [name for name in states if name not in self.states]
        if missing or unknown:
            key = (missing or unknown)[0]
            raise SpecError(key, f'the state keys {list(self.states)}',
                            f'missing {missing}' if missing else f'unknown {unknown}')
        batch, kinds = {}, set()
        for name, spec in self.states.items():
            value = np.asarray(states[name], dtype=object if is_text(spec) else None)
            if value.shape == spec.shape:
                kinds.add('single')
                value = value[None]
            elif value.shape[1:] == spec.shape and value.ndim == len(spec.shape) + 1:
                kinds.add('batch')
            else:
                raise SpecError(name, f'{describe(spec)}, or a batch of them', f'shape {value.shape}')
            if not is_text(spec) and value.dtype != spec.dtype:
                if not np.can_cast(value.dtype, spec.dtype, 'same_kind'):
                    raise SpecError(name, describe(spec), f'dtype {value.dtype.name}')
                value = value.astype(spec.dtype)
            batch[name] = value
        if len(kinds) > 1:
            raise SpecError('states', 'all states batched or all single', 'a mix of both')
        return batch, kinds == {'single'}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


def _tuples(short: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if k == 'shape' else v for k, v in short.items()}

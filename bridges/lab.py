"""`LabBridge`: the DeepMind Lab Python API (`deepmind_lab.Lab`) as a contract `Environment`.

Observations keep Lab's names (``RGB_INTERLEAVED``, ``INSTR`` as text, ...)
for the list given at construction (the same list the Lab was made with);
each action component of `action_spec()` is a named int32 action with
Lab's bounds. Components an action dict leaves out are 0 when
``fill_missing=True`` (the default; never uninitialised memory); with
``fill_missing=False`` every component must be given, as the contract
(and `check`) asks. `num_steps` repeats each action. The last observation
is cached, since Lab raises if it is read after the episode ended; an
episode that ends is TERMINATED (Lab does not say whether time ran out;
set `max_episode_timesteps` to truncate).

    lab = deepmind_lab.Lab('seekavoid_arena_01', ['RGB_INTERLEAVED', 'INSTR'])
    env = LabBridge(lab, ['RGB_INTERLEAVED', 'INSTR'], num_steps=4)
    env.execute({'MOVE_BACK_FORWARD': 1})
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import arguments
from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.errors import ConfigError

UNKNOWN_OBSERVATION = 'LabBridge: observation {name!r} is not in the Lab\'s observation_spec(); available: {names}'


def _state_spec(entry: Mapping[str, Any]):
    name, shape, dtype = entry['name'], tuple(entry['shape']), entry['dtype']
    if dtype in (str, np.str_, object) or name == 'INSTR':
        return dm_specs.StringArray(shape, name=name)
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return dm_specs.BoundedArray(shape, dtype, 0, 255, name=name)
    return dm_specs.Array(shape, dtype, name=name)


class LabBridge(Environment):
    """A DeepMind Lab environment in the contract (see the module docstring)."""

    def __init__(self, lab: Any, observations: Sequence[str], num_steps: int = 1, fill_missing: bool = True,
                 max_episode_timesteps: int | None = None):
        available = {entry['name']: entry for entry in lab.observation_spec()}
        if isinstance(observations, (str, bytes)) or not isinstance(observations, Sequence):
            raise ConfigError(f"LabBridge: observations must be a list of names such as ['RGB_INTERLEAVED']; "
                              f'received {observations!r}')
        if not observations:
            raise ConfigError('LabBridge: give the observations to expose (those the Lab was made with)')
        for name in observations:
            if name not in available:
                raise ConfigError(UNKNOWN_OBSERVATION.format(name=name, names=sorted(available)))
        num_steps = arguments.integer('LabBridge: num_steps', num_steps, minimum=1)
        fill_missing = arguments.boolean('LabBridge: fill_missing', fill_missing)
        self._env, self._names, self._num_steps = lab, list(observations), num_steps
        self._components = [entry['name'] for entry in lab.action_spec()]
        actions = {entry['name']: dm_specs.BoundedArray((), np.int32, entry['min'], entry['max'], name=entry['name'])
                   for entry in lab.action_spec()}
        self._fill_missing = fill_missing
        self._last: dict[str, Any] = {}
        super().__init__(states={name: _state_spec(available[name]) for name in self._names}, actions=actions,
                         max_episode_timesteps=max_episode_timesteps)

    @property
    def env(self) -> Any:
        """The wrapped `deepmind_lab.Lab`."""
        return self._env

    def _validate_actions(self, actions: Mapping[str, Any]) -> dict[str, np.ndarray]:
        if self._fill_missing and isinstance(actions, Mapping):
            actions = {**{name: 0 for name in self._components}, **actions}
        return super()._validate_actions(actions)

    def _observe(self) -> dict[str, Any]:
        observations = self._env.observations()
        self._last = {name: observations[name] for name in self._names}
        return self._last

    def _reset(self, seed: int | None) -> dict[str, Any]:
        # Lab takes a seed per episode: after reset(seed=s), reset() draws the next one from a
        # generator seeded with s, so the seeded stream continues (Gymnasium's rule)
        if seed is not None:
            self._seeds = np.random.default_rng(seed)
        elif getattr(self, '_seeds', None) is not None:
            seed = int(self._seeds.integers(2 ** 31 - 1))
        self._env.reset(seed=seed)
        return self._observe()

    def _execute(self, actions: dict[str, np.ndarray]) -> Step:
        vector = np.zeros(len(self._components), dtype=np.intc)
        for index, name in enumerate(self._components):
            vector[index] = actions[name]
        reward = self._env.step(vector, num_steps=self._num_steps)
        if self._env.is_running():
            return Step(self._observe(), reward, Terminal.NONE, {})
        return Step(self._last, reward, Terminal.TERMINATED, {})  # Lab raises if read now: the cached ones

    def _close(self) -> None:
        self._env.close()

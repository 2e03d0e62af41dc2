"""`EventBridge`: named-event interfaces (OpenAI Universe style) as a contract `Environment`.

The wrapped env takes lists of events, ``('KeyEvent', key, down)`` and
``('PointerEvent', x, y, buttonmask)``, and returns observations
``{'vision': HxWx3 uint8, 'text': [str, ...]}`` from
``reset() -> observation`` and ``step(events) -> (observation, reward, done, info)``.

The bridge exposes one bool action per declared key (held while true:
a press event when it turns true, a release when it turns false) and, with
a `pointer` grid, a discrete ``pointer`` cell (decoded with `divmod` into
row and column, sent as the cell's centre pixel) and a bool ``click``. States:
``vision`` and ``text``, the latest non-empty text message (empty until
one arrives). Held keys are forgotten at reset and at the end of an episode.

    env = EventBridge(game, keys=['ArrowLeft', 'ArrowRight', 'space'],
                      pointer=dict(width=160, height=120, cells=(8, 8)), vision_shape=(120, 160, 3))
    env.execute({'ArrowLeft': True, 'ArrowRight': False, 'space': False, 'pointer': 9, 'click': True})
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges import arguments
from modalbridge.bridges.environment import Environment, Step, Terminal
from modalbridge.bridges.errors import ConfigError

POINTER, CLICK = 'pointer', 'click'
DUPLICATE_KEY = 'EventBridge: key {key!r} is declared twice in keys={keys}'


class EventBridge(Environment):
    """A named-event environment in the contract (see the module docstring)."""

    def __init__(self, env: Any, keys: Sequence[str], pointer: Mapping[str, Any] | None = None,
                 vision_shape: Sequence[int] = (), max_episode_timesteps: int | None = None):
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
            raise ConfigError(f'EventBridge: keys must be a list of key names such as '
                              f"['ArrowLeft', 'space']; received {keys!r}")
        keys = list(keys)
        for key in keys:
            if not isinstance(key, str) or not key:
                raise ConfigError(f'EventBridge: keys must be non-empty strings; received {key!r}')
            if keys.count(key) > 1:
                raise ConfigError(DUPLICATE_KEY.format(key=key, keys=keys))
            if key in (POINTER, CLICK):
                raise ConfigError(f'EventBridge: {key!r} is the name of the pointer actions; rename the key')
        if isinstance(vision_shape, (str, bytes)) or not isinstance(vision_shape, Sequence) \
                or len(vision_shape) != 3:
            raise ConfigError(f'EventBridge: vision_shape must be (height, width, channels); received {vision_shape!r}')
        vision_shape = tuple(arguments.integer(f'EventBridge: vision_shape[{index}]', size, minimum=1)
                             for index, size in enumerate(vision_shape))
        if not keys and pointer is None:
            raise ConfigError('EventBridge: no actions: give at least one key in keys, or a pointer')
        actions: dict[str, Any] = {key: dm_specs.Array((), bool, name=key) for key in keys}
        self._grid = None
        if pointer is not None:
            if not isinstance(pointer, Mapping):
                raise ConfigError(f'EventBridge: pointer must be dict(width=..., height=..., cells=(rows, columns)); '
                                  f'received {pointer!r}')
            unknown = set(pointer) - {'width', 'height', 'cells'}
            if unknown or not {'width', 'height', 'cells'} <= set(pointer):
                raise ConfigError("EventBridge: pointer must be dict(width=..., height=..., cells=(rows, columns))")
            cells = pointer['cells']
            if isinstance(cells, (str, bytes)) or not isinstance(cells, Sequence) or len(cells) != 2:
                raise ConfigError(f'EventBridge: pointer cells must be (rows, columns); received {cells!r}')
            rows, columns = (arguments.integer(f'EventBridge: pointer cells[{index}]', count, minimum=1)
                             for index, count in enumerate(cells))
            width = arguments.integer('EventBridge: pointer width', pointer['width'], minimum=1)
            height = arguments.integer('EventBridge: pointer height', pointer['height'], minimum=1)
            self._grid = (width, height, rows, columns)
            actions[POINTER] = dm_specs.DiscreteArray(rows * columns, dtype=np.int64, name=POINTER)
            actions[CLICK] = dm_specs.Array((), bool, name=CLICK)
        self._env, self._keys = env, keys
        self._held: set[Any] = set()
        self._text = ''
        super().__init__(states=dict(vision=dm_specs.BoundedArray(tuple(vision_shape), np.uint8, 0, 255, name='vision'),
                                     text=dm_specs.StringArray((), name='text')),
                         actions=actions, max_episode_timesteps=max_episode_timesteps)

    @property
    def env(self) -> Any:
        """The wrapped event-interface environment."""
        return self._env

    def events(self, actions: Mapping[str, Any]) -> list[tuple]:
        """The events one dict of actions sends (and the held keys it leaves)."""
        events: list[tuple] = []
        for key in self._keys:
            down = bool(actions[key])
            if down and key not in self._held:
                events.append(('KeyEvent', key, True))
                self._held.add(key)
            elif not down and key in self._held:
                events.append(('KeyEvent', key, False))
                self._held.discard(key)
        if self._grid is not None:
            width, height, rows, columns = self._grid
            row, column = divmod(int(actions[POINTER]), columns)
            x, y = int((column + 0.5) * width / columns), int((row + 0.5) * height / rows)
            events.append(('PointerEvent', x, y, 1 if bool(actions[CLICK]) else 0))
        return events

    def _states(self, observation: Mapping[str, Any]) -> dict[str, Any]:
        messages = [text for text in observation.get('text', []) if text]
        if messages:
            self._text = messages[-1]
        return dict(vision=np.asarray(observation['vision']), text=self._text)

    def _reset(self, seed: int | None) -> dict[str, Any]:
        self._held.clear()
        self._text = ''
        return self._states(self._env.reset())

    def _execute(self, actions: dict[str, np.ndarray]) -> Step:
        observation, reward, done, info = self._env.step(self.events(actions))
        if done:
            self._held.clear()
        return Step(self._states(observation), reward, Terminal.TERMINATED if done else Terminal.NONE,
                    dict(info or {}))

    def _close(self) -> None:
        close = getattr(self._env, 'close', None)
        if close is not None:
            close()

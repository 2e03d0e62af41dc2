"""`GymBridge`: any Gymnasium environment as a contract `Environment`.

Spaces map to specs leaf by leaf (the table and the registry for custom
spaces are in `gym_spaces`); nested `Dict`/`Tuple` spaces are flattened to
`/` names (`names.join`), a single unnamed space is named ``'state'`` /
``'action'``. Two keys that flatten to one name (``0`` and ``'0'``) are a
`ConfigError`.
"""

from __future__ import annotations

from typing import Any, cast

import gymnasium
import numpy as np

from modalbridge.bridges import gym_spaces, names
from modalbridge.bridges.environment import Environment, Step, Terminal, terminal_from_flags
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, ModalbridgeError

BUILT_IN_NAMESPACE = 'modalbridge/'
UNKNOWN_ID = 'GymBridge: cannot make environment {id!r}: {error}'
NOT_AN_ENV = 'GymBridge: expected a gymnasium.Env or an environment id; received {received}'


class GymBridge(Environment):
    """A Gymnasium environment (or id) in the named-states/named-actions contract.

    >>> env = GymBridge('CartPole-v1')
    >>> env.states['state']  # doctest: +ELLIPSIS
    BoundedArray(shape=(4,), dtype=dtype('float32'), name='state', minimum=[...], maximum=[...])
    >>> env.actions['action']
    DiscreteArray(shape=(), dtype=int64, name=action, minimum=0, maximum=1, num_values=2)
    >>> states = env.reset(seed=0)
    >>> step = env.execute({'action': 1})

    `max_episode_timesteps` defaults to the registered time limit; keyword
    arguments are passed to `gymnasium.make` when `env` is an id. `reset_info`
    holds the info dict of the last reset.
    """

    def __init__(self, env: gymnasium.Env | str, max_episode_timesteps: int | None = None,
                 **make_kwargs: Any):
        if isinstance(env, str):
            if env.startswith(BUILT_IN_NAMESPACE) and env not in gymnasium.registry:
                import modalbridge.envs  # noqa: F401 - registers the built-in ids, only when asked for
            try:
                env = gymnasium.make(env, **make_kwargs)
            except gymnasium.error.Error as error:
                raise ConfigError(UNKNOWN_ID.format(id=env, error=error)) from error
        elif make_kwargs:
            raise ConfigError(f'GymBridge: keyword arguments {sorted(make_kwargs)} are only '
                              'used with an environment id')
        if not isinstance(env, gymnasium.Env):
            raise ConfigError(NOT_AN_ENV.format(received=type(env).__name__))
        self._env = env
        self.reset_info: dict[str, Any] = {}
        state_leaves = gym_spaces.space_leaves(env.observation_space, names.STATE, 'observation')
        action_leaves = gym_spaces.space_leaves(env.action_space, names.ACTION, 'action')
        self._read = gym_spaces.reader(state_leaves)
        self._assemble = gym_spaces.writer(env.action_space, action_leaves)
        self._leaves = (tuple(state_leaves), tuple(action_leaves))
        if max_episode_timesteps is None and env.spec is not None:
            max_episode_timesteps = env.spec.max_episode_steps
        super().__init__(states={leaf.name: leaf.spec for leaf in state_leaves},
                         actions={leaf.name: leaf.spec for leaf in action_leaves},
                         max_episode_timesteps=max_episode_timesteps)

    @property
    def env(self) -> gymnasium.Env:
        """The wrapped Gymnasium environment."""
        return self._env

    @property
    def render_mode(self) -> str | None:
        return self._env.render_mode

    def render(self) -> Any:
        return self._env.render()

    def _reset(self, seed: int | None) -> dict[str, Any]:
        observation, self.reset_info = self._env.reset(seed=seed)
        return self._read(observation)

    def _execute(self, actions: dict[str, np.ndarray]) -> Step:
        observation, reward, terminated, truncated, info = self._env.step(self._assemble(actions))
        # the reward is Gymnasium's SupportsFloat: Environment.execute checks and converts it
        return Step(self._read(observation), cast(float, reward), terminal_from_flags(terminated, truncated), info)

    def _execute_unchecked(self, actions: dict[str, np.ndarray]) -> tuple[Any, float, Terminal, dict[str, Any]]:
        # `_execute` without the Step in between (every step's path, one env or a batch); a subclass
        # that overrides `_execute` keeps the general path.
        if type(self)._execute is not GymBridge._execute:
            return super()._execute_unchecked(actions)
        try:
            observation, reward, terminated, truncated, info = self._env.step(self._assemble(actions))
        except ModalbridgeError:
            raise
        except Exception as error:
            raise EnvironmentFailure(f'{self._name()}._execute failed: {error!r}', error) from error
        return self._recorded(self._read(observation), reward, terminal_from_flags(terminated, truncated), info)

    def _close(self) -> None:
        self._env.close()

    def _name(self) -> str:
        spec = getattr(self._env, 'spec', None)
        return f'GymBridge({spec.id})' if spec is not None else 'GymBridge'

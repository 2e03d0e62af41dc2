"""`evaluate`: a policy's returns over fresh episodes, without learning.

The agent acts with ``independent=True`` (nothing is recorded for learning)
and, by default, deterministically (each distribution's mode). On a vector
environment every sub-environment contributes a fixed share of the episodes
(as Stable-Baselines3's `evaluate_policy`), so short episodes are not
over-represented by finishing first.

>>> from modalbridge.agents import RandomAgent
>>> from modalbridge.bridges import GymBridge
>>> env = GymBridge('CartPole-v1')
>>> result = evaluate(RandomAgent(env.states, env.actions, seed=0), env, episodes=3, seed=0)
>>> len(result.returns), result.mean_return > 0
(3, True)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import numpy as np

from modalbridge.bridges.arguments import boolean, integer
from modalbridge.bridges.environment import Environment
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.batch import BatchedEnvironment
from modalbridge.bridges.vector import VectorEnvironment


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Per-episode results of `evaluate`, in the order the episodes finished.

    `successes` is None unless a success criterion was given or the
    environment reports ``info['success']``.
    """

    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    successes: tuple[bool, ...] | None = None

    @property
    def episodes(self) -> int:
        return len(self.returns)

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))

    @property
    def mean_length(self) -> float:
        return float(np.mean(self.lengths))

    @property
    def success_rate(self) -> float | None:
        return None if self.successes is None else float(np.mean(self.successes))

    def __str__(self) -> str:
        text = (f'{self.episodes} episodes: return {self.mean_return:.2f} +- {self.std_return:.2f}, '
                f'length {self.mean_length:.1f}')
        return text if self.successes is None else f'{text}, success {self.success_rate:.2f}'


def evaluate(agent: Any, env: Any, episodes: int, deterministic: bool = True, seed: int | None = None,
             success: Callable[[Mapping[str, Any]], Any] | None = None, *,
             preprocessing: Any = None) -> Evaluation:
    """Runs `episodes` episodes of `agent` on `env` (an Environment, a VectorEnvironment or a
    list of environments) and returns their `Evaluation`.

    `seed` seeds the first reset (sub-environment i gets ``seed + i``; on
    one environment, episode k gets ``seed + k``). `success(info) -> bool`
    judges each finished episode from its last info; without it,
    ``info['success']`` is used where the environment gives it.
    `preprocessing` (a declaration, run on the NumPy backend and reset per
    episode) is deprecated like the Runner's: an agent that holds its
    preprocessing acts on raw states.
    """
    episodes = integer('evaluate: episodes', episodes, minimum=1)
    deterministic = boolean('evaluate: deterministic', deterministic)
    if seed is not None:
        seed = integer('evaluate: seed', seed, minimum=0)
    if success is not None and not callable(success):
        raise ConfigError(f'evaluate: success must be a function success(info) -> bool; received {success!r}')
    if isinstance(env, (list, tuple)):
        env = VectorEnvironment(list(env))
    if isinstance(env, BatchedEnvironment):  # a VectorEnvironment, an EnvPoolBridge, ...
        stack = _stack(env, preprocessing, env.num_envs)
        return _vector(agent, env, episodes, deterministic, seed, success, stack)
    if isinstance(env, Environment):
        return _single(agent, env, episodes, deterministic, seed, success, _stack(env, preprocessing, 1))
    raise ConfigError(f'evaluate: expected an Environment, a VectorEnvironment or a list of environments; '
                      f'received {type(env).__name__}')


def _stack(env: Any, preprocessing: Any, num_envs: int) -> Callable | None:
    if preprocessing is None:
        return None
    from modalbridge.preprocess.stack import Stack
    return Stack(env.states, preprocessing, num_envs=num_envs, backend='numpy')


def _one(states: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One environment's states as a batch of one (text as object arrays)."""
    return {name: np.asarray(value, dtype=object if np.asarray(value).dtype.kind in 'OUS' else None)[None]
            for name, value in states.items()}


def _judge(success: Callable | None, info: Mapping[str, Any]) -> bool | None:
    if success is not None:
        try:
            verdict = success(info)
        except Exception as error:  # noqa: BLE001 - the user's function, named with its input
            raise ConfigError(f'evaluate: success(info) raised {error!r} on info {_short(info)}') from error
        return _verdict(verdict, 'the result of success(info)')
    if isinstance(info, Mapping) and 'success' in info:
        return _verdict(info['success'], "info['success']")
    return None


def _verdict(value: Any, place: str) -> bool:
    # bool() of a list or a string is silently True; of an array of two, a raw ValueError
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in 'biu' and value in (0, 1):
        return bool(value)
    raise ConfigError(f'evaluate: {place} must be a bool; received {_short(value)}')


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + '...'


def _result(returns: list, lengths: list, successes: list) -> Evaluation:
    judged = None
    if any(s is not None for s in successes):
        judged = tuple(bool(s) for s in successes)  # an episode without the key counts as a failure
    return Evaluation(tuple(returns), tuple(lengths), judged)


class _Memory:
    """A recurrent agent's internals carried across the steps of an evaluation and restarted where
    an episode starts (`act(independent=True)` alone would start every step from scratch)."""

    def __init__(self, agent: Any, rows: int | None):
        initial = agent.initial_internals() if hasattr(agent, 'initial_internals') else {}
        self.initial, self.rows = dict(initial), rows
        self.internals = self._initial() if self.initial else None

    def _initial(self) -> dict[str, np.ndarray]:
        if self.rows is None:
            return {key: value.copy() for key, value in self.initial.items()}
        return {key: np.repeat(value[None], self.rows, axis=0) for key, value in self.initial.items()}

    def act(self, agent: Any, states: Any, deterministic: bool) -> Any:
        if self.internals is None:
            return agent.act(states, deterministic=deterministic, independent=True)
        actions, self.internals = agent.act(states, internals=self.internals, deterministic=deterministic,
                                            independent=True)
        return actions

    def restart(self, mask: np.ndarray | None = None) -> None:
        if self.internals is None:
            return
        if mask is None:
            self.internals = self._initial()
        else:
            for key, value in self.initial.items():
                self.internals[key][mask] = value


def _single(agent, env, episodes, deterministic, seed, success, stack) -> Evaluation:
    def process(states):
        return states if stack is None else {name: value[0] for name, value in stack(_one(states)).items()}

    returns, lengths, successes = [], [], []
    memory = _Memory(agent, None)
    for episode in range(episodes):
        if stack is not None:
            stack.reset()
        memory.restart()
        states = process(env.reset(seed=None if seed is None else seed + episode))
        total, length = 0.0, 0
        while True:
            step = env.execute(memory.act(agent, states, deterministic))
            total, length, states = total + float(step.reward), length + 1, step.states
            if not step.terminal:
                states = process(states)
            if step.terminal:
                break
        returns.append(total)
        lengths.append(length)
        successes.append(_judge(success, step.info))
    return _result(returns, lengths, successes)


def _sub_info(info: Mapping[str, Any], index: int) -> Mapping[str, Any]:
    infos = info.get('infos')
    if isinstance(infos, (list, tuple)):
        return infos[index]
    if isinstance(infos, Mapping):  # Gymnasium's vector form: arrays, with `_key` masks
        return {key: value[index] for key, value in infos.items()
                if not key.startswith('_') and infos.get(f'_{key}', np.ones(index + 1, bool))[index]}
    return {}


def _vector(agent, env, episodes, deterministic, seed, success, stack) -> Evaluation:
    count = env.num_envs
    targets = np.array([(episodes + i) // count for i in range(count)])
    done = np.zeros(count, np.int64)
    totals, steps = np.zeros(count), np.zeros(count, np.int64)
    returns, lengths, successes = [], [], []
    states = env.reset(seed=seed)
    memory = _Memory(agent, count)
    if stack is not None:
        stack.reset()
        states = stack(states)
    while (done < targets).any():
        step = env.execute(memory.act(agent, states, deterministic))
        memory.restart(np.asarray(step.info['final_mask'], bool))
        totals += step.reward
        steps += 1
        for index in np.flatnonzero(step.info['final_mask']):
            if done[index] < targets[index]:
                returns.append(float(totals[index]))
                lengths.append(int(steps[index]))
                successes.append(_judge(success, _sub_info(step.info, int(index))))
                done[index] += 1
            totals[index], steps[index] = 0.0, 0
        states = step.states
        if stack is not None:
            if step.info['final_mask'].any():
                stack.reset(np.asarray(step.info['final_mask'], bool))
            states = stack(states)
    return _result(returns, lengths, successes)

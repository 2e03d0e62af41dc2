"""`ReplayMemory`: preallocated experience replay, frames stored once.

Each of the `parallel` environments writes its own ring of rows in
preallocated NumPy arrays (dtypes kept: uint8 images stay uint8). A row is
the state an action was taken in, the action, the reward and the `Terminal`
of the step. When an episode ends, one more row holds its final state (the
state to bootstrap from when TRUNCATED), so the next state of row ``t`` is
always row ``t + 1``, as in SB3's ``optimize_memory_usage``.

States declared in `frame_stacks` (name -> length) are frame sequences as
the ``sequence`` preprocessor makes them: the last axis holds `length`
frames, oldest first. Only the newest frame of each is stored; the stacks
are rebuilt at sample time, frames from before an episode's start replaced
by its first frame (TorchRL's ``CatFrames`` on a replay buffer).

Sampled targets are n-step: ``R = sum_k discount**k * r_{t+k}`` over at
most `n_step` steps, stopping at the episode's end; `discounts` is
``discount**m`` for the bootstrap from ``next_states`` (row ``t + m``), or
0 when the episode TERMINATED within the window (a TRUNCATED one
bootstraps from its final state).

With ``prioritized=True`` rows are drawn with probability
``p_i**alpha / sum_j p_j**alpha`` (a sum-tree, proportional variant of
Schaul et al. 2016); new rows get the largest priority seen so far and
`update_priorities` sets ``p = |td_error| + priority_epsilon``. Importance
weights ``(size * P(i))**-beta`` are divided by the batch's largest.

>>> memory = ReplayMemory(dict(obs=dict(type='float', shape=(2,))), dict(move=dict(type='int', num_values=3)),
...                       capacity=100, seed=0)
>>> for t in range(5):
...     memory.add(dict(obs=np.full((1, 2), t, np.float32)), dict(move=np.array([t % 3])),
...                reward=np.array([1.0]), terminal=np.array([int(t == 4)]))
>>> batch = memory.sample(4)
>>> batch.rewards.shape, batch.states['obs'].shape, len(memory)
((4,), (4, 2), 6)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError, SpecError
from modalbridge.bridges.specs import SpecLike, as_specs, describe, is_text

TRANSITION, FINAL = 0, 1


@dataclasses.dataclass
class Batch:
    """A sampled batch: `states`/`next_states`/`actions` dicts of (batch, ...) arrays;
    n-step `rewards`, bootstrap `discounts` and importance `weights` (batch,) float32;
    `indices` to pass back to `ReplayMemory.update_priorities`."""

    states: dict[str, np.ndarray]
    actions: dict[str, np.ndarray]
    rewards: np.ndarray
    discounts: np.ndarray
    next_states: dict[str, np.ndarray]
    weights: np.ndarray
    indices: np.ndarray


class SumTree:
    """Sums over a binary tree of leaf priorities, in NumPy: vectorized update and sampling.

    >>> tree = SumTree(4); tree.update(np.array([0, 3]), np.array([1.0, 3.0]))
    >>> tree.total, tree.find(np.array([0.5, 1.5, 3.9])).tolist()
    (4.0, [0, 3, 3])
    """

    def __init__(self, size: int):
        self.leaves = 1 << max(int(size) - 1, 0).bit_length()
        self.tree = np.zeros(2 * self.leaves, np.float64)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, index: np.ndarray) -> np.ndarray:
        return self.tree[index + self.leaves]

    def update(self, index: np.ndarray, value: np.ndarray) -> None:
        node = np.asarray(index) + self.leaves
        self.tree[node] = value
        node = np.unique(node // 2)
        while node[0] >= 1:
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]
            node = np.unique(node // 2)

    def find(self, mass: np.ndarray) -> np.ndarray:
        """The leaf where each cumulative `mass` (in [0, total)) falls."""
        node = np.ones(len(mass), np.int64)
        mass = np.array(mass, np.float64)
        while node[0] < self.leaves:
            left = self.tree[2 * node]
            right = mass >= left
            mass = np.where(right, mass - left, mass)
            node = 2 * node + right
        return node - self.leaves


class ReplayMemory:
    """Experience replay over `parallel` environments (see the module docstring)."""

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], capacity: int,
                 parallel: int = 1, frame_stacks: Mapping[str, int] | None = None, n_step: int = 1,
                 discount: float = 0.99, prioritized: bool = False, priority_alpha: float = 0.6,
                 priority_epsilon: float = 1e-6, seed: int | np.random.Generator | None = None):
        self.states = as_specs(states, 'states')
        self.actions = as_specs(actions, 'actions')
        for name, spec in {**self.states, **self.actions}.items():
            if is_text(spec):
                raise ConfigError(f'replay: {name!r} is text ({describe(spec)}); store token ids (tokenize first)')
        capacity = arguments.integer('memory_capacity', capacity, minimum=1)
        self.parallel = arguments.integer('parallel', parallel, minimum=1)
        self.n_step = arguments.integer('n_step', n_step, minimum=1)
        self.discount = arguments.number('discount', discount, 0, 1)
        self.prioritized = arguments.boolean('prioritized', prioritized)
        self.alpha = arguments.number('priority_alpha', priority_alpha, 0)
        self.priority_epsilon = arguments.number('priority_epsilon', priority_epsilon, 0, inclusive=False)
        self.frame_stacks = self._check_stacks(frame_stacks)
        self.history = max(self.frame_stacks.values(), default=1) - 1
        # Each ring must hold a whole stack and an n-step window besides the row sampled.
        self.rows = max(-(-capacity // self.parallel), self.history + self.n_step + 2)
        self.capacity = self.rows * self.parallel
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

        shape = (self.parallel, self.rows)
        self._frames = {name: np.zeros(shape + self._stored_shape(name, spec), spec.dtype)
                        for name, spec in self.states.items()}
        self._actions = {name: np.zeros(shape + spec.shape, spec.dtype) for name, spec in self.actions.items()}
        self._rewards = np.zeros(shape, np.float32)
        self._terminals = np.zeros(shape, np.int8)
        self._kinds = np.full(shape, FINAL, np.int8)       # empty rows count as final rows: never sampled
        self._position = np.full(shape, -1, np.int64)      # the row's absolute position in its ring
        self._starts = np.zeros(shape, np.int64)           # the absolute position of its episode's first row
        self._count = np.zeros(self.parallel, np.int64)    # rows written per environment
        self._episode_start = np.zeros(self.parallel, np.int64)
        self._tree = SumTree(self.capacity) if self.prioritized else None
        self._max_priority = 1.0

    def _check_stacks(self, frame_stacks: Mapping[str, int] | None) -> dict[str, int]:
        if frame_stacks is None:
            return {}
        if not isinstance(frame_stacks, Mapping):
            raise ConfigError(f'frame_stacks: expected a dict of state name -> length; received {frame_stacks!r}')
        stacks = {}
        for name, length in frame_stacks.items():
            if name not in self.states:
                raise ConfigError(f'frame_stacks[{name!r}]: no such state; expected one of {list(self.states)}')
            length = arguments.integer(f'frame_stacks[{name!r}]', length, minimum=1)
            shape = self.states[name].shape
            if not shape or shape[-1] % length:
                raise ConfigError(f'frame_stacks[{name!r}]: the last axis of {describe(self.states[name])} '
                                  f'is not a stack of {length} frames')
            stacks[name] = length
        return stacks

    def _stored_shape(self, name: str, spec) -> tuple[int, ...]:
        if name not in self.frame_stacks:
            return spec.shape
        return spec.shape[:-1] + (spec.shape[-1] // self.frame_stacks[name],)

    def __len__(self) -> int:
        """Rows held (transitions and final states)."""
        return int(np.minimum(self._count, self.rows).sum())

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated arrays."""
        arrays = [*self._frames.values(), *self._actions.values(), self._rewards, self._terminals, self._kinds,
                  self._position, self._starts]
        return sum(a.nbytes for a in arrays) + (self._tree.tree.nbytes if self._tree is not None else 0)

    # -- writing ---------------------------------------------------------------

    def add(self, states: Mapping[str, Any], actions: Mapping[str, Any], reward: Any, terminal: Any,
            final_states: Mapping[str, Any] | None = None) -> None:
        """Records one step of every environment: batched (parallel, ...) states acted on,
        actions, rewards and `Terminal`s; `final_states` (batched) are read where an episode
        ended (without them, an ended episode's final state is its last state)."""
        n = self.parallel
        reward = np.asarray(reward, np.float32)
        terminal = np.asarray(terminal)
        for key, value in (('reward', reward), ('terminal', terminal)):
            if value.shape != (n,):
                raise SpecError(key, f'shape ({n},)', f'shape {value.shape}')
        if not np.all(np.isin(terminal, (0, 1, 2))):
            raise SpecError('terminal', 'Terminal values 0, 1 or 2', f'{terminal.tolist()}')
        states = self._checked(states, self.states, 'states')
        actions = self._checked(actions, self.actions, 'actions')
        envs = np.arange(n)
        slots = self._write(envs, states, TRANSITION)
        for name, value in actions.items():
            self._actions[name][envs, slots] = value
        self._rewards[envs, slots] = reward
        self._terminals[envs, slots] = terminal
        ended = np.flatnonzero(terminal != 0)
        if ended.size:
            finals = states if final_states is None else self._checked(final_states, self.states, 'final_states')
            self._write(ended, {name: value[ended] for name, value in finals.items()}, FINAL)
            self._episode_start[ended] = self._count[ended]

    def _checked(self, values: Mapping[str, Any], specs, what: str) -> dict[str, np.ndarray]:
        if not isinstance(values, Mapping) or set(values) != set(specs):
            received = sorted(values) if isinstance(values, Mapping) else type(values).__name__
            raise SpecError(what, f'a dict with the keys {list(specs)}', f'{received}')
        checked = {}
        for name, spec in specs.items():
            value = np.asarray(values[name])
            if value.shape != (self.parallel,) + spec.shape:
                raise SpecError(name, f'a batch of {self.parallel} of {describe(spec)}', f'shape {value.shape}')
            checked[name] = value
        return checked

    def _write(self, envs: np.ndarray, states: dict[str, np.ndarray], kind: int) -> np.ndarray:
        position = self._count[envs]
        slots = position % self.rows
        for name, value in states.items():
            if name in self.frame_stacks:
                value = value[..., -self._frames[name].shape[-1]:]
            self._frames[name][envs, slots] = value
        self._kinds[envs, slots] = kind
        self._position[envs, slots] = position
        self._starts[envs, slots] = self._episode_start[envs]
        if self._tree is not None:
            priority = self._max_priority ** self.alpha if kind == TRANSITION else 0.0
            self._tree.update(envs * self.rows + slots, np.full(len(envs), priority))
        self._count[envs] += 1
        return slots

    # -- sampling --------------------------------------------------------------

    def _valid(self, env: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """Rows whose stack frames are all held and whose n-step window is complete."""
        position, count = self._position[env, slot], self._count[env]
        valid = (self._kinds[env, slot] == TRANSITION) & (position >= count - self.rows + self.history)
        written = count - 1 - position                     # rows after this one
        complete = written >= self.n_step
        for k in range(self.n_step):  # or the episode ends within the window (its final row is then held)
            complete |= (k <= written) & (self._terminals[env, (slot + k) % self.rows] != 0)
        return valid & complete

    def _complete(self) -> np.ndarray:
        every = np.arange(self.capacity)
        return every[self._valid(every // self.rows, every % self.rows)]

    def complete(self) -> int:
        """How many transitions can be sampled now (their stacks held, their n-step windows complete)."""
        return len(self._complete())

    def sample(self, batch_size: int, beta: float = 0.4) -> Batch:
        """`batch_size` transitions (uniform, or prioritized with importance exponent `beta`)."""
        batch_size = arguments.integer('batch_size', batch_size, minimum=1)
        beta = arguments.number('priority_beta', beta, 0, 1)
        flat = np.empty(batch_size, np.int64)
        missing = np.arange(batch_size)
        held = np.minimum(self._count, self.rows)
        for _ in range(8):  # rejection: only the newest and oldest few rows of each ring are incomplete
            if self._tree is not None:
                total = self._tree.total
                mass = (missing + self.rng.random(len(missing))) * (total / batch_size)
                candidates = self._tree.find(np.minimum(mass, np.nextafter(total, 0)))
            else:
                drawn = self.rng.integers(0, max(held.sum(), 1), len(missing))
                env = np.searchsorted(np.cumsum(held), drawn, side='right')
                candidates = env * self.rows + drawn - (np.cumsum(held) - held)[np.minimum(env, self.parallel - 1)]
            candidates = np.minimum(candidates, self.capacity - 1)
            valid = self._valid(candidates // self.rows, candidates % self.rows)
            flat[missing[valid]] = candidates[valid]
            missing = missing[~valid]
            if not missing.size:
                break
        if missing.size:  # few complete rows among many: draw from all of them
            every = self._complete()
            if not every.size:
                raise ConfigError(f'replay: no complete transitions to sample from ({len(self)} rows held); '
                                  'add more steps before sampling (first_update)')
            p = None if self._tree is None else self._tree.get(every) / self._tree.get(every).sum()
            flat[missing] = self.rng.choice(every, size=len(missing), p=p)
        env, slot = flat // self.rows, flat % self.rows
        rewards, discounts, steps = self._n_step(env, slot)
        next_slot = (slot + steps) % self.rows
        weights: np.ndarray = np.ones(batch_size, np.float32)
        if self._tree is not None:
            probabilities = self._tree.get(flat) / self._tree.total
            transitions = np.count_nonzero(self._kinds == TRANSITION)
            weights = (transitions * probabilities) ** -beta
            weights = (weights / weights.max()).astype(np.float32)
        return Batch(states=self._stacked(env, slot), actions={k: v[env, slot] for k, v in self._actions.items()},
                     rewards=rewards, discounts=discounts, next_states=self._stacked(env, next_slot),
                     weights=weights, indices=flat)

    def _n_step(self, env: np.ndarray, slot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        returns = np.zeros(len(env), np.float64)
        alive = np.ones(len(env), bool)
        steps = np.zeros(len(env), np.int64)
        terminated = np.zeros(len(env), bool)
        for k in range(self.n_step):
            row = (slot + k) % self.rows
            returns += np.where(alive, self.discount ** k * self._rewards[env, row], 0.0)
            steps += alive
            terminal = self._terminals[env, row]
            terminated |= alive & (terminal == 1)
            alive &= terminal == 0
        discounts = np.where(terminated, 0.0, self.discount ** steps)
        return returns.astype(np.float32), discounts.astype(np.float32), steps

    def _stacked(self, env: np.ndarray, slot: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        position, start = self._position[env, slot], self._starts[env, slot]
        for name, frames in self._frames.items():
            length = self.frame_stacks.get(name)
            if length is None:
                out[name] = frames[env, slot]
                continue
            offsets = np.arange(1 - length, 1)                              # oldest first
            source = np.maximum(position[:, None] + offsets, start[:, None]) % self.rows
            stack = frames[env[:, None], source]                            # (batch, length, ..., channels)
            stack = np.moveaxis(stack, 1, -2)                               # (batch, ..., length, channels)
            out[name] = stack.reshape((len(env),) + self.states[name].shape)
        return out

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Sets the priorities of sampled rows from their TD errors."""
        if self._tree is None:
            raise ConfigError('update_priorities: this memory is not prioritized (prioritized=False)')
        priorities = np.abs(np.asarray(td_errors, np.float64)) + self.priority_epsilon
        if priorities.shape != np.shape(indices) or not np.all(np.isfinite(priorities)):
            raise SpecError('td_errors', f'{np.shape(indices)} finite numbers', f'{priorities!r}')
        self._max_priority = max(self._max_priority, float(priorities.max()))
        self._tree.update(indices, priorities ** self.alpha)

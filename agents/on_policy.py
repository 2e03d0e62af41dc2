"""`OnPolicyAgent`: what A2C and PPO share: a `Policy`, a `RolloutBuffer`, returns.

`act` runs the policy's one compiled step and records the row; `observe`
records the outcome (rewards of TRUNCATED episodes are bootstrapped with
``discount * V(final states)`` at the next update, all in one call) and
marks ended environments, whose preprocessing memory the next act restarts
inside its compiled call; once `n_steps + 1` rows
are complete hands the rollout to the learner's `_learn(batch)`: the first
`n_steps` rows with GAE returns and advantages (the last row's value
bootstraps them; it then opens the next rollout).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import numpy as np
import tensorflow as tf

from modalbridge.agents import returns as returns_lib
from modalbridge.agents.agent import Agent
from modalbridge.agents.buffers import RolloutBuffer
from modalbridge.agents.config import OnPolicyConfig
from modalbridge.agents.optimizers import FusedApply, optimizer
from modalbridge.agents.policy import Policy
from modalbridge.bridges.environment import Terminal
from modalbridge.bridges.errors import ModalbridgeError
from modalbridge.bridges.specs import SpecLike

if TYPE_CHECKING:  # the module, so that keras.Model is a type to the checker
    import keras
else:
    keras = tf.keras
PREPROCESSING_FILE = 'preprocessing.npz'
WEIGHTS_FILE = 'weights.weights.h5'


@dataclasses.dataclass
class Rollout:
    """One rollout, ``(steps, envs)`` arrays, ready for a learner. States, samples, log-probs and
    values are views of the buffer, valid until it carries on; rewards, returns, advantages, the core state
    and `first` are copies."""

    states: dict[str, np.ndarray]
    samples: dict[str, np.ndarray]
    log_prob: np.ndarray
    value: np.ndarray
    rewards: np.ndarray
    returns: np.ndarray
    advantages: np.ndarray
    core: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    """A recurrent policy's core state at the segment's start, ``(envs, size)`` per key."""
    first: np.ndarray | None = None
    """``(steps, envs)``: which steps started an episode (their core state restarts)."""


class OnPolicyAgent(Agent):
    """Base class of the on-policy learners (see the module docstring); a learner sets
    `Config` and implements `_learn(rollout) -> metrics`.

    >>> from modalbridge.agents import PPO
    >>> agent = PPO(dict(state=dict(type='float', shape=(2,))), dict(action=dict(type='int', num_values=2)),
    ...             n_steps=4, batch_size=4, seed=0)
    >>> agent.buffer.states['state'].shape  # (n_steps + 1, num_envs) + the state's shape
    (5, 1, 2)
    """

    Config: ClassVar[type[OnPolicyConfig]] = OnPolicyConfig
    config: OnPolicyConfig  # an instance of Config (set by Agent.__init__)

    def __init__(self, states: Mapping[str, SpecLike], actions: Mapping[str, SpecLike], parallel: int | None = None,
                 safe_mode: bool = False, **fields: Any):
        super().__init__(states, actions, parallel, **fields)
        config = self.config
        self.policy = Policy(self.states, self.actions, config.network, config.shared_network,
                             config.preprocessing, config.num_envs, config.seed, safe_mode)
        self.optimizer = optimizer(config.optimizer)
        self.optimizer.build(self.policy.model.trainable_variables)
        self._apply = FusedApply(self.optimizer, self.policy.model.trainable_variables)
        self._rng = np.random.default_rng(config.seed)
        network_states = self.policy.network_states
        self.buffer = RolloutBuffer(
            {name: (spec.shape, spec.dtype) for name, spec in network_states.items()},
            {name: (h.shape, h.sample_dtype.as_numpy_dtype) for name, h in self.policy.heads.items()},
            config.n_steps, config.num_envs,
            {key: (value.shape, np.float32) for key, value in self.policy.core_initial.items()})
        self.last_rollout: Rollout | None = None
        self._first = np.zeros(config.num_envs, bool)
        self._core = self.policy.initial_state(config.num_envs)  # the core state each environment acts from

    @property
    def model(self) -> keras.Model:
        return self.policy.model

    @classmethod
    def _from_checkpoint(cls, states, actions, config, safe_mode):
        return cls(states, actions, safe_mode=safe_mode, **config)

    # -- acting --------------------------------------------------------------

    def initial_internals(self) -> dict[str, np.ndarray]:
        """One environment's core state at the start of an episode (``{}``: feed-forward)."""
        return {key: value.copy() for key, value in self.policy.core_initial.items()}

    def _act(self, states, deterministic, independent):
        if independent:
            actions, _ = self.policy.act(states, deterministic, update=False, with_extras=False)
            return actions
        self.buffer.expect_act()
        actions, extras = self.policy.act(states, deterministic, update=True, first=self._first,
                                          core_state=self._core)
        self.buffer.add_act(extras.get('states', states), extras['sample'], extras['log_prob'], extras['value'],
                            self._core, self._first)
        self._first = np.zeros(self.num_envs, bool)
        self._core = extras.get('core_state', {})
        return actions

    def _act_internals(self, states, deterministic, internals):
        actions, extras = self.policy.act(states, deterministic, update=False, core_state=internals,
                                          with_extras=False)
        return actions, extras.get('core_state', {})

    def value(self, states: Mapping[str, Any]) -> np.ndarray:
        """V(s) for a batch (or one) of raw states."""
        batch, single = self._batch(states)
        values = self.policy.value(self.policy.preprocess(batch))
        return values[0] if single else values

    # -- observing -----------------------------------------------------------

    def _observe(self, reward, terminal, final_states):
        truncated = terminal == Terminal.TRUNCATED
        ended = terminal != Terminal.NONE
        if truncated.any() and final_states is not None:
            final_states = self.policy.preprocess(final_states)  # peeks: the memory is left as it is
            final_states = {**final_states, **self._core}  # the core state reached at them
        self.buffer.add_outcome(reward, ended, truncated, final_states)
        self._first = ended  # the next act restarts their preprocessing memory, inside its compiled call
        if not self.buffer.full:
            return False
        self._bootstrap_truncations()
        self.last_rollout = rollout = self._rollout()
        self.last_update = self._learn(rollout)
        self.buffer.carry_last()
        return True

    def _bootstrap_truncations(self) -> None:
        """Adds ``discount * V(final states)`` to the rewards of truncated episodes, one value call in all."""
        buffer, discount = self.buffer, self.config.discount
        with_states = []
        for row, mask, states in buffer.truncations():
            if states is None:  # no final states given: the states acted on stand in for them
                buffer.reward[row, mask] += discount * buffer.value[row, mask]
            else:
                with_states.append((row, mask, states))
        if with_states:
            names, core = self.policy.network_states, self.policy.core_initial
            join = lambda keys: {name: np.concatenate([s[name] for _, _, s in with_states]) for name in keys}  # noqa: E731
            values = self.policy.value(join(names), join(core) if core else None)
            start = 0
            for row, mask, _ in with_states:
                count = int(mask.sum())
                buffer.reward[row, mask] += discount * values[start:start + count]
                start += count

    def _rollout(self) -> Rollout:
        buffer, steps, config = self.buffer, self.config.n_steps, self.config
        returns, advantages = returns_lib.gae(buffer.reward[:steps], buffer.value[:steps], buffer.ended[:steps],
                                              buffer.value[steps], config.discount, config.gae_lambda)
        return Rollout({k: v[:steps] for k, v in buffer.states.items()},
                       {k: v[:steps] for k, v in buffer.samples.items()},
                       buffer.log_prob[:steps], buffer.value[:steps], buffer.reward[:steps].copy(), returns, advantages,
                       {k: v[0].copy() for k, v in buffer.core.items()}, buffer.first[:steps].copy())

    def _learn(self, rollout: Rollout) -> dict[str, float]:
        raise NotImplementedError

    def _check_finite(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """Scalar metrics as floats; raises when the update was skipped for a non-finite loss."""
        result = {key: float(value) for key, value in metrics.items() if key != 'finite'}
        if not bool(metrics['finite']):
            raise ModalbridgeError(f'update {self.updates + 1} ({type(self).__name__}): the loss or its gradients '
                                   f'are not finite ({result}); the weights were left unchanged')
        return result

    def reset(self) -> None:
        self.buffer.reset()
        self._first = np.ones(self.num_envs, bool)
        self._core = self.policy.initial_state(self.num_envs)

    # -- checkpoints and export ------------------------------------------------

    def export(self, path: str | os.PathLike, batch_size: int | None = None) -> str:
        """A TensorFlow SavedModel of the deterministic policy on raw states (see `Policy.export`)."""
        return self.policy.export(os.fspath(path), batch_size)

    def _checkpoint_config(self) -> dict[str, Any]:
        config = super()._checkpoint_config()
        if self.policy.stack is not None:  # by value: a corpus is stored as its vocabulary
            config['preprocessing'] = self.policy.stack.config()
        return config

    def _save_weights(self, directory: str) -> None:
        self.policy.model.save_weights(os.path.join(directory, WEIGHTS_FILE))
        if self.policy.stack is not None:  # running statistics, frame memory, the frozen flag
            arrays: dict[str, Any] = self.policy.stack.state()
            np.savez(os.path.join(directory, PREPROCESSING_FILE), **arrays)

    def _load_weights(self, directory: str) -> None:
        self.policy.model.load_weights(os.path.join(directory, WEIGHTS_FILE))
        if self.policy.stack is not None:
            with np.load(os.path.join(directory, PREPROCESSING_FILE), allow_pickle=False) as state:
                self.policy.stack.load_state(dict(state))


def flat(array: np.ndarray) -> np.ndarray:
    """``(steps, envs, ...)`` -> ``(steps * envs, ...)``."""
    return array.reshape((-1,) + array.shape[2:])


def sequences(specs, steps: int) -> dict[str, tf.TensorSpec]:
    """``(steps, envs, ...)`` TensorSpecs of network states (a recurrent learner's input)."""
    return {name: tf.TensorSpec((steps, None) + tuple(spec.shape), spec.dtype) for name, spec in specs.items()}


def tensors(arrays: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
    return {name: tf.constant(flat(value)) for name, value in arrays.items()}

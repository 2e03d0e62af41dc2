"""A2C, the synchronous advantage actor-critic, on the shared parts.

The algorithm, top to bottom (acting and the rollout are `OnPolicyAgent`'s):

1. `act(states)` runs the policy's one compiled step on the batch of
   `num_envs` environments and records the row in the rollout buffer.
2. `observe(reward, terminal)` records the outcome. A TRUNCATED episode is
   bootstrapped: its reward gets ``discount * V(final states)`` added (from
   `final_states`, or from the states it acted on when none are given); a
   TERMINATED one is not.
3. Every `n_steps` steps (once the value of the state after them is known,
   that is at the next observe), GAE(lambda) returns (``gae_lambda=1``: plain
   n-step returns) and one gradient step on::

       loss = -mean(log pi(a|s) * advantage)            policy
              + value_coef * mean((return - V(s))**2)     value
              - entropy_coef * mean(entropy)              exploration

   with the gradient's global norm clipped to `max_grad_norm`. A recurrent
   policy unrolls over the rollout from its initial core state, resetting
   it where episodes start (truncated backpropagation through time).

Defaults are Stable-Baselines3's A2C (RMSprop, lr 7e-4, n_steps 5,
discount 0.99, gae_lambda 1, value_coef 0.5, entropy_coef 0, max_grad_norm
0.5, no advantage normalization).

>>> agent = A2C(states=dict(state=dict(type='float', shape=(4,))), actions=dict(action=dict(type='int', num_values=2)),
...             num_envs=8, seed=0)
>>> agent.config.n_steps, agent.config.optimizer
(5, 'rmsprop')
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from modalbridge.agents import losses
from modalbridge.agents.config import OnPolicyConfig
from modalbridge.agents.on_policy import OnPolicyAgent, Rollout, flat, sequences
from modalbridge.agents.policy import FlatCall, signature


@dataclasses.dataclass(frozen=True)
class A2CConfig(OnPolicyConfig):
    """A2C's fields: `OnPolicyConfig`'s, with Stable-Baselines3's A2C defaults.

    >>> A2CConfig(num_envs=8).to_dict()['learning_rate']
    0.0007
    """

    n_steps: int = 5
    """Steps per environment between updates."""
    gae_lambda: float = 1.0
    """GAE's lambda (1: plain n-step returns)."""
    learning_rate: Any = 7e-4
    """The learning rate: a number or a schedule declaration over timesteps."""
    optimizer: str = 'rmsprop'
    """One of 'adam', 'rmsprop', 'sgd'."""
    normalize_advantage: bool = False
    """Standardizes the advantages of each update."""


class A2C(OnPolicyAgent):
    """Synchronous advantage actor-critic over `num_envs` environments (see the module docstring)."""

    Config = A2CConfig
    config: A2CConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        policy = self.policy
        samples = {name: tf.TensorSpec((None,) + h.shape, h.sample_dtype) for name, h in policy.heads.items()}
        scalar, vector = tf.TensorSpec((), tf.float32), tf.TensorSpec((None,), tf.float32)
        # A recurrent policy takes the rollout's states as (steps, envs, ...) and unrolls (truncated BPTT).
        states = sequences(policy.network_states, self.config.n_steps) if policy.recurrent else signature(
            policy.network_states)
        self._signature = [states, samples, scalar, scalar, policy.core_signature(),
                           tf.TensorSpec((self.config.n_steps if policy.recurrent else None, None), tf.bool)]
        self._train = tf.function(self._gradient_step, input_signature=[
            states, samples, vector, vector, *self._signature[2:]])
        self._train_call = FlatCall(self._train.get_concrete_function())
        self._vtrace_call: FlatCall | None = None  # traced on first use, by Overlapped

    def _learn(self, rollout: Rollout) -> dict[str, float]:
        config = self.config
        states = dict(rollout.states) if self.policy.recurrent else {k: flat(v) for k, v in rollout.states.items()}
        number = lambda value: np.asarray(value, np.float32)  # noqa: E731
        metrics = self._train_call(states, {k: flat(v) for k, v in rollout.samples.items()},
                                   number(flat(rollout.advantages)), number(flat(rollout.returns)),
                                   number(config.learning_rate.value(self.timesteps)),
                                   number(config.entropy_coef.value(self.timesteps)), dict(rollout.core), rollout.first)
        return self._check_finite(metrics)

    def _gradient_step(self, states, samples, advantages, returns, learning_rate, entropy_coef, core, first):
        with tf.GradientTape() as tape:
            log_prob, entropy, values = self.policy.evaluate(states, samples, True, core, first)
            loss, metrics = self._loss(log_prob, entropy, values, advantages, returns, entropy_coef)
        return self._apply_loss(tape, loss, metrics, learning_rate)

    def _loss(self, log_prob, entropy, values, advantages, returns, entropy_coef):
        config = self.config
        if config.normalize_advantage:
            advantages = losses.normalize(advantages)
        policy_loss = losses.policy_gradient(log_prob, advantages)
        value_loss = losses.value_error(values, returns)
        entropy = tf.reduce_mean(entropy)
        loss = (policy_loss + config.value_coef * value_loss - entropy_coef * entropy
                + tf.add_n([0.0] + self.policy.model.losses))
        return loss, dict(loss=loss, policy_loss=policy_loss, value_loss=value_loss, entropy=entropy)

    def _apply_loss(self, tape, loss, metrics, learning_rate):
        self.optimizer.learning_rate = learning_rate
        norm, finite = losses.apply_if_finite(self._apply, tape, loss, self.policy.model.trainable_variables,
                                              self.config.max_grad_norm)
        return dict(metrics, grad_norm=norm, learning_rate=learning_rate, finite=finite)

    # -- learning from an older policy's rollout (`Overlapped`) -------------------

    def _learn_vtrace(self, states: dict[str, np.ndarray], samples: dict[str, np.ndarray], log_prob: np.ndarray,
                      rewards: np.ndarray, ended: np.ndarray, last: dict[str, np.ndarray], core: dict[str, np.ndarray],
                      first: np.ndarray) -> tuple[dict[str, float], np.ndarray, np.ndarray, np.ndarray]:
        """One update on ``(steps, envs)`` columns an older policy collected (`Overlapped`): its behaviour
        `log_prob`, `rewards` and `ended`, the `last` network states and core state reached (keys of
        both), the core state it started from. The V-trace targets come from this update's own forward
        pass, as IMPALA's: one compiled call in all. Returns the metrics and this policy's values, the
        V-trace returns and advantages."""
        policy = self.policy
        if self._vtrace_call is None:
            self._vtrace_call = FlatCall(tf.function(self._vtrace_step, input_signature=[
                *self._signature[:2], *(tf.TensorSpec((self.config.n_steps, None), dtype)
                                        for dtype in (tf.float32, tf.float64, tf.bool)),
                signature(policy.network_states), policy.core_signature(), *self._signature[2:]]
            ).get_concrete_function())
        config = self.config
        number = lambda value: np.asarray(value, np.float32)  # noqa: E731
        metrics, values, vs, advantages = self._vtrace_call(
            dict(states) if policy.recurrent else {k: flat(v) for k, v in states.items()},
            {k: flat(v) for k, v in samples.items()}, log_prob, rewards, ended,
            {name: last[name] for name in policy.network_states}, {key: last[key] for key in policy.core_initial},
            number(config.learning_rate.value(self.timesteps)), number(config.entropy_coef.value(self.timesteps)),
            dict(core), first)
        return self._check_finite(metrics), values.numpy().reshape(log_prob.shape), vs.numpy(), advantages.numpy()

    def _vtrace_step(self, states, samples, behaviour_log_prob, rewards, ended, last_states, last_core,
                     learning_rate, entropy_coef, core, first):
        policy, rows = self.policy, tf.shape(behaviour_log_prob)
        with tf.GradientTape() as tape:
            log_prob, entropy, values = policy.evaluate(states, samples, True, core, first)
            bootstrap = policy.model({**last_states, **last_core})['value']
            vs, advantages = losses.vtrace(behaviour_log_prob, tf.reshape(log_prob, rows), rewards,
                                           tf.reshape(values, rows), ended, bootstrap, self.config.discount)
            loss, metrics = self._loss(log_prob, entropy, values, tf.reshape(advantages, [-1]), tf.reshape(vs, [-1]),
                                       entropy_coef)
        return self._apply_loss(tape, loss, metrics, learning_rate), values, vs, advantages

    @property
    def tracing_counts(self) -> dict[str, int]:
        """Traces of the compiled functions (each 1 after any number of calls)."""
        return dict(self.policy.tracing_counts, update=self._train.experimental_get_tracing_count())

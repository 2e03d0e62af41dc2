"""PPO, proximal policy optimization with a clipped surrogate, on the shared parts.

The algorithm, top to bottom (acting and the rollout are `OnPolicyAgent`'s):

1. `act(states)` runs the policy's one compiled step on the batch of
   `num_envs` environments and records states, samples, log-probabilities
   and values in the rollout buffer; `observe` records rewards and
   terminals (TRUNCATED episodes bootstrap from their final states).
2. Every `n_steps` steps, GAE(lambda) advantages and returns.
3. `epochs` passes over the rollout in shuffled minibatches of
   `batch_size`, all in one compiled call (a `tf.while_loop` over the
   minibatches; the shuffled orders are drawn from the seeded NumPy
   generator), each minibatch one gradient step on::

       ratio = pi(a|s) / pi_old(a|s)
       loss  = -mean(min(ratio * A, clip(ratio, 1 - clip_range, 1 + clip_range) * A))
               + value_coef * mean(max((R - V)^2, (R - V_clipped)^2))   (V unclipped without clip_range_vf)
               - entropy_coef * mean(entropy)

   advantages standardized per minibatch (`normalize_advantage`), the
   gradient's global norm clipped to `max_grad_norm`; with `target_kl` the
   update stops early once a minibatch's approximate KL exceeds
   ``1.5 * target_kl`` (as Stable-Baselines3 does). A recurrent policy's
   minibatches are whole environments (``batch_size // n_steps`` of them),
   each unrolled over the rollout from its initial core state with resets
   where episodes start (truncated backpropagation through time).

Learning rate, clip range and entropy coefficient may be schedules over
timesteps (fed to the compiled step as tensors: no retracing). Defaults are
Stable-Baselines3's PPO (Adam with epsilon 1e-5, lr 3e-4, n_steps 2048,
batch_size 64, epochs 10, gae_lambda 0.95, clip_range 0.2, value_coef 0.5,
entropy_coef 0, max_grad_norm 0.5). `last_update` holds the update's mean
losses, entropy, approx_kl, clip_fraction, grad_norm and explained variance.

>>> agent = PPO(states=dict(state=dict(type='float', shape=(4,))), actions=dict(action=dict(type='int', num_values=2)),
...             num_envs=8, n_steps=32, batch_size=256, epochs=20, seed=0)
>>> agent.config.clip_range.value(0)
0.2
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from modalbridge.agents import losses
from modalbridge.agents.config import OnPolicyConfig, _schedule
from modalbridge.agents.on_policy import OnPolicyAgent, Rollout, flat, sequences
from modalbridge.agents.policy import FlatCall, signature
from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    """PPO's fields: `OnPolicyConfig`'s (SB3 PPO defaults) and these.

    >>> PPOConfig(num_envs=8, n_steps=32, batch_size=512)
    Traceback (most recent call last):
    ...
    modalbridge.bridges.errors.ConfigError: batch_size: expected at most n_steps * num_envs = 256 (one rollout); received 512
    """

    batch_size: int = 64
    """Minibatch size (at most n_steps * num_envs)."""
    epochs: int = 10
    """Passes over each rollout."""
    clip_range: Any = 0.2
    """The surrogate's clip range: a number or a schedule declaration."""
    clip_range_vf: float | None = None
    """Clips the value change per update to this (None: no value clipping)."""
    target_kl: float | None = None
    """Stops an update early when the approximate KL exceeds 1.5 x this (None: never)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set('batch_size', arguments.integer('batch_size', self.batch_size, minimum=1))
        self._set('epochs', arguments.integer('epochs', self.epochs, minimum=1))
        self._set('clip_range', _schedule('clip_range', self.clip_range, positive=True))
        for field in ('clip_range_vf', 'target_kl'):
            if getattr(self, field) is not None:
                self._set(field, arguments.number(field, getattr(self, field), minimum=0, inclusive=False))
        if self.batch_size > self.n_steps * self.num_envs:
            raise ConfigError(f'batch_size: expected at most n_steps * num_envs = {self.n_steps * self.num_envs} '
                              f'(one rollout); received {self.batch_size}')


class PPO(OnPolicyAgent):
    """Proximal policy optimization over `num_envs` environments (see the module docstring)."""

    Config = PPOConfig
    config: PPOConfig

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        policy = self.policy
        scalar = tf.TensorSpec((), tf.float32)
        if policy.recurrent:  # (steps, envs, ...) arrays, minibatches of whole environments (truncated BPTT)
            steps = self.config.n_steps
            states = sequences(policy.network_states, steps)
            samples = {name: tf.TensorSpec((steps, None) + h.shape, h.sample_dtype)
                       for name, h in policy.heads.items()}
            vector = tf.TensorSpec((steps, None), tf.float32)
        else:
            states = signature(policy.network_states)
            samples = {name: tf.TensorSpec((None,) + h.shape, h.sample_dtype) for name, h in policy.heads.items()}
            vector = tf.TensorSpec((None,), tf.float32)
        # One compiled call per update runs every epoch's minibatches (a call costs ~300 us here, about
        # as much as a minibatch's gradient step); the per-minibatch step is its loop body.
        self._train = tf.function(self._update, input_signature=[
            states, samples, vector, vector, vector, vector,
            tf.TensorSpec((None, None), tf.int32), scalar, scalar, scalar, policy.core_signature(),
            tf.TensorSpec((steps if policy.recurrent else None, None), tf.bool)])
        self._train_call = FlatCall(self._train.get_concrete_function())

    # -- 3. epochs x minibatches -------------------------------------------------

    def _learn(self, rollout: Rollout) -> dict[str, float]:
        config, timestep = self.config, self.timesteps
        recurrent = self.policy.recurrent
        shape = (lambda a: a) if recurrent else flat
        number = lambda value: np.asarray(value, np.float32)  # noqa: E731
        data = ({k: shape(v) for k, v in rollout.states.items()}, {k: shape(v) for k, v in rollout.samples.items()},
                *(number(shape(a)) for a in (rollout.log_prob, rollout.value, rollout.advantages, rollout.returns)))
        sequence = (dict(rollout.core), rollout.first if recurrent else np.zeros((0, 0), bool))
        hyper = (number(config.learning_rate.value(timestep)), number(config.clip_range.value(timestep)),
                 number(config.entropy_coef.value(timestep)))
        # A recurrent policy's minibatches are whole environments: batch_size // n_steps of them (at least 1).
        total = self.num_envs if recurrent else rollout.returns.size
        # each epoch's shuffled order, drawn here (the seeded NumPy generator), all run in one compiled call
        orders = np.stack([self._rng.permutation(total) for _ in range(config.epochs)]).astype(np.int32)
        metrics = self._train_call(*data, orders, *hyper, *sequence)
        summary = self._check_finite(metrics)
        summary.update(explained_variance=_explained_variance(rollout))
        return summary

    def _update(self, states, samples, old_log_prob, old_values, advantages, returns, orders, learning_rate,
                clip_range, entropy_coef, core, first):
        """Every epoch's minibatches (rows of `orders` cut in `batch_size` pieces) in one `tf.while_loop`;
        the metrics' means over the minibatches run, the last approximate KL, how many ran and whether
        the target KL stopped them. A non-finite minibatch stops the loop (``finite`` false)."""
        config = self.config
        size = max(1, config.batch_size // config.n_steps) if self.policy.recurrent else config.batch_size
        per_epoch = (tf.shape(orders)[1] + size - 1) // size
        count = tf.shape(orders)[0] * per_epoch
        keys = ('loss', 'policy_loss', 'value_loss', 'entropy', 'clip_fraction', 'grad_norm')

        def body(k, sums, approx_kl, finite, stopped):
            start = (k % per_epoch) * size
            metrics = self._minibatch_step(states, samples, old_log_prob, old_values, advantages, returns,
                                           orders[k // per_epoch, start:start + size], learning_rate, clip_range,
                                           entropy_coef, core, first)
            sums = tuple(total + metrics[key] for total, key in zip(sums, keys))
            stopped = (tf.constant(False) if config.target_kl is None
                       else metrics['approx_kl'] > 1.5 * config.target_kl)
            return k + 1, sums, metrics['approx_kl'], metrics['finite'], stopped

        ran, sums, approx_kl, finite, stopped = tf.while_loop(
            lambda k, sums, approx_kl, finite, stopped: (k < count) & finite & tf.logical_not(stopped), body,
            (tf.constant(0), tuple(tf.constant(0.0) for _ in keys), tf.constant(0.0), tf.constant(True),
             tf.constant(False)))
        minibatches = tf.cast(ran, tf.float32)
        return dict({key: total / minibatches for key, total in zip(keys, sums)}, approx_kl=approx_kl,
                    learning_rate=learning_rate, clip_range=clip_range, minibatches=minibatches,
                    stopped_early=tf.cast(stopped, tf.float32), finite=finite)

    def _minibatch_step(self, states, samples, old_log_prob, old_values, advantages, returns, indices,
                        learning_rate, clip_range, entropy_coef, core, first):
        config = self.config
        if self.policy.recurrent:  # indices are environments: gather their columns, flatten all but the states
            states = {name: tf.gather(value, indices, axis=1) for name, value in states.items()}
            core = {name: tf.gather(value, indices) for name, value in core.items()}
            first = tf.gather(first, indices, axis=1)
            gather = lambda value: _flat(tf.gather(value, indices, axis=1))  # noqa: E731
        else:
            states = {name: tf.gather(value, indices) for name, value in states.items()}
            gather = lambda value: tf.gather(value, indices)  # noqa: E731
        samples = {name: gather(value) for name, value in samples.items()}
        old_log_prob, old_values, advantages, returns = (
            gather(value) for value in (old_log_prob, old_values, advantages, returns))
        if config.normalize_advantage:
            advantages = losses.normalize(advantages)
        with tf.GradientTape() as tape:
            log_prob, entropy, values = self.policy.evaluate(states, samples, True, core, first)
            policy_loss, clip_fraction, approx_kl = losses.clipped_surrogate(log_prob, old_log_prob, advantages,
                                                                             clip_range)
            value_loss = losses.value_error(values, returns, old_values, config.clip_range_vf)
            entropy = tf.reduce_mean(entropy)
            loss = (policy_loss + config.value_coef * value_loss - entropy_coef * entropy
                    + tf.add_n([0.0] + self.policy.model.losses))
        self.optimizer.learning_rate = learning_rate
        norm, finite = losses.apply_if_finite(self._apply, tape, loss, self.policy.model.trainable_variables,
                                              config.max_grad_norm)
        return dict(loss=loss, policy_loss=policy_loss, value_loss=value_loss, entropy=entropy,
                    approx_kl=approx_kl, clip_fraction=clip_fraction, grad_norm=norm, learning_rate=learning_rate,
                    clip_range=clip_range, finite=finite)

    @property
    def tracing_counts(self) -> dict[str, int]:
        """Traces of the compiled functions (each 1 after any number of calls)."""
        return dict(self.policy.tracing_counts, update=self._train.experimental_get_tracing_count())


def _flat(value: tf.Tensor) -> tf.Tensor:
    return tf.reshape(value, tf.concat([[-1], tf.shape(value)[2:]], 0))


def _explained_variance(rollout: Rollout) -> float:
    """``1 - Var(R - V) / Var(R)`` of the rollout (NaN when the returns do not vary)."""
    variance = np.var(rollout.returns)
    return float('nan') if variance == 0 else float(1 - np.var(rollout.returns - rollout.value) / variance)

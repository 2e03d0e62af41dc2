"""Loss pieces shared by the learners, in TF (one number per batch).

>>> import tensorflow as tf
>>> loss, clip_fraction, approx_kl = clipped_surrogate(tf.constant([0.0]), tf.constant([0.0]),
...                                                    tf.constant([1.0]), 0.2)
>>> float(loss), float(clip_fraction)
(-1.0, 0.0)
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from modalbridge.agents.optimizers import FusedApply


def policy_gradient(log_prob: tf.Tensor, advantages: tf.Tensor) -> tf.Tensor:
    """``-mean(log pi(a|s) * A)`` (A2C)."""
    return -tf.reduce_mean(log_prob * advantages)


def clipped_surrogate(log_prob: tf.Tensor, old_log_prob: tf.Tensor, advantages: tf.Tensor,
                      clip: tf.Tensor | float) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """PPO's ``-mean(min(r A, clip(r, 1 - c, 1 + c) A))`` with ``r = pi / pi_old``;
    also the fraction of clipped ratios and the approximate KL ``mean((r - 1) - log r)``."""
    log_ratio = log_prob - old_log_prob
    ratio = tf.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = tf.clip_by_value(ratio, 1.0 - clip, 1.0 + clip) * advantages
    loss = -tf.reduce_mean(tf.minimum(unclipped, clipped))
    clip_fraction = tf.reduce_mean(tf.cast(tf.abs(ratio - 1.0) > clip, tf.float32))
    approx_kl = tf.reduce_mean((ratio - 1.0) - log_ratio)
    return loss, clip_fraction, approx_kl


def value_error(values: tf.Tensor, returns: tf.Tensor, old_values: tf.Tensor | None = None,
                clip: tf.Tensor | float | None = None) -> tf.Tensor:
    """``mean((R - V)^2)``; with `clip`, PPO's ``mean(max((R - V)^2, (R - V_clipped)^2))`` where
    ``V_clipped = V_old + clip(V - V_old, -c, c)``."""
    error = tf.square(returns - values)
    if clip is not None:
        clipped = old_values + tf.clip_by_value(values - old_values, -clip, clip)
        error = tf.maximum(error, tf.square(returns - clipped))
    return tf.reduce_mean(error)


def vtrace(behaviour_log_prob: tf.Tensor, target_log_prob: tf.Tensor, rewards: tf.Tensor, values: tf.Tensor,
           ended: tf.Tensor, bootstrap: tf.Tensor, discount: float) -> tuple[tf.Tensor, tf.Tensor]:
    """`returns.vtrace` (rho_bar = c_bar = 1) in TF, float32: ``(vs, advantages)`` of ``(steps, envs)``
    inputs with a static number of steps, no gradient through them (IMPALA's targets, computed from
    the update's own forward pass).

    >>> same = tf.zeros((2, 1))
    >>> vs, _ = vtrace(same, same, tf.constant([[1.0], [1.0]]), tf.zeros((2, 1)), tf.constant([[False], [True]]),
    ...                tf.constant([5.0]), discount=0.5)
    >>> vs[:, 0].numpy().tolist()
    [1.5, 1.0]
    """
    target_log_prob, values, bootstrap = (tf.stop_gradient(x) for x in (target_log_prob, values, bootstrap))
    ratio = tf.minimum(1.0, tf.exp(target_log_prob - behaviour_log_prob))  # rho = c: both bars are 1
    going_on = discount * (1.0 - tf.cast(ended, tf.float32))
    rewards = tf.cast(rewards, tf.float32)
    next_values = tf.concat([values[1:], bootstrap[None]], 0)
    deltas = ratio * (rewards + going_on * next_values - values)
    carry, corrections = tf.zeros_like(bootstrap), []
    for t in reversed(range(values.shape[0])):
        carry = deltas[t] + going_on[t] * ratio[t] * carry
        corrections.append(carry)
    vs = values + tf.stack(corrections[::-1])
    next_vs = tf.concat([vs[1:], bootstrap[None]], 0)
    return vs, ratio * (rewards + going_on * next_vs - values)


def normalize(advantages: tf.Tensor) -> tf.Tensor:
    """Standardized advantages (unchanged for a single one)."""
    mean, variance = tf.nn.moments(advantages, axes=[0])
    standardized = (advantages - mean) / (tf.sqrt(variance) + 1e-8)
    return tf.cond(tf.size(advantages) > 1, lambda: standardized, lambda: advantages)


def apply_if_finite(optimizer: Any, tape: tf.GradientTape, loss: tf.Tensor, variables: Sequence[tf.Variable],
                    max_grad_norm: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Clips the gradients' global norm and applies them (`optimizer`: a Keras optimizer or a
    `FusedApply` on `variables`), unless the loss or the gradients
    are not finite: then nothing changes (weights nor optimizer state). Returns
    ``(gradient norm, finite)``; the caller raises when not finite."""
    gradients = tape.gradient(loss, variables)
    gradients = [tf.zeros_like(v) if g is None else g for g, v in zip(gradients, variables)]
    clipped, norm = tf.clip_by_global_norm(gradients, max_grad_norm)
    finite = tf.logical_and(tf.math.is_finite(loss), tf.math.is_finite(norm))

    def apply():
        if isinstance(optimizer, FusedApply):
            optimizer(clipped)
        else:
            optimizer.apply_gradients(zip(clipped, variables))
        return tf.constant(True)

    return norm, tf.cond(finite, apply, lambda: tf.constant(False))

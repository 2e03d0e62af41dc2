"""Returns and advantages of a rollout: GAE(lambda) and n-step returns.

Arrays are ``(steps, envs)``; `ended[t]` is 1 where the episode ended after
step t (its reward already carries any truncation bootstrap), `bootstrap`
is V of the states after the last step.

>>> returns, advantages = gae(np.array([[1.0], [1.0]]), np.array([[0.0], [0.0]]), np.array([[0.0], [1.0]]),
...                           bootstrap=np.array([5.0]), discount=0.5, gae_lambda=1.0)
>>> returns[:, 0].tolist()
[1.5, 1.0]

`vtrace` is IMPALA's off-policy correction for rollouts collected by an
older (behaviour) policy: it also takes both policies' log-probabilities.
"""

from __future__ import annotations

import numpy as np


def gae(rewards: np.ndarray, values: np.ndarray, ended: np.ndarray, bootstrap: np.ndarray,
        discount: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """GAE(lambda): ``(returns, advantages)``, float64.

    ``delta_t = r_t + discount * V_{t+1} * (1 - ended_t) - V_t``;
    ``A_t = delta_t + discount * lambda * (1 - ended_t) * A_{t+1}``;
    ``return_t = A_t + V_t``; ``V_T`` is `bootstrap`.
    """
    values = values.astype(np.float64)
    advantages = np.zeros(rewards.shape, np.float64)
    next_value = bootstrap.astype(np.float64)
    next_advantage = np.zeros(bootstrap.shape, np.float64)
    for t in reversed(range(rewards.shape[0])):
        alive = 1.0 - ended[t]
        delta = rewards[t] + discount * next_value * alive - values[t]
        next_advantage = delta + discount * gae_lambda * alive * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages + values, advantages


def n_step(rewards: np.ndarray, values: np.ndarray, ended: np.ndarray, bootstrap: np.ndarray,
           discount: float) -> tuple[np.ndarray, np.ndarray]:
    """n-step returns (to the rollout's end) and their advantages: GAE with lambda 1."""
    return gae(rewards, values, ended, bootstrap, discount, 1.0)


def vtrace(behaviour_log_prob: np.ndarray, target_log_prob: np.ndarray, rewards: np.ndarray, values: np.ndarray,
           ended: np.ndarray, bootstrap: np.ndarray, discount: float, rho_bar: float = 1.0,
           c_bar: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """V-trace targets and policy-gradient advantages (Espeholt et al. 2018): ``(vs, advantages)``, float64.

    With ``ratio = pi/mu``, ``rho = min(rho_bar, ratio)``, ``c = min(c_bar, ratio)``::

        delta_t = rho_t * (r_t + discount * V_{t+1} * (1 - ended_t) - V_t)
        vs_t - V_t = delta_t + discount * (1 - ended_t) * c_t * (vs_{t+1} - V_{t+1})
        advantage_t = rho_t * (r_t + discount * vs_{t+1} * (1 - ended_t) - V_t)

    `values` and `bootstrap` are the target policy's. On-policy (equal
    log-probabilities) ``vs`` are the n-step returns, as `gae` with lambda 1:

    >>> same = np.zeros((2, 1))
    >>> vs, _ = vtrace(same, same, np.array([[1.0], [1.0]]), np.zeros((2, 1)), np.array([[0.0], [1.0]]),
    ...                np.array([5.0]), discount=0.5)
    >>> vs[:, 0].tolist()
    [1.5, 1.0]
    """
    ratio = np.exp(np.asarray(target_log_prob, np.float64) - np.asarray(behaviour_log_prob, np.float64))
    rho, c = np.minimum(rho_bar, ratio), np.minimum(c_bar, ratio)
    rewards, values = np.asarray(rewards, np.float64), np.asarray(values, np.float64)
    going_on = 1.0 - np.asarray(ended, np.float64)
    bootstrap = np.asarray(bootstrap, np.float64)
    next_values = np.concatenate([values[1:], bootstrap[None]])
    deltas = rho * (rewards + discount * going_on * next_values - values)
    corrections = np.zeros_like(values)
    carry = np.zeros_like(bootstrap)
    for t in range(len(rewards) - 1, -1, -1):
        carry = deltas[t] + discount * going_on[t] * c[t] * carry
        corrections[t] = carry
    vs = values + corrections
    next_vs = np.concatenate([vs[1:], bootstrap[None]])
    return vs, rho * (rewards + discount * going_on * next_vs - values)

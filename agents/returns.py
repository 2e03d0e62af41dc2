"""Returns and advantages of a rollout: GAE(lambda) and n-step returns.

Arrays are ``(steps, envs)``; `ended[t]` is 1 where the episode ended after
step t (its reward already carries any truncation bootstrap), `bootstrap`
is V of the states after the last step.

>>> returns, advantages = gae(np.array([[1.0], [1.0]]), np.array([[0.0], [0.0]]), np.array([[0.0], [1.0]]),
...                           bootstrap=np.array([5.0]), discount=0.5, gae_lambda=1.0)
>>> returns[:, 0].tolist()
[1.5, 1.0]

A V-trace correction (IMPALA) would take the behaviour and target
log-probabilities beside these arguments; it is not written yet.
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

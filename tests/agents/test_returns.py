import numpy as np
import pytest

from modalbridge.agents.returns import gae, n_step


def test_gae_and_n_step_returns_by_hand():
    rewards = np.array([[1.0], [2.0], [3.0]])
    values = np.array([[0.5], [0.5], [0.5]])
    ended = np.array([[0.0], [1.0], [0.0]])  # the episode ends after the second step
    returns, advantages = n_step(rewards, values, ended, bootstrap=np.array([10.0]), discount=0.9)
    # n-step: R2 = 3 + .9 * 10; R1 = 2 (ended: no bootstrap); R0 = 1 + .9 * R1
    assert returns[:, 0].tolist() == pytest.approx([1 + 0.9 * 2, 2.0, 3 + 9.0])
    assert advantages[:, 0].tolist() == pytest.approx([2.8 - 0.5, 1.5, 11.5])
    td, _ = gae(rewards, values, ended, np.array([10.0]), discount=0.9, gae_lambda=0.0)
    assert td[:, 0].tolist() == pytest.approx([1 + 0.9 * 0.5, 2.0, 3 + 9.0])  # one-step TD targets
    half, _ = gae(rewards, values, ended, np.array([10.0]), discount=0.9, gae_lambda=0.5)
    # A1 = 1.5 (ended); A0 = delta0 + .9 * .5 * A1 with delta0 = 1 + .9 * .5 - .5
    assert half[0, 0] == pytest.approx(0.95 + 0.45 * 1.5 + 0.5)

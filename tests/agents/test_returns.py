import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modalbridge.agents.returns import gae, n_step, vtrace


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


# -- V-trace ------------------------------------------------------------------------------------------------------

FLOATS = st.floats(-3, 3, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.data())
def test_vtrace_on_policy_is_gae_with_lambda_one(steps, envs, data):
    rewards = data.draw(hnp.arrays(np.float64, (steps, envs), elements=FLOATS))
    values = data.draw(hnp.arrays(np.float64, (steps, envs), elements=FLOATS))
    ended = data.draw(hnp.arrays(np.float64, (steps, envs), elements=st.sampled_from([0.0, 1.0])))
    bootstrap = data.draw(hnp.arrays(np.float64, (envs,), elements=FLOATS))
    log_prob = data.draw(hnp.arrays(np.float64, (steps, envs), elements=st.floats(-5, 0)))
    vs, advantages = vtrace(log_prob, log_prob, rewards, values, ended, bootstrap, discount=0.9)
    returns, gae_advantages = gae(rewards, values, ended, bootstrap, 0.9, 1.0)
    np.testing.assert_allclose(vs, returns, atol=1e-9)
    np.testing.assert_allclose(advantages, gae_advantages, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.data())
def test_vtrace_off_policy_matches_the_paper_s_sum(steps, data):
    """vs_s = V_s + sum_t discount^(t-s) (prod_{s<=i<t} c_i) delta_t, episodes not ending (IMPALA, eq. 1)."""
    rewards = data.draw(hnp.arrays(np.float64, (steps, 1), elements=FLOATS))
    values = data.draw(hnp.arrays(np.float64, (steps, 1), elements=FLOATS))
    behaviour = data.draw(hnp.arrays(np.float64, (steps, 1), elements=st.floats(-4, 0)))
    target = data.draw(hnp.arrays(np.float64, (steps, 1), elements=st.floats(-4, 0)))
    bootstrap = np.array([data.draw(FLOATS)])
    discount, rho_bar, c_bar = 0.9, 1.0, 0.8
    vs, advantages = vtrace(behaviour, target, rewards, values, np.zeros((steps, 1)), bootstrap, discount,
                            rho_bar, c_bar)
    ratio = np.exp(target - behaviour)[:, 0]
    rho, c = np.minimum(rho_bar, ratio), np.minimum(c_bar, ratio)
    v = np.append(values[:, 0], bootstrap)
    delta = rho * (rewards[:, 0] + discount * v[1:] - v[:-1])
    expected = [v[s] + sum(discount ** (t - s) * np.prod(c[s:t]) * delta[t] for t in range(s, steps))
                for s in range(steps)]
    np.testing.assert_allclose(vs[:, 0], expected, atol=1e-9)
    next_vs = np.append(vs[1:, 0], bootstrap)
    np.testing.assert_allclose(advantages[:, 0], rho * (rewards[:, 0] + discount * next_vs - v[:-1]), atol=1e-9)


def test_vtrace_ignores_what_a_target_policy_would_never_do():
    vs, advantages = vtrace(np.zeros((1, 1)), np.full((1, 1), -1e9), np.array([[10.0]]), np.array([[2.0]]),
                            np.zeros((1, 1)), np.array([4.0]), discount=0.5)
    assert vs[0, 0] == pytest.approx(2.0) and advantages[0, 0] == pytest.approx(0.0)

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from modalbridge.agents.exploration import Exploration
from modalbridge.bridges import ConfigError
from modalbridge.bridges.specs import as_specs

ACTIONS = as_specs(dict(move=dict(type='int', num_values=4), jump=dict(type='bool'),
                        force=dict(type='float', shape=(2,), min_value=-1.0, max_value=1.0)), 'actions')
DISCRETE = {name: ACTIONS[name] for name in ('move', 'jump')}
FLOAT = {'force': ACTIONS['force']}


def test_linear_epsilon_decay_at_start_half_and_end():
    explore = Exploration(dict(type='EpsilonDecay', kwargs=dict(epsilon=1, epsilon_final=0.01,
                                                                 epsilon_timesteps=1e6)), DISCRETE)
    assert [explore.epsilon('move', t) for t in (0, 500_000, 1_000_000, 5_000_000)] == pytest.approx(
        [1.0, 1 - 0.5 * 0.99, 0.01, 0.01])


def test_exponential_epsilon_decay_and_start_timestep():
    explore = Exploration(dict(type='epsilon_decay', epsilon=1.0, epsilon_final=0.1, epsilon_timesteps=100,
                               decay='exponential', decay_rate=0.25, start_timestep=10), DISCRETE)
    for t in (0, 10, 60, 110, 210):
        expected = 0.1 + 0.9 * 0.25 ** (max(t - 10, 0) / 100)
        assert explore.epsilon('move', t) == pytest.approx(expected)


def test_epsilon_from_a_schedule_and_a_constant():
    explore = Exploration(dict(move=dict(type='epsilon', epsilon=dict(type='piecewise', boundaries=[10],
                                                                      values=[0.5, 0.1])),
                               jump=dict(type='Constant', kwargs=dict(constant=0.2))), DISCRETE)
    assert (explore.epsilon('move', 9), explore.epsilon('move', 10), explore.epsilon('jump', 10**6)) == (
        0.5, 0.1, 0.2)
    assert Exploration(0.3, DISCRETE).epsilon('jump', 0) == 0.3


def test_epsilon_replaces_actions_at_its_rate_with_uniform_values():
    explore = Exploration(dict(type='constant', epsilon=0.4), DISCRETE, parallel=1, seed=0)
    draws = 20_000
    move = explore(dict(move=np.full(draws, 3), jump=np.zeros(draws, bool)), timestep=0)
    # kept with probability 0.6 + 0.4 / 4; the others uniform over 0..3
    assert np.mean(move['move'] == 3) == pytest.approx(0.7, abs=0.015)
    assert np.mean(move['move'] == 0) == pytest.approx(0.1, abs=0.01)
    assert np.mean(move['jump']) == pytest.approx(0.2, abs=0.015)
    assert move['move'].dtype == ACTIONS['move'].dtype and move['jump'].dtype == np.bool_
    zero = Exploration(dict(type='constant', epsilon=0.0), DISCRETE, seed=0)
    assert np.all(zero(dict(move=np.full(100, 3), jump=np.zeros(100, bool)), 0)['move'] == 3)


def test_gaussian_noise_is_clipped_to_the_bounds():
    explore = Exploration(dict(type='gaussian', sigma=0.5), FLOAT, seed=0)
    action = np.full((50_000, 2), 0.9, np.float32)
    noisy = explore(dict(force=action), timestep=0)['force']
    assert noisy.dtype == np.float32 and noisy.max() == 1.0 and noisy.min() >= -1.0
    inside = noisy[noisy < 1.0]
    assert np.mean(noisy == 1.0) == pytest.approx(1 - 0.5 * math.erfc(-0.1 / 0.5 / math.sqrt(2)), abs=0.01)
    assert inside.mean() < 0.9


def test_ornstein_uhlenbeck_stationary_statistics_match_the_closed_form():
    sigma, theta, mu = 0.1, 0.1, 0.3
    explore = Exploration(dict(type='OrnsteinUhlenbeckProcess', kwargs=dict(sigma=sigma, mu=mu, theta=theta)),
                          dict(force=as_specs(dict(force=dict(type='float', shape=())), 'a')['force']),
                          parallel=2000, seed=1)
    zeros = dict(force=np.zeros(2000, np.float32))
    for _ in range(200):  # (1 - theta)^200 ~ 7e-10: the initial state is forgotten
        explore(zeros, timestep=0)
    samples = np.stack([explore(zeros, timestep=0)['force'] for _ in range(40)])
    variance = sigma ** 2 / (theta * (2 - theta))  # Euler form, dt=1
    assert samples.mean() == pytest.approx(mu, abs=0.01)
    assert samples[0].var() == pytest.approx(variance, rel=0.1)
    lagged = np.mean((samples[10] - mu) * (samples[0] - mu)) / variance
    assert lagged == pytest.approx((1 - theta) ** 10, abs=0.08)   # autocorrelation (1 - theta)^k


def test_ornstein_uhlenbeck_state_is_per_environment_and_resets_at_episode_starts():
    spec = dict(force=as_specs(dict(force=dict(type='float', shape=())), 'a')['force'])
    explore = Exploration(dict(type='ornstein_uhlenbeck', sigma=0.0, mu=1.0, theta=0.5), spec, parallel=2)
    explore._states['force'][:] = [5.0, -3.0]
    step = explore(dict(force=np.zeros(2, np.float32)), timestep=0)['force']
    assert step.tolist() == [3.0, -1.0]                         # x + theta * (mu - x), each its own
    explore.episode_start(np.array([False, True]))
    assert explore(dict(force=np.zeros(2, np.float32)), timestep=0)['force'].tolist() == [2.0, 1.0]
    # independent acting leaves the states alone
    explore(dict(force=np.zeros(2, np.float32)), timestep=0, independent=True)
    assert explore._states['force'].tolist() == [2.0, 1.0]


def test_declarations_round_trip_through_json():
    declaration = dict(move=dict(type='EpsilonDecay', kwargs=dict(epsilon=1, epsilon_final=0.05,
                                                                   epsilon_timesteps=1e4)),
                       force=dict(type='gaussian', sigma=dict(type='linear', initial=0.3, final=0.1,
                                                              timesteps=100)))
    explore = Exploration(declaration, ACTIONS)
    text = json.dumps(explore.to_dict())
    again = Exploration(json.loads(text), ACTIONS)
    assert again.to_dict() == explore.to_dict()
    assert explore.to_dict()['move']['type'] == 'epsilon_decay' and 'jump' not in explore.to_dict()
    assert Exploration(None, ACTIONS).noises == {}


@pytest.mark.parametrize('declaration, message', [
    (dict(move=dict(type='epsilon_decay', epsilon_final=1.5)),
     "exploration['move'].epsilon_final: expected a finite number in [0, 1]; received 1.5"),
    (dict(move=dict(type='EpsilonDecay', kwargs=dict(epsilon_timesteps=0))),
     "exploration['move'].epsilon_timesteps: expected an int >= 1"),
    (dict(move=dict(type='epsilon_decay', epsilon=True)), "exploration['move'].epsilon: expected a finite number"),
    (dict(move=dict(type='epsilon_decay', decay='cosine')), "exploration['move'].decay: expected one of"),
    (dict(move=dict(type='epsilon_decay', epsilon_final=float('nan'))), "exploration['move'].epsilon_final"),
    (dict(move=dict(type='epsilon_decay', epsilon_fnal=0.1)), "exploration['move'] (epsilon_decay): unknown"),
    (dict(move=dict(type='boltzmann')), "exploration['move'].type: expected one of"),
    (dict(move=dict(type='gaussian', sigma=0.1)), "exploration['move'].type: 'gaussian' explores float actions"),
    (dict(force=dict(type='epsilon_decay')), "exploration['force'].type: 'epsilon_decay' explores discrete"),
    (dict(force=dict(type='ornstein_uhlenbeck', theta=-0.1)), "exploration['force'].theta: expected"),
    (dict(force=dict(type='ornstein_uhlenbeck', theta=1.5, dt=2.0)), "exploration['force'].theta: theta * dt"),
    (dict(force=dict(type='gaussian', sigma=-1)), "exploration['force'].sigma: expected a finite number >= 0"),
    (dict(force=dict(type='gaussian', kwargs=[1])), "exploration['force'].kwargs: expected a dict"),
    (dict(move=dict(type='epsilon', epsilon=dict(type='linear', initial=2, final=0, timesteps=5))),
     "exploration['move'].epsilon: expected probabilities in [0, 1]"),
    (dict(mvoe=0.1), "exploration['mvoe']: no such action"),
    (dict(type='gaussian', sigma=0.1), "exploration.type: 'gaussian' explores float actions"),
    (dict(move=dict(type='constant', constant=0.1, epsilon=0.2)), "exploration['move']: give epsilon or constant"),
    ('0.1', 'exploration: expected a finite number'),
    (dict(type=''), "exploration.type: expected one of"),  # found by hypothesis: the abstract base's empty type
])
def test_bad_declarations_name_the_place(declaration, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Exploration(declaration, ACTIONS)


@given(st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.text(max_size=5),
                 st.dictionaries(st.sampled_from(['type', 'kwargs', 'epsilon', 'sigma', 'move', 'force']),
                                 st.one_of(st.floats(), st.text(max_size=8), st.integers(-5, 5)), max_size=4)))
def test_any_declaration_is_accepted_or_refused_with_a_config_error(declaration):
    try:
        explore = Exploration(declaration, ACTIONS, seed=0)
    except ConfigError:
        return
    actions = dict(move=np.zeros(3, np.int64), jump=np.zeros(3, bool), force=np.zeros((3, 2), np.float32))
    out = explore(actions, timestep=5)
    assert np.all(np.abs(out['force']) <= 1.0) and np.all((out['move'] >= 0) & (out['move'] < 4))

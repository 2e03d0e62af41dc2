import re
import sys

import numpy as np
import pytest

from modalbridge.bridges import ConfigError


@pytest.mark.parametrize('flags, message', [
    (['--steps', '-5'], '--steps must be positive and --seed non-negative'),
    (['--seed', '-1'], '--steps must be positive and --seed non-negative'),
    (['--seed', '0.5'], "argument --seed: invalid int value: '0.5'"),
])
def test_bad_flags_are_refused(load_example, capsys, monkeypatch, flags, message):
    monkeypatch.setattr(sys, 'argv', ['pendulum_td3.py'])
    with pytest.raises(SystemExit) as caught:
        load_example('pendulum_td3').main(flags)
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_saving_over_a_file_is_refused_before_training(load_example, capsys, monkeypatch, tmp_path):
    (tmp_path / 'results.csv').write_text('keep me')
    monkeypatch.setattr(sys, 'argv', ['pendulum_td3.py'])
    with pytest.raises(SystemExit):
        load_example('pendulum_td3').main(['--save', str(tmp_path / 'results.csv')])
    assert 'exists and is not a checkpoint' in capsys.readouterr().err
    assert (tmp_path / 'results.csv').read_text() == 'keep me'


def test_the_settings_are_a_valid_td3_config_and_a_bad_field_is_named(load_example):
    from modalbridge.agents import TD3, TD3Config
    settings = load_example('pendulum_td3').CONFIG
    config = TD3Config(**settings)
    assert (config.discount, config.policy_delay, config.first_update) == (0.98, 2, 1_000)
    force = dict(action=dict(type='float', shape=(1,), min_value=-2.0, max_value=2.0))
    with pytest.raises(ConfigError, match=re.escape('exploration.sigma: expected')):
        TD3(dict(state=dict(type='float', shape=(3,))), force,
            **dict(settings, exploration=dict(type='GaussianNoise', kwargs=dict(sigma=-0.2))))


def test_a_short_run_saves_a_checkpoint_that_loads_and_acts_identically(load_example, capsys, tmp_path):
    """1,000 steps: one round of 200 gradient steps (at timestep 1,000), then the checkpoint."""
    from modalbridge.agents import Agent, TD3
    path = tmp_path / 'td3'
    agent, history = load_example('pendulum_td3').train(seed=3, steps=1000, save=str(path))
    assert history.timesteps == 1000 and f'saved {path}' in capsys.readouterr().out
    loaded = Agent.load(path, seed=1)  # another initialisation: equal actions mean the weights come from the file
    assert isinstance(loaded, TD3) and (loaded.updates, int(loaded.gradient_steps.numpy())) == (1, 200)
    angle = np.random.default_rng(0).uniform(-np.pi, np.pi, size=16)
    states = dict(state=np.stack([np.cos(angle), np.sin(angle), np.linspace(-8, 8, 16)], 1).astype(np.float32))
    acted = loaded.act(states, deterministic=True, independent=True)['action']
    assert np.array_equal(acted, agent.act(states, deterministic=True, independent=True)['action'])
    assert acted.shape == (16, 1) and np.all(np.abs(acted) <= 2.0)

import re
import sys

import numpy as np
import pytest

from modalbridge.bridges import ConfigError


@pytest.mark.parametrize('flags, message', [
    (['--steps', '0'], '--steps must be positive and --seed non-negative'),
    (['--seed', '-1'], '--steps must be positive and --seed non-negative'),
    (['--steps', 'many'], "argument --steps: invalid int value: 'many'"),
    (['--settings', 'fast'], "argument --settings: invalid choice: 'fast'"),
])
def test_bad_flags_are_refused(load_example, capsys, monkeypatch, flags, message):
    monkeypatch.setattr(sys, 'argv', ['cartpole_dqn.py'])
    with pytest.raises(SystemExit) as caught:
        load_example('cartpole_dqn').main(flags)
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_saving_over_something_that_is_not_a_checkpoint_is_refused_before_training(load_example, capsys,
                                                                                  monkeypatch, tmp_path):
    (tmp_path / 'notes').mkdir()
    monkeypatch.setattr(sys, 'argv', ['cartpole_dqn.py'])
    with pytest.raises(SystemExit):
        load_example('cartpole_dqn').main(['--save', str(tmp_path / 'notes')])
    captured = capsys.readouterr()
    assert 'exists and is not a checkpoint' in captured.err and 'trained' not in captured.out


def test_the_zoo_settings_are_a_valid_dqn_config_and_a_typo_is_named(load_example):
    from modalbridge.agents import DQN, DQNConfig
    zoo = load_example('cartpole_dqn').ZOO
    config = DQNConfig(**zoo)
    assert (config.learning_rate, config.batch_size, config.memory_capacity, config.first_update) == \
        (2.3e-3, 64, 100_000, 1_000)
    assert (config.update_frequency, config.repeat_update, config.n_step) == (256, 128, 1)
    assert DQNConfig(**load_example('cartpole_dqn').NSTEP) == DQNConfig(**dict(zoo, n_step=3))
    decay = DQNConfig(**load_example('cartpole_dqn').DECAY)   # the default: the rate decays to 0 over 50k steps
    assert decay.learning_rate == dict(type='linear', initial=2.3e-3, final=0.0, timesteps=50_000)
    assert decay == DQNConfig(**dict(zoo, learning_rate=decay.learning_rate))
    assert load_example('cartpole_dqn').DEFAULT == 'decay'
    bad = dict(zoo, exploration=dict(type='EpsilonDecay', kwargs=dict(epsilon_final=1.5)))
    with pytest.raises(ConfigError, match=re.escape('exploration.epsilon_final: expected')):
        DQN(dict(state=dict(type='float', shape=(4,))), dict(action=dict(type='int', num_values=2)), **bad)


def test_a_short_run_saves_a_checkpoint_that_loads_and_acts_identically(load_example, capsys, tmp_path):
    """1,100 steps: one round of 128 gradient steps (at timestep 1,024), then the checkpoint."""
    from modalbridge.agents import Agent, DQN
    path = tmp_path / 'dqn'
    agent, history = load_example('cartpole_dqn').train(seed=3, steps=1100, save=str(path))
    assert history.timesteps == 1100 and f'saved {path}' in capsys.readouterr().out
    loaded = Agent.load(path, seed=1)  # another initialisation: equal outputs mean the weights come from the file
    assert isinstance(loaded, DQN) and loaded.config == DQN.Config(**dict(agent.config.to_dict(), seed=1))
    assert (loaded.updates, loaded.timesteps, int(loaded.gradient_steps.numpy())) == (1, 1100, 128)
    # the default's learning rate decays over the run's budget (1,100 steps here), as the zoo's lin_ schedules
    assert agent.config.learning_rate == dict(type='linear', initial=2.3e-3, final=0.0, timesteps=1100)
    assert float(agent.optimizer.learning_rate.numpy()) == pytest.approx(2.3e-3 * (1 - 1024 / 1100))
    states = dict(state=np.random.default_rng(0).uniform(-0.2, 0.2, size=(16, 4)).astype(np.float32))
    assert np.array_equal(loaded.q_values(states)['action'], agent.q_values(states)['action'])
    assert np.array_equal(loaded.act(states, deterministic=True, independent=True)['action'],
                          agent.act(states, deterministic=True, independent=True)['action'])

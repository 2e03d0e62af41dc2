import sys

import pytest


def test_cartpole_ppo_example_rejects_bad_flags(load_example, capsys, monkeypatch):
    example = load_example('cartpole_ppo')
    monkeypatch.setattr(sys, 'argv', ['cartpole_ppo.py'])
    with pytest.raises(SystemExit) as caught:
        example.main(['--envs', '0'])
    assert caught.value.code == 2
    assert '--steps and --envs must be positive' in capsys.readouterr().err


def test_the_zoo_settings_are_a_valid_ppo_config(load_example):
    from modalbridge.agents import PPOConfig
    config = PPOConfig(num_envs=8, **load_example('cartpole_ppo').ZOO)
    assert config.n_steps * config.num_envs == config.batch_size  # one minibatch per epoch, as the zoo runs it

"""ViZDoom, a real named-button environment, through its Gymnasium wrapper and GymBridge.

ViZDoom writes `_vizdoom.ini` into the working directory: each test runs in a temp dir.
"""

import numpy as np
import pytest

from modalbridge.bridges import GymBridge, check


@pytest.fixture(autouse=True)
def in_temp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pytest.importorskip('vizdoom.gymnasium_wrapper')


@pytest.mark.parametrize('env_id, action', [('VizdoomBasic-v1', 'int'), ('VizdoomBasic-MultiBinary-v1', 'bool')])
def test_vizdoom_basic_passes_check(env_id, action):
    env = GymBridge(env_id)
    assert env.states['screen'].shape == (240, 320, 3) and env.states['screen'].dtype == np.uint8
    spec = env.actions['action']
    assert (spec.dtype == np.bool_) == (action == 'bool')
    assert check(lambda: GymBridge(env_id), max_steps=400).ok


def test_vizdoom_buttons_are_bool_actions():
    env = GymBridge('VizdoomBasic-MultiBinary-v1')
    assert env.actions['action'].shape == (3,) and env.actions['action'].dtype == np.bool_
    env.reset(seed=0)
    rewards = [env.execute({'action': np.array([True, False, True])}).reward for _ in range(3)]
    assert rewards == [-1.0, -1.0, -1.0]  # the basic scenario's living reward

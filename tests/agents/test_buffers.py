import numpy as np
import pytest

from modalbridge.agents.buffers import RolloutBuffer
from modalbridge.bridges import ConfigError


def make(steps=2, envs=2):
    return RolloutBuffer(dict(image=((4, 4, 3), np.uint8)), dict(action=((), np.int64)), steps=steps, num_envs=envs)


def fill(buffer, value):
    buffer.add_act(dict(image=np.full((2, 4, 4, 3), value, np.uint8)), dict(action=np.array([value, value])),
                   log_prob=np.zeros(2), value=np.full(2, float(value)))
    buffer.add_outcome(np.full(2, float(value)), np.zeros(2, bool))


def test_images_stay_uint8_and_storage_is_preallocated():
    buffer = make()
    assert buffer.states['image'].dtype == np.uint8 and buffer.states['image'].shape == (3, 2, 4, 4, 3)
    before = buffer.states['image']
    for value in (1, 2, 3):
        fill(buffer, value)
    assert buffer.full and buffer.states['image'] is before


def test_the_bootstrap_row_opens_the_next_rollout():
    buffer = make()
    for value in (1, 2, 3):
        fill(buffer, value)
    buffer.carry_last()
    assert buffer.size == 1 and not buffer.full
    assert buffer.states['image'][0, 0, 0, 0, 0] == 3 and buffer.reward[0].tolist() == [3.0, 3.0]


def test_act_and_outcome_must_alternate():
    buffer = make()
    with pytest.raises(ConfigError, match='observe: call act'):
        buffer.add_outcome(np.zeros(2), np.zeros(2, bool))
    buffer.add_act(dict(image=np.zeros((2, 4, 4, 3), np.uint8)), dict(action=np.zeros(2, np.int64)),
                   np.zeros(2), np.zeros(2))
    with pytest.raises(ConfigError, match='act: call observe'):
        buffer.add_act(dict(image=np.zeros((2, 4, 4, 3), np.uint8)), dict(action=np.zeros(2, np.int64)),
                       np.zeros(2), np.zeros(2))

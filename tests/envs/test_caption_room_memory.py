import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from modalbridge.bridges import ConfigError, GymBridge, check
from modalbridge.envs import MEMORY_ID, CaptionRoom


def test_the_memory_variant_is_registered_and_passes_the_checks():
    env = gymnasium.make(MEMORY_ID)
    assert env.unwrapped.memory
    check_env(env.unwrapped)
    assert check(GymBridge(MEMORY_ID)).ok


def test_the_caption_is_shown_only_in_the_first_observation_of_an_episode():
    env = CaptionRoom(memory=True, max_steps=5)
    for seed in range(3):
        observation, _ = env.reset(seed=seed)
        assert observation['caption'].startswith('go to the ') and observation['caption'] == env.caption
        done = False
        while not done:
            observation, _, terminated, truncated, _ = env.step(dict(move=int(env.np_random.integers(4))))
            assert observation['caption'] == ''
            done = terminated or truncated
    plain = CaptionRoom()
    plain.reset(seed=0)
    assert plain.step(dict(move=0))[0]['caption'] == plain.caption


def test_the_image_and_rewards_do_not_change_with_memory():
    first, second = CaptionRoom(), CaptionRoom(memory=True)
    a, _ = first.reset(seed=4)
    b, _ = second.reset(seed=4)
    np.testing.assert_array_equal(a['image'], b['image'])
    for move in (0, 1, 2, 3, 2):
        a, reward_a, *_ = first.step(dict(move=move))
        b, reward_b, *_ = second.step(dict(move=move))
        np.testing.assert_array_equal(a['image'], b['image'])
        assert reward_a == reward_b


@pytest.mark.parametrize('memory', [1, 'yes', None])
def test_memory_must_be_a_bool(memory):
    with pytest.raises(ConfigError, match='memory'):
        CaptionRoom(memory=memory)

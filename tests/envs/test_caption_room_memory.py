import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from modalbridge.bridges import ConfigError, GymBridge, check
from modalbridge.envs import MEMORY_ID, MEMORY_KWARGS, CaptionRoom


def test_the_memory_variant_is_registered_with_its_measured_setting_and_passes_the_checks():
    env = gymnasium.make(MEMORY_ID)
    room = env.unwrapped
    assert (room.memory, room.delay, room.size, room.num_objects, room.max_steps) == (True, 1, 4, 3, 12)
    assert MEMORY_KWARGS == dict(memory=True, delay=1, size=4, num_objects=3, max_steps=12)
    assert gymnasium.make(MEMORY_ID, delay=3, size=3).unwrapped.delay == 3  # each one a keyword to override
    check_env(room)
    assert check(GymBridge(MEMORY_ID)).ok


@pytest.mark.parametrize('delay', [0, 1, 3])
def test_the_cue_shows_the_caption_over_a_black_image_and_actions_change_nothing_until_the_room(delay):
    env = CaptionRoom(memory=True, delay=delay, max_steps=5)
    for seed in range(3):
        observation, _ = env.reset(seed=seed)
        assert observation['caption'] == env.caption and observation['caption'].startswith('go to the ')
        assert not observation['image'].any()
        start = env.agent
        for _ in range(delay + 1):  # the cue, then `delay` blank observations
            observation, reward, terminated, truncated, info = env.step(dict(move=int(env.np_random.integers(4))))
            assert (reward, terminated, truncated, info) == (0.0, False, False, dict(success=False, reached=None))
            assert env.agent == start and env.t == 0
        assert observation['caption'] == '' and observation['image'].any()  # the room, without the caption
        steps, done = 0, False
        while not done:
            observation, _, terminated, truncated, _ = env.step(dict(move=int(env.np_random.integers(4))))
            assert observation['caption'] == ''
            done, steps = terminated or truncated, steps + 1
        assert steps <= 5  # max_steps counts moves in the room only
    plain = CaptionRoom()
    plain.reset(seed=0)
    assert plain.step(dict(move=0))[0]['caption'] == plain.caption


def test_the_room_and_rewards_after_the_cue_are_those_of_the_plain_room():
    first, second = CaptionRoom(shaping=0.1), CaptionRoom(shaping=0.1, memory=True, delay=2)
    a, _ = first.reset(seed=4)
    second.reset(seed=4)
    for _ in range(3):
        b, *_ = second.step(dict(move=1))
    np.testing.assert_array_equal(a['image'], b['image'])
    for move in (0, 1, 2, 3, 2):
        a, reward_a, *end_a = first.step(dict(move=move))
        b, reward_b, *end_b = second.step(dict(move=move))
        np.testing.assert_array_equal(a['image'], b['image'])
        assert (reward_a, end_a[:2]) == (reward_b, end_b[:2])


def test_a_memoryless_policy_stays_at_the_caption_blind_rate():
    """The best memoryless policy we can write: on the cue it reads the caption (and can do nothing with
    it); in the room it walks to the nearest object. Its success is about 1/K, as the docstring argues."""
    env, successes, episodes = CaptionRoom(memory=True, size=4, num_objects=3, max_steps=12), 0, 600
    for seed in range(episodes):
        env.reset(seed=seed)
        done = False
        while not done:
            if env.cue:
                move = 0
            else:
                (row, column), (goal_row, goal_column) = env.agent, min(
                    (where for where, _ in env.objects),
                    key=lambda w: abs(w[0] - env.agent[0]) + abs(w[1] - env.agent[1]))
                move = (2 if goal_row > row else 0) if goal_row != row else (1 if goal_column > column else 3)
            _, _, terminated, truncated, info = env.step(dict(move=move))
            done = terminated or truncated
        successes += info['success']
    assert abs(successes / episodes - 1 / 3) < 0.06


@pytest.mark.parametrize('memory', [1, 'yes', None])
def test_memory_must_be_a_bool(memory):
    with pytest.raises(ConfigError, match='memory'):
        CaptionRoom(memory=memory)


@pytest.mark.parametrize('kwargs, message', [(dict(memory=True, delay=-1), 'delay'),
                                             (dict(memory=True, delay=1.5), 'delay'),
                                             (dict(memory=True, delay=True), 'delay'),
                                             (dict(delay=1), 'delay: applies only with memory=True')])
def test_bad_delays_are_refused_naming_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CaptionRoom(**kwargs)

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from modalbridge.bridges import (ConfigError, Environment, GymBridge, Step, Terminal, check,
                                 to_gymnasium)

from tests.bridges.test_gym import CLASSIC


@pytest.mark.parametrize('env_id', CLASSIC)
def test_gymnasium_check_env_passes_on_the_round_trip(env_id):
    check_env(to_gymnasium(GymBridge(env_id)), skip_render_check=True)


@pytest.mark.parametrize('env_id', CLASSIC)
def test_check_passes_on_a_bridge_of_the_round_trip(env_id):
    assert check(lambda: GymBridge(to_gymnasium(GymBridge(env_id)))).ok


def test_single_spaces_come_back_bare():
    env = to_gymnasium(GymBridge('CartPole-v1'))
    assert env.action_space == spaces.Discrete(2)
    assert env.observation_space == GymBridge('CartPole-v1').env.observation_space


class Room(Environment):
    """An image, a caption and a few kinds of action."""

    def __init__(self):
        super().__init__(
            states=dict(image=dict(type='int', shape=(6, 6, 3), min_value=0, max_value=255, dtype='uint8'),
                        caption=dict(type='text'), flags=dict(type='bool', shape=(2,))),
            actions=dict(move=dict(type='int', num_values=4), jump=dict(type='bool'),
                         force=dict(type='float', shape=(2,), min_value=-1.0, max_value=1.0),
                         cells=dict(type='int', shape=(2,), num_values=3),
                         say=dict(type='text')),
            max_episode_timesteps=5)

    def _reset(self, seed):
        self.rng = np.random.default_rng(seed)
        return self._states('go to the red ball')

    def _states(self, caption):
        return dict(image=self.rng.integers(0, 256, (6, 6, 3), dtype=np.uint8),
                    caption=caption, flags=self.rng.integers(0, 2, 2).astype(bool))

    def _execute(self, actions):
        self.last = actions
        return Step(self._states(f'you said {actions["say"].item()}'), float(actions['jump']),
                    Terminal.NONE, {})


def test_multimodal_environment_maps_to_matching_spaces():
    env = to_gymnasium(Room())
    assert env.observation_space['image'] == spaces.Box(0, 255, (6, 6, 3), np.uint8)
    assert isinstance(env.observation_space['caption'], spaces.Text)
    assert env.observation_space['flags'] == spaces.MultiBinary(2)
    assert env.action_space['move'] == spaces.Discrete(4)
    assert env.action_space['jump'] == spaces.Discrete(2)
    assert env.action_space['cells'] == spaces.MultiDiscrete([3, 3])
    check_env(env, skip_render_check=True)


def test_round_trip_steps_and_truncates():
    env = to_gymnasium(Room())
    observation, info = env.reset(seed=1)
    assert observation['caption'] == 'go to the red ball' and info == {}
    for step in range(5):
        observation, reward, terminated, truncated, _ = env.step(dict(
            move=1, jump=1, force=np.zeros(2, np.float32), cells=np.array([0, 2]), say='hi'))
        assert reward == 1.0 and not terminated
    assert truncated and observation['caption'] == 'you said hi'
    assert env.env.last['jump'].dtype == bool


def test_text_with_shape_cannot_become_a_gymnasium_space():
    class Lines(Room):
        def __init__(self):
            Environment.__init__(self, states=dict(lines=dict(type='text', shape=(2,))),
                                 actions=dict(move=dict(type='int', num_values=2)))

    with pytest.raises(ConfigError, match="to_gymnasium: text spec 'lines' has shape \\(2,\\)"):
        to_gymnasium(Lines())


def test_to_gymnasium_refuses_non_environments():
    with pytest.raises(ConfigError, match='to_gymnasium: expected a modalbridge Environment; received str'):
        to_gymnasium('CartPole-v1')

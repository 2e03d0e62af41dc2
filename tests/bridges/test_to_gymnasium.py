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
    for _ in range(5):
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


class Dice(Environment):
    """A custom environment drawing every random number from `np_random` (the taught pattern)."""

    def __init__(self):
        # 2**30 faces: two unseeded resets agree by chance once in a billion
        super().__init__(states=dict(face=dict(type='int', num_values=2 ** 30), note=dict(type='text')),
                         actions=dict(roll=dict(type='bool')), max_episode_timesteps=5)

    def _reset(self, seed):
        return self._roll()

    def _roll(self):
        face = int(self.np_random.integers(2 ** 30))
        return dict(face=face, note=f'rolled {face}')

    def _execute(self, actions):
        return Step(self._roll(), 1.0, Terminal.NONE, {})


class OwnGenerator(Dice):
    """The pattern the README taught before: a generator made from the seed in `_reset`."""

    def _reset(self, seed):
        self.rng = np.random.default_rng(seed)
        self.np_random = self.rng
        return self._roll()


def registered(environment_class):
    import gymnasium
    env_id = f'modalbridge-test/{environment_class.__name__}-v0'
    if env_id not in gymnasium.registry:
        gymnasium.register(env_id, entry_point=lambda: to_gymnasium(environment_class()))
    return gymnasium.make(env_id).unwrapped


def test_a_custom_environment_registered_with_gymnasium_passes_check_env():
    check_env(registered(Dice), skip_render_check=True)


def test_check_env_catches_a_generator_made_in_reset_so_the_test_above_can_fail():
    with pytest.raises(AssertionError, match=r'env.reset\(seed=123\)` then `env.reset\(\)` is non-deterministic'):
        check_env(registered(OwnGenerator), skip_render_check=True)


def test_reset_seed_seeds_np_random_and_reset_continues_it():
    env = Dice()
    faces = [env.reset(seed=3)['face'].item()] + [env.reset()['face'].item() for _ in range(5)]
    again = [env.reset(seed=3)['face'].item()] + [env.reset()['face'].item() for _ in range(5)]
    assert faces == again and env.np_random_seed == 3
    other = [env.reset(seed=4)['face'].item()] + [env.reset()['face'].item() for _ in range(5)]
    assert other != faces


@pytest.mark.parametrize('seed', [-1, True, 1.5, '3'])
def test_a_bad_seed_is_a_config_error(seed):
    with pytest.raises(ConfigError, match='Dice.reset: seed: expected an int >= 0'):
        Dice().reset(seed=seed)


def test_np_random_without_a_seed_is_a_generator_and_can_be_set():
    env = Dice()
    assert isinstance(env.np_random, np.random.Generator) and env.np_random_seed is not None
    env.np_random = np.random.default_rng(1)
    assert env.np_random_seed is None
    with pytest.raises(ConfigError, match='np_random: expected a numpy.random.Generator'):
        env.np_random = 3


# -- options for Stable-Baselines3 (checked with Gymnasium's own checker; SB3 itself is not needed) --------

def caption_room():
    return GymBridge('modalbridge/CaptionRoom-v0')


def tokenized_room():
    from modalbridge.envs.caption_room import CaptionRoom
    from modalbridge.preprocess import Preprocessed

    return Preprocessed(caption_room(), dict(caption=[dict(type='tokenize', length=6,
                                                           vocabulary=CaptionRoom().vocabulary)]))


def test_unwrap_gives_a_lone_action_of_any_name_its_bare_space():
    assert to_gymnasium(caption_room()).action_space == spaces.Dict(move=spaces.Discrete(4))
    env = to_gymnasium(caption_room(), unwrap=True)
    assert env.action_space == spaces.Discrete(4)
    env.reset(seed=0)
    assert env.step(2)[0]['image'].shape == env.observation_space['image'].shape


def test_unwrap_gives_a_lone_state_of_any_name_its_bare_space():
    class Named(Environment):
        def __init__(self):
            super().__init__(dict(position=dict(type='float', shape=(2,))), dict(push=dict(type='int', num_values=2)))

        def _reset(self, seed):
            return dict(position=np.zeros(2, np.float32))

        def _execute(self, actions):
            self.last = actions
            return Step(dict(position=np.ones(2, np.float32)), 0.0, Terminal.TERMINATED, {})

    env = to_gymnasium(Named(), unwrap=True)
    assert env.observation_space == spaces.Box(-np.inf, np.inf, (2,), np.float32)
    env.reset()
    assert env.step(1)[0].tolist() == [1.0, 1.0]
    assert env.env.last == dict(push=1)
    check_env(env, skip_render_check=True)


def test_sb3_spaces_of_a_tokenized_caption_room_pass_gymnasiums_checker_and_keep_the_image_uint8():
    env = to_gymnasium(tokenized_room(), sb3=True)
    check_env(env, skip_render_check=True)
    image, caption = env.observation_space['image'], env.observation_space['caption']
    assert image.dtype == np.uint8 and image.shape[-1] == 3 and (image.low == 0).all() and (image.high == 255).all()
    assert isinstance(caption, spaces.MultiDiscrete) and caption.shape == (6,)
    assert env.action_space == spaces.Discrete(4)
    observation, _ = env.reset(seed=0)
    assert observation['caption'].tolist()[:4] != [1, 1, 1, 1] and 1 not in observation['caption']


def test_sb3_refuses_text_naming_the_state_and_the_fix():
    with pytest.raises(ConfigError, match=r"^caption: Stable-Baselines3 cannot take text states .* tokenize it first"):
        to_gymnasium(caption_room(), sb3=True)


def test_sb3_refuses_a_normalized_image_naming_the_fix():
    from modalbridge.preprocess import Preprocessed

    env = Preprocessed(caption_room(), dict(image=['normalize'], caption=[dict(type='tokenize', length=6,
                                                                               vocabulary=['go'])]))
    with pytest.raises(ConfigError, match=r"^image: Stable-Baselines3 sees an image only as uint8 .*drop 'normalize'"):
        to_gymnasium(env, sb3=True)


def test_sb3_refuses_a_uint8_image_without_0_255_bounds():
    class Dim(Environment):
        def __init__(self):
            super().__init__(dict(image=dict(type='int', shape=(4, 4, 1), min_value=0, max_value=15, dtype='uint8')),
                             dict(action=dict(type='int', num_values=2)))

        def _reset(self, seed):
            return dict(image=np.zeros((4, 4, 1), np.uint8))

        def _execute(self, actions):
            return Step(self._reset(None), 0.0, Terminal.NONE, {})

    with pytest.raises(ConfigError, match=r'^image: .* only with bounds \[0, 255\]'):
        to_gymnasium(Dim(), sb3=True)


def test_sb3_refuses_several_actions():
    class TwoActions(Environment):
        def __init__(self):
            super().__init__(dict(state=dict(type='float', shape=(2,))),
                             dict(move=dict(type='int', num_values=4), jump=dict(type='bool')))

        def _reset(self, seed):
            return dict(state=np.zeros(2, np.float32))

        def _execute(self, actions):
            return Step(dict(state=np.zeros(2, np.float32)), 0.0, Terminal.NONE, {})

    with pytest.raises(ConfigError, match=r"^actions: Stable-Baselines3 takes one action space; .*\['move', 'jump'\]"):
        to_gymnasium(TwoActions(), sb3=True)


@pytest.mark.parametrize('option', ['unwrap', 'sb3'])
def test_the_options_are_booleans(option):
    with pytest.raises(ConfigError, match=f'to_gymnasium: {option}'):
        to_gymnasium(GymBridge('CartPole-v1'), **{option: 1})


@pytest.mark.parametrize('kwargs, field', [(dict(text_max_length=True), 'text_max_length'),
                                           (dict(text_max_length=0), 'text_max_length'),
                                           (dict(text_charset=''), 'text_charset'),
                                           (dict(text_charset=5), 'text_charset')])
def test_bad_text_options_are_refused_by_name(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        to_gymnasium(GymBridge('CartPole-v1'), **kwargs)


def test_only_an_environment_converts():
    with pytest.raises(ConfigError, match='Environment'):
        to_gymnasium(gymnasium_env := GymBridge('CartPole-v1').env)  # noqa: F841 - a raw gymnasium env

import subprocess
import sys

import numpy as np
import pytest
from dm_env import specs as dm_specs
from gymnasium import spaces

from modalbridge.bridges import ConfigError, GymBridge, SpecError, gym_spaces, specs

from tests.bridges.test_gym import SpaceEnv, WordSpace


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the space registry, so a test's registrations do not leak."""
    monkeypatch.setattr(gym_spaces, '_MAPPERS', dict(gym_spaces._MAPPERS))


def test_an_unregistered_custom_space_is_a_config_error_naming_the_registry():
    class Unregistered(spaces.Space):
        pass
    with pytest.raises(ConfigError, match=r"observation space 'mission'.*register_space"):
        GymBridge(SpaceEnv(spaces.Dict({'mission': Unregistered(dtype=str)}), spaces.Discrete(2)))


def test_a_registered_space_of_str_is_text_and_its_contains_checks_actions(registry):
    gym_spaces.register_space(WordSpace, gym_spaces.string_space)
    env = GymBridge(SpaceEnv(spaces.Dict({'mission': WordSpace(['go', 'stop'])}), WordSpace(['left', 'right'])))
    assert env.states['mission'] == dm_specs.StringArray((), name='mission')
    assert env.actions['action'] == dm_specs.StringArray((), name='action')
    assert env.reset(seed=0)['mission'].item() in ('go', 'stop')
    env.execute({'action': 'left'})
    assert env.env.unwrapped.received == ['left']
    with pytest.raises(SpecError, match="'action': expected text that WordSpace.contains accepts; received 'up'"):
        env.execute({'action': 'up'})


def test_minigrid_mission_space_is_registered_by_name_without_importing_minigrid():
    assert gym_spaces._MAPPERS['minigrid.core.mission.MissionSpace'] is gym_spaces.string_space
    code = 'import sys, modalbridge.bridges; print("minigrid" in sys.modules)'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ['False']


def test_a_real_minigrid_mission_is_text_through_the_registry():
    pytest.importorskip('minigrid')
    import minigrid  # noqa: F401 - registers the MiniGrid ids
    env = GymBridge('MiniGrid-Empty-5x5-v0')
    assert specs.is_text(env.states['mission'])
    assert env.reset(seed=0)['mission'].item() == 'get to the green goal square'


def test_a_registered_mapper_is_used_for_subclasses_too(registry):
    class Words(WordSpace):
        pass
    gym_spaces.register_space(WordSpace, gym_spaces.string_space)
    spec, _, _ = gym_spaces.to_spec(Words(['a']), 'w')
    assert specs.is_text(spec)


@pytest.mark.parametrize('bad', [int, 'not callable'])
def test_register_space_refuses_non_spaces_and_non_callables(bad, registry):
    with pytest.raises(ConfigError, match='register_space'):
        if bad is int:
            gym_spaces.register_space(int, gym_spaces.string_space)
        else:
            gym_spaces.register_space(WordSpace, bad)


def test_reader_and_writer_convert_a_nested_space_both_ways():
    space = spaces.Dict({'a': spaces.Tuple([spaces.Discrete(3, start=1), spaces.Box(0, 1, (2,))])})
    leaves = gym_spaces.space_leaves(space, 'state', 'observation')
    assert [leaf.name for leaf in leaves] == ['a/0', 'a/1']
    value = {'a': (2, np.array([0.5, 0.25], np.float32))}
    flat = gym_spaces.reader(leaves)(value)
    assert flat['a/0'] == 1 and flat['a/1'].tolist() == [0.5, 0.25]
    back = gym_spaces.writer(space, leaves)(flat)
    assert back['a'][0] == 2 and space.contains(back)


def test_spaces_of_is_the_public_reverse_mapping():
    states = {'image': dm_specs.BoundedArray((2, 2, 3), np.uint8, 0, 255, name='image'),
              'caption': dm_specs.StringArray((), name='caption')}
    space, to_gym, from_gym = gym_spaces.spaces_of(states, 'state')
    value = {'image': np.zeros((2, 2, 3), np.uint8), 'caption': np.array('hi', object)}
    assert space.contains(to_gym(value))
    assert from_gym(to_gym(value))['caption'].item() == 'hi'


def test_to_spec_refuses_containers():
    with pytest.raises(ConfigError, match="action space 'x'"):
        gym_spaces.to_spec(spaces.Dict({'a': spaces.Discrete(2)}), 'x', 'action')

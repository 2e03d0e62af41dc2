import numpy as np
import pytest

from modalbridge.bridges import ConfigError, SpecError, Terminal, check
from modalbridge.bridges import events as events_lib
from modalbridge.bridges.events import EventBridge

from tests.fakes.universe import FakeUniverseEnv

KEYS = ['ArrowLeft', 'ArrowRight', 'space']
POINTER = dict(width=48, height=32, cells=(4, 6))


def bridge(**kwargs):
    return EventBridge(FakeUniverseEnv(), keys=KEYS, pointer=POINTER, vision_shape=(32, 48, 3), **kwargs)


def idle(**overrides):
    return {**{key: False for key in KEYS}, 'pointer': 0, 'click': False, **overrides}


def test_specs_named_keys_pointer_cell_and_click():
    env = bridge()
    assert list(env.actions) == KEYS + ['pointer', 'click']
    assert env.actions['pointer'].num_values == 24 and env.actions['click'].dtype == bool
    assert env.states['vision'].shape == (32, 48, 3)


def test_keys_are_pressed_and_released_on_change_only():
    env = bridge()
    env.reset()
    env.execute(idle(ArrowLeft=True))
    env.execute(idle(ArrowLeft=True))
    env.execute(idle())
    log = [[e for e in events if e[0] == 'KeyEvent'] for events in env._env.log]
    assert log == [[('KeyEvent', 'ArrowLeft', True)], [], [('KeyEvent', 'ArrowLeft', False)]]


def test_pointer_cell_decodes_with_divmod_to_the_cell_centre():
    env = bridge()
    env.reset()
    env.execute(idle(pointer=13, click=True))  # divmod(13, 6) = row 2, column 1
    assert env._env.log[-1][-1] == ('PointerEvent', 12, 20, 1)  # x = 1.5 * 48 / 6, y = 2.5 * 32 / 4


def test_text_is_the_latest_non_empty_message():
    env = bridge()
    assert env.reset()['text'].item() == 'click the square'
    assert env.execute(idle()).states['text'].item() == 'click the square'
    step = env.execute(idle(pointer=19, click=True))  # the target's cell: row 3, column 1
    assert step.reward == 1.0 and step.states['text'].item() == 'score!'
    assert env.execute(idle()).states['text'].item() == 'score!'


def test_held_keys_are_forgotten_at_the_end_and_at_reset():
    env = bridge(max_episode_timesteps=None)
    env.reset()
    terminal = Terminal.NONE
    while terminal == Terminal.NONE:
        terminal = env.execute(idle(space=True)).terminal
    assert terminal is Terminal.TERMINATED
    env.reset()
    env.execute(idle(space=True))
    assert ('KeyEvent', 'space', True) in env._env.log[-1]  # pressed anew after the reset


def test_check_passes():
    assert check(bridge).ok


def test_configuration_errors():
    with pytest.raises(ConfigError) as caught:
        EventBridge(FakeUniverseEnv(), keys=['space', 'space'], vision_shape=(32, 48, 3))
    assert str(caught.value) == events_lib.DUPLICATE_KEY.format(key='space', keys=['space', 'space'])
    with pytest.raises(ConfigError, match='pointer must be dict'):
        EventBridge(FakeUniverseEnv(), keys=KEYS, pointer=dict(width=4), vision_shape=(32, 48, 3))
    with pytest.raises(ConfigError, match='vision_shape must be'):
        EventBridge(FakeUniverseEnv(), keys=KEYS)


def test_a_pointer_cell_outside_the_grid_is_a_spec_error():
    env = bridge()
    env.reset()
    with pytest.raises(SpecError, match="'pointer'"):
        env.execute(idle(pointer=24))


@pytest.mark.parametrize('kwargs, message', [
    (dict(keys='ab'), "keys must be a list of key names such as ['ArrowLeft', 'space']; received 'ab'"),
    (dict(keys=5), 'keys must be a list of key names'),
    (dict(vision_shape=(32, True, 3)), 'vision_shape[1]: expected an int >= 1; received True (a bool)'),
    (dict(vision_shape=(32, 0, 3)), 'vision_shape[1]: expected an int >= 1; received 0'),
    (dict(vision_shape='abc'), 'vision_shape must be (height, width, channels)'),
    (dict(pointer=dict(width=48.0, height=32, cells=(4, 6))), 'pointer width: expected an int >= 1; received 48.0'),
    (dict(pointer=dict(width=48, height=True, cells=(4, 6))), 'pointer height: expected an int >= 1; received True'),
    (dict(pointer=dict(width=48, height=32, cells=(4, 2.5))), 'pointer cells[1]: expected an int >= 1'),
    (dict(pointer=dict(width=48, height=32, cells=4)), 'pointer cells must be (rows, columns); received 4'),
    (dict(pointer=[48, 32]), 'pointer must be dict(width=..., height=..., cells=(rows, columns))'),
])
def test_bad_arguments_are_config_errors_naming_the_field(kwargs, message):
    arguments = {**dict(keys=KEYS, pointer=POINTER, vision_shape=(32, 48, 3)), **kwargs}
    with pytest.raises(ConfigError) as caught:
        EventBridge(FakeUniverseEnv(), **arguments)
    assert message in str(caught.value)


def test_the_wrapped_environment_is_env():
    game = FakeUniverseEnv()
    assert EventBridge(game, keys=KEYS, vision_shape=(32, 48, 3)).env is game


def test_no_keys_and_no_pointer_is_refused():
    with pytest.raises(ConfigError, match='no actions'):
        EventBridge(FakeUniverseEnv(), keys=[], vision_shape=(4, 4, 3))

import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import ConfigError, SpecError, Terminal, check
from modalbridge.bridges.lab import LabBridge

from tests.fakes.deepmind_lab import Lab

OBSERVATIONS = ['RGB_INTERLEAVED', 'INSTR', 'DEBUG.POS.TRANS']


def bridge(**kwargs):
    return LabBridge(Lab('fake_maze', OBSERVATIONS), OBSERVATIONS, **kwargs)


def test_observations_keep_lab_names_and_instr_is_text():
    env = bridge()
    assert list(env.states) == OBSERVATIONS
    assert isinstance(env.states['INSTR'], dm_specs.StringArray)
    assert env.states['RGB_INTERLEAVED'].dtype == np.uint8 and env.states['DEBUG.POS.TRANS'].dtype == np.float64
    assert env.actions['LOOK_LEFT_RIGHT_PIXELS_PER_FRAME'].minimum == -512
    assert env.reset(seed=1)['INSTR'].item().startswith('get the ')


def test_check_passes_when_every_component_is_required():
    assert check(lambda: bridge(fill_missing=False)).ok


def test_unnamed_components_are_zero_and_actions_repeat():
    env = bridge(num_steps=2)
    env.reset(seed=0)
    env.execute({'MOVE_BACK_FORWARD': 1})
    sent = env.env.received[-1]
    assert sent.dtype == np.intc and sent.tolist() == [0, 0, 0, 1, 0, 0, 0]
    assert env.env.num_steps() in (1, 2)


def test_the_last_observation_is_cached_after_the_end():
    env = bridge()
    env.reset(seed=0)
    lab = env.env
    step = None
    for _ in range(200):
        row_move = int(np.sign(lab.goal[0] - lab.position[0]))
        column_move = int(np.sign(lab.goal[1] - lab.position[1]))
        step = env.execute({'MOVE_BACK_FORWARD': row_move, 'STRAFE_LEFT_RIGHT': column_move if not row_move else 0})
        if step.terminal != Terminal.NONE:
            break
    assert step.terminal is Terminal.TERMINATED and step.reward == 1.0
    with pytest.raises(RuntimeError):
        lab.observations()  # what Lab does after the end; the bridge did not read it
    assert step.states['INSTR'].item().startswith('get the ')


def test_out_of_bounds_actions_are_spec_errors():
    env = bridge()
    env.reset(seed=0)
    with pytest.raises(SpecError, match="'MOVE_BACK_FORWARD': expected int32 scalar in \\[-1, 1\\]"):
        env.execute({'MOVE_BACK_FORWARD': 2})
    with pytest.raises(SpecError, match="'WALK'"):
        env.execute({'WALK': 1})


def test_unknown_observations_are_config_errors():
    with pytest.raises(ConfigError, match="LabBridge: observation 'DEPTH' is not in the Lab's observation_spec"):
        LabBridge(Lab('fake_maze', ['INSTR']), ['DEPTH'])


@pytest.mark.parametrize('kwargs, message', [
    (dict(observations='RGB_INTERLEAVED'), 'observations must be a list of names'),
    (dict(num_steps=True), 'LabBridge: num_steps: expected an int >= 1; received True (a bool)'),
    (dict(num_steps=0), 'LabBridge: num_steps: expected an int >= 1; received 0'),
    (dict(fill_missing=1), 'LabBridge: fill_missing: expected True or False; received 1'),
])
def test_bad_lab_arguments_are_config_errors_naming_the_field(kwargs, message):
    arguments = {'observations': OBSERVATIONS, **kwargs}
    with pytest.raises(ConfigError) as caught:
        LabBridge(Lab('fake_maze', OBSERVATIONS), **arguments)
    assert message in str(caught.value)


def test_the_wrapped_lab_is_env():
    lab = Lab('fake_maze', OBSERVATIONS)
    assert LabBridge(lab, OBSERVATIONS).env is lab

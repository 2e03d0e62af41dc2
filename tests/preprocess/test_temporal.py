import numpy as np
import pytest

from modalbridge.bridges import ConfigError, SpecError
from modalbridge.preprocess import Stack

from tests.preprocess.helpers import both, image, image_spec

SCALAR = dict(type='float', shape=())
FRAME = dict(type='float', shape=(1,))


def frames(*values):
    return [dict(x=np.array(v, np.float32)) for v in values]


def test_sequence_fills_with_the_first_frame_then_shifts_oldest_first():
    _, out = both(dict(x=FRAME), [dict(type='sequence', length=3)], frames([[1.0]], [[2.0]], [[3.0]], [[4.0]]))
    assert [o['x'][0].tolist() for o in out] == [[1, 1, 1], [1, 1, 2], [1, 2, 3], [2, 3, 4]]


def test_sequence_reset_mask_resets_only_finished_environments():
    batches = frames([[1.0], [10.0]], [[2.0], [20.0]], [[3.0], [30.0]])
    _, out = both(dict(x=FRAME), [dict(type='sequence', length=2)], batches,
                  resets={2: np.array([False, True])})
    assert out[2]['x'].tolist() == [[2.0, 3.0], [30.0, 30.0]]


def test_sequence_stacks_image_channels_on_the_last_axis():
    stack, out = both(dict(image=image_spec((4, 4, 1))), [dict(type='sequence', length=4)],
                      [dict(image=image((2, 4, 4, 1), seed=s)) for s in range(5)])
    assert stack.states['image'].shape == (4, 4, 4)
    assert np.array_equal(out[4]['image'][..., 3], image((2, 4, 4, 1), seed=4)[..., 0])
    assert np.array_equal(out[4]['image'][..., 0], image((2, 4, 4, 1), seed=1)[..., 0])


def test_sequence_on_another_axis_and_on_scalars():
    stack, out = both(dict(x=dict(type='float', shape=(2, 3))), [dict(type='sequence', length=2, axis=0)],
                      [dict(x=np.full((1, 2, 3), v, np.float32)) for v in (1.0, 2.0)])
    assert stack.states['x'].shape == (4, 3)
    assert out[1]['x'][0, :, 0].tolist() == [1.0, 1.0, 2.0, 2.0]
    stack, out = both(dict(x=SCALAR), [dict(type='sequence', length=2)], frames([5.0], [6.0]))
    assert stack.states['x'].shape == (2,) and out[1]['x'].tolist() == [[5.0, 6.0]]


@pytest.mark.parametrize('entry, message', [
    (dict(length=0), r'length: expected an int in \[1, 4096\]; received 0'),
    (dict(length=2, axis=3), 'axis 3 is out of range'),
])
def test_sequence_errors(entry, message):
    with pytest.raises(ConfigError, match=r'\(sequence\): ' + message):
        Stack(dict(x=dict(type='float', shape=(2, 2))), [dict(type='sequence', **entry)])


def test_frame_max_takes_the_max_of_the_last_two_frames():
    _, out = both(dict(x=FRAME), ['frame_max'], frames([[3.0]], [[1.0]], [[2.0]]), resets={2: np.array([True])})
    assert [o['x'].item() for o in out] == [3.0, 3.0, 2.0]


def test_deltafier_is_zero_at_an_episode_start():
    _, out = both(dict(x=FRAME), ['deltafier'], frames([[3.0]], [[1.0]], [[4.0]], [[6.0]]),
                  resets={2: np.array([True])})
    assert [o['x'].item() for o in out] == [0.0, -2.0, 0.0, 2.0]


def test_reset_mask_must_match_num_envs():
    stack = Stack(dict(x=FRAME), ['deltafier'], num_envs=2, backend='numpy')
    with pytest.raises(SpecError, match=r"'mask': expected bool array of shape \(2,\); received int64 array of shape \(3,\)"):
        stack.reset(np.array([1, 0, 1]))

import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import ConfigError, SpecError
from modalbridge.preprocess import Stack

from tests.preprocess.helpers import both, image, image_spec


def test_flatten_golden_value_and_spec():
    x = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    stack, out = both(dict(image=image_spec((2, 2, 3))), ['flatten'], [dict(image=x)])
    assert out[0]['image'].tolist() == [list(range(12))]
    assert stack.states['image'] == dm_specs.BoundedArray((12,), np.uint8, 0, 255, name='image')


def test_flatten_refuses_text():
    with pytest.raises(ConfigError, match=r"\(flatten\): expects a numeric or bool array; got text"):
        Stack(dict(caption=dict(type='text')), ['flatten'])


def test_one_hot_golden_value_and_spec():
    stack, out = both(dict(cell=dict(type='int', shape=(2,), num_values=3)), ['one_hot'],
                      [dict(cell=np.array([[0, 2]]))])
    assert out[0]['cell'].tolist() == [[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]
    assert stack.states['cell'] == dm_specs.BoundedArray((2, 3), np.float32, 0.0, 1.0, name='cell')


def test_one_hot_of_a_discrete_scalar():
    stack, out = both(dict(move=dict(type='int', num_values=4)), ['one_hot'], [dict(move=np.array([3, 1]))])
    assert stack.states['move'].shape == (4,)
    assert out[0]['move'].argmax(axis=-1).tolist() == [3, 1]


def test_one_hot_refuses_non_discrete():
    with pytest.raises(ConfigError, match=r'\(one_hot\): expects discrete ids with one num_values .*got float32'):
        Stack(dict(x=dict(type='float', shape=(2,))), ['one_hot'])


def test_flatten_random_images_agree():
    both(dict(image=image_spec((5, 4, 3))), ['flatten'], [dict(image=image((3, 5, 4, 3)))])


def test_one_hot_refuses_a_width_that_would_exhaust_memory():
    spec = dict(type='int', shape=(2,), min_value=0, max_value=10**9)
    with pytest.raises(ConfigError, match=r"preprocessing\[0\] \(one_hot\): 1000000001 values would make one-hot "
                                          r"vectors of 1000000001 floats \(at most 65536\); embed the ids instead"):
        Stack(dict(x=spec), ['one_hot'], backend='numpy')


GRID = dict(grid=dict(type='int', shape=(2, 2, 3), min_value=0, max_value=255, dtype='uint8'))


def test_one_hot_per_channel_widths_concatenate_golden_value():
    grid = np.array([[[[2, 0, 1], [10, 5, 2]], [[0, 0, 0], [1, 2, 0]]]], np.uint8)
    stack, out = both(GRID, dict(grid=[dict(type='one_hot', num_values=[11, 6, 3])]), [dict(grid=grid)])
    assert stack.states['grid'] == dm_specs.BoundedArray((2, 2, 20), np.float32, 0.0, 1.0, name='grid')
    cell = out[0]['grid'][0, 0, 1]
    assert np.flatnonzero(cell).tolist() == [10, 11 + 5, 17 + 2]
    assert out[0]['grid'].sum(axis=-1).tolist() == [[[3.0, 3.0], [3.0, 3.0]]]


def test_one_hot_declared_width_for_a_wider_spec():
    stack, out = both(dict(x=dict(type='int', shape=(2,), min_value=0, max_value=255, dtype='uint8')),
                      [dict(type='one_hot', num_values=4)], [dict(x=np.array([[3, 0]], np.uint8))])
    assert stack.states['x'].shape == (2, 4)
    assert out[0]['x'].tolist() == [[[0, 0, 0, 1], [1, 0, 0, 0]]]


def test_one_hot_refuses_an_id_beyond_its_declared_width_on_both_backends():
    import tensorflow as tf
    grid = np.zeros((1, 2, 2, 3), np.uint8)
    grid[0, 1, 0, 1] = 6
    declaration = dict(grid=[dict(type='one_hot', num_values=[11, 6, 3])])
    with pytest.raises(SpecError, match=r"'grid': expected ids in \[0, num_values\) with num_values \[11, 6, 3\]; "
                                        r"received 6 at index \(0, 1, 0, 1\)"):
        Stack(GRID, declaration, backend='numpy')(dict(grid=grid))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"one_hot of state grid: ids must be below "
                                                               r"num_values \[11, 6, 3\]"):
        Stack(GRID, declaration, backend='tf')(dict(grid=grid))


@pytest.mark.parametrize('num_values, message', [
    ([11, 6], r'num_values: 2 widths, one per entry of the last axis, but the last axis has 3 entries'),
    ([11, 0, 3], r'num_values\[1\]: expected an integer >= 1|num_values\[1\].*1'),
    (True, r'num_values.*bool|num_values.*integer'),
    ([70000, 1, 1], r'70002 values would make one-hot vectors'),
])
def test_one_hot_refuses_bad_widths(num_values, message):
    with pytest.raises(ConfigError, match=r"preprocessing\['grid'\]\[0\] \(one_hot\): .*" + message):
        Stack(GRID, dict(grid=[dict(type='one_hot', num_values=num_values)]), backend='numpy')


def test_one_hot_with_widths_refuses_float_arrays():
    with pytest.raises(ConfigError, match=r'\(one_hot\): expects an integer array of ids; got float32'):
        Stack(dict(x=dict(type='float', shape=(3,))), [dict(type='one_hot', num_values=[2, 2, 2])])


def test_one_hot_widths_survive_the_stack_config_round_trip():
    stack = Stack(GRID, dict(grid=[dict(type='one_hot', num_values=[11, 6, 3])]), backend='numpy')
    again = Stack(GRID, stack.config(), backend='numpy')
    assert again.states == stack.states

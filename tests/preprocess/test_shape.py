import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import ConfigError
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

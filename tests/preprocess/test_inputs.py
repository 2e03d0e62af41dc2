"""What a stack is given is checked before anything runs: a bad state is a SpecError naming it,
on both backends, and leaves the stack's memory as it was."""

import numpy as np
import pytest

from modalbridge.bridges import ConfigError, SpecError
from modalbridge.preprocess import Stack

TEXT = dict(caption=dict(type='text'))
TOKENIZE = [dict(type='tokenize', length=3, vocabulary=['red', 'ball'])]
VECTOR = dict(x=dict(type='float', shape=(2,)))


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
@pytest.mark.parametrize('value, received', [
    (b'\xff', "b'\\xff': not UTF-8"),
    (5, 'an element of type int, not str'),
    (None, 'an element of type NoneType, not str'),
    (np.array([[b'\xff']]), 'not UTF-8'),
])
def test_tokenize_refuses_what_is_not_text_naming_the_state(backend, value, received):
    stack = Stack(TEXT, TOKENIZE, backend=backend)
    with pytest.raises(SpecError) as caught:
        stack(dict(caption=value))
    assert caught.value.key == 'caption' and received in str(caught.value)


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
def test_utf8_bytes_are_text(backend):
    stack = Stack(TEXT, TOKENIZE, num_envs=2, backend=backend)
    out = stack(dict(caption=np.array([b'red ball', 'Ball'.encode()], object)))
    assert out['caption'].tolist() == [[2, 3, 0], [3, 0, 0]]


@pytest.mark.parametrize('value', [np.array([[np.nan, 0.0]], np.float32), [[0.0, float('inf')]]])
def test_non_finite_float_states_are_refused(value):
    stack = Stack(VECTOR, ['center'], backend='numpy')
    with pytest.raises(SpecError, match="'x'.*not finite"):
        stack(dict(x=value))


@pytest.mark.parametrize('states, value, why', [
    (dict(image=dict(type='int', shape=(2,), min_value=0, max_value=255, dtype='uint8')), [[1.5, 2.0]],
     'cannot be converted without loss'),
    (dict(image=dict(type='int', shape=(2,), min_value=0, max_value=255, dtype='uint8')), [[300, 2]],
     'outside the range of uint8'),
    (dict(image=dict(type='int', shape=(2,), dtype='int32')), [[2 ** 33 + 3, 0]], 'outside the range of int32'),
    (dict(image=dict(type='float', shape=(2,))), [['1', '2']], 'cannot be converted without loss'),
    (dict(image=dict(type='float', shape=(2,))), [[1, 2**24 + 1]], 'not exactly representable in float32'),
])
def test_plain_values_are_converted_only_losslessly(states, value, why):
    stack = Stack(states, ['flatten'], backend='numpy')
    with pytest.raises(SpecError, match=f"'image'.*{why}"):
        stack(dict(image=value))


def test_a_refused_batch_leaves_the_memory_as_it_was():
    states = dict(x=VECTOR['x'], caption=TEXT['caption'])
    stack = Stack(states, dict(x=[dict(type='sequence', length=2)], caption=TOKENIZE), backend='numpy')
    before = stack.state()
    with pytest.raises(SpecError):
        stack(dict(x=np.ones((1, 2), np.float32), caption=[5]))
    after = stack.state()
    assert all(np.array_equal(before[name], after[name]) for name in before)


def test_update_must_be_a_bool():
    stack = Stack(VECTOR, ['center'], backend='numpy')
    with pytest.raises(ConfigError, match="update: expected True or False; received 'no'"):
        stack(dict(x=np.ones(2, np.float32)), update='no')


@pytest.mark.parametrize('backend', ['numpy', 'tf'])
def test_values_outside_the_spec_bounds_are_refused(backend):
    stack = Stack(dict(move=dict(type='int', shape=(), num_values=3)), ['one_hot'], num_envs=2, backend=backend)
    assert stack(dict(move=np.array([0, 2])))['move'].tolist() == [[1, 0, 0], [0, 0, 1]]
    with pytest.raises(SpecError, match=r"'move'.*out of bounds: 1 bad element\(s\), first at index \(1,\): -3"):
        stack(dict(move=np.array([0, -3])))


def test_a_state_without_preprocessing_is_checked_too():
    stack = Stack(dict(x=VECTOR['x'], image=dict(type='int', shape=(2,), min_value=0, max_value=9)),
                  dict(x=['center']), backend='numpy')
    assert stack(dict(x=np.ones(2, np.float32), image=np.array([1, 9])))['image'].tolist() == [1, 9]
    with pytest.raises(SpecError, match=r"'image'.*out of bounds"):
        stack(dict(x=np.ones(2, np.float32), image=np.array([1, 10])))

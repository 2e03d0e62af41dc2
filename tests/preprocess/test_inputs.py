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


# -- the quick check of exact arrays (Stack._quick_inputs) takes only what the full check takes -----

from hypothesis import given, settings, strategies as st  # noqa: E402

QUICK = dict(x=dict(type='float', shape=(2,), min_value=-1.0, max_value=1.0),
             n=dict(type='int', shape=(), num_values=5),
             image=dict(type='int', shape=(2, 2, 3), min_value=0, max_value=255, dtype='uint8'))


@settings(max_examples=80, deadline=None)
@given(num_envs=st.integers(1, 3), batched=st.booleans(), data=st.data())
def test_the_quick_check_accepts_only_what_the_full_check_accepts_and_gives_the_same(num_envs, batched, data):
    stack = Stack(QUICK, dict(x=[dict(type='clip', min_value=-0.5, max_value=0.5)]), num_envs=num_envs,
                  backend='numpy')
    lead = (num_envs,) if batched or num_envs > 1 else ()
    rows = num_envs if lead else 1
    floats = st.one_of(st.floats(-1.5, 1.5), st.sampled_from([np.nan, np.inf, -np.inf]))

    def array(elements, count, shape, dtypes):
        values = data.draw(st.lists(elements, min_size=count, max_size=count))
        return np.array(values).reshape(lead + shape).astype(data.draw(st.sampled_from(dtypes)))
    states = dict(x=array(floats, 2 * rows, (2,), [np.float32, np.float64]),
                  n=array(st.integers(-1, 5), rows, (), [np.int32, np.int64]),
                  image=np.zeros(lead + (2, 2, 3), data.draw(st.sampled_from([np.uint8, np.int64]))))
    quick = stack._quick_inputs(states)
    try:
        full = stack._inputs(states)
    except SpecError:
        assert quick is None
        return
    if quick is not None:
        assert quick[1] == full[1]
        for name in QUICK:
            assert quick[0][name].dtype == full[0][name].dtype and np.array_equal(quick[0][name], full[0][name])


def test_outputs_never_share_the_arrays_opencv_steps_write_into():
    spec = dict(image=dict(type='int', shape=(6, 4, 3), min_value=0, max_value=255, dtype='uint8'))
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (2, 6, 4, 3), dtype=np.uint8) for _ in range(3)]
    for chain in ([dict(type='grayscale'), dict(type='image_resize', height=3, width=2)],
                  [dict(type='grayscale'), dict(type='image_resize', height=3, width=2),
                   dict(type='sequence', length=2)],
                  [dict(type='grayscale'), dict(type='image_resize', height=3, width=2), 'normalize',
                   dict(type='sequence', length=2)],
                  [dict(type='grayscale')]):
        stack = Stack(spec, dict(image=chain), num_envs=2, backend='numpy')
        reference = Stack(spec, dict(image=chain), num_envs=2, backend='numpy')
        reference._backend._plans = {name: [(kind if kind != 'into' else 'plain', key if kind != 'into' else None, step)
                                            for kind, key, step in plan]
                                     for name, plan in reference._backend._plans.items()}
        kept = []
        for frame in frames:
            out = stack(dict(image=frame))['image']
            kept.append((out, out.copy(), reference(dict(image=frame))['image']))
        for out, copy, expected in kept:  # later calls changed none of the earlier outputs
            assert np.array_equal(out, copy) and np.array_equal(out, expected)
    assert [kind for kind, _, _ in Stack(spec, dict(image=[dict(type='grayscale'), dict(
        type='image_resize', height=3, width=2), dict(type='sequence', length=2)]), backend='numpy')._backend._plans[
            'image']] == ['into', 'into', 'ring']

"""The TF backend's fast paths: the Atari stack within 1/255 of NumPy, the sequence window (packed or
concatenated) equal to the plain `sequence`, its state in the public layout, inputs shared without a copy."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from modalbridge.bridges import ConfigError
from modalbridge.bridges.specs import from_dict
from modalbridge.preprocess import Stack
from modalbridge.preprocess.backends import aligned_empty
from modalbridge.preprocess.image import AreaOfGray
from modalbridge.preprocess.temporal import Sequence, SequenceWindow

from tests.preprocess.helpers import image, image_spec

ATARI = [dict(type='grayscale'), dict(type='image_resize', height=84, width=84),
         dict(type='normalize'), dict(type='sequence', length=4)]


def steps(stack, batches, resets):
    outputs = []
    for index, batch in enumerate(batches):
        if index in resets:
            stack.reset(resets[index])
        outputs.append(stack(dict(image=batch))['image'])
    return outputs


@pytest.mark.parametrize('jit', [False, True])
def test_the_atari_stack_stays_within_one_level_of_numpy_through_episode_starts(jit):
    batches = [image((3, 210, 160, 3), seed=seed) for seed in range(5)]
    resets = {2: np.array([False, True, False]), 3: np.array([True, True, False])}
    expected = steps(Stack(dict(image=image_spec((210, 160, 3))), ATARI, num_envs=3, backend='numpy'),
                     batches, resets)
    stack = Stack(dict(image=image_spec((210, 160, 3))), ATARI, num_envs=3, jit_compile=jit)
    for a, b in zip(expected, steps(stack, batches, resets)):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (3, 84, 84, 4)
        np.testing.assert_allclose(a, b, atol=1.01 / 255, rtol=0)
        assert (np.abs(a - b) > 1e-3).mean() < 0.15  # on noise; about 1% of pixels on Atari frames
    assert stack.tracing_count == 1


@pytest.mark.parametrize('jit, fused, packed', [(False, True, True), (True, False, False)])
def test_the_plan_fuses_gray_and_resize_and_packs_the_window_only_without_xla(jit, fused, packed):
    stack = Stack(dict(image=image_spec((210, 160, 3))), ATARI, num_envs=2, jit_compile=jit)
    plan = stack._backend._plans['image']
    assert isinstance(plan[0][2], AreaOfGray) == fused
    window = plan[-1][2]
    assert isinstance(window, SequenceWindow) and window._packed == packed
    assert [p.type for p in window.fused] == ['normalize'] and window.dtype == np.uint8


def test_gray_and_resize_stay_apart_at_integer_ratios_where_they_are_exact():
    stack = Stack(dict(image=image_spec((12, 12, 3))), ['grayscale', dict(type='image_resize', height=6, width=6)])
    assert not any(isinstance(step, AreaOfGray) for _, _, step in stack._backend._plans['image'])


DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(DTYPES), length=st.integers(1, 5), shape=st.sampled_from([(), (3,), (2, 1), (2, 2)]),
       data=st.data())
def test_packed_and_concatenated_windows_equal_the_plain_sequence(dtype, length, shape, data):
    import tensorflow as tf
    spec = from_dict(dict(type='float' if dtype == np.float32 else 'int', shape=shape, dtype=np.dtype(dtype).name),
                     name='x')
    sequence = Sequence(spec, length)
    windows = [SequenceWindow(sequence, pack=True), SequenceWindow(sequence, pack=False)]
    memories = [tf.constant(w.initial(2)) for w in windows]
    buffer = sequence.initial_state(2)
    info = np.iinfo(dtype) if dtype != np.float32 else np.finfo(dtype)
    for step in range(4):
        x = data.draw(st.lists(st.integers(int(max(info.min, -1000)), int(min(info.max, 1000))),
                               min_size=2 * int(np.prod(shape)), max_size=2 * int(np.prod(shape))))
        x = np.array(x, dtype).reshape((2,) + shape)
        first = np.array([step == 0, data.draw(st.booleans())])
        expected, buffer = sequence.numpy_step(x, buffer, first)
        for index, window in enumerate(windows):
            out, memories[index] = window.step(tf.constant(x), memories[index], tf.constant(first))
            assert np.array_equal(out.numpy(), expected)
            assert np.array_equal(window.public(memories[index].numpy()), buffer[0])


def test_an_atari_window_is_packed_into_words():
    spec = from_dict(dict(type='int', shape=(84, 84, 1), min_value=0, max_value=255, dtype='uint8'), name='x')
    assert SequenceWindow(Sequence(spec, 4))._packed and SequenceWindow(Sequence(spec, 8))._packed
    assert not SequenceWindow(Sequence(spec, 3))._packed  # 3 bytes: no word
    assert not SequenceWindow(Sequence(spec, 4, axis=0))._packed


def test_the_state_of_a_fused_window_is_the_public_layout_after_normalize():
    states = dict(image=image_spec((6, 6, 1)))
    declaration = ['normalize', dict(type='sequence', length=3)]
    stacks = [Stack(states, declaration, num_envs=2, backend=b) for b in ('numpy', 'tf')]
    for seed in range(4):
        x = image((2, 6, 6, 1), seed=seed)
        outs = [stack(dict(image=x))['image'] for stack in stacks]
        np.testing.assert_allclose(outs[0], outs[1], atol=1e-6, rtol=0)  # TF's division rounds its own way
    numpy_state, tf_state = (stack.state() for stack in stacks)
    assert numpy_state.keys() == tf_state.keys()
    for name in numpy_state:
        assert np.array_equal(numpy_state[name], tf_state[name]), name
    assert tf_state['image/sequence/buffer'].shape == (2, 3, 6, 6, 1)
    assert tf_state['image/sequence/buffer'].dtype == np.float32
    stacks[1].load_state(numpy_state)  # and back: the same outputs after
    x = image((2, 6, 6, 1), seed=9)
    np.testing.assert_allclose(stacks[0](dict(image=x))['image'], stacks[1](dict(image=x))['image'], atol=1e-6)


def test_a_window_state_that_no_frame_gives_is_refused():
    stack = Stack(dict(image=image_spec((6, 6, 1))), ['normalize', dict(type='sequence', length=3)], num_envs=2)
    state = stack.state()
    state['image/sequence/buffer'] = np.full((2, 3, 6, 6, 1), 0.5, np.float32)  # 127.5 / 255
    with pytest.raises(ConfigError, match=r"holds values that no uint8 frame gives after \['normalize'\]"):
        stack.load_state(state)


def aligned(shape, dtype=np.uint8):
    """A zeroed array whose data starts on a 64-byte boundary (TF's own alignment)."""
    out = aligned_empty(shape, dtype)
    out[...] = 0
    return out


@pytest.mark.parametrize('offset', [0, 16])
def test_inputs_shared_with_tf_never_show_through_the_outputs(offset):
    x = aligned((2 * 64 * 1024 + offset,))[offset:].reshape(2, 64 * 1024)  # shared at 0, copied at 16
    x[...] = 7
    stack = Stack(dict(x=dict(type='int', shape=(64 * 1024,), min_value=0, max_value=255, dtype='uint8')),
                  ['flatten'], num_envs=2)
    out = stack(dict(x=x))['x']
    x[...] = 9
    assert (out == 7).all()


def test_a_large_aligned_input_is_shared_and_others_staged_in_memory_kept_between_calls():
    stack = Stack(dict(x=dict(type='int', shape=(128, 128), min_value=0, max_value=255, dtype='uint8')),
                  ['normalize'], num_envs=4)
    backend = stack._backend
    x = aligned((4, 128, 128))
    tensor, memory = backend._tensor('x', x)
    x[0, 0, 0] = 5
    assert memory is x and tensor.numpy()[0, 0, 0] == 5  # the same memory
    unaligned = aligned((4 * 128 * 128 + 16,))[16:].reshape(4, 128, 128)
    first, staging = backend._tensor('x', unaligned)
    assert staging is not unaligned and staging.ctypes.data % 64 == 0
    assert backend._tensor('x', unaligned)[1] is staging  # kept, not allocated again
    small = np.zeros((2, 2), np.uint8)
    tensor, memory = backend._tensor('x', small)
    small[0, 0] = 5
    assert memory is None and tensor.numpy()[0, 0] == 0  # copied


def test_outputs_do_not_change_when_the_staging_memory_is_reused():
    spec = dict(type='int', shape=(128, 128), min_value=0, max_value=255, dtype='uint8')
    stack = Stack(dict(x=spec), ['flatten'], num_envs=4)
    first = aligned((4 * 128 * 128 + 16,))[16:].reshape(4, 128, 128)
    first[...] = 1
    out = stack(dict(x=first))['x']
    second = aligned((4 * 128 * 128 + 16,))[16:].reshape(4, 128, 128)  # staged too
    second[...] = 2
    stack(dict(x=second))
    assert (out == 1).all()


def test_a_read_only_input_is_copied():
    # DLPack refuses to export a read-only array (a BufferError before this was handled)
    x = aligned((4, 128, 128))
    x.flags.writeable = False
    stack = Stack(dict(x=dict(type='int', shape=(128, 128), min_value=0, max_value=255, dtype='uint8')),
                  ['normalize'], num_envs=4)
    assert stack(dict(x=x))['x'].shape == (4, 128, 128)


def test_apply_tf_in_a_callers_xla_function_avoids_kernels_xla_lacks():
    # TF's area kernel (AreaOfGray) has no XLA version: only the stack's own function may use it.
    import tensorflow as tf
    plain = Stack(dict(image=image_spec((210, 160, 3))), ATARI, num_envs=2)
    reference = Stack(dict(image=image_spec((210, 160, 3))), ATARI, num_envs=2)
    caller = tf.function(lambda x: plain.apply_tf(dict(image=x))['image'], jit_compile=True)
    for seed in range(3):
        x = image((2, 210, 160, 3), seed=seed)
        np.testing.assert_allclose(caller(tf.constant(x)).numpy(), reference(dict(image=x))['image'],
                                   atol=1.01 / 255, rtol=0)
    assert not any(isinstance(step, AreaOfGray) for _, _, step in plain._backend._portable['image'])

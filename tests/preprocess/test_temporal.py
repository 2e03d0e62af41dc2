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


# -- the NumPy backend's ring (SequenceRing) against a plain model of `sequence` --------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402



def model_sequence(frames, length, axis, starts):
    """What `sequence` means: per environment the last `length` frames (the first repeated), concatenated."""
    history, outputs = None, []
    for frame, (start, update) in zip(frames, starts):
        kept = [list(h) for h in history] if history else [[] for _ in frame]
        for env, x in enumerate(frame):
            kept[env] = [x] * length if start[env] or not kept[env] else kept[env][1:] + [x]
        outputs.append(np.stack([np.concatenate(k, axis=axis) for k in kept]))
        if update:
            history = kept
    return outputs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.integers(1, 5), shape=st.sampled_from([(), (3,), (2, 3), (4, 4, 1), (4, 4, 2)]),
       axis=st.integers(-3, 2), num_envs=st.integers(1, 3), normalize=st.booleans(),
       steps=st.lists(st.tuples(st.integers(0, 7), st.booleans()), min_size=1, max_size=9),
       seed=st.integers(0, 2 ** 16))
def test_ring_equals_the_plain_model_with_resets_and_peeks(length, shape, axis, num_envs, normalize, steps, seed):
    if shape and not -len(shape) <= axis < len(shape):
        axis = -1
    spec = dict(type='int', shape=shape, min_value=0, max_value=255, dtype='uint8')
    chain = (['normalize'] if normalize else []) + [dict(type='sequence', length=length, axis=axis)]
    stack = Stack(dict(x=spec), chain, num_envs=num_envs, backend='numpy')
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (num_envs,) + shape, dtype=np.uint8) for _ in steps]
    starts, outputs = [], []
    first = np.ones(num_envs, bool)
    for frame, (reset_bits, update) in zip(frames, steps):
        mask = np.array([(reset_bits >> env) & 1 for env in range(num_envs)], bool)
        stack.reset(mask)
        first = first | mask
        starts.append((first.copy(), update))
        outputs.append(stack(dict(x=frame), update=update)['x'])
        if update:
            first = np.zeros(num_envs, bool)
    scaled = [(f.astype(np.float32) - np.float32(0)) / np.float32(255) if normalize else f for f in frames]
    rank_axis = axis % len(shape) if shape else 0
    reshaped = [s.reshape((num_envs,) + (shape or (1,))) for s in scaled]
    for got, expected in zip(outputs, model_sequence(reshaped, length, rank_axis, starts)):
        assert got.dtype == (np.float32 if normalize else np.uint8)
        assert np.array_equal(got, expected.reshape(got.shape))


def test_fused_normalize_runs_once_per_new_frame_and_the_public_state_is_unchanged():
    spec = dict(type='int', shape=(2, 2, 1), min_value=0, max_value=255, dtype='uint8')
    chain = ['normalize', dict(type='sequence', length=3)]
    numpy_stack = Stack(dict(x=spec), chain, num_envs=2, backend='numpy')
    ring = numpy_stack._backend._rings[('x', 1)]
    assert ring.raw_dtype == np.uint8 and [p.type for p in ring.fused] == ['normalize']
    sizes, forward = [], ring._forward
    ring._forward = lambda x, out=None: sizes.append(x.size) or forward(x, out)
    numpy_stack(dict(x=np.full((2, 2, 2, 1), 5, np.uint8)))
    assert sizes == [2 * 2 * 2]  # one new frame per environment, not the 3 frames of the output
    ring._forward = forward
    for value in (10, 20, 30, 40):
        numpy_stack(dict(x=np.full((2, 2, 2, 1), value, np.uint8)))
    state = numpy_stack.state()
    buffer = state['x/sequence/buffer']
    assert buffer.dtype == np.float32 and buffer.shape == (2, 3, 2, 2, 1)
    assert (buffer[:, :, 0, 0, 0] * 255).round().tolist() == [[20, 30, 40]] * 2  # oldest first
    tf_stack = Stack(dict(x=spec), chain, num_envs=2, backend='tf')
    tf_stack.load_state(state)
    again = Stack(dict(x=spec), chain, num_envs=2, backend='numpy')
    again.load_state(tf_stack.state())
    frame = dict(x=np.full((2, 2, 2, 1), 50, np.uint8))
    assert np.array_equal(again(frame)['x'], numpy_stack(frame)['x'])


def test_a_fused_ring_refuses_a_state_no_uint8_frame_gives():
    spec = dict(type='int', shape=(2,), min_value=0, max_value=255, dtype='uint8')
    stack = Stack(dict(x=spec), ['normalize', dict(type='sequence', length=2)], backend='numpy')
    state = stack.state()
    state['x/sequence/buffer'] = np.full((1, 2, 2), 0.5, np.float32)  # 127.5 / 255
    with pytest.raises(ConfigError, match=r"load_state: 'x/sequence': holds values that no uint8 frame gives "
                                          r"after \['normalize'\]"):
        stack.load_state(state)
    assert stack.state()['x/sequence/buffer'].max() == 0.0  # nothing written


def test_only_small_integer_inputs_and_elementwise_steps_are_fused():
    image = dict(type='int', shape=(2, 2, 1), min_value=0, max_value=255, dtype='uint8')
    wide = dict(type='int', shape=(2,), min_value=0, max_value=10, dtype='int64')
    fused = lambda spec, chain: [p.type for p in Stack(  # noqa: E731
        dict(x=spec), chain, backend='numpy')._backend._rings[('x', len(chain) - 1)].fused]
    assert fused(image, ['normalize', dict(type='scale', factor=2.0), dict(type='sequence', length=2)]) == \
        ['normalize', 'scale']
    assert fused(image, ['center', dict(type='sequence', length=2)]) == []
    assert fused(wide, ['normalize', dict(type='sequence', length=2)]) == []



@pytest.mark.parametrize('dtype, factor', [('int16', -0.5), ('uint16', 3.0), ('int8', 0.25)])
def test_fused_scale_on_other_small_integers_matches_tf_and_round_trips_its_state(dtype, factor):
    info = np.iinfo(dtype)
    spec = dict(type='int', shape=(3,), min_value=int(info.min), max_value=int(info.max), dtype=dtype)
    chain = [dict(type='scale', factor=factor), dict(type='sequence', length=3)]
    rng = np.random.default_rng(1)
    batches = [dict(x=rng.integers(info.min, int(info.max) + 1, (2, 3)).astype(dtype)) for _ in range(5)]
    stack, outputs = both(dict(x=spec), chain, batches, atol=0)
    assert [p.type for p in stack._backend._rings[('x', 1)].fused] == ['scale']
    again = Stack(dict(x=spec), chain, num_envs=2, backend='numpy')
    again.load_state(stack.state())
    assert np.array_equal(again.state()['x/sequence/buffer'], stack.state()['x/sequence/buffer'])
    extra = dict(x=np.full((2, 3), 7, dtype))
    assert np.array_equal(again(extra)['x'], stack(extra)['x'])

import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import ConfigError
from modalbridge.preprocess import Stack

from tests.preprocess.helpers import both, image, image_spec

VECTOR = dict(type='float', shape=(4,))
X = np.array([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]], np.float32)


def test_center_golden_value():
    stack, out = both(dict(x=VECTOR), [dict(type='center')], [dict(x=X)])
    assert out[0]['x'].tolist() == [[-2.0, -1.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]]
    assert stack.states['x'] == dm_specs.Array((4,), np.float32, name='x')


def test_standardize_golden_value_and_floor():
    _, out = both(dict(x=VECTOR), [dict(type='standardize')], [dict(x=X)])
    std = np.sqrt(np.mean(np.square([-2.0, -1.0, 0.0, 3.0])))
    np.testing.assert_allclose(out[0]['x'][0], np.array([-2.0, -1.0, 0.0, 3.0]) / std, rtol=1e-6)
    assert out[0]['x'][1].tolist() == [0.0, 0.0, 0.0, 0.0]  # std 0 -> divided by 1e-8, no NaN


def test_normalize_uint8_images_to_unit_interval():
    x = np.array([[[[0, 51, 255]]]], np.uint8)
    stack, out = both(dict(image=image_spec((1, 1, 3))), [dict(type='normalize')], [dict(image=x)])
    np.testing.assert_allclose(out[0]['image'][0, 0, 0], [0.0, 0.2, 1.0])
    assert stack.states['image'] == dm_specs.BoundedArray((1, 1, 3), np.float32, 0.0, 1.0, name='image')


def test_normalize_per_element_bounds():
    spec = dm_specs.BoundedArray((2,), np.float32, [-1.0, 0.0], [1.0, 10.0], name='x')
    _, out = both(dict(x=spec), [dict(type='normalize')], [dict(x=np.array([[0.0, 5.0]], np.float32))])
    assert out[0]['x'].tolist() == [[0.5, 0.5]]


@pytest.mark.parametrize('spec, message', [
    (VECTOR, 'needs a bounded spec (min_value/max_value); got float32 array of shape (4,), finite'),
    (dict(type='float', shape=(2,), min_value=0.0),
     'needs finite bounds with max_value > min_value, their difference a finite non-zero float32; '
     'got float32 array of shape (2,) in [0.0, inf]'),
    (dict(type='float', shape=(2,), min_value=-3e38, max_value=3e38, dtype='float32'),
     'needs finite bounds with max_value > min_value, their difference a finite non-zero float32; '
     'got float32 array of shape (2,) in [-3.0000000054977558e+38, 3.0000000054977558e+38]'),
    (dict(type='text'), 'expects a numeric array; got text'),
    (dict(type='bool', shape=(2,)), 'expects a numeric array; got bool array of shape (2,)'),
])
def test_normalize_errors(spec, message):
    with pytest.raises(ConfigError) as caught:
        Stack(dict(x=spec), dict(x=['normalize']))
    assert str(caught.value) == f"preprocessing['x'][0] (normalize): {message}"


def test_clip_keeps_dtype_and_narrows_bounds():
    x = np.array([[[[0, 100, 255]]]], np.uint8)
    stack, out = both(dict(image=image_spec((1, 1, 3))), [dict(type='clip', min_value=50, max_value=200)],
                      [dict(image=x)])
    assert out[0]['image'].tolist() == [[[[50, 100, 200]]]] and out[0]['image'].dtype == np.uint8
    spec = stack.states['image']
    assert spec.minimum == 50 and spec.maximum == 200


@pytest.mark.parametrize('entry, message', [
    (dict(min_value=2, max_value=1), 'min_value must not exceed max_value'),
    (dict(min_value=0.5, max_value=1), 'integer specs clip to integer bounds'),
    (dict(min_value=300, max_value=400), r"\[300, 400\] does not overlap the spec's bounds"),
])
def test_clip_errors(entry, message):
    with pytest.raises(ConfigError, match=r'\(clip\): ' + message):
        Stack(dict(image=image_spec()), [dict(type='clip', **entry)])


def test_scale_golden_value_and_bounds():
    stack, out = both(dict(image=image_spec((1, 1, 2))), [dict(type='scale', factor=-0.5)],
                      [dict(image=np.array([[[[2, 255]]]], np.uint8))])
    assert out[0]['image'].tolist() == [[[[-1.0, -127.5]]]]
    assert stack.states['image'].minimum == -127.5 and stack.states['image'].maximum == 0.0


def test_scale_refuses_zero():
    with pytest.raises(ConfigError, match=r'\(scale\): factor: expected a non-zero number within float32 range'):
        Stack(dict(x=VECTOR), [dict(type='scale', factor=0)])


def test_random_images_agree_across_backends():
    x = image((4, 12, 10, 3))
    both(dict(image=image_spec((12, 10, 3))),
         [dict(type='normalize'), dict(type='center'), dict(type='scale', factor=2.0),
          dict(type='clip', min_value=-1.0, max_value=1.0), dict(type='standardize')], [dict(image=x)], atol=1e-5)


@pytest.mark.parametrize('kind', ['center', 'standardize', 'frame_max', 'deltafier', 'running_standardize'])
def test_numeric_types_refuse_text_naming_the_spec_they_got(kind):
    with pytest.raises(ConfigError) as caught:
        Stack(dict(caption=dict(type='text')), dict(caption=[kind]))
    assert str(caught.value) == f"preprocessing['caption'][0] ({kind}): expects a numeric array; got text"


def test_elementwise_types_are_written_once_and_their_backends_agree_bit_for_bit():
    from modalbridge.preprocess.base import Elementwise
    from modalbridge.preprocess import preprocessor_types
    for kind in ('center', 'standardize', 'normalize', 'clip', 'scale', 'flatten'):
        cls = preprocessor_types()[kind]
        assert issubclass(cls, Elementwise) and 'numpy' not in vars(cls) and 'tf' not in vars(cls), kind
    states = dict(x=dict(type='float', shape=(3, 2), min_value=-2.0, max_value=3.0))
    declaration = [dict(type='clip', min_value=-1, max_value=2), dict(type='scale', factor=0.37), 'normalize',
                   'flatten']
    batches = [dict(x=np.random.default_rng(seed).uniform(-2, 3, (4, 3, 2)).astype(np.float32)) for seed in range(3)]
    _, out = both(states, declaration, batches, atol=0)
    assert out[0]['x'].shape == (4, 6)

import cv2
import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import ConfigError
from modalbridge.preprocess import Stack
from modalbridge.preprocess.image import resize_weights

from tests.preprocess.helpers import both, image, image_spec, run


def test_area_resize_golden_value():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    _, out = both(dict(image=dict(type='float', shape=(4, 4, 1))),
                  [dict(type='image_resize', height=2, width=2)], [dict(image=x)])
    assert out[0]['image'][0, :, :, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]


def test_resize_takes_height_then_width():
    stack = Stack(dict(image=image_spec((60, 40, 3))), [dict(type='image_resize', height=30, width=10)])
    assert stack.states['image'].shape == (30, 10, 3)


@pytest.mark.parametrize('size', [(210, 160, 84, 84), (64, 48, 32, 24), (100, 80, 30, 70), (9, 7, 4, 3)])
def test_area_equals_opencv_inter_area_on_float(size):
    height, width, out_h, out_w = size
    x = image((2, height, width, 3), np.float32)
    for backend in ('numpy', 'tf'):
        _, out = run(dict(image=image_spec((height, width, 3), 'float32')),
                     [dict(type='image_resize', height=out_h, width=out_w)], [dict(image=x)], backend)
        expected = cv2.resize(x[1], (out_w, out_h), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(out[0]['image'][1], expected, atol=1e-4)


@pytest.mark.parametrize('method, flag', [('area', cv2.INTER_AREA), ('bilinear', cv2.INTER_LINEAR),
                                          ('nearest', cv2.INTER_NEAREST)])
def test_uint8_resize_equals_opencv_at_integer_ratios(method, flag):
    x = image((1, 64, 48, 3))
    for backend in ('numpy', 'tf'):
        _, out = run(dict(image=image_spec((64, 48, 3))),
                     [dict(type='image_resize', height=32, width=24, method=method)], [dict(image=x)], backend)
        assert out[0]['image'].dtype == np.uint8
        assert np.array_equal(out[0]['image'][0], cv2.resize(x[0], (24, 32), interpolation=flag))


def test_uint8_area_at_other_ratios_is_within_one_on_few_pixels():
    x = image((1, 210, 160, 3))
    _, out = run(dict(image=image_spec((210, 160, 3))), [dict(type='image_resize', height=84, width=84)],
                 [dict(image=x)], 'tf')
    diff = np.abs(out[0]['image'][0].astype(int) - cv2.resize(x[0], (84, 84), interpolation=cv2.INTER_AREA))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_bilinear_enlarges_like_opencv_on_float():
    x = image((1, 5, 4, 2), np.float32)
    _, out = both(dict(image=image_spec((5, 4, 2), 'float32')),
                  [dict(type='image_resize', height=11, width=9, method='bilinear')], [dict(image=x)], atol=1e-5)
    np.testing.assert_allclose(out[0]['image'][0], cv2.resize(x[0], (9, 11), interpolation=cv2.INTER_LINEAR),
                               atol=1e-5)


@pytest.mark.parametrize('size_in, size_out, stacked', [
    ((210, 160, 1), (84, 84), True), ((210, 160, 3), (84, 84), True), ((12, 12, 1), (6, 6), True),
    ((100, 90, 3), (50, 30), True), ((7, 9, 1), (3, 4), False), ((45, 20, 2), (7, 5), False)])
@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_a_batch_resized_as_one_tall_image_equals_resizing_each_frame(size_in, size_out, stacked, dtype):
    spec = image_spec(size_in, np.dtype(dtype).name)
    stack = Stack(dict(x=spec), [dict(type='image_resize', height=size_out[0], width=size_out[1])],
                  num_envs=5, backend='numpy')
    assert stack._chains['x'][0]._stackable == stacked
    frames = image((5,) + size_in, dtype, seed=3)
    expected = np.stack([cv2.resize(frame, size_out[::-1], interpolation=cv2.INTER_AREA).reshape(
        size_out + size_in[2:]) for frame in frames])
    assert np.array_equal(stack(dict(x=frames))['x'], expected)


def test_resize_weights_rows_sum_to_one():
    for method in ('area', 'bilinear', 'nearest'):
        np.testing.assert_allclose(resize_weights(210, 84, method).sum(axis=1), 1.0)


def test_resize_keeps_one_channel_images():
    _, out = both(dict(image=image_spec((8, 8, 1))), [dict(type='image_resize', height=4, width=4)],
                  [dict(image=image((1, 8, 8, 1)))])
    assert out[0]['image'].shape == (1, 4, 4, 1)


@pytest.mark.parametrize('spec, entry, message', [
    (dict(type='text'), dict(height=2, width=2), 'expects an image (height, width, channels); got text'),
    (dict(type='float', shape=(4,)), dict(height=2, width=2), 'got float32 array of shape (4,)'),
    (image_spec(), dict(height=0, width=2), 'height: expected an int in [1, 32768]; received 0'),
    (image_spec(), dict(height=2, width=2, method='cubic'), "method: expected one of ['area', 'bilinear', 'nearest']; received 'cubic'"),
    (image_spec(), dict(height=12, width=2), "area resizing shrinks images; 6x6 -> 12x2 enlarges"),
    (dict(type='int', shape=(6, 6, 3), min_value=0, max_value=9), dict(height=2, width=2),
     'dtype int64 is not resized by OpenCV'),
])
def test_resize_errors_name_the_place(spec, entry, message):
    with pytest.raises(ConfigError) as caught:
        Stack(dict(image=spec), dict(image=[dict(type='image_resize', **entry)]))
    assert str(caught.value).startswith("preprocessing['image'][0] (image_resize): ")
    assert message in str(caught.value)


def test_grayscale_golden_values_and_opencv_parity():
    x = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]]], np.uint8)
    _, out = both(dict(image=image_spec((1, 4, 3))), [dict(type='grayscale')], [dict(image=x)])
    assert out[0]['image'][0, 0, :, 0].tolist() == [76, 150, 29, 124]
    assert np.array_equal(out[0]['image'][0, :, :, 0], cv2.cvtColor(x[0], cv2.COLOR_RGB2GRAY))


@pytest.mark.parametrize('dtype', ['uint8', 'float32'])
def test_grayscale_matches_cvtcolor_on_random_images(dtype):
    x = image((3, 20, 30, 3), dtype)
    _, out = both(dict(image=image_spec((20, 30, 3), dtype)), [dict(type='grayscale', keep_dim=False)],
                  [dict(image=x)], atol=1e-5)
    assert out[0]['image'].shape == (3, 20, 30) and out[0]['image'].dtype == np.dtype(dtype)
    for frame, gray in zip(x, out[0]['image']):
        np.testing.assert_allclose(gray, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), atol=1e-5)


def test_grayscale_custom_weights_round_half_to_even():
    x = np.array([[[[1, 2, 0]]]], np.uint8)  # 0.5 * 1 + 0.5 * 2 = 1.5 -> 2
    _, out = both(dict(image=image_spec((1, 1, 3))), [dict(type='grayscale', weights=(0.5, 0.5, 0.0))],
                  [dict(image=x)])
    assert out[0]['image'].item() == 2


@pytest.mark.parametrize('entry, message', [
    (dict(weights=(0.5, 0.5)), r'weights: expected 3 numbers \(r, g, b\)'),
    (dict(weights=(1.0, 1.0, 1.0)), 'weights: expected non-negative numbers summing to 1'),
])
def test_grayscale_errors(entry, message):
    with pytest.raises(ConfigError, match=r"preprocessing\[0\] \(grayscale\): " + message):
        Stack(dict(image=image_spec()), [dict(type='grayscale', **entry)])


def test_grayscale_refuses_non_rgb():
    with pytest.raises(ConfigError, match=r'expects an RGB array \(\.\.\., 3\); got uint8 array of shape \(6, 6, 1\)'):
        Stack(dict(image=image_spec((6, 6, 1))), [dict(type='grayscale')])


def test_crop_golden_value_and_spec():
    x = np.arange(36, dtype=np.uint8).reshape(1, 6, 6, 1)
    stack, out = both(dict(image=image_spec((6, 6, 1))), [dict(type='crop', top=1, left=2, height=2, width=3)],
                      [dict(image=x)])
    assert out[0]['image'][0, :, :, 0].tolist() == [[8, 9, 10], [14, 15, 16]]
    assert stack.states['image'] == dm_specs.BoundedArray((2, 3, 1), np.uint8, 0, 255, name='image')


def test_crop_box_must_fit():
    with pytest.raises(ConfigError, match=r'\(crop\): the box top=4, left=0, height=3, width=3 does not fit inside 6x6'):
        Stack(dict(image=image_spec()), [dict(type='crop', top=4, left=0, height=3, width=3)])

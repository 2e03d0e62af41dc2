"""Every preprocessor argument is checked: bools are not ints, NaN/inf/huge values are refused,
and the error names the place in the declaration and the argument."""

import math

import numpy as np
import pytest

from modalbridge.bridges import ConfigError
from modalbridge.preprocess import Stack

from tests.preprocess.helpers import image_spec

IMAGE = dict(image=image_spec((12, 12, 3)))
VECTOR = dict(x=dict(type='float', shape=(2, 2)))
TEXT = dict(caption=dict(type='text'))
NAN, INF = math.nan, math.inf


@pytest.mark.parametrize('states, entry, message', [
    (IMAGE, dict(type='image_resize', height=True, width=4), 'height: expected an int in [1, 32768]; received True (a bool)'),
    (IMAGE, dict(type='image_resize', height=4, width=4.0), 'width: expected an int in [1, 32768]; received 4.0'),
    (IMAGE, dict(type='image_resize', height=10**12, width=4, method='bilinear'), 'height: expected an int in [1, 32768]'),
    (IMAGE, dict(type='image_resize', height=4, width=4, method=None), "method: expected one of ['area', 'bilinear', 'nearest']"),
    (IMAGE, dict(type='grayscale', weights=[NAN] * 3), 'weights[0]: expected a finite number >= 0; received nan'),
    (IMAGE, dict(type='grayscale', weights=[1.0, INF, 0.0]), 'weights[1]: expected a finite number >= 0; received inf'),
    (IMAGE, dict(type='grayscale', weights='abc'), "weights: expected 3 numbers (r, g, b); received 'abc'"),
    (IMAGE, dict(type='grayscale', weights=[True, False, False]), 'weights[0]: expected a finite number >= 0; received True'),
    (IMAGE, dict(type='grayscale', keep_dim=1), 'keep_dim: expected True or False; received 1'),
    (IMAGE, dict(type='crop', top=False, left=0, height=2, width=2), 'top: expected an int >= 0; received False (a bool)'),
    (IMAGE, dict(type='scale', factor=1e308), 'factor: expected a non-zero number within float32 range'),
    (IMAGE, dict(type='scale', factor=1e-300), 'factor: expected a non-zero number within float32 range'),
    (IMAGE, dict(type='scale', factor=NAN), 'factor: expected a finite number; received nan'),
    (IMAGE, dict(type='scale', factor=True), 'factor: expected a finite number; received True (a bool)'),
    (IMAGE, dict(type='scale', factor=1e37), 'factor: 1e+37 takes the bounds of'),
    (IMAGE, dict(type='clip', min_value=NAN, max_value=1), 'min_value: expected a finite number; received nan'),
    (IMAGE, dict(type='clip', min_value=0, max_value='1'), "max_value: expected a finite number; received '1'"),
    (VECTOR, dict(type='running_standardize', epsilon=NAN), 'epsilon: expected a finite number > 0; received nan'),
    (VECTOR, dict(type='running_standardize', epsilon=INF), 'epsilon: expected a finite number > 0; received inf'),
    (VECTOR, dict(type='running_standardize', epsilon=True), 'epsilon: expected a finite number > 0; received True'),
    (VECTOR, dict(type='sequence', length=True), 'length: expected an int in [1, 4096]; received True (a bool)'),
    (VECTOR, dict(type='sequence', length=10**9), 'length: expected an int in [1, 4096]; received 1000000000'),
    (VECTOR, dict(type='sequence', length=2, axis=1.0), 'axis: expected an int; received 1.0'),
    (TEXT, dict(type='tokenize', length=True, vocabulary=['a']), 'length: expected an int in [1, 65536]; received True'),
    (TEXT, dict(type='tokenize', vocabulary=['a'], lowercase='yes'), "lowercase: expected True or False; received 'yes'"),
    (TEXT, dict(type='tokenize', vocabulary='ab'), "vocabulary: expected a non-empty list of strings; received 'ab'"),
    (TEXT, dict(type='tokenize', vocabulary=[1, 2]), 'vocabulary: expected a non-empty list of strings; received [1, 2]'),
    (TEXT, dict(type='tokenize', corpus=['a', None]), "corpus: expected a list of texts (strings); received ['a', None]"),
])
def test_bad_arguments_are_refused_naming_the_entry_and_the_argument(states, entry, message):
    with pytest.raises(ConfigError) as caught:
        Stack(states, [entry], backend='numpy')
    assert str(caught.value).startswith(f"preprocessing[0] ({entry['type']}): ")
    assert message in str(caught.value)


def test_clip_bounds_stay_inside_what_the_dtype_holds():
    states = dict(x=dict(type='int', shape=(2,), dtype='int8'))
    stack = Stack(states, [dict(type='clip', min_value=-1000, max_value=1000)], backend='numpy')
    assert (stack.states['x'].minimum, stack.states['x'].maximum) == (-128, 127)
    out = stack(dict(x=np.array([[-128, 127]], np.int8)))
    assert out['x'].tolist() == [[-128, 127]]


@pytest.mark.parametrize('option, message', [
    (dict(num_envs=True), 'num_envs: expected an int >= 1; received True (a bool)'),
    (dict(jit_compile='no'), "jit_compile: expected True or False; received 'no'"),
    (dict(safe_mode=0), 'safe_mode: expected True or False; received 0'),
])
def test_bad_stack_options_name_the_option(option, message):
    with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace(')', r'\)')):
        Stack(VECTOR, ['center'], backend='numpy', **option)

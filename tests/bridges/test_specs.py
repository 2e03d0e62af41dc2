import json

import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import ConfigError, SpecError, specs

FLOAT = dm_specs.BoundedArray((2,), np.float32, -1.0, 1.0, name='force')
CHOICE = dm_specs.DiscreteArray(3, dtype=np.int64, name='move')
FREE = dm_specs.Array((3,), np.float32, name='velocity')
FLAGS = dm_specs.Array((2,), bool, name='flags')
TEXT = dm_specs.StringArray((), name='caption')
IMAGE = dm_specs.BoundedArray((4, 4, 3), np.uint8, 0, 255, name='image')


def test_python_values_are_converted_to_the_spec_dtype():
    assert specs.validate(FLOAT, [0.5, -1]).dtype == np.float32
    value = specs.validate(CHOICE, 2)
    assert value.dtype == np.int64 and value.shape == () and value == 2
    assert specs.validate(FLAGS, [True, False]).tolist() == [True, False]
    assert specs.validate(FLAGS, np.array([1, 0], np.int8)).dtype == bool
    assert specs.validate(TEXT, 'go to the ball').item() == 'go to the ball'


def test_error_names_key_expected_and_received():
    with pytest.raises(SpecError) as caught:
        specs.validate(CHOICE, 3)
    error = caught.value
    assert error.key == 'move'
    assert str(error) == ("'move': expected int64 scalar in [0, 3) (num_values=3); "
                          'received int 3 (out of bounds)')


@pytest.mark.parametrize('spec, value, why', [
    (FLOAT, [0.5, 2.0], 'out of bounds: 1 bad element(s), first at index (1,): 2.0'),
    (FLOAT, [np.nan, 0.0], 'not finite'),
    (FREE, [np.inf, 0.0, 0.0], 'not finite'),
    (FLOAT, [0.0, 0.0, 0.0], 'shape (3,) instead of (2,)'),
    (CHOICE, 1.0, 'dtype float64 cannot be converted without loss'),
    (CHOICE, True, 'dtype bool cannot be converted without loss'),
    (CHOICE, -1, 'out of bounds'),
    (FLAGS, [2, 0], 'not 0 or 1'),
    (FLOAT, 'left', 'dtype str'),
    (TEXT, 3, 'an element of type int, not str'),
    (TEXT, ['a', 'b'], 'shape (2,) instead of ()'),
    (IMAGE, np.full((4, 4, 3), 300, np.int64), 'outside the range of uint8'),
])
def test_bad_values_are_rejected_never_fixed(spec, value, why):
    with pytest.raises(SpecError, match=repr(spec.name)) as caught:
        specs.validate(spec, value)
    assert why in str(caught.value)


def test_nan_is_rejected_even_without_bounds():
    with pytest.raises(SpecError, match='not finite'):
        specs.validate(dm_specs.Array((), np.float64, name='x'), float('nan'))


def test_validate_does_not_clip_or_round():
    with pytest.raises(SpecError):
        specs.validate(FLOAT, [1.0000001, 0.0])
    with pytest.raises(SpecError):
        specs.validate(dm_specs.Array((), np.int32, name='count'), 2 ** 40)


@pytest.mark.parametrize('short, expected', [
    (dict(type='int', shape=(), num_values=5), dm_specs.DiscreteArray(5, dtype=np.int64, name='x')),
    (dict(type='int', shape=(3,), num_values=4), dm_specs.BoundedArray((3,), np.int64, 0, 3, name='x')),
    (dict(type='float', shape=(4,), min_value=-1.0, max_value=1.0),
     dm_specs.BoundedArray((4,), np.float32, -1.0, 1.0, name='x')),
    (dict(type='float', shape=4), dm_specs.Array((4,), np.float32, name='x')),
    (dict(type='bool'), dm_specs.Array((), bool, name='x')),
    (dict(type='text'), dm_specs.StringArray((), name='x')),
    (dict(type='int', shape=(2,), min_value=-3, max_value=3, dtype='int32'),
     dm_specs.BoundedArray((2,), np.int32, -3, 3, name='x')),
])
def test_short_form_makes_dm_env_specs_and_back(short, expected):
    spec = specs.from_dict(short, name='x')
    assert type(spec) is type(expected)
    assert spec == expected
    again = specs.from_dict(json.loads(json.dumps(specs.to_dict(spec))), name='x')
    assert again == spec and type(again) is type(spec)


def test_to_dict_of_text_and_choice():
    assert specs.to_dict(CHOICE) == dict(type='int', shape=(), num_values=3)
    assert specs.to_dict(TEXT) == dict(type='text', shape=())


@pytest.mark.parametrize('short, message', [
    (dict(type='integer'), "type must be one of ['int', 'float', 'bool', 'text']; received 'integer'"),
    (dict(type='int', values=3), "unknown key(s) ['values']"),
    (dict(type='int', num_values=0), 'num_values must be a positive int'),
    (dict(type='float', num_values=3), 'num_values must be a positive int on an int spec'),
    (dict(type='int', num_values=3, max_value=2), 'give num_values or min_value/max_value, not both'),
    (dict(type='bool', max_value=1), 'bool takes no bounds'),
    (dict(type='text', num_values=2), 'text takes only type and shape'),
    (dict(type='float', shape=(-1,)), 'shape must be non-negative ints'),
    (dict(type='float', min_value=1.0, max_value=0.0), 'invalid bounds'),
    (dict(type='float', dtype='int32'), "dtype int32 does not fit type 'float'"),
])
def test_bad_short_forms_raise_config_error_naming_the_spec(short, message):
    with pytest.raises(ConfigError, match="spec 'x'") as caught:
        specs.from_dict(short, name='x')
    assert message in str(caught.value)


def test_as_specs_names_each_spec_by_its_key_and_is_read_only():
    declared = specs.as_specs(dict(a=dict(type='float', shape=(2,)), b=FLOAT))
    assert declared['a'].name == 'a' and declared['b'].name == 'b'
    with pytest.raises(TypeError):
        declared['c'] = FLOAT  # type: ignore[index]


def test_as_specs_rejects_non_specs():
    with pytest.raises(ConfigError, match="spec 'a': expected a dm_env spec or a short-form dict"):
        specs.as_specs(dict(a=3))


@pytest.mark.parametrize('spec', [FLOAT, CHOICE, FREE, FLAGS, TEXT, IMAGE,
                                  dm_specs.BoundedArray((2,), np.float64, [-np.inf, 0.0], [0.0, np.inf], name='half')])
def test_samples_are_valid(spec):
    rng = np.random.default_rng(0)
    for _ in range(20):
        specs.validate(spec, specs.sample(spec, rng))


def test_discrete_predicates():
    assert specs.is_discrete(CHOICE) and specs.num_values(CHOICE) == 3
    multi = dm_specs.BoundedArray((2,), np.int64, 0, [2, 4], name='m')
    assert specs.is_discrete(multi) and specs.num_values(multi).tolist() == [3, 5]
    assert not specs.is_discrete(FLOAT)
    with pytest.raises(ConfigError, match="spec 'force' is not discrete"):
        specs.num_values(FLOAT)

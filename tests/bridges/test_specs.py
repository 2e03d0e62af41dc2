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


# -- round trips through to_dict / from_dict / JSON (issue 10) -----------------

from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


@st.composite
def bounded_specs(draw):
    shape = draw(SHAPES)
    dtype = np.dtype(draw(st.sampled_from(INT_DTYPES + FLOAT_DTYPES)))
    bound_shape = draw(st.sampled_from([(), shape]))
    if dtype.kind == 'f':
        elements = st.floats(allow_nan=False, width=dtype.itemsize * 8)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    first = draw(hnp.arrays(dtype, bound_shape, elements=elements))
    second = draw(hnp.arrays(dtype, bound_shape, elements=elements))
    return dm_specs.BoundedArray(shape, dtype, np.minimum(first, second), np.maximum(first, second),
                                 name='x')


ALL_SPECS = st.one_of(
    st.builds(lambda shape: dm_specs.StringArray(shape, name='x'), SHAPES),
    st.builds(lambda shape, dtype: dm_specs.Array(shape, dtype, name='x'), SHAPES,
              st.sampled_from([bool] + INT_DTYPES + FLOAT_DTYPES)),
    st.builds(lambda n, dtype: dm_specs.DiscreteArray(n, dtype=dtype, name='x'),
              st.integers(1, 100), st.sampled_from([np.int32, np.int64, np.uint8])),
    bounded_specs())


def assert_same_spec(again, spec):
    assert again.name == spec.name and again.shape == spec.shape
    if specs.is_text(spec):
        assert specs.is_text(again)
        return
    assert again.dtype == spec.dtype
    assert isinstance(again, dm_specs.BoundedArray) == isinstance(spec, dm_specs.BoundedArray)
    if isinstance(spec, dm_specs.BoundedArray):
        for ours, theirs in [(again.minimum, spec.minimum), (again.maximum, spec.maximum)]:
            assert np.array_equal(np.broadcast_to(ours, spec.shape), np.broadcast_to(theirs, spec.shape))
        assert specs.is_discrete(again) == specs.is_discrete(spec)


@settings(max_examples=300, deadline=None)
@given(ALL_SPECS)
def test_every_spec_kind_round_trips_through_to_dict_from_dict_and_json(spec):
    short = specs.to_dict(spec)
    assert_same_spec(specs.from_dict(short, name='x'), spec)
    assert_same_spec(specs.from_dict(json.loads(json.dumps(short)), name='x'), spec)


def test_per_element_bounds_round_trip_cartpole():
    # A2C checkpoints of CartPole stored exactly this spec: from_dict failed with
    # "truth value of an array is ambiguous".
    high = np.array([4.8, np.finfo(np.float32).max, 0.418, np.finfo(np.float32).max], np.float32)
    spec = dm_specs.BoundedArray((4,), np.float32, -high, high, name='state')
    again = specs.from_dict(json.loads(json.dumps(specs.to_dict(spec))), name='state')
    assert_same_spec(again, spec)
    assert again.minimum[1] == -np.finfo(np.float32).max  # kept, not turned into -inf


@pytest.mark.parametrize('short, message', [
    (dict(type='float', shape=2.0), 'shape must be non-negative ints; received float 2.0'),
    (dict(type='float', shape=(True, 2)), 'shape must be non-negative ints'),
    (dict(type='float', shape='ab'), 'shape must be non-negative ints'),
    (dict(type='int', dtype='int8', min_value=-1000), 'min_value must be a number'),
    (dict(type='int', dtype='int8', max_value=2 ** 70), 'max_value must be a number'),
    (dict(type='int', min_value=0.5), 'whole and within int64'),
    (dict(type='int', min_value=float('inf')), 'whole and within int64'),
    (dict(type='float', min_value=float('nan')), 'NaN'),
    (dict(type='float', min_value=[0.0, float('nan')], shape=2), 'NaN'),
    (dict(type='float', max_value=1e39), 'beyond the range of float32'),
    (dict(type='float', min_value=True), 'min_value must be a number'),
    (dict(type='float', min_value='0'), 'min_value must be a number'),
    (dict(type='float', min_value=[0.0, [1.0]], shape=2), 'min_value must be a number'),
    (dict(type='float', min_value=[0.0, 1.0, 2.0], shape=2), 'received shape (3,)'),
    (dict(type='int', num_values=True), 'num_values must be a positive int'),
    (dict(type='int', num_values=2.0), 'num_values must be a positive int'),
    (dict(type='int', num_values=300, dtype='uint8'), 'does not fit dtype uint8'),
    (dict(type='int', dtype='int77'), 'dtype must be a NumPy dtype name'),
    (dict(type='int', dtype=['int8']), 'dtype must be a NumPy dtype name'),
    (dict(type=['int']), 'type must be one of'),
    ([('type', 'int')], 'expected a dict'),
])
def test_raw_crashes_of_from_dict_are_config_errors_naming_the_spec(short, message):
    with pytest.raises(ConfigError, match="spec 'x'") as caught:
        specs.from_dict(short, name='x')
    assert message in str(caught.value)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({'type': st.sampled_from(['int', 'float', 'bool', 'text'])}, optional={
    'shape': st.one_of(JSONISH, st.lists(st.integers(0, 3), max_size=3)),
    'dtype': st.one_of(JSONISH, st.sampled_from(['int8', 'uint8', 'int32', 'float16', 'float64', 'bool'])),
    'num_values': JSONISH, 'min_value': JSONISH, 'max_value': JSONISH}))
def test_from_dict_gives_a_spec_or_a_config_error_never_a_raw_crash(short):
    try:
        spec = specs.from_dict(short, name='x')
    except ConfigError:
        return
    assert_same_spec(specs.from_dict(json.loads(json.dumps(specs.to_dict(spec))), name='x'), spec)


@pytest.mark.parametrize('spec, value', [
    (dm_specs.Array((), np.float32, name='x'), 16_777_217),
    (dm_specs.Array((2,), np.float32, name='x'), np.array([1, 2 ** 24 + 1], np.int64)),
    (dm_specs.Array((), np.float64, name='x'), 2 ** 53 + 1),
    (dm_specs.Array((), np.float16, name='x'), 70_000),
])
def test_ints_are_converted_to_floats_only_exactly(spec, value):
    with pytest.raises(SpecError, match='not exactly representable|not finite'):
        specs.validate(spec, value)


def test_large_ints_that_floats_hold_exactly_are_accepted():
    assert specs.validate(dm_specs.Array((), np.float32, name='x'), 2 ** 30).item() == 2 ** 30
    assert specs.validate(dm_specs.Array((), np.float32, name='x'), 16_777_216).item() == 16_777_216


def test_collapse_bound_is_the_one_uniform_bound_helper():
    assert specs.collapse_bound(np.full((2, 2), 3)).shape == ()
    assert specs.collapse_bound([1, 2]).tolist() == [1, 2]
    assert specs.collapse_bound(np.zeros(0)).shape == (0,)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_small_float_fast_path_accepts_exactly_the_finite_in_bounds_vectors(data):
    n = data.draw(st.integers(1, 16))
    dtype = data.draw(st.sampled_from([np.float16, np.float32, np.float64]))
    bounds = data.draw(hnp.arrays(dtype, (2, n), elements=st.floats(width=16, allow_nan=False)))  # +-inf too
    lo, hi = np.minimum(bounds[0], bounds[1]), np.maximum(bounds[0], bounds[1])
    spec = dm_specs.BoundedArray((n,), dtype, lo, hi, name='x')
    value = data.draw(hnp.arrays(dtype, (n,), elements=st.floats(width=16, allow_nan=True)))
    ok = bool(np.all(np.isfinite(value)) and np.all(value >= lo) and np.all(value <= hi))
    fresh = specs.validator(spec, fresh=True)
    if ok:
        out = fresh(value)
        assert np.array_equal(out, value) and not np.shares_memory(out, value)
    else:
        with pytest.raises(SpecError):
            fresh(value)


def test_a_spec_with_nan_bounds_cannot_validate_anything():
    spec = dm_specs.BoundedArray((2,), np.float32, [0.0, np.nan], 1.0, name='x')
    with pytest.raises(ConfigError, match="spec 'x' has NaN bounds"):
        specs.validator(spec)


def test_a_shape_too_big_for_any_array_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"spec 's': shape \(1099511627776, 1099511627776\)"):
        specs.from_dict(dict(type='float', shape=(2 ** 40, 2 ** 40)), name='s')

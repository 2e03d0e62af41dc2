"""Any declaration, however wrong, is either built or refused with a ModalbridgeError naming the
place; a declaration file that is not JSON (too deep, not UTF-8) is a ConfigError naming the file."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from modalbridge.bridges import ConfigError, ModalbridgeError
from modalbridge.bridges.specs import sample
from modalbridge.preprocess import Stack, preprocessor_types

STATES = dict(image=dict(type='int', shape=(8, 8, 3), min_value=0, max_value=255, dtype='uint8'),
              vector=dict(type='float', shape=(3,)),
              move=dict(type='int', shape=(), num_values=4),
              caption=dict(type='text'))
ARGUMENTS = ['height', 'width', 'method', 'weights', 'keep_dim', 'top', 'left', 'min_value', 'max_value',
             'factor', 'epsilon', 'length', 'axis', 'vocabulary', 'corpus', 'mode', 'lowercase', 'kwargs']

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.integers(-3, 90)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.299, 0.587, 0.114, 1e308, -1e-320])
    | st.text(max_size=6) | st.sampled_from(['area', 'nearest', 'words', 'characters', 'red', 'ball']),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)
good_values = {
    'height': st.integers(1, 8), 'width': st.integers(1, 8), 'method': st.sampled_from(['area', 'bilinear']),
    'weights': st.just([0.299, 0.587, 0.114]), 'keep_dim': st.booleans(), 'top': st.integers(0, 4),
    'left': st.integers(0, 4), 'min_value': st.integers(-2, 2), 'max_value': st.integers(2, 300),
    'factor': st.floats(0.5, 4), 'epsilon': st.floats(1e-8, 1), 'length': st.integers(1, 5),
    'axis': st.integers(-1, 0), 'vocabulary': st.just(['red', 'ball']), 'corpus': st.just(['red ball']),
    'mode': st.sampled_from(['words', 'characters']), 'lowercase': st.booleans(),
}
ARGUMENTS = dict(image_resize=['height', 'width', 'method'], grayscale=['weights', 'keep_dim'],
                 crop=['top', 'left', 'height', 'width'], clip=['min_value', 'max_value'], scale=['factor'],
                 running_standardize=['epsilon'], sequence=['length', 'axis'],
                 tokenize=['length', 'vocabulary', 'corpus', 'mode', 'lowercase'])


def typed_entry(kind):
    """An entry of a known type: its arguments mostly plausible, sometimes any JSON value."""
    names = ARGUMENTS.get(kind, [])
    return st.fixed_dictionaries({'type': st.just(kind)}, optional={
        name: st.one_of(good_values[name], good_values[name], json_values) for name in names})


type_names = st.sampled_from(sorted(preprocessor_types())) | st.text(max_size=8) | json_values
entries = st.one_of(
    st.sampled_from(sorted(preprocessor_types())).flatmap(typed_entry),
    st.sampled_from(sorted(preprocessor_types())).flatmap(typed_entry),
    st.builds(lambda kind, kwargs: {'type': kind, **kwargs}, type_names,
              st.dictionaries(st.sampled_from(sorted(good_values) + ['kwargs']) | st.text(max_size=4),
                              json_values, max_size=3)),
    type_names)
state_names = st.sampled_from(sorted(STATES) * 5 + ['imgae'])
declarations = st.dictionaries(state_names, st.lists(entries, max_size=3) | entries, max_size=3)
anything = st.lists(entries, max_size=3) | json_values


def attempt(declaration, backend):
    try:
        stack = Stack(STATES, declaration, num_envs=2, backend=backend)
    except ModalbridgeError as error:
        assert str(error).startswith('preprocessing'), str(error)
        return None
    rng = np.random.default_rng(0)
    batch = {name: np.stack([sample(spec, rng) for _ in range(2)]) for name, spec in stack.input_states.items()}
    outputs = stack(batch)
    assert set(outputs) == set(STATES)
    json.dumps(stack.config())
    return stack


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declarations)
def test_any_declaration_builds_or_is_refused_naming_the_place_numpy(declaration):
    attempt(declaration, 'numpy')


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declarations)
def test_any_declaration_builds_or_is_refused_naming_the_place_tf(declaration):
    attempt(declaration, 'tf')


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anything)
def test_any_json_value_as_a_declaration_is_refused_or_built(declaration):
    attempt(declaration, 'numpy')


@pytest.mark.parametrize('declaration', [
    dict(vector=[dict(type='scale', factor=2), 'running_standardize']),
    dict(image=['grayscale', dict(type='image_resize', height=4, width=4), 'normalize',
                dict(type='sequence', length=2)],
         caption=[dict(type='tokenize', length=3, corpus=['red ball', 'blue ball'])]),
])
def test_valid_declarations_run_on_both_backends(declaration):
    assert attempt(declaration, 'numpy') is not None
    assert attempt(declaration, 'tf') is not None


def test_a_json_file_nested_100000_deep_is_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / 'deep.json'
    path.write_text('[' * 100_000 + ']' * 100_000)
    with pytest.raises(ConfigError, match=f"cannot read the JSON file '{path}': nested too deeply"):
        Stack(STATES, str(path), backend='numpy')


def test_a_json_file_that_is_not_utf8_is_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / 'latin1.json'
    path.write_bytes('{"caption": ["tokenize", "café"]}'.encode('latin-1'))
    with pytest.raises(ConfigError, match=f"cannot read the JSON file '{path}': 'utf-8' codec"):
        Stack(STATES, str(path), backend='numpy')


def test_a_declaration_nested_deep_in_python_is_a_config_error():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ConfigError, match=r"preprocessing\[0\] \(grayscale\): an argument is nested too deeply"):
        Stack(dict(image=STATES['image']), [dict(type='grayscale', weights=deep)], backend='numpy')


@pytest.mark.parametrize('entry, message', [
    ({'type': 'center', 5: 1}, 'argument names are identifiers; received 5'),
    ({'type': 'center', 'not a name': 1}, "argument names are identifiers; received 'not a name'"),
    (dict(type=math.nan), 'type must be a string; received nan'),
])
def test_odd_entries_are_refused(entry, message):
    with pytest.raises(ConfigError, match=message):
        Stack(dict(vector=STATES['vector']), [entry], backend='numpy')

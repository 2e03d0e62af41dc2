"""`action_rows` checks a whole column at once, with the row-by-row check's results and errors."""

import numpy as np
import pytest
from dm_env import specs as dm_specs
from hypothesis import given, settings, strategies as st

from modalbridge.bridges import SpecError
from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.batch import (ColumnBounds, StateColumns, _checked_rows, action_rows, action_validators,
                                       batch_rows, checked_actions)
from modalbridge.bridges.errors import EnvironmentFailure

ACTIONS = dict(move=dm_specs.DiscreteArray(4, name='move'),
               force=dm_specs.BoundedArray((2,), np.float32, -1.0, 1.0, name='force'),
               grid=dm_specs.BoundedArray((2,), np.int64, [0, 0], [3, 5], name='grid'),
               free=dm_specs.Array((), np.float64, name='free'))


def row_by_row(actions, num_envs):
    """What action_rows did before: every row through the single-row validator."""
    validators = {name: specs_lib.validator(spec, name) for name, spec in ACTIONS.items()}
    return [{name: validators[name](np.asarray(actions[name])[index]) for name in ACTIONS}
            for index in range(num_envs)]


@settings(max_examples=60, deadline=None)
@given(num_envs=st.integers(1, 5), data=st.data())
def test_rows_and_errors_equal_the_row_by_row_check(num_envs, data):
    actions = dict(
        move=data.draw(st.lists(st.integers(-1, 4), min_size=num_envs, max_size=num_envs)),
        force=np.array(data.draw(st.lists(st.lists(st.floats(-1.5, 1.5, width=32), min_size=2, max_size=2),
                                          min_size=num_envs, max_size=num_envs)), np.float32),
        grid=np.array(data.draw(st.lists(st.lists(st.integers(-1, 6), min_size=2, max_size=2),
                                         min_size=num_envs, max_size=num_envs)), np.int64),
        free=np.array(data.draw(st.lists(st.floats(allow_nan=True, allow_infinity=True),
                                         min_size=num_envs, max_size=num_envs)), np.float64))
    validators = action_validators(ACTIONS)
    try:
        expected = row_by_row(actions, num_envs)
    except SpecError:
        with pytest.raises(SpecError, match=r' in row \d+'):
            action_rows(actions, validators, num_envs)
        return
    got = action_rows(actions, validators, num_envs)
    for row, reference in zip(got, expected):
        for name in ACTIONS:
            assert type(row[name]) is np.ndarray and row[name].dtype == reference[name].dtype
            assert row[name].shape == reference[name].shape and np.array_equal(row[name], reference[name])


def test_a_bad_row_is_named_by_key_and_row():
    with pytest.raises(SpecError, match=r"'grid': .*out of bounds.* in row 2"):
        action_rows(dict(move=[0, 1, 2], force=np.zeros((3, 2), np.float32),
                         grid=np.array([[0, 0], [1, 1], [4, 0]]), free=np.zeros(3)),
                    action_validators(ACTIONS), 3)


def test_batch_rows_names_the_environment_with_a_wrong_row():
    spec = specs_lib.from_dict(dict(type='float', shape=(2,)), 'x')
    assert batch_rows([dict(x=np.ones(2, np.float32))] * 3, dict(x=spec))['x'].shape == (3, 2)
    with pytest.raises(EnvironmentFailure, match=r"environment 6: execute returned state 'x' with shape \(3,\)"):
        batch_rows([dict(x=np.ones(2, np.float32)), dict(x=np.ones(3, np.float32))], dict(x=spec), first=5)
    with pytest.raises(EnvironmentFailure, match=r"environment 5: .* dtype float64"):
        batch_rows([dict(x=np.ones(2, np.float64)), dict(x=np.ones(2, np.float32))], dict(x=spec), first=5)


@settings(max_examples=60, deadline=None)
@given(num_envs=st.integers(1, 5), data=st.data())
def test_exact_arrays_take_the_quick_check_with_the_row_by_row_results(num_envs, data):
    """Arrays of exactly the specs' dtypes go through `_checked_rows` (no conversion): same rows,
    same errors as the row-by-row check."""
    def column(elements, shape, dtype):
        return np.array(data.draw(st.lists(st.lists(elements, min_size=shape, max_size=shape) if shape else elements,
                                           min_size=num_envs, max_size=num_envs)), dtype)
    actions = dict(move=column(st.integers(-1, 4), 0, ACTIONS['move'].dtype),
                   force=column(st.one_of(st.floats(-1.5, 1.5, width=32), st.sampled_from([np.nan, np.inf])), 2, np.float32),
                   grid=column(st.integers(-1, 6), 2, np.int64),
                   free=column(st.floats(allow_nan=True, allow_infinity=True), 0, np.float64))
    validators = action_validators(ACTIONS)
    try:
        expected = row_by_row(actions, num_envs)
    except SpecError:
        assert _checked_rows(actions, validators, num_envs) is None
        with pytest.raises(SpecError, match=r' in row \d+'):
            action_rows(actions, validators, num_envs)
        return
    got = _checked_rows(actions, validators, num_envs)
    assert got is not None  # exact dtypes and shapes, valid values: the quick path took them
    for row, reference in zip(got, expected):
        for name in ACTIONS:
            assert type(row[name]) is np.ndarray and row[name].dtype == reference[name].dtype
            assert row[name].shape == reference[name].shape and np.array_equal(row[name], reference[name])


STATES = dict(pos=dm_specs.BoundedArray((2,), np.float32, [-1.0, -np.inf], [1.0, np.inf], name='pos'),
              count=dm_specs.BoundedArray((), np.int32, 0, 9, name='count'),
              flag=dm_specs.Array((), bool, name='flag'),
              caption=dm_specs.StringArray((), name='caption'))


@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 4), data=st.data())
def test_state_columns_take_a_batch_only_where_every_row_passes_the_row_check(rows, data):
    """`StateColumns` returns the row-by-row result or None (then the caller checks row by row):
    never a batch with a row the validator refuses, never a converted row."""
    floats = st.one_of(st.floats(-3, 3, width=32), st.sampled_from([np.nan, np.inf, -np.inf]))
    dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64, bool])

    def pos():
        dtype = data.draw(dtypes)
        values = floats if np.dtype(dtype).kind == 'f' else st.integers(-2, 2)
        return np.array(data.draw(st.lists(values, min_size=2, max_size=2)), dtype)
    states = []
    for _ in range(rows):
        states.append(dict(
            pos=pos(),
            count=np.array(data.draw(st.integers(-1, 10)), data.draw(dtypes)),
            flag=np.array(data.draw(st.booleans()), data.draw(st.sampled_from([bool, np.int32]))),
            caption=data.draw(st.sampled_from(['go', b'left', 3]))))
    validators = {name: specs_lib.validator(spec, name) for name, spec in STATES.items()}
    got = StateColumns(STATES)(states)
    try:
        checked = [{name: validators[name](state[name]) for name in STATES} for state in states]
    except SpecError:
        assert got is None
        return
    if got is None:  # a row the validator converts (another dtype) goes the long way
        assert any(state[name].dtype != STATES[name].dtype for state in states for name in ('pos', 'count', 'flag'))
        return
    for name in STATES:
        assert got[name].dtype == (object if name == 'caption' else STATES[name].dtype)
        assert got[name].tolist() == [row[name].tolist() for row in checked]


def test_state_columns_hand_out_fresh_arrays():
    spec = dm_specs.Array((2,), np.float32, name='x')
    own = np.zeros(2, np.float32)
    batch = StateColumns(dict(x=spec))([dict(x=own)])
    own[0] = 5.0
    assert batch['x'].tolist() == [[0.0, 0.0]]


def test_column_bounds_refuse_nan_infinity_and_out_of_bounds_large_and_small():
    check = ColumnBounds(np.array([-1.0, -np.inf]), np.array([1.0, np.inf]))
    for rows in (2, 300):  # 300 rows: the NumPy comparison, 2: the Python one
        column = np.zeros((rows, 2), np.float32)
        assert check(column)
        for bad in ([0, np.nan], [0, np.inf], [0, -np.inf], [1.5, 0], [-1.01, 0], [np.nan, 0]):
            broken = column.copy()
            broken[rows - 1] = bad
            assert not check(broken), (rows, bad)


def test_checked_actions_passes_exact_columns_as_they_are_and_checks_anything_else_row_by_row():
    validators = action_validators(dict(move=ACTIONS['move']))
    column = np.array([0, 3], ACTIONS["move"].dtype)
    rows, columns = checked_actions(dict(move=column), validators, 2)
    assert rows is None and columns['move'] is column
    rows, columns = checked_actions(dict(move=[0, 3]), validators, 2)  # a list: converted and checked per row
    assert columns is None and rows == action_rows(dict(move=[0, 3]), validators, 2)
    with pytest.raises(SpecError, match='move.*row 1'):
        checked_actions(dict(move=np.array([0, 4], ACTIONS["move"].dtype)), validators, 2)

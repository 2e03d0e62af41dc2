"""`action_rows` checks a whole column at once, with the row-by-row check's results and errors."""

import numpy as np
import pytest
from dm_env import specs as dm_specs
from hypothesis import given, settings, strategies as st

from modalbridge.bridges import SpecError
from modalbridge.bridges import specs as specs_lib
from modalbridge.bridges.batch import action_rows, action_validators, batch_rows
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

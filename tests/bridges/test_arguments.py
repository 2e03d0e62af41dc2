import numpy as np
import pytest

from modalbridge.bridges import arguments
from modalbridge.bridges.errors import ConfigError


@pytest.mark.parametrize('value', [True, np.bool_(False), 1.0, '3', None, [1]])
def test_integer_refuses_non_ints(value):
    with pytest.raises(ConfigError, match=r'^depth: expected an int'):
        arguments.integer('depth', value)


def test_integer_bounds_and_numpy_ints():
    assert arguments.integer('depth', np.int64(3), minimum=0) == 3
    with pytest.raises(ConfigError, match=r'depth: expected an int >= 0; received -1'):
        arguments.integer('depth', -1, minimum=0)
    with pytest.raises(ConfigError, match=r'in \[1, 4\]'):
        arguments.integer('k', 5, minimum=1, maximum=4)


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -float('inf'), True, '1e-3', None, 10**400])
def test_number_refuses_non_finite_and_non_numbers(value):
    with pytest.raises(ConfigError, match=r'^learning_rate: expected a finite number'):
        arguments.number('learning_rate', value, minimum=0, inclusive=False)


def test_number_bounds():
    assert arguments.number('discount', 1, 0, 1) == 1.0
    with pytest.raises(ConfigError, match=r'\(0, 1\)'):
        arguments.number('rate', 1.0, 0, 1, inclusive=False)
    with pytest.raises(ConfigError, match='>= 0'):
        arguments.number('entropy_coef', -5, minimum=0)


def test_boolean_and_choice():
    assert arguments.boolean('flag', np.bool_(True)) is True
    for value in (1, 0, 'yes', None):
        with pytest.raises(ConfigError, match='flag: expected True or False'):
            arguments.boolean('flag', value)
    assert arguments.choice('optimizer', 'adam', ('adam', 'sgd')) == 'adam'
    for value in ('Adam', True, ['adam'], None):
        with pytest.raises(ConfigError, match=r"optimizer: expected one of \['adam', 'sgd'\]"):
            arguments.choice('optimizer', value, ('adam', 'sgd'))

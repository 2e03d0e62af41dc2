import json
import math

import pytest
from hypothesis import given, strategies as st

from modalbridge.agents.schedules import Constant, Exponential, Linear, Piecewise, schedule
from modalbridge.bridges.errors import ConfigError


def test_linear_values_at_start_half_and_end():
    s = schedule(dict(type='linear', initial=1.0, final=0.01, timesteps=1e6))
    assert s.value(0) == 1.0 and s.value(500_000) == pytest.approx(0.505) and s.value(10**7) == pytest.approx(0.01)


def test_exponential_by_formula():
    s = schedule(dict(type='exponential', kwargs=dict(initial=1.0, final=0.1, decay_rate=0.5, decay_steps=100)))
    assert s.value(0) == 1.0
    assert s.value(100) == pytest.approx(0.1 + 0.9 * 0.5)
    assert s.value(250) == pytest.approx(0.1 + 0.9 * 0.5 ** 2.5)


def test_piecewise_boundaries():
    s = schedule(dict(type='piecewise', boundaries=[10, 20], values=[3, 2, 1]))
    assert [s.value(t) for t in (0, 9, 10, 19, 20, 99)] == [3, 3, 2, 2, 1, 1]


def test_numbers_are_constants_and_round_trip_through_json():
    for declaration in (0.5, dict(type='linear', initial=1.0, final=0.0, timesteps=10),
                        dict(type='exponential', initial=1.0, final=0.0, decay_rate=0.9, decay_steps=5),
                        dict(type='piecewise', boundaries=[3], values=[1.0, 0.0])):
        s = schedule(declaration)
        again = schedule(json.loads(json.dumps(s.to_dict())))
        assert again == s
    assert schedule(0.5) == Constant(0.5) and schedule(0.5).is_constant


@pytest.mark.parametrize('declaration, match', [
    (True, 'schedule: expected a number'),
    ('1e-3', 'schedule: expected a number'),
    (float('nan'), 'expected a finite number'),
    (dict(type='linear', initial=1.0, final=0.0), 'timesteps'),
    (dict(type='linear', initial=1.0, final=0.0, timesteps=0), r'timesteps: expected an int >= 1'),
    (dict(type='linear', initial=1.0, final=0.0, timesteps=10, extra=1), r"unknown argument\(s\) \['extra'\]"),
    (dict(type='cosine'), r"schedule.type: expected one of"),
    (dict(type='exponential', initial=1.0, decay_rate=1.5, decay_steps=10), 'decay_rate'),
    (dict(type='piecewise', boundaries=[1, 2], values=[1.0]), 'expected 3 values'),
    (dict(type='piecewise', boundaries=[5, 2], values=[1.0, 2.0, 3.0]), 'must increase'),
    (dict(type='linear', kwargs=[1]), 'kwargs: expected a dict'),
])
def test_bad_declarations_name_the_field(declaration, match):
    with pytest.raises(ConfigError, match=match):
        schedule(declaration, 'schedule')


@given(st.integers(1, 10**6), st.floats(-10, 10), st.floats(-10, 10), st.integers(0, 10**7))
def test_linear_stays_between_its_ends(steps, initial, final, t):
    value = Linear(initial, final, steps).value(t)
    assert min(initial, final) - 1e-9 <= value <= max(initial, final) + 1e-9
    assert math.isfinite(Exponential(initial, 0.5, steps, final).value(t))
    assert Piecewise((steps,), (initial, final)).value(t) in (initial, final)

"""A declaration read from a file someone else wrote resolves only registered plug-ins and imports
nothing; a declaration written in code keeps resolving any dotted path."""

import json
import sys

import numpy as np
import pytest

from modalbridge.bridges import ConfigError, plugins
from modalbridge.preprocess import Stack

STATES = dict(x=dict(type='float', shape=(2,)))
PAYLOAD = '''
import pathlib
pathlib.Path({marker!r}).write_text('ran')
def run(x):
    return x
'''


@pytest.fixture
def payload(tmp_path, monkeypatch):
    """A payload.py beside a downloaded declaration, on sys.path (as the current directory is in a REPL)."""
    marker = tmp_path / 'side-effect'
    (tmp_path / 'payload.py').write_text(PAYLOAD.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'payload', raising=False)
    path = tmp_path / 'preprocessing.json'
    path.write_text(json.dumps(dict(x=[dict(type='payload.run')])))
    yield path, marker
    sys.modules.pop('payload', None)


def test_a_json_file_naming_an_unregistered_module_is_refused_without_importing_it(payload):
    path, marker = payload
    with pytest.raises(ConfigError) as caught:
        Stack(STATES, str(path), backend='numpy')
    message = str(caught.value)
    assert message.startswith("preprocessing['x'][0] (payload.run): 'payload.run' is not a registered plug-in")
    assert 'safe_mode=False' in message and 'plugins.register' in message
    assert not marker.exists() and 'payload' not in sys.modules


def test_safe_mode_false_trusts_the_file(payload):
    path, marker = payload
    stack = Stack(STATES, str(path), backend='numpy', safe_mode=False)
    assert marker.read_text() == 'ran'
    assert stack(dict(x=np.ones(2, np.float32)))['x'].tolist() == [1.0, 1.0]


def test_safe_mode_true_refuses_a_dotted_path_written_in_code(payload):
    _, marker = payload
    with pytest.raises(ConfigError, match='not a registered plug-in'):
        Stack(STATES, dict(x=['payload.run']), backend='numpy', safe_mode=True)
    assert not marker.exists()


def test_a_registered_plug_in_resolves_in_safe_mode(tmp_path):
    @plugins.register('tests_safe_mode.triple')
    def triple(x):
        return x * 3

    path = tmp_path / 'preprocessing.json'
    path.write_text(json.dumps(['tests_safe_mode.triple']))
    stack = Stack(STATES, str(path), backend='numpy')
    assert stack(dict(x=np.ones(2, np.float32)))['x'].tolist() == [3.0, 3.0]


def test_a_declaration_in_code_resolves_any_dotted_path_by_default():
    stack = Stack(STATES, ['tests.preprocess.plugins.double'], backend='numpy')
    assert stack(dict(x=np.ones(2, np.float32)))['x'].tolist() == [2.0, 2.0]


def test_a_plug_in_class_that_raises_is_a_config_error_naming_the_place():
    with pytest.raises(ConfigError, match=r"preprocessing\[0\] \(tests.preprocess.plugins.Negate\): the plug-in "
                                          r"Negate failed on .*TypeError"):
        Stack(STATES, [dict(type='tests.preprocess.plugins.Negate', offset=1.0, scale=2)], backend='numpy')

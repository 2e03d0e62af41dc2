import os
import pickle
import sys

import pytest

from modalbridge.bridges import plugins
from modalbridge.bridges.errors import ConfigError, EnvironmentFailure, SpecError


def test_registered_names_resolve_in_safe_mode():
    @plugins.register('tests.plugins.triple')
    def triple(x):
        return 3 * x
    assert plugins.resolve('tests.plugins.triple', safe_mode=True)(2) == 6
    assert 'tests.plugins.triple' in plugins.registered()


def test_safe_mode_imports_nothing(tmp_path, monkeypatch):
    (tmp_path / 'payload_mod.py').write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('x')\nvalue = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="'payload_mod.value' is not a registered plug-in.*safe_mode=False"):
        plugins.resolve('payload_mod.value', safe_mode=True)
    assert not (tmp_path / 'ran').exists() and 'payload_mod' not in sys.modules
    assert plugins.resolve('payload_mod.value') == 1  # trusted: imports
    assert (tmp_path / 'ran').exists()


@pytest.mark.parametrize('path', ['', 'nodots', '.', 5, None])
def test_bad_paths_are_config_errors(path):
    with pytest.raises(ConfigError, match='dotted path'):
        plugins.resolve(path)


def test_import_failures_name_the_path():
    with pytest.raises(ConfigError, match="cannot import 'no_such_module_xyz'"):
        plugins.resolve('no_such_module_xyz.thing')
    with pytest.raises(ConfigError, match="module 'os' has no 'nothing_here'"):
        plugins.resolve('os.nothing_here')


def test_register_refuses_undotted_names():
    with pytest.raises(ConfigError, match='dotted'):
        plugins.register('flat')


def test_errors_survive_pickling():
    error = pickle.loads(pickle.dumps(SpecError('action', 'an int in [0, 2]', '5')))
    assert (error.key, error.expected, error.received) == ('action', 'an int in [0, 2]', '5')
    failure = pickle.loads(pickle.dumps(EnvironmentFailure('worker 1 failed', ValueError('x'))))
    assert str(failure) == 'worker 1 failed' and isinstance(failure.original, ValueError)
    assert os.getpid()

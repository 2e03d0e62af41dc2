"""mypy is clean on the package (`make typecheck`), configured in pyproject.toml's [tool.mypy].

mypy reads `modalbridge` from src/, whose subpackages are links to the
top-level folders, so it checks the modules under the names users import.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(importlib.util.find_spec('mypy') is None, reason='mypy is in the dev extra')


def _mypy(*arguments: str) -> subprocess.CompletedProcess:
    # The cache (.mypy_cache, git-ignored) makes a run after the first take seconds.
    return subprocess.run([sys.executable, '-m', 'mypy', *arguments], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


def test_mypy_passes_on_the_package():
    result = _mypy()
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert 'Success: no issues found' in result.stdout


def test_mypy_resolves_the_subpackages_and_fails_on_a_type_error(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('from modalbridge.bridges import Terminal\n'
                   'from modalbridge.preprocess.stack import Stack\n'
                   'name: int = Terminal.NONE.name\n'    # a str where an int is declared
                   'stack: Stack = "tf"\n')
    result = _mypy('--config-file', str(ROOT / 'pyproject.toml'), str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ': error:' in line]
    # both errors found, and no import error: the linked folders resolved as modalbridge.*
    assert [line.split(':')[1] for line in errors] == ['3', '4'], result.stdout
    assert all('[assignment]' in line for line in errors), result.stdout

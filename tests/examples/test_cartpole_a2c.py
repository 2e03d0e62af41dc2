import runpy
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'cartpole_a2c.py'


def test_cartpole_example_rejects_bad_flags(capsys, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['cartpole_a2c.py', '--steps', '0'])
    with pytest.raises(SystemExit) as caught:
        runpy.run_path(str(EXAMPLE), run_name='__main__')
    assert caught.value.code == 2
    assert '--steps and --envs must be positive' in capsys.readouterr().err

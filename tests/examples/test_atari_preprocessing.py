import runpy
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'atari_preprocessing.py'


def test_atari_preprocessing_example_runs(capsys):
    pytest.importorskip('ale_py')
    runpy.run_path(str(EXAMPLE), run_name='__main__')
    out = capsys.readouterr().out
    assert 'preprocessed observation space: Box(0.0, 1.0, (84, 84, 4), float32)' in out
    assert 'Keras model on raw frames: (2, 6)' in out

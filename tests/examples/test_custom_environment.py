import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'custom_environment.py'


def test_custom_environment_example_checks_and_runs(capsys):
    runpy.run_path(str(EXAMPLE), run_name='__main__')
    out = capsys.readouterr().out
    assert '11 passed, 0 failed, 0 skipped' in out
    assert 'first instruction: switch off the' in out
    assert 'random agent over 200 episodes: mean return' in out

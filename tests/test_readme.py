"""The README's code examples run as written (the training one with a smaller budget)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / 'README.md'
BLOCKS = re.findall(r'```python\n(.*?)```', README.read_text(), flags=re.S)


def test_the_readme_has_the_three_layer_examples():
    assert len(BLOCKS) == 3


def test_bridge_example_runs(capsys):
    exec(compile(BLOCKS[0], 'README.md', 'exec'), {})
    assert '11 passed, 0 failed' in capsys.readouterr().out


def test_preprocessing_example_runs():
    pytest.importorskip('ale_py')
    scope = {}
    exec(compile(BLOCKS[1], 'README.md', 'exec'), scope)
    assert scope['env'].observation_space.shape == (84, 84, 4)


def test_agent_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[2].replace('timesteps=100_000', 'timesteps=800')
    assert code != BLOCKS[2]
    scope = {}
    exec(compile(code, 'README.md', 'exec'), scope)
    assert (tmp_path / 'runs' / 'cartpole' / 'agent.json').exists()
    assert scope['actions']['action'].shape == (8,)

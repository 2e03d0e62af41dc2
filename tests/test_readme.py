"""The README's code examples run as written (the training one with a smaller budget)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / 'README.md'
BLOCKS = re.findall(r'```python\n(.*?)```', README.read_text(), flags=re.S)


def test_the_readme_has_the_three_layer_examples_and_the_gymnasium_ids():
    assert len(BLOCKS) == 4


def test_bridge_example_runs(capsys):
    exec(compile(BLOCKS[0], 'README.md', 'exec'), {})
    assert '11 passed, 0 failed' in capsys.readouterr().out


def test_gymnasium_ids_example_runs():
    scope: dict = {}
    exec(compile(BLOCKS[1], 'README.md', 'exec'), scope)
    assert scope['env'].spec.id == 'modalbridge/CaptionRoomMemory-v0'


def test_preprocessing_example_runs():
    pytest.importorskip('ale_py')
    scope = {}
    exec(compile(BLOCKS[2], 'README.md', 'exec'), scope)
    assert scope['env'].observation_space.shape == (84, 84, 4)


def box_specs_round_trip() -> bool:
    """Whether a CartPole checkpoint can be read back (issue 10: per-element bounds broke from_dict)."""
    from modalbridge.bridges import GymBridge
    from modalbridge.bridges.specs import from_dict, to_dict
    try:
        from_dict(to_dict(GymBridge('CartPole-v1').states['state']))
        return True
    except ValueError:
        return False


@pytest.mark.xfail(not box_specs_round_trip(), strict=True,
                   reason='specs.from_dict(to_dict(Box with per-element bounds)) is fixed on the bridges branch')
def test_agent_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[3].replace('timesteps=100_000', 'timesteps=800')
    assert code != BLOCKS[3]
    scope = {}
    exec(compile(code, 'README.md', 'exec'), scope)
    assert (tmp_path / 'runs' / 'cartpole' / 'agent.json').exists()
    assert (tmp_path / 'runs' / 'cartpole.png').stat().st_size > 1000
    assert scope['actions']['action'].shape == (8,)
    assert '10 episodes: return' in capsys.readouterr().out


def test_agent_example_callback_stops_the_run_once_solved(tmp_path, monkeypatch):
    # 'solved' at a return of 0: the run must stop at the 10th episode, far before its step budget
    monkeypatch.chdir(tmp_path)
    training = BLOCKS[3].split('agent.save(')[0]
    code = training.replace('>= 475', '>= 0')
    assert code != training
    scope = {}
    exec(compile(code, 'README.md', 'exec'), scope)
    history = scope['history']
    assert 10 <= history.episodes < 18 and history.timesteps < 100_000 // 10


def test_every_extra_is_documented_and_installed_by_make_setup():
    import tomllib
    root = README.parent
    extras = set(tomllib.loads((root / 'pyproject.toml').read_text())['project']['optional-dependencies'])
    documented = set(re.findall(r'^\| `(\w+)` \|', README.read_text(), flags=re.M))
    assert extras <= documented, f'extras missing from the README table: {sorted(extras - documented)}'
    made = set(re.search(r'^EXTRAS := (.*)$', (root / 'Makefile').read_text(), flags=re.M).group(1).split(','))
    assert made == extras - {'sb3'}, 'make setup installs every extra but sb3 (torch is heavy)'
